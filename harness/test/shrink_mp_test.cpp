// End-to-end: `ipctorture shrink` through the real binary.  The planted bug
// of the large fixture (five processes, 100,002 messages) must come out as at
// most two processes and far fewer messages, and the result must still fail
// with the same signature.  Every wait is bounded and none is a pass
// condition; the result is re-run until it fails (under a cap), never
// required to fail on one lucky seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ipctorture/scenario.hpp"
#include "test_util.hpp"

using namespace ipct::test;
using nlohmann::json;

namespace {

const char* const kLarge = "harness/test/data/shrink/unix-stream-whole-read-big.yaml";
const char* const kSmall = "scenarios/regress/unix-stream-whole-read-big.min.yaml";

// kind/channel/role of each finding of a JSON report's scenario, as
// finding_signature() makes them: the role is that of the last evidence
// record made by a process.
std::vector<std::string> signatures(const json& scenario) {
    std::vector<std::string> out;
    for (const json& f : scenario["findings"]) {
        std::string role = "-";
        for (const json& e : f["evidence"])
            if (e.contains("role")) role = e["role"];
        out.push_back(f["kind"].get<std::string>() + "/" + f.value("channel", "-") + "/" + role);
    }
    return out;
}

std::uint64_t processes(const ipct::Scenario& s) {
    std::uint64_t n = 0;
    for (const auto& p : s.processes) n += std::uint64_t(p.count);
    return n;
}

std::uint64_t messages(const ipct::Scenario& s) {
    std::uint64_t n = 0;
    for (const auto& p : s.processes) n += std::uint64_t(p.count) * p.workload.messages;
    return n;
}

TEST(Shrink, ALargePlantedBugComesOutAsTwoProcessesThatStillFail) {
    TempDir root, scratch;
    const ipct::Scenario big = ipct::load_scenario(source(kLarge));
    ASSERT_GE(processes(big), 4u);
    ASSERT_GE(messages(big), 100000u);
    const std::string out = scratch.path + "/small.yaml";
    auto r = run_binary({"shrink", source(kLarge), "-o", out}, root.path, scratch.path,
                        std::chrono::seconds(280));
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("before: 5 processes, 100002 messages"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("after:  "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("kept"), std::string::npos) << "each step is shown: " << r.err;
    EXPECT_TRUE(root.entries().empty()) << "the shrinker's runs leave nothing behind";

    const std::string text = slurp(out);
    EXPECT_EQ(text.rfind("# Reduced by `ipctorture shrink` from " + source(kLarge), 0), 0u) << text;
    EXPECT_NE(text.find("corrupted/data/consumer"), std::string::npos) << text;
    const ipct::Scenario small = ipct::load_scenario(out);
    EXPECT_LE(processes(small), 2u);
    EXPECT_LE(messages(small), 1000u) << "far fewer than 100,002";
    ASSERT_EQ(small.channels.size(), 1u);
    EXPECT_EQ(small.channels[0].mutant, "whole-read") << "what no step touches stays";
    EXPECT_EQ(small.expect, big.expect);

    // It still fails with the same signature: run until it fails.
    const std::string report = scratch.path + "/r.json";
    auto again = run_binary({"run", out, "--until-fail", "--max", "10", "--json", report},
                            root.path, scratch.path);
    ASSERT_FALSE(again.timed_out);
    EXPECT_EQ(again.status, 1) << again.out << again.err;
    const json j = json::parse(slurp(report));
    ASSERT_FALSE(j["scenarios"].empty());
    const std::vector<std::string> sigs = signatures(j["scenarios"].back());
    EXPECT_NE(std::find(sigs.begin(), sigs.end(), "corrupted/data/consumer"), sigs.end())
        << j["scenarios"].back().dump();
    // The failing run keeps its directory, as every failing run does.
    std::error_code ec;
    for (const auto& d : root.entries()) std::filesystem::remove_all(d, ec);
}

TEST(Shrink, APassingScenarioHasNothingToShrinkToward) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/out.yaml";
    const std::string passing = scratch.path + "/pass.yaml";
    std::ofstream(passing) << "name: pass\nchannels: {a: {backend: pipe}}\nprocesses:\n"
                              "  - {role: producer, channel: a, workload: {messages: 50}}\n"
                              "  - {role: consumer, channel: a}\n";
    auto r = run_binary({"shrink", passing, "-o", out}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("passed with seed 1"), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_TRUE(root.entries().empty());
}

TEST(Shrink, ASignatureTheScenarioDoesNotShowIsExit1) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/out.yaml";
    auto r =
        run_binary({"shrink", source(kSmall), "--signature", "duplicated/data/consumer", "-o", out},
                   root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("does not fail with duplicated/data/consumer"), std::string::npos)
        << r.out;
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_TRUE(root.entries().empty());
}

TEST(Shrink, BadInputIsExit2BeforeAnythingRuns) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/out.yaml";
    struct Case {
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{"shrink", source(kSmall), "--signature", "corrupted/nosuch/consumer", "-o", out},
         "no channel 'nosuch'"},
        {{"shrink", source(kSmall), "--signature", "torn/data/consumer", "-o", out},
         "unknown finding kind 'torn'"},
        {{"shrink", source(kSmall), "--signature", "corrupted-data", "-o", out},
         "expected kind/channel/role"},
        {{"shrink", source(kSmall), "--runs", "2", "--min-fails", "3", "-o", out},
         "--min-fails 3 is more than --runs 2"},
        {{"shrink", source("scenarios/backends/matrix-fan-in.yaml"), "-o", out},
         "name the one to shrink with --cell"},
        {{"shrink", source(kSmall), "--cell", "backend=tcp", "-o", out}, "has no matrix"},
        {{"shrink", source(kSmall), "--budget", "soon", "-o", out}, "expected a positive duration"},
        {{"shrink", scratch.path + "/missing.yaml"}, "cannot open"},
    };
    for (const Case& c : cases) {
        auto r = run_binary(c.args, root.path, scratch.path);
        ASSERT_FALSE(r.timed_out);
        EXPECT_EQ(r.status, 2) << c.says << "\n" << r.out << r.err;
        EXPECT_NE((r.out + r.err).find(c.says), std::string::npos) << r.out << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_TRUE(root.entries().empty()) << "nothing ran";
}

// SIGINT in the middle: the shrinker stops, writes the smallest scenario
// found so far with a header that says so, and exits 128+2.  A run the
// signal caught keeps its directory, as an interrupted `run` does, and
// `clean` removes it.  The signal is sent once the first step is reported;
// the wait for that is bounded and the reduction has many steps left then.
TEST(Shrink, AnInterruptWritesWhatItHasSoFar) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/out.yaml";
    const std::string o = scratch.path + "/shrink.out", e = scratch.path + "/shrink.err";
    const pid_t pid = spawn_binary({"shrink", source(kLarge), "-o", out}, root.path, o, e);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (slurp(e).find("\n[1] ") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::kill(pid, SIGINT);
    bool timed_out = false;
    const int status = wait_bounded(pid, std::chrono::seconds(120), &timed_out);
    ASSERT_FALSE(timed_out);
    EXPECT_EQ(status, 130) << slurp(o) << slurp(e);
    const std::string text = slurp(out);
    EXPECT_NE(text.find("; interrupted."), std::string::npos) << text;
    EXPECT_NO_THROW(ipct::load_scenario(out));
    auto c = run_binary({"clean", "--root", root.path}, root.path, scratch.path);
    EXPECT_EQ(c.status, 0) << c.out << c.err;
    EXPECT_TRUE(root.entries().empty());
}

// With no budget left after the original's runs, the original is written as
// it is (flattened, with its header) and the header says why.
TEST(Shrink, TheBudgetStopsIt) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/out.yaml";
    auto r = run_binary({"shrink", source(kSmall), "--budget", "1ns", "-o", out}, root.path,
                        scratch.path);
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    const std::string text = slurp(out);
    EXPECT_NE(text.find("stopped when the budget"), std::string::npos) << text;
    EXPECT_NE(text.find("0 steps tried"), std::string::npos) << text;
    EXPECT_EQ(ipct::load_scenario(out).processes.size(),
              ipct::load_scenario(source(kSmall)).processes.size());
    EXPECT_TRUE(root.entries().empty());
}

}  // namespace
