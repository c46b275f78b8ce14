// Bugs that fuzz/scenario_fuzzer found, end to end: each scenario below is
// the shrunk shape of a failing input (the input itself is in
// fuzz/corpus/scenario_fuzzer/), run with the real binary (as processes, and
// as threads where it can); it must pass, every message sent once and
// received once.  Every wait is bounded.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

}  // namespace

TEST(ScenarioFuzzerFound, ShmAtomicRingOfOneSlotAsProcesses) {
    expect_pass(kShmAtomicOneSlot, {});
}

TEST(ScenarioFuzzerFound, ShmAtomicRingOfOneSlotAsThreads) {
    expect_pass(kShmAtomicOneSlot, {"--as-threads"});
}

TEST(ScenarioFuzzerFound, SignalReaderWithNothingToReadEndsUnderASignalStorm) {
    expect_pass(kSignalIdleReaderStorm, {});
}
