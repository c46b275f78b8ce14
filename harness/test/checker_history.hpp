// Hand-built histories for the checker tests: a plan with channels and
// processes, and per-process logs appended with explicit times.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ipctorture/checker.hpp"

namespace ipct::checker_test {

inline const std::vector<Check> kAllChecks = {Check::kLost, Check::kDuplicated, Check::kCorrupted,
                                              Check::kFifo};

// Builds a plan and per-process logs by hand, with explicit times.
struct Hist {
    Plan plan;
    std::vector<std::vector<Record>> logs;
    std::vector<Record> orch;

    std::uint32_t channel(const std::string& name, std::vector<Check> checks = kAllChecks) {
        PlannedChannel c;
        c.index = static_cast<std::uint32_t>(plan.channels.size());
        c.name = name;
        c.backend = "pipe";
        c.checks = std::move(checks);
        plan.channels.push_back(c);
        return c.index;
    }
    std::uint32_t process(const std::string& name, Role role, std::uint32_t in, std::uint32_t out,
                          std::uint32_t origin = 0) {
        PlannedProcess p;
        p.index = static_cast<std::uint32_t>(plan.processes.size());
        p.name = name;
        p.role = role;
        p.in_channel = in;
        p.out_channel = out;
        p.origin = origin;
        plan.processes.push_back(p);
        logs.emplace_back();
        return p.index;
    }
    std::uint32_t producer(const std::string& name, std::uint32_t out, std::uint32_t origin) {
        return process(name, Role::kProducer, kNoChannel, out, origin);
    }
    std::uint32_t consumer(const std::string& name, std::uint32_t in) {
        return process(name, Role::kConsumer, in, kNoChannel);
    }
    std::uint32_t relay(const std::string& name, std::uint32_t in, std::uint32_t out) {
        return process(name, Role::kRelay, in, out);
    }

    Record& rec(std::uint32_t p, Op op, std::uint64_t t0, std::uint64_t t1, std::uint32_t ch) {
        Record r{};
        r.t_start = t0;
        r.t_end = t1;
        r.op = op;
        r.channel = static_cast<std::uint16_t>(ch);
        r.status = Status::kOk;
        logs[p].push_back(r);
        return logs[p].back();
    }
    // A send by p on its out channel; origin defaults to p's own.
    Record& send(std::uint32_t p, std::uint64_t t0, std::uint64_t t1, std::uint64_t seq,
                 Status st = Status::kOk, std::int64_t origin = -1) {
        Record& r =
            rec(p, Op::kSend, t0, st == Status::kPending ? 0 : t1, plan.processes[p].out_channel);
        r.origin = origin < 0 ? plan.processes[p].origin : static_cast<std::uint32_t>(origin);
        r.seq = seq;
        r.size = 64;
        r.status = st;
        return r;
    }
    Record& recv(std::uint32_t p, std::uint64_t t0, std::uint64_t t1, std::uint32_t origin,
                 std::uint64_t seq, Status st = Status::kOk) {
        Record& r = rec(p, Op::kRecv, t0, t1, plan.processes[p].in_channel);
        r.origin = origin;
        r.seq = seq;
        r.size = 64;
        r.status = st;
        return r;
    }
    void garbage(std::uint32_t p, std::uint64_t t, std::uint32_t bytes) {
        rec(p, Op::kGarbage, t, t, plan.processes[p].in_channel).size = bytes;
    }
    void drained(std::uint32_t p, std::uint64_t t) {
        rec(p, Op::kDrained, t, t, plan.processes[p].in_channel);
    }
    void exit(std::uint32_t p, std::uint64_t t, std::uint32_t code = 0) {
        rec(p, Op::kExit, t, t, kNoChannel).aux = code;
    }
    void orch_rec(Op op, std::uint64_t p, std::uint32_t aux, std::uint32_t extra, std::uint64_t t) {
        Record r{};
        r.op = op;
        r.seq = p;
        r.aux = aux;
        r.extra = extra;
        r.t_start = t;
        r.t_end = t;
        r.status = Status::kOk;
        orch.push_back(r);
    }
    void worker_status(std::uint32_t p, int wait_status, bool by_harness) {
        orch_rec(Op::kWorkerStatus, p, static_cast<std::uint32_t>(wait_status), by_harness, 0);
    }

    CheckResult check(CheckOptions opt = {}) const {
        HistoryView h;
        h.plan = &plan;
        for (const auto& l : logs) h.logs.emplace_back(l);
        h.orchestrator = orch;
        return check_history(h, opt);
    }
};

inline std::uint64_t count(const CheckResult& r, FindingKind k) {
    return r.counts[static_cast<int>(k)];
}

inline std::vector<const Finding*> of_kind(const CheckResult& r, FindingKind k) {
    std::vector<const Finding*> out;
    for (const Finding& f : r.findings) {
        if (f.kind == k) out.push_back(&f);
    }
    return out;
}

// producer -> ch -> consumer, n messages, send i at [100i+10, 100i+20],
// receive at [100i+50, 100i+60]; `skip` is never received.
struct OneToOne {
    Hist h;
    std::uint32_t ch, prod, cons;
    OneToOne(std::uint64_t n, std::int64_t skip = -1, bool drain = true) {
        ch = h.channel("ch");
        prod = h.producer("producer0", ch, 7);
        cons = h.consumer("consumer0", ch);
        h.rec(prod, Op::kStart, 1, 1, kNoChannel);
        h.rec(cons, Op::kStart, 1, 1, kNoChannel);
        for (std::uint64_t i = 0; i < n; ++i) {
            h.send(prod, 100 * i + 10, 100 * i + 20, i);
            if (static_cast<std::int64_t>(i) != skip)
                h.recv(cons, 100 * i + 50, 100 * i + 60, 7, i);
        }
        h.exit(prod, 100 * n + 10);
        if (drain) h.drained(cons, 100 * n + 50);
        h.exit(cons, 100 * n + 60);
    }
};

// Makes the receives of seq k and k + 1 of a OneToOne history (no message
// skipped before them) return in the wrong order: k + 1 at its own time, k
// right after it.
inline void reorder(std::vector<Record>& consumer_log, std::uint64_t k) {
    Record& first = consumer_log[k + 1];
    Record& second = consumer_log[k + 2];
    first.seq = k + 1;
    first.t_start = 100 * (k + 1) + 50;
    first.t_end = first.t_start + 10;
    second.seq = k;
    second.t_start = 100 * (k + 1) + 70;
    second.t_end = second.t_start + 10;
}

}  // namespace ipct::checker_test
