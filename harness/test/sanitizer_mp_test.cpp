// Sanitizer reports in workers' output, end to end without a sanitizer
// build: a stand-in worker runs the real one, then prints a report in a
// runtime's format and exits with the runtime's code (66, TSan's default),
// as a worker of a sanitizer build would.  The run must fail with one
// `sanitizer` finding per report, attributed to the right processes, and
// no crash finding for the exit code the report explains.  (The tsan build
// runs a real ThreadSanitizer report through the same path:
// threads_tsan_mp_test.cpp.)
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "ipctorture/orchestrator.hpp"
#include "ipctorture/report.hpp"
#include "test_util.hpp"

using namespace ipct;
using namespace ipct::test;

namespace {

const char* kScenario = R"(name: fake-sanitizer
seed: 5
timeout: 60s
channels:
  data: {backend: pipe}
processes:
  - role: producer
    channel: data
    workload: {messages: 200, size: 64}
  - role: consumer
    channel: data
)";

// In the format of clang's TSan, for a threads-mode worker whose threads
// ipct-p0 (the producer) and ipct-p1 (the consumer) raced.
const char* kRace = R"(==================
WARNING: ThreadSanitizer: data race (pid=1)
  Write of size 8 at 0x7b0400000010 by thread T1:
    #0 ipct::put(void*) /src/backends/x.cpp:10:3 (ipctorture+0x1)
    #1 ipct::send() /src/backends/x.cpp:20:3 (ipctorture+0x2)

  Previous read of size 8 at 0x7b0400000010 by thread T2:
    #0 ipct::take(void*) /src/backends/x.cpp:30:3 (ipctorture+0x3)

  Thread T1 'ipct-p0' (tid=11, running) created by main thread at:
    #0 pthread_create <null> (ipctorture+0x4)

  Thread T2 'ipct-p1' (tid=12, running) created by main thread at:
    #0 pthread_create <null> (ipctorture+0x4)

SUMMARY: ThreadSanitizer: data race /src/backends/x.cpp:10:3 in ipct::put(void*)
==================
)";

// The stand-in worker: the real worker (without --parent: it is not the
// orchestrator's child), then the report on stderr, then `code`.  The
// script drops its copies of the inherited fds once the worker runs: a pipe
// write end it kept would keep the readers from ever seeing end-of-file
// (fd 255 is bash's own, the script).
std::string fake_worker(const std::string& dir, const std::string& report, int code) {
    const std::string rep = dir + "/report.txt";
    std::ofstream(rep) << report;
    const std::string path = dir + "/worker.sh";
    std::ofstream(path)
        << "#!/bin/bash\n"
           "args=()\n"
           "while [ $# -gt 0 ]; do\n"
           "  if [ \"$1\" = --parent ]; then shift 2; continue; fi\n"
           "  args+=(\"$1\"); shift\n"
           "done\n"
        << "'" << IPCT_BINARY << "' \"${args[@]}\" &\n"
        << "child=$!\n"
           "for f in /proc/$$/fd/*; do\n"
           "  n=${f##*/}\n"
           "  if [ \"$n\" -gt 2 ] && [ \"$n\" -ne 255 ]; then eval \"exec $n>&-\"; fi\n"
           "done\n"
           "wait $child || exit $?\n"
        << "cat '" << rep << "' >&2\n"
        << "exit " << code << "\n";
    ::chmod(path.c_str(), 0700);
    return path;
}

RunOutcome run(const std::string& root, const std::string& worker, bool threads) {
    RunOptions o;
    o.run_root = root;
    o.worker_exe = worker;
    o.as_threads = threads;
    return run_scenario(load_scenario_text(kScenario, "fake-sanitizer.yaml"), o);
}

std::uint64_t count(const RunOutcome& o, FindingKind k) {
    return o.result.counts[static_cast<int>(k)];
}

}  // namespace

TEST(SanitizerRun, ThreadsModeReportNamesBothThreadsProcesses) {
    TempDir root, scratch;
    const RunOutcome o = run(root.path, fake_worker(scratch.path, kRace, 66), true);
    EXPECT_FALSE(o.result.pass());
    ASSERT_EQ(count(o, FindingKind::kSanitizer), 1u);
    EXPECT_EQ(count(o, FindingKind::kCrash), 0u) << "exit 66 is the report's, not a crash";
    EXPECT_EQ(count(o, FindingKind::kLost), 0u);
    const Finding& f = o.result.findings.at(0);
    ASSERT_EQ(f.kind, FindingKind::kSanitizer);
    ASSERT_TRUE(f.sanitizer.has_value());
    EXPECT_EQ(f.sanitizer->processes, (std::vector<std::uint32_t>{0, 1}));
    ASSERT_EQ(f.sanitizer->stacks.size(), 2u);
    EXPECT_EQ(f.sanitizer->stacks[0].process, 0u);
    EXPECT_EQ(f.sanitizer->stacks[1].process, 1u);
    EXPECT_NE(f.summary.find("data race in producer0 (producer) and consumer0 (consumer)"),
              std::string::npos)
        << f.summary;
    // The JSON report carries the stacks with their processes and roles.
    const nlohmann::json j = finding_json(f, o.plan);
    EXPECT_EQ(j["kind"], "sanitizer");
    EXPECT_EQ(j["sanitizer"]["kind"], "data race");
    EXPECT_EQ(j["sanitizer"]["stacks"][1]["process"]["name"], "consumer0");
    EXPECT_EQ(j["sanitizer"]["stacks"][1]["process"]["role"], "consumer");
    EXPECT_EQ(j["sanitizer"]["stacks"][0]["frames"][0],
              "#0 ipct::put(void*) /src/backends/x.cpp:10:3");
}

TEST(SanitizerRun, ProcessModeReportBelongsToTheWorkerThatPrintedIt) {
    TempDir root, scratch;
    const RunOutcome o = run(root.path, fake_worker(scratch.path, kRace, 66), false);
    // Each of the two workers printed one report.
    ASSERT_EQ(count(o, FindingKind::kSanitizer), 2u);
    EXPECT_EQ(count(o, FindingKind::kCrash), 0u);
    for (std::uint32_t p = 0; p < 2; ++p) {
        const Finding& f = o.result.findings.at(p);
        ASSERT_TRUE(f.sanitizer.has_value());
        EXPECT_EQ(f.sanitizer->processes, (std::vector<std::uint32_t>{p}));
        EXPECT_EQ(f.sanitizer->output_of, (std::vector<std::uint32_t>{p}));
    }
}

TEST(SanitizerRun, ReportWithACleanExitStillFailsTheRun) {
    TempDir root, scratch;
    const RunOutcome o = run(root.path, fake_worker(scratch.path, kRace, 0), true);
    EXPECT_EQ(count(o, FindingKind::kSanitizer), 1u);
    EXPECT_FALSE(o.result.pass());
}

TEST(SanitizerRun, TheSameExitWithoutAReportIsACrash) {
    TempDir root, scratch;
    const RunOutcome o = run(root.path, fake_worker(scratch.path, "", 66), false);
    EXPECT_EQ(count(o, FindingKind::kSanitizer), 0u);
    EXPECT_EQ(count(o, FindingKind::kCrash), 2u);
}
