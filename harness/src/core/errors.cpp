#include "ipctorture/errors.hpp"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ipct {

namespace {
thread_local std::uint64_t g_eintr_retries = 0;

// The waits between attempts after ENOBUFS.
class BufferWait {
  public:
    void pause() {
        timespec ts{0, ns_};
        while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        ns_ = std::min(ns_ * 2, 1'000'000L);
    }

  private:
    long ns_ = 10'000;
};
}  // namespace

std::uint64_t eintr_retries() {
    return g_eintr_retries;
}

void count_eintr_retry() {
    ++g_eintr_retries;  // errno is left as the failed call set it
}

HarnessError::HarnessError(const char* file, int line, const std::string& what, int err)
    : std::runtime_error(
          std::string(file) + ":" + std::to_string(line) + ": " + what +
          (err ? std::string(": ") + errno_name(err) + " (" + std::strerror(err) + ")"
               : std::string())),
      err_(err) {}

IoResult write_full(int fd, const void* buf, std::size_t len) {
    IoResult r;
    auto* p = static_cast<const char*>(buf);
    BufferWait wait;
    while (r.done < len) {
        ssize_t n = retry_eintr([&] { return ::write(fd, p + r.done, len - r.done); });
        ++r.calls;
        if (n < 0 && errno == ENOBUFS) {
            wait.pause();
            continue;
        }
        if (n < 0) {
            r.err = errno;
            return r;
        }
        r.done += static_cast<std::size_t>(n);
    }
    return r;
}

ssize_t send_whole_datagram(int fd, const void* buf, std::size_t len, int flags,
                            std::size_t* calls) {
    BufferWait wait;
    for (;;) {
        const ssize_t n = retry_eintr([&] { return ::send(fd, buf, len, flags); });
        ++*calls;
        if (n >= 0 || errno != ENOBUFS) return n;
        wait.pause();
    }
}

IoResult read_full(int fd, void* buf, std::size_t len) {
    IoResult r;
    auto* p = static_cast<char*>(buf);
    while (r.done < len) {
        ssize_t n = retry_eintr([&] { return ::read(fd, p + r.done, len - r.done); });
        ++r.calls;
        if (n < 0) {
            r.err = errno;
            return r;
        }
        if (n == 0) {
            r.err = -1;
            return r;
        }
        r.done += static_cast<std::size_t>(n);
    }
    return r;
}

std::string errno_name(int err) {
    const char* name = strerrorname_np(err);
    return name ? std::string(name) : "errno " + std::to_string(err);
}

}  // namespace ipct
