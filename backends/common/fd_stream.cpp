#include "common/fd_stream.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fstream>

#include "ipctorture/message.hpp"

namespace ipct {

StreamOptions parse_stream_options(const Options& o, bool allow_packet) {
    if (allow_packet)
        option_reject_unknown(o, {"write_lock", "read_lock", "packet", "capacity"});
    else
        option_reject_unknown(o, {"write_lock", "read_lock", "capacity"});
    StreamOptions s;
    s.write_lock = option_bool(o, "write_lock", false);
    s.read_lock = option_bool(o, "read_lock", false);
    s.packet = allow_packet && option_bool(o, "packet", false);
    s.capacity = option_uint(o, "capacity", 0, 0, std::uint64_t{1} << 30);
    return s;
}

std::string lock_path(const ChannelSetup& ch, const char* which) {
    return ch.run_dir + "/" + ch.name + "." + which + ".lock";
}

Contract pipe_contract(const StreamOptions& s) {
    Contract c;
    c.unit = s.packet ? "packet (one write of at most PIPE_BUF)" : "byte stream";
    c.boundaries = false;
    c.fifo = true;
    c.lossless = true;
    c.max_message = s.packet ? PIPE_BUF : kStreamMaxMessage;
    c.notes =
        "writes of at most PIPE_BUF (4096) bytes are atomic; larger writes from several "
        "writers may interleave unless write_lock is set";
    return c;
}

std::string pipe_limits_text() {
    return "PIPE_BUF = " + std::to_string(PIPE_BUF) +
           " bytes (atomic write limit)\n"
           "default capacity = 65536 bytes\n"
           "/proc/sys/fs/pipe-max-size = " +
           std::to_string(pipe_max_size()) + " bytes\n";
}

int set_pipe_capacity(int fd, std::size_t bytes) {
    if (bytes == 0) return 0;
    if (::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(bytes)) < 0) return errno;
    return 0;
}

std::size_t pipe_max_size() {
    std::ifstream in("/proc/sys/fs/pipe-max-size");
    std::size_t v = 1048576;
    in >> v;
    return v;
}

FdStreamEndpoint::FdStreamEndpoint(int fd, const std::string& lock_file, bool packet,
                                   std::size_t max_message)
    : fd_(fd), packet_(packet), max_message_(max_message) {
    if (!lock_file.empty()) {
        lock_fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd_ < 0) IPCT_FAIL_ERRNO("cannot open lock file " + lock_file);
    }
}

FdStreamEndpoint::~FdStreamEndpoint() {
    close();
}

void FdStreamEndpoint::close() {
    if (fd_ >= 0) ::close(fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
    fd_ = lock_fd_ = -1;
}

namespace {
// flock is tied to the open file description: each worker opens its own, and
// the kernel releases it if the worker dies holding it.
void lock(int fd, int how) {
    if (retry_eintr([&] { return ::flock(fd, how); }) != 0) IPCT_FAIL_ERRNO("flock");
}
}  // namespace

IoResult FdStreamEndpoint::send(std::span<const std::byte> msg) {
    if (lock_fd_ >= 0) lock(lock_fd_, LOCK_EX);
    IoResult r = write_full(fd_, msg.data(), msg.size());
    if (lock_fd_ >= 0) lock(lock_fd_, LOCK_UN);
    return r;
}

IoResult FdStreamEndpoint::drain_bounce(std::span<std::byte> buf) {
    IoResult r;
    const std::size_t n = std::min(buf.size(), bounce_.size() - bounce_head_);
    std::memcpy(buf.data(), bounce_.data() + bounce_head_, n);
    bounce_head_ += n;
    r.done = n;
    return r;
}

IoResult FdStreamEndpoint::receive(std::span<std::byte> buf) {
    if (bounce_head_ < bounce_.size()) return drain_bounce(buf);
    if (lock_fd_ >= 0 || packet_) {
        IoResult r = (lock_fd_ >= 0) ? receive_frame() : receive_packet();
        if (!r.ok()) return r;
        IoResult out = drain_bounce(buf);
        out.calls = r.calls;
        return out;
    }
    IoResult r;
    ssize_t n = retry_eintr([&] { return ::read(fd_, buf.data(), buf.size()); });
    r.calls = 1;
    if (n < 0)
        r.err = errno;
    else if (n == 0)
        r.err = -1;
    else
        r.done = static_cast<std::size_t>(n);
    return r;
}

// Reads one whole frame under the read lock.  The header's size field is
// trusted only within [header, max_message]; otherwise just the header bytes
// are returned and the caller's decoder reports them as garbage.
IoResult FdStreamEndpoint::receive_frame() {
    lock(lock_fd_, LOCK_EX);
    bounce_.resize(kHeaderSize);
    bounce_head_ = 0;
    IoResult r = read_full(fd_, bounce_.data(), kHeaderSize);
    if (r.ok()) {
        MsgHeader h;
        std::memcpy(&h, bounce_.data(), kHeaderSize);
        if (h.magic == kMsgMagic && h.size >= kHeaderSize && h.size <= max_message_) {
            bounce_.resize(h.size);
            IoResult body = read_full(fd_, bounce_.data() + kHeaderSize, h.size - kHeaderSize);
            r.calls += body.calls;
            r.done += body.done;
            if (!body.ok()) bounce_.resize(kHeaderSize + body.done);
            if (body.err > 0) r.err = body.err;
        }
    }
    lock(lock_fd_, LOCK_UN);
    if (r.eof() && r.done > 0) r.err = 0;  // a truncated frame: hand over what came
    if (!r.ok())
        bounce_.clear();
    else
        bounce_.resize(r.done);
    return r;
}

IoResult FdStreamEndpoint::receive_packet() {
    bounce_.resize(PIPE_BUF);
    bounce_head_ = 0;
    IoResult r;
    ssize_t n = retry_eintr([&] { return ::read(fd_, bounce_.data(), bounce_.size()); });
    r.calls = 1;
    if (n < 0) {
        r.err = errno;
        n = 0;
    } else if (n == 0) {
        r.err = -1;
    }
    bounce_.resize(static_cast<std::size_t>(n));
    r.done = static_cast<std::size_t>(n);
    return r;
}

}  // namespace ipct
