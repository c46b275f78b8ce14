// Sanitizer reports in worker output: the parser on report texts written in
// the runtimes' formats (TSan, ASan, LSan, UBSan), with the harness's own log
// lines mixed in, several reports, and reports cut short; attribution to
// processes; and the checker's `sanitizer` findings, including that a
// sanitizer's exit code is not also reported as a crash.
#include "ipctorture/sanitizer.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "checker_history.hpp"

using namespace ipct;
using namespace ipct::checker_test;

namespace {

// A TSan data race between two threads of a threads-mode worker, as
// clang's runtime prints it (stack frames trimmed to a few).
const char* kTsanRace = R"(==================
WARNING: ThreadSanitizer: data race (pid=4242)
  Write of size 8 at 0x7ff74c91f400 by thread T1:
    #0 memcpy <null> (ipctorture+0x710fe) (BuildId: 19c9537f)
    #1 ipct::shm::RingEndpoint::put(ipct::shm::SlotHead*) /src/build/tsan/../../backends/shm/shm_ring.cpp:65:9 (ipctorture+0x263fcb) (BuildId: 19c9537f)
    #2 ipct::shm::RingEndpoint::send_none(std::span<std::byte const>) /src/backends/shm/shm_ring.cpp:278:9 (ipctorture+0x263fcb)

  Previous read of size 8 at 0x7ff74c91f400 by thread T6 (mutexes: write M7):
    #0 memcpy <null> (ipctorture+0x710fe) (BuildId: 19c9537f)
    #1 ipct::shm::RingEndpoint::take(ipct::shm::SlotHead*) /src/backends/shm/shm_ring.cpp:76:9 (ipctorture+0x264892)

  Location is global '??' at 0x7ff74c91f000 (ipct-run-ring-2da125c8+0x400)

  Thread T1 'ipct-p0' (tid=4250, running) created by main thread at:
    #0 pthread_create <null> (ipctorture+0x66e8d)
    #1 ipct::cli_main(int, char**) /src/harness/src/engine/cli.cpp:261:32 (ipctorture+0xe9bec)

  Thread T6 'ipct-p5' (tid=4255, running) created by main thread at:
    #0 pthread_create <null> (ipctorture+0x66e8d)

SUMMARY: ThreadSanitizer: data race (/src/build/tsan/harness/ipctorture+0x710fe) in __interceptor_memcpy
==================
)";

const char* kAsanUseAfterFree = R"(=================================================================
==777==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010 at pc 0x55d4c bp 0x7ffd sp 0x7ffc
READ of size 4 at 0x602000000010 thread T2 (ipct-p1)
    #0 0x55d4c in ipct::consume(int*) /src/harness/src/engine/roles.cpp:120:12
    #1 0x55e00 in ipct::run_consumer(ipct::RoleContext&) /src/harness/src/engine/roles.cpp:180:5
    #2 0x7f3a1 in start_thread (/lib/x86_64-linux-gnu/libc.so.6+0x89044) (BuildId: 8a1b)

0x602000000010 is located 0 bytes inside of 4-byte region [0x602000000010,0x602000000014)
freed by thread T1 (ipct-p0) here:
    #0 0x4a1b2 in operator delete(void*) (/src/ipctorture+0x4a1b2)
    #1 0x55a00 in ipct::produce() /src/harness/src/engine/roles.cpp:90:3

previously allocated by thread T1 (ipct-p0) here:
    #0 0x4a000 in operator new(unsigned long) (/src/ipctorture+0x4a000)
    #1 0x55900 in ipct::produce() /src/harness/src/engine/roles.cpp:85:14

Thread T2 (ipct-p1) created by T0 here:
    #0 0x4b000 in pthread_create (/src/ipctorture+0x4b000)

SUMMARY: AddressSanitizer: heap-use-after-free /src/harness/src/engine/roles.cpp:120:12 in ipct::consume(int*)
Shadow bytes around the buggy address:
  0x0c047fff7fb0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
=>0x0c047fff8000: fa fa[fd]fa fa fa fa fa fa fa fa fa fa fa fa fa
Shadow byte legend (one shadow byte represents 8 application bytes):
  Addressable:           00
  Freed heap region:       fd
==777==ABORTING
)";

const char* kUbsanOverflow =
    R"(/src/harness/src/engine/roles.cpp:42:17: runtime error: signed integer overflow: 2147483647 + 1 cannot be represented in type 'int'
    #0 0x5a1 in ipct::draw_size(ipct::SizeDist const&, ipct::Rng&) /src/harness/src/engine/roles.cpp:42:17
    #1 0x5b2 in ipct::run_producer(ipct::RoleContext&) /src/harness/src/engine/roles.cpp:77:40
SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior /src/harness/src/engine/roles.cpp:42:17 in 
)";

const char* kLsanLeak = R"(
=================================================================
==901==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 64 byte(s) in 1 object(s) allocated from:
    #0 0x4a000 in operator new(unsigned long) (/src/ipctorture+0x4a000)
    #1 0x55900 in ipct::open_endpoint() /src/harness/src/engine/worker.cpp:40:10

SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).
)";

std::string log_line(const char* what) {
    return std::string("[15:01:02.345] [worker] [pid 4242] [consumer0] warning: ") + what + "\n";
}

std::vector<SanitizerReport> parse(const std::string& s) {
    return parse_sanitizer_output(s);
}

}  // namespace

TEST(SanitizerParse, TsanRaceHasBothAccessStacksAndThreadNames) {
    auto v = parse(kTsanRace);
    ASSERT_EQ(v.size(), 1u);
    const SanitizerReport& r = v[0];
    EXPECT_EQ(r.tool, "ThreadSanitizer");
    EXPECT_EQ(r.kind, "data race");
    EXPECT_EQ(r.pid, 4242);
    EXPECT_FALSE(r.truncated);
    ASSERT_EQ(r.stacks.size(), 2u) << "thread creation stacks are not access stacks";
    EXPECT_EQ(r.stacks[0].title, "Write of size 8 at 0x7ff74c91f400 by thread T1");
    EXPECT_EQ(r.stacks[0].thread, "T1");
    ASSERT_EQ(r.stacks[0].frames.size(), 3u);
    EXPECT_EQ(r.stacks[0].frames[0], "#0 memcpy (ipctorture+0x710fe)");
    EXPECT_EQ(r.stacks[0].frames[1],
              "#1 ipct::shm::RingEndpoint::put(ipct::shm::SlotHead*) "
              "/src/backends/shm/shm_ring.cpp:65:9");
    EXPECT_EQ(r.stacks[1].thread, "T6");
    ASSERT_EQ(r.stacks[1].frames.size(), 2u);
    ASSERT_EQ(r.threads.size(), 2u) << "the mutex set is not a thread name";
    EXPECT_EQ(r.threads[0], (std::pair<std::string, std::string>{"T1", "ipct-p0"}));
    EXPECT_EQ(r.threads[1], (std::pair<std::string, std::string>{"T6", "ipct-p5"}));
}

TEST(SanitizerParse, AsanUseAfterFreeKeepsItsStacksAndSkipsTheShadowMap) {
    auto v = parse(kAsanUseAfterFree);
    ASSERT_EQ(v.size(), 1u);
    const SanitizerReport& r = v[0];
    EXPECT_EQ(r.tool, "AddressSanitizer");
    EXPECT_EQ(r.kind, "heap-use-after-free");
    EXPECT_EQ(r.pid, 777);
    EXPECT_FALSE(r.truncated);
    ASSERT_EQ(r.stacks.size(), 3u);
    EXPECT_EQ(r.stacks[0].title, "READ of size 4 at 0x602000000010 thread T2 (ipct-p1)");
    EXPECT_EQ(r.stacks[0].thread, "T2");
    EXPECT_EQ(r.stacks[0].frames[0],
              "#0 ipct::consume(int*) /src/harness/src/engine/roles.cpp:120:12");
    EXPECT_EQ(r.stacks[0].frames[2], "#2 start_thread (/lib/x86_64-linux-gnu/libc.so.6+0x89044)")
        << "a frame without a source line keeps its module";
    EXPECT_EQ(r.stacks[1].title, "freed by thread T1 (ipct-p0) here");
    EXPECT_EQ(r.stacks[1].thread, "T1");
    EXPECT_EQ(r.stacks[2].title, "previously allocated by thread T1 (ipct-p0) here");
    ASSERT_EQ(r.threads.size(), 2u);
    EXPECT_EQ(r.threads[0].second, "ipct-p1");
    EXPECT_EQ(r.threads[1].second, "ipct-p0");
}

TEST(SanitizerParse, UbsanRuntimeErrorKindIsTheMessageBeforeItsDetails) {
    auto v = parse(kUbsanOverflow);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].tool, "UndefinedBehaviorSanitizer");
    EXPECT_EQ(v[0].kind, "runtime error: signed integer overflow");
    EXPECT_EQ(v[0].location, "/src/harness/src/engine/roles.cpp:42:17");
    ASSERT_EQ(v[0].stacks.size(), 1u);
    EXPECT_EQ(v[0].stacks[0].title, "");
    EXPECT_EQ(v[0].stacks[0].frames.size(), 2u);
    EXPECT_FALSE(v[0].truncated);
}

TEST(SanitizerParse, LeakReport) {
    auto v = parse(kLsanLeak);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].tool, "LeakSanitizer");
    EXPECT_EQ(v[0].kind, "detected memory leaks");
    ASSERT_EQ(v[0].stacks.size(), 1u);
    EXPECT_EQ(v[0].stacks[0].title, "Direct leak of 64 byte(s) in 1 object(s) allocated from");
    EXPECT_EQ(v[0].stacks[0].frames.size(), 2u);
}

TEST(SanitizerParse, SeveralReportsWithLogLinesAroundAndInside) {
    // The harness's own lines before, between and inside reports (another
    // thread logging while the runtime prints), and colour codes.
    std::string race = kTsanRace;
    const std::size_t at = race.find("    #1 ipct::shm::RingEndpoint::take");
    race.insert(at, log_line("receive: EAGAIN, retrying: runtime error: none"));
    race.insert(race.find("  Previous read"), log_line("a line that ends in a colon:"));
    const std::string text = log_line("starting") + "\x1b[1m\x1b[31m" + race + "\x1b[0m" +
                             log_line("between") + kUbsanOverflow + kAsanUseAfterFree +
                             log_line("after") + "ThreadSanitizer: reported 1 warnings\n";
    auto v = parse(text);
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v[0].kind, "data race");
    ASSERT_EQ(v[0].stacks.size(), 2u);
    EXPECT_EQ(v[0].stacks[1].frames.size(), 2u) << "the interleaved line is not a frame";
    EXPECT_EQ(v[0].stacks[1].title,
              "Previous read of size 8 at 0x7ff74c91f400 by thread T6 (mutexes: write M7)");
    EXPECT_EQ(v[1].kind, "runtime error: signed integer overflow");
    EXPECT_EQ(v[2].kind, "heap-use-after-free");
    for (const auto& r : v) EXPECT_FALSE(r.truncated);
}

TEST(SanitizerParse, ReportCutShortIsKeptAndMarked) {
    std::string race = kTsanRace;
    race.resize(race.find("  Previous read") + 40);  // mid-line, mid-report
    auto v = parse(race);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_TRUE(v[0].truncated);
    EXPECT_EQ(v[0].kind, "data race");
    ASSERT_GE(v[0].stacks.size(), 1u);
    EXPECT_EQ(v[0].stacks[0].frames.size(), 3u);
}

TEST(SanitizerParse, ReportCutByTheNextOneIsMarkedAndTheNextIsWhole) {
    std::string race = kTsanRace;
    race.resize(race.find("  Location is"));
    auto v = parse(race + kAsanUseAfterFree);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_TRUE(v[0].truncated);
    EXPECT_EQ(v[0].stacks.size(), 2u);
    EXPECT_FALSE(v[1].truncated);
    EXPECT_EQ(v[1].stacks.size(), 3u);
}

TEST(SanitizerParse, OrdinaryOutputHasNoReport) {
    const std::string text = log_line("consumer0: runtime error: this is our own log line") +
                             "==123==WARNING: AddressSanitizer failed to allocate 0x1000 bytes\n"
                             "ThreadSanitizer: reported 2 warnings\n"
                             "SUMMARY: ThreadSanitizer: data race in foo\n"
                             "    #0 0x1 in orphan_frame() a.cpp:1\n"
                             "=================================================================\n"
                             "ipctorture: harness error: something: runtime error\n";
    EXPECT_TRUE(parse(text).empty());
    EXPECT_TRUE(parse("").empty());
}

TEST(SanitizerParse, FramesAndStacksAreCapped) {
    std::string t = "WARNING: ThreadSanitizer: data race (pid=1)\n";
    for (int s = 0; s < 10; ++s) {
        t += "  Read of size 1 at 0x1 by thread T" + std::to_string(s + 1) + ":\n";
        for (int f = 0; f < 20; ++f) t += "    #" + std::to_string(f) + " f() a.cpp:1\n";
    }
    t += "SUMMARY: ThreadSanitizer: data race\n";
    auto v = parse(t);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].stacks.size(), kSanitizerMaxStacks);
    for (const auto& st : v[0].stacks) EXPECT_EQ(st.frames.size(), kSanitizerMaxFrames);
}

TEST(SanitizerAttribute, ThreadsModeNamesTheProcessOfEachStack) {
    auto v = parse(kTsanRace);
    attribute_sanitizer_reports(v, kNoSanitizerProcess, 6);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].stacks[0].process, 0u);
    EXPECT_EQ(v[0].stacks[1].process, 5u);
    EXPECT_EQ(v[0].processes, (std::vector<std::uint32_t>{0, 5}));
    EXPECT_EQ(v[0].output_of.size(), 6u);

    // A name out of the plan, or no name (UBSan): attributed to no process.
    auto w = parse(kTsanRace);
    attribute_sanitizer_reports(w, kNoSanitizerProcess, 3);
    EXPECT_EQ(w[0].processes, (std::vector<std::uint32_t>{0}));
    auto u = parse(kUbsanOverflow);
    attribute_sanitizer_reports(u, kNoSanitizerProcess, 3);
    EXPECT_TRUE(u[0].processes.empty());
}

TEST(SanitizerAttribute, ProcessModeGivesEveryStackToTheWorker) {
    auto v = parse(kAsanUseAfterFree);
    attribute_sanitizer_reports(v, 2, 4);
    EXPECT_EQ(v[0].output_of, (std::vector<std::uint32_t>{2}));
    EXPECT_EQ(v[0].processes, (std::vector<std::uint32_t>{2}));
    for (const auto& st : v[0].stacks) EXPECT_EQ(st.process, 2u);
}

TEST(SanitizerAttribute, ThreadNames) {
    EXPECT_EQ(sanitizer_thread_name(12), "ipct-p12");
    EXPECT_LE(sanitizer_thread_name(999999999).size(), 15u)
        << "the kernel's limit on a thread name";
    EXPECT_EQ(process_of_thread_name("ipct-p12"), 12u);
    EXPECT_EQ(process_of_thread_name("ipct-p"), kNoSanitizerProcess);
    EXPECT_EQ(process_of_thread_name("ipct-p1x"), kNoSanitizerProcess);
    EXPECT_EQ(process_of_thread_name("worker"), kNoSanitizerProcess);
}

namespace {

// producer0 -> ch -> consumer0, with a sanitizer report in the consumer's
// output (process mode) and the consumer's end given by `status`.
CheckResult check_with_report(int status, bool report) {
    OneToOne t(3);
    t.h.worker_status(t.prod, 0, false);
    t.h.worker_status(t.cons, status, false);
    std::vector<SanitizerReport> reports;
    if (report) {
        reports = parse_sanitizer_output(kAsanUseAfterFree);
        attribute_sanitizer_reports(reports, t.cons, 2);
    }
    HistoryView h;
    h.plan = &t.h.plan;
    for (const auto& l : t.h.logs) h.logs.emplace_back(l);
    h.orchestrator = t.h.orch;
    h.sanitizer = reports;
    return check_history(h);
}

}  // namespace

TEST(SanitizerFinding, ReportIsAFindingAttributedToItsProcess) {
    CheckResult r = check_with_report(0, true);
    EXPECT_FALSE(r.pass());
    ASSERT_EQ(count(r, FindingKind::kSanitizer), 1u);
    auto f = of_kind(r, FindingKind::kSanitizer);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0]->summary.substr(0, 56),
              "AddressSanitizer: heap-use-after-free in consumer0 (cons");
    EXPECT_NE(f[0]->summary.find("at ipct::consume (roles.cpp:120:12)"), std::string::npos)
        << f[0]->summary;
    ASSERT_TRUE(f[0]->sanitizer.has_value());
    EXPECT_EQ(f[0]->sanitizer->stacks.size(), 3u);
    EXPECT_STREQ(finding_kind_name(FindingKind::kSanitizer), "sanitizer");
}

TEST(SanitizerFinding, TheSanitizersExitIsNotAlsoACrash) {
    for (int status : {66 << 8, 1 << 8, SIGABRT}) {
        CheckResult r = check_with_report(status, true);
        EXPECT_EQ(count(r, FindingKind::kSanitizer), 1u) << status;
        EXPECT_EQ(count(r, FindingKind::kCrash), 0u) << status;
    }
}

TEST(SanitizerFinding, AnUnrelatedSignalOrAnUnexplainedExitIsStillACrash) {
    CheckResult r = check_with_report(SIGSEGV, true);
    EXPECT_EQ(count(r, FindingKind::kSanitizer), 1u);
    EXPECT_EQ(count(r, FindingKind::kCrash), 1u) << "no runtime ends a process with SIGSEGV";
    r = check_with_report(66 << 8, false);
    EXPECT_EQ(count(r, FindingKind::kSanitizer), 0u);
    EXPECT_EQ(count(r, FindingKind::kCrash), 1u) << "no report: the exit is unexplained";
}

TEST(SanitizerFinding, CappedPerKindWithExactCounts) {
    OneToOne t(1);
    std::vector<SanitizerReport> reports;
    for (int i = 0; i < 5; ++i) reports.push_back(parse_sanitizer_output(kTsanRace)[0]);
    attribute_sanitizer_reports(reports, t.cons, 2);
    HistoryView h;
    h.plan = &t.h.plan;
    for (const auto& l : t.h.logs) h.logs.emplace_back(l);
    h.sanitizer = reports;
    CheckOptions opt;
    opt.max_findings_per_kind = 2;
    CheckResult r = check_history(h, opt);
    EXPECT_EQ(count(r, FindingKind::kSanitizer), 5u);
    EXPECT_EQ(of_kind(r, FindingKind::kSanitizer).size(), 2u);
}
