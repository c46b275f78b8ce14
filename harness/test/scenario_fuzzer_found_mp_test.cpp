// Bugs that fuzz/scenario_fuzzer found, end to end: each scenario below is
// the shrunk shape of a failing input (the input itself is in
// fuzz/corpus/scenario_fuzzer/), run with the real binary (as processes, and
// as threads where it can); it must pass, every message sent once and
// received once.  Every wait is bounded.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ipctorture/orchestrator.hpp"
#include "ipctorture/scenario.hpp"
#include "test_util.hpp"

using namespace ipct::test;

namespace {

// A lock-free shm ring of one slot: the slot's sequence number said "full
// for position p" and "free for position p + 1" with the same value, so the
// producer of p + 1 overwrote the unread message of p and the consumer of p
// spun forever (hang; with three producers all 120 sends completed and one
// message arrived).
const char* const kShmAtomicOneSlot = R"(name: shm-ring-atomic-one-slot
seed: 1318635
timeout: 20s
channels:
  a:
    backend: shm
    options: {layout: ring, sync: atomic, slots: 1, slot_size: 5152}
processes:
  - role: producer
    count: 3
    channel: a
    workload: {messages: 40, size: {min: 32, max: 5152}}
  - role: consumer
    count: 2
    channel: a
)";

// A real-time signal channel with a reader no writer sends to (writer rank
// % readers picks the reader) and a signaler storming every process: the
// reader's wait for the writers to go restarted on every EINTR, so it never
// saw them gone, and the signaler, which storms until its targets end,
// never ended either.  The producer starts late so that the storm is on
// while the idle reader waits.  Processes only (signals need them).
const char* const kSignalIdleReaderStorm = R"(name: signal-rt-idle-reader-storm
seed: 1
timeout: 20s
channels:
  a:
    backend: signal
    options: {kind: realtime, signals: 1, retry_full: true}
processes:
  - role: producer
    channel: a
    workload: {messages: 120, size: 32, start_delay: 50ms}
  - role: consumer
    count: 2
    channel: a
  - role: signaler
    workload: {rate: 2000}
)";

void expect_pass(const char* scenario, const std::vector<std::string>& extra) {
    TempDir root, scratch;
    const std::string file = scratch.path + "/scenario.yaml";
    std::ofstream(file) << scenario;
    const std::string json = scratch.path + "/report.json";
    std::vector<std::string> args{"run", file, "--json", json};
    args.insert(args.end(), extra.begin(), extra.end());
    const CmdResult r = run_binary(args, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const nlohmann::json j = nlohmann::json::parse(slurp(json));
    for (const auto& s : j["scenarios"]) {
        EXPECT_EQ(s["verdict"], "PASS") << s["name"];
        EXPECT_EQ(s["channels"][0]["sent"], 120u);
        EXPECT_EQ(s["channels"][0]["received"], 120u);
    }
    EXPECT_TRUE(root.entries().empty()) << "a passing run leaves nothing";
}

// An exit handler that leaves a mark when it runs in another process than
// the test's: in a child forked to become a worker.
pid_t g_test_pid = 0;
std::string g_exit_mark;
void mark_foreign_exit() {
    if (::getpid() != g_test_pid) std::ofstream(g_exit_mark) << ::getpid() << "\n";
}

}  // namespace

// A worker binary that cannot be executed: the spawn fails in the parent,
// and the forked child ends without running the parent's exit handlers
// (Boost 1.81 called exit() there; the fuzzer saw its own crash handling
// and run-root removal run in such a child, which then hung).
TEST(ScenarioFuzzerFound, AFailedWorkerExecRunsNoExitHandlerInTheChild) {
    TempDir root, scratch;
    const std::string exe = scratch.path + "/not-executable";
    std::ofstream(exe) << "not a program\n";
    ASSERT_EQ(::chmod(exe.c_str(), 0600), 0);
    g_test_pid = ::getpid();
    g_exit_mark = scratch.path + "/exit-handler-ran";
    static const bool registered = std::atexit(mark_foreign_exit) == 0;
    ASSERT_TRUE(registered);
    ipct::RunOptions o;
    o.run_root = root.path;
    o.worker_exe = exe;
    o.keep_failed = false;
    const ipct::Scenario s = ipct::load_scenario_text(
        "name: exec-fails\nchannels: {a: {backend: pipe}}\nprocesses:\n"
        "  - {role: producer, channel: a, workload: {messages: 1}}\n"
        "  - {role: consumer, channel: a}\n",
        "exec-fails.yaml");
    EXPECT_ANY_THROW(ipct::run_scenario(s, o));
    ::usleep(200 * 1000);  // the child, had it run the handlers, has by now
    EXPECT_FALSE(std::ifstream(g_exit_mark).good()) << "an exit handler ran in the forked child";
}

TEST(ScenarioFuzzerFound, ShmAtomicRingOfOneSlotAsProcesses) {
    expect_pass(kShmAtomicOneSlot, {});
}

TEST(ScenarioFuzzerFound, ShmAtomicRingOfOneSlotAsThreads) {
    expect_pass(kShmAtomicOneSlot, {"--as-threads"});
}

TEST(ScenarioFuzzerFound, SignalReaderWithNothingToReadEndsUnderASignalStorm) {
    expect_pass(kSignalIdleReaderStorm, {});
}
