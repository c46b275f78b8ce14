// Built only by the tsan preset (IPCT_SANITIZE=thread; see
// cmake/IpctTests.cmake), run by `ci/sanitize tsan`.
//
// Threads mode is what lets ThreadSanitizer see races between the processes
// of a scenario: the planted shm ring without synchronisation, run as
// threads, must produce a `sanitizer` finding that is a TSan data race with
// both access stacks, each attributed to the process (and role) whose
// thread made it.  And the correct shm syncs, run the same way, must give
// TSan nothing to report: no false positive from the harness's own code or
// from the mapping of one object by several threads.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "test_util.hpp"

using namespace ipct::test;

namespace {

nlohmann::json run_json(const std::string& scenario, int& status, std::string& out) {
    TempDir root, scratch;
    const std::string json = scratch.path + "/report.json";
    auto r = run_binary({"run", "--as-threads", source(scenario), "--json", json}, root.path,
                        scratch.path, std::chrono::seconds(300));
    status = r.timed_out ? -1 : r.status;
    out = r.out + r.err;
    return nlohmann::json::parse(slurp(json))["scenarios"][0];
}

}  // namespace

TEST(ThreadsTsan, RaceOnTheUnsynchronisedRingIsReportedWithBothStacks) {
    int status = 0;
    std::string out;
    const auto s = run_json("scenarios/zoo/shm-ring-none.yaml", status, out);
    EXPECT_EQ(status, 1) << out;
    ASSERT_GT(s["counts"]["sanitizer"].get<long>(), 0) << out;
    EXPECT_EQ(s["counts"]["crash"], 0) << "TSan's exit code is the report's, not a crash";
    bool race = false;
    for (const auto& f : s["findings"]) {
        if (f["kind"] != "sanitizer") continue;
        const auto& san = f["sanitizer"];
        EXPECT_EQ(san["tool"], "ThreadSanitizer");
        if (san["kind"] != "data race") continue;
        ASSERT_GE(san["stacks"].size(), 2u) << f.dump(2);
        bool in_ring = false;
        for (int k = 0; k < 2; ++k) {
            const auto& st = san["stacks"][k];
            EXPECT_FALSE(st["frames"].empty()) << f.dump(2);
            ASSERT_TRUE(st["process"].is_object()) << "stack not attributed: " << f.dump(2);
            const std::string role = st["process"]["role"];
            EXPECT_TRUE(role == "producer" || role == "consumer") << role;
            for (const auto& fr : st["frames"])
                in_ring |= fr.get<std::string>().find("shm_ring.cpp") != std::string::npos;
        }
        EXPECT_NE(san["stacks"][0]["process"]["name"], san["stacks"][1]["process"]["name"])
            << "a race is between two threads, each a process of the scenario";
        EXPECT_TRUE(in_ring) << "the race is in the ring's code: " << f.dump(2);
        EXPECT_EQ(san["processes"].size(), 2u);
        race = true;
    }
    EXPECT_TRUE(race) << "no data race among the sanitizer findings: " << s["findings"].dump(2);
}

class ThreadsTsanTwin : public ::testing::TestWithParam<const char*> {};

TEST_P(ThreadsTsanTwin, CorrectSyncGivesTsanNothingToReport) {
    int status = 0;
    std::string out;
    const auto s = run_json(GetParam(), status, out);
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(s["counts"]["sanitizer"], 0) << s["findings"].dump(2);
    EXPECT_EQ(s["verdict"], "PASS");
}

INSTANTIATE_TEST_SUITE_P(Shm, ThreadsTsanTwin,
                         ::testing::Values("scenarios/backends/shm-ring-atomic.yaml",
                                           "scenarios/backends/shm-ring-mutex.yaml",
                                           "scenarios/backends/shm-ring-semaphore.yaml",
                                           "scenarios/backends/shm-counter-atomic.yaml",
                                           "scenarios/backends/shm-snapshot-seqlock.yaml",
                                           "scenarios/smoke/fifo-fan-in-paced.yaml"));
