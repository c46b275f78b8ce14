// Socket backends: unix_stream, unix_dgram, unix_seqpacket, tcp, udp.
//
// Readers are servers, writers clients.  create() makes the server socket in
// the orchestrator (unix: bound at <run_dir>/<channel>.sock; tcp/udp: bound
// at 127.0.0.1 with a kernel-chosen port) and every reader inherits it;
// after_spawn() closes the orchestrator's copy.  Writers connect in open(),
// before the start barrier: a unix or loopback tcp connection completes into
// the listen backlog without an accept(), so the backlog must hold every
// writer.  End of channel comes from the channel control file (see
// socket_endpoints.hpp for each reader's rule).
//
// Kernel facts behind the contracts (Linux):
//  - unix_stream, tcp: a byte stream per connection, FIFO and lossless; a
//    writer blocks while its send buffer is full.  The reader hands over one
//    whole frame of one connection per receive, so the contract has
//    boundaries although the wire does not.
//  - unix_seqpacket: one send is one record on its connection; a record
//    larger than sk_sndbuf - 32 fails with EMSGSIZE.
//  - unix_dgram: a sender connected to the server blocks while the server's
//    queue holds more than net.unix.max_dgram_qlen datagrams, so nothing is
//    dropped and each sender's datagrams stay in order; size limit as for
//    seqpacket.
//  - udp: nothing promised; a datagram that does not fit the receive buffer
//    is dropped.  The largest IPv4 payload is 65535 - 20 - 8 = 65507 bytes.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/control.hpp"
#include "common/fd_stream.hpp"
#include "common/socket_util.hpp"
#include "common/sysinfo.hpp"
#include "ipctorture/socket_proxy.hpp"
#include "sockets/mutant_whole_read.hpp"
#include "sockets/socket_endpoints.hpp"

namespace ipct {

namespace {

using nlohmann::json;

enum class Kind { kUnixStream, kUnixDgram, kUnixSeqpacket, kTcp, kUdp };

// Unix datagrams and records: the default and the largest max_message.
constexpr std::size_t kPacketDefaultMax = 64 * 1024;
constexpr std::size_t kPacketLimit = 4 * 1024 * 1024;
// The kernel refuses a unix datagram longer than sk_sndbuf minus this.
constexpr std::size_t kUnixSndbufSlack = 32;
constexpr std::size_t kUdpMaxMessage = 65507;
constexpr std::uint64_t kBufferLimit = std::uint64_t{1} << 30;

struct SocketOptions {
    std::size_t sndbuf = 0;  // SO_SNDBUF on writers; 0 = kernel default
    std::size_t rcvbuf = 0;  // SO_RCVBUF on the server socket; 0 = kernel default
    bool nodelay = false;    // tcp: TCP_NODELAY on writers
    std::size_t max_message = 0;
};

bool connected(Kind k) {
    return k == Kind::kUnixStream || k == Kind::kUnixSeqpacket || k == Kind::kTcp;
}
bool stream(Kind k) {
    return k == Kind::kUnixStream || k == Kind::kTcp;
}
bool unix_family(Kind k) {
    return k == Kind::kUnixStream || k == Kind::kUnixDgram || k == Kind::kUnixSeqpacket;
}
int socket_type(Kind k) {
    if (stream(k)) return SOCK_STREAM;
    return k == Kind::kUnixSeqpacket ? SOCK_SEQPACKET : SOCK_DGRAM;
}

void reject_unknown(Kind k, const Options& o) {
    switch (k) {
        case Kind::kUnixStream:
            return option_reject_unknown(o, {"sndbuf"});
        case Kind::kUnixDgram:
        case Kind::kUnixSeqpacket:
            return option_reject_unknown(o, {"sndbuf", "max_message"});
        case Kind::kTcp:
            return option_reject_unknown(o, {"sndbuf", "rcvbuf", "nodelay"});
        case Kind::kUdp:
            return option_reject_unknown(o, {"sndbuf", "rcvbuf"});
    }
}

SocketOptions parse_options(Kind k, const Options& o) {
    reject_unknown(k, o);
    SocketOptions s;
    s.sndbuf = option_uint(o, "sndbuf", 0, 0, kBufferLimit);
    s.rcvbuf = option_uint(o, "rcvbuf", 0, 0, kBufferLimit);
    s.nodelay = option_bool(o, "nodelay", false);
    switch (k) {
        case Kind::kUnixStream:
        case Kind::kTcp:
            s.max_message = kStreamMaxMessage;
            break;
        case Kind::kUdp:
            s.max_message = kUdpMaxMessage;
            break;
        case Kind::kUnixDgram:
        case Kind::kUnixSeqpacket:
            s.max_message = option_uint(o, "max_message", kPacketDefaultMax, 4096, kPacketLimit);
            // The kernel doubles SO_SNDBUF; a message needs sk_sndbuf >= size + 32.
            if (s.sndbuf != 0 && 2 * s.sndbuf < s.max_message + kUnixSndbufSlack) {
                const OptionValue& v = o.at("sndbuf");
                throw ScenarioError(v.loc.file, v.loc.line, v.loc.column,
                                    "option 'sndbuf': expected at least " +
                                        std::to_string((s.max_message + kUnixSndbufSlack + 1) / 2) +
                                        " (the kernel doubles it, and a message of max_message " +
                                        std::to_string(s.max_message) +
                                        " bytes needs a send buffer 32 bytes larger), got '" +
                                        v.text + "'");
            }
            break;
    }
    return s;
}

Contract contract_for(Kind k, const SocketOptions& s) {
    Contract c;
    c.boundaries = true;
    c.max_message = s.max_message;
    switch (k) {
        case Kind::kUnixStream:
        case Kind::kTcp:
            c.unit = "byte stream";
            c.notes =
                "one byte stream per writer's connection, FIFO and lossless; the reader hands "
                "over one whole frame of one connection per receive, so connections never mix; "
                "a writer blocks while its send buffer is full";
            break;
        case Kind::kUnixSeqpacket:
            c.unit = "message";
            c.notes =
                "one send is one record on the writer's connection, FIFO and lossless; a record "
                "longer than the send buffer minus 32 bytes fails with EMSGSIZE, so writers raise "
                "SO_SNDBUF to carry max_message (option, default 65536, at most 4 MiB)";
            break;
        case Kind::kUnixDgram:
            c.unit = "message";
            c.notes =
                "writers connect to the server's bound socket and block while its queue holds "
                "more than net.unix.max_dgram_qlen datagrams: lossless, FIFO per sender; writers "
                "raise SO_SNDBUF to carry max_message (option, default 65536, at most 4 MiB)";
            break;
        case Kind::kUdp:
            c.unit = "datagram";
            c.fifo = false;
            c.lossless = false;
            c.notes =
                "nothing promised: a datagram that does not fit the server's receive buffer is "
                "dropped; loss, duplication and reordering are measured, and are findings only "
                "above the channel's bounds";
            break;
    }
    return c;
}

std::string limit_line(const char* sysctl, const char* meaning) {
    std::string path = std::string("/proc/sys/") + sysctl;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    return std::string(sysctl) + " = " + proc_text(path.c_str()) + "  (" + meaning + ")\n";
}

std::string explain_for(Kind k) {
    std::string s;
    if (connected(k))
        s += limit_line("net.core.somaxconn",
                        "listen backlog cap; a channel may have at most this many writers");
    if (unix_family(k) || k == Kind::kUdp) {
        s += limit_line("net.core.wmem_default", "a new socket's send buffer, bytes");
        s += limit_line("net.core.wmem_max", "largest SO_SNDBUF an unprivileged process may ask");
    }
    if (k == Kind::kUnixDgram)
        s += limit_line("net.unix.max_dgram_qlen",
                        "a sender blocks while the server queues more datagrams than this");
    if (k == Kind::kUnixDgram || k == Kind::kUnixSeqpacket) {
        const std::uint64_t def = proc_uint("/proc/sys/net/core/wmem_default", 0);
        const std::uint64_t max = proc_uint("/proc/sys/net/core/wmem_max", 0);
        s += "largest message with the default send buffer = " +
             std::to_string(def > kUnixSndbufSlack ? def - kUnixSndbufSlack : 0) +
             " bytes; with SO_SNDBUF at wmem_max = " +
             std::to_string(2 * max > kUnixSndbufSlack ? 2 * max - kUnixSndbufSlack : 0) +
             " bytes (the kernel doubles SO_SNDBUF); the max_message option goes up to " +
             std::to_string(kPacketLimit) + "\n";
    }
    if (k == Kind::kTcp) {
        s += limit_line("net.ipv4.tcp_wmem", "min, default, max send buffer, bytes");
        s += limit_line("net.ipv4.tcp_rmem", "min, default, max receive buffer, bytes");
        s += limit_line("net.core.wmem_max", "largest SO_SNDBUF an unprivileged process may ask");
    }
    if (k == Kind::kTcp || k == Kind::kUdp) {
        s += limit_line("net.core.rmem_default", "a new socket's receive buffer, bytes");
        s += limit_line("net.core.rmem_max", "largest SO_RCVBUF an unprivileged process may ask");
        s += limit_line("net.ipv4.ip_local_port_range",
                        "ephemeral ports: the server and each writer take one");
    }
    if (k == Kind::kUdp) {
        s += limit_line("net.ipv4.udp_mem", "pages all UDP sockets may queue: low, pressure, high");
        s += "loopback MTU = " + proc_text("/sys/class/net/lo/mtu") +
             "  (a 65507-byte datagram is 65535 bytes on the wire: no fragmentation)\n";
    }
    return s;
}

// The server socket, bound (and listening for connected kinds).  The socket
// file, if any, is removed again if anything fails.
json make_server(Kind k, const ChannelSetup& ch, const SocketOptions& s) {
    const bool un = unix_family(k);
    const std::string path = socket_path(ch);
    sockaddr_un ua{};
    if (un) ua = unix_address(path, ch.name);  // before anything exists
    if (connected(k)) {
        const std::uint64_t somax = proc_uint("/proc/sys/net/core/somaxconn", 4096);
        if (ch.writers > somax)
            throw EnvironmentError("channel '" + ch.name + "' has " + std::to_string(ch.writers) +
                                   " writers, but a listen backlog holds at most "
                                   "net.core.somaxconn = " +
                                   std::to_string(somax) + " connections");
    }
    FdGuard fd(::socket(un ? AF_UNIX : AF_INET, socket_type(k) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
        if (errno == EMFILE || errno == ENFILE)
            throw EnvironmentError("socket: out of file descriptors (raise ulimit -n)");
        IPCT_FAIL_ERRNO("socket for channel '" + ch.name + "'");
    }
    if (int e = set_socket_buffer(fd.get(), SO_RCVBUF, s.rcvbuf)) {
        errno = e;
        IPCT_FAIL_ERRNO("SO_RCVBUF " + std::to_string(s.rcvbuf));
    }
    json st;
    if (un) {
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ua), sizeof ua) != 0)
            IPCT_FAIL_ERRNO("bind " + path);
        st["path"] = path;
    } else {
        sockaddr_in ia = loopback_address(0);
        socklen_t len = sizeof ia;
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ia), sizeof ia) != 0)
            IPCT_FAIL_ERRNO("bind 127.0.0.1:0");
        if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ia), &len) != 0)
            IPCT_FAIL_ERRNO("getsockname");
        st["port"] = ntohs(ia.sin_port);
    }
    try {
        if (un && ::chmod(path.c_str(), 0600) != 0) IPCT_FAIL_ERRNO("chmod " + path);
        const int backlog = std::max<int>(SOMAXCONN, static_cast<int>(ch.writers));
        if (connected(k) && ::listen(fd.get(), backlog) != 0) IPCT_FAIL_ERRNO("listen");
        // With a proxy the readers' one writer is the proxy.
        ChannelControl::create(control_path(ch), ch.proxied ? 1 : ch.writers);
    } catch (...) {
        if (un) ::unlink(path.c_str());
        ::unlink(control_path(ch).c_str());
        throw;
    }
    st["fd"] = fd.release();
    return st;
}

// A proxied channel (socket_proxy.hpp): the proxy's socket, bound like the
// server's, is where writers go ("port"); the server's port stays for the
// proxy ("server_port"); the writers get a control file of their own.
void add_proxy_front(Kind k, const ChannelSetup& ch, const SocketOptions& s, json& st) {
    FdGuard fd(::socket(AF_INET, socket_type(k) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) IPCT_FAIL_ERRNO("socket for the proxy of channel '" + ch.name + "'");
    if (int e = set_socket_buffer(fd.get(), SO_RCVBUF, s.rcvbuf)) {
        errno = e;
        IPCT_FAIL_ERRNO("SO_RCVBUF " + std::to_string(s.rcvbuf));
    }
    sockaddr_in ia = loopback_address(0);
    socklen_t len = sizeof ia;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ia), sizeof ia) != 0)
        IPCT_FAIL_ERRNO("bind 127.0.0.1:0 (proxy)");
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ia), &len) != 0)
        IPCT_FAIL_ERRNO("getsockname");
    const int backlog = std::max<int>(SOMAXCONN, static_cast<int>(ch.writers));
    if (connected(k) && ::listen(fd.get(), backlog) != 0) IPCT_FAIL_ERRNO("listen (proxy)");
    ChannelControl::create(proxy_front_control_path(ch), ch.writers);
    st["server_port"] = st.at("port");
    st["port"] = ntohs(ia.sin_port);
    st["proxy_fd"] = fd.release();
}

// A writer's send buffer: what the options ask, and for unix datagrams and
// records at least what max_message needs.
void size_send_buffer(Kind k, int fd, const SocketOptions& s, const std::string& channel) {
    const bool packet = k == Kind::kUnixDgram || k == Kind::kUnixSeqpacket;
    const std::size_t need = packet ? s.max_message + kUnixSndbufSlack : 0;
    std::size_t ask = s.sndbuf;
    if (ask == 0 && packet && socket_buffer(fd, SO_SNDBUF) < need) ask = (need + 1) / 2;
    if (int e = set_socket_buffer(fd, SO_SNDBUF, ask)) {
        errno = e;
        IPCT_FAIL_ERRNO("SO_SNDBUF " + std::to_string(ask));
    }
    if (packet && socket_buffer(fd, SO_SNDBUF) < need)
        throw EnvironmentError(
            "channel '" + channel + "': a message of max_message " + std::to_string(s.max_message) +
            " bytes needs a send buffer of " + std::to_string(need) +
            " bytes, but net.core.wmem_max = " + proc_text("/proc/sys/net/core/wmem_max") +
            " allows less (lower max_message or raise wmem_max)");
}

// The SO_SNDBUF a writer asks for (what size_send_buffer() would set), 0 for
// none: for a program outside the harness, which makes its own socket.
std::size_t send_buffer_ask(Kind k, const SocketOptions& s, const std::string& channel) {
    if (s.sndbuf != 0) return s.sndbuf;
    if (k != Kind::kUnixDgram && k != Kind::kUnixSeqpacket) return 0;
    FdGuard probe(::socket(AF_UNIX, socket_type(k) | SOCK_CLOEXEC, 0));
    if (probe.get() < 0) IPCT_FAIL_ERRNO("socket for channel '" + channel + "'");
    const std::size_t need = s.max_message + kUnixSndbufSlack;
    if (socket_buffer(probe.get(), SO_SNDBUF) >= need) return 0;
    size_send_buffer(k, probe.get(), s, channel);  // throws if wmem_max cannot give it
    return (need + 1) / 2;
}

int connect_writer(Kind k, const ChannelSetup& ch, const json& st, const SocketOptions& s) {
    const bool un = unix_family(k);
    FdGuard fd(::socket(un ? AF_UNIX : AF_INET, socket_type(k) | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        if (errno == EMFILE || errno == ENFILE)
            throw EnvironmentError("socket: out of file descriptors (raise ulimit -n)");
        IPCT_FAIL_ERRNO("socket for channel '" + ch.name + "'");
    }
    size_send_buffer(k, fd.get(), s, ch.name);
    if (s.nodelay) {
        const int one = 1;
        if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            IPCT_FAIL_ERRNO("TCP_NODELAY");
    }
    int err = 0;
    std::string where;
    if (un) {
        where = st.at("path").get<std::string>();
        const sockaddr_un a = unix_address(where, ch.name);
        err = connect_fully(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a);
    } else {
        const auto port = st.at("port").get<std::uint16_t>();
        where = "127.0.0.1:" + std::to_string(port);
        const sockaddr_in a = loopback_address(port);
        err = connect_fully(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a);
    }
    if (err != 0) {
        errno = err;
        IPCT_FAIL_ERRNO("channel '" + ch.name + "': connect to " + where +
                        " (is a reader still holding the server socket?)");
    }
    return fd.release();
}

class SocketBackend final : public Backend {
  public:
    SocketBackend(Kind k, const char* name, const char* summary)
        : kind_(k), name_(name), summary_(summary) {}
    std::string_view name() const override { return name_; }
    std::string_view summary() const override { return summary_; }
    Contract contract(const Options& o) const override {
        return contract_for(kind_, parse_options(kind_, o));
    }
    void validate(const Options& o) const override { parse_options(kind_, o); }
    std::vector<MutantInfo> mutants() const override {
        if (stream(kind_)) return {whole_read_mutant()};
        return {};
    }

    json create(const ChannelSetup& ch) override {
        const SocketOptions s = parse_options(kind_, ch.options);
        json st = make_server(kind_, ch, s);
        if (!ch.proxied) return st;
        try {
            add_proxy_front(kind_, ch, s, st);
        } catch (...) {
            ::close(st.at("fd").get<int>());
            cleanup(ch, st);
            throw;
        }
        return st;
    }
    std::vector<int> inherited_fds(const json& st, Direction d) const override {
        if (d == Direction::kWrite) return {};
        return {st.at("fd").get<int>()};
    }
    void after_spawn(const json& st) override {
        ::close(st.at("fd").get<int>());
        if (st.contains("proxy_fd")) ::close(st.at("proxy_fd").get<int>());
    }
    // A writer of a proxied channel is gone from the proxy's side.
    void process_gone(const ChannelSetup& ch, const json& st, Direction d) override {
        if (!ch.proxied || d != Direction::kWrite) return Backend::process_gone(ch, st, d);
        const std::string front = proxy_front_control_path(ch);
        if (::access(front.c_str(), F_OK) == 0) ChannelControl(front).writer_gone(ch.rank);
    }
    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const json& st, Direction d) override {
        const SocketOptions s = parse_options(kind_, ch.options);
        ChannelControl ctl(ch.proxied && d == Direction::kWrite ? proxy_front_control_path(ch)
                                                                : control_path(ch));
        if (d == Direction::kWrite) {
            const int fd = connect_writer(kind_, ch, st, s);
            if (connected(kind_)) ctl.word(kConnectedWord).fetch_add(1, std::memory_order_acq_rel);
            // Only a proxy cuts connections: a writer behind one connects again.
            SocketWriter::Reconnect again;
            if (ch.proxied && stream(kind_))
                again = [k = kind_, ch, st, s] { return connect_writer(k, ch, st, s); };
            return std::make_unique<SocketWriter>(fd, stream(kind_), std::move(ctl), ch.rank,
                                                  std::move(again));
        }
        const int fd = st.at("fd").get<int>();
        if (::fcntl(fd, F_GETFD) < 0) IPCT_FAIL_ERRNO("inherited server socket fd is not open");
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (ch.mutant == whole_read_mutant().name)
            return make_whole_read_reader(fd, std::move(ctl), s.max_message);
        if (connected(kind_))
            return std::make_unique<ConnectionReader>(fd, stream(kind_), std::move(ctl), ch.seed,
                                                      s.max_message);
        return std::make_unique<DatagramReader>(fd, std::move(ctl), kind_ == Kind::kUdp);
    }
    // A program outside the harness (role: exec; README, "Black-box
    // programs").  Reading, it gets what a harness reader inherits: the
    // server socket, as its stdin (non-blocking, bound, listening for the
    // connected kinds), and the control file to see the end as a reader
    // does (socket_endpoints.hpp).  Writing, it makes its own socket and
    // connects, as a harness writer does; the one connection it is to make
    // is counted here for it (kConnectedWord), so readers wait for it.
    bool external() const override { return true; }
    ExternalEndpoint external_endpoint(const ChannelSetup& ch, const json& st,
                                       Direction d) override {
        const SocketOptions s = parse_options(kind_, ch.options);
        ExternalEndpoint ep;
        auto& v = ep.vars;
        v.emplace_back("FRAMING", stream(kind_) ? "stream" : "message");
        const bool reading = d == Direction::kRead;
        if (unix_family(kind_)) {
            v.emplace_back("PATH", st.at("path").get<std::string>());
        } else {
            // Behind a proxy, writers go to the proxy ("port") and the
            // readers' socket is the server's.
            const char* key = reading && st.contains("server_port") ? "server_port" : "port";
            v.emplace_back("HOST", "127.0.0.1");
            v.emplace_back("PORT", std::to_string(st.at(key).get<std::uint16_t>()));
        }
        if (reading) {
            const int fd = st.at("fd").get<int>();
            if (::fcntl(fd, F_GETFD) < 0) IPCT_FAIL_ERRNO("inherited server socket fd is not open");
            ep.fd = fd;
            v.emplace_back("SOCKET", connected(kind_) ? "listen" : "bound");
            v.emplace_back("END_FILE", control_path(ch));
            v.emplace_back("END_OFFSET", std::to_string(ChannelControl::open_count_offset()));
            if (connected(kind_)) {
                v.emplace_back("CONNECTED_OFFSET",
                               std::to_string(ChannelControl::word_offset(kConnectedWord)));
                v.emplace_back("ACCEPTED_OFFSET",
                               std::to_string(ChannelControl::word_offset(kAcceptedWord)));
            }
            if (kind_ == Kind::kUdp) v.emplace_back("QUIET_MS", std::to_string(kSocketPollMs));
            return ep;
        }
        v.emplace_back("SOCKET", "connect");
        if (const std::size_t ask = send_buffer_ask(kind_, s, ch.name); ask != 0)
            v.emplace_back("SNDBUF", std::to_string(ask));
        if (s.nodelay) v.emplace_back("NODELAY", "1");
        if (connected(kind_)) {
            ChannelControl ctl(ch.proxied ? proxy_front_control_path(ch) : control_path(ch));
            ctl.word(kConnectedWord).fetch_add(1, std::memory_order_acq_rel);
        }
        return ep;
    }
    // Works from the setup alone; closes nothing (the fds in the state belong
    // to the orchestrator's after_spawn and to the workers).
    void cleanup(const ChannelSetup& ch, const json&) override {
        if (unix_family(kind_)) ::unlink(socket_path(ch).c_str());
        ::unlink(control_path(ch).c_str());
        if (ch.proxied) ::unlink(proxy_front_control_path(ch).c_str());
    }
    std::string explain() const override { return explain_for(kind_); }

  private:
    Kind kind_;
    const char* name_;
    const char* summary_;
};

}  // namespace

Backend* unix_stream_backend() {
    static SocketBackend b(Kind::kUnixStream, "unix_stream",
                           "unix stream socket at a path in the run directory; readers accept, "
                           "writers connect");
    return &b;
}

Backend* unix_dgram_backend() {
    static SocketBackend b(Kind::kUnixDgram, "unix_dgram",
                           "unix datagram socket bound at a path in the run directory; writers "
                           "connect to it");
    return &b;
}

Backend* unix_seqpacket_backend() {
    static SocketBackend b(Kind::kUnixSeqpacket, "unix_seqpacket",
                           "unix seqpacket socket at a path in the run directory; readers "
                           "accept, writers connect");
    return &b;
}

Backend* tcp_backend() {
    static SocketBackend b(Kind::kTcp, "tcp",
                           "TCP on 127.0.0.1 with a kernel-chosen port; readers accept, writers "
                           "connect");
    return &b;
}

Backend* udp_backend() {
    static SocketBackend b(Kind::kUdp, "udp",
                           "UDP on 127.0.0.1 with a kernel-chosen port; writers connect to the "
                           "readers' shared socket");
    return &b;
}

}  // namespace ipct
