// The checker across killed readers (checker_faults.cpp): for each rule a
// history that breaks it and a close one that does not.
#include <gtest/gtest.h>
#include <signal.h>

#include "checker_history.hpp"
#include "ipctorture/roles.hpp"

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

// producer0 -> q -> consumer0 on `backend`, consumer0 restarted (faults.hpp):
// incarnation k receives the seqs in got[k]; each but the last dies, seen
// ended at died[k] (the Note::kIncarnation before the next one, as the run
// directory's reader puts it); the last drains.  Seq i is sent at
// [100i+10, 100i+20].  note = false: the same receives, no restarts.
struct RestartedReader {
    Hist h;
    std::uint32_t q, prod, cons;
    RestartedReader(std::uint64_t sends, std::vector<std::vector<std::uint64_t>> got,
                    std::vector<std::uint64_t> died, const std::string& backend = "posix_mq",
                    bool note = true) {
        q = h.channel("q");
        h.plan.channels[q].backend = backend;
        prod = h.producer("producer0", q, 3);
        cons = h.consumer("consumer0", q);
        for (std::uint64_t i = 0; i < sends; ++i) h.send(prod, 100 * i + 10, 100 * i + 20, i);
        h.exit(prod, 100 * sends + 10);
        h.rec(cons, Op::kStart, 1, 1, kNoChannel);
        for (std::size_t k = 0; k < got.size(); ++k) {
            if (k > 0) {
                if (note) {
                    Record n = note_record(Note::kIncarnation, k);
                    n.t_start = n.t_end = died[k - 1];
                    h.logs[cons].push_back(n);
                }
                h.rec(cons, Op::kStart, died[k - 1] + 5, died[k - 1] + 5, kNoChannel);
            }
            for (std::uint64_t i : got[k]) h.recv(cons, 100 * i + 50, 100 * i + 60, 3, i);
        }
        h.drained(cons, 100 * sends + 100);
        h.exit(cons, 100 * sends + 110);
        h.orch_rec(Op::kWorkerStatus, prod, 0, 0, 100 * sends + 20);
        h.orch_rec(Op::kWorkerStatus, cons, 0, 0, 100 * sends + 120);
    }
};

TEST(CheckerFaults, ARestartedReadersDeadIncarnationMayHoldOneMessage) {
    // seq 2 (sent at [210, 220]) was in flight when the first incarnation
    // died at 250: it may have taken it.
    RestartedReader k(6, {{0, 1}, {3, 4, 5}}, {250});
    const CheckResult r = k.h.check();
    EXPECT_TRUE(r.pass()) << r.findings.size();
    EXPECT_EQ(r.channels[k.q].lost, 0u);
    EXPECT_EQ(r.channels[k.q].indeterminate, 1u);
    // Without the restart between them, the same receives are one reader
    // that drained and missed seq 2: lost.
    RestartedReader one(6, {{0, 1}, {3, 4, 5}}, {250}, "posix_mq", false);
    EXPECT_EQ(count(one.h.check(), FindingKind::kLost), 1u);
}

TEST(CheckerFaults, MissingFromARestartedReaderAfterItsDeathIsLostByName) {
    // seq 3 was sent at [310, 320], after the first incarnation ended at 250.
    RestartedReader k(6, {{0, 1, 2}, {4, 5}}, {250});
    const CheckResult r = k.h.check();
    ASSERT_EQ(count(r, FindingKind::kLost), 1u);
    const Finding& f = *of_kind(r, FindingKind::kLost).front();
    EXPECT_EQ(f.seq, 3u);
    EXPECT_NE(f.summary.find("after every killed reader"), std::string::npos) << f.summary;
    // The same message sent before the death may be in the dead one's hands.
    RestartedReader close(6, {{0, 1, 2}, {4, 5}}, {315});
    EXPECT_TRUE(close.h.check().pass());
}

TEST(CheckerFaults, ARestartedReaderOnAQueueHeldNoMoreThanOnePerDeath) {
    // seqs 2 and 3 both sent before the death at 450, neither received: one
    // death held at most one, so at least one was lost.
    RestartedReader k(6, {{0, 1}, {4, 5}}, {450}, "sysv_msg");
    const CheckResult r = k.h.check();
    ASSERT_EQ(count(r, FindingKind::kLost), 1u);
    EXPECT_NE(of_kind(r, FindingKind::kLost).front()->summary.find("at least 1 were lost"),
              std::string::npos);
    EXPECT_EQ(r.channels[k.q].lost, 1u);
    EXPECT_EQ(r.channels[k.q].indeterminate, 1u);
    // Two deaths (the second incarnation killed too) may have held both.
    RestartedReader two(6, {{0, 1}, {}, {4, 5}}, {350, 450}, "sysv_msg");
    const CheckResult r2 = two.h.check();
    EXPECT_TRUE(r2.pass()) << (r2.findings.empty() ? "" : r2.findings[0].summary);
    EXPECT_EQ(r2.channels[two.q].indeterminate, 2u);
}

TEST(CheckerFaults, ARestartedProducersCutSendIsIndeterminateAndItsOkOnesAreChecked) {
    // The first incarnation's seq 3 is cut short by the kill; the second
    // resumes at 4.  The consumer drained without seq 3: indeterminate.
    auto history = [](Status cut) {
        Hist h;
        const std::uint32_t q = h.channel("q");
        h.plan.channels[q].backend = "posix_mq";
        const std::uint32_t prod = h.producer("producer0", q, 3);
        const std::uint32_t cons = h.consumer("consumer0", q);
        for (std::uint64_t i = 0; i < 3; ++i) h.send(prod, 100 * i + 10, 100 * i + 20, i);
        h.send(prod, 310, 320, 3, cut);
        Record n = note_record(Note::kIncarnation, 1);
        n.t_start = n.t_end = 350;
        h.logs[prod].push_back(n);
        for (std::uint64_t i = 4; i < 6; ++i) h.send(prod, 100 * i + 10, 100 * i + 20, i);
        h.exit(prod, 610);
        for (std::uint64_t i : {0, 1, 2, 4, 5}) h.recv(cons, 100 * i + 50, 100 * i + 60, 3, i);
        h.drained(cons, 700);
        h.exit(cons, 710);
        h.orch_rec(Op::kWorkerStatus, prod, 0, 0, 620);
        h.orch_rec(Op::kWorkerStatus, cons, 0, 0, 720);
        return h;
    };
    const CheckResult r = history(Status::kPending).check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
    EXPECT_EQ(r.channels[0].duplicated, 0u);
    // The same send completed before the kill: its message is lost.
    EXPECT_EQ(count(history(Status::kOk).check(), FindingKind::kLost), 1u);
}

}  // namespace
}  // namespace ipct
