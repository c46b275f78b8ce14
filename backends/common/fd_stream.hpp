// An Endpoint over a file descriptor that carries a byte stream (pipe, FIFO,
// and later stream sockets), with the channel options every such backend
// shares:
//   write_lock  writers hold an exclusive flock() on a lock file around each
//               whole message, so messages above PIPE_BUF cannot interleave;
//   read_lock   readers hold one around reading one whole frame, so several
//               readers of one stream never split a message between them;
//   packet      (pipes and FIFOs) O_DIRECT "packet mode": each write of at most
//               PIPE_BUF bytes is one packet and each read returns one packet.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ipctorture/backend.hpp"

namespace ipct {

// Largest message a scenario may send over a pipe, FIFO or stream socket.
inline constexpr std::size_t kStreamMaxMessage = std::size_t{1} << 20;

struct StreamOptions {
    bool write_lock = false;
    bool read_lock = false;
    bool packet = false;
    std::size_t capacity = 0;  // F_SETPIPE_SZ; 0 = kernel default
};

StreamOptions parse_stream_options(const Options& o, bool allow_packet);

// Lock files live in the run directory and go away with it.
std::string lock_path(const ChannelSetup& ch, const char* which);

class FdStreamEndpoint : public Endpoint {
  public:
    // Takes ownership of fd.  lock_file is the path to flock, or empty.
    FdStreamEndpoint(int fd, const std::string& lock_file, bool packet, std::size_t max_message);
    ~FdStreamEndpoint() override;
    IoResult send(std::span<const std::byte> msg) override;
    IoResult receive(std::span<std::byte> buf) override;
    void close() override;

  private:
    IoResult receive_frame();   // read_lock: exactly one frame into bounce_
    IoResult receive_packet();  // packet mode: one packet into bounce_
    IoResult drain_bounce(std::span<std::byte> buf);
    int fd_;
    int lock_fd_ = -1;
    bool packet_;
    std::size_t max_message_;
    std::vector<std::byte> bounce_;
    std::size_t bounce_head_ = 0;
};

// The contract pipes and FIFOs share (pipe(7)): a byte stream, FIFO,
// lossless; in packet mode one write of at most PIPE_BUF is one packet.
Contract pipe_contract(const StreamOptions& s);
// Live limits of pipes and FIFOs, for `ipctorture explain`.
std::string pipe_limits_text();

// Sets the pipe buffer size when asked to; returns errno or 0.
int set_pipe_capacity(int fd, std::size_t bytes);
std::size_t pipe_max_size();  // /proc/sys/fs/pipe-max-size

}  // namespace ipct
