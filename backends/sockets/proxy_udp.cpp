// The udp chaos proxy: each datagram from the writers is dropped,
// duplicated, held until the next one has gone (reorder) or for a drawn time
// (delay), or forwarded at once, to the readers' socket.  The draws are per
// message (origin, seq); a datagram without a message header is forwarded
// as it is.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "common/control.hpp"
#include "common/socket_util.hpp"
#include "sockets/proxy_detail.hpp"

namespace ipct::proxy_detail {
namespace {

constexpr std::size_t kMaxDatagram = 65536;

struct Held {
    std::vector<std::byte> bytes;
    MessageId id;
    std::uint64_t taken = 0;
    std::uint64_t due = 0;  // 0: after the next datagram has gone (reorder)
    std::uint32_t delay_us = 0;
    bool duplicate = false;
};

class UdpProxy {
  public:
    UdpProxy(const ChannelSetup& ch, const nlohmann::json& st, const ProxySpec& spec,
             EventLogWriter& log)
        : ch_(ch),
          spec_(spec),
          log_(log),
          dice_(ch.seed, ch.index),
          front_(proxy_inherited_fd(st)),
          up_(connect_loopback(SOCK_DGRAM, st.at("server_port").get<std::uint16_t>())),
          writers_(proxy_front_control_path(ch)),
          readers_(control_path(ch)),
          buf_(kMaxDatagram) {}
    ~UdpProxy() { ::close(up_); }

    int run() {
        bool quiet = false;
        for (;;) {
            const bool gone = writers_.writers_open() == 0;  // read first
            const ssize_t n = retry_eintr(
                [&] { return ::recv(front_, buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC); });
            if (n >= 0) {
                quiet = false;
                take(std::min<std::size_t>(static_cast<std::size_t>(n), buf_.size()));
                release_due(now_ns());
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) IPCT_FAIL_ERRNO("proxy: recv");
            release_due(now_ns());
            if (gone && quiet && timed_.empty()) break;
            const int timeout = wait_ms();
            pollfd p{front_, POLLIN, 0};
            quiet = ::poll(&p, 1, timeout) == 0 && gone && timeout == kProxyPollMs;
        }
        release_next();  // nothing came after them: they go last
        readers_.writer_gone(0);
        return 0;
    }

  private:
    void take(std::size_t n) {
        const std::uint64_t now = now_ns();
        const std::optional<MessageId> id = message_id(buf_.data(), n);
        if (!id) return forward(buf_.data(), n, MessageId{}, false);
        auto roll = [&](Die d, double p) {
            return p > 0 && dice_.draw(id->origin, id->seq, d) < p;
        };
        if (roll(Die::kDrop, spec_.drop)) {
            log_action(log_, ch_.index, ProxyAction::kDrop, *id, now, static_cast<std::uint32_t>(n),
                       0);
            return;
        }
        Held h{{buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n)},
               *id,
               now,
               0,
               0,
               roll(Die::kDuplicate, spec_.duplicate)};
        if (roll(Die::kReorder, spec_.reorder)) return next_.push_back(std::move(h));
        if (roll(Die::kDelay, spec_.delay)) {
            const double us =
                dice_.draw(id->origin, id->seq, Die::kDelayLength) * spec_.max_delay_s * 1e6;
            h.delay_us = static_cast<std::uint32_t>(us);
            h.due = now + std::uint64_t{h.delay_us} * 1000;
            return timed_.push_back(std::move(h));
        }
        send_held(h, false);
    }

    // h goes now; `held` says it was held (its record says whether a later
    // datagram of its origin overtook it).  Then those waiting for the next
    // datagram follow.
    void send_held(Held& h, bool held) {
        const auto it = forwarded_.find(h.id.origin);
        const bool overtaken = it != forwarded_.end() && it->second > h.id.seq + 1;
        forward(h.bytes.data(), h.bytes.size(), h.id, true);
        if (h.duplicate) {
            forward(h.bytes.data(), h.bytes.size(), h.id, true);
            log_action(log_, ch_.index, ProxyAction::kDuplicate, h.id, h.taken,
                       static_cast<std::uint32_t>(h.bytes.size()), 0);
        }
        if (held)
            log_action(log_, ch_.index, h.due == 0 ? ProxyAction::kReorder : ProxyAction::kDelay,
                       h.id, h.taken, h.delay_us, overtaken ? 1 : 0);
        if (h.due != 0 || !held) release_next();
    }

    void release_next() {
        std::vector<Held> v = std::move(next_);
        next_.clear();
        for (Held& h : v) send_held(h, true);
    }

    void release_due(std::uint64_t now) {
        for (;;) {
            auto it = std::min_element(timed_.begin(), timed_.end(),
                                       [](const Held& a, const Held& b) { return a.due < b.due; });
            if (it == timed_.end() || it->due > now) return;
            Held h = std::move(*it);
            timed_.erase(it);
            send_held(h, true);
        }
    }

    int wait_ms() const {
        std::uint64_t first = ~std::uint64_t{0};
        for (const Held& h : timed_) first = std::min(first, h.due);
        if (first == ~std::uint64_t{0}) return kProxyPollMs;
        const std::uint64_t now = now_ns();
        if (first <= now) return 0;
        return static_cast<int>(std::min<std::uint64_t>((first - now) / 1000000 + 1, kProxyPollMs));
    }

    // A failed send (every reader gone) loses the datagram; what the readers
    // could not receive cannot be called lost by the checker either.
    void forward(const std::byte* p, std::size_t n, const MessageId& id, bool known) {
        (void)retry_eintr([&] { return ::send(up_, p, n, MSG_NOSIGNAL); });
        if (!known) return;
        std::uint64_t& next = forwarded_[id.origin];
        next = std::max(next, id.seq + 1);
    }

    const ChannelSetup& ch_;
    const ProxySpec& spec_;
    EventLogWriter& log_;
    Dice dice_;
    int front_;
    int up_;
    ChannelControl writers_, readers_;
    std::vector<std::byte> buf_;
    std::vector<Held> next_;   // reordered: go after the next datagram
    std::vector<Held> timed_;  // delayed: go at their time
    std::unordered_map<std::uint32_t, std::uint64_t> forwarded_;  // origin -> highest seq + 1
};

}  // namespace

int run_udp_proxy(const ChannelSetup& ch, const nlohmann::json& st, const ProxySpec& spec,
                  EventLogWriter& log, const std::function<void()>& ready) {
    UdpProxy p(ch, st, spec, log);
    ready();
    return p.run();
}

}  // namespace ipct::proxy_detail
