// Fuzz target: the history checker.
//
// Mode 0 (garbage): the input builds a small plan (1-3 channels, 1-6
// processes with roles, channels and checks from the input), per-process logs
// of records with any field values, and an orchestrator log.  The checker must
// not crash, hang or grow without bound, and the exact count of each finding
// kind is at least the number of findings of that kind it kept.
// Mode 1 (one mutation): a valid producer -> consumer history of n messages,
// received in order and drained, with one mutation chosen by the input; the
// checker must report exactly what the mutation did.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ipctorture/checker.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/plan.hpp"

namespace {

using ipct::FindingKind;

constexpr std::size_t kMaxRecords = 512;  // per log

struct History {
    ipct::Plan plan;
    std::vector<std::vector<ipct::Record>> logs;
    std::vector<ipct::Record> orch;

    ipct::CheckResult check() const {
        ipct::HistoryView h;
        h.plan = &plan;
        for (const auto& l : logs) h.logs.emplace_back(l);
        h.orchestrator = orch;
        return ipct::check_history(h);
    }
};

std::uint64_t count(const ipct::CheckResult& r, FindingKind k) {
    return r.counts[static_cast<int>(k)];
}

ipct::PlannedChannel channel(std::uint32_t index, std::vector<ipct::Check> checks, bool bounds) {
    ipct::PlannedChannel c;
    c.index = index;
    c.name = "ch" + std::to_string(index);
    c.backend = "pipe";
    c.checks = std::move(checks);
    c.max_message = 65536;
    c.boundaries = bounds;
    return c;
}

// A channel index from the input: usually a real one, sometimes out of range.
std::uint32_t any_channel(FuzzedDataProvider& in, std::uint32_t nchannels) {
    const auto c = in.ConsumeIntegralInRange<std::uint32_t>(0, nchannels + 1);
    return c == nchannels + 1 ? ipct::kNoChannel : c;
}

ipct::Record any_record(FuzzedDataProvider& in, std::uint32_t nchannels, std::uint64_t* t) {
    ipct::Record r{};
    *t += in.ConsumeIntegralInRange<std::uint64_t>(0, 100);
    r.t_start = in.ConsumeBool() ? *t : in.ConsumeIntegral<std::uint64_t>();
    r.t_end = in.ConsumeBool() ? r.t_start + in.ConsumeIntegralInRange<std::uint64_t>(0, 50)
                               : in.ConsumeIntegral<std::uint64_t>();
    r.seq = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint64_t>(0, 16)
                             : in.ConsumeIntegral<std::uint64_t>();
    r.origin = in.ConsumeIntegralInRange<std::uint32_t>(0, 3);
    if (in.ConsumeBool()) r.origin = in.ConsumeIntegral<std::uint32_t>();
    r.size = in.ConsumeIntegral<std::uint32_t>();
    r.aux = in.ConsumeIntegral<std::uint32_t>();
    r.channel = static_cast<std::uint16_t>(any_channel(in, nchannels));
    r.op = static_cast<ipct::Op>(in.ConsumeIntegralInRange<std::uint8_t>(0, 14));
    r.status = static_cast<ipct::Status>(in.ConsumeIntegralInRange<std::uint8_t>(0, 5));
    r.err = in.ConsumeIntegral<std::int32_t>();
    r.extra = in.ConsumeIntegralInRange<std::uint32_t>(0, 2);
    return r;
}

History garbage_history(FuzzedDataProvider& in) {
    History h;
    const auto nch = in.ConsumeIntegralInRange<std::uint32_t>(1, 3);
    for (std::uint32_t c = 0; c < nch; ++c) {
        std::vector<ipct::Check> checks;
        for (int k = 0; k < 4; ++k) {
            if (in.ConsumeBool()) checks.push_back(static_cast<ipct::Check>(k));
        }
        h.plan.channels.push_back(channel(c, std::move(checks), in.ConsumeBool()));
    }
    const int nproc = in.ConsumeIntegralInRange(1, 6);
    std::uint32_t origin = 0;
    for (int i = 0; i < nproc; ++i) {
        ipct::PlannedProcess p;
        p.index = static_cast<std::uint32_t>(i);
        p.name = "p" + std::to_string(i);
        static constexpr ipct::Role kRoles[] = {ipct::Role::kProducer, ipct::Role::kConsumer,
                                                ipct::Role::kRelay, ipct::Role::kExec};
        p.role = kRoles[in.ConsumeIntegralInRange(0, 3)];
        if (p.role != ipct::Role::kProducer) p.in_channel = any_channel(in, nch);
        if (p.role != ipct::Role::kConsumer) p.out_channel = any_channel(in, nch);
        if (p.role == ipct::Role::kProducer) p.origin = origin++;
        h.plan.processes.push_back(std::move(p));
    }
    h.logs.resize(static_cast<std::size_t>(nproc) + in.ConsumeIntegralInRange(0, 1));
    for (auto& log : h.logs) {
        std::uint64_t t = 0;
        const auto n = in.ConsumeIntegralInRange<std::size_t>(0, kMaxRecords);
        for (std::size_t i = 0; i < n && in.remaining_bytes() > 0; ++i) {
            log.push_back(any_record(in, nch, &t));
        }
    }
    std::uint64_t t = 0;
    const auto norch = in.ConsumeIntegralInRange<std::size_t>(0, 8);
    for (std::size_t i = 0; i < norch && in.remaining_bytes() > 0; ++i) {
        ipct::Record r = any_record(in, nch, &t);
        r.op = static_cast<ipct::Op>(in.ConsumeIntegralInRange<std::uint8_t>(10, 12));
        r.seq = in.ConsumeIntegralInRange<std::uint64_t>(0, 7);
        h.orch.push_back(r);
    }
    return h;
}

void check_garbage(FuzzedDataProvider& in) {
    const ipct::CheckResult r = garbage_history(in).check();
    std::uint64_t listed[ipct::kFindingKinds] = {};
    for (const ipct::Finding& f : r.findings) {
        const auto k = static_cast<std::size_t>(f.kind);
        if (k >= ipct::kFindingKinds) __builtin_trap();
        ++listed[k];
    }
    for (int k = 0; k < ipct::kFindingKinds; ++k) {
        if (r.counts[k] < listed[k]) __builtin_trap();
    }
}

// producer0 (origin 7) -> ch0 -> consumer0: every send completes before the
// first receive (a buffered channel), so any two receives can trade their
// seqs without one of them preceding its send: send i at [10i+1, 10i+5],
// receive i at [10n+100i+10, 10n+100i+20], then drained.  Logs: 0 producer,
// 1 consumer.
History valid_history(std::uint64_t n) {
    History h;
    h.plan.channels.push_back(channel(
        0,
        {ipct::Check::kLost, ipct::Check::kDuplicated, ipct::Check::kCorrupted, ipct::Check::kFifo},
        false));
    for (std::uint32_t i = 0; i < 2; ++i) {
        ipct::PlannedProcess p;
        p.index = i;
        p.name = i == 0 ? "producer0" : "consumer0";
        p.role = i == 0 ? ipct::Role::kProducer : ipct::Role::kConsumer;
        (i == 0 ? p.out_channel : p.in_channel) = 0;
        p.origin = i == 0 ? 7 : 0;
        h.plan.processes.push_back(p);
    }
    h.logs.resize(2);
    auto rec = [&](std::uint32_t p, ipct::Op op, std::uint64_t t0, std::uint64_t t1,
                   std::uint64_t seq) {
        ipct::Record r{};
        r.t_start = t0;
        r.t_end = t1;
        r.seq = seq;
        r.origin = op == ipct::Op::kSend || op == ipct::Op::kRecv ? 7 : 0;
        r.size = op == ipct::Op::kSend || op == ipct::Op::kRecv ? 64 : 0;
        r.channel = 0;
        r.op = op;
        r.status = ipct::Status::kOk;
        h.logs[p].push_back(r);
    };
    for (std::uint64_t i = 0; i < n; ++i) {
        rec(0, ipct::Op::kSend, 10 * i + 1, 10 * i + 5, i);
        rec(1, ipct::Op::kRecv, 10 * n + 100 * i + 10, 10 * n + 100 * i + 20, i);
    }
    rec(1, ipct::Op::kDrained, 110 * n + 100, 110 * n + 100, 0);
    return h;
}

void check_mutation(FuzzedDataProvider& in) {
    const auto n = in.ConsumeIntegralInRange<std::uint64_t>(2, 200);
    History h = valid_history(n);
    std::vector<ipct::Record>& recv = h.logs[1];  // n receives, then kDrained
    const auto i = in.ConsumeIntegralInRange<std::uint64_t>(0, n - 1);
    switch (in.ConsumeIntegralInRange(0, 3)) {
        case 0: {  // drop one receive
            recv.erase(recv.begin() + static_cast<std::ptrdiff_t>(i));
            const ipct::CheckResult r = h.check();
            if (count(r, FindingKind::kLost) != 1) __builtin_trap();
            break;
        }
        case 1: {  // swap two receives' seqs, times left in place
            auto j = in.ConsumeIntegralInRange<std::uint64_t>(0, n - 2);
            if (j >= i) ++j;
            std::swap(recv[i].seq, recv[j].seq);
            const ipct::CheckResult r = h.check();
            if (count(r, FindingKind::kFifo) < 1) __builtin_trap();
            break;
        }
        case 2: {  // duplicate a receive, later than every other one
            ipct::Record dup = recv[i];
            dup.t_start = 110 * n + 50;
            dup.t_end = 110 * n + 60;
            recv.insert(recv.end() - 1, dup);
            const ipct::CheckResult r = h.check();
            if (count(r, FindingKind::kDuplicated) != 1) __builtin_trap();
            break;
        }
        default: {
            if (!h.check().pass()) __builtin_trap();
            break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    if (in.ConsumeBool()) {
        check_mutation(in);
    } else {
        check_garbage(in);
    }
    return 0;
}
