// MUTANT whole-read (unix_stream, tcp): a server that believes one recv()
// returns one whole message.
//
// The bug, as it appears in real servers:
//     n = recv(fd, buf, MAX_MESSAGE, 0);
//     if (n > 0) handle_message(buf, n);
// with no loop on short reads and no framing.  A stream socket keeps no
// boundaries: recv() returns whatever the receive queue holds, up to the
// buffer, so a message larger than the socket's buffers arrives in pieces
// (its writer blocks while its send buffer is full), and one piece may end
// one message and start the next.  This reader hands each recv() over as one
// message, which is what such code gives its application.
//
// The contract of the channel says a receive is one whole frame, so the
// harness decodes each receive on its own: a piece that stops inside a
// message is a truncated frame (corrupted), the rest of that message comes
// as bytes that start no message (unexpected), and a message whose header
// was cut between two pieces never arrives at all (lost).
//
// Everything else is as in the correct ConnectionReader (socket_endpoints.cpp):
// connections accepted from the shared listening socket, taken round robin,
// and the same end-of-channel rule, so the only difference the checker sees
// is the bug.
#include "sockets/mutant_whole_read.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "sockets/socket_endpoints.hpp"

namespace ipct {

namespace {

// As in the correct reader: how long to wait for a connection a writer made
// but no reader accepted, once every writer has gone.
constexpr auto kAcceptGrace = std::chrono::seconds(5);

bool would_block(int e) {
    return e == EAGAIN || e == EWOULDBLOCK;
}

class WholeReadReader final : public Endpoint {
  public:
    WholeReadReader(int listen_fd, ChannelControl ctl, std::size_t max_message)
        : listen_fd_(listen_fd), ctl_(std::move(ctl)), max_message_(max_message) {}
    ~WholeReadReader() override { close(); }
    IoResult send(std::span<const std::byte>) override { return {0, EOPNOTSUPP, 0}; }
    IoResult receive(std::span<std::byte> buf) override;
    void close() override;

  private:
    struct Conn {
        int fd = -1;
        bool readable = false;  // poll() said so, until EAGAIN
    };
    bool recv_one(std::span<std::byte> buf, IoResult& out);
    bool wait(int timeout_ms);
    bool accept_pending();
    bool at_end();

    int listen_fd_;
    ChannelControl ctl_;
    std::size_t max_message_;
    std::vector<Conn> conns_;
    std::size_t next_ = 0;
    int pending_err_ = 0;
    bool ended_ = false;
    std::chrono::steady_clock::time_point grace_end_{};
};

void WholeReadReader::close() {
    for (Conn& c : conns_)
        if (c.fd >= 0) ::close(c.fd);
    conns_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
}

IoResult WholeReadReader::receive(std::span<std::byte> buf) {
    IoResult out;
    for (;;) {
        if (recv_one(buf, out)) return out;
        if (pending_err_ != 0) {
            out.err = std::exchange(pending_err_, 0);
            return out;
        }
        if (ended_) {
            out.err = -1;
            return out;
        }
        if (wait(0)) continue;
        if (at_end()) {
            ended_ = true;
            continue;
        }
        wait(kSocketPollMs);
    }
}

// THE BUG: one recv() of up to a whole message's size is taken to be one
// message, whatever it returned.
bool WholeReadReader::recv_one(std::span<std::byte> buf, IoResult& out) {
    const std::size_t n = conns_.size();
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = (next_ + k) % n;
        Conn& c = conns_[i];
        if (!c.readable || c.fd < 0) continue;
        const std::size_t want = std::min(buf.size(), max_message_);
        const ssize_t got =
            retry_eintr([&] { return ::recv(c.fd, buf.data(), want, MSG_DONTWAIT); });
        if (got > 0) {
            out.done = static_cast<std::size_t>(got);
            out.calls = 1;
            next_ = i + 1;
            return true;
        }
        if (got < 0 && would_block(errno)) {
            c.readable = false;
            continue;
        }
        if (got < 0) pending_err_ = errno;
        ::close(c.fd);  // end of file, or an error handed over next
        c.fd = -1;
    }
    conns_.erase(
        std::remove_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.fd < 0; }),
        conns_.end());
    return false;
}

// One poll() over the listening socket and the connections not yet known to
// be readable.  True if anything happened.
bool WholeReadReader::wait(int timeout_ms) {
    std::vector<pollfd> pfds{{listen_fd_, POLLIN, 0}};
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].readable) continue;
        pfds.push_back({conns_[i].fd, POLLIN, 0});
        which.push_back(i);
    }
    if (::poll(pfds.data(), pfds.size(), timeout_ms) <= 0) return false;  // EINTR: look again
    bool progress = false;
    for (std::size_t j = 1; j < pfds.size(); ++j) {
        if (pfds[j].revents == 0) continue;
        conns_[which[j - 1]].readable = true;
        progress = true;
    }
    if (pfds[0].revents != 0) progress = accept_pending() || progress;
    return progress;
}

bool WholeReadReader::accept_pending() {
    bool any = false;
    for (;;) {
        const int fd = retry_eintr(
            [&] { return ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
        if (fd >= 0 || errno == ECONNABORTED) {
            if (fd >= 0) conns_.push_back(Conn{fd, false});
            ctl_.word(kAcceptedWord).fetch_add(1, std::memory_order_acq_rel);
            any = true;
            continue;
        }
        if (!would_block(errno)) pending_err_ = errno;
        return any;
    }
}

// The correct reader's rule: no writer open (read first), nothing to
// accept, every connection at end of file, and every connection a writer
// made accepted by some reader (or the grace period over).
bool WholeReadReader::at_end() {
    if (ctl_.writers_open() != 0) return false;
    if (accept_pending() || pending_err_ != 0 || !conns_.empty()) return false;
    const std::uint64_t connected = ctl_.word(kConnectedWord).load(std::memory_order_acquire);
    const std::uint64_t accepted = ctl_.word(kAcceptedWord).load(std::memory_order_acquire);
    if (accepted >= connected) return true;
    const auto now = std::chrono::steady_clock::now();
    if (grace_end_ == std::chrono::steady_clock::time_point{}) grace_end_ = now + kAcceptGrace;
    return now >= grace_end_;
}

}  // namespace

const MutantInfo& whole_read_mutant() {
    static const MutantInfo m{
        "whole-read",
        "the reader takes one recv() of up to a whole message's size for one message, with no "
        "loop on short reads: messages larger than the socket buffers arrive in pieces "
        "(corrupted: truncated frames; unexpected: their rest; lost: a header cut in two)"};
    return m;
}

std::unique_ptr<Endpoint> make_whole_read_reader(int listen_fd, ChannelControl ctl,
                                                 std::size_t max_message) {
    return std::make_unique<WholeReadReader>(listen_fd, std::move(ctl), max_message);
}

}  // namespace ipct
