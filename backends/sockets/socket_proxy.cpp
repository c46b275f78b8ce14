#include "ipctorture/socket_proxy.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/control.hpp"
#include "common/socket_util.hpp"
#include "sockets/proxy_detail.hpp"

namespace ipct {

const char* proxy_action_name(ProxyAction a) {
    switch (a) {
        case ProxyAction::kDrop:
            return "drop";
        case ProxyAction::kDuplicate:
            return "duplicate";
        case ProxyAction::kReorder:
            return "reorder";
        case ProxyAction::kDelay:
            return "delay";
        case ProxyAction::kSplit:
            return "split";
        case ProxyAction::kTcpDelay:
            return "tcp_delay";
        case ProxyAction::kCut:
            return "cut";
        case ProxyAction::kResume:
            return "resume";
    }
    return "?";
}

int proxy_inherited_fd(const nlohmann::json& state) {
    return state.at("proxy_fd").get<int>();
}

std::string proxy_front_control_path(const ChannelSetup& ch) {
    return control_path(ch) + ".front";
}

void socket_proxy_gone(const ChannelSetup& ch) {
    const std::string path = control_path(ch);
    if (::access(path.c_str(), F_OK) == 0) ChannelControl(path).writer_gone(0);
}

int run_socket_proxy(const ChannelSetup& ch, const nlohmann::json& state, const ProxySpec& spec,
                     EventLogWriter& log, const std::function<void()>& ready) {
    const int fd = proxy_inherited_fd(state);
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        IPCT_FAIL_ERRNO("the proxy's inherited socket");
    return type == SOCK_DGRAM ? proxy_detail::run_udp_proxy(ch, state, spec, log, ready)
                              : proxy_detail::run_tcp_proxy(ch, state, spec, log, ready);
}

namespace proxy_detail {

std::optional<MessageId> message_id(const std::byte* p, std::size_t n) {
    if (n < kHeaderSize) return std::nullopt;
    MsgHeader h;
    std::memcpy(&h, p, kHeaderSize);
    if (h.magic != kMsgMagic || h.size < kHeaderSize) return std::nullopt;
    return MessageId{h.origin, h.seq, h.size};
}

void log_action(EventLogWriter& log, std::uint32_t channel, ProxyAction a, const MessageId& id,
                std::uint64_t t_start, std::uint32_t size, std::uint32_t extra) {
    Record r{};
    r.t_start = t_start;
    r.t_end = now_ns();
    r.op = Op::kProxyAction;
    r.status = Status::kOk;
    r.channel = static_cast<std::uint16_t>(channel);
    r.aux = static_cast<std::uint32_t>(a);
    r.origin = id.origin;
    r.seq = id.seq;
    r.size = size;
    r.extra = extra;
    log.append(r);
}

int connect_loopback(int type, std::uint16_t port) {
    FdGuard fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) IPCT_FAIL_ERRNO("proxy: socket");
    const sockaddr_in a = loopback_address(port);
    if (int e = connect_fully(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a)) {
        errno = e;
        IPCT_FAIL_ERRNO("proxy: connect to 127.0.0.1:" + std::to_string(port));
    }
    return fd.release();
}

}  // namespace proxy_detail
}  // namespace ipct
