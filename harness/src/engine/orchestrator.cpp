#include "ipctorture/orchestrator.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "fault_injector.hpp"
#include "ipctorture/backend.hpp"
#include "ipctorture/boost_process.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/sigsafe.hpp"
#include "ipctorture/syscall_faults.hpp"
#include "ipctorture/socket_proxy.hpp"
#include "ipctorture/worker.hpp"
#include "run_dir.hpp"

namespace ipct {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

namespace {

// Runs in the child between fork and exec: the fds it must keep (at the same
// numbers, close-on-exec cleared), stdout/stderr to its log file, stdin from
// /dev/null, and the run's process group.
struct WorkerInit {
    std::vector<int> keep;
    int out_fd = -1;
    int devnull = -1;
    pid_t pgid = 0;
    std::vector<std::string> env;  // empty: this process's environment

    bp::error_code on_setup(bp::posix::default_launcher& l, const bp::filesystem::path&,
                            const char* const*) {
        for (int fd : keep) l.fd_whitelist.push_back(fd);
        if (!env.empty()) {
            for (const std::string& e : env) envp_.push_back(e.c_str());
            envp_.push_back(nullptr);
            l.env = envp_.data();
        }
        return {};
    }
    bp::error_code on_exec_setup(bp::posix::default_launcher&, const bp::filesystem::path&,
                                 const char* const*) {
        for (int fd : keep) {
            int fl = ::fcntl(fd, F_GETFD);
            if (fl < 0 || ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
                return bp::error_code(errno, bp::system_category());
        }
        if (::dup2(devnull, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0)
            return bp::error_code(errno, bp::system_category());
        if (::setpgid(0, pgid) < 0) return bp::error_code(errno, bp::system_category());
        return {};
    }

    // A failed exec (or a failed on_exec_setup): the launcher has already
    // sent errno to the parent; end the child here.  Boost 1.81 would then
    // call exit(), which runs this process's atexit handlers and static
    // destructors in the forked copy (a fuzzer's crash report, a cleanup of
    // the parent's files; found by scenario_fuzzer).  Variadic: Boost looks
    // the hook up with five arguments and calls it with four.
    template <typename... Args>
    void on_exec_error(bp::posix::default_launcher&, Args&&...) {
        ::_exit(127);
    }

    std::vector<const char*> envp_;  // pointers into env, for execve
};

std::string self_exe() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) IPCT_FAIL("cannot resolve /proc/self/exe: " + ec.message());
    return p.string();
}

ChannelSetup setup_for(const Plan& plan, const PlannedChannel& ch) {
    return channel_setup(plan, ch.index);
}

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) IPCT_FAIL_ERRNO("pipe2 (barrier)");
        r = fds[0];
        w = fds[1];
    }
    ~Pipe() {
        close_r();
        close_w();
    }
    void close_r() {
        if (r >= 0) ::close(r);
        r = -1;
    }
    void close_w() {
        if (w >= 0) ::close(w);
        w = -1;
    }
};

// Everything one run owns while it is live.  Its destructor tears down what
// the normal path did not: workers are killed, channels cleaned.
class Run {
  public:
    Run(const Scenario& s, const RunOptions& o);
    ~Run();
    RunOutcome execute();

  private:
    void create_channels();
    void spawn_all();
    void spawn_proxies(int devnull);
    void spawn(int devnull, const std::vector<int>& fds, const std::string& log,
               std::vector<std::string> args, std::vector<std::string> env = {});
    std::unique_ptr<bp::process> launch(int devnull, const std::vector<int>& fds,
                                        const std::string& log, bool append,
                                        std::vector<std::string> args,
                                        std::vector<std::string> env);
    std::vector<std::string> worker_env(const PlannedProcess& p) const;
    void restart_later(std::uint32_t i, std::size_t f);
    void respawn(std::uint32_t i, std::size_t f, int status, std::uint64_t reaped,
                 const bp::error_code& ec);
    void watch(std::size_t k);
    void process_ended(std::size_t k, int status);
    std::vector<int> fds_for(const PlannedProcess& p) const;
    std::vector<int> thread_ends() const;
    void worker_ended(std::size_t k, int status);
    void start_loop();
    void progress_tick(asio::steady_timer& t, SendTally& tally);
    void kill_running(const char* why);
    void kill_leftovers();
    void process_gone(std::size_t i);
    void cleanup_channels();
    double secs(std::uint64_t a, std::uint64_t b) const { return b > a ? double(b - a) / 1e9 : 0; }

    RunOptions opt_;
    RunDir dir_;
    Plan plan_;
    std::string exe_;          // the worker binary
    std::string sigsafe_lib_;  // the interposer, when a process runs under it
    std::string faults_lib_;   // the syscall-fault interposer, when a process has rules
    std::vector<bool> created_;
    bool spawned_done_ = false;
    EventLogWriter olog_;
    asio::io_context ctx_;
    std::vector<std::unique_ptr<bp::process>> procs_;  // one per worker process
    std::vector<int> proc_status_;                     // by procs_ index; -1 = running
    std::vector<std::size_t> proc_of_;                 // plan process -> procs_ index
    std::vector<WorkerEnd> ends_;                      // by plan process
    std::vector<std::uint64_t> reaped_ns_;             // by plan process: when seen ended
    std::unique_ptr<FaultInjector> faults_;            // the plan's process faults
    // Restarts (faults.hpp), by plan process: the restart fault whose kill
    // was sent and whose end is awaited (-1: none), the incarnation running
    // now, and the timer of a new incarnation's delay.  The processes of
    // ended incarnations wait in graveyard_ until the run ends.
    std::vector<std::int64_t> restart_fault_;
    std::vector<std::uint32_t> incarnation_;
    std::vector<std::unique_ptr<asio::steady_timer>> respawn_timer_;
    std::vector<std::unique_ptr<bp::process>> graveyard_;
    // What to do when procs_[k] ends (set by start_loop, for the processes
    // it watches and for each new incarnation).
    std::function<void(std::size_t, int)> on_end_;
    std::function<void()> finish_;  // every process has ended (start_loop)
    bool stopping_ = false;  // the watchdog or an interrupt is killing the run
    // procs_ from first_proxy_ on are chaos proxies, of these channels.
    std::size_t first_proxy_ = 0;
    std::vector<std::uint32_t> proxy_channel_;
    std::size_t running_ = 0;
    // Every worker has ended: start_loop's timers are cancelled, and a timer
    // whose expiry was already queued when they were (cancel() cannot reach
    // it) must not act, nor re-arm itself, or run() would never return.
    bool finished_ = false;
    Pipe ready_, go_;
    pid_t pgid_ = 0;
    bool interrupted_ = false;
    int signal_ = 0;
    bool barrier_failed_ = false;
    std::uint64_t t_spawn_ = 0, t_go_ = 0, t_done_ = 0;
};

Run::Run(const Scenario& s, const RunOptions& o)
    : opt_(o), dir_(RunDir::create(o.run_root.empty() ? default_run_root() : o.run_root, s.name)) {
    plan_ = make_plan(s, o.seed.value_or(s.seed), dir_.id(), dir_.path());
    if (o.timeout_s) plan_.timeout_s = *o.timeout_s;
    if (o.perturb)
        for (PlannedProcess& p : plan_.processes) p.perturb = *o.perturb;
    created_.assign(plan_.channels.size(), false);
    exe_ = o.worker_exe.empty() ? self_exe() : o.worker_exe;
    for (PlannedProcess& p : plan_.processes) {
        p.sigsafe = p.sigsafe || o.sigsafe;
        if (p.sigsafe && sigsafe_lib_.empty()) sigsafe_lib_ = sigsafe_library(exe_);
        if (!p.syscall_faults.empty() && faults_lib_.empty())
            faults_lib_ = syscall_faults_library(exe_);
    }
}

Run::~Run() {
    for (auto& p : procs_)
        if (p && p->running()) ::kill(p->id(), SIGKILL);
    procs_.clear();  // reaps
    kill_leftovers();
    if (!spawned_done_)
        for (std::size_t c = 0; c < plan_.channels.size(); ++c)
            if (created_[c])
                find_backend(plan_.channels[c].backend)->after_spawn(plan_.channels[c].state);
    cleanup_channels();
}

void Run::create_channels() {
    for (auto& ch : plan_.channels) {
        Backend* b = find_backend(ch.backend);
        if (!b) IPCT_FAIL("unknown backend " + ch.backend);
        ch.state = b->create(setup_for(plan_, ch));
        created_[ch.index] = true;
    }
}

void Run::cleanup_channels() {
    for (std::size_t c = 0; c < plan_.channels.size(); ++c) {
        if (!created_[c]) continue;
        find_backend(plan_.channels[c].backend)
            ->cleanup(setup_for(plan_, plan_.channels[c]), plan_.channels[c].state);
        created_[c] = false;
    }
}

std::vector<int> Run::fds_for(const PlannedProcess& p) const {
    std::vector<int> fds;
    for (int fd : {ready_.w, go_.r})  // closed once every first incarnation is spawned
        if (fd >= 0) fds.push_back(fd);
    auto add = [&](std::uint32_t c, Direction d) {
        if (c == kNoChannel) return;
        const auto& ch = plan_.channels[c];
        auto v = find_backend(ch.backend)->inherited_fds(ch.state, d);
        fds.insert(fds.end(), v.begin(), v.end());
    };
    add(p.in_channel, Direction::kRead);
    add(p.out_channel, Direction::kWrite);
    std::sort(fds.begin(), fds.end());
    fds.erase(std::unique(fds.begin(), fds.end()), fds.end());
    return fds;
}

// One worker process: its output goes to `log` in the run directory.
void Run::spawn(int devnull, const std::vector<int>& fds, const std::string& log,
                std::vector<std::string> args, std::vector<std::string> env) {
    procs_.push_back(launch(devnull, fds, log, false, std::move(args), std::move(env)));
    proc_status_.push_back(-1);
}

// Starts the worker binary with the common arguments first; its output goes
// to `log` (appended to when `append`: a restarted process's incarnations
// share one output file, where the sanitizer reports are looked for).
std::unique_ptr<bp::process> Run::launch(int devnull, const std::vector<int>& fds,
                                         const std::string& log, bool append,
                                         std::vector<std::string> args,
                                         std::vector<std::string> env) {
    const std::string out = dir_.path() + "/" + log;
    const int out_fd = ::open(out.c_str(),
                              O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0600);
    if (out_fd < 0) IPCT_FAIL_ERRNO("cannot create " + out);
    WorkerInit init{fds, out_fd, devnull, pgid_};
    init.env = std::move(env);
    std::vector<std::string> common{"worker",
                                    "--run-dir",
                                    dir_.path(),
                                    "--parent",
                                    std::to_string(::getpid()),
                                    "--ready-fd",
                                    std::to_string(ready_.w),
                                    "--go-fd",
                                    std::to_string(go_.r)};
    args.insert(args.begin(), common.begin(), common.end());
    std::unique_ptr<bp::process> proc;
    try {
        proc = std::make_unique<bp::process>(ctx_, exe_, args, init);
    } catch (...) {
        ::close(out_fd);
        throw;
    }
    ::close(out_fd);
    if (pgid_ == 0) pgid_ = proc->id();
    dir_.add_pid(proc->id());
    return proc;
}

// The environment of plan process p's worker: the interposers it runs under.
std::vector<std::string> Run::worker_env(const PlannedProcess& p) const {
    std::vector<std::string> env =
        p.sigsafe ? sigsafe_environment(sigsafe_lib_, sigsafe_report_path(dir_.path(), p.index))
                  : std::vector<std::string>{};
    if (!p.syscall_faults.empty()) add_syscall_faults_environment(env, faults_lib_, plan_, p);
    return env;
}

void Run::spawn_all() {
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) IPCT_FAIL_ERRNO("open /dev/null");
    t_spawn_ = now_ns();
    if (opt_.as_threads) {
        create_thread_status(dir_.path(), plan_.processes.size());
        std::vector<int> fds;
        for (const auto& p : plan_.processes) {
            const std::vector<int> v = fds_for(p);
            fds.insert(fds.end(), v.begin(), v.end());
        }
        std::sort(fds.begin(), fds.end());
        fds.erase(std::unique(fds.begin(), fds.end()), fds.end());
        spawn(devnull, fds, kThreadsWorkerLog, {"--threads"});
    } else {
        for (const auto& p : plan_.processes)
            spawn(devnull, fds_for(p), "worker." + std::to_string(p.index) + ".log",
                  {"--process", std::to_string(p.index)}, worker_env(p));
    }
    for (const auto& p : plan_.processes) {
        proc_of_.push_back(opt_.as_threads ? 0 : p.index);
        ends_.push_back(WorkerEnd{procs_[proc_of_.back()]->id(), -1, false});
    }
    reaped_ns_.assign(ends_.size(), 0);
    restart_fault_.assign(ends_.size(), -1);
    incarnation_.assign(ends_.size(), 0);
    respawn_timer_.resize(ends_.size());
    spawn_proxies(devnull);
    ::close(devnull);
    running_ = procs_.size();
    ready_.close_w();
    go_.close_r();
    for (auto& ch : plan_.channels) find_backend(ch.backend)->after_spawn(ch.state);
    spawned_done_ = true;
}

// A chaos proxy per channel that has one (socket_proxy.hpp): a process of
// the run like a worker, after the workers in procs_, passing the same start
// barrier; the run ends when they all have.
void Run::spawn_proxies(int devnull) {
    first_proxy_ = procs_.size();
    for (const auto& ch : plan_.channels) {
        if (!ch.proxy) continue;
        std::vector<int> fds{ready_.w, go_.r, proxy_inherited_fd(ch.state)};
        std::sort(fds.begin(), fds.end());
        spawn(devnull, fds, "proxy." + std::to_string(ch.index) + ".log",
              {"--proxy", std::to_string(ch.index)});
        proxy_channel_.push_back(ch.index);
    }
}

// Threads mode: by plan process, the exit code its thread's worker body
// returned, or -1 while it runs (threads.status).  Process mode: all -1.
std::vector<int> Run::thread_ends() const {
    if (!opt_.as_threads) return std::vector<int>(plan_.processes.size(), -1);
    return read_thread_status(dir_.path(), plan_.processes.size());
}

void Run::kill_running(const char* why) {
    stopping_ = true;
    for (auto& t : respawn_timer_)  // a restart due now ends instead (respawn)
        if (t) t->cancel();
    const std::vector<int> threads = thread_ends();
    for (std::size_t k = 0; k < procs_.size(); ++k) {
        if (proc_status_[k] != -1) continue;
        for (std::size_t i = 0; i < ends_.size(); ++i)
            if (proc_of_[i] == k && ends_[i].status == -1 && threads[i] < 0)
                ends_[i].killed_by_harness = true;
        const std::string who =
            k >= first_proxy_
                ? "the proxy of channel " + plan_.channels[proxy_channel_[k - first_proxy_]].name
            : opt_.as_threads ? "the threads worker"
                              : plan_.processes[k].name;
        spdlog::warn("killing {} ({}): {}", who, procs_[k]->id(), why);
        ::kill(procs_[k]->id(), SIGKILL);
    }
}

// A user's program (role: exec) may have started processes of its own; they
// are in the run's process group and must not outlive the run (they may
// hold a channel open).  Our own workers never fork, and have all been
// reaped when this is called, so whatever is left in the group is theirs.
void Run::kill_leftovers() {
    if (pgid_ == 0) return;
    const bool exec = std::any_of(plan_.processes.begin(), plan_.processes.end(),
                                  [](const PlannedProcess& p) { return p.role == Role::kExec; });
    if (exec && ::kill(-pgid_, SIGKILL) == 0)
        spdlog::warn("killed what exec programs left running");
}

// Worker process k ended with wait status `status`.  In threads mode a
// thread that had ended keeps its own exit code; the others (still running,
// or never started) share the process's end.
void Run::worker_ended(std::size_t k, int status) {
    proc_status_[k] = status;
    if (k >= first_proxy_) {  // the readers must not wait for a proxy that has gone
        const std::uint32_t c = proxy_channel_[k - first_proxy_];
        if (status != 0)
            spdlog::warn("the proxy of channel {} ended with status {:#x}", plan_.channels[c].name,
                         status);
        if (created_[c]) socket_proxy_gone(channel_setup(plan_, c));
        return;
    }
    const std::vector<int> threads = thread_ends();
    for (std::size_t i = 0; i < ends_.size(); ++i) {
        if (proc_of_[i] != k) continue;
        if (threads[i] >= 0) {
            ends_[i].status = (threads[i] & 0xff) << 8;  // as if it had exited with that code
            ends_[i].killed_by_harness = false;
        } else {
            ends_[i].status = status;
            // A fault's signal that ended the worker is the harness's doing,
            // not a crash.
            if (faults_ && WIFSIGNALED(status) && faults_->sent(i, WTERMSIG(status)))
                ends_[i].killed_by_harness = true;
        }
        reaped_ns_[i] = now_ns();
        process_gone(i);
    }
}

// Tells the backends of the process's channels that it has gone, so that a
// writer killed before it could say so does not leave its readers waiting.
void Run::process_gone(std::size_t i) {
    const PlannedProcess& p = plan_.processes[i];
    auto gone = [&](std::uint32_t c, Direction d) {
        if (c == kNoChannel || !created_[c]) return;
        const PlannedChannel& ch = plan_.channels[c];
        try {
            find_backend(ch.backend)
                ->process_gone(channel_setup(plan_, c, p.index, d), ch.state, d);
        } catch (const std::exception& e) {
            spdlog::error("{}: channel {}: {}", p.name, ch.name, e.what());
        }
    };
    gone(p.in_channel, Direction::kRead);
    gone(p.out_channel, Direction::kWrite);
}

void Run::start_loop() {
    auto ready_sd = std::make_shared<asio::posix::stream_descriptor>(ctx_, ::dup(ready_.r));
    auto rbuf = std::make_shared<std::vector<char>>(procs_.size() ? procs_.size() : 1);
    asio::steady_timer watchdog(
        ctx_, std::chrono::milliseconds(static_cast<long long>(plan_.timeout_s * 1000)));
    asio::signal_set sigs(ctx_, SIGINT, SIGTERM);
    asio::steady_timer ticker(ctx_);
    SendTally tally(dir_.path(), plan_.processes.size());
    std::function<void(const bp::error_code&)> on_watchdog;
    faults_ = std::make_unique<FaultInjector>(
        ctx_, plan_, dir_.path(), olog_,
        FaultInjector::Hooks{[this](std::uint32_t i) -> pid_t {
                                 const std::size_t k = proc_of_[i];
                                 return proc_status_[k] == -1 ? procs_[k]->id() : 0;
                             },
                             [&](double pause_s) {  // a stopped worker is no hang
                                 watchdog.expires_at(
                                     watchdog.expiry() +
                                     std::chrono::nanoseconds(std::int64_t(pause_s * 1e9)));
                                 watchdog.async_wait(on_watchdog);
                             },
                             [this](std::uint32_t i, std::size_t f) { restart_later(i, f); }});
    auto finish = [&] {
        finished_ = true;
        faults_->finish();
        watchdog.cancel();
        ticker.cancel();
        sigs.cancel();
        ready_sd->cancel();
    };
    asio::async_read(*ready_sd, asio::buffer(*rbuf),
                     [this, rbuf](const bp::error_code& ec, std::size_t n) {
                         if (ec == asio::error::operation_aborted) return;
                         if (!ec && n == rbuf->size()) {
                             t_go_ = now_ns();
                             go_.close_w();  // every worker starts now
                             faults_->start();
                             return;
                         }
                         barrier_failed_ = true;
                         kill_running("a worker ended before the start barrier");
                     });
    finish_ = finish;
    on_end_ = [this](std::size_t k, int status) {
        // The kill of a restart: the process lives on in a new incarnation.
        // Only SIGKILL counts: a process that exited, or crashed, before the
        // kill reached it keeps that end.
        if (k < first_proxy_ && restart_fault_[k] >= 0 && !stopping_ && !finished_ &&
            WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            const std::size_t f = static_cast<std::size_t>(restart_fault_[k]);
            restart_fault_[k] = -1;
            proc_status_[k] = status;  // no fault or watchdog may signal the dead pid
            const std::uint64_t reaped = now_ns();
            auto& t = respawn_timer_[k];
            t = std::make_unique<asio::steady_timer>(
                ctx_, std::chrono::nanoseconds(std::int64_t(plan_.faults[f].delay_s * 1e9)));
            t->async_wait([this, k, f, status, reaped](const bp::error_code& ec) {
                respawn(static_cast<std::uint32_t>(k), f, status, reaped, ec);
            });
            return;
        }
        if (k < restart_fault_.size()) restart_fault_[k] = -1;
        process_ended(k, status);
    };
    for (std::size_t i = 0; i < procs_.size(); ++i) watch(i);
    on_watchdog = [this](const bp::error_code& ec) {
        if (ec || finished_) return;
        const std::vector<int> threads = thread_ends();
        for (std::size_t i = 0; i < ends_.size(); ++i) {
            if (ends_[i].status != -1 || threads[i] >= 0) continue;
            Record* r = olog_.mark(Op::kHang, 0);
            r->seq = i;
        }
        kill_running("watchdog: scenario timeout");
    };
    watchdog.async_wait(on_watchdog);
    sigs.async_wait([this](const bp::error_code& ec, int sig) {
        if (ec) return;
        interrupted_ = true;
        signal_ = sig;
        olog_.mark(Op::kInterrupted, 0, static_cast<std::uint32_t>(sig));
        kill_running("interrupted");
    });
    if (opt_.on_progress) progress_tick(ticker, tally);
    if (procs_.empty()) finish();
    ctx_.run();
}

// Hands procs_[k]'s end to on_end_.
void Run::watch(std::size_t k) {
    procs_[k]->async_wait([this, k](const bp::error_code& ec, int) {
        on_end_(k, ec ? 0x7f00 : procs_[k]->native_exit_code());
    });
}

// A restart's SIGKILL reached plan process i: its end (on_end_) starts the
// next incarnation.
void Run::restart_later(std::uint32_t i, std::size_t f) {
    if (i < restart_fault_.size()) restart_fault_[i] = static_cast<std::int64_t>(f);
}

// The delay of restart fault f on plan process i is over (or was cut short
// by the run stopping: ec): spawn its next incarnation, logged as a kRespawn
// fault record (t_start = when the killed one was seen to end, extra = the
// new incarnation's number, size = the killed one's wait status).  If the
// run is stopping, or the spawn fails, the killed incarnation's end is the
// process's end.
void Run::respawn(std::uint32_t i, std::size_t f, int status, std::uint64_t reaped,
                  const bp::error_code& ec) {
    const std::size_t k = proc_of_[i];
    if (ec || stopping_ || finished_) {
        process_ended(k, status);
        return;
    }
    const std::uint32_t n = incarnation_[i] + 1;
    Record* r = olog_.begin(Op::kFault, 0);
    r->t_start = reaped;
    r->seq = i;
    r->origin = static_cast<std::uint32_t>(f);
    r->aux = static_cast<std::uint32_t>(FaultStep::kRespawn);
    r->extra = n;
    r->size = static_cast<std::uint32_t>(status);
    const PlannedProcess& p = plan_.processes[i];
    try {
        const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) IPCT_FAIL_ERRNO("open /dev/null");
        std::unique_ptr<bp::process> proc;
        try {
            proc = launch(devnull, fds_for(p), "worker." + std::to_string(i) + ".log", true,
                          {"--process", std::to_string(i), "--incarnation", std::to_string(n),
                           "--t0-ns", std::to_string(t_go_)},
                          worker_env(p));
        } catch (...) {
            ::close(devnull);
            throw;
        }
        ::close(devnull);
        graveyard_.push_back(std::move(procs_[k]));
        procs_[k] = std::move(proc);
        proc_status_[k] = -1;
        incarnation_[i] = n;
        ends_[i].pid = procs_[k]->id();
    } catch (const std::exception& e) {
        EventLogWriter::end(r, Status::kError, EIO);
        spdlog::error("restart of {}: {}", p.name, e.what());
        process_ended(k, status);
        return;
    }
    EventLogWriter::end(r, Status::kOk);
    spdlog::info("fault {}: {} restarted (incarnation {}, pid {})", f, p.name, n,
                 procs_[k]->id());
    watch(k);
}

// procs_[k] has ended for good.
void Run::process_ended(std::size_t k, int status) {
    worker_ended(k, status);
    if (--running_ == 0) {
        t_done_ = now_ns();
        finish_();
    }
}

// Calls opt_.on_progress every opt_.progress_interval_s until t is cancelled.
void Run::progress_tick(asio::steady_timer& t, SendTally& tally) {
    t.expires_after(
        std::chrono::milliseconds(static_cast<long long>(opt_.progress_interval_s * 1000)));
    t.async_wait([this, &t, &tally](const bp::error_code& ec) {
        if (ec || finished_) return;
        const std::uint64_t now = now_ns();
        RunProgress p;
        p.elapsed_s = secs(t_spawn_, now);
        p.started = t_go_ != 0;
        p.send_s = t_go_ ? secs(t_go_, now) : 0;
        p.sent = tally.sent();
        p.plan = plan_size(plan_);
        opt_.on_progress(p);
        progress_tick(t, tally);
    });
}

RunOutcome Run::execute() {
    // Written twice: before the channels exist, so that `ipctorture clean`
    // can find what a harness killed mid-creation left (backends name their
    // objects after the run and the channel), and with their state.
    dir_.write_plan(plan_to_json(plan_));
    create_channels();
    dir_.write_plan(plan_to_json(plan_));
    olog_ = EventLogWriter(orchestrator_log_path(dir_.path()), 0xffffffffu, 1024);
    spawn_all();
    start_loop();
    for (std::size_t i = 0; i < ends_.size(); ++i) {
        Record* r = olog_.mark(Op::kWorkerStatus, 0, static_cast<std::uint32_t>(ends_[i].status));
        r->seq = i;
        r->extra = ends_[i].killed_by_harness ? 1 : 0;
        if (reaped_ns_[i] != 0) r->t_start = r->t_end = reaped_ns_[i];  // death's upper bound
    }
    procs_.clear();
    kill_leftovers();
    cleanup_channels();
    RunOutcome out = check_run_dir(dir_.path(), opt_.max_findings);
    out.workers = ends_;
    out.interrupted = interrupted_;
    out.interrupt_signal = signal_;
    out.barrier_failed = barrier_failed_;
    out.wall_s = secs(t_spawn_, t_done_);
    out.active_s = secs(t_go_ ? t_go_ : t_spawn_, t_done_);
    out.t_start_ns = t_go_;
    out.t_end_ns = t_done_;
    out.kept = opt_.keep || (opt_.keep_failed && !out.result.pass()) || interrupted_;
    if (out.kept)
        dir_.keep();
    else
        dir_.remove();
    out.run_dir = dir_.path();
    out.as_threads = opt_.as_threads;
    return out;
}

}  // namespace

RunOutcome run_scenario(const Scenario& s, const RunOptions& o) {
    if (o.as_threads) validate_threads_mode(s);
    Run run(s, o);
    return run.execute();
}

}  // namespace ipct
