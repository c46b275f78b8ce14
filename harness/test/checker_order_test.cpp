// The rules beyond plain message streams: queue order (priority, selective
// receive), shared counters, snapshots, coalescing signals and the bounds of
// lossy channels.  For each, a history that breaks the rule and a close one
// that does not.
#include <gtest/gtest.h>

#include "checker_history.hpp"
#include "ipctorture/backend.hpp"

namespace ipct::checker_test {
namespace {

using Order = ReceiveRequest::Order;
using Match = ReceiveRequest::Match;

const std::vector<Check> kQueueChecks = {Check::kLost, Check::kDuplicated, Check::kCorrupted,
                                         Check::kFifo, Check::kPriority};
const std::vector<Check> kSelectiveChecks = {Check::kLost, Check::kDuplicated, Check::kCorrupted,
                                             Check::kFifo, Check::kSelective};

// Two producers (origins 0 and 1) on one queue, one or two consumers.
struct Queue {
    Hist h;
    std::uint32_t ch, a, b, c0, c1 = kNoProcess;
    explicit Queue(ReceiveRequest req, bool priority = true, bool two_readers = false,
                   ReceiveRequest req1 = {}) {
        ch = h.channel("q", priority ? kQueueChecks : kSelectiveChecks);
        h.plan.channels[ch].boundaries = true;
        a = h.producer("a", ch, 0);
        b = h.producer("b", ch, 1);
        c0 = h.consumer("c0", ch);
        h.plan.processes[c0].request = req;
        if (two_readers) {
            c1 = h.consumer("c1", ch);
            h.plan.processes[c1].request = req1.order == Order::kNone ? req : req1;
        }
    }
    Record& send(std::uint32_t p, std::uint64_t t0, std::uint64_t t1, std::uint64_t seq,
                 std::uint32_t prio) {
        Record& r = h.send(p, t0, t1, seq);
        r.aux = prio;
        return r;
    }
    Record& recv(std::uint32_t p, std::uint64_t t0, std::uint64_t t1, std::uint32_t origin,
                 std::uint64_t seq, std::uint32_t prio) {
        Record& r = h.recv(p, t0, t1, origin, seq);
        r.aux = prio;
        return r;
    }
    CheckResult finish(std::uint64_t t) {
        h.drained(c0, t);
        if (c1 != kNoProcess) h.drained(c1, t);
        return h.check();
    }
};

ReceiveRequest highest() {
    return {Order::kHighestFirst, Match::kAny, 0};
}

TEST(CheckerOrder, PriorityViolatedWhenHigherPriorityWaitedThroughTheReceive) {
    Queue q(highest());
    q.send(q.a, 10, 20, 0, 5);      // n: priority 5, queued from 20
    q.send(q.b, 30, 40, 0, 1);      // m: priority 1
    q.recv(q.c0, 50, 60, 1, 0, 1);  // m taken while n waited
    q.recv(q.c0, 70, 80, 0, 0, 5);  // n only afterwards
    CheckResult r = q.finish(100);
    ASSERT_EQ(count(r, FindingKind::kPriority), 1u)
        << (r.findings.empty() ? "" : r.findings[0].summary);
    EXPECT_EQ(r.total_findings(), 1u);
    const Finding* f = of_kind(r, FindingKind::kPriority)[0];
    EXPECT_EQ(f->origin, 1u) << "the finding names the message taken too early";
    ASSERT_EQ(f->evidence.size(), 3u);
    EXPECT_EQ(f->evidence[0].record.origin, 1u);
    EXPECT_EQ(f->evidence[1].record.op, Op::kSend);
    EXPECT_EQ(f->evidence[2].record.origin, 0u);
    EXPECT_EQ(r.channels[q.ch].order_violations, 1u);
}

TEST(CheckerOrder, NoPriorityViolationWhenTheHigherSendEndedInsideTheReceive) {
    Queue q(highest());
    q.send(q.a, 10, 55, 0, 5);  // n's send may have enqueued after m's dequeue
    q.send(q.b, 30, 40, 0, 1);
    q.recv(q.c0, 50, 60, 1, 0, 1);
    q.recv(q.c0, 70, 80, 0, 0, 5);
    EXPECT_TRUE(q.finish(100).pass());
}

TEST(CheckerOrder, NoPriorityViolationWhenTheHigherReceiveOverlaps) {
    Queue q(highest(), true, /*two_readers=*/true);
    q.send(q.a, 10, 20, 0, 5);
    q.send(q.b, 30, 40, 0, 1);
    q.recv(q.c0, 50, 60, 1, 0, 1);
    q.recv(q.c1, 59, 80, 0, 0, 5);  // n may have been taken first, by c1
    EXPECT_TRUE(q.finish(100).pass());
}

TEST(CheckerOrder, LowerPriorityWaitingIsNoViolation) {
    Queue q(highest());
    q.send(q.a, 10, 20, 0, 0);
    q.send(q.b, 30, 40, 0, 1);
    q.recv(q.c0, 50, 60, 1, 0, 1);
    q.recv(q.c0, 70, 80, 0, 0, 0);
    EXPECT_TRUE(q.finish(100).pass());
}

TEST(CheckerOrder, FifoWithinOnePriorityAcrossProducers) {
    Queue q(highest());
    q.send(q.a, 10, 20, 0, 3);  // n: fully sent before m's send began
    q.send(q.b, 30, 40, 0, 3);
    q.recv(q.c0, 50, 60, 1, 0, 3);
    q.recv(q.c0, 70, 80, 0, 0, 3);
    EXPECT_EQ(count(q.finish(100), FindingKind::kPriority), 1u);
}

// A blocking receive that began before either send: m's dequeue still came
// after m's send began, when n was already queued ahead of it.
TEST(CheckerOrder, ViolationWhenTheReceiveWasWaitingBeforeBothSends) {
    for (bool overlap : {false, true}) {
        Queue q(highest());
        q.recv(q.c0, 5, 60, 1, 0, 3);              // m, waiting from 5
        q.send(q.a, 10, overlap ? 32 : 20, 0, 3);  // n
        q.send(q.b, 30, 40, 0, 3);                 // m
        q.recv(q.c0, 70, 80, 0, 0, 3);
        EXPECT_EQ(count(q.finish(100), FindingKind::kPriority), overlap ? 0u : 1u) << overlap;
    }
}

TEST(CheckerOrder, NoFifoViolationWithinOnePriorityWhenTheSendsOverlap) {
    Queue q(highest());
    q.send(q.a, 10, 35, 0, 3);  // overlaps m's send: either may have gone first
    q.send(q.b, 30, 40, 0, 3);
    q.recv(q.c0, 50, 60, 1, 0, 3);
    q.recv(q.c0, 70, 80, 0, 0, 3);
    EXPECT_TRUE(q.finish(100).pass());
}

// Many clean receives first, so that m is folded into the aggregate before
// n's receive asks about it.
TEST(CheckerOrder, PriorityViolationFoundAfterFolding) {
    for (bool violate : {true, false}) {
        Queue q(highest());
        std::uint64_t t = 10;
        // n (priority 9): sent before the first receive began, or after the last.
        if (violate) q.send(q.a, 15, 16, 0, 9);
        for (std::uint64_t i = 0; i < 500; ++i, t += 100) {
            q.send(q.b, t, t + 10, i, 1);
            q.recv(q.c0, t + 20, t + 30, 1, i, 1);
        }
        if (!violate) q.send(q.a, t + 500, t + 510, 0, 9);
        q.recv(q.c0, t + 1000, t + 1010, 0, 0, 9);
        CheckResult r = q.finish(t + 2000);
        EXPECT_EQ(count(r, FindingKind::kPriority), violate ? 1u : 0u) << violate;
        EXPECT_EQ(r.total_findings(), count(r, FindingKind::kPriority));
    }
}

TEST(CheckerOrder, PerReaderQueuesCompareOnlyTheSameReader) {
    ReceiveRequest own{Order::kLowestFirst, Match::kAny, 0, /*per_reader=*/true};
    for (bool same_reader : {true, false}) {
        Queue q(own, true, true);
        q.send(q.a, 10, 20, 0, 0);  // n: lowest number, queued first
        q.send(q.b, 30, 40, 0, 4);
        q.recv(q.c0, 50, 60, 1, 0, 4);
        q.recv(same_reader ? q.c0 : q.c1, 70, 80, 0, 0, 0);
        EXPECT_EQ(count(q.finish(100), FindingKind::kPriority), same_reader ? 1u : 0u)
            << same_reader;
    }
}

TEST(CheckerOrder, SelectiveReceiveOfAnExcludedType) {
    for (std::uint32_t type : {3u, 2u}) {
        Queue q({Order::kQueue, Match::kEqual, 2}, false);
        q.send(q.a, 10, 20, 0, type);
        q.recv(q.c0, 30, 40, 0, 0, type);
        CheckResult r = q.finish(100);
        EXPECT_EQ(count(r, FindingKind::kSelective), type == 3 ? 1u : 0u) << type;
        EXPECT_EQ(r.total_findings(), count(r, FindingKind::kSelective));
    }
}

TEST(CheckerOrder, SelectiveByTypeTakesTheFirstOfThatType) {
    for (std::uint32_t n_type : {2u, 3u}) {
        Queue q({Order::kQueue, Match::kEqual, 2}, false, true, {Order::kQueue, Match::kAny, 0});
        q.send(q.a, 10, 20, 0, n_type);  // n queued first
        q.send(q.b, 30, 40, 0, 2);
        q.recv(q.c0, 50, 60, 1, 0, 2);  // c0 (type 2 only) takes m
        q.recv(q.c1, 70, 80, 0, 0, n_type);
        // Of type 2, n was first in the queue; of type 3, c0 may not take it.
        EXPECT_EQ(count(q.finish(100), FindingKind::kSelective), n_type == 2 ? 1u : 0u) << n_type;
    }
}

TEST(CheckerOrder, NegativeMsgtypTakesTheLowestAdmittedType) {
    for (std::uint32_t n_type : {1u, 4u}) {
        Queue q({Order::kLowestFirst, Match::kAtMost, 3}, false, true,
                {Order::kQueue, Match::kAny, 0});
        q.send(q.b, 10, 20, 0, 3);       // m queued first
        q.send(q.a, 30, 40, 0, n_type);  // n queued later, before m's receive
        q.recv(q.c0, 50, 60, 1, 0, 3);
        q.recv(q.c1, 70, 80, 0, 0, n_type);
        // Type 1 ranks before 3 whatever the queue order; type 4 is not admitted.
        EXPECT_EQ(count(q.finish(100), FindingKind::kSelective), n_type == 1 ? 1u : 0u) << n_type;
    }
}

TEST(CheckerOrder, ExceptSkipsTheExcludedType) {
    for (std::uint32_t n_type : {2u, 5u}) {
        Queue q({Order::kQueue, Match::kNotEqual, 2}, false, true, {Order::kQueue, Match::kAny, 0});
        q.send(q.a, 10, 20, 0, n_type);
        q.send(q.b, 30, 40, 0, 7);
        q.recv(q.c0, 50, 60, 1, 0, 7);
        q.recv(q.c1, 70, 80, 0, 0, n_type);
        EXPECT_EQ(count(q.finish(100), FindingKind::kSelective), n_type == 5 ? 1u : 0u) << n_type;
    }
}

// A counter: three producers' increments, one consumer reading the end value.
struct Counter {
    Hist h;
    std::uint32_t ch, cons;
    std::vector<std::uint32_t> prods;
    Counter(std::uint64_t per_producer, std::uint64_t pending) {
        ch = h.channel("n", {Check::kCounter});
        h.plan.channels[ch].shape = ChannelShape::kCounter;
        for (std::uint32_t i = 0; i < 3; ++i)
            prods.push_back(h.producer("p" + std::to_string(i), ch, i));
        cons = h.consumer("c", ch);
        std::uint64_t t = 10;
        for (std::uint64_t k = 0; k < per_producer; ++k)
            for (std::uint32_t p : prods) h.send(p, t, t + 5, k), t += 10;
        for (std::uint64_t k = 0; k < pending; ++k)
            h.send(prods[0], t, 0, per_producer + k, Status::kPending), t += 10;
    }
    CheckResult read(std::uint64_t value) {
        h.recv(cons, 100000, 100010, kCounterOrigin, value);
        h.drained(cons, 100020);
        return h.check();
    }
};

TEST(CheckerShapes, CounterBelowTheIncrementsIsLostUpdates) {
    CheckResult r = Counter(100, 0).read(297);
    ASSERT_EQ(count(r, FindingKind::kLostUpdate), 1u);
    EXPECT_EQ(r.total_findings(), 1u);
    EXPECT_NE(r.findings[0].summary.find("3 updates lost"), std::string::npos)
        << r.findings[0].summary;
    EXPECT_EQ(r.channels[0].counter_value, 297u);
}

TEST(CheckerShapes, CounterAtTheIncrementsPasses) {
    CheckResult r = Counter(100, 0).read(300);
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
    EXPECT_TRUE(r.channels[0].counter_observed);
}

TEST(CheckerShapes, CounterWithinIncrementsCutShortPasses) {
    for (std::uint64_t v : {300u, 301u, 302u}) EXPECT_TRUE(Counter(100, 2).read(v).pass()) << v;
    EXPECT_EQ(count(Counter(100, 2).read(303), FindingKind::kDuplicated), 1u);
    EXPECT_EQ(count(Counter(100, 2).read(299), FindingKind::kLostUpdate), 1u);
}

TEST(CheckerShapes, CounterNeverReadIsIndeterminate) {
    Counter c(10, 0);
    CheckResult r = c.h.check();
    EXPECT_TRUE(r.pass());
    EXPECT_EQ(r.indeterminate, 1u);
}

struct Snapshot {
    Hist h;
    std::uint32_t ch, w, rd;
    Snapshot() {
        ch = h.channel("s", {Check::kCorrupted});
        h.plan.channels[ch].shape = ChannelShape::kSnapshot;
        h.plan.channels[ch].boundaries = true;
        w = h.producer("w", ch, 0);
        rd = h.consumer("r", ch);
    }
};

TEST(CheckerShapes, SnapshotReadsOfWrittenVersionsPassManyTimesOver) {
    Snapshot s;
    for (std::uint64_t v = 0; v < 5; ++v) s.h.send(s.w, 100 * v + 10, 100 * v + 20, v);
    for (std::uint64_t k = 0; k < 20; ++k)
        s.h.recv(s.rd, 25 * k + 15, 25 * k + 16, 0, std::min<std::uint64_t>(k / 5, 4));
    s.h.drained(s.rd, 1000);
    CheckResult r = s.h.check();
    EXPECT_TRUE(r.pass()) << (r.findings.empty() ? "" : r.findings[0].summary);
}

TEST(CheckerShapes, SnapshotReadOfAVersionNotYetWrittenIsUnexpected) {
    Snapshot s;
    s.h.send(s.w, 10, 20, 0);
    s.h.recv(s.rd, 21, 22, 0, 1);  // version 1's write begins only at 30
    s.h.send(s.w, 30, 40, 1);
    s.h.drained(s.rd, 100);
    EXPECT_EQ(count(s.h.check(), FindingKind::kUnexpected), 1u);
}

TEST(CheckerShapes, SnapshotTornReadIsCorruptedUnlessAWriteWasCutShort) {
    for (bool cut : {false, true}) {
        Snapshot s;
        s.h.send(s.w, 10, 20, 0);
        s.h.send(s.w, 30, 40, 1, cut ? Status::kPending : Status::kOk);
        s.h.recv(s.rd, 35, 45, 0, 1, Status::kCorrupt);
        s.h.drained(s.rd, 100);
        CheckResult r = s.h.check();
        EXPECT_EQ(count(r, FindingKind::kCorrupted), cut ? 0u : 1u) << cut;
        EXPECT_EQ(r.indeterminate, cut ? 1u : 0u);
    }
}

struct Coalescing {
    Hist h;
    std::uint32_t ch, p, c;
    Coalescing() {
        ch = h.channel("sig",
                       {Check::kDuplicated, Check::kCorrupted, Check::kFifo, Check::kLastDelivery});
        h.plan.channels[ch].boundaries = true;
        p = h.producer("p", ch, 0);
        c = h.consumer("c", ch);
        for (std::uint64_t i = 0; i < 10; ++i) h.send(p, 100 * i + 10, 100 * i + 20, i);
    }
};

TEST(CheckerShapes, LastDeliveryMissingAfterTheLastSend) {
    Coalescing s;
    s.h.recv(s.c, 5, 30, 0, 0);
    s.h.recv(s.c, 500, 915, 0, 5);  // ended after the last send (at 910) began
    s.h.drained(s.c, 2000);
    EXPECT_TRUE(s.h.check().pass()) << "a delivery ended after the last send began";
    Coalescing t;
    t.h.recv(t.c, 5, 30, 0, 0);
    t.h.recv(t.c, 500, 905, 0, 5);  // every delivery ended before 910
    t.h.drained(t.c, 2000);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLastDelivery), 1u);
    EXPECT_EQ(count(r, FindingKind::kLost), 0u) << "coalescing is not loss";
}

TEST(CheckerShapes, LastDeliveryNotJudgedWithoutDrain) {
    Coalescing t;
    t.h.recv(t.c, 5, 30, 0, 0);
    EXPECT_TRUE(t.h.check().pass());
}

TEST(CheckerShapes, BoundsTurnRatesIntoFindingsOnlyAboveThem) {
    for (double bound : {0.05, 0.1}) {
        Hist h;
        const std::uint32_t ch = h.channel("udp", {Check::kDuplicated, Check::kCorrupted});
        h.plan.channels[ch].boundaries = true;
        h.plan.channels[ch].bounds.max_loss = bound;
        const std::uint32_t p = h.producer("p", ch, 0), c = h.consumer("c", ch);
        for (std::uint64_t i = 0; i < 100; ++i) {
            h.send(p, 100 * i + 10, 100 * i + 20, i);
            if (i % 10 != 3) h.recv(c, 100 * i + 30, 100 * i + 40, 0, i);  // 10% lost
        }
        h.drained(c, 20000);
        CheckResult r = h.check();
        EXPECT_EQ(r.channels[ch].lost, 10u);
        EXPECT_EQ(count(r, FindingKind::kLost), bound < 0.1 ? 1u : 0u) << bound;
    }
}

}  // namespace
}  // namespace ipct::checker_test
