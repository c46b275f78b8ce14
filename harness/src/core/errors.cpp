#include "ipctorture/errors.hpp"

#include <unistd.h>

#include <cstring>

namespace ipct {

namespace {
thread_local std::uint64_t g_eintr_retries = 0;
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
    while (r.done < len) {
        ssize_t n = retry_eintr([&] { return ::write(fd, p + r.done, len - r.done); });
        ++r.calls;
        if (n < 0) {
            r.err = errno;
            return r;
        }
        r.done += static_cast<std::size_t>(n);
    }
    return r;
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
