// The checker's single pass: a k-way merge of the process logs and the rules
// that apply record by record (duplicated, corrupted, unexpected, fifo).
//
// Order: a send is taken at its t_start and a receive at its t_end.  A
// message is enqueued after its send starts and dequeued before its receive
// ends, so a receive always comes after the send of what it returned: when a
// receive finds no send, none can come later.  At equal times sends go first.
// Keys are clamped to be monotone within each log, so a damaged history still
// merges in one pass (its verdicts may be odd, never a crash).
#include <algorithm>
#include <limits>
#include <span>
#include <string>

#include "checker_detail.hpp"
#include "ipctorture/message.hpp"

namespace ipct::check_detail {
namespace {

struct Head {
    std::uint64_t key;
    std::uint64_t tie;  // class << 32 | process; class 0 sends and markers, 1 receives
    std::uint32_t proc() const { return static_cast<std::uint32_t>(tie); }
};

inline bool before(const Head& a, const Head& b) {
    return a.key < b.key || (a.key == b.key && a.tie < b.tie);
}

std::uint64_t raw_key(const Record& r) {
    if (r.op == Op::kRecv && r.t_end != 0) return r.t_end;
    return r.t_start;
}

std::uint64_t tie(const Record& r, std::uint32_t p) {
    return (std::uint64_t{r.op == Op::kRecv} << 32) | p;
}

inline void sift_down(std::vector<Head>& heap, std::size_t i) {
    const std::size_t n = heap.size();
    for (;;) {
        std::size_t best = i;
        const std::size_t l = 2 * i + 1;
        if (l < n && before(heap[l], heap[best])) best = l;
        if (l + 1 < n && before(heap[l + 1], heap[best])) best = l + 1;
        if (best == i) return;
        std::swap(heap[i], heap[best]);
        i = best;
    }
}

// FIFO entries are folded this often (in records): often enough to keep them
// at the messages in flight, rarely enough to cost nothing per record.
constexpr std::uint64_t kFoldEvery = 1024;
constexpr std::uint32_t kDirectOrigins = 4096;

std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) {
    return (std::uint64_t{a} << 32) | b;
}

}  // namespace

void Checker::merge() {
    std::vector<Head> heap;
    for (std::uint32_t p = 0; p < h_.logs.size(); ++p) {
        if (!h_.logs[p].empty())
            heap.push_back(Head{raw_key(h_.logs[p][0]), tie(h_.logs[p][0], p)});
    }
    for (std::size_t i = heap.size(); i-- > 0;) sift_down(heap, i);
    std::uint64_t since_fold = 0;
    while (!heap.empty()) {
        Head& top = heap[0];
        const std::uint32_t p = top.proc();
        const std::span<const Record> log = h_.logs[p];
        const std::uint64_t i = pos_[p]++;
        dispatch(p, i, log[i], top.key);
        if (i + 1 < log.size()) {
            const Record& next = log[i + 1];
            top.key = std::max(top.key, raw_key(next));
            top.tie = tie(next, p);
        } else {
            top = heap.back();
            heap.pop_back();
        }
        if (!heap.empty()) sift_down(heap, 0);
        if (++since_fold == kFoldEvery) {
            since_fold = 0;
            fold_fifo();
        }
    }
}

void Checker::dispatch(std::uint32_t p, std::uint64_t i, const Record& r, std::uint64_t key) {
    // What a reader takes from behind a black box is judged on the route
    // (checker_exec.cpp); evidence still shows the record as logged.
    const bool reads = r.op == Op::kRecv || r.op == Op::kGarbage || r.op == Op::kDrained;
    if (reads && r.channel < nchannels_ && chans_[r.channel].route != r.channel) {
        Record routed = r;
        routed.channel = static_cast<std::uint16_t>(chans_[r.channel].route);
        // A route always ends where it starts over; only a damaged plan (a
        // cycle of programs) gets here without, and its record is dropped.
        if (chans_[routed.channel].route == routed.channel) dispatch(p, i, routed, key);
        return;
    }
    ProcState& ps = procs_[p];
    switch (r.op) {
        case Op::kSend:
            on_send(p, i, r);
            break;
        case Op::kRecv:
            on_receive(p, i, r, key);
            break;
        case Op::kGarbage:
            on_garbage(p, i, r);
            break;
        case Op::kDrained:
            if (r.channel == ps.in_channel) ps.drained = true;
            break;
        case Op::kExit:
            ps.exit_seen = true;
            ps.exit_zero = r.aux == 0;
            if (p < res_.processes.size()) {
                res_.processes[p].exit_logged = true;
                res_.processes[p].exit_code = r.aux;
            }
            break;
        case Op::kNote:
            on_note(p, r);
            break;
        default:
            break;
    }
}

void Checker::on_send(std::uint32_t p, std::uint64_t i, const Record& r) {
    const std::uint32_t c = r.channel;
    if (c >= nchannels_) return;
    const bool ok = r.status == Status::kOk;
    ChannelStats& st = res_.channels[c];
    ++(ok ? st.sent : st.send_unknown);
    if (st.first_send_ns == 0 || r.t_start < st.first_send_ns) st.first_send_ns = r.t_start;
    ChannelState& cs = chans_[c];
    if (cs.shape == ChannelShape::kCounter) return;  // an increment: counted, nothing to match
    if (cs.shape == ChannelShape::kSnapshot) {       // a write: its version exists from now on
        if (r.origin < kDirectOrigins) {
            if (cs.written.size() <= r.origin) cs.written.resize(r.origin + 1, 0);
            cs.written[r.origin] = std::max(cs.written[r.origin], r.seq + 1);
        }
        return;
    }
    if (ok && has(c, Check::kLastDelivery) &&
        (cs.last_send.proc == kNoProc || r.t_start >= cs.last_send_start)) {
        cs.last_send = RecRef{p, i};
        cs.last_send_start = r.t_start;
    }
    const std::uint32_t fifo = fifo_for(p, c);
    Slot& s = stream_for_send(c, r.origin).window.add_send(r.seq, ok);
    if (s.send_proc == kNoProc || (ok && s.sends_ok == 1)) {
        s.send_proc = p;
        s.send_rec = i;
        s.fifo = fifo;
    }
    const ProcState& ps = procs_[p];
    if (ps.relay != kNoProc && c == ps.out_channel) relays_[ps.relay].forwarded(r.origin, r.seq);
}

void Checker::on_receive(std::uint32_t p, std::uint64_t i, const Record& r, std::uint64_t key) {
    if (r.channel >= nchannels_) return;
    if (on_shaped(p, i, r)) return;
    if ((r.status == Status::kOk || r.status == Status::kCorrupt) &&
        has(r.channel, Check::kLastDelivery)) {
        ChannelState& cs = chans_[r.channel];
        if (cs.last_recv.proc == kNoProc || r.t_end >= cs.last_recv_end) {
            cs.last_recv = RecRef{p, i};
            cs.last_recv_end = r.t_end;
        }
    }
    switch (r.status) {
        case Status::kOk:
            on_intact(p, i, r, key);
            break;
        case Status::kCorrupt:
            on_corrupt(p, i, r);
            break;
        case Status::kPending:
            // Cut short inside the call: it may have taken a message with it.
            if (r.channel == procs_[p].in_channel) procs_[p].recv_cut_short = true;
            break;
        default:
            break;  // an error or a timeout returned no message
    }
}

void Checker::on_intact(std::uint32_t p, std::uint64_t i, const Record& r, std::uint64_t key) {
    const std::uint32_t c = r.channel;
    ChannelStats& st = res_.channels[c];
    st.bytes_received += r.size;
    st.last_recv_ns = std::max(st.last_recv_ns, r.t_end);
    const RecRef ref{p, i};
    const ProcState& ps = procs_[p];
    if (ps.relay != kNoProc && c == ps.in_channel) relays_[ps.relay].received(r.origin, r.seq, i);
    Stream* s = find_stream(c, r.origin);
    Slot slot;
    if (s == nullptr || !s->window.add_receive(r.seq, true, ref, &slot)) {
        if (s != nullptr && s->window.forgotten_settled(r.seq)) {
            report_duplicate(r, ref, nullptr);
        } else {
            report_unexpected(r, ref);
        }
        return;
    }
    if (slot.intact == 1) {
        ++st.received;
        // The representative send is a record of the log it was read from.
        if (slot.send_proc < h_.logs.size()) {
            const std::uint64_t sent = h_.logs[slot.send_proc][slot.send_rec].t_start;
            st.latency.add(r.t_end > sent ? r.t_end - sent : 0);
        }
        st.throughput.add(r.t_end);
    }
    if (slot.intact > slot.sends()) {
        report_duplicate(r, ref, &slot);
    } else if (slot.intact == 1 && slot.sends() == 1) {
        if (slot.fifo != kNoProc) check_fifo(r, key, ref, slot);
        if (slot.sends_ok == 1 && !chans_[c].orders.empty()) check_order(r, key, ref, slot);
    }
}

void Checker::on_note(std::uint32_t p, const Record& r) {
    if (r.aux == static_cast<std::uint32_t>(Note::kIncarnation) && p < procs_.size()) {
        // A receive the killed incarnation had in hand is one a dead reader
        // held (checker_faults.cpp), not the live process's.
        ProcState& st = procs_[p];
        st.deaths.push_back(r.t_start);
        st.drained = false;
        st.recv_cut_short = false;
        st.exit_seen = false;
        return;
    }
    if (r.aux != static_cast<std::uint32_t>(Note::kSignalsSent) || p >= res_.processes.size())
        return;
    ProcessStats& ps = res_.processes[p];
    ps.signals_sent = r.seq;
    ps.signal = r.extra;
    ps.signal_targets = r.origin;
    ps.signals_note_ns = r.t_start;
}

// A corrupt receive had a valid header: it accounts for its send (not lost).
void Checker::on_corrupt(std::uint32_t p, std::uint64_t i, const Record& r) {
    const std::uint32_t c = r.channel;
    ChannelStats& st = res_.channels[c];
    st.last_recv_ns = std::max(st.last_recv_ns, r.t_end);
    const RecRef ref{p, i};
    Slot slot;
    bool sent = false;
    if (Stream* s = find_stream(c, r.origin))
        sent = s->window.add_receive(r.seq, false, ref, &slot);
    // A send that never completed ok (its writer was killed mid-write, or the
    // write failed part way) explains a damaged or truncated arrival.
    if ((sent && slot.sends_ok == 0) || proxy_excuses_corrupt(r)) {
        ++st.indeterminate;
        ++res_.indeterminate;
        return;
    }
    ++st.corrupted;
    if (!has(c, Check::kCorrupted) || !keep(FindingKind::kCorrupted)) return;
    const char* verdict = verdict_name(static_cast<Verdict>(r.aux));
    // The receive record's extra holds the first bad offset, its top bit
    // flagging a frame cut short by the end of the stream (roles.cpp).
    const std::uint32_t offset = r.extra & 0x7fffffffu;
    const bool truncated = (r.extra & 0x80000000u) != 0;
    Finding& f = add(FindingKind::kCorrupted, c, r.origin, r.seq,
                     chan_name(c) + ": origin " + std::to_string(r.origin) + " seq " +
                         std::to_string(r.seq) + " received damaged (" + verdict +
                         ", first bad byte at offset " + std::to_string(offset) +
                         (truncated ? ", frame cut short by the end of the stream" : "") + ")");
    if (sent) evidence(f, RecRef{slot.send_proc, slot.send_rec});
    evidence(f, ref);
}

void Checker::on_garbage(std::uint32_t p, std::uint64_t i, const Record& r) {
    const std::uint32_t c = r.channel;
    if (c >= nchannels_) return;
    if (chans_[c].shape == ChannelShape::kSnapshot && res_.channels[c].send_unknown > 0) {
        ++res_.channels[c].indeterminate;  // a write cut short may have torn the record
        ++res_.indeterminate;
        return;
    }
    ChannelStats& st = res_.channels[c];
    if (proxy_excuses_garbage(r)) {  // the part of a frame a proxy's cut let through
        ++st.indeterminate;
        ++res_.indeterminate;
        return;
    }
    st.garbage_bytes += r.size;
    ++st.unexpected;
    if (!has(c, Check::kCorrupted) || !keep(FindingKind::kUnexpected)) return;
    Finding& f = add(FindingKind::kUnexpected, c, 0, 0,
                     chan_name(c) + ": " + std::to_string(r.size) +
                         " bytes received that no message accounts for");
    evidence(f, RecRef{p, i});
}

// Called on the first intact receive of a message sent exactly once.
void Checker::check_fifo(const Record& r, std::uint64_t key, RecRef ref, const Slot& slot) {
    FifoTracker& f = fifos_[slot.fifo];
    FifoTracker::Latest b;
    if (f.latest_before(r.t_start, &b) && b.send_rec > slot.send_rec &&
        !proxy_excuses_order(r, slot.send_proc, b.send_rec)) {
        ++res_.channels[f.channel()].fifo_violations;
        report_fifo(r, ref, slot, f, b);
    }
    f.add(key, slot.send_rec, ref);
}

// Receives still to come on c start no earlier than the next record of each
// consumer of c (t_start is nondecreasing along a log), so FIFO entries that
// ended before that are answered the same by one aggregate.
void Checker::fold_fifo() {
    for (std::uint32_t c = 0; c < nchannels_; ++c) {
        const ChannelState& cs = chans_[c];
        if (cs.fifos.empty()) continue;
        const std::uint64_t h = horizon(c);
        for (std::uint32_t f : cs.fifos) fifos_[f].fold(h);
    }
}

Stream* Checker::find_stream(std::uint32_t channel, std::uint32_t origin) {
    if (origin < kDirectOrigins) {
        const std::vector<std::uint32_t>& d = chans_[channel].direct;
        return origin < d.size() && d[origin] != 0 ? &streams_[d[origin] - 1] : nullptr;
    }
    auto it = far_streams_.find(pair_key(channel, origin));
    return it == far_streams_.end() ? nullptr : &streams_[it->second];
}

Stream& Checker::stream_for_send(std::uint32_t channel, std::uint32_t origin) {
    if (Stream* s = find_stream(channel, origin)) return *s;
    const auto index = static_cast<std::uint32_t>(streams_.size());
    streams_.push_back(Stream{channel, origin, IdWindow(&tally_)});
    if (origin < kDirectOrigins) {
        std::vector<std::uint32_t>& d = chans_[channel].direct;
        if (d.size() <= origin) d.resize(origin + 1, 0);
        d[origin] = index + 1;
    } else {
        far_streams_.emplace(pair_key(channel, origin), index);
    }
    return streams_.back();
}

std::uint32_t Checker::fifo_for(std::uint32_t p, std::uint32_t channel) {
    ProcState& ps = procs_[p];
    if (ps.fifo_channel == channel) return ps.fifo_index;
    auto [it, inserted] =
        fifo_ids_.try_emplace(pair_key(channel, p), static_cast<std::uint32_t>(fifos_.size()));
    if (inserted) {
        fifos_.emplace_back(channel, p, &tally_);
        chans_[channel].fifos.push_back(it->second);
    }
    ps.fifo_channel = channel;
    ps.fifo_index = it->second;
    return it->second;
}

}  // namespace ipct::check_detail
