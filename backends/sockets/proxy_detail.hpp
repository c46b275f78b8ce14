// What the udp and tcp chaos proxies share (socket_proxy.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "ipctorture/event_log.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/socket_proxy.hpp"

namespace ipct::proxy_detail {

// How long the proxy waits in poll() before it looks at the control file.
inline constexpr int kProxyPollMs = 20;

// What a draw decides; each its own stream.
enum class Die : std::uint32_t { kDrop, kDuplicate, kReorder, kDelay, kDelayLength, kCut, kCutAt };

// Uniform draws in [0, 1) from the run seed, the channel and a message's
// (origin, seq): the same seed gives the same decisions for the same
// message, whatever the timing.
class Dice {
  public:
    Dice(std::uint64_t run_seed, std::uint32_t channel)
        : key_(mix64(run_seed ^ mix64(0x70726f7879000000ull + channel))) {}
    double draw(std::uint32_t origin, std::uint64_t seq, Die what) const {
        const std::uint64_t x =
            mix64(key_ ^ mix64((std::uint64_t{origin} << 8) | static_cast<std::uint32_t>(what)) ^
                  mix64(seq * 0x9e3779b97f4a7c15ull + 1));
        return double(x >> 11) * 0x1.0p-53;
    }

  private:
    std::uint64_t key_;
};

// The (origin, seq) of a message starting at p with n bytes, if its header
// has the magic (the proxy only needs the identity, not a verdict).
struct MessageId {
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
    std::uint32_t size = 0;  // the header's whole-message size
};
std::optional<MessageId> message_id(const std::byte* p, std::size_t n);

// Appends one kProxyAction record taken at t_start and complete now.
void log_action(EventLogWriter& log, std::uint32_t channel, ProxyAction a, const MessageId& id,
                std::uint64_t t_start, std::uint32_t size, std::uint32_t extra);

int run_udp_proxy(const ChannelSetup& ch, const nlohmann::json& st, const ProxySpec& spec,
                  EventLogWriter& log, const std::function<void()>& ready);
int run_tcp_proxy(const ChannelSetup& ch, const nlohmann::json& st, const ProxySpec& spec,
                  EventLogWriter& log, const std::function<void()>& ready);

// A socket connected to 127.0.0.1:port (blocking, close-on-exec).
int connect_loopback(int type, std::uint16_t port);

}  // namespace ipct::proxy_detail
