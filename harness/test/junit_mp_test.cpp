// End-to-end: `run --junit` through the real binary, each report validated
// against harness/test/data/junit.xsd with xmllint.  Every wait is bounded;
// none is a pass condition.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "test_util.hpp"

using namespace ipct::test;

namespace {

const std::string kXsd = source("harness/test/data/junit.xsd");

int validate(const std::string& file, const TempDir& scratch, std::string* why) {
    const std::string log = scratch.path + "/xmllint.out";
    const int st = std::system(
        ("xmllint --noout --schema '" + kXsd + "' '" + file + "' >'" + log + "' 2>&1").c_str());
    *why = slurp(log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}

TEST(Junit, PassingScenarioIsOneTestcaseWithoutFailure) {
    TempDir root, scratch;
    const std::string x = scratch.path + "/r.xml";
    auto r = run_binary({"run", source("scenarios/smoke/pipe-one-to-one.yaml"), "--junit", x},
                        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string why;
    EXPECT_EQ(validate(x, scratch, &why), 0) << why;
    const std::string doc = slurp(x);
    EXPECT_EQ(count(doc, "<testcase "), 1u) << doc;
    EXPECT_EQ(count(doc, "<failure"), 0u) << doc;
    EXPECT_NE(doc.find("name=\"pipe-one-to-one\""), std::string::npos) << doc;
    EXPECT_NE(doc.find("<property name=\"seed\" value=\"1\"/>"), std::string::npos) << doc;
    EXPECT_NE(doc.find("reproduce: ipctorture run "), std::string::npos) << doc;
}

// A planted bug, run until it fails (the cap is far above what the detection
// benchmark needs): the failing repetition has a <failure> with the findings.
TEST(Junit, FailingZooScenarioHasAFailureWithFindingsAndReproduction) {
    TempDir root, scratch;
    const std::string x = scratch.path + "/r.xml";
    auto r = run_binary({"run", source("scenarios/zoo/pipe-fan-in-interleave.yaml"), "--until-fail",
                         "--max", "20", "--junit", x},
                        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 1) << r.err;
    std::string why;
    EXPECT_EQ(validate(x, scratch, &why), 0) << why;
    const std::string doc = slurp(x);
    EXPECT_EQ(count(doc, "<failure "), 1u) << doc;
    EXPECT_TRUE(std::regex_search(
        doc, std::regex("<failure message=\"[0-9]+ findings?: [0-9]+ corrupted[^\"]*\" "
                        "type=\"findings\">corrupted: ")))
        << doc;
    EXPECT_NE(doc.find("evidence: consumer0 (consumer) recv corrupt"), std::string::npos) << doc;
    EXPECT_TRUE(std::regex_search(doc, std::regex("reproduce: ipctorture run \\S+pipe-fan-in-"
                                                  "interleave.yaml --seed [0-9]+\n</failure>")))
        << doc;
    EXPECT_TRUE(std::regex_search(
        doc, std::regex("failures=\"1\" errors=\"0\" skipped=\"0\" time=\"[0-9.]+\">")))
        << doc;
    run_binary({"clean"}, root.path, scratch.path);
}

// A matrix file repeated: one testcase per cell and repetition, each with
// its own name, all in the file's one testsuite.
TEST(Junit, MatrixWithRepeatIsOneTestcasePerCellAndRepetition) {
    TempDir root, scratch;
    const std::string x = scratch.path + "/r.xml",
                      f = source("scenarios/backends/matrix-fan-in.yaml");
    auto cells = run_binary({"validate", f}, root.path, scratch.path);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(cells.out, m, std::regex("ok \\(([0-9]+) matrix cells")))
        << cells.out;
    const std::size_t n = std::stoul(m[1]);
    auto r = run_binary({"run", f, "--repeat", "2", "--junit", x}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string why;
    EXPECT_EQ(validate(x, scratch, &why), 0) << why;
    const std::string doc = slurp(x);
    EXPECT_EQ(count(doc, "<testcase "), 2 * n) << doc;
    EXPECT_EQ(count(doc, "<testsuite "), 1u) << doc;
    EXPECT_EQ(count(doc, "[backend=tcp] (repetition 2)\""), 1u) << doc;
    EXPECT_EQ(count(doc, " (repetition 1)\""), n) << doc;
}

const char* kLong = R"(name: long-fifo
seed: 9
timeout: 120s
channels:
  data: {backend: fifo}
processes:
  - role: producer
    channel: data
    workload: {duration: 60s, rate: 2000, size: 256}
  - role: consumer
    channel: data
)";

// Starts `run FILE SCENARIO --junit X` in the background and waits (bounded)
// until the consumer of the first scenario has received something.
pid_t start_long_run(const TempDir& root, const TempDir& scratch, const std::string& junit,
                     const std::vector<std::string>& more = {}) {
    const std::string f = scratch.path + "/long.yaml";
    std::ofstream(f) << kLong;
    std::vector<std::string> args{"run", f};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {"--junit", junit});
    const pid_t pid =
        spawn_binary(args, root.path, scratch.path + "/stdout", scratch.path + "/stderr");
    for (int i = 0; i < 3000; ++i) {
        for (auto& e : std::filesystem::directory_iterator(root.path)) {
            try {
                if (ipct::EventLogReader((e.path() / "events.1.log").string()).size() > 8)
                    return pid;
            } catch (const std::exception&) {
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pid;
}

// SIGINT: the live run is an <error type="interrupted">, the scenario after
// it <skipped>, and the report is valid.
TEST(Junit, InterruptedRunIsAnErrorAndTheRestSkipped) {
    TempDir root, scratch;
    const std::string x = scratch.path + "/r.xml";
    const pid_t pid =
        start_long_run(root, scratch, x, {source("scenarios/smoke/pipe-one-to-one.yaml")});
    ::kill(pid, SIGINT);
    bool timed_out = false;
    const int st = wait_bounded(pid, std::chrono::seconds(120), &timed_out);
    ASSERT_FALSE(timed_out);
    EXPECT_EQ(st, 130) << slurp(scratch.path + "/stderr");
    std::string why;
    EXPECT_EQ(validate(x, scratch, &why), 0) << why;
    const std::string doc = slurp(x);
    EXPECT_NE(doc.find("<error message=\"interrupted by SIGINT: results cover what ran so far\" "
                       "type=\"interrupted\">"),
              std::string::npos)
        << doc;
    EXPECT_NE(doc.find("name=\"pipe-one-to-one\" time=\"0.000\""), std::string::npos) << doc;
    EXPECT_NE(doc.find("<skipped message=\"not run: an earlier run was interrupted\"/>"),
              std::string::npos)
        << doc;
    run_binary({"clean"}, root.path, scratch.path);
}

// SIGKILL mid-run: the report from before is still whole, and no temporary
// file is left beside it (the report is only ever written at the end, by
// rename).
TEST(Junit, AKilledRunLeavesTheOldReportWhole) {
    TempDir root, scratch;
    const std::string x = scratch.path + "/reports/r.xml";
    std::filesystem::create_directory(scratch.path + "/reports");
    std::ofstream(x) << "an older report";
    const pid_t pid = start_long_run(root, scratch, x);
    ::kill(pid, SIGKILL);
    wait_bounded(pid, std::chrono::seconds(30));
    EXPECT_EQ(slurp(x), "an older report");
    std::size_t files = 0;
    for (auto& e : std::filesystem::directory_iterator(scratch.path + "/reports")) {
        (void)e;
        ++files;
    }
    EXPECT_EQ(files, 1u);
    run_binary({"clean"}, root.path, scratch.path);
}

// detect --junit: a testcase per zoo entry and per twin.  A planted bug
// given as its own twin is caught, and as a twin that is a failure.
TEST(Junit, DetectWritesATestcasePerEntryAndTwin) {
    TempDir root, scratch;
    namespace fs = std::filesystem;
    const std::string zoo = scratch.path + "/zoo";
    fs::create_directories(zoo + "/twins");
    const std::string f = source("scenarios/zoo/pipe-fan-in-interleave.yaml");
    fs::copy_file(f, zoo + "/pipe-fan-in-interleave.yaml");
    fs::copy_file(f, zoo + "/twins/pipe-fan-in-interleave.yaml");
    const std::string x = scratch.path + "/d.xml";
    auto r = run_binary(
        {"detect", zoo, "--until-found", "--max", "20", "--twin-runs", "1", "--junit", x},
        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.err;
    std::string why;
    EXPECT_EQ(validate(x, scratch, &why), 0) << why;
    const std::string doc = slurp(x);
    EXPECT_NE(doc.find("<testsuite name=\"zoo\" tests=\"1\" failures=\"0\" errors=\"0\">"),
              std::string::npos)
        << doc;
    EXPECT_NE(doc.find("<testsuite name=\"twins\" tests=\"1\" failures=\"1\" errors=\"0\">"),
              std::string::npos)
        << doc;
    EXPECT_TRUE(std::regex_search(
        doc, std::regex("<failure message=\"1 of 1 runs detected, 1 failing, 0 errors\" "
                        "type=\"false positive\">FAIL: ipctorture run \\S+ --seed [0-9]+\n")))
        << doc;
    run_binary({"clean"}, root.path, scratch.path);
}

TEST(Junit, UnwritablePathIsAnEnvironmentErrorBeforeAnythingRuns) {
    TempDir root, scratch;
    auto r = run_binary({"run", source("scenarios/smoke/pipe-one-to-one.yaml"), "--junit",
                         scratch.path + "/no/such/dir/r.xml"},
                        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 3);
    EXPECT_NE(r.err.find("cannot write " + scratch.path + "/no/such/dir/r.xml: No such file"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("running"), std::string::npos) << "nothing ran: " << r.err;
    EXPECT_TRUE(root.entries().empty());
}

}  // namespace
