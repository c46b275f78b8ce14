// Rules for channels that do not carry a stream of distinct messages
// (shared counters, snapshots), for coalescing signals, and for the
// tolerances of lossy channels (udp's bounds).
#include <algorithm>
#include <cstdio>
#include <string>

#include "checker_detail.hpp"
#include "ipctorture/message.hpp"

namespace ipct::check_detail {

// Receives on counter and snapshot channels; true when handled here.
//   counter:  a consumer's one receive carries the final value (origin
//             kCounterOrigin, seq = value); the verdict waits for the end.
//   snapshot: a read must return a version some write produced: the writes
//             of one origin are sequential, so seq s exists once the write of
//             s has begun (sends are merged at their start, a read at its
//             end).  Reading a version many times is the point; a torn copy
//             is corrupted, unless a write cut short (its writer killed
//             mid-copy) could explain it.
bool Checker::on_shaped(std::uint32_t p, std::uint64_t i, const Record& r) {
    ChannelState& cs = chans_[r.channel];
    ChannelStats& st = res_.channels[r.channel];
    const RecRef ref{p, i};
    if (cs.shape == ChannelShape::kCounter) {
        st.last_recv_ns = std::max(st.last_recv_ns, r.t_end);
        if (r.op == Op::kRecv && r.status == Status::kOk && r.origin == kCounterOrigin) {
            cs.counter_reads.emplace_back(r.seq, ref);
            ++st.received;
        } else if (r.op == Op::kRecv && r.status == Status::kOk) {
            report_unexpected(r, ref);
        } else if (r.op == Op::kRecv && r.status == Status::kCorrupt) {
            ++st.corrupted;
            if (has(r.channel, Check::kCorrupted) && keep(FindingKind::kCorrupted))
                evidence(add(FindingKind::kCorrupted, r.channel, r.origin, r.seq,
                             chan_name(r.channel) + ": the counter's value arrived damaged"),
                         ref);
        }
        return true;
    }
    if (cs.shape != ChannelShape::kSnapshot) return false;
    if (r.op != Op::kRecv) return true;
    st.last_recv_ns = std::max(st.last_recv_ns, r.t_end);
    if (r.status == Status::kOk) {
        st.bytes_received += r.size;
        if (r.origin < cs.written.size() && r.seq < cs.written[r.origin]) {
            ++st.received;
        } else {
            report_unexpected(r, ref);
        }
        return true;
    }
    if (r.status != Status::kCorrupt) return true;
    if (st.send_unknown > 0) {  // a write cut short may have left the record torn
        ++st.indeterminate;
        ++res_.indeterminate;
        return true;
    }
    ++st.corrupted;
    if (!has(r.channel, Check::kCorrupted) || !keep(FindingKind::kCorrupted)) return true;
    const char* verdict = verdict_name(static_cast<Verdict>(r.aux));
    Finding& f =
        add(FindingKind::kCorrupted, r.channel, r.origin, r.seq,
            chan_name(r.channel) + ": torn read: " + proc_name(p) +
                " read a record no write produced (" + verdict + ", first bad byte at offset " +
                std::to_string(r.extra & 0x7fffffffu) + ")");
    evidence(f, ref);
    return true;
}

// Every consumer's reading of the final value against the increments: at
// least the completed ones (sent ok), at most all that were attempted.
void Checker::judge_counters() {
    for (std::uint32_t c = 0; c < nchannels_; ++c) {
        ChannelState& cs = chans_[c];
        if (cs.shape != ChannelShape::kCounter) continue;
        ChannelStats& st = res_.channels[c];
        for (const auto& [value, ref] : cs.counter_reads) {
            st.counter_value = value;
            st.counter_observed = true;
            if (value < st.sent) {
                st.lost += st.sent - value;
                if (!has(c, Check::kCounter) || !keep(FindingKind::kLostUpdate)) continue;
                Finding& f = add(FindingKind::kLostUpdate, c, 0, value,
                                 chan_name(c) + ": the counter ended at " + std::to_string(value) +
                                     " after " + std::to_string(st.sent) +
                                     " completed increments: " + std::to_string(st.sent - value) +
                                     " updates lost");
                evidence(f, ref);
            } else if (value > st.sent + st.send_unknown) {
                st.duplicated += value - st.sent - st.send_unknown;
                if (!has(c, Check::kCounter) || !keep(FindingKind::kDuplicated)) continue;
                Finding& f = add(FindingKind::kDuplicated, c, 0, value,
                                 chan_name(c) + ": the counter ended at " + std::to_string(value) +
                                     " though only " + std::to_string(st.sent + st.send_unknown) +
                                     " increments were made");
                evidence(f, ref);
            } else {
                st.indeterminate += value - st.sent;  // increments cut short that took effect
            }
        }
        if (cs.counter_reads.empty() && st.sent + st.send_unknown > 0) {
            ++st.indeterminate;  // no consumer read the final value
            ++res_.indeterminate;
        }
    }
}

// A coalescing signal: if every delivery on a drained channel ended before
// the last send began, that send left a signal pending that never came.
void Checker::judge_last_delivery() {
    for (std::uint32_t c = 0; c < nchannels_; ++c) {
        const ChannelState& cs = chans_[c];
        if (!has(c, Check::kLastDelivery) || cs.last_send.proc == kNoProc) continue;
        if (!loss_provable(c)) continue;
        if (cs.last_recv.proc != kNoProc && cs.last_recv_end >= cs.last_send_start) continue;
        if (!keep(FindingKind::kLastDelivery)) continue;
        const Record* s = record(cs.last_send);
        Finding& f =
            add(FindingKind::kLastDelivery, c, s ? s->origin : 0, s ? s->seq : 0,
                chan_name(c) + ": no delivery after the last send, though the channel was drained" +
                    (cs.last_recv.proc == kNoProc ? " (nothing was delivered)" : ""));
        evidence(f, cs.last_send);
        if (cs.last_recv.proc != kNoProc) evidence(f, cs.last_recv);
    }
}

namespace {
std::string percent(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g%%", x * 100);
    return b;
}
}  // namespace

// Rates against the scenario's bounds (lossy channels): a finding only where
// a rate exceeds its bound.  Losses count only where provable.
void Checker::judge_bounds() {
    for (std::uint32_t c = 0; c < nchannels_; ++c) {
        const Bounds& b = h_.plan->channels[c].bounds;
        const ChannelStats& st = res_.channels[c];
        if (st.sent == 0) continue;
        auto check = [&](const std::optional<double>& bound, std::uint64_t n, FindingKind k,
                         const char* what, const char* key) {
            if (!bound) return;
            const double rate = double(n) / double(st.sent);
            if (rate <= *bound || !keep(k)) return;
            add(k, c, 0, 0,
                chan_name(c) + ": " + what + " rate " + percent(rate) + " (" + std::to_string(n) +
                    " of " + std::to_string(st.sent) + " sent) exceeds " + key + " " +
                    percent(*bound));
        };
        check(b.max_loss, st.lost, FindingKind::kLost, "loss", "max_loss");
        check(b.max_duplicate, st.duplicated, FindingKind::kDuplicated, "duplication",
              "max_duplicate");
        check(b.max_reorder, st.fifo_violations, FindingKind::kFifo, "reordering", "max_reorder");
    }
}

}  // namespace ipct::check_detail
