#include "common/socket_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace ipct {

std::string socket_path(const ChannelSetup& ch) {
    return ch.run_dir + "/" + ch.name + ".sock";
}

sockaddr_un unix_address(const std::string& path, const std::string& channel) {
    if (path.size() > kMaxUnixPath)
        throw EnvironmentError(
            "channel '" + channel + "': the socket path " + path + " is " +
            std::to_string(path.size()) + " bytes; a unix socket path holds at most " +
            std::to_string(kMaxUnixPath) +
            " (sun_path is 108 bytes): use a shorter run root (IPCTORTURE_RUN_ROOT) or a "
            "shorter channel name");
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    return a;
}

sockaddr_in loopback_address(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int connect_fully(int fd, const sockaddr* addr, socklen_t len) {
    if (::connect(fd, addr, len) == 0) return 0;
    if (errno != EINTR) return errno;
    // The connection is still being made: wait until the socket is writable,
    // then ask how it went.
    for (;;) {
        pollfd p{fd, POLLOUT, 0};
        const int n = ::poll(&p, 1, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        int err = 0;
        socklen_t l = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) return errno;
        return err;
    }
}

int set_socket_buffer(int fd, int opt, std::size_t bytes) {
    if (bytes == 0) return 0;
    const int v = static_cast<int>(std::min<std::size_t>(bytes, 0x7fffffff));
    return ::setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v) == 0 ? 0 : errno;
}

std::size_t socket_buffer(int fd, int opt) {
    int v = 0;
    socklen_t l = sizeof v;
    if (::getsockopt(fd, SOL_SOCKET, opt, &v, &l) != 0) IPCT_FAIL_ERRNO("getsockopt");
    return static_cast<std::size_t>(v);
}

FdGuard::~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace ipct
