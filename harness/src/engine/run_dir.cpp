#include "run_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ipctorture/backend.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/faults.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/report.hpp"
#include "ipctorture/roles.hpp"
#include "ipctorture/sigsafe.hpp"
#include "ipctorture/syscall_faults.hpp"

namespace fs = std::filesystem;

namespace ipct {

std::string default_run_root() {
    if (const char* r = std::getenv("IPCTORTURE_RUN_ROOT"); r && *r) return r;
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/ipctorture";
}

namespace {
std::string timestamp() {
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    localtime_r(&t, &tm);
    char b[32];
    std::strftime(b, sizeof b, "%Y%m%dT%H%M%S", &tm);
    return b;
}
}  // namespace

RunDir RunDir::create(const std::string& root, const std::string& scenario_name) {
    static std::atomic<int> counter{0};
    RunDir d;
    // A matrix cell's name has brackets and commas: keep ids shell-friendly.
    std::string safe = scenario_name;
    for (char& c : safe)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            c = '_';
    d.id_ = safe + "-" + timestamp() + "-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++);
    // Normalised without a trailing separator: `clean` finds leftover workers
    // by this path in their command lines.
    d.root_ = (fs::absolute(root) / "").lexically_normal().parent_path().string();
    d.path_ = (fs::path(d.root_) / d.id_).string();
    // Another run that created the root may remove it (empty) between our
    // create_directories and mkdir: then make it again.
    for (int attempt = 0;; ++attempt) {
        std::error_code ec;
        d.created_root_ = fs::create_directories(d.root_, ec);
        if (ec) throw EnvironmentError("cannot create run root " + root + ": " + ec.message());
        if (::mkdir(d.path_.c_str(), 0700) == 0) break;
        if (errno != ENOENT || attempt == 4)
            throw EnvironmentError("cannot create run directory " + d.path_ + ": " +
                                   errno_name(errno));
    }
    const std::string owner = d.path_ + "/.owner";
    d.owner_fd_ = ::open(owner.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d.owner_fd_ < 0 || ::flock(d.owner_fd_, LOCK_EX | LOCK_NB) != 0)
        IPCT_FAIL_ERRNO("cannot lock " + owner);
    std::string pid = std::to_string(::getpid()) + "\n";
    (void)write_full(d.owner_fd_, pid.data(), pid.size());
    return d;
}

RunDir::RunDir(RunDir&& o) noexcept
    : path_(std::move(o.path_)),
      id_(std::move(o.id_)),
      root_(std::move(o.root_)),
      created_root_(o.created_root_),
      owner_fd_(o.owner_fd_),
      done_(o.done_) {
    o.owner_fd_ = -1;
    o.done_ = true;
}

RunDir::~RunDir() {
    if (!done_) remove();
}

void RunDir::release() {
    if (owner_fd_ >= 0) ::close(owner_fd_);
    owner_fd_ = -1;
    done_ = true;
}

void RunDir::add_pid(int pid) {
    std::ofstream(path_ + "/workers", std::ios::app) << pid << "\n";
}

void RunDir::write_plan(const nlohmann::json& plan) {
    const std::string tmp = path_ + "/plan.json.tmp";
    {
        std::ofstream out(tmp);
        out << json_text(plan, 1) << "\n";
        if (!out) IPCT_FAIL_ERRNO("cannot write " + tmp);
    }
    fs::rename(tmp, path_ + "/plan.json");
}

void RunDir::keep() {
    std::ofstream(path_ + "/KEPT") << "kept for `ipctorture check " << path_ << "`\n";
    release();
}

void RunDir::remove() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) spdlog::warn("cannot remove {}: {}", path_, ec.message());
    // A run root this run made is removed too once nothing else is in it
    // (rmdir fails on a non-empty directory, which is the point).
    if (created_root_) ::rmdir(root_.c_str());
    release();
}

namespace {

// A pid from <dir>/workers is killed only if it still runs this run's worker
// (its command line names the run directory), so a recycled pid is safe.
int kill_leftovers(const std::string& dir) {
    std::ifstream in(dir + "/workers");
    int pid = 0, killed = 0;
    while (in >> pid) {
        // An exec process's program has its own command line; its
        // environment names the run directory (exec.hpp).
        bool ours = false;
        for (const char* what : {"/cmdline", "/environ"}) {
            std::ifstream f("/proc/" + std::to_string(pid) + what);
            std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            ours = ours || s.find(dir) != std::string::npos;
        }
        if (!ours) continue;
        if (::kill(pid, SIGKILL) == 0) ++killed;
    }
    return killed;
}

void cleanup_channels_from_plan(const std::string& dir) {
    std::ifstream in(dir + "/plan.json");
    if (!in) return;
    try {
        nlohmann::json j;
        in >> j;
        Plan plan = plan_from_json(j);
        for (const auto& ch : plan.channels) {
            Backend* b = find_backend(ch.backend);
            if (b) b->cleanup(channel_setup(plan, ch.index), ch.state);
        }
    } catch (const std::exception& e) {
        spdlog::warn("{}: cannot read plan.json for cleanup: {}", dir, e.what());
    }
}

}  // namespace

CleanReport clean_runs(const std::string& root) {
    CleanReport rep;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return rep;
    for (const auto& e : fs::directory_iterator(root, ec)) {
        if (!e.is_directory()) continue;
        const std::string dir = e.path().string();
        const int fd = ::open((dir + "/.owner").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd);
            rep.skipped_live.push_back(dir);
            continue;
        }
        rep.killed_processes += kill_leftovers(dir);
        cleanup_channels_from_plan(dir);
        fs::remove_all(dir, ec);
        if (fd >= 0) ::close(fd);
        rep.removed_dirs.push_back(dir);
    }
    return rep;
}

namespace {

// The logs a check reads, mapped, and the joined copies of restarted
// processes' logs (HistoryView points into both).
struct OpenLogs {
    std::vector<std::unique_ptr<EventLogReader>> readers;
    std::vector<std::vector<Record>> joined;
};

// When the orchestrator saw incarnation k - 1 of process p end: its kRespawn
// record of incarnation k (faults.hpp), or 0.
std::uint64_t incarnation_bound(std::span<const Record> orchestrator, std::uint32_t p,
                                std::uint32_t k) {
    for (const Record& r : orchestrator)
        if (r.op == Op::kFault && r.aux == static_cast<std::uint32_t>(FaultStep::kRespawn) &&
            r.seq == p && r.extra == k && r.status == Status::kOk)
            return r.t_start;
    return 0;
}

// A restarted process's incarnations (events.<p>.log, events.<p>.1.log, ...)
// as one history: each later one after a Note::kIncarnation record.
void join_incarnations(const std::string& dir, std::uint32_t p, OpenLogs& open, HistoryView& h) {
    std::vector<Record> all(h.logs[p].begin(), h.logs[p].end());
    for (std::uint32_t k = 1;; ++k) {
        const std::string path = event_log_path(dir, p, k);
        if (!fs::exists(path)) break;
        const EventLogReader next(path);
        std::uint64_t bound = incarnation_bound(h.orchestrator, p, k);
        if (bound == 0 && next.size() > 0) bound = next[0].t_start;
        Record mark = note_record(Note::kIncarnation, k);
        mark.t_start = mark.t_end = bound;
        all.push_back(mark);
        all.insert(all.end(), next.data(), next.data() + next.size());
    }
    open.joined.push_back(std::move(all));
    h.logs[p] = open.joined.back();
}

OpenLogs open_logs(const std::string& dir, const Plan& plan, HistoryView& h) {
    OpenLogs open;
    auto& readers = open.readers;
    open.joined.reserve(plan.processes.size());  // h.logs points into it
    h.logs.resize(plan.processes.size());
    for (std::size_t i = 0; i < plan.processes.size(); ++i) {
        const std::string p = event_log_path(dir, static_cast<std::uint32_t>(i));
        if (!fs::exists(p)) continue;
        readers.push_back(std::make_unique<EventLogReader>(p));
        h.logs[i] = {readers.back()->data(), readers.back()->size()};
    }
    h.proxies.resize(plan.channels.size());
    for (const PlannedChannel& c : plan.channels) {
        const std::string p = proxy_log_path(dir, c.index);
        if (!c.proxy || !fs::exists(p)) continue;
        readers.push_back(std::make_unique<EventLogReader>(p));
        h.proxies[c.index] = {readers.back()->data(), readers.back()->size()};
    }
    const std::string o = orchestrator_log_path(dir);
    if (fs::exists(o)) {
        readers.push_back(std::make_unique<EventLogReader>(o));
        h.orchestrator = {readers.back()->data(), readers.back()->size()};
    }
    for (std::uint32_t i = 0; i < plan.processes.size(); ++i)
        if (fs::exists(event_log_path(dir, i, 1))) join_incarnations(dir, i, open, h);
    return open;
}
}  // namespace

RunOutcome check_run_dir(const std::string& dir, std::size_t max_findings) {
    std::ifstream in(dir + "/plan.json");
    if (!in) throw EnvironmentError("not a run directory (no plan.json): " + dir);
    nlohmann::json j;
    try {
        in >> j;
    } catch (const nlohmann::json::exception& e) {
        throw EnvironmentError(dir + "/plan.json: " + e.what());
    }
    RunOutcome out;
    out.plan = plan_from_json(j);
    out.run_dir = dir;
    out.kept = true;
    HistoryView h;
    h.plan = &out.plan;
    auto readers = open_logs(dir, out.plan, h);
    const std::uint64_t t0 = now_ns();
    const std::vector<SanitizerReport> reports =
        read_sanitizer_reports(dir, static_cast<std::uint32_t>(out.plan.processes.size()));
    h.sanitizer = reports;
    out.as_threads = fs::exists(dir + "/" + kThreadsWorkerLog);
    CheckOptions opt;
    opt.max_findings_per_kind = max_findings;
    out.result = check_history(h, opt);
    add_signal_safety_findings(out.result, read_sigsafe_reports(dir, out.plan), out.plan,
                               max_findings);
    add_syscall_faults(out.result, dir, out.plan);
    out.check_s = double(now_ns() - t0) / 1e9;
    out.interrupted = out.result.interrupted;
    out.workers.resize(out.plan.processes.size());
    for (const Record& r : h.orchestrator) {
        if (r.op == Op::kFault) {
            FaultEvent e;
            e.step = static_cast<FaultStep>(r.aux);
            e.target = static_cast<std::uint32_t>(r.seq);
            e.fault = r.origin;
            e.t_ns = r.t_start;
            e.done = r.status == Status::kOk;
            e.err = e.done ? 0 : r.err;
            if (e.step == FaultStep::kRespawn) {
                e.incarnation = r.extra;
                e.t_ns = r.t_end;  // the spawn (t_start bounds the old one's death)
            } else {
                e.signal = static_cast<int>(r.extra);
            }
            out.faults.push_back(e);
        }
        if (r.op != Op::kWorkerStatus || r.seq >= out.workers.size()) continue;
        out.workers[r.seq].status = static_cast<int>(r.aux);
        out.workers[r.seq].killed_by_harness = r.extra != 0;
    }
    return out;
}

}  // namespace ipct
