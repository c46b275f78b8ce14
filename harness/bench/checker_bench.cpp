// checker_bench: check_history over synthetic 10-million-message histories.
//
// Prints records per second (best and median of a few runs), the checker's
// own peak structures and the process's peak RSS while checking.  Variants:
//   1p1c  one producer -> one consumer, one receive per message;
//   4p2c  four producers -> two consumers that read batches of 8 frames per
//         call (the records of a batch share their times, as stream
//         consumers log them).
// Usage: checker_bench [messages] [repeats].  No assertion on speed.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "ipctorture/checker.hpp"

namespace {

using ipct::Op;
using ipct::Record;
using ipct::Status;

struct Synthetic {
    ipct::Plan plan;
    std::vector<std::vector<Record>> logs;
};

Record make(Op op, std::uint64_t t0, std::uint64_t t1, std::uint32_t ch) {
    Record r{};
    r.op = op;
    r.t_start = t0;
    r.t_end = t1;
    r.channel = static_cast<std::uint16_t>(ch);
    r.status = Status::kOk;
    return r;
}

Record message(Op op, std::uint64_t t0, std::uint64_t t1, std::uint32_t origin, std::uint64_t seq) {
    Record r = make(op, t0, t1, 0);
    r.origin = origin;
    r.seq = seq;
    r.size = 256;
    return r;
}

void add_process(Synthetic& s, const std::string& name, ipct::Role role, std::uint32_t in,
                 std::uint32_t out, std::uint32_t origin) {
    ipct::PlannedProcess p;
    p.index = static_cast<std::uint32_t>(s.plan.processes.size());
    p.name = name;
    p.role = role;
    p.in_channel = in;
    p.out_channel = out;
    p.origin = origin;
    s.plan.processes.push_back(p);
    s.logs.emplace_back();
    s.logs.back().push_back(make(Op::kStart, 1, 1, ipct::kNoChannel));
}

void add_channel(Synthetic& s) {
    ipct::PlannedChannel c;
    c.name = "ch0";
    c.backend = "pipe";
    c.checks = {ipct::Check::kLost, ipct::Check::kDuplicated, ipct::Check::kCorrupted,
                ipct::Check::kFifo};
    s.plan.channels.push_back(c);
}

void finish(Synthetic& s, std::uint64_t t, std::size_t producers) {
    for (std::size_t p = 0; p < s.logs.size(); ++p) {
        if (p >= producers) s.logs[p].push_back(make(Op::kDrained, t, t, 0));
        s.logs[p].push_back(make(Op::kExit, t + 1, t + 1, ipct::kNoChannel));
    }
}

// Producer sends message i at [100i+10, 100i+20]; the consumer receives it at
// [100i+50, 100i+60].
Synthetic one_to_one(std::uint64_t n) {
    Synthetic s;
    add_channel(s);
    add_process(s, "producer0", ipct::Role::kProducer, ipct::kNoChannel, 0, 0);
    add_process(s, "consumer0", ipct::Role::kConsumer, 0, ipct::kNoChannel, 0);
    s.logs[0].reserve(n + 3);
    s.logs[1].reserve(n + 4);
    for (std::uint64_t i = 0; i < n; ++i) {
        s.logs[0].push_back(message(Op::kSend, 100 * i + 10, 100 * i + 20, 0, i));
        s.logs[1].push_back(message(Op::kRecv, 100 * i + 50, 100 * i + 60, 0, i));
    }
    finish(s, 100 * n + 100, 1);
    return s;
}

// Message k comes from producer k % 4 (seq k / 4), sent at [10k, 10k+5];
// batch b = k / 8 is read by consumer b % 2 in one call at [80b+300, 80b+310].
Synthetic four_to_two(std::uint64_t n) {
    Synthetic s;
    add_channel(s);
    for (std::uint32_t p = 0; p < 4; ++p) {
        add_process(s, "producer" + std::to_string(p), ipct::Role::kProducer, ipct::kNoChannel, 0,
                    p);
        s.logs.back().reserve(n / 4 + 4);
    }
    for (int c = 0; c < 2; ++c) {
        add_process(s, "consumer" + std::to_string(c), ipct::Role::kConsumer, 0, ipct::kNoChannel,
                    0);
        s.logs.back().reserve(n / 2 + 16);
    }
    for (std::uint64_t k = 0; k < n; ++k) {
        const auto origin = static_cast<std::uint32_t>(k % 4);
        s.logs[origin].push_back(message(Op::kSend, 10 * k, 10 * k + 5, origin, k / 4));
        const std::uint64_t b = k / 8;
        s.logs[4 + b % 2].push_back(message(Op::kRecv, 80 * b + 300, 80 * b + 310, origin, k / 4));
    }
    finish(s, 10 * n + 1000, 4);
    return s;
}

std::uint64_t status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field, 0) == 0)
            return std::strtoull(line.c_str() + std::string(field).size(), nullptr, 10);
    }
    return 0;
}

// Resets VmHWM to the current RSS, so the next peak is the check's own.
void reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
}

void run(const char* name, const Synthetic& s, int repeats) {
    ipct::HistoryView h;
    h.plan = &s.plan;
    std::uint64_t bytes = 0;
    for (const auto& l : s.logs) {
        h.logs.emplace_back(l);
        bytes += l.size() * sizeof(Record);
    }
    std::vector<double> rates;
    ipct::CheckResult r;
    ipct::CheckMemoryStats mem;
    std::uint64_t before_kib = 0, peak_kib = 0;
    for (int i = 0; i < repeats; ++i) {
        reset_peak_rss();
        before_kib = status_kib("VmRSS:");
        ipct::CheckOptions opt;
        opt.memory = &mem;
        const auto t0 = std::chrono::steady_clock::now();
        r = ipct::check_history(h, opt);
        const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
        peak_kib = status_kib("VmHWM:");
        rates.push_back(static_cast<double>(r.records) / dt.count());
    }
    std::sort(rates.begin(), rates.end());
    std::printf("%s: %llu records (%.0f MiB of history), verdict %s, %llu findings\n", name,
                static_cast<unsigned long long>(r.records), static_cast<double>(bytes) / (1 << 20),
                r.pass() ? "pass" : "FAIL", static_cast<unsigned long long>(r.total_findings()));
    std::printf("  events/s: best %.1f M, median %.1f M (%d runs)\n", rates.back() / 1e6,
                rates[rates.size() / 2] / 1e6, repeats);
    std::printf(
        "  peak RSS while checking: %llu KiB (history and all: %llu KiB before; +%llu KiB)\n",
        static_cast<unsigned long long>(peak_kib), static_cast<unsigned long long>(before_kib),
        static_cast<unsigned long long>(peak_kib > before_kib ? peak_kib - before_kib : 0));
    std::printf("  checker peaks: %llu window slots, %llu side entries, %llu fifo entries\n",
                static_cast<unsigned long long>(mem.window_slots),
                static_cast<unsigned long long>(mem.side_entries),
                static_cast<unsigned long long>(mem.fifo_entries));
}

void print_placement() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::string cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set)) cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
        }
    }
    std::printf("checker_bench: allowed CPUs {%s}, starting on CPU %d\n", cpus.c_str(),
                sched_getcpu());
}

}  // namespace

int main(int argc, char** argv) {
    const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10000000;
    const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
    print_placement();
    {
        const Synthetic s = one_to_one(n);
        run("1p1c", s, repeats);
    }
    {
        const Synthetic s = four_to_two(n);
        run("4p2c", s, repeats);
    }
    return 0;
}
