// Checker tests at scale: memory stays bounded by the messages in flight,
// randomized histories match brute force or counts known by construction,
// and random garbage neither crashes nor hangs the checker.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "checker_history.hpp"
#include "ipctorture/checker.hpp"

namespace ipct::checker_test {
namespace {

TEST(CheckerScale, LargeInOrderHistoryKeepsMemorySmall) {
    OneToOne t(1000000);
    CheckMemoryStats mem;
    CheckOptions opt;
    opt.memory = &mem;
    CheckResult r = t.h.check(opt);
    EXPECT_TRUE(r.pass());
    EXPECT_LE(mem.window_slots, 64u);
    EXPECT_EQ(mem.side_entries, 0u);
    EXPECT_LE(mem.fifo_entries, 2048u);
}

TEST(CheckerScale, LaggingConsumerAndLossStayBounded) {
    // The consumer runs 100000 messages behind and 1% is lost.
    Hist h;
    auto ch = h.channel("ch");
    auto p = h.producer("p", ch, 1);
    auto c = h.consumer("c", ch);
    const std::uint64_t n = 300000, lag = 100000;
    std::uint64_t dropped = 0;
    for (std::uint64_t i = 0; i < n + lag; ++i) {
        if (i < n) h.send(p, 10 * i, 10 * i + 5, i);
        if (i >= lag) {
            const std::uint64_t s = i - lag;
            if (s % 100 == 7) {
                ++dropped;
            } else {
                h.recv(c, 10 * i + 1, 10 * i + 6, 1, s);
            }
        }
    }
    h.drained(c, 10 * (n + lag) + 100);
    CheckMemoryStats mem;
    CheckOptions opt;
    opt.memory = &mem;
    CheckResult r = h.check(opt);
    EXPECT_EQ(count(r, FindingKind::kLost), dropped);
    EXPECT_EQ(r.total_findings(), dropped);
    EXPECT_EQ(r.channels[0].lost, dropped);
    EXPECT_EQ(r.channels[0].received, n - dropped);
    EXPECT_LE(mem.window_slots, 1u << 17);
}

TEST(CheckerScale, WildSeqDoesNotGrowTheWindow) {
    OneToOne t(100);
    t.h.send(t.prod, 100000, 100001, std::uint64_t{1} << 60);
    t.h.send(t.prod, 100002, 100003, ~std::uint64_t{0});
    t.h.send(t.prod, 100004, 100005, 100 + 60000);
    CheckMemoryStats mem;
    CheckOptions opt;
    opt.memory = &mem;
    CheckResult r = t.h.check(opt);
    EXPECT_LE(mem.window_slots, 64u);
    EXPECT_EQ(r.channels[0].sent, 103u);
    EXPECT_EQ(r.channels[0].lost, 3u);
}

// Receives (consumer, dequeue time, origin, seq) laid out as consumer logs:
// sorted by dequeue time, with t_start <= d <= t_end jittered and both made
// nondecreasing per consumer, as real consumer logs are.
struct Delivery {
    std::uint32_t consumer;
    std::uint64_t d;
    std::uint32_t origin;
    std::uint64_t seq;
};
void lay_out(Hist& h, std::vector<Delivery> ds, std::mt19937_64& rng) {
    std::stable_sort(ds.begin(), ds.end(),
                     [](const Delivery& a, const Delivery& b) { return a.d < b.d; });
    std::vector<std::pair<std::uint64_t, std::uint64_t>> last(h.logs.size(), {0, 0});
    for (const Delivery& x : ds) {
        auto& [ts, te] = last[x.consumer];
        ts = std::max(ts, x.d - std::min<std::uint64_t>(x.d, rng() % 40));
        te = std::max(te, x.d + rng() % 40);
        h.recv(x.consumer, ts, te, x.origin, x.seq);
    }
}

// Brute force: a is overtaken when a later send of the same sender had its
// receive end before a's began.
std::uint64_t brute_force_fifo(const Hist& h, std::uint32_t ch) {
    struct Rx {
        std::uint32_t sender;
        std::uint64_t index, t_start, t_end;
    };
    std::vector<Rx> rx;
    for (std::uint32_t p = 0; p < h.logs.size(); ++p) {
        if (h.plan.processes[p].in_channel != ch) continue;
        for (const Record& r : h.logs[p]) {
            if (r.op != Op::kRecv) continue;
            for (std::uint32_t s = 0; s < h.logs.size(); ++s) {
                if (h.plan.processes[s].origin != r.origin ||
                    h.plan.processes[s].out_channel != ch) {
                    continue;
                }
                for (std::uint64_t i = 0; i < h.logs[s].size(); ++i) {
                    if (h.logs[s][i].op == Op::kSend && h.logs[s][i].seq == r.seq) {
                        rx.push_back(Rx{s, i, r.t_start, r.t_end});
                    }
                }
            }
        }
    }
    std::uint64_t n = 0;
    for (const Rx& a : rx) {
        n += std::any_of(rx.begin(), rx.end(), [&](const Rx& b) {
            return b.sender == a.sender && b.index > a.index && b.t_end < a.t_start;
        });
    }
    return n;
}

TEST(CheckerScale, RandomReorderingMatchesBruteForceFifo) {
    std::mt19937_64 rng(777);
    for (int round = 0; round < 6; ++round) {
        Hist h;
        auto ch = h.channel("ch");
        auto p0 = h.producer("p0", ch, 1);
        auto p1 = h.producer("p1", ch, 2);
        std::vector<std::uint32_t> cons;
        for (int c = 0; c < 3; ++c) cons.push_back(h.consumer("c" + std::to_string(c), ch));
        std::vector<Delivery> ds;
        const std::uint64_t jitter = round < 3 ? 30 : 3000;
        for (std::uint64_t i = 0; i < 1500; ++i) {
            for (std::uint32_t j = 0; j < 2; ++j) {
                h.send(j == 0 ? p0 : p1, 20 * i + j, 20 * i + j + 5, i);
                ds.push_back(Delivery{cons[rng() % 3], 20 * i + 50 + rng() % jitter, j + 1, i});
            }
        }
        lay_out(h, ds, rng);
        for (auto c : cons) h.drained(c, ~0ull >> 1);
        CheckResult r = h.check();
        const std::uint64_t expected = brute_force_fifo(h, ch);
        EXPECT_EQ(r.channels[0].fifo_violations, expected) << "round " << round;
        EXPECT_EQ(count(r, FindingKind::kFifo), expected);
        EXPECT_EQ(r.total_findings(), expected);
        if (round >= 3) {
            EXPECT_GT(expected, 0u);
        }
    }
}

// Random loss, duplication, long delays and ids never sent, against counts
// known by construction.
TEST(CheckerScale, RandomLossAndDuplicationAreCountedExactly) {
    std::mt19937_64 rng(4242);
    Hist h;
    auto ch = h.channel("ch");
    auto p0 = h.producer("p0", ch, 1);
    auto p1 = h.producer("p1", ch, 2);
    std::vector<std::uint32_t> cons = {h.consumer("c0", ch), h.consumer("c1", ch)};
    std::vector<Delivery> ds;
    std::uint64_t lost = 0, dups = 0, received = 0, unexpected = 0;
    const std::uint64_t n = 150000;
    for (std::uint64_t i = 0; i < n; ++i) {
        for (std::uint32_t j = 0; j < 2; ++j) {
            h.send(j == 0 ? p0 : p1, 20 * i + j, 20 * i + j + 5, i);
            const std::uint64_t roll = rng() % 1000;
            const int copies = roll < 5 ? 0 : roll < 10 ? 2 : 1;
            lost += copies == 0;
            dups += copies == 2;
            received += copies > 0;
            for (int k = 0; k < copies; ++k) {
                // Mostly prompt; some messages stall for up to ~100000 sends.
                const std::uint64_t delay = rng() % 100 < 2 ? rng() % 4000000 : rng() % 200;
                ds.push_back(Delivery{cons[rng() % 2], 20 * i + 10 + delay, j + 1, i});
            }
        }
        if (rng() % 5000 == 0) {
            ++unexpected;
            ds.push_back(Delivery{cons[0], 20 * i + 10, rng() % 2 ? 9u : 1u, n + rng() % 1000000});
        }
    }
    lay_out(h, ds, rng);
    for (auto c : cons) h.drained(c, ~0ull >> 1);
    CheckMemoryStats mem;
    CheckOptions opt;
    opt.memory = &mem;
    CheckResult r = h.check(opt);
    EXPECT_EQ(r.channels[0].lost, lost);
    EXPECT_EQ(count(r, FindingKind::kLost), lost);
    EXPECT_EQ(r.channels[0].duplicated, dups);
    EXPECT_EQ(count(r, FindingKind::kDuplicated), dups);
    EXPECT_EQ(r.channels[0].unexpected, unexpected);
    EXPECT_EQ(r.channels[0].received, received);
    EXPECT_EQ(r.channels[0].indeterminate, 0u);
    EXPECT_LE(mem.window_slots, 2u << 16);
    EXPECT_GT(mem.side_entries, 0u);  // stragglers did leave the window
}

#ifndef IPCT_CHECKER_FUZZ_ROUNDS
#define IPCT_CHECKER_FUZZ_ROUNDS 300
#endif

// Random records, plans and orchestrator logs: the checker must neither
// crash nor hang, and its counts must stay consistent.
TEST(CheckerScale, RandomGarbageDoesNotCrash) {
    std::mt19937_64 rng(12345);
    auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
    const std::uint64_t seqs[] = {0,     1,     15,    16,         63,    64,
                                  65535, 65536, 65600, 1ull << 60, ~0ull, ~0ull - 1};
    for (int round = 0; round < IPCT_CHECKER_FUZZ_ROUNDS; ++round) {
        Hist h;
        const std::uint32_t nch = static_cast<std::uint32_t>(pick(3));
        for (std::uint32_t c = 0; c < nch; ++c) h.channel("c" + std::to_string(c));
        const std::uint32_t np = static_cast<std::uint32_t>(pick(5));
        for (std::uint32_t p = 0; p < np; ++p) {
            h.process("p" + std::to_string(p), static_cast<Role>(pick(3)),
                      static_cast<std::uint32_t>(pick(nch + 2)),
                      static_cast<std::uint32_t>(pick(nch + 2)),
                      static_cast<std::uint32_t>(pick(3)));
        }
        h.logs.resize(np + pick(3));  // logs the plan does not know
        for (auto& log : h.logs) {
            const std::uint64_t n = pick(400);
            std::uint64_t t = pick(1000);
            for (std::uint64_t i = 0; i < n; ++i) {
                Record r{};
                t += pick(4) == 0 ? rng() : pick(50);
                r.t_start = pick(10) == 0 ? rng() : t;
                r.t_end = pick(10) == 0 ? 0 : r.t_start + pick(100);
                r.op = static_cast<Op>(pick(15));
                r.status = static_cast<Status>(pick(7));
                r.channel = static_cast<std::uint16_t>(pick(5) == 0 ? rng() : pick(nch + 1));
                r.origin = static_cast<std::uint32_t>(pick(6) == 0 ? rng() : pick(4));
                r.seq = pick(3) == 0 ? seqs[pick(std::size(seqs))] : (pick(2) ? i : pick(200000));
                r.size = static_cast<std::uint32_t>(rng());
                r.aux = static_cast<std::uint32_t>(rng());
                r.extra = static_cast<std::uint32_t>(rng());
                log.push_back(r);
            }
        }
        for (std::uint64_t i = pick(20); i > 0; --i) {
            h.orch_rec(static_cast<Op>(pick(15)), pick(4) == 0 ? rng() : pick(np + 2),
                       static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(pick(3)),
                       rng());
        }
        CheckOptions opt;
        opt.max_findings_per_kind = pick(5);
        CheckResult r = h.check(opt);
        for (int k = 0; k < kFindingKinds; ++k) {
            const auto listed = static_cast<std::uint64_t>(
                std::count_if(r.findings.begin(), r.findings.end(),
                              [&](const Finding& f) { return static_cast<int>(f.kind) == k; }));
            EXPECT_LE(listed, opt.max_findings_per_kind);
            EXPECT_LE(listed, r.counts[k]);
        }
    }
}
}  // namespace
}  // namespace ipct::checker_test
