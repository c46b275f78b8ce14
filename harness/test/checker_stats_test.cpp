// The statistics the checker keeps for the HTML report: latency histograms,
// throughput series and per-process spans, on hand-built histories with
// known times.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "checker_history.hpp"
#include "ipctorture/checker.hpp"

namespace ipct::checker_test {
namespace {

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
    EXPECT_EQ(LatencyHistogram::bucket_of(0), 0);
    EXPECT_EQ(LatencyHistogram::bucket_of(7), 7);
    EXPECT_EQ(LatencyHistogram::bucket_of(8), 8);
    EXPECT_EQ(LatencyHistogram::bucket_of(15), 15);
    EXPECT_EQ(LatencyHistogram::bucket_of(16), 16);
    EXPECT_EQ(LatencyHistogram::bucket_of(17), 16);
    EXPECT_EQ(LatencyHistogram::bucket_of(std::numeric_limits<std::uint64_t>::max()),
              LatencyHistogram::kBuckets - 1);
    for (int i = 0; i < LatencyHistogram::kBuckets; ++i) {
        const std::uint64_t lo = LatencyHistogram::bucket_low(i);
        const std::uint64_t hi = LatencyHistogram::bucket_high(i);
        ASSERT_LE(lo, hi) << i;
        EXPECT_EQ(LatencyHistogram::bucket_of(lo), i);
        EXPECT_EQ(LatencyHistogram::bucket_of(hi), i);
        if (i + 1 < LatencyHistogram::kBuckets) {
            EXPECT_EQ(LatencyHistogram::bucket_low(i + 1), hi + 1) << i;
        }
        // Resolution: a bucket spans at most 1/8 of its lower end.
        if (lo >= 8) {
            EXPECT_LE(hi - lo + 1, lo / 8) << i;
        }
    }
    EXPECT_EQ(LatencyHistogram::bucket_high(LatencyHistogram::kBuckets - 1),
              std::numeric_limits<std::uint64_t>::max());
}

// producer -> ch -> consumer; message i is sent at [1000i + 10, 1000i + 11]
// and its receive ends latency[i] after the send began.
Hist with_latencies(const std::vector<std::uint64_t>& latency) {
    Hist h;
    const std::uint32_t ch = h.channel("ch");
    const std::uint32_t prod = h.producer("producer0", ch, 3);
    const std::uint32_t cons = h.consumer("consumer0", ch);
    h.rec(prod, Op::kStart, 5, 5, kNoChannel);
    h.rec(cons, Op::kStart, 5, 5, kNoChannel);
    for (std::uint64_t i = 0; i < latency.size(); ++i) {
        const std::uint64_t t = 100000 * i + 10;
        h.send(prod, t, t + 1, i);
        h.recv(cons, t + 1, t + latency[i], 3, i);
    }
    const std::uint64_t end = 100000 * latency.size() + 10;
    h.exit(prod, end);
    h.drained(cons, end + 1);
    h.exit(cons, end + 2);
    return h;
}

TEST(CheckerStats, KnownLatenciesFillTheExpectedBuckets) {
    // 1 x 5 ns (bucket 5, exact), 4 x 100 ns (bucket 36: 96..103),
    // 5 x 1000 ns (bucket 63: 960..1023).
    const CheckResult r =
        with_latencies({5, 100, 1000, 100, 1000, 100, 1000, 100, 1000, 1000}).check();
    ASSERT_TRUE(r.pass());
    const LatencyHistogram& h = r.channels[0].latency;
    EXPECT_EQ(h.count(), 10u);
    EXPECT_EQ(h.min(), 5u);
    EXPECT_EQ(h.max(), 1000u);
    EXPECT_EQ(h.counts()[5], 1u);
    EXPECT_EQ(h.counts()[36], 4u);
    EXPECT_EQ(h.counts()[63], 5u);
    std::uint64_t total = 0;
    for (std::uint64_t c : h.counts()) total += c;
    EXPECT_EQ(total, 10u);
    // Bucket percentiles: the upper end of the bucket that holds the rank,
    // clamped to the exact extremes.
    EXPECT_EQ(h.percentile(0.1), 5u);     // rank 1: bucket 5
    EXPECT_EQ(h.percentile(0.5), 103u);   // rank 5: bucket 36, upper end 103
    EXPECT_EQ(h.percentile(0.9), 1000u);  // rank 9: bucket 63, 1023 clamped to max
    EXPECT_EQ(h.percentile(1.0), 1000u);
}

TEST(CheckerStats, ACloseLatencyLandsInTheNextBucket) {
    // 104 ns is one past bucket 36's upper end: bucket 37 (104..111).
    const CheckResult r =
        with_latencies({5, 104, 1000, 104, 1000, 104, 1000, 104, 1000, 1000}).check();
    const LatencyHistogram& h = r.channels[0].latency;
    EXPECT_EQ(h.counts()[36], 0u);
    EXPECT_EQ(h.counts()[37], 4u);
    EXPECT_EQ(h.percentile(0.5), 111u);
}

TEST(CheckerStats, OneSampleAndNoSample) {
    const CheckResult one = with_latencies({250}).check();
    const LatencyHistogram& h = one.channels[0].latency;
    EXPECT_EQ(h.count(), 1u);
    EXPECT_EQ(h.min(), 250u);
    EXPECT_EQ(h.max(), 250u);
    EXPECT_EQ(h.percentile(0.5), 250u);  // the bucket (248..255) clamped to the one value
    EXPECT_EQ(h.percentile(0.99), 250u);
    const CheckResult none = with_latencies({}).check();
    EXPECT_EQ(none.channels[0].latency.count(), 0u);
    EXPECT_EQ(none.channels[0].latency.percentile(0.5), 0u);
    for (std::uint64_t c : none.channels[0].latency.counts()) EXPECT_EQ(c, 0u);
}

TEST(CheckerStats, DuplicatesAndLossesAreNotLatencies) {
    Hist h = with_latencies({100, 200, 300});
    // A second receive of seq 1 (a duplicate) much later; seq 2's receive removed.
    std::vector<Record>& cons = h.logs[1];
    Record dup = cons[2];
    dup.t_start = 250000;
    dup.t_end = 250500;
    cons.erase(cons.begin() + 3);
    cons.insert(cons.begin() + 3, dup);
    const CheckResult r = h.check();
    EXPECT_EQ(count(r, FindingKind::kDuplicated), 1u);
    EXPECT_EQ(count(r, FindingKind::kLost), 1u);
    EXPECT_EQ(r.channels[0].latency.count(), 2u);
    EXPECT_EQ(r.channels[0].latency.max(), 200u);
}

// The series doubles its width as receives come later; the result is the
// same as bucketing every receive directly at the final width.
TEST(CheckerStats, ThroughputMatchesDirectBucketingAtTheFinalWidth) {
    for (std::uint64_t n : {1u, 100u, 1000u, 100000u}) {
        OneToOne t(n);
        const CheckResult r = t.h.check();
        const ThroughputSeries& s = r.channels[0].throughput;
        EXPECT_EQ(s.origin(), 1u);  // the first record, the kStart at 1
        std::uint64_t total = 0;
        for (std::uint64_t c : s.counts()) total += c;
        EXPECT_EQ(total, n);
        const std::uint64_t last_offset = 100 * (n - 1) + 60 - 1;
        // The narrowest power-of-two width, at least 1024, that fits the run.
        std::uint64_t w = 1024;
        while (last_offset / w >= ThroughputSeries::kBuckets) w *= 2;
        EXPECT_EQ(s.width_ns(), w) << n;
        std::vector<std::uint64_t> direct(ThroughputSeries::kBuckets, 0);
        for (std::uint64_t i = 0; i < n; ++i) ++direct[(100 * i + 60 - 1) / w];
        for (int b = 0; b < ThroughputSeries::kBuckets; ++b)
            EXPECT_EQ(s.counts()[b], direct[b]) << "n " << n << " bucket " << b;
    }
}

TEST(CheckerStats, ProcessSpansEndsAndSignals) {
    Hist h;
    const std::uint32_t ch = h.channel("ch");
    const std::uint32_t prod = h.producer("producer0", ch, 1);
    const std::uint32_t cons = h.consumer("consumer0", ch);
    const std::uint32_t sig = h.process("signaler0", Role::kSignaler, kNoChannel, kNoChannel);
    h.process("never", Role::kConsumer, ch, kNoChannel);
    h.rec(prod, Op::kStart, 100, 100, kNoChannel);
    h.send(prod, 110, 120, 0);
    h.send(prod, 130, 0, 1, Status::kPending);  // killed mid-send
    h.rec(cons, Op::kStart, 90, 90, kNoChannel);
    h.recv(cons, 100, 150, 1, 0);
    h.exit(cons, 400, 0);
    h.rec(sig, Op::kStart, 95, 95, kNoChannel);
    Record& note = h.rec(sig, Op::kNote, 300, 300, kNoChannel);
    note.aux = static_cast<std::uint32_t>(Note::kSignalsSent);
    note.seq = 42;
    note.extra = SIGUSR1;
    note.origin = 2;
    h.exit(sig, 310, 0);
    h.worker_status(prod, SIGKILL, true);
    h.worker_status(cons, 0, false);
    h.worker_status(sig, 0, false);
    h.orch_rec(Op::kHang, 3, 0, 0, 500);
    const CheckResult r = h.check();
    ASSERT_EQ(r.processes.size(), 4u);
    EXPECT_EQ(r.t_first_ns, 90u);
    EXPECT_EQ(r.t_last_ns, 400u);
    EXPECT_EQ(r.processes[prod].records, 3u);
    EXPECT_EQ(r.processes[prod].first_ns, 100u);
    EXPECT_EQ(r.processes[prod].last_ns, 130u);  // pending: its start
    EXPECT_EQ(r.processes[prod].status, SIGKILL);
    EXPECT_TRUE(r.processes[prod].killed_by_harness);
    EXPECT_FALSE(r.processes[prod].exit_logged);
    EXPECT_EQ(r.processes[cons].first_ns, 90u);
    EXPECT_EQ(r.processes[cons].last_ns, 400u);
    EXPECT_TRUE(r.processes[cons].exit_logged);
    EXPECT_EQ(r.processes[cons].status, 0);
    EXPECT_EQ(r.processes[sig].signals_sent, 42u);
    EXPECT_EQ(r.processes[sig].signal, std::uint32_t(SIGUSR1));
    EXPECT_EQ(r.processes[sig].signal_targets, 2u);
    EXPECT_EQ(r.processes[sig].signals_note_ns, 300u);
    EXPECT_EQ(r.processes[3].records, 0u);
    EXPECT_TRUE(r.processes[3].hung);
    EXPECT_EQ(r.processes[3].status, -1);
    EXPECT_EQ(r.processes[prod].signals_note_ns, 0u);
}

}  // namespace
}  // namespace ipct::checker_test
