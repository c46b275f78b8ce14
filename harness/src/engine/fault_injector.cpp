#include "fault_injector.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "ipctorture/errors.hpp"

namespace ipct {

namespace asio = boost::asio;

// Counts one process's messages by reading its event log as it grows: a
// producer's sends that completed ok, a reader's intact receives.  A
// pending record stops the count until it completes.
struct FaultInjector::Counter {
    std::string path;
    Op op = Op::kSend;
    int fd = -1;
    std::uint64_t next = 0;
    std::uint64_t count = 0;
    std::vector<Record> buf;

    ~Counter() {
        if (fd >= 0) ::close(fd);
    }
    std::uint64_t read() {
        if (fd < 0) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return count;  // not created yet
        std::uint64_t head[sizeof(LogFileHeader) / 8];
        if (retry_eintr([&] { return ::pread(fd, head, sizeof head, 0); }) !=
                ssize_t(sizeof head) ||
            head[0] != kLogMagic)
            return count;  // still being created
        const std::uint64_t published = head[offsetof(LogFileHeader, count) / 8];
        constexpr std::size_t kChunk = 256;
        buf.resize(kChunk);
        while (next < published) {
            const std::size_t n = std::min<std::uint64_t>(published - next, kChunk);
            const off_t at = off_t(sizeof(LogFileHeader) + next * sizeof(Record));
            const ssize_t got =
                retry_eintr([&] { return ::pread(fd, buf.data(), n * sizeof(Record), at); });
            if (got < ssize_t(sizeof(Record))) break;
            for (std::size_t k = 0; k < std::size_t(got) / sizeof(Record); ++k, ++next) {
                const Record& r = buf[k];
                if (r.status == Status::kPending) return count;
                if (r.op == op && r.status == Status::kOk) ++count;
            }
        }
        return count;
    }
};

FaultInjector::FaultInjector(asio::io_context& ctx, const Plan& plan, std::string run_dir,
                             EventLogWriter& olog, Hooks hooks)
    : ctx_(ctx),
      plan_(plan),
      dir_(std::move(run_dir)),
      olog_(olog),
      hooks_(std::move(hooks)),
      fired_(plan.faults.size(), false),
      poll_timer_(ctx),
      counters_(plan.processes.size()),
      sent_(plan.processes.size()) {}

FaultInjector::~FaultInjector() = default;

void FaultInjector::start() {
    bool counting = false;
    for (std::size_t f = 0; f < plan_.faults.size(); ++f) {
        const PlannedFault& pf = plan_.faults[f];
        if (pf.by_count) {
            counting = true;
            auto& c = counters_[pf.after_process];
            if (!c) {
                c = std::make_unique<Counter>();
                c->path = event_log_path(dir_, pf.after_process);
                c->op = plan_.processes[pf.after_process].role == Role::kProducer ? Op::kSend
                                                                                  : Op::kRecv;
            }
            continue;
        }
        auto t = std::make_unique<asio::steady_timer>(
            ctx_, std::chrono::nanoseconds(static_cast<long long>(pf.at_s * 1e9)));
        t->async_wait([this, f](const boost::system::error_code& ec) {
            if (!ec && !done_) fire(f);
        });
        timers_.push_back(std::move(t));
    }
    if (counting) poll();
}

void FaultInjector::poll() {
    for (std::size_t f = 0; f < plan_.faults.size(); ++f) {
        const PlannedFault& pf = plan_.faults[f];
        if (!pf.by_count || fired_[f]) continue;
        if (counters_[pf.after_process]->read() >= pf.after_messages) fire(f);
    }
    const bool waiting = std::any_of(
        plan_.faults.begin(), plan_.faults.end(),
        [&](const PlannedFault& pf) { return pf.by_count && !fired_[&pf - plan_.faults.data()]; });
    if (!waiting) return;
    poll_timer_.expires_after(std::chrono::milliseconds(kPollMs));
    poll_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && !done_) poll();
    });
}

void FaultInjector::fire(std::size_t f) {
    if (fired_[f]) return;
    fired_[f] = true;
    const PlannedFault& pf = plan_.faults[f];
    switch (pf.action) {
        case FaultAction::kKill:
            step(f, FaultStep::kKill, SIGKILL);
            break;
        case FaultAction::kSignal:
            step(f, FaultStep::kSignal, pf.signal);
            break;
        case FaultAction::kRestart:
            // Only a kill that was carried out restarts: a target already
            // ended stays ended.
            if (step(f, FaultStep::kKill, SIGKILL) && hooks_.restart) hooks_.restart(pf.target, f);
            break;
        case FaultAction::kStop: {
            step(f, FaultStep::kStop, SIGSTOP);
            if (hooks_.paused) hooks_.paused(pf.pause_s);
            auto t = std::make_unique<asio::steady_timer>(
                ctx_, std::chrono::nanoseconds(static_cast<long long>(pf.pause_s * 1e9)));
            // A stopped worker keeps the run from finishing, so finish()
            // cancels this only once the target has ended anyway.
            t->async_wait([this, f](const boost::system::error_code& ec) {
                if (!ec && !done_) resume(f);
            });
            timers_.push_back(std::move(t));
            break;
        }
    }
}

void FaultInjector::resume(std::size_t f) {
    step(f, FaultStep::kCont, SIGCONT);
}

// One kill(2), recorded.  A target already gone (reaped, or a zombie)
// is not signalled.  True if the signal was sent.
bool FaultInjector::step(std::size_t f, FaultStep s, int sig) {
    const PlannedFault& pf = plan_.faults[f];
    Record* r = olog_.begin(Op::kFault, 0);
    r->seq = pf.target;
    r->origin = static_cast<std::uint32_t>(f);
    r->aux = static_cast<std::uint32_t>(s);
    r->extra = static_cast<std::uint32_t>(sig);
    const pid_t pid = hooks_.pid ? hooks_.pid(pf.target) : 0;
    siginfo_t info{};
    const bool zombie =
        pid > 0 &&
        ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid;
    if (pid <= 0 || zombie) {
        EventLogWriter::end(r, Status::kError, ESRCH);
        return false;
    }
    if (sig != SIGSTOP && sig != SIGCONT) sent_[pf.target].push_back(sig);
    if (::kill(pid, sig) != 0) {
        const int err = errno;
        EventLogWriter::end(r, Status::kError, err);
        spdlog::warn("fault {}: {} {} failed: {}", f, fault_step_name(s),
                     plan_.processes[pf.target].name, std::strerror(err));
        return false;
    }
    EventLogWriter::end(r, Status::kOk);
    spdlog::info("fault {}: {} {} ({})", f, fault_step_name(s), plan_.processes[pf.target].name,
                 any_signal_name(sig));
    return true;
}

void FaultInjector::finish() {
    if (done_) return;
    done_ = true;
    poll_timer_.cancel();
    for (std::size_t f = 0; f < plan_.faults.size(); ++f) {
        if (fired_[f]) continue;
        fired_[f] = true;
        const PlannedFault& pf = plan_.faults[f];
        const FaultStep s = pf.action == FaultAction::kStop     ? FaultStep::kStop
                            : pf.action == FaultAction::kSignal ? FaultStep::kSignal
                                                                : FaultStep::kKill;
        Record* r = olog_.begin(Op::kFault, 0);
        r->seq = pf.target;
        r->origin = static_cast<std::uint32_t>(f);
        r->aux = static_cast<std::uint32_t>(s);
        r->extra = static_cast<std::uint32_t>(fault_signal(pf));
        EventLogWriter::end(r, Status::kError, ESRCH);
    }
    for (auto& t : timers_) t->cancel();
}

bool FaultInjector::sent(std::uint32_t p, int sig) const {
    return p < sent_.size() && std::find(sent_[p].begin(), sent_[p].end(), sig) != sent_[p].end();
}

}  // namespace ipct
