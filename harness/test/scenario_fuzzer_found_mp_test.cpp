// Bugs that fuzz/scenario_fuzzer found, end to end: each scenario below is
// the shrunk shape of a failing input (the input itself is in
// fuzz/corpus/scenario_fuzzer/), run with the real binary as processes and
// as threads; it must pass.  Every wait is bounded.
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
