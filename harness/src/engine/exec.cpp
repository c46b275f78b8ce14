// Exec processes: resolving a scenario's program, and the worker's last
// steps before it becomes that program (exec.hpp).
#include "ipctorture/exec.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <utility>
#include <vector>

#include "ipctorture/backend.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/roles.hpp"
#include "worker_detail.hpp"

extern char** environ;

namespace ipct {

namespace {

namespace fs = std::filesystem;

// Empty if `path` is a regular file the harness may execute, else why not.
std::string not_executable(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return errno == ENOENT ? "does not exist" : errno_name(errno);
    if (!S_ISREG(st.st_mode)) return "is not a regular file";
    if (::access(path.c_str(), X_OK) != 0) return "is not executable (" + errno_name(errno) + ")";
    return {};
}

std::string absolute_text(const fs::path& p) {
    std::error_code ec;
    fs::path a = fs::absolute(p, ec);
    return (ec ? p : a).lexically_normal().string();
}

// The environment as name -> "name=value", in order, later settings
// replacing earlier ones of the same name.
class Environment {
  public:
    Environment() {
        for (char** e = environ; e != nullptr && *e != nullptr; ++e) vars_.emplace_back(*e);
    }
    void set(const std::string& name, const std::string& value) {
        const std::string prefix = name + "=";
        for (std::string& v : vars_)
            if (v.compare(0, prefix.size(), prefix) == 0) {
                v = prefix + value;
                return;
            }
        vars_.push_back(prefix + value);
    }
    std::vector<char*> pointers() {
        std::vector<char*> out;
        for (std::string& v : vars_) out.push_back(v.data());
        out.push_back(nullptr);
        return out;
    }

  private:
    std::vector<std::string> vars_;
};

// Side d of channel c as the program sees it; returns the descriptor it
// gets as stdin or stdout, or -1.
int describe_side(const Plan& plan, const PlannedProcess& self, std::uint32_t c, Direction d,
                  EventLogWriter& log, Environment& env) {
    const PlannedChannel& ch = plan.channels.at(c);
    Backend* b = find_backend(ch.backend);
    if (b == nullptr || !b->external()) IPCT_FAIL("backend " + ch.backend + " cannot serve exec");
    const std::string side = d == Direction::kRead ? "IPCTORTURE_INPUT" : "IPCTORTURE_OUTPUT";
    Record* r = log.begin(Op::kOpen, static_cast<std::uint16_t>(c));
    r->aux = d == Direction::kRead ? 0 : 1;
    ExternalEndpoint ep = b->external_endpoint(channel_setup(plan, c, self.index, d), ch.state, d);
    EventLogWriter::end(r, Status::kOk);
    env.set(side, ch.backend);
    env.set(side + "_FRAMING", ch.boundaries ? "message" : "stream");
    env.set(side + "_MAX_MESSAGE", std::to_string(ch.max_message));
    if (ep.fd >= 0) env.set(side + "_FD", d == Direction::kRead ? "0" : "1");
    for (const auto& [name, value] : ep.vars) env.set(side + "_" + name, value);
    return ep.fd;
}

// Between the barrier and execve: the descriptors and signals the program
// starts with (exec.hpp).  Every descriptor above 2 becomes close-on-exec,
// so the event log stays usable should execve fail.
void prepare_process(int in_fd, int out_fd) {
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) IPCT_FAIL_ERRNO("open /dev/null");
    if (::dup2(in_fd >= 0 ? in_fd : devnull, 0) < 0) IPCT_FAIL_ERRNO("dup2 stdin");
    if (out_fd >= 0 && ::dup2(out_fd, 1) < 0) IPCT_FAIL_ERRNO("dup2 stdout");
    if (::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) != 0) IPCT_FAIL_ERRNO("close_range");
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace

std::optional<std::string> resolve_program(const std::string& word,
                                           const std::string& scenario_file, std::string* why) {
    const fs::path dir = fs::path(scenario_file).parent_path();
    auto fail = [&](std::string text) -> std::optional<std::string> {
        if (why != nullptr) *why = std::move(text);
        return std::nullopt;
    };
    if (word.empty()) return fail("expected a program for 'program', got an empty word");
    if (word.find('/') != std::string::npos) {
        const fs::path p = fs::path(word).is_absolute() ? fs::path(word) : dir / word;
        const std::string problem = not_executable(p.string());
        if (!problem.empty())
            return fail("program '" + word + "' (" + absolute_text(p) + ") " + problem);
        return absolute_text(p);
    }
    std::vector<fs::path> dirs{dir.empty() ? fs::path(".") : dir};
    const char* path_env = std::getenv("PATH");
    std::string path_text = path_env != nullptr ? path_env : "";
    for (std::size_t start = 0; path_env != nullptr;) {
        const std::size_t colon = path_text.find(':', start);
        const std::string entry = path_text.substr(start, colon - start);
        dirs.emplace_back(entry.empty() ? "." : entry);
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    std::string first_problem;
    for (const fs::path& d : dirs) {
        const std::string problem = not_executable((d / word).string());
        if (problem.empty()) return absolute_text(d / word);
        if (first_problem.empty() && problem != "does not exist")
            first_problem = absolute_text(d / word) + " " + problem;
    }
    if (!first_problem.empty()) return fail("program '" + word + "': " + first_problem);
    return fail("program '" + word + "' not found in the scenario's directory (" +
                absolute_text(dirs[0]) + ") or in $PATH (" + path_text + ")");
}

std::string program_text(const PlannedProcess& p) {
    std::string out;
    for (const std::string& w : p.program) out += (out.empty() ? "" : " ") + w;
    return out;
}

int exec_program(const Plan& plan, const PlannedProcess& self, EventLogWriter& log, int ready_fd,
                 int go_fd) {
    if (self.program.empty()) IPCT_FAIL("exec process " + self.name + " has no program");
    // Signalers start at the barrier: ignore their signals from now on, so
    // that none ends this process before the program can install a handler.
    for (int sig : signals_for(plan, self.index)) ::signal(sig, SIG_IGN);
    Environment env;
    const int in_fd = describe_side(plan, self, self.in_channel, Direction::kRead, log, env);
    const int out_fd = describe_side(plan, self, self.out_channel, Direction::kWrite, log, env);
    env.set("IPCTORTURE_HEADER_SIZE", std::to_string(kHeaderSize));
    for (const auto& [name, value] : self.env) env.set(name, value);
    env.set("IPCTORTURE_RUN_DIR", plan.run_dir);
    env.set("IPCTORTURE_PROCESS", std::to_string(self.index));
    // The program's copy of the syscall-fault interposer injects from its
    // start: this worker has passed the barrier by the time it runs.
    if (!self.syscall_faults.empty()) env.set("IPCTORTURE_FAULTS_ARMED", "1");
    std::vector<std::string> args = self.program;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp = env.pointers();
    worker_detail::place_and_perturb(self);
    worker_detail::barrier(ready_fd, go_fd);
    log.mark(Op::kStart, 0);
    prepare_process(in_fd, out_fd);
    log.append(note_record(Note::kExec, 0));
    ::execve(self.program_path.c_str(), argv.data(), envp.data());
    const int e = errno;
    Record r = note_record(Note::kExec, 0);
    r.status = Status::kError;
    r.err = e;
    log.append(r);
    log.mark(Op::kExit, 0, 127);
    spdlog::error("cannot execute {}: {}", self.program_path, errno_name(e));
    return 127;
}

}  // namespace ipct
