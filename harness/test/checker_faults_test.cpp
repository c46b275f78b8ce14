// The checker across killed readers (checker_faults.cpp): for each rule a
// history that breaks it and a close one that does not.
#include <gtest/gtest.h>
#include <signal.h>

#include "checker_history.hpp"

namespace ipct {
namespace {

using checker_test::count;
using checker_test::Hist;
using checker_test::of_kind;

// producer0 -> q -> {consumer0 (killed, seen ended at `died`), consumer1
// (drains)}.  The producer sends `sends` (seq i at [100i+10, 100i+20]);
// consumer1 receives the seqs in `got`.
struct KilledReader {
    Hist h;
    std::uint32_t q, prod, dead, live;
    KilledReader(const std::string& backend, std::uint64_t sends, std::vector<std::uint64_t> got,
                 std::uint64_t died) {
        q = h.channel("q");
        h.plan.channels[q].backend = backend;
        prod = h.producer("producer0", q, 3);
        dead = h.consumer("consumer0", q);
        live = h.consumer("consumer1", q);
        for (std::uint64_t i = 0; i < sends; ++i) h.send(prod, 100 * i + 10, 100 * i + 20, i);
        for (std::uint64_t i : got) h.recv(live, 100 * i + 50, 100 * i + 60, 3, i);
        h.exit(prod, 100 * sends + 10);
        h.drained(live, 100 * sends + 100);
        h.exit(live, 100 * sends + 110);
        h.rec(dead, Op::kStart, 1, 1, kNoChannel);
        h.orch_rec(Op::kWorkerStatus, dead, SIGKILL, 1, died);
        h.orch_rec(Op::kWorkerStatus, prod, 0, 0, 100 * sends + 20);
        h.orch_rec(Op::kWorkerStatus, live, 0, 0, 100 * sends + 120);
    }
};

TEST(CheckerFaults, QueueMissingMoreThanKilledReadersCouldHoldIsLost) {
    // seqs 1, 2, 3 sent before consumer0 ended, none received: it held one.
    KilledReader k("posix_mq", 6, {0, 4, 5}, 390);
    const CheckResult r = k.h.check();
    ASSERT_EQ(count(r, FindingKind::kLost), 1u);
    const Finding& f = *of_kind(r, FindingKind::kLost).front();
    EXPECT_NE(f.summary.find("at least 2 were lost"), std::string::npos) << f.summary;
    EXPECT_NE(f.summary.find("consumer0"), std::string::npos) << f.summary;
    EXPECT_EQ(r.channels[k.q].lost, 2u);
    EXPECT_EQ(r.channels[k.q].indeterminate, 1u);
    EXPECT_EQ(r.indeterminate, 1u);
}

TEST(CheckerFaults, QueueMissingNoMoreThanKilledReadersCouldHoldIsIndeterminate) {
    KilledReader k("sysv_msg", 6, {0, 1, 3, 4, 5}, 390);
    const CheckResult r = k.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[k.q].lost, 0u);
    EXPECT_EQ(r.channels[k.q].indeterminate, 1u);
}

TEST(CheckerFaults, SentAfterEveryKilledReaderEndedIsLostByName) {
    // seq 5 was sent at [510, 520], after consumer0 was seen ended at 400.
    KilledReader k("posix_mq", 6, {0, 1, 2, 3, 4}, 400);
    const CheckResult r = k.h.check();
    ASSERT_EQ(count(r, FindingKind::kLost), 1u);
    const Finding& f = *of_kind(r, FindingKind::kLost).front();
    EXPECT_EQ(f.seq, 5u);
    EXPECT_EQ(f.origin, 3u);
    EXPECT_NE(f.summary.find("after every killed reader"), std::string::npos) << f.summary;
}

TEST(CheckerFaults, SentBeforeTheKilledReaderEndedMayBeInItsHands) {
    // The same message, but its send began before consumer0 was seen ended.
    KilledReader k("posix_mq", 6, {0, 1, 2, 3, 4}, 515);
    const CheckResult r = k.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[k.q].indeterminate, 1u);
}

TEST(CheckerFaults, ByteStreamKilledReaderMayHoldAnyNumber) {
    // A pipe reader reads into a buffer: three missing before its end are
    // all indeterminate; one sent after it is lost.
    KilledReader before("pipe", 6, {0, 4, 5}, 390);
    const CheckResult r = before.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[before.q].indeterminate, 3u);
    KilledReader after("fifo", 6, {0, 1, 2, 3, 4}, 400);
    EXPECT_EQ(count(after.h.check(), FindingKind::kLost), 1u);
}

TEST(CheckerFaults, SharedMemoryKilledReaderProvesNothing) {
    // User-space state (a ring's indices) may be left half-updated: no rule.
    KilledReader k("shm", 6, {0, 4}, 390);
    const CheckResult r = k.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[k.q].indeterminate, 4u);
}

TEST(CheckerFaults, NoReaderDrainedProvesNothing) {
    KilledReader k("posix_mq", 6, {0}, 390);
    k.h.logs[k.live].pop_back();  // exit
    k.h.logs[k.live].pop_back();  // drained
    const CheckResult r = k.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[k.q].indeterminate, 5u);
}

// producer0 -> q -> consumer0 on a queue: five sends received, a sixth
// with status `last`; the producer killed by the harness at its end.
Hist KilledWriter(Status last) {
    Hist h;
    const std::uint32_t q = h.channel("q");
    h.plan.channels[q].backend = "posix_mq";
    const std::uint32_t prod = h.producer("producer0", q, 3);
    const std::uint32_t cons = h.consumer("consumer0", q);
    for (std::uint64_t i = 0; i < 5; ++i) {
        h.send(prod, 100 * i + 10, 100 * i + 20, i);
        h.recv(cons, 100 * i + 50, 100 * i + 60, 3, i);
    }
    h.send(prod, 600, 610, 5, last);
    h.drained(cons, 900);
    h.exit(cons, 910);
    h.orch_rec(Op::kWorkerStatus, prod, SIGKILL, 1, 700);
    h.orch_rec(Op::kWorkerStatus, cons, 0, 0, 920);
    return h;
}

TEST(CheckerFaults, AKillInTheMiddleOfASendIsIndeterminateNotLost) {
    const CheckResult r = KilledWriter(Status::kPending).check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
    EXPECT_EQ(r.channels[0].lost, 0u);
    // The same send completed ok and never received is lost.
    EXPECT_EQ(count(KilledWriter(Status::kOk).check(), FindingKind::kLost), 1u);
}

TEST(CheckerFaults, AFaultsSignalIsNoCrash) {
    KilledReader k("posix_mq", 2, {0, 1}, 50);
    k.h.orch.front().aux = SIGTERM;  // a `signal` fault's SIGTERM ended it
    EXPECT_EQ(count(k.h.check(), FindingKind::kCrash), 0u);
    k.h.orch.front().extra = 0;  // the same end, not sent by the harness
    EXPECT_EQ(count(k.h.check(), FindingKind::kCrash), 1u);
}

}  // namespace
}  // namespace ipct
