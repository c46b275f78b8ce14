// Threads mode: every planned process as a thread of one worker process
// (worker.hpp), so that ThreadSanitizer can see the races between them.
//
// What has to differ from a worker process, and why:
//  - inherited fds: a process owns its copy of each inherited fd; threads
//    share one fd table, so each thread gets its own duplicates (the same
//    open file description, as a forked process has) and the originals are
//    closed once every thread's copy exists.  Closing a thread's endpoint
//    then closes only its copy, and a pipe reader sees end-of-file when the
//    last writer thread closed, as with processes;
//  - the end of a process: the orchestrator calls Backend::process_gone when
//    a process ends; a thread that ends calls it itself for its channels;
//  - what cannot be per thread is refused up front (validate_threads_mode):
//    signals are delivered to a process, so the signal backend and the
//    signaler role have no thread equivalent.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <latch>
#include <thread>

#include "ipctorture/logging.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/sanitizer.hpp"
#include "ipctorture/worker.hpp"
#include "worker_detail.hpp"

namespace ipct {

namespace {

using namespace worker_detail;

std::string status_path(const std::string& run_dir) {
    return run_dir + "/threads.status";
}

// The process a thread stands for, in its log lines (the %* flag).
thread_local std::string t_process = "main";

class ProcessFlag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg&, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        dest.append(t_process.data(), t_process.data() + t_process.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<ProcessFlag>();
    }
};

void set_thread_pattern() {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<ProcessFlag>('*').set_pattern("[%H:%M:%S.%e] [%n] [pid %P] [%*] %l: %v");
    spdlog::set_formatter(std::move(f));
}

// Side d of channel ch as one thread opens it: the channel's state with
// each fd the process inherited for that side (Backend::inherited_fds, held
// in a member whose name ends in "fd") replaced by a duplicate the thread
// owns.
nlohmann::json thread_state(const PlannedChannel& ch, Direction d) {
    const std::vector<int> fds = find_backend(ch.backend)->inherited_fds(ch.state, d);
    nlohmann::json st = ch.state;
    for (int fd : fds) {
        bool found = false;
        for (auto& [key, v] : st.items()) {
            if (!v.is_number_integer() || v.get<int>() != fd || !key.ends_with("fd")) continue;
            const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
            if (copy < 0) IPCT_FAIL_ERRNO("dup of inherited fd " + std::to_string(fd));
            v = copy;
            found = true;
        }
        if (!found)
            IPCT_FAIL("channel " + ch.name + ": inherited fd " + std::to_string(fd) +
                      " is not in a member of its state named *fd; threads mode cannot copy it");
    }
    return st;
}

enum class Go : int { kWait, kRun, kAbort };

struct Slot {
    std::uint32_t index = 0;
    nlohmann::json in_state, out_state;
    int rc = -1;  // -1: did not run its role
};

class ThreadsWorker {
  public:
    ThreadsWorker(const WorkerArgs& a, Plan plan)
        : a_(a),
          plan_(std::move(plan)),
          opened_(static_cast<std::ptrdiff_t>(plan_.processes.size())) {}
    int run();

  private:
    void prepare();
    void body(Slot& s);
    void open_and_run(Slot& s, bool& arrived);
    void wait_go() {
        for (int v = go_.load(); v == int(Go::kWait); v = go_.load()) go_.wait(v);
    }
    void release(Go g) {
        go_.store(int(g));
        go_.notify_all();
    }
    void gone(const Slot& s) const;
    void write_status(const Slot& s) const;

    WorkerArgs a_;
    Plan plan_;
    std::vector<Slot> slots_;
    std::latch opened_;
    std::atomic<int> go_{int(Go::kWait)};
    std::atomic<bool> failed_{false};
    int status_fd_ = -1;
};

void ThreadsWorker::prepare() {
    std::vector<int> originals;
    for (const PlannedProcess& p : plan_.processes) {
        Slot s;
        s.index = p.index;
        if (p.in_channel != kNoChannel)
            s.in_state = thread_state(plan_.channels.at(p.in_channel), Direction::kRead);
        if (p.out_channel != kNoChannel)
            s.out_state = thread_state(plan_.channels.at(p.out_channel), Direction::kWrite);
        slots_.push_back(std::move(s));
    }
    for (const PlannedChannel& ch : plan_.channels)
        for (Direction d : {Direction::kRead, Direction::kWrite})
            for (int fd : find_backend(ch.backend)->inherited_fds(ch.state, d))
                originals.push_back(fd);
    for (int fd : originals) ::close(fd);  // a second close of a shared one fails harmlessly
    status_fd_ = ::open(status_path(a_.run_dir).c_str(), O_WRONLY | O_CLOEXEC);
    if (status_fd_ < 0) IPCT_FAIL_ERRNO("cannot open " + status_path(a_.run_dir));
}

void ThreadsWorker::open_and_run(Slot& s, bool& arrived) {
    const PlannedProcess& self = plan_.processes.at(s.index);
    EventLogWriter log(event_log_path(a_.run_dir, s.index), s.index, expected_records(plan_, self));
    std::unique_ptr<Endpoint> in, out;
    if (self.in_channel != kNoChannel)
        in = open_endpoint(plan_, s.index, self.in_channel, Direction::kRead, s.in_state, log);
    if (self.out_channel != kNoChannel)
        out = open_endpoint(plan_, s.index, self.out_channel, Direction::kWrite, s.out_state, log);
    place_and_perturb(self);  // per thread: affinity and the perturber are the thread's own
    arrived = true;
    opened_.count_down();
    wait_go();
    if (go_.load() != int(Go::kRun)) return;
    s.rc = run_started(plan_, self, log, in.get(), out.get(), false);
}

void ThreadsWorker::body(Slot& s) {
    const PlannedProcess& self = plan_.processes.at(s.index);
    t_process = self.name;
    // Before anything else this thread does: sanitizer reports name it.
    // PR_SET_NAME, not pthread_setname_np: ASan's runtime (clang 14) learns
    // names only from prctl, TSan's from both.
    ::prctl(PR_SET_NAME, sanitizer_thread_name(s.index).c_str());
    bool arrived = false;
    try {
        open_and_run(s, arrived);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        s.rc = 3;
        if (!arrived) {
            failed_.store(true);
            opened_.count_down();
        }
    }
    gone(s);
    write_status(s);
}

// What the orchestrator does when a process ends, done when its thread ends.
void ThreadsWorker::gone(const Slot& s) const {
    const PlannedProcess& p = plan_.processes.at(s.index);
    auto one = [&](std::uint32_t c, Direction d) {
        if (c == kNoChannel) return;
        const PlannedChannel& ch = plan_.channels.at(c);
        try {
            find_backend(ch.backend)
                ->process_gone(channel_setup(plan_, c, p.index, d), ch.state, d);
        } catch (const std::exception& e) {
            spdlog::error("channel {}: {}", ch.name, e.what());
        }
    };
    one(p.in_channel, Direction::kRead);
    one(p.out_channel, Direction::kWrite);
}

void ThreadsWorker::write_status(const Slot& s) const {
    if (s.rc < 0) return;
    const std::int32_t v = s.rc;
    const off_t at = static_cast<off_t>(s.index) * static_cast<off_t>(sizeof v);
    if (::pwrite(status_fd_, &v, sizeof v, at) != static_cast<ssize_t>(sizeof v))
        spdlog::error("cannot write {}: {}", status_path(a_.run_dir), errno_name(errno));
}

int ThreadsWorker::run() {
    prepare();
    std::vector<std::thread> threads;
    for (Slot& s : slots_) threads.emplace_back([this, &s] { body(s); });
    opened_.wait();
    bool started = false;
    if (failed_.load()) {
        // As when a worker process fails to open: no ready byte.  The
        // orchestrator sees the barrier fail and kills this process, so the
        // threads still waiting end as killed by the harness, the failed
        // ones with the status they wrote.  Wait for that (or the go pipe's
        // end, if the orchestrator is gone).
        ::close(a_.ready_fd);
        char b;
        read_full(a_.go_fd, &b, 1);
    } else {
        try {
            barrier(a_.ready_fd, a_.go_fd);
            started = true;
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
        }
    }
    release(started ? Go::kRun : Go::kAbort);
    for (std::thread& t : threads) t.join();
    ::close(status_fd_);
    if (!started) return 3;
    for (const Slot& s : slots_)
        if (s.rc != 0) return s.rc < 0 ? 3 : s.rc;
    return 0;
}

}  // namespace

void create_thread_status(const std::string& run_dir, std::size_t processes) {
    const std::string path = status_path(run_dir);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) IPCT_FAIL_ERRNO("cannot create " + path);
    const std::vector<std::int32_t> v(processes, -1);
    const IoResult r = write_full(fd, v.data(), v.size() * sizeof(std::int32_t));
    ::close(fd);
    if (!r.ok()) IPCT_FAIL("cannot write " + path + ": " + errno_name(r.err));
}

std::vector<int> read_thread_status(const std::string& run_dir, std::size_t processes) {
    std::vector<std::int32_t> v(processes, -1);
    const int fd = ::open(status_path(run_dir).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        read_full(fd, v.data(), v.size() * sizeof(std::int32_t));
        ::close(fd);
    }
    return std::vector<int>(v.begin(), v.end());
}

void validate_threads_mode(const Scenario& s) {
    if (!s.faults.empty()) {
        const SourceLoc& l = s.faults.front().loc;
        throw ScenarioError(l.file, l.line, l.column,
                            "'faults' cannot run with --as-threads: a fault stops or kills a "
                            "process, and every thread would go with it; run it without "
                            "--as-threads");
    }
    for (const ChannelSpec& ch : s.channels)
        if (ch.backend == "signal")
            throw ScenarioError(ch.loc.file, ch.loc.line, ch.loc.column,
                                "channel '" + ch.name +
                                    "' uses backend signal, which --as-threads cannot run: a "
                                    "signal is delivered to a process, not to the thread that "
                                    "stands for one; run it without --as-threads");
    for (const ProcessSpec& p : s.processes)
        if (p.role == Role::kSignaler)
            throw ScenarioError(p.loc.file, p.loc.line, p.loc.column,
                                "a signaler cannot run with --as-threads: its signals go to "
                                "processes, and its targets would be threads of one; run it "
                                "without --as-threads");
    for (const ProcessSpec& p : s.processes)
        if (p.role == Role::kExec)
            throw ScenarioError(p.loc.file, p.loc.line, p.loc.column,
                                "an exec process cannot run with --as-threads: its program is "
                                "a process of its own; run it without --as-threads");
    for (const ProcessSpec& p : s.processes)
        if (p.sigsafe)
            throw ScenarioError(p.loc.file, p.loc.line, p.loc.column,
                                "'sigsafe: true' cannot run with --as-threads: the interposer "
                                "is loaded into a process (LD_PRELOAD), and the threads share "
                                "one; run it without --as-threads");
    for (const ProcessSpec& p : s.processes) {
        const auto& rules = p.syscall_faults.value_or(s.syscall_faults);
        if (p.role == Role::kSignaler || rules.empty()) continue;
        const SourceLoc& l = rules.front().loc;
        throw ScenarioError(l.file, l.line, l.column,
                            "'syscall_faults' cannot run with --as-threads: the interposer is "
                            "loaded into a process (LD_PRELOAD), and the threads share one; run "
                            "it without --as-threads");
    }
}

int worker_threads_main(const WorkerArgs& a) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (a.parent != 0 && ::getppid() != a.parent) return 3;  // orphaned before the prctl
    ::signal(SIGPIPE, SIG_IGN);
    init_logging("worker");
    set_thread_pattern();
    try {
        ThreadsWorker w(a, read_plan(a.run_dir));
        return w.run();
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 3;
    }
}

}  // namespace ipct
