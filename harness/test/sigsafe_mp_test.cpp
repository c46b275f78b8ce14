// The signal-safety interposer (libipctorture_sigsafe.so) in real processes:
// on a small C program that is not ours (sigsafe_victim.c), where each
// unsafe handler is caught with its function and frames and the safe one is
// not; and on the harness's own workers, through the zoo's planted handlers
// and their correct twins.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ipctorture/boost_process.hpp"
#include "ipctorture/sigsafe.hpp"
#include "test_util.hpp"

using namespace ipct;
using namespace ipct::test;

namespace {

bool have_addr2line() {
    return !boost::process::v2::environment::find_executable("addr2line").empty();
}

struct VictimRun {
    int status = -1;
    std::string out, err, raw;  // raw: the report file (or stderr)
    std::vector<SignalSafetyReport> reports;
};

// Runs the victim under the interposer: `mode` picks its handler, which runs
// `times` times.  Reports go to a file, or to stderr when !to_file.
VictimRun run_victim(const std::string& mode, int times, bool to_file = true) {
    TempDir dir;
    const std::string report = dir.path + "/report", out = dir.path + "/out",
                      err = dir.path + "/err";
    std::vector<std::string> env{std::string("LD_PRELOAD=") + IPCT_SIGSAFE_LIBRARY};
    if (to_file) env.push_back("IPCTORTURE_SIGSAFE_OUT=" + report);
    for (char** e = environ; *e; ++e) {
        const std::string v(*e);
        if (v.rfind("LD_PRELOAD=", 0) != 0 && v.rfind("IPCTORTURE_SIGSAFE_OUT=", 0) != 0)
            env.push_back(v);
    }
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string exe = IPCT_SIGSAFE_VICTIM, count = std::to_string(times);
    char* argv[] = {exe.data(), const_cast<char*>(mode.c_str()), count.data(), nullptr};
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(o, 1);
        ::dup2(e, 2);
        ::execve(exe.c_str(), argv, envp.data());
        ::_exit(127);
    }
    VictimRun r;
    r.status = wait_bounded(pid, std::chrono::seconds(60));
    r.out = slurp(out);
    r.err = slurp(err);
    r.raw = to_file ? slurp(report) : r.err;
    std::size_t at = 0;
    for (std::size_t nl; (nl = r.raw.find('\n', at)) != std::string::npos; at = nl + 1)
        if (auto rep = parse_sigsafe_line(std::string_view(r.raw).substr(at, nl - at)))
            r.reports.push_back(*rep);
    symbolize_sigsafe_reports(r.reports);
    return r;
}

// ThreadSanitizer runs handlers through its own wrapper and reports unsafe
// calls itself (ending the worker); the harness tests below need a worker
// the interposer alone watches.
#if defined(__SANITIZE_THREAD__)
#define IPCT_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPCT_UNDER_TSAN 1
#endif
#endif

#ifdef IPCT_UNDER_TSAN
#define SKIP_UNDER_TSAN() GTEST_SKIP() << "ThreadSanitizer reports signal-unsafe calls itself"
#else
#define SKIP_UNDER_TSAN() (void)0
#endif

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// The frame text names the victim's module; symbolized, its function too.
void expect_in_victim(const std::string& text, const std::string& raw, const char* function) {
    EXPECT_EQ(raw.rfind(std::string(IPCT_SIGSAFE_VICTIM) + "+0x", 0), 0u) << raw;
    if (have_addr2line()) {
        EXPECT_TRUE(contains(text, function)) << text;
    }
}

}  // namespace

TEST(SigsafeVictim, PrintfInAHandlerIsReportedWithItsNameAndFrame) {
    const VictimRun r = run_victim("printf", 2000);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(r.reports.size(), 1u) << "one report per call site, not one per signal\n" << r.raw;
    const SignalSafetyReport& p = r.reports[0];
    EXPECT_EQ(p.function, "printf");
    EXPECT_EQ(p.signal, SIGUSR1);
    EXPECT_EQ(p.depth, 1);
    EXPECT_GT(p.t_ns, 0u);
    ASSERT_FALSE(p.raw_frames.empty());
    expect_in_victim(p.frames[0], p.raw_frames[0], "on_usr1_printf");
    expect_in_victim(p.handler, p.raw_handler, "on_usr1_printf");
    if (have_addr2line()) {
        EXPECT_TRUE(contains(p.frames[0], "sigsafe_victim.c:")) << p.frames[0];
    }
}

TEST(SigsafeVictim, AHandlerThatOnlyWritesIsNotReported) {
    const VictimRun r = run_victim("safe", 2000);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.raw, "") << "the safe handler was reported";
    EXPECT_NE(r.out.find("done, 2000 caught"), std::string::npos) << r.out;
}

TEST(SigsafeVictim, AHandlerThatClobbersErrnoIsReported) {
    const VictimRun r = run_victim("errno", 50);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(r.reports.size(), 1u) << r.raw;
    const SignalSafetyReport& e = r.reports[0];
    EXPECT_TRUE(e.errno_clobbered);
    EXPECT_EQ(e.errno_after, EBADF);
    EXPECT_NE(e.errno_before, EBADF);
    expect_in_victim(e.handler, e.raw_handler, "on_usr1_errno");
}

TEST(SigsafeVictim, MallocAndFreeInAnSaSiginfoHandler) {
    const VictimRun r = run_victim("malloc", 100);
    EXPECT_EQ(r.status, 0) << r.err << "(3: sigaction's old action did not name the handler)";
    ASSERT_EQ(r.reports.size(), 2u) << r.raw;
    EXPECT_EQ(r.reports[0].function, "malloc");
    EXPECT_EQ(r.reports[1].function, "free");
    for (const SignalSafetyReport& m : r.reports) {
        ASSERT_FALSE(m.raw_frames.empty());
        expect_in_victim(m.frames[0], m.raw_frames[0], "on_usr1_malloc");
    }
}

TEST(SigsafeVictim, MutexInAHandler) {
    const VictimRun r = run_victim("lock", 100);
    EXPECT_EQ(r.status, 0) << r.err;
    std::vector<std::string> fns;
    for (const SignalSafetyReport& m : r.reports) fns.push_back(m.function);
    EXPECT_EQ(fns, (std::vector<std::string>{"pthread_mutex_lock", "pthread_mutex_unlock"}))
        << r.raw;
    // The unlock is a tail call: no frame of the handler is left, its name is.
    for (const SignalSafetyReport& m : r.reports)
        expect_in_victim(m.handler, m.raw_handler, "on_usr1_lock");
}

TEST(SigsafeVictim, NestedHandlersCountTheirDepth) {
    const VictimRun r = run_victim("nest", 100);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(r.reports.size(), 2u) << "only the inner handler's malloc and free\n" << r.raw;
    for (const SignalSafetyReport& m : r.reports) {
        EXPECT_EQ(m.signal, SIGUSR2);
        EXPECT_EQ(m.depth, 2);
        expect_in_victim(m.handler, m.raw_handler, "on_usr2_malloc");
    }
}

// A handler left with siglongjmp has ended: the program's calls after it
// are not reported.
TEST(SigsafeVictim, AHandlerLeftWithSiglongjmpHasEnded) {
    const VictimRun r = run_victim("jump", 100);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.raw, "");
}

// Handlers are counted per thread: another thread that allocates and prints
// while the main thread's safe handler runs is not in a handler.
TEST(SigsafeVictim, OtherThreadsAreNotInTheHandler) {
    const VictimRun r = run_victim("threads", 20000);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.raw, "");
}

// sigset() goes through the interposer too, and returns the old disposition.
TEST(SigsafeVictim, SystemVSigset) {
    const VictimRun r = run_victim("sigset", 100);
    EXPECT_EQ(r.status, 0) << r.err << "(3: sigset did not return the old disposition)";
    ASSERT_EQ(r.reports.size(), 1u) << r.raw;
    EXPECT_EQ(r.reports[0].function, "puts");
    expect_in_victim(r.reports[0].handler, r.reports[0].raw_handler, "on_usr1_puts");
}

TEST(SigsafeVictim, ReportsGoToStderrWithoutAFile) {
    const VictimRun r = run_victim("printf", 10, false);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(r.reports.size(), 1u) << r.err;
    EXPECT_EQ(r.reports[0].function, "printf");
}

// The zoo's planted handler, through the whole harness: the finding names
// the process, its role, the function and where.
TEST(SigsafeHarness, APlantedPrintfIsAFindingOfTheConsumer) {
    SKIP_UNDER_TSAN();
    TempDir root, scratch;
    const std::string json = scratch.path + "/r.json";
    auto r = run_binary({"run", source("scenarios/zoo/signal-handler-printf.yaml"), "--json", json},
                        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    const nlohmann::json j = nlohmann::json::parse(slurp(json));
    const nlohmann::json& s = j["scenarios"][0];
    EXPECT_GE(s["counts"]["signal_safety"].get<int>(), 1);
    for (const char* k : {"lost", "duplicated", "corrupted", "fifo", "priority", "crash"})
        EXPECT_EQ(s["counts"][k].get<int>(), 0) << k;
    bool seen = false;
    for (const auto& f : s["findings"]) {
        if (f["kind"] != "signal_safety") continue;
        seen = true;
        const nlohmann::json& ss = f["signal_safety"];
        EXPECT_EQ(ss["process"], "consumer0");
        EXPECT_EQ(ss["role"], "consumer");
        // AddressSanitizer's printf forwards to vprintf, which is where we see it.
        EXPECT_TRUE(ss["function"] == "printf" || ss["function"] == "vprintf") << ss.dump(2);
        // printf is the handler's tail call: the handler itself is the frame.
        EXPECT_TRUE(contains(ss["raw_handler"], "ipctorture+0x")) << ss.dump(2);
        if (have_addr2line()) {
            EXPECT_TRUE(contains(ss["handler"], "mutant_printf_handler (mutant_handler.cpp:"))
                << ss.dump(2);
        }
    }
    EXPECT_TRUE(seen) << s.dump(2);
    EXPECT_NE(s["reproduce"].get<std::string>().find("--seed"), std::string::npos);
    auto c = run_binary({"clean"}, root.path, scratch.path);
    EXPECT_EQ(c.status, 0) << c.err;
}

// --sigsafe puts every worker under the interposer; without it the same
// planted handler passes: nothing in the history shows it.
TEST(SigsafeHarness, TheCommandLineFlagCoversEveryProcess) {
    SKIP_UNDER_TSAN();
    TempDir root, scratch;
    std::string text = slurp(source("scenarios/zoo/signal-handler-errno.yaml"));
    const std::string key = "    sigsafe: true\n";
    ASSERT_NE(text.find(key), std::string::npos);
    text.erase(text.find(key), key.size());
    const std::string file = scratch.path + "/no-sigsafe.yaml";
    std::ofstream(file) << text;
    auto plain = run_binary({"run", file}, root.path, scratch.path);
    EXPECT_EQ(plain.status, 0) << plain.out << plain.err;
    auto flagged = run_binary({"run", file, "--sigsafe"}, root.path, scratch.path);
    EXPECT_EQ(flagged.status, 1) << flagged.out << flagged.err;
    EXPECT_NE(flagged.out.find("signal_safety: consumer0 (consumer)"), std::string::npos)
        << flagged.out;
    EXPECT_NE(flagged.out.find("--sigsafe"), std::string::npos) << "reproduce keeps the flag";
    run_binary({"clean"}, root.path, scratch.path);
}

// Every worker under the interposer (--sigsafe): the twins and the backend
// scenarios whose workers take signals (handlers of the signal backend, the
// signaler's targets, sysv_msg's wake-up timer) must stay clean.
TEST(SigsafeHarness, OurOwnHandlersAreCleanUnderTheInterposer) {
    TempDir root, scratch;
    auto r = run_binary({"run", source("scenarios/twins/signal-handler-printf.yaml"),
                         source("scenarios/twins/signal-handler-malloc.yaml"),
                         source("scenarios/twins/signal-handler-errno.yaml"),
                         source("scenarios/backends/signal-realtime-handler.yaml"),
                         source("scenarios/backends/signaler-storm-pipe.yaml"),
                         source("scenarios/backends/sysv-msg-selective.yaml"), "--sigsafe"},
                        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
    EXPECT_TRUE(root.entries().empty());
}
