// Helpers for tests that run the real ipctorture binary.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ipct::test {

// Whether the System V message queue with this id still exists (read from
// /proc/sysvipc/msg, which lists every queue of the IPC namespace).
inline bool sysv_queue_exists(int id) {
    std::ifstream in("/proc/sysvipc/msg");
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
        std::istringstream f(line);
        long key = 0, msqid = -1;
        f >> key >> msqid;
        if (msqid == id) return true;
    }
    return false;
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A fresh directory removed at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/ipct-test.XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::vector<std::string> entries() const {
        std::vector<std::string> v;
        for (auto& e : std::filesystem::directory_iterator(path)) v.push_back(e.path().string());
        return v;
    }
};

struct CmdResult {
    int status = -1;  // exit code, or 128 + signal
    std::string out;
    std::string err;
    bool timed_out = false;
};

// Starts the ipctorture binary with args; stdout/stderr go to files under dir.
inline pid_t spawn_binary(const std::vector<std::string>& args, const std::string& run_root,
                          const std::string& out_file, const std::string& err_file) {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setenv("IPCTORTURE_RUN_ROOT", run_root.c_str(), 1);
        int o = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(o, 1);
        ::dup2(e, 2);
        std::vector<char*> argv;
        std::string bin = IPCT_BINARY;
        argv.push_back(bin.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(bin.c_str(), argv.data());
        ::_exit(127);
    }
    return pid;
}

// Waits for pid at most `limit` (a deadlock guard, never a pass condition);
// kills it on expiry.
inline int wait_bounded(pid_t pid, std::chrono::seconds limit, bool* timed_out = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int st = 0;
    for (;;) {
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &st, 0);
            if (timed_out) *timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

inline CmdResult run_binary(const std::vector<std::string>& args, const std::string& run_root,
                            const std::string& scratch,
                            std::chrono::seconds limit = std::chrono::seconds(120)) {
    const std::string o = scratch + "/stdout", e = scratch + "/stderr";
    pid_t pid = spawn_binary(args, run_root, o, e);
    CmdResult r;
    r.status = wait_bounded(pid, limit, &r.timed_out);
    r.out = slurp(o);
    r.err = slurp(e);
    return r;
}

inline bool process_alive(int pid) {
    if (::kill(pid, 0) != 0) return false;
    // A zombie is dead for our purposes.
    std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto p = stat.rfind(')');
    return !(p != std::string::npos && p + 2 < stat.size() && stat[p + 2] == 'Z');
}

inline std::string source(const std::string& rel) {
    return std::string(IPCT_SOURCE_DIR) + "/" + rel;
}

}  // namespace ipct::test
