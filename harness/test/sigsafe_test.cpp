// The harness side of the signal-safety interposer: report lines, findings,
// the worker environment and where the library is looked for.
#include "ipctorture/sigsafe.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "ipctorture/checker.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/plan.hpp"
#include "test_util.hpp"

namespace ipct {
namespace {

using test::TempDir;

const char* const kCall =
    "ipctorture-sigsafe\tv1\tns=123456789012\tpid=12\ttid=13\tsignal=10\tdepth=1\tcall=printf"
    "\thandler=/opt/my prog+0x11a0\tframe=/opt/my "
    "prog+0x11b4\tframe=/nonexistent/libc.so.6+0x2a3f0";
const char* const kErrno =
    "ipctorture-sigsafe\tv1\tpid=12\ttid=12\tsignal=36\tdepth=2\terrno=4>10"
    "\thandler=/opt/prog+0x1630";

TEST(SigsafeLine, ACallWithItsHandlerAndFrames) {
    std::optional<SignalSafetyReport> r = parse_sigsafe_line(kCall);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->t_ns, 123456789012u);
    EXPECT_EQ(r->pid, 12);
    EXPECT_EQ(r->tid, 13);
    EXPECT_EQ(r->signal, SIGUSR1);
    EXPECT_EQ(r->depth, 1);
    EXPECT_EQ(r->function, "printf");
    EXPECT_FALSE(r->errno_clobbered);
    EXPECT_EQ(r->raw_handler, "/opt/my prog+0x11a0") << "paths may hold spaces";
    EXPECT_EQ(r->raw_frames,
              (std::vector<std::string>{"/opt/my prog+0x11b4", "/nonexistent/libc.so.6+0x2a3f0"}));
    EXPECT_EQ(r->frames, r->raw_frames) << "unsymbolized until symbolize_sigsafe_reports";
}

TEST(SigsafeLine, AClobberedErrno) {
    std::optional<SignalSafetyReport> r = parse_sigsafe_line(kErrno);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->errno_clobbered);
    EXPECT_EQ(r->errno_before, EINTR);
    EXPECT_EQ(r->errno_after, ECHILD);
    EXPECT_EQ(r->depth, 2);
    EXPECT_TRUE(r->function.empty());
    EXPECT_EQ(r->raw_handler, "/opt/prog+0x1630");
    EXPECT_TRUE(r->raw_frames.empty());
}

TEST(SigsafeLine, WhatIsNotAReport) {
    for (const char* line : {
             "",
             "hello",
             "ipctorture-sigsafe\tv2\tpid=1\tcall=printf",  // a format we do not know
             "ipctorture-sigsafe\tv1\tpid=1\tdropped=more than 4096 distinct reports",
             "ipctorture-sigsafe\tv1\tpid=1\ttid=1\tsignal=10\tdepth=1",  // cut before call=
             "ipctorture-sigsafe\tv1\tpid=x\tcall=printf",
             "ipctorture-sigsafe\tv1\tpid=1\terrno=4",
             "ipctorture-sigsafe\tv1\tpid=1\tcall=",
             "ipctorture-sigsafe\tv1\tpid=1\tcall=printf\tno-equals-sign",
         })
        EXPECT_FALSE(parse_sigsafe_line(line)) << line;
}

TEST(SigsafeDescribe, NamesTheFunctionTheSignalAndWhere) {
    SignalSafetyReport r = *parse_sigsafe_line(kCall);
    const std::string d = describe_sigsafe_report(r);
    EXPECT_NE(d.find("printf (not async-signal-safe) called inside the handler of SIGUSR1"),
              std::string::npos)
        << d;
    EXPECT_NE(d.find("at /opt/my prog+0x11b4"), std::string::npos) << d;
    SignalSafetyReport e = *parse_sigsafe_line(kErrno);
    const std::string de = describe_sigsafe_report(e);
    const std::string rt =
        36 == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(36 - SIGRTMIN);
    EXPECT_NE(de.find("the handler of " + rt + ", /opt/prog+0x1630, returned"), std::string::npos)
        << de;
    EXPECT_NE(de.find("errno changed (EINTR -> ECHILD)"), std::string::npos) << de;
    EXPECT_NE(de.find("nested 2 deep"), std::string::npos) << de;
}

// Symbolizing never loses the raw location; a module that does not exist
// keeps its raw text.
TEST(SigsafeSymbolize, UnknownModulesKeepTheirRawText) {
    std::vector<SignalSafetyReport> v{*parse_sigsafe_line(kCall)};
    symbolize_sigsafe_reports(v);
    EXPECT_EQ(v[0].frames, v[0].raw_frames);
    EXPECT_EQ(v[0].handler, v[0].raw_handler);
}

Plan two_process_plan() {
    Plan p;
    p.processes.resize(2);
    p.processes[0].index = 0;
    p.processes[0].name = "producer0";
    p.processes[1].index = 1;
    p.processes[1].name = "consumer0";
    p.processes[1].role = Role::kConsumer;
    return p;
}

TEST(SigsafeFindings, OnePerReportAttributedToItsProcessAndCapped) {
    const Plan plan = two_process_plan();
    std::vector<SignalSafetyReport> v{*parse_sigsafe_line(kCall), *parse_sigsafe_line(kErrno),
                                      *parse_sigsafe_line(kCall)};
    v[0].process = 1;
    v[1].process = 1;
    v[2].process = 0;
    CheckResult res;
    add_signal_safety_findings(res, v, plan, 2);
    EXPECT_EQ(res.counts[int(FindingKind::kSignalSafety)], 3u) << "counts stay exact";
    ASSERT_EQ(res.findings.size(), 2u) << "the list is capped";
    EXPECT_FALSE(res.pass());
    const Finding& f = res.findings[0];
    EXPECT_EQ(f.kind, FindingKind::kSignalSafety);
    EXPECT_EQ(std::string(finding_kind_name(f.kind)), "signal_safety");
    EXPECT_EQ(f.summary.rfind("consumer0 (consumer): printf", 0), 0u) << f.summary;
    ASSERT_TRUE(f.signal_safety);
    EXPECT_EQ(f.signal_safety->process, 1u);
    EXPECT_TRUE(res.findings[1].signal_safety->errno_clobbered);
    EXPECT_EQ(parse_finding_kind("signal_safety"), FindingKind::kSignalSafety);
}

TEST(SigsafeFiles, ReportsAreReadPerProcess) {
    TempDir dir;
    const Plan plan = two_process_plan();
    std::ofstream(sigsafe_report_path(dir.path, 1))
        << kCall << "\n"
        << "ipctorture-sigsafe\tv1\tpid=1\tdropped=more than 4096 distinct reports\n"
        << kErrno << "\n"
        << "ipctorture-sigsafe\tv1\tpid=12\ttid=13\tsig";  // cut short by a kill
    const std::vector<SignalSafetyReport> v = read_sigsafe_reports(dir.path, plan);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].process, 1u);
    EXPECT_EQ(v[0].function, "printf");
    EXPECT_TRUE(v[1].errno_clobbered);
    EXPECT_EQ(sigsafe_report_path("/r", 3), "/r/sigsafe.3.log");
}

TEST(SigsafeEnvironment, PreloadsTheLibraryAfterWhatIsThere) {
    ::setenv("LD_PRELOAD", "/first.so", 1);
    ::setenv("IPCTORTURE_SIGSAFE_OUT", "/stale", 1);
    const std::vector<std::string> env = sigsafe_environment("/lib/x.so", "/run/sigsafe.2.log");
    ::unsetenv("LD_PRELOAD");
    ::unsetenv("IPCTORTURE_SIGSAFE_OUT");
    auto count = [&](const std::string& prefix) {
        return std::count_if(env.begin(), env.end(),
                             [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
    };
    EXPECT_EQ(count("LD_PRELOAD="), 1);
    EXPECT_EQ(count("IPCTORTURE_SIGSAFE_OUT="), 1);
    EXPECT_NE(std::find(env.begin(), env.end(), "LD_PRELOAD=/first.so:/lib/x.so"), env.end());
    EXPECT_NE(std::find(env.begin(), env.end(), "IPCTORTURE_SIGSAFE_OUT=/run/sigsafe.2.log"),
              env.end());
    EXPECT_GT(count("PATH="), 0) << "the rest of the environment is kept";
}

TEST(SigsafeLibrary, FoundNextToTheWorkerOrAClearError) {
    TempDir dir;
    const std::string exe = dir.path + "/ipctorture";
    try {
        sigsafe_library(exe);
        ADD_FAILURE() << "found a library in an empty directory";
    } catch (const EnvironmentError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("libipctorture_sigsafe.so is missing"), std::string::npos) << what;
        EXPECT_NE(what.find(dir.path + "/libipctorture_sigsafe.so"), std::string::npos) << what;
    }
    std::ofstream(dir.path + "/libipctorture_sigsafe.so") << "";
    EXPECT_EQ(sigsafe_library(exe), dir.path + "/libipctorture_sigsafe.so");
}

// A process that must run under the interposer, with no interposer next to
// the worker binary: the run stops before it starts, as an environment
// error, and leaves nothing behind.
TEST(SigsafeLibrary, MissingItStopsTheRun) {
    const char* const kText = R"(name: needs-sigsafe
channels:
  data: {backend: pipe}
processes:
  - role: producer
    channel: data
    workload: {messages: 10}
  - role: consumer
    channel: data
    sigsafe: true
)";
    for (bool everyone : {false, true}) {
        TempDir root, bin;
        Scenario s = load_scenario_text(kText, "t.yaml");
        if (everyone) s.processes[1].sigsafe = false;
        RunOptions o;
        o.run_root = root.path;
        o.worker_exe = bin.path + "/ipctorture";
        o.sigsafe = everyone;
        try {
            run_scenario(s, o);
            ADD_FAILURE() << "ran without the interposer";
        } catch (const EnvironmentError& e) {
            EXPECT_NE(std::string(e.what()).find("libipctorture_sigsafe.so is missing"),
                      std::string::npos)
                << e.what();
        }
        EXPECT_TRUE(root.entries().empty());
    }
}

}  // namespace
}  // namespace ipct
