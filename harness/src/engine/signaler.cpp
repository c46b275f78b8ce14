// The signaler role and its targets' side.
//
// Targets: before the start barrier every targeted worker installs, for each
// signal a signaler sends it, a handler that only counts, without
// SA_RESTART: a blocking call the signal interrupts returns EINTR instead of
// being restarted by the kernel, which is what the storm is for.
//
// The signaler: after the start barrier it reads the worker pids the
// orchestrator wrote to <run dir>/workers, one line per process in plan
// order, all written before the barrier opens.  Each target's pid becomes a
// pidfd, kept only if the process behind it still runs this run's worker of
// that index (its command line says so), so a target that ended early and
// whose pid was recycled never gets a signal; the pidfd also reports the
// target's end (readable).  It signals every live target once per round,
// `rate` rounds per second (0 = back to back), until every target has ended
// or its duration has passed.
#include <poll.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <vector>

#include "ipctorture/roles.hpp"

namespace ipct {

namespace {

volatile sig_atomic_t g_caught = 0;

extern "C" void count_signal(int) {
    g_caught = g_caught + 1;
}

std::vector<int> read_worker_pids(const std::string& run_dir) {
    std::ifstream in(run_dir + "/workers");
    std::vector<int> pids;
    for (int pid; in >> pid;) pids.push_back(pid);
    return pids;
}

std::vector<std::string> proc_strings(int pid, const char* file) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (std::size_t at = 0; at < s.size();) {
        const std::size_t end = std::min(s.find('\0', at), s.size());
        args.push_back(s.substr(at, end - at));
        at = end + 1;
    }
    return args;
}

// Whether pid runs `ipctorture worker --run-dir <dir> --process <index>`,
// or, for an exec process, the program that worker became: its environment
// names the run directory and the process (exec.hpp).
bool runs_worker(int pid, const std::string& run_dir, std::uint32_t index) {
    const std::vector<std::string> env = proc_strings(pid, "environ");
    auto has = [&](const std::string& var) {
        return std::find(env.begin(), env.end(), var) != env.end();
    };
    if (has("IPCTORTURE_RUN_DIR=" + run_dir) && has("IPCTORTURE_PROCESS=" + std::to_string(index)))
        return true;
    const std::vector<std::string> args = proc_strings(pid, "cmdline");
    auto value = [&](const char* flag) -> std::string {
        auto it = std::find(args.begin(), args.end(), flag);
        return it != args.end() && it + 1 != args.end() ? *(it + 1) : "";
    };
    return value("--run-dir") == run_dir && value("--process") == std::to_string(index);
}

// The target's pidfd, or -1 when it has already gone.  A live process that
// does not look like the target is looked at again for up to a second: an
// exec process's worker in the middle of execve shows neither its old
// command line nor the program's environment for a moment (a signaler
// that gave up on it then left the program without its storm).
int open_target(const Plan& plan, std::uint32_t index, const std::vector<int>& pids) {
    if (index >= pids.size())
        IPCT_FAIL("the workers file lists " + std::to_string(pids.size()) +
                  " pids; expected one per process (" + std::to_string(plan.processes.size()) +
                  ")");
    const int fd = ::pidfd_open(pids[index], 0);
    if (fd < 0 && errno != ESRCH) IPCT_FAIL_ERRNO("pidfd_open");
    if (fd < 0) return -1;
    for (int tries = 0; !runs_worker(pids[index], plan.run_dir, index); ++tries) {
        pollfd p{fd, POLLIN, 0};
        const bool ended = ::poll(&p, 1, 0) > 0;
        if (ended || tries >= 1000) {
            ::close(fd);
            return -1;
        }
        sleep_until_ns(now_ns() + 1'000'000);
    }
    return fd;
}

struct Storm {
    std::vector<pollfd> live;  // one per target still running; fd = its pidfd
    std::uint64_t sent = 0;
    std::uint64_t failed = 0;
    int last_err = 0;

    // One signal to each live target; a failed one stops signalling it.
    void round(int sig) {
        for (pollfd& p : live) {
            if (::pidfd_send_signal(p.fd, sig, nullptr, 0) == 0) {
                ++sent;
                continue;
            }
            if (errno != ESRCH) {
                ++failed;
                last_err = errno;
            }
            p.revents = POLLIN;  // dropped below, as if it had ended
        }
        drop_ended();
    }
    // Waits until `deadline` (CLOCK_MONOTONIC ns; 0 = just look) or until a
    // target ends, and forgets the targets that have ended.
    void wait(std::uint64_t deadline) {
        do {
            const std::uint64_t now = now_ns();
            const std::uint64_t left = deadline > now ? deadline - now : 0;
            const timespec ts{static_cast<time_t>(left / 1000000000ull),
                              static_cast<long>(left % 1000000000ull)};
            if (::ppoll(live.data(), live.size(), &ts, nullptr) < 0 && errno != EINTR)
                IPCT_FAIL_ERRNO("ppoll on target pidfds");
            drop_ended();
        } while (!live.empty() && now_ns() < deadline);
    }
    void drop_ended() {
        auto gone = [](const pollfd& p) {
            if (p.revents == 0) return false;
            ::close(p.fd);
            return true;
        };
        live.erase(std::remove_if(live.begin(), live.end(), gone), live.end());
        for (pollfd& p : live) p.revents = 0;
    }
};

}  // namespace

Record note_record(Note n, std::uint64_t value) {
    Record r{};
    r.t_start = r.t_end = now_ns();
    r.op = Op::kNote;
    r.status = Status::kOk;
    r.aux = static_cast<std::uint32_t>(n);
    r.seq = value;
    return r;
}

bool install_target_handlers(const Plan& plan, std::uint32_t self) {
    const std::vector<int> sigs = signals_for(plan, self);
    for (int sig : sigs) {
        struct sigaction sa {};
        sa.sa_handler = count_signal;
        sa.sa_flags = 0;  // no SA_RESTART: interrupted calls return EINTR
        // Nothing else is delivered inside it: a backend that takes signals
        // in a handler (signal, receive: handler) relies on that.
        sigfillset(&sa.sa_mask);
        if (::sigaction(sig, &sa, nullptr) != 0) IPCT_FAIL_ERRNO("sigaction");
    }
    return !sigs.empty();
}

std::uint64_t target_signals_caught() {
    return static_cast<std::uint64_t>(g_caught);
}

int run_signaler(RoleContext& c) {
    const PlannedProcess& self = *c.self;
    const Workload& w = self.workload;
    if (w.start_delay_s > 0) sleep_until_ns(now_ns() + std::uint64_t(w.start_delay_s * 1e9));
    const std::vector<int> pids = read_worker_pids(c.plan->run_dir);
    Storm storm;
    for (std::uint32_t t : self.targets)
        if (const int fd = open_target(*c.plan, t, pids); fd >= 0)
            storm.live.push_back(pollfd{fd, POLLIN, 0});
    const std::uint32_t reached = static_cast<std::uint32_t>(storm.live.size());
    const std::uint64_t t0 = now_ns();
    const std::uint64_t stop_at = w.duration_s > 0 ? t0 + std::uint64_t(w.duration_s * 1e9) : 0;
    for (std::uint64_t round = 1; !storm.live.empty(); ++round) {
        if (stop_at && now_ns() >= stop_at) break;
        storm.round(self.signal);
        std::uint64_t next = w.rate > 0 ? t0 + std::uint64_t(double(round) * 1e9 / w.rate) : 0;
        if (stop_at) next = std::min(next, stop_at);
        storm.wait(next);
    }
    for (const pollfd& p : storm.live) ::close(p.fd);
    Record r = note_record(Note::kSignalsSent, storm.sent);
    r.extra = static_cast<std::uint32_t>(self.signal);
    r.origin = reached;
    r.size = static_cast<std::uint32_t>(std::min<std::uint64_t>(storm.failed, 0xffffffffu));
    r.err = storm.last_err;
    c.log->append(r);
    return 0;
}

}  // namespace ipct
