// The tcp chaos proxy: one connection to the server per writer's
// connection; each whole frame (found by its header's size) is forwarded
// after a possible delay, split into small writes, or cut (socket_proxy.hpp).
// Bytes that start no frame are forwarded as they come.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <vector>

#include "common/control.hpp"
#include "common/socket_util.hpp"
#include "sockets/proxy_detail.hpp"
#include "sockets/socket_endpoints.hpp"

namespace ipct::proxy_detail {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxBuffered = std::size_t{4} << 20;  // per connection, beyond a frame
constexpr std::uint64_t kAcceptGraceNs = 5'000'000'000ull;

struct Link {
    int client = -1;
    int server = -1;
    std::vector<std::byte> in;  // read from the client, not yet forwarded: [head, end)
    std::size_t head = 0;
    bool client_eof = false;
    bool first = true;            // no frame forwarded yet
    std::uint64_t carried = 0;    // bytes forwarded to the server
    std::uint64_t paused_to = 0;  // a delay: nothing goes before this time
    bool delayed = false;         // the frame at head has had its delay
    bool done = false;            // cut, or the server side failed
    std::size_t avail() const { return in.size() - head; }
};

class TcpProxy {
  public:
    TcpProxy(const ChannelSetup& ch, const nlohmann::json& st, const ProxySpec& spec,
             EventLogWriter& log)
        : ch_(ch),
          spec_(spec),
          log_(log),
          dice_(ch.seed, ch.index),
          listen_(proxy_inherited_fd(st)),
          server_port_(st.at("server_port").get<std::uint16_t>()),
          writers_(proxy_front_control_path(ch)),
          readers_(control_path(ch)) {}
    ~TcpProxy() {
        for (Link& l : links_) close_link(l, false);
    }

    int run() {
        std::uint64_t grace_end = 0;
        for (;;) {
            const bool gone = writers_.writers_open() == 0;  // read first
            accept_all();
            const std::uint64_t now = now_ns();
            for (Link& l : links_) {
                if (!l.client_eof && l.avail() < kMaxBuffered) read_some(l);
                forward(l, now);
                if (l.client_eof && l.avail() == 0) close_link(l, false);
            }
            std::erase_if(links_, [](const Link& l) { return l.done; });
            if (gone && links_.empty() && !accept_all()) {
                const std::uint64_t connected =
                    writers_.word(kConnectedWord).load(std::memory_order_acquire);
                if (accepted_ >= connected) break;
                if (grace_end == 0) grace_end = now + kAcceptGraceNs;
                if (now >= grace_end) break;
            }
            wait(now);
        }
        readers_.writer_gone(0);
        return 0;
    }

  private:
    bool accept_all() {
        bool any = false;
        for (;;) {
            const int fd = retry_eintr(
                [&] { return ::accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
            if (fd < 0 && errno != ECONNABORTED) {
                if (errno != EAGAIN && errno != EWOULDBLOCK) IPCT_FAIL_ERRNO("proxy: accept");
                return any;
            }
            ++accepted_;
            any = true;
            if (fd < 0) continue;
            Link l;
            l.client = fd;
            l.server = connect_loopback(SOCK_STREAM, server_port_);
            readers_.word(kConnectedWord).fetch_add(1, std::memory_order_acq_rel);
            const int one = 1;
            if (::setsockopt(l.server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
                IPCT_FAIL_ERRNO("proxy: TCP_NODELAY");
            links_.push_back(std::move(l));
        }
    }

    void read_some(Link& l) {
        if (l.head > 0 && l.head == l.in.size()) {
            l.in.clear();
            l.head = 0;
        } else if (l.head >= kReadChunk) {
            l.in.erase(l.in.begin(), l.in.begin() + static_cast<std::ptrdiff_t>(l.head));
            l.head = 0;
        }
        const std::size_t old = l.in.size();
        l.in.resize(old + kReadChunk);
        const ssize_t n = retry_eintr(
            [&] { return ::recv(l.client, l.in.data() + old, kReadChunk, MSG_DONTWAIT); });
        l.in.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) l.client_eof = true;
    }

    // Forwards what can go now: whole frames, unless a delay holds them.
    void forward(Link& l, std::uint64_t now) {
        while (!l.done && l.avail() > 0 && now >= l.paused_to) {
            const std::byte* p = l.in.data() + l.head;
            const std::optional<MessageId> id = message_id(p, l.avail());
            if (!id) {
                // No header (yet): wait for one unless the stream ended or
                // these bytes cannot start one.
                if (l.avail() < kHeaderSize && !l.client_eof) return;
                send(l, p, l.avail(), 0);
                l.head = l.in.size();
                continue;
            }
            if (l.avail() < id->size && !l.client_eof) return;
            if (!frame(l, *id, std::min<std::size_t>(id->size, l.avail()), now)) return;
        }
    }

    // One whole frame (or the rest of a stream that ended inside it).  False:
    // it waits (a delay began) or the link is done.
    bool frame(Link& l, const MessageId& id, std::size_t n, std::uint64_t now) {
        const bool resend = cut_at_.count(id.origin) != 0 && cut_at_[id.origin] == id.seq;
        if (l.first && cut_at_.count(id.origin) != 0)
            log_action(log_, ch_.index, ProxyAction::kResume, id, now, 0, 0);
        l.first = false;
        if (!l.delayed && spec_.delay > 0 &&
            dice_.draw(id.origin, id.seq, Die::kDelay) < spec_.delay) {
            const double us =
                dice_.draw(id.origin, id.seq, Die::kDelayLength) * spec_.max_delay_s * 1e6;
            l.paused_to = now + static_cast<std::uint64_t>(us) * 1000;
            l.delayed = true;
            log_action(log_, ch_.index, ProxyAction::kTcpDelay, id, now,
                       static_cast<std::uint32_t>(us), 0);
            return false;
        }
        std::size_t cut = n + 1;  // no cut
        if (spec_.cut_after > 0 && l.carried + n > spec_.cut_after)
            cut = spec_.cut_after - l.carried;
        if (!resend && spec_.cut > 0 && dice_.draw(id.origin, id.seq, Die::kCut) < spec_.cut)
            cut = std::min(cut, static_cast<std::size_t>(
                                    dice_.draw(id.origin, id.seq, Die::kCutAt) * double(n)));
        const std::byte* p = l.in.data() + l.head;
        if (cut <= n) {
            if (cut > 0) send(l, p, cut, 0);
            log_action(log_, ch_.index, ProxyAction::kCut, id, now, static_cast<std::uint32_t>(cut),
                       static_cast<std::uint32_t>(std::min<std::uint64_t>(l.carried, 0xffffffffu)));
            cut_at_[id.origin] = id.seq;
            close_link(l, true);
            return false;
        }
        const std::uint32_t segments = send(l, p, n, spec_.max_segment);
        if (segments > 1)
            log_action(log_, ch_.index, ProxyAction::kSplit, id, now, spec_.max_segment, segments);
        l.head += n;
        l.delayed = false;
        return !l.done;
    }

    // Writes n bytes to the server in writes of at most `segment` bytes (0:
    // one write); returns the writes made.  A failure (every reader gone)
    // ends the link.
    std::uint32_t send(Link& l, const std::byte* p, std::size_t n, std::size_t segment) {
        const std::size_t step = segment == 0 ? n : segment;
        std::uint32_t writes = 0;
        for (std::size_t off = 0; off < n && !l.done; off += step, ++writes) {
            const std::size_t k = std::min(step, n - off);
            if (!write_full(l.server, p + off, k).ok()) close_link(l, false);
            l.carried += k;
        }
        return writes;
    }

    // The server side is closed in order (everything written arrives, then
    // the end of file); a cut resets the writer's side, so its next send
    // fails and it connects again.
    void close_link(Link& l, bool reset_client) {
        if (l.server >= 0) ::close(l.server);
        if (l.client >= 0) {
            if (reset_client) {
                const linger lg{1, 0};
                ::setsockopt(l.client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            ::close(l.client);
        }
        l.server = l.client = -1;
        l.done = true;
    }

    void wait(std::uint64_t now) {
        int timeout = kProxyPollMs;
        std::vector<pollfd> pfds{{listen_, POLLIN, 0}};
        for (const Link& l : links_) {
            if (l.paused_to > now)
                timeout =
                    std::min<int>(timeout, static_cast<int>((l.paused_to - now) / 1000000 + 1));
            if (!l.client_eof && l.avail() < kMaxBuffered) pfds.push_back({l.client, POLLIN, 0});
        }
        ::poll(pfds.data(), pfds.size(), timeout);  // EINTR: look again
    }

    const ChannelSetup& ch_;
    const ProxySpec& spec_;
    EventLogWriter& log_;
    Dice dice_;
    int listen_;
    std::uint16_t server_port_;
    ChannelControl writers_, readers_;
    std::vector<Link> links_;
    std::uint64_t accepted_ = 0;
    std::map<std::uint32_t, std::uint64_t> cut_at_;  // origin -> seq of its last cut
};

}  // namespace

int run_tcp_proxy(const ChannelSetup& ch, const nlohmann::json& st, const ProxySpec& spec,
                  EventLogWriter& log, const std::function<void()>& ready) {
    TcpProxy p(ch, st, spec, log);
    ready();
    return p.run();
}

}  // namespace ipct::proxy_detail
