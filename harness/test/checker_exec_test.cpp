// The checker's black-box rules (checker_exec.cpp): an exec process logs
// nothing, so receives on its output are judged against the sends on its
// input.  Each rule: a history that breaks it and a close one that does not.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "checker_history.hpp"

namespace ipct::checker_test {
namespace {

// producer -> in -> exec box (logs nothing) -> out -> consumer; n messages,
// send i at [100i+10, 100i+20], receive at [100i+50, 100i+60] unless i is
// in `skip`.  The orchestrator saw the program end with `status`.
struct BlackBox {
    Hist h;
    std::uint32_t in, out, prod, box, cons;
    BlackBox(std::uint64_t n, std::vector<std::uint64_t> skip = {}, int status = 0,
             bool by_harness = false, bool drain = true) {
        in = h.channel("in");
        out = h.channel("out");
        prod = h.producer("producer0", in, 3);
        box = h.process("box", Role::kExec, in, out);
        cons = h.consumer("consumer0", out);
        h.rec(prod, Op::kStart, 1, 1, kNoChannel);
        h.rec(box, Op::kStart, 1, 1, kNoChannel);
        h.rec(cons, Op::kStart, 1, 1, kNoChannel);
        for (std::uint64_t i = 0; i < n; ++i) {
            h.send(prod, 100 * i + 10, 100 * i + 20, i);
            if (std::find(skip.begin(), skip.end(), i) == skip.end())
                h.recv(cons, 100 * i + 50, 100 * i + 60, 3, i);
        }
        h.exit(prod, 100 * n + 10);
        if (drain) h.drained(cons, 100 * n + 50);
        h.exit(cons, 100 * n + 60);
        h.worker_status(prod, 0, false);
        h.worker_status(box, status, by_harness);
        h.worker_status(cons, 0, false);
    }
};

constexpr int kExit0 = 0;
constexpr int kExit1 = 1 << 8;  // a wait status: exited with 1

TEST(CheckerExec, WhatGoesInAndComesOutPasses) {
    BlackBox t(50);
    CheckResult r = t.h.check();
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
    EXPECT_EQ(r.channels[t.in].sent, 50u);
    EXPECT_EQ(r.channels[t.in].received, 50u);
    EXPECT_EQ(r.indeterminate, 0u);
}

// Without the route every receive on `out` would be a message nobody sent.
TEST(CheckerExec, AMessageDroppedByAProgramThatExited0IsLost) {
    BlackBox t(50, {17}, kExit0);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    auto lost = of_kind(r, FindingKind::kLost);
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0]->seq, 17u);
    EXPECT_NE(lost[0]->summary.find("channel in -> exec box -> channel out"), std::string::npos)
        << lost[0]->summary;
    ASSERT_EQ(lost[0]->evidence.size(), 1u);
    EXPECT_EQ(lost[0]->evidence[0].process, t.prod);
}

TEST(CheckerExec, WhatACrashedProgramHeldIsIndeterminate) {
    BlackBox t(50, {17}, kExit1);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(count(r, FindingKind::kCrash), 1u);
    EXPECT_EQ(r.indeterminate, 1u);
    auto crash = of_kind(r, FindingKind::kCrash);
    ASSERT_EQ(crash.size(), 1u);
    EXPECT_NE(crash[0]->summary.find("exec box: program"), std::string::npos) << crash[0]->summary;
}

TEST(CheckerExec, WhatAKilledProgramHeldIsIndeterminate) {
    BlackBox t(50, {17}, SIGKILL, /*by_harness=*/true);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(r.indeterminate, 1u);
    EXPECT_EQ(r.total_findings(), 0u);  // the harness killed it: no crash either
}

TEST(CheckerExec, AConsumerThatDidNotDrainMakesItIndeterminate) {
    BlackBox t(50, {17}, kExit0, false, /*drain=*/false);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(r.indeterminate, 1u);
}

TEST(CheckerExec, AProgramWhoseEndWasNeverSeenMakesItIndeterminate) {
    BlackBox t(50, {17}, kExit0);
    t.h.orch.erase(t.h.orch.begin() + 1);  // no worker status for the box
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(r.indeterminate, 1u);
}

TEST(CheckerExec, ReceivedTwiceIsDuplicated) {
    BlackBox t(20);
    t.h.recv(t.cons, 3000, 3010, 3, 5);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kDuplicated), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
}

TEST(CheckerExec, AnIdNeverSentOnTheInputIsUnexpected) {
    BlackBox t(20);
    t.h.recv(t.cons, 3000, 3010, 3, 20);  // seq 20 was never sent
    t.h.recv(t.cons, 3020, 3030, 9, 0);   // nor was anything of origin 9
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 2u);
    EXPECT_EQ(r.total_findings(), 2u);
}

TEST(CheckerExec, GarbageOnTheOutputIsUnexpectedAndSpoilsLossProofs) {
    BlackBox t(20, {7});
    t.h.garbage(t.cons, 800, 40);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 1u);
    // On a byte stream, the missing message may lie inside the damage.
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(r.indeterminate, 1u);
}

// One program: the sender's order must survive it.
TEST(CheckerExec, ReorderedThroughOneProgramIsAFifoViolation) {
    Hist h;
    const std::uint32_t in = h.channel("in"), out = h.channel("out");
    const std::uint32_t prod = h.producer("producer0", in, 3);
    const std::uint32_t box = h.process("box", Role::kExec, in, out);
    const std::uint32_t cons = h.consumer("consumer0", out);
    h.send(prod, 10, 20, 0);
    h.send(prod, 30, 40, 1);
    h.recv(cons, 50, 60, 3, 1);
    h.recv(cons, 70, 80, 3, 0);
    h.drained(cons, 90);
    for (std::uint32_t p : {prod, box, cons}) h.worker_status(p, 0, false);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kFifo), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
}

// Two programs reading one input may forward in either order: no fifo rule.
TEST(CheckerExec, ReorderedThroughTwoProgramsIsNotAViolation) {
    Hist h;
    const std::uint32_t in = h.channel("in"), out = h.channel("out");
    const std::uint32_t prod = h.producer("producer0", in, 3);
    const std::uint32_t box0 = h.process("box0", Role::kExec, in, out);
    const std::uint32_t box1 = h.process("box1", Role::kExec, in, out);
    const std::uint32_t cons = h.consumer("consumer0", out);
    h.send(prod, 10, 20, 0);
    h.send(prod, 30, 40, 1);
    h.recv(cons, 50, 60, 3, 1);
    h.recv(cons, 70, 80, 3, 0);
    h.drained(cons, 90);
    for (std::uint32_t p : {prod, box0, box1, cons}) h.worker_status(p, 0, false);
    CheckResult r = h.check();
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
}

// A rule applies only if every channel on the route has it.
TEST(CheckerExec, ARuleTheOutputDoesNotPromiseIsNotApplied) {
    Hist h;
    const std::uint32_t in = h.channel("in");
    const std::uint32_t out = h.channel("out", {Check::kDuplicated, Check::kCorrupted});
    const std::uint32_t prod = h.producer("producer0", in, 3);
    const std::uint32_t box = h.process("box", Role::kExec, in, out);
    const std::uint32_t cons = h.consumer("consumer0", out);
    h.send(prod, 10, 20, 0);
    h.send(prod, 30, 40, 1);
    h.recv(cons, 50, 60, 3, 1);  // 0 never arrives; 1 overtook it
    h.drained(cons, 90);
    for (std::uint32_t p : {prod, box, cons}) h.worker_status(p, 0, false);
    CheckResult r = h.check();
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
    EXPECT_EQ(r.channels[in].lost, 1u);  // measured all the same
}

// Two programs in a row: the route runs from the first input to the last
// output, and loss needs both to have exited 0.
TEST(CheckerExec, ARouteThroughTwoProgramsIsJudgedEndToEnd) {
    for (int second_status : {kExit0, kExit1}) {
        Hist h;
        const std::uint32_t a = h.channel("a"), b = h.channel("b"), c = h.channel("c");
        const std::uint32_t prod = h.producer("producer0", a, 3);
        const std::uint32_t x = h.process("x", Role::kExec, a, b);
        const std::uint32_t y = h.process("y", Role::kExec, b, c);
        const std::uint32_t cons = h.consumer("consumer0", c);
        for (std::uint64_t i = 0; i < 10; ++i) {
            h.send(prod, 100 * i + 10, 100 * i + 20, i);
            if (i != 4) h.recv(cons, 100 * i + 50, 100 * i + 60, 3, i);
        }
        h.drained(cons, 2000);
        h.worker_status(prod, 0, false);
        h.worker_status(x, kExit0, false);
        h.worker_status(y, second_status, false);
        h.worker_status(cons, 0, false);
        CheckResult r = h.check();
        EXPECT_EQ(count(r, FindingKind::kUnexpected), 0u);
        EXPECT_EQ(count(r, FindingKind::kLost), second_status == kExit0 ? 1u : 0u);
        EXPECT_EQ(count(r, FindingKind::kCrash), second_status == kExit0 ? 0u : 1u);
    }
}

// Validation refuses a cycle of programs; a damaged plan with one (check
// of a tampered run directory, the fuzzer) must still be judged, not loop.
TEST(CheckerExec, ACycleOfProgramsInADamagedPlanEnds) {
    Hist h;
    const std::uint32_t a = h.channel("a"), b = h.channel("b"), c = h.channel("c");
    const std::uint32_t prod = h.producer("producer0", a, 3);
    h.process("x", Role::kExec, a, b);
    h.process("y", Role::kExec, b, c);
    h.process("z", Role::kExec, c, a);
    const std::uint32_t cons = h.consumer("consumer0", b);
    h.send(prod, 10, 20, 0);
    h.recv(cons, 30, 40, 3, 0);
    h.drained(cons, 50);
    CheckResult r = h.check();
    EXPECT_EQ(r.records, 3u);  // judged to the end
}

TEST(CheckerExec, AnExecErrorIsNamedInTheCrash) {
    BlackBox t(5, {}, 127 << 8);
    Record note{};
    note.op = Op::kNote;
    note.aux = static_cast<std::uint32_t>(Note::kExec);
    note.status = Status::kError;
    note.err = ENOEXEC;
    note.t_start = note.t_end = 2;
    t.h.logs[t.box].push_back(note);
    CheckResult r = t.h.check();
    auto crash = of_kind(r, FindingKind::kCrash);
    ASSERT_EQ(crash.size(), 1u);
    EXPECT_NE(crash[0]->summary.find("could not be executed (ENOEXEC)"), std::string::npos)
        << crash[0]->summary;
}

}  // namespace
}  // namespace ipct::checker_test
