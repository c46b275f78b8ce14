// Tests of check_history: for each rule a history that breaks it (caught with
// the right kind and identity) and a close one that must not be flagged.
// Scale, memory and randomized tests are in checker_scale_test.cpp.
#include "ipctorture/checker.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "checker_history.hpp"

namespace ipct::checker_test {
namespace {

TEST(Checker, CleanOneToOnePasses) {
    OneToOne t(100);
    CheckResult r = t.h.check();
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
    ASSERT_EQ(r.channels.size(), 1u);
    EXPECT_EQ(r.channels[0].sent, 100u);
    EXPECT_EQ(r.channels[0].received, 100u);
    EXPECT_EQ(r.channels[0].bytes_received, 6400u);
    EXPECT_EQ(r.channels[0].indeterminate, 0u);
    EXPECT_EQ(r.channels[0].first_send_ns, 10u);
    EXPECT_EQ(r.channels[0].last_recv_ns, 9960u);
    EXPECT_EQ(r.records, 2u + 200u + 3u);
    EXPECT_FALSE(r.interrupted);
}

TEST(Checker, LostWhenEveryConsumerDrained) {
    OneToOne t(100, 42);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    auto lost = of_kind(r, FindingKind::kLost);
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_EQ(lost[0]->channel, 0u);
    EXPECT_EQ(lost[0]->origin, 7u);
    EXPECT_EQ(lost[0]->seq, 42u);
    ASSERT_EQ(lost[0]->evidence.size(), 1u);
    EXPECT_EQ(lost[0]->evidence[0].process, t.prod);
    EXPECT_EQ(lost[0]->evidence[0].record.op, Op::kSend);
    EXPECT_EQ(lost[0]->evidence[0].record.seq, 42u);
    EXPECT_EQ(r.channels[0].lost, 1u);
    EXPECT_EQ(r.channels[0].received, 99u);
}

TEST(Checker, MissingWithoutDrainIsIndeterminate) {
    OneToOne t(100, 42, /*drain=*/false);
    CheckResult r = t.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].lost, 0u);
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
    EXPECT_EQ(r.indeterminate, 1u);
}

TEST(Checker, OneOfTwoConsumersNotDrainedIsIndeterminate) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c0 = h.consumer("c0", ch);
    auto c1 = h.consumer("c1", ch);
    h.send(p, 10, 20, 0);
    h.send(p, 30, 40, 1);
    h.recv(c0, 25, 50, 1, 0);
    h.drained(c0, 60);
    h.recv(c1, 45, 0, 0, 0, Status::kPending);  // killed inside the receive
    CheckResult r = h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
}

TEST(Checker, ReceiveCutShortSpoilsTheDrain) {
    OneToOne t(10, 3);
    // A pending receive before the end-of-channel mark: it may hold seq 3.
    auto& logs = t.h.logs[t.cons];
    Record pending = logs[1];
    pending.status = Status::kPending;
    pending.t_end = 0;
    logs.insert(logs.end() - 2, pending);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
}

TEST(Checker, PendingOrFailedSendNeverReceivedIsIndeterminate) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    h.send(p, 10, 20, 0);
    h.send(p, 30, 40, 1, Status::kError).err = EPIPE;
    h.send(p, 50, 60, 2, Status::kPending);
    h.recv(c, 15, 25, 1, 0);
    h.drained(c, 100);
    CheckResult r = h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].sent, 1u);
    EXPECT_EQ(r.channels[0].send_unknown, 2u);
    EXPECT_EQ(r.channels[0].indeterminate, 2u);
    EXPECT_EQ(r.channels[0].lost, 0u);
}

TEST(Checker, PendingSendThatWasReceivedIsFine) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    h.send(p, 10, 20, 0, Status::kPending);
    h.recv(c, 15, 25, 1, 0);
    h.drained(c, 100);
    CheckResult r = h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].indeterminate, 0u);
    EXPECT_EQ(r.channels[0].received, 1u);
}

TEST(Checker, DuplicateIsCaught) {
    OneToOne t(10);
    t.h.logs[t.cons].insert(t.h.logs[t.cons].begin() + 4, t.h.logs[t.cons][3]);  // seq 2 again
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kDuplicated), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    auto d = of_kind(r, FindingKind::kDuplicated);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0]->origin, 7u);
    EXPECT_EQ(d[0]->seq, 2u);
    EXPECT_EQ(r.channels[0].duplicated, 1u);
    EXPECT_EQ(r.channels[0].received, 10u);
}

TEST(Checker, DuplicateLongAfterTheOriginalIsCaught) {
    OneToOne t(5000);
    Record again = t.h.logs[t.cons][1];  // seq 0
    again.t_start = again.t_end = 100 * 5000 + 40;
    t.h.logs[t.cons].insert(t.h.logs[t.cons].end() - 2, again);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kDuplicated), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    ASSERT_FALSE(r.findings.empty());
    EXPECT_EQ(r.findings[0].seq, 0u);
}

TEST(Checker, TwoDistinctMessagesAreNotDuplicates) {
    Hist h;
    auto ch = h.channel("ch");
    auto p0 = h.producer("p0", ch, 1);
    auto p1 = h.producer("p1", ch, 2);
    auto c = h.consumer("c", ch);
    h.send(p0, 10, 20, 5);
    h.send(p1, 10, 20, 5);  // same seq, other origin
    h.recv(c, 30, 40, 1, 5);
    h.recv(c, 30, 40, 2, 5);
    h.drained(c, 50);
    EXPECT_TRUE(h.check().pass());
}

TEST(Checker, CorruptReceiveIsCaughtAndNotLost) {
    OneToOne t(10);
    Record& bad = t.h.logs[t.cons][5];  // seq 4
    bad.status = Status::kCorrupt;
    bad.aux = 4;      // Verdict::kBadPayload
    bad.extra = 100;  // first bad byte
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kCorrupted), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    auto f = of_kind(r, FindingKind::kCorrupted);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0]->seq, 4u);
    EXPECT_EQ(f[0]->origin, 7u);
    EXPECT_NE(f[0]->summary.find("100"), std::string::npos);
    EXPECT_EQ(r.channels[0].corrupted, 1u);
    EXPECT_EQ(r.channels[0].lost, 0u);
    EXPECT_EQ(r.channels[0].indeterminate, 0u);
    EXPECT_EQ(r.channels[0].received, 9u);
}

TEST(Checker, TruncatedFrameNamesItsOffsetWithoutTheFlagBit) {
    OneToOne t(10);
    Record& bad = t.h.logs[t.cons][5];
    bad.status = Status::kCorrupt;
    bad.aux = 4;
    bad.extra = 100 | 0x80000000u;  // the frame ran into the end of the stream
    CheckResult r = t.h.check();
    auto f = of_kind(r, FindingKind::kCorrupted);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NE(f[0]->summary.find("offset 100, frame cut short"), std::string::npos)
        << f[0]->summary;
    EXPECT_EQ(f[0]->summary.find("2147483748"), std::string::npos) << f[0]->summary;
}

TEST(Checker, GarbageIsUnexpected) {
    OneToOne t(10);
    t.h.logs[t.cons].insert(t.h.logs[t.cons].begin() + 3, t.h.logs[t.cons][2]);
    Record& g = t.h.logs[t.cons][3];
    g.op = Op::kGarbage;
    g.size = 1234;
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    auto f = of_kind(r, FindingKind::kUnexpected);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NE(f[0]->summary.find("1234"), std::string::npos);
    ASSERT_EQ(f[0]->evidence.size(), 1u);
    EXPECT_EQ(f[0]->evidence[0].record.op, Op::kGarbage);
    EXPECT_EQ(r.channels[0].garbage_bytes, 1234u);
}

TEST(Checker, IdNeverSentIsUnexpected) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    h.send(p, 10, 20, 0);
    h.recv(c, 15, 25, 1, 0);
    h.recv(c, 30, 40, 9, 0);  // unknown origin
    h.recv(c, 30, 40, 1, 1);  // seq never sent
    h.drained(c, 50);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 2u);
    EXPECT_EQ(r.total_findings(), 2u);
    auto f = of_kind(r, FindingKind::kUnexpected);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0]->origin, 1u);  // sorted by (channel, origin, seq)
    EXPECT_EQ(f[0]->seq, 1u);
    EXPECT_EQ(f[1]->origin, 9u);
}

TEST(Checker, ReceiveBeforeItsSendIsUnexpected) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    h.recv(c, 5, 8, 1, 0);  // ended before the send began
    h.send(p, 10, 20, 0);
    h.drained(c, 50);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 1u);
    EXPECT_EQ(count(r, FindingKind::kLost), 1u);
}

TEST(Checker, SeqBelowAStreamsFirstIsUnexpectedNotDuplicate) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    for (std::uint64_t i = 0; i < 5; ++i) h.send(p, 10 + 10 * i, 15 + 10 * i, 100 + i);
    for (std::uint64_t i = 0; i < 5; ++i) h.recv(c, 100 + i, 101 + i, 1, 100 + i);
    h.recv(c, 200, 201, 1, 3);
    h.drained(c, 300);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
}

TEST(Checker, FifoViolationIsCaught) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    h.send(p, 10, 20, 0);  // a
    h.send(p, 30, 40, 1);  // b
    h.recv(c, 50, 60, 1, 1);
    h.recv(c, 70, 80, 1, 0);
    h.drained(c, 90);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kFifo), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    auto f = of_kind(r, FindingKind::kFifo);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0]->origin, 1u);
    EXPECT_EQ(f[0]->seq, 0u);  // the overtaken message
    ASSERT_EQ(f[0]->evidence.size(), 4u);
    EXPECT_EQ(f[0]->evidence[0].record.seq, 0u);  // send a
    EXPECT_EQ(f[0]->evidence[1].record.seq, 1u);  // send b
    EXPECT_EQ(f[0]->evidence[2].record.op, Op::kRecv);
    EXPECT_EQ(f[0]->evidence[2].record.seq, 0u);
    EXPECT_EQ(f[0]->evidence[3].record.seq, 1u);
    EXPECT_EQ(r.channels[0].fifo_violations, 1u);
}

TEST(Checker, OverlappingReceivesByTwoConsumersAreNotFifoViolations) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c0 = h.consumer("c0", ch);
    auto c1 = h.consumer("c1", ch);
    h.send(p, 10, 20, 0);
    h.send(p, 30, 40, 1);
    h.recv(c0, 25, 70, 1, 0);  // a's receive began before b's ended
    h.recv(c1, 35, 50, 1, 1);
    h.drained(c0, 90);
    h.drained(c1, 90);
    EXPECT_TRUE(h.check().pass());
}

TEST(Checker, BufferedReadsWithSharedTimesAreNotFifoViolations) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    for (std::uint64_t i = 0; i < 4; ++i) h.send(p, 10 + 10 * i, 15 + 10 * i, i);
    h.recv(c, 12, 50, 1, 0);  // one read gave frames 0..1 and the start of 2
    h.recv(c, 12, 50, 1, 1);
    h.recv(c, 12, 70, 1, 2);  // frame 2 ends in the next read
    h.recv(c, 60, 70, 1, 3);
    h.drained(c, 90);
    EXPECT_TRUE(h.check().pass());
}

TEST(Checker, ReorderAcrossDifferentSendersIsNotAFifoViolation) {
    Hist h;
    auto ch = h.channel("ch");
    auto p0 = h.producer("p0", ch, 1);
    auto p1 = h.producer("p1", ch, 2);
    auto c = h.consumer("c", ch);
    h.send(p0, 10, 20, 0);
    h.send(p1, 30, 40, 0);
    h.recv(c, 50, 60, 2, 0);
    h.recv(c, 70, 80, 1, 0);
    h.drained(c, 90);
    EXPECT_TRUE(h.check().pass());
}

TEST(Checker, FifoViolationLateInALongHistoryIsCaught) {
    OneToOne t(5000);
    reorder(t.h.logs[t.cons], 4000);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kFifo), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    ASSERT_FALSE(r.findings.empty());
    EXPECT_EQ(r.findings[0].seq, 4000u);
}

TEST(Checker, ChecksListLimitsTheRules) {
    Hist h;
    auto ch = h.channel("ch", {Check::kLost, Check::kDuplicated});
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    h.send(p, 10, 20, 0);
    h.send(p, 30, 40, 1);
    h.recv(c, 50, 60, 1, 1);
    h.recv(c, 70, 80, 1, 0);
    h.garbage(c, 85, 10);
    h.drained(c, 90);
    CheckResult r = h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].fifo_violations, 1u);  // measured, not failed
    EXPECT_EQ(r.channels[0].garbage_bytes, 10u);
}

TEST(Checker, LostNotCheckedIsMeasuredOnly) {
    OneToOne t(10, 3);
    t.h.plan.channels[0].checks = {Check::kFifo};
    CheckResult r = t.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].lost, 1u);
}

// producer -> in -> relay -> out -> consumer, n messages.
struct Relayed {
    Hist h;
    std::uint32_t in, out, prod, rel, cons;
    explicit Relayed(std::uint64_t n, std::int64_t drop = -1) {
        in = h.channel("in");
        out = h.channel("out");
        prod = h.producer("producer0", in, 3);
        rel = h.relay("relay0", in, out);
        cons = h.consumer("consumer0", out);
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t t = 100 * i;
            h.send(prod, t + 10, t + 20, i);
            h.recv(rel, t + 15, t + 30, 3, i);
            if (static_cast<std::int64_t>(i) != drop)
                h.send(rel, t + 40, t + 50, i, Status::kOk, 3);
            if (static_cast<std::int64_t>(i) != drop) h.recv(cons, t + 45, t + 60, 3, i);
        }
        const std::uint64_t end = 100 * n;
        h.exit(prod, end);
        h.drained(rel, end + 10);
        h.exit(rel, end + 20);
        h.drained(cons, end + 30);
        h.exit(cons, end + 40);
    }
};

TEST(Checker, RelayForwardingEverythingPasses) {
    Relayed t(50);
    CheckResult r = t.h.check();
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
    EXPECT_EQ(r.channels[0].received, 50u);
    EXPECT_EQ(r.channels[1].sent, 50u);
    EXPECT_EQ(r.channels[1].received, 50u);
}

TEST(Checker, RelayDroppingWithCleanExitLoses) {
    Relayed t(50, 17);
    t.h.worker_status(t.rel, 0, false);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    auto f = of_kind(r, FindingKind::kLost);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0]->channel, t.out);
    EXPECT_EQ(f[0]->origin, 3u);
    EXPECT_EQ(f[0]->seq, 17u);
    EXPECT_NE(f[0]->summary.find("relay relay0 received"), std::string::npos);
    EXPECT_NE(f[0]->summary.find("never forwarded"), std::string::npos);
    ASSERT_EQ(f[0]->evidence.size(), 1u);
    EXPECT_EQ(f[0]->evidence[0].process, t.rel);
    EXPECT_EQ(f[0]->evidence[0].record.op, Op::kRecv);
}

TEST(Checker, RelayDroppingWhenKilledIsIndeterminate) {
    Relayed t(50, 17);
    t.h.worker_status(t.rel, SIGKILL, true);
    CheckResult r = t.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[t.out].indeterminate, 1u);
}

TEST(Checker, RelayDroppingWithNonZeroExitIsIndeterminate) {
    Relayed t(50, 17);
    t.h.logs[t.rel].back().aux = 1;
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(r.indeterminate, 1u);
}

TEST(Checker, TwoRelaysFanningInOutOfOrderPass) {
    Hist h;
    auto in = h.channel("in");
    auto out = h.channel("out");
    auto p = h.producer("p", in, 3);
    auto r0 = h.relay("r0", in, out);
    auto r1 = h.relay("r1", in, out);
    auto c = h.consumer("c", out);
    for (std::uint64_t i = 0; i < 4; ++i) h.send(p, 100 * i + 10, 100 * i + 20, i);
    h.recv(r0, 15, 30, 3, 0);
    h.recv(r1, 115, 130, 3, 1);
    h.send(r1, 140, 150, 1, Status::kOk, 3);
    h.send(r0, 160, 170, 0, Status::kOk, 3);  // seq 0 reaches "out" after seq 1
    h.recv(r0, 215, 230, 3, 2);
    h.send(r0, 240, 250, 2, Status::kOk, 3);
    h.recv(r1, 315, 330, 3, 3);
    h.send(r1, 340, 350, 3, Status::kOk, 3);
    h.recv(c, 145, 155, 3, 1);
    h.recv(c, 165, 175, 3, 0);
    h.recv(c, 245, 255, 3, 2);
    h.recv(c, 345, 355, 3, 3);
    for (auto r : {r0, r1}) {
        h.drained(r, 400);
        h.exit(r, 410);
    }
    h.drained(c, 420);
    CheckResult res = h.check();
    EXPECT_TRUE(res.pass()) << (res.findings.empty() ? "" : res.findings[0].summary);
    EXPECT_EQ(res.channels[out].sent, 4u);
    EXPECT_EQ(res.channels[out].received, 4u);
    EXPECT_EQ(res.channels[out].indeterminate, 0u);
}

TEST(Checker, HangNamesTheProcessAndItsLastRecord) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("stuck", ch);
    h.send(p, 10, 20, 0);
    h.recv(c, 30, 0, 0, 0, Status::kPending);
    h.orch_rec(Op::kHang, c, 0, 0, 5000);
    h.worker_status(c, SIGKILL, true);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kHang), 1u);
    EXPECT_EQ(count(r, FindingKind::kCrash), 0u);
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    auto f = of_kind(r, FindingKind::kHang);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NE(f[0]->summary.find("stuck"), std::string::npos);
    ASSERT_EQ(f[0]->evidence.size(), 2u);
    EXPECT_EQ(f[0]->evidence[0].process, 0xffffffffu);
    EXPECT_EQ(f[0]->evidence[1].process, c);
    EXPECT_EQ(f[0]->evidence[1].record.op, Op::kRecv);
    EXPECT_EQ(f[0]->evidence[1].record.status, Status::kPending);
}

TEST(Checker, CrashBySignalAndBadExitAreFindings) {
    OneToOne t(3);
    t.h.worker_status(t.prod, SIGSEGV, false);
    t.h.worker_status(t.cons, 3 << 8, false);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kCrash), 2u);
    auto f = of_kind(r, FindingKind::kCrash);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_NE(f[0]->summary.find("worker producer0 killed by signal SIGSEGV"), std::string::npos);
    EXPECT_NE(f[1]->summary.find("worker consumer0 exited with status 3"), std::string::npos);
}

TEST(Checker, WorkerKilledByTheHarnessIsNotACrash) {
    OneToOne t(3);
    t.h.worker_status(t.prod, SIGKILL, true);
    t.h.worker_status(t.cons, 0, false);
    EXPECT_TRUE(t.h.check().pass());
}

TEST(Checker, InterruptedRunLeavesMessagesIndeterminate) {
    OneToOne t(10, -1, /*drain=*/false);
    t.h.logs[t.cons].resize(6);  // consumer stopped after 5 receives
    t.h.orch_rec(Op::kInterrupted, 0, 0, 0, 2000);
    CheckResult r = t.h.check();
    EXPECT_TRUE(r.interrupted);
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.channels[0].indeterminate, 5u);
}

TEST(Checker, FindingsAreCappedButCountedExactly) {
    Hist h;
    auto ch = h.channel("ch");
    // Whole messages per receive: garbage cannot hide a message, so loss stays provable.
    h.plan.channels[ch].boundaries = true;
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    for (std::uint64_t i = 0; i < 50; ++i) h.send(p, 10 + 10 * i, 15 + 10 * i, i);
    for (std::uint64_t i = 0; i < 30; ++i) h.garbage(c, 1000 + i, 5);
    h.drained(c, 2000);
    CheckOptions opt;
    opt.max_findings_per_kind = 10;
    CheckResult r = h.check(opt);
    EXPECT_EQ(count(r, FindingKind::kLost), 50u);
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 30u);
    EXPECT_EQ(r.total_findings(), 80u);
    auto lost = of_kind(r, FindingKind::kLost);
    ASSERT_EQ(lost.size(), 10u);
    for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(lost[i]->seq, i);  // the smallest
    EXPECT_EQ(of_kind(r, FindingKind::kUnexpected).size(), 10u);
    EXPECT_EQ(r.channels[0].lost, 50u);
}

TEST(Checker, FindingsAreSortedByKindThenIdentity) {
    OneToOne t(20, 5);
    t.h.plan.channels[0].boundaries = true;  // loss stays provable beside a corrupt message
    auto& l = t.h.logs[t.cons];
    reorder(l, 1);                   // fifo
    l[4].status = Status::kCorrupt;  // corrupt seq 3
    t.h.worker_status(t.prod, SIGABRT, false);
    CheckResult r = t.h.check();
    ASSERT_EQ(r.findings.size(), 4u);
    EXPECT_TRUE(std::is_sorted(r.findings.begin(), r.findings.end(),
                               [](const Finding& a, const Finding& b) { return a.kind < b.kind; }));
    EXPECT_EQ(r.findings[0].kind, FindingKind::kLost);
    EXPECT_EQ(r.findings[3].kind, FindingKind::kCrash);
}

TEST(Checker, ManyProducersAndConsumersInterleavedPass) {
    Hist h;
    auto ch = h.channel("ch");
    std::vector<std::uint32_t> prods, cons;
    for (std::uint32_t i = 0; i < 4; ++i)
        prods.push_back(h.producer("p" + std::to_string(i), ch, i));
    for (std::uint32_t i = 0; i < 2; ++i) cons.push_back(h.consumer("c" + std::to_string(i), ch));
    std::uint64_t k = 0;
    for (std::uint64_t i = 0; i < 2000; ++i) {
        for (std::uint32_t j = 0; j < 4; ++j, ++k) {
            h.send(prods[j], 100 * i + 10 + j, 100 * i + 20 + j, i);
            h.recv(cons[k % 2], 100 * i + 30 + 2 * j, 100 * i + 31 + 2 * j, j, i);
        }
    }
    for (auto c : cons) h.drained(c, 1000000);
    CheckResult r = h.check();
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
    EXPECT_EQ(r.channels[0].received, 8000u);
}

TEST(Checker, NullPlanAndEmptyHistory) {
    HistoryView h;
    CheckResult r = check_history(h);
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.records, 0u);
    std::vector<Record> log(3);
    h.logs.emplace_back(log);
    r = check_history(h);
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.records, 3u);
}

TEST(Checker, FindingKindNames) {
    EXPECT_STREQ(finding_kind_name(FindingKind::kLost), "lost");
    EXPECT_STREQ(finding_kind_name(FindingKind::kFifo), "fifo");
    EXPECT_STREQ(finding_kind_name(FindingKind::kCrash), "crash");
}

}  // namespace
}  // namespace ipct::checker_test
