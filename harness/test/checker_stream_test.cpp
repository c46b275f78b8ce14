// Checker rules specific to byte streams and to sends that did not complete:
// what damaged bytes and cut-short writes can and cannot prove.
#include <gtest/gtest.h>

#include "checker_history.hpp"

using namespace ipct;
using namespace ipct::checker_test;

namespace {

// Inserts a garbage record into the consumer's log just before its drain.
void add_garbage_before_drain(OneToOne& t, std::uint32_t bytes) {
    auto& log = t.h.logs[t.cons];
    Record g{};
    g.op = Op::kGarbage;
    g.status = Status::kOk;
    g.channel = static_cast<std::uint16_t>(t.ch);
    g.size = bytes;
    g.t_start = g.t_end = log[log.size() - 2].t_start - 1;
    log.insert(log.end() - 2, g);
}

}  // namespace

TEST(CheckerStream, DamagedStreamMakesMissingMessagesIndeterminate) {
    OneToOne t(100, 42);
    add_garbage_before_drain(t, 300);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 0u) << "seq 42 may lie inside the garbage";
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 1u);
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
    EXPECT_FALSE(r.pass());
}

TEST(CheckerStream, UndamagedStreamStillProvesLoss) {
    OneToOne t(100, 42);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 1u);
    EXPECT_EQ(r.channels[0].indeterminate, 0u);
}

TEST(CheckerStream, GarbageOnAMessageChannelDoesNotHideALoss) {
    OneToOne t(100, 42);
    t.h.plan.channels[0].boundaries = true;  // a receive returns whole messages
    add_garbage_before_drain(t, 300);
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kLost), 1u);
    EXPECT_EQ(count(r, FindingKind::kUnexpected), 1u);
}

TEST(CheckerStream, CorruptFrameOnAStreamMakesMissingIndeterminate) {
    OneToOne t(100, 42);
    t.h.logs[t.cons][10].status = Status::kCorrupt;  // seq 9 arrives damaged
    CheckResult r = t.h.check();
    EXPECT_EQ(count(r, FindingKind::kCorrupted), 1u);
    EXPECT_EQ(count(r, FindingKind::kLost), 0u);
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
}

TEST(CheckerStream, DamagedArrivalOfACutShortSendIsNotAFinding) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("producer0", ch, 3);
    auto c = h.consumer("consumer0", ch);
    h.send(p, 10, 20, 0);
    h.send(p, 30, 0, 1, Status::kPending);  // the writer died inside write()
    h.recv(c, 15, 25, 3, 0);
    h.recv(c, 40, 50, 3, 1, Status::kCorrupt);  // the truncated tail at end-of-file
    h.drained(c, 60);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kCorrupted), 0u);
    EXPECT_EQ(r.channels[0].corrupted, 0u);
    EXPECT_EQ(r.channels[0].indeterminate, 1u);
    EXPECT_TRUE(r.pass());
}

TEST(CheckerStream, DamagedArrivalOfACompletedSendIsCorruption) {
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("producer0", ch, 3);
    auto c = h.consumer("consumer0", ch);
    h.send(p, 10, 20, 0);
    h.send(p, 30, 35, 1);
    h.recv(c, 15, 25, 3, 0);
    h.recv(c, 40, 50, 3, 1, Status::kCorrupt);
    h.drained(c, 60);
    CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kCorrupted), 1u);
    auto f = of_kind(r, FindingKind::kCorrupted);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0]->seq, 1u);
    EXPECT_FALSE(r.pass());
}
