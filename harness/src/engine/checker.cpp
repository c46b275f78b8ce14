// check_history: the orchestrator's log (hangs, crashes, interruption), the
// merge over the process logs (checker_merge.cpp), then the verdicts that
// need the whole run: lost or indeterminate messages, relays that never
// forwarded, and the findings in their final order.
#include "ipctorture/checker.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <tuple>

#include "checker_detail.hpp"

namespace ipct {

std::optional<FindingKind> parse_finding_kind(std::string_view name) {
    for (int k = 0; k < kFindingKinds; ++k)
        if (name == finding_kind_name(static_cast<FindingKind>(k)))
            return static_cast<FindingKind>(k);
    return std::nullopt;
}

const char* finding_kind_name(FindingKind k) {
    switch (k) {
        case FindingKind::kLost:
            return "lost";
        case FindingKind::kDuplicated:
            return "duplicated";
        case FindingKind::kCorrupted:
            return "corrupted";
        case FindingKind::kUnexpected:
            return "unexpected";
        case FindingKind::kFifo:
            return "fifo";
        case FindingKind::kHang:
            return "hang";
        case FindingKind::kCrash:
            return "crash";
        case FindingKind::kPriority:
            return "priority";
        case FindingKind::kSelective:
            return "selective";
        case FindingKind::kLostUpdate:
            return "lost_update";
        case FindingKind::kLastDelivery:
            return "last_delivery";
        case FindingKind::kSignalSafety:
            return "signal_safety";
        case FindingKind::kSanitizer:
            return "sanitizer";
    }
    return "unknown";
}

bool CheckResult::pass() const {
    return total_findings() == 0;
}

std::uint64_t CheckResult::total_findings() const {
    return std::accumulate(std::begin(counts), std::end(counts), std::uint64_t{0});
}

std::uint64_t LatencyHistogram::bucket_low(int i) {
    if (i < kSub) return static_cast<std::uint64_t>(i);
    const int shift = (i >> kSubBits) - 1;
    return (std::uint64_t{kSub} + static_cast<std::uint64_t>(i & (kSub - 1))) << shift;
}

std::uint64_t LatencyHistogram::bucket_high(int i) {
    if (i < kSub) return static_cast<std::uint64_t>(i);
    const int shift = (i >> kSubBits) - 1;
    return bucket_low(i) + ((std::uint64_t{1} << shift) - 1);
}

std::uint64_t LatencyHistogram::percentile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(bucket_high(static_cast<int>(i)), min(), max_);
    }
    return max_;
}

// Doubles the width until off fits, each step merging pairs of buckets.
std::uint64_t ThroughputSeries::widen(std::uint64_t off) {
    while ((off >> shift_) >= kBuckets) {
        for (int j = 0; j < kBuckets / 2; ++j) counts_[j] = counts_[2 * j] + counts_[2 * j + 1];
        std::fill(counts_.begin() + kBuckets / 2, counts_.end(), 0);
        ++shift_;
    }
    return off >> shift_;
}

namespace check_detail {
namespace {

std::string describe(const Record& r) {
    return std::string(op_name(r.op)) + " channel " + std::to_string(r.channel) + " origin " +
           std::to_string(r.origin) + " seq " + std::to_string(r.seq) + " " + status_name(r.status);
}

std::string how_it_ended(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* abbrev = sigabbrev_np(sig);
        std::string s = abbrev != nullptr ? std::string("killed by signal SIG") + abbrev
                                          : "killed by signal " + std::to_string(sig);
        return WCOREDUMP(status) ? s + " (core dumped)" : s;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    }
    return {};
}

}  // namespace

Checker::Checker(const HistoryView& h, const CheckOptions& opt) : h_(h), opt_(opt) {
    const Plan* plan = h.plan;
    nchannels_ = plan != nullptr ? plan->channels.size() : 0;
    const std::size_t planned = plan != nullptr ? plan->processes.size() : 0;
    procs_.resize(std::max(h.logs.size(), planned));
    chans_.resize(nchannels_);
    res_.channels.resize(nchannels_);
    res_.processes.resize(planned);
    for (std::size_t c = 0; c < nchannels_; ++c) {
        chans_[c].shape = plan->channels[c].shape;
        for (Check k : plan->channels[c].checks) {
            const auto i = static_cast<std::size_t>(k);
            if (i < chans_[c].checks.size()) chans_[c].checks[i] = true;
        }
    }
    plan_black_boxes();
    for (std::size_t p = 0; p < planned; ++p) {
        const PlannedProcess& pp = plan->processes[p];
        ProcState& ps = procs_[p];
        ps.name = pp.name;
        ps.in_channel = pp.in_channel;
        ps.out_channel = pp.out_channel;
        ps.exec = pp.role == Role::kExec;
        if (pp.role == Role::kRelay) {
            ps.relay = static_cast<std::uint32_t>(relays_.size());
            relays_.emplace_back(&tally_);
        }
        if (pp.in_channel < nchannels_ && !ps.exec) {
            // A reader behind a black box reads the route's messages.
            const bool routed = chans_[pp.in_channel].route != pp.in_channel;
            ps.in_channel = chans_[pp.in_channel].route;
            chans_[ps.in_channel].consumers.push_back(static_cast<std::uint32_t>(p));
            ps.request = pp.request;
            if (pp.request.order != ReceiveRequest::Order::kNone && !routed) {
                ps.order = static_cast<std::uint32_t>(orders_.size());
                orders_.emplace_back(pp.in_channel, static_cast<std::uint32_t>(p), pp.request,
                                     &tally_);
                chans_[pp.in_channel].orders.push_back(ps.order);
            }
        }
    }
    pos_.assign(h.logs.size(), 0);
}

CheckResult Checker::run() {
    judge_sanitizer();
    read_orchestrator();
    time_span();
    read_proxies();
    merge();
    std::vector<LostCandidate> lost;
    judge_streams(lost);
    judge_relays(lost);
    judge_dead_readers();
    report_lost(lost);
    judge_counters();
    judge_last_delivery();
    judge_bounds();
    res_.records = h_.orchestrator.size();
    for (const auto& log : h_.logs) res_.records += log.size();
    std::stable_sort(res_.findings.begin(), res_.findings.end(),
                     [](const Finding& a, const Finding& b) {
                         return std::tie(a.kind, a.channel, a.origin, a.seq) <
                                std::tie(b.kind, b.channel, b.origin, b.seq);
                     });
    tally_.note();
    if (opt_.memory != nullptr) *opt_.memory = tally_.peak;
    return std::move(res_);
}

// Each process's first and last record, and the history's: the report's
// timeline, and the origin of every channel's throughput series.  Records
// are in time order within a log, so this needs only its ends.
void Checker::time_span() {
    std::uint64_t first = 0, last = 0;
    for (std::size_t p = 0; p < h_.logs.size(); ++p) {
        const std::span<const Record> log = h_.logs[p];
        if (log.empty()) continue;
        const std::uint64_t t0 = log.front().t_start;
        const std::uint64_t t1 = std::max(log.back().t_start, log.back().t_end);
        if (first == 0 || t0 < first) first = t0;
        last = std::max(last, t1);
        if (p >= res_.processes.size()) continue;
        ProcessStats& ps = res_.processes[p];
        ps.records = log.size();
        ps.first_ns = t0;
        ps.last_ns = t1;
    }
    res_.t_first_ns = first;
    res_.t_last_ns = last;
    for (ChannelStats& st : res_.channels) st.throughput.start(first);
}

void Checker::read_orchestrator() {
    for (std::uint64_t i = 0; i < h_.orchestrator.size(); ++i) {
        const Record& r = h_.orchestrator[i];
        switch (r.op) {
            case Op::kWorkerStatus:
                on_worker_status(i, r);
                break;
            case Op::kHang:
                on_hang(i, r);
                break;
            case Op::kInterrupted:
                res_.interrupted = true;
                break;
            default:
                break;
        }
    }
}

// extra != 0: the harness killed the worker itself (watchdog, interrupt,
// teardown), so its end says nothing about the worker.  Nor does a non-zero
// status or SIGABRT after a sanitizer report: that is how the runtimes end a
// process (exitcode, halt_on_error, abort_on_error), and the report is the
// finding.
void Checker::on_worker_status(std::uint64_t, const Record& r) {
    const int status = static_cast<int>(r.aux);
    if (r.seq < procs_.size()) {
        procs_[r.seq].killed |= r.extra != 0 || WIFSIGNALED(status);
        procs_[r.seq].status_seen = true;
        procs_[r.seq].ended_ns = r.t_start;
        procs_[r.seq].status_zero = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (r.seq < res_.processes.size()) {
        res_.processes[r.seq].status = status;
        res_.processes[r.seq].killed_by_harness = r.extra != 0;
    }
    if (r.extra != 0) return;
    const bool sanitized = r.seq < procs_.size() && procs_[r.seq].sanitized;
    if (sanitized && (WIFEXITED(status) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)))
        return;
    const std::string how = how_it_ended(status);
    if (how.empty() || !keep(FindingKind::kCrash)) return;
    const bool exec = r.seq < procs_.size() && procs_[r.seq].exec;
    Finding& f = add(FindingKind::kCrash, kNoChannel, 0, 0,
                     exec ? exec_end(static_cast<std::uint32_t>(r.seq), how)
                          : "worker " + proc_name(r.seq) + " " + how);
    f.evidence.push_back(Evidence{kNoProc, r});
    evidence_last(f, r.seq);
}

void Checker::on_hang(std::uint64_t, const Record& r) {
    if (r.seq < procs_.size()) procs_[r.seq].hung = true;
    if (r.seq < res_.processes.size()) res_.processes[r.seq].hung = true;
    if (!keep(FindingKind::kHang)) return;
    const bool has_log = r.seq < h_.logs.size() && !h_.logs[r.seq].empty();
    const bool exec = r.seq < procs_.size() && procs_[r.seq].exec;
    const std::string last = exec      ? "its program logs nothing"
                             : has_log ? "its last record: " + describe(h_.logs[r.seq].back())
                                       : "it logged nothing";
    const std::string who = exec ? exec_end(static_cast<std::uint32_t>(r.seq), "hung")
                                 : "worker " + proc_name(r.seq) + " hung";
    Finding& f =
        add(FindingKind::kHang, kNoChannel, 0, 0, who + " (stopped by the watchdog); " + last);
    f.evidence.push_back(Evidence{kNoProc, r});
    evidence_last(f, r.seq);
}

// A message missing from channel c is provably lost only if c is drained
// (it has consumers and each of them logged kDrained for it with no receive
// cut short, and none is a restarted process whose killed incarnation may
// have held a message: checker_faults.cpp judges those) and the missing message cannot be hiding in damaged bytes: on
// a byte stream that carried garbage or corrupt frames, a message whose
// header was split by an interleaved write arrived, but not whole.
bool Checker::loss_provable(std::size_t c) const {
    const std::vector<std::uint32_t>& cons = chans_[c].consumers;
    const bool drained =
        !cons.empty() && std::all_of(cons.begin(), cons.end(), [&](std::uint32_t p) {
            return procs_[p].drained && !procs_[p].recv_cut_short && procs_[p].deaths.empty();
        });
    const ChannelStats& st = res_.channels[c];
    const bool stream = chans_[c].stream_on_route;
    const bool damaged = stream && (st.garbage_bytes > 0 || st.corrupted > 0);
    return drained && !damaged && black_boxes_clean(static_cast<std::uint32_t>(c));
}

void Checker::judge_streams(std::vector<LostCandidate>& lost) {
    plan_dead_readers();
    std::vector<bool> provable(nchannels_);
    for (std::size_t c = 0; c < nchannels_; ++c) provable[c] = loss_provable(c);
    std::vector<std::size_t> order(streams_.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::tie(streams_[a].channel, streams_[a].origin) <
               std::tie(streams_[b].channel, streams_[b].origin);
    });
    for (std::size_t i : order) judge_stream(streams_[i], provable[streams_[i].channel], lost);
}

// Each send beyond the receives is missing.  Only ok sends can be provably
// lost (a pending or failed one may never have left), and only where
// loss_provable() holds for the channel; the rest is indeterminate.
void Checker::judge_stream(const Stream& s, bool provable, std::vector<LostCandidate>& lost) {
    std::vector<std::pair<std::uint64_t, Slot>> open;
    s.window.for_each([&](std::uint64_t seq, const Slot& sl) {
        if (std::uint64_t{sl.intact} + sl.corrupt < sl.sends()) open.emplace_back(seq, sl);
    });
    std::sort(open.begin(), open.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    ChannelStats& st = res_.channels[s.channel];
    const bool check = has(s.channel, Check::kLost);
    std::size_t listed = 0;
    for (const auto& [seq, sl] : open) {
        const std::uint64_t got = std::uint64_t{sl.intact} + sl.corrupt;
        const bool excused = proxy_excuses_missing(s.channel, s.origin, seq);
        if (excused && sl.sends_ok > got) ++st.proxy.excused;
        const std::uint64_t missing =
            provable && !excused && sl.sends_ok > got ? sl.sends_ok - got : 0;
        // Not provable as a whole: a reader was killed (checker_faults.cpp).
        const std::uint64_t late =
            missing == 0 && sl.sends_ok > got ? late_missing(s.channel, sl, sl.sends_ok - got) : 0;
        const std::uint64_t unknown = sl.sends() - got - missing - late;
        st.lost += missing + late;
        st.indeterminate += unknown;
        res_.indeterminate += unknown;
        if (missing + late == 0 || !check) continue;
        ++res_.counts[static_cast<int>(FindingKind::kLost)];
        if (listed++ < opt_.max_findings_per_kind) {
            lost.push_back(LostCandidate{
                s.channel, s.origin, seq, {sl.send_proc, sl.send_rec}, false, late != 0});
        }
    }
}

// A relay that ended cleanly (exit code 0, not killed, not hung) and still
// holds a receive without its forward dropped that message.
void Checker::judge_relays(std::vector<LostCandidate>& lost) {
    for (std::uint32_t p = 0; p < procs_.size(); ++p) {
        const ProcState& ps = procs_[p];
        if (ps.relay == kNoProc) continue;
        const bool clean = ps.exit_seen && ps.exit_zero && !ps.killed && !ps.hung;
        const std::uint32_t c = ps.out_channel;
        const bool known = c < nchannels_;
        std::size_t listed = 0;
        for (const RelayPending::Item& item : relays_[ps.relay].pending()) {
            if (!clean || !known) {
                ++res_.indeterminate;
                if (known) ++res_.channels[c].indeterminate;
                continue;
            }
            ++res_.channels[c].lost;
            if (!has(c, Check::kLost)) continue;
            ++res_.counts[static_cast<int>(FindingKind::kLost)];
            if (listed++ < opt_.max_findings_per_kind) {
                lost.push_back(LostCandidate{c, item.origin, item.seq, {p, item.rec}, true});
            }
        }
    }
}

void Checker::report_lost(std::vector<LostCandidate>& lost) {
    std::sort(lost.begin(), lost.end(), [](const LostCandidate& a, const LostCandidate& b) {
        return std::tie(a.channel, a.origin, a.seq, a.relay, a.evidence.proc, a.evidence.index) <
               std::tie(b.channel, b.origin, b.seq, b.relay, b.evidence.proc, b.evidence.index);
    });
    if (lost.size() > opt_.max_findings_per_kind) lost.resize(opt_.max_findings_per_kind);
    for (const LostCandidate& l : lost) {
        const std::string id =
            "origin " + std::to_string(l.origin) + " seq " + std::to_string(l.seq);
        std::string summary =
            l.relay ? chan_name(l.channel) + ": relay " + proc_name(l.evidence.proc) +
                          " received " + id + " but never forwarded it, and exited cleanly"
            : chans_[l.channel].black_boxes.empty()
                ? chan_name(l.channel) + ": " + id +
                      " sent ok, never received, though every consumer drained the channel"
                : chan_name(l.channel) + ": " + id +
                      " sent ok, never delivered through the exec program(s), though each "
                      "exited 0 and every consumer at the end drained its channel";
        if (l.after_dead_readers)
            summary = chan_name(l.channel) + ": " + id +
                      " sent ok after every killed reader of the channel had ended, never "
                      "received, though every other reader drained the channel";
        Finding& f = add(FindingKind::kLost, l.channel, l.origin, l.seq, std::move(summary));
        evidence(f, l.evidence);
    }
}

void Checker::report_duplicate(const Record& r, RecRef ref, const Slot* slot) {
    const std::uint32_t c = r.channel;
    ++res_.channels[c].duplicated;
    if (proxy_excuses_duplicate(r)) return;  // measured, judged against the bounds
    if (!has(c, Check::kDuplicated) || !keep(FindingKind::kDuplicated)) return;
    const std::string id = "origin " + std::to_string(r.origin) + " seq " + std::to_string(r.seq);
    const std::string how = slot != nullptr ? "received intact " + std::to_string(slot->intact) +
                                                  " times, sent " + std::to_string(slot->sends())
                                            : "received again after each of its sends was received";
    Finding& f =
        add(FindingKind::kDuplicated, c, r.origin, r.seq, chan_name(c) + ": " + id + " " + how);
    if (slot != nullptr) {
        evidence(f, RecRef{slot->send_proc, slot->send_rec});
        evidence(f, RecRef{slot->recv_proc, slot->recv_rec});
    }
    evidence(f, ref);
}

void Checker::report_unexpected(const Record& r, RecRef ref) {
    const std::uint32_t c = r.channel;
    ++res_.channels[c].unexpected;
    if (!has(c, Check::kCorrupted) || !keep(FindingKind::kUnexpected)) return;
    Finding& f = add(FindingKind::kUnexpected, c, r.origin, r.seq,
                     chan_name(c) + ": origin " + std::to_string(r.origin) + " seq " +
                         std::to_string(r.seq) + " received intact but never sent on it");
    evidence(f, ref);
}

// a was sent before b by the same sender; b's receive ended before a's began.
void Checker::report_fifo(const Record& r, RecRef ref, const Slot& a, const FifoTracker& f,
                          const FifoTracker::Latest& b) {
    const std::uint32_t c = f.channel();
    if (!has(c, Check::kFifo) || !keep(FindingKind::kFifo)) return;
    const Record* b_send = record(RecRef{f.sender(), b.send_rec});
    const std::string b_id = b_send != nullptr ? "origin " + std::to_string(b_send->origin) +
                                                     " seq " + std::to_string(b_send->seq)
                                               : "a later message";
    Finding& fd = add(FindingKind::kFifo, c, r.origin, r.seq,
                      chan_name(c) + ": " + proc_name(f.sender()) + " sent origin " +
                          std::to_string(r.origin) + " seq " + std::to_string(r.seq) + " before " +
                          b_id + ", but the latter's receive ended before the former's began");
    evidence(fd, RecRef{a.send_proc, a.send_rec});
    evidence(fd, RecRef{f.sender(), b.send_rec});
    evidence(fd, ref);
    evidence(fd, b.recv);
}

bool Checker::has(std::uint32_t channel, Check c) const {
    return channel < nchannels_ && chans_[channel].checks[static_cast<std::size_t>(c)];
}

// Counts a finding of kind k; true while the cap still lets it be listed.
bool Checker::keep(FindingKind k) {
    const auto i = static_cast<std::size_t>(k);
    ++res_.counts[i];
    if (kept_[i] >= opt_.max_findings_per_kind) return false;
    ++kept_[i];
    return true;
}

Finding& Checker::add(FindingKind k, std::uint32_t channel, std::uint32_t origin, std::uint64_t seq,
                      std::string summary) {
    Finding f;
    f.kind = k;
    f.channel = channel;
    f.origin = origin;
    f.seq = seq;
    f.summary = std::move(summary);
    res_.findings.push_back(std::move(f));
    return res_.findings.back();
}

const Record* Checker::record(RecRef r) const {
    if (r.proc >= h_.logs.size() || r.index >= h_.logs[r.proc].size()) return nullptr;
    return &h_.logs[r.proc][r.index];
}

void Checker::evidence(Finding& f, RecRef r) const {
    if (const Record* rec = record(r)) f.evidence.push_back(Evidence{r.proc, *rec});
}

void Checker::evidence_last(Finding& f, std::uint64_t p) const {
    if (p < h_.logs.size() && !h_.logs[p].empty()) {
        f.evidence.push_back(Evidence{static_cast<std::uint32_t>(p), h_.logs[p].back()});
    }
}

std::string Checker::proc_name(std::uint64_t p) const {
    if (p < procs_.size() && !procs_[p].name.empty()) return procs_[p].name;
    return "process " + std::to_string(p);
}

std::string Checker::chan_name(std::uint32_t c) const {
    if (c < nchannels_ && !h_.plan->channels[c].name.empty()) {
        return "channel " + h_.plan->channels[c].name + chans_[c].via;
    }
    return "channel " + std::to_string(c);
}

}  // namespace check_detail

CheckResult check_history(const HistoryView& h, const CheckOptions& opt) {
    check_detail::Checker checker(h, opt);
    return checker.run();
}

}  // namespace ipct
