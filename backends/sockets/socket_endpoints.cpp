#include "sockets/socket_endpoints.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

namespace ipct {

namespace {

// Bytes a framed reader asks the kernel for at a time (more when a frame
// needs more).
constexpr std::size_t kReadChunk = 64 * 1024;

// How long a reader waits for a connection that a writer made but no reader
// has accepted yet, once every writer has gone.  On loopback the handshake
// ends within the writer's connect() unless softirq work was deferred, so
// this only matters if a reader died between accept() and counting it.
constexpr auto kAcceptGrace = std::chrono::seconds(5);

std::uint64_t monotonic_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

bool would_block(int e) {
    return e == EAGAIN || e == EWOULDBLOCK;
}

IoResult not_this_side() {
    IoResult r;
    r.err = EOPNOTSUPP;
    return r;
}

}  // namespace

// ---------------------------------------------------------------- readers

ConnectionReader::ConnectionReader(int listen_fd, bool framed, ChannelControl ctl,
                                   std::uint64_t seed, std::size_t max_message)
    : listen_fd_(listen_fd),
      framed_(framed),
      ctl_(std::move(ctl)),
      payload_(seed),
      max_message_(max_message) {}

ConnectionReader::~ConnectionReader() {
    close();
}

IoResult ConnectionReader::send(std::span<const std::byte>) {
    return not_this_side();
}

void ConnectionReader::close() {
    for (Conn& c : conns_)
        if (c.fd >= 0) ::close(c.fd);
    conns_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
}

IoResult ConnectionReader::receive(std::span<std::byte> buf) {
    IoResult out;
    for (;;) {
        if (take(buf, out)) return out;
        if (ended_) {
            out.err = -1;
            return out;
        }
        if (pump(0)) continue;
        if (at_end()) {
            ended_ = true;
            continue;
        }
        pump(kSocketPollMs);
    }
}

// Hands over one unit from the connections, round robin so that a busy
// connection cannot starve the others; then a pending read error.
bool ConnectionReader::take(std::span<std::byte> buf, IoResult& out) {
    const std::size_t n = conns_.size();
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = (next_ + k) % n;
        Conn& c = conns_[i];
        if (framed_ ? take_frame(c, buf, out) : take_packet(c, buf, out)) {
            next_ = i + 1;
            return true;
        }
    }
    if (pending_err_ != 0) {
        out.err = std::exchange(pending_err_, 0);
        return true;
    }
    return false;
}

bool ConnectionReader::take_frame(Conn& c, std::span<std::byte> buf, IoResult& out) {
    const std::size_t n = std::min(unit_size(c), buf.size());
    if (n == 0) return false;
    std::memcpy(buf.data(), c.buf.data() + c.head, n);
    c.head += n;
    if (c.head == c.tail) c.head = c.tail = 0;
    if (c.drained()) std::vector<std::byte>().swap(c.buf);
    out.done = n;
    out.calls = 1;
    return true;
}

bool ConnectionReader::take_packet(Conn& c, std::span<std::byte> buf, IoResult& out) {
    if (!c.readable || c.fd < 0) return false;
    // MSG_TRUNC: the length of the whole message, even if buf is shorter.
    const ssize_t n =
        retry_eintr([&] { return ::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC); });
    if (n > 0) {
        out.done = std::min(static_cast<std::size_t>(n), buf.size());
        out.calls = 1;
        return true;
    }
    if (n == 0) {
        end_conn(c);
        return false;
    }
    if (would_block(errno)) {
        c.readable = false;
        return false;
    }
    out.err = errno;
    out.calls = 1;
    end_conn(c);
    return true;
}

bool ConnectionReader::plausible(const std::byte* p) const {
    MsgHeader h;
    std::memcpy(&h, p, kHeaderSize);
    return h.magic == kMsgMagic && payload_.check_header(h, max_message_) == Verdict::kOk;
}

// Bytes at c's head that may be handed over as one unit now, 0 to wait for
// more: a whole frame; or, when the head is no plausible header, the bytes up
// to the next one (keeping a tail that may still become one); or, once the
// connection has ended, whatever is left.
std::size_t ConnectionReader::unit_size(const Conn& c) const {
    const std::size_t avail = c.tail - c.head;
    const bool ended = c.fd < 0;
    if (avail == 0) return 0;
    if (avail < kHeaderSize) return ended ? avail : 0;
    const std::byte* p = c.buf.data() + c.head;
    if (plausible(p)) {
        MsgHeader h;
        std::memcpy(&h, p, kHeaderSize);
        if (avail >= h.size) return h.size;
        return ended ? avail : 0;
    }
    for (std::size_t k = 1; k + kHeaderSize <= avail; ++k) {
        std::uint32_t magic;
        std::memcpy(&magic, p + k, sizeof magic);
        if (magic == kMsgMagic && plausible(p + k)) return k;
    }
    return ended ? avail : avail - (kHeaderSize - 1);
}

// One poll() over the listening socket and the open connections.  True if
// anything happened: a connection accepted, bytes or an end of file read, a
// connection found readable.
bool ConnectionReader::pump(int timeout_ms) {
    conns_.erase(
        std::remove_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.drained(); }),
        conns_.end());
    std::vector<pollfd> pfds{{listen_fd_, POLLIN, 0}};
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].fd < 0 || conns_[i].readable) continue;
        pfds.push_back({conns_[i].fd, POLLIN, 0});
        which.push_back(i);
    }
    if (::poll(pfds.data(), pfds.size(), timeout_ms) <= 0) return false;  // EINTR: look again
    bool progress = false;
    for (std::size_t j = 1; j < pfds.size(); ++j) {
        if (pfds[j].revents == 0) continue;
        Conn& c = conns_[which[j - 1]];
        if (framed_)
            read_some(c);
        else
            c.readable = true;
        progress = true;
    }
    if (pfds[0].revents != 0) progress = accept_pending() || progress;
    return progress;
}

// Accepts every connection waiting on the shared listening socket (another
// reader may take one first: EAGAIN).
bool ConnectionReader::accept_pending() {
    bool any = false;
    for (;;) {
        const int fd = retry_eintr(
            [&] { return ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
        if (fd >= 0 || errno == ECONNABORTED) {
            if (fd >= 0) conns_.push_back(Conn{fd});
            ctl_.word(kAcceptedWord).fetch_add(1, std::memory_order_acq_rel);
            any = true;
            continue;
        }
        if (!would_block(errno)) pending_err_ = errno;
        return any;
    }
}

void ConnectionReader::read_some(Conn& c) {
    std::size_t want = kReadChunk;
    const std::size_t avail = c.tail - c.head;
    if (avail >= kHeaderSize && plausible(c.buf.data() + c.head)) {
        MsgHeader h;
        std::memcpy(&h, c.buf.data() + c.head, kHeaderSize);
        if (h.size > avail) want = std::max(want, h.size - avail);
    }
    if (c.head > 0 && (c.head == c.tail || c.buf.size() - c.tail < want)) {
        std::memmove(c.buf.data(), c.buf.data() + c.head, avail);
        c.head = 0;
        c.tail = avail;
    }
    if (c.buf.size() - c.tail < want) c.buf.resize(c.tail + want);
    const ssize_t n = retry_eintr(
        [&] { return ::recv(c.fd, c.buf.data() + c.tail, c.buf.size() - c.tail, MSG_DONTWAIT); });
    if (n > 0) {
        c.tail += static_cast<std::size_t>(n);
    } else if (n == 0) {
        end_conn(c);
    } else if (!would_block(errno)) {
        pending_err_ = errno;
        end_conn(c);
    }
}

void ConnectionReader::end_conn(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    c.readable = false;
}

bool ConnectionReader::at_end() {
    // Read first: every connection a writer made happened before this.
    if (ctl_.writers_open() != 0) return false;
    if (accept_pending() || pending_err_ != 0) return false;
    for (const Conn& c : conns_)
        if (!c.drained()) return false;
    const std::uint64_t connected = ctl_.word(kConnectedWord).load(std::memory_order_acquire);
    const std::uint64_t accepted = ctl_.word(kAcceptedWord).load(std::memory_order_acquire);
    if (accepted < connected) {
        // A connection the server side has not finished yet (tcp), or one
        // that another reader is accepting right now.
        const std::uint64_t now = monotonic_ns();
        if (accept_grace_end_ == 0)
            accept_grace_end_ =
                now + std::chrono::duration_cast<std::chrono::nanoseconds>(kAcceptGrace).count();
        if (now < accept_grace_end_) return false;
    }
    return true;
}

DatagramReader::DatagramReader(int fd, ChannelControl ctl, bool settle)
    : fd_(fd), ctl_(std::move(ctl)), settle_(settle) {}

DatagramReader::~DatagramReader() {
    close();
}

IoResult DatagramReader::send(std::span<const std::byte>) {
    return not_this_side();
}

void DatagramReader::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

IoResult DatagramReader::receive(std::span<std::byte> buf) {
    IoResult out;
    while (!ended_) {
        // Read first: every send that will ever complete has completed.
        const bool gone = ctl_.writers_open() == 0;
        const ssize_t n = retry_eintr(
            [&] { return ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC); });
        if (n >= 0) {
            quiet_ = false;
            out.done = std::min(static_cast<std::size_t>(n), buf.size());
            out.calls = 1;
            return out;
        }
        if (!would_block(errno)) {
            out.err = errno;
            out.calls = 1;
            return out;
        }
        if (gone && (!settle_ || quiet_)) break;
        pollfd p{fd_, POLLIN, 0};
        quiet_ = ::poll(&p, 1, kSocketPollMs) == 0 && gone;
    }
    ended_ = true;
    out.err = -1;
    return out;
}

// ---------------------------------------------------------------- writers

SocketWriter::SocketWriter(int fd, bool stream, ChannelControl ctl, std::uint32_t rank,
                           Reconnect reconnect)
    : fd_(fd),
      stream_(stream),
      ctl_(std::move(ctl)),
      rank_(rank),
      reconnect_(std::move(reconnect)) {}

SocketWriter::~SocketWriter() {
    close();
}

IoResult SocketWriter::send(std::span<const std::byte> msg) {
    if (stream_) {
        IoResult r = write_full(fd_, msg.data(), msg.size());
        for (int k = 0; k < kMaxReconnects && !r.ok() && (r.err == ECONNRESET || r.err == EPIPE);
             ++k) {
            if (!connect_again()) break;
            const std::size_t calls = r.calls;
            r = write_full(fd_, msg.data(), msg.size());
            r.calls += calls;
        }
        return r;
    }
    IoResult r;
    const ssize_t n = send_whole_datagram(fd_, msg.data(), msg.size(), MSG_NOSIGNAL, &r.calls);
    if (n < 0)
        r.err = errno;
    else
        r.done = static_cast<std::size_t>(n);
    return r;
}

IoResult SocketWriter::receive(std::span<std::byte>) {
    return not_this_side();
}

bool SocketWriter::connect_again() {
    if (!reconnect_) return false;
    try {
        const int fd = reconnect_();
        ::close(fd_);
        fd_ = fd;
    } catch (const std::exception&) {
        return false;  // the send's own error stands
    }
    ctl_.word(kConnectedWord).fetch_add(1, std::memory_order_acq_rel);
    return true;
}

// The socket is closed before the writer counts as gone, so a reader that
// sees no writer left also sees every connection's end of file.
void SocketWriter::close() {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    ctl_.writer_gone(rank_);
}

}  // namespace ipct
