// Small helpers the socket backends share: addresses, buffer sizes, connect
// and an fd guard.  (The live limits are read with common/sysinfo.hpp.)
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "ipctorture/backend.hpp"

namespace ipct {

// A unix socket path holds at most this many bytes (sun_path is 108 with
// its terminating NUL).
inline constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

// The channel's socket file: <run_dir>/<channel>.sock.
std::string socket_path(const ChannelSetup& ch);

// The address of a unix socket at path; EnvironmentError if the path does not
// fit sun_path (the message says how to get a shorter one).
sockaddr_un unix_address(const std::string& path, const std::string& channel);

// 127.0.0.1:port.
sockaddr_in loopback_address(std::uint16_t port);

// connect() that survives EINTR: an interrupted connect goes on in the
// kernel, so it waits for the outcome rather than starting again.  Returns 0
// or the errno.
int connect_fully(int fd, const sockaddr* addr, socklen_t len);

// setsockopt(SOL_SOCKET, opt) when bytes != 0; the kernel doubles the value
// and caps it at net.core.wmem_max / rmem_max.  Returns 0 or the errno.
int set_socket_buffer(int fd, int opt, std::size_t bytes);
// The effective size (getsockopt, already doubled by the kernel).
std::size_t socket_buffer(int fd, int opt);

// Closes fd on scope exit unless released.
class FdGuard {
  public:
    explicit FdGuard(int fd) : fd_(fd) {}
    ~FdGuard();
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    int fd_;
};

}  // namespace ipct
