// Error vocabulary shared by the whole harness and every backend.
//
// Three kinds, as in the contributor guide:
//  - an expected OS outcome (EAGAIN, EPIPE, a timeout) is a value that is
//    recorded in the event log, never thrown;
//  - an environment limit (EMFILE, queue limits, a missing kernel feature)
//    is an EnvironmentError: the user can act on it, exit status 3;
//  - a broken assumption of the harness itself is a HarnessError carrying
//    file, line and errno, exit status 3.
// Scenario problems are ScenarioError (file:line:column), exit status 2.
// A broken IPC invariant is never an exception: it is a finding.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ipct {

enum ExitStatus : int {
    kExitPass = 0,
    kExitFindings = 1,
    kExitUsage = 2,        // bad command line or bad scenario
    kExitEnvironment = 3,  // environment limit or harness error
};

class ScenarioError : public std::runtime_error {
  public:
    ScenarioError(std::string file, int line, int column, const std::string& what)
        : std::runtime_error(format(file, line, column, what)),
          file_(std::move(file)),
          line_(line),
          column_(column) {}
    const std::string& file() const { return file_; }
    int line() const { return line_; }
    int column() const { return column_; }

  private:
    static std::string format(const std::string& f, int l, int c, const std::string& w) {
        return f + ":" + std::to_string(l) + ":" + std::to_string(c) + ": " + w;
    }
    std::string file_;
    int line_;
    int column_;
};

class EnvironmentError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class HarnessError : public std::runtime_error {
  public:
    HarnessError(const char* file, int line, const std::string& what, int err = 0);
    int err() const { return err_; }

  private:
    int err_;
};

#define IPCT_FAIL(what) throw ::ipct::HarnessError(__FILE__, __LINE__, (what), 0)
#define IPCT_FAIL_ERRNO(what) throw ::ipct::HarnessError(__FILE__, __LINE__, (what), errno)
#define IPCT_CHECK(cond, what)        \
    do {                              \
        if (!(cond)) IPCT_FAIL(what); \
    } while (0)

// Counts every EINTR retried by the helpers below, per process.  Under a
// signal storm this number is itself worth reporting.
std::uint64_t eintr_retries();
// Counts one retried EINTR.  Out of line on purpose: an `extern
// thread_local` named in this header made GCC call the counter's TLS init
// function through a weak reference that resolves to address 0, so the first
// EINTR retried in a backend crashed the process (found by the signaler).
void count_eintr_retry();

// Calls fn() until it does not fail with EINTR.  No bound: a bounded retry
// turns a signal storm into false failures.  Returns fn's last result; errno
// is left as fn set it.
template <typename Fn>
auto retry_eintr(Fn&& fn) -> decltype(fn()) {
    for (;;) {
        auto r = fn();
        if (r != -1 || errno != EINTR) return r;
        count_eintr_retry();
    }
}

// Outcome of a full transfer.  `done` bytes moved; err is 0 on success, the
// errno that stopped it otherwise (EPIPE, EAGAIN, ...), or -1 for end of file.
struct IoResult {
    std::size_t done = 0;
    int err = 0;
    std::size_t calls = 0;  // how many syscalls it took (short transfers show up here)
    bool ok() const { return err == 0; }
    bool eof() const { return err == -1; }
};

// Writes all of buf, resuming short writes and retrying EINTR.  ENOBUFS (a
// socket the kernel had no buffer for at that moment, socket(7)) is
// transient: the write waits a little, from 10 us doubling up to 1 ms, and
// goes on.
IoResult write_full(int fd, const void* buf, std::size_t len);
// send(fd, buf, len, flags) of one datagram, retrying EINTR and, after the
// same waits, ENOBUFS.  Counts its calls into *calls.
ssize_t send_whole_datagram(int fd, const void* buf, std::size_t len, int flags,
                            std::size_t* calls);
// Reads exactly len bytes unless end of file or an error comes first.
IoResult read_full(int fd, void* buf, std::size_t len);

std::string errno_name(int err);  // "EAGAIN", "EPIPE", ... or "errno 123"

}  // namespace ipct
