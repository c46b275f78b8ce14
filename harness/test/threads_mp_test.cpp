// Threads mode end to end (`run --as-threads`): the bundled correct
// scenarios pass as threads of one worker, as they do as processes; the
// checker's findings on planted bugs still appear, and only those; what
// threads mode cannot run is refused as a scenario error; a hung thread is
// told apart from the threads that had finished.  Every wait is bounded;
// none is a pass condition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace ipct::test;

namespace {

nlohmann::json read_json(const std::string& p) {
    return nlohmann::json::parse(slurp(p));
}

// Bundled scenarios of the correct kind that threads mode can run: every
// file of scenarios/backends and scenarios/smoke without signals.
std::vector<std::string> correct_scenarios() {
    std::vector<std::string> v;
    for (const char* dir : {"scenarios/backends", "scenarios/smoke"})
        for (const auto& e : fs::directory_iterator(source(dir))) {
            const std::string text = slurp(e.path().string());
            if (e.path().extension() != ".yaml" || text.find("signal") != std::string::npos)
                continue;
            v.push_back(std::string(dir) + "/" + e.path().filename().string());
        }
    std::sort(v.begin(), v.end());
    return v;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& i) {
    std::string n = i.param.substr(i.param.find('/') + 1);
    for (char& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return n;
}

class ThreadsCorrect : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(ThreadsCorrect, PassesAsThreadsAsItDoesAsProcesses) {
    TempDir root, scratch;
    const std::string json = scratch.path + "/report.json";
    auto r = run_binary({"run", "--as-threads", source(GetParam()), "--json", json}, root.path,
                        scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    auto j = read_json(json);
    for (auto& s : j["scenarios"]) {
        EXPECT_EQ(s["verdict"], "PASS") << s["name"];
        EXPECT_EQ(s["as_threads"], true);
        EXPECT_NE(s["reproduce"].get<std::string>().find("--as-threads"), std::string::npos);
        std::uint64_t sent = 0;
        for (auto& c : s["channels"]) sent += c["sent"].get<std::uint64_t>();
        EXPECT_GT(sent, 0u) << s["name"] << ": nothing ran";
        std::set<long> pids;
        for (auto& p : s["processes"]) {
            pids.insert(p["pid"].get<long>());
            EXPECT_EQ(p["exit_code"], 0) << p["name"];
        }
        EXPECT_EQ(pids.size(), 1u) << "every process is a thread of one worker";
    }
    EXPECT_TRUE(root.entries().empty()) << "a passing run leaves nothing";
}

INSTANTIATE_TEST_SUITE_P(Bundled, ThreadsCorrect, ::testing::ValuesIn(correct_scenarios()),
                         test_name);

namespace {

// Planted bugs whose finding does not depend on the schedule, and what they
// must not be called.
struct ZooCase {
    std::string file;
    std::vector<std::string> caught, never;
};
const std::vector<ZooCase> kZoo = {
    {"scenarios/zoo/shm-counter-none.yaml", {"lost_update"}, {"corrupted", "crash", "hang"}},
    {"scenarios/zoo/pipe-fan-in-interleave.yaml",
     {"corrupted"},
     {"lost", "duplicated", "crash", "hang"}},
};

}  // namespace

TEST(Threads, PlantedBugsAreCaughtAsWhatTheyAre) {
    for (const ZooCase& z : kZoo) {
        TempDir root, scratch;
        const std::string json = scratch.path + "/report.json";
        auto r = run_binary({"run", "--as-threads", source(z.file), "--json", json}, root.path,
                            scratch.path);
        ASSERT_FALSE(r.timed_out);
        EXPECT_EQ(r.status, 1) << z.file << r.out << r.err;
        auto s = read_json(json)["scenarios"][0];
        for (const std::string& k : z.caught)
            EXPECT_GT(s["counts"][k].get<long>(), 0) << z.file << " not caught as " << k;
        for (const std::string& k : z.never)
            EXPECT_EQ(s["counts"][k].get<long>(), 0) << z.file << " wrongly called " << k;
        const std::string dir = s["run_dir"];
        EXPECT_TRUE(fs::exists(dir + "/worker.threads.log"));
        EXPECT_TRUE(fs::exists(dir + "/threads.status"));
        // `check` re-judges it the same way, and knows the mode.
        auto c = run_binary({"check", dir, "--json", json}, root.path, scratch.path);
        EXPECT_EQ(c.status, 1) << c.err;
        auto again = read_json(json)["scenarios"][0];
        EXPECT_EQ(again["counts"], s["counts"]);
        EXPECT_NE(again["reproduce"].get<std::string>().find("--as-threads"), std::string::npos);
    }
}

TEST(Threads, WhatOnlyProcessesCanDoIsAScenarioError) {
    TempDir root, scratch;
    for (const char* f : {"scenarios/backends/signal-standard.yaml",
                          "scenarios/backends/signaler-storm-pipe.yaml"}) {
        auto r = run_binary({"run", "--as-threads", source(f)}, root.path, scratch.path);
        ASSERT_FALSE(r.timed_out);
        EXPECT_EQ(r.status, 2) << f << r.out << r.err;
        EXPECT_NE(r.err.find(std::string(f) + ":"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("--as-threads"), std::string::npos) << r.err;
    }
    EXPECT_TRUE(root.entries().empty()) << "nothing ran";
}

// Two independent channels: one finishes at once, the other's producer
// runs past the timeout.  The watchdog ends the worker process; only the
// threads still running are hung, the finished ones ended cleanly.
TEST(Threads, AHungThreadIsToldFromTheFinishedOnes) {
    TempDir root, scratch;
    const std::string file = scratch.path + "/hang.yaml";
    std::ofstream(file) << R"(name: threads-hang
seed: 3
timeout: 2s
channels:
  quick: {backend: pipe}
  slow: {backend: fifo}
processes:
  - {role: producer, name: fast, channel: quick, workload: {messages: 50, size: 64}}
  - {role: consumer, name: done, channel: quick}
  - {role: producer, name: long, channel: slow, workload: {duration: 60s, rate: 100, size: 64}}
  - {role: consumer, name: waiting, channel: slow}
)";
    const std::string json = scratch.path + "/report.json";
    auto r = run_binary({"run", "--as-threads", file, "--json", json}, root.path, scratch.path,
                        std::chrono::seconds(60));
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    auto s = read_json(json)["scenarios"][0];
    EXPECT_EQ(s["counts"]["hang"], 2) << s.dump(2);
    EXPECT_EQ(s["counts"]["crash"], 0);
    EXPECT_EQ(s["counts"]["lost"], 0) << "a killed consumer proves no loss";
    std::map<std::string, nlohmann::json> procs;
    for (auto& p : s["processes"]) procs[p["name"]] = p;
    EXPECT_EQ(procs["fast"]["exit_code"], 0);
    EXPECT_EQ(procs["done"]["exit_code"], 0);
    EXPECT_EQ(procs["fast"]["killed_by_harness"], false);
    EXPECT_EQ(procs["long"]["killed_by_harness"], true);
    EXPECT_EQ(procs["waiting"]["killed_by_harness"], true);
    for (auto& f : s["findings"])
        if (f["kind"] == "hang") {
            const std::string sum = f["summary"];
            EXPECT_TRUE(sum.find("long") != std::string::npos ||
                        sum.find("waiting") != std::string::npos)
                << sum;
        }
}
