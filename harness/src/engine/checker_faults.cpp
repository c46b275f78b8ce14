// Loss across killed readers: what the history still proves when some
// readers of a channel were killed (a process fault, a crash, the watchdog)
// and the others drained it.
//
// A reader that drained saw every writer gone and the channel empty, so a
// message sent ok and never received was lost, or taken by a dead reader
// before it died and never logged.  A dead reader cannot have taken a
// message whose send began after it had ended (its kWorkerStatus time, taken
// when the orchestrator saw it end, is a bound on its death): such a missing
// message is lost, by name.  On a kernel message queue (posix_mq, sysv_msg)
// a receive dequeues one message and the reader logs it before the next
// receive, so a dead reader held at most one: N missing messages sent before
// the last death, with K dead readers, prove N - K lost (which ones cannot
// be told).  A byte stream's reader (pipe, fifo) may have read any number
// of messages into its buffer: only the rule by send time applies there.
// Other backends keep state in user space (shared memory, sockets with a
// connection per reader, proxies, plugins) and are left alone: whatever is
// missing there stays indeterminate.
//
// A restarted reader (faults.hpp) is both: each of its killed incarnations
// is a dead reader (it ended at its Note::kIncarnation time and held at most
// one message), and its last incarnation, if it drained, is a reader that
// drained.
#include <algorithm>
#include <string>

#include "checker_detail.hpp"

namespace ipct::check_detail {
namespace {

bool one_message_per_receive(const std::string& backend) {
    return backend == "posix_mq" || backend == "sysv_msg";
}

bool byte_stream_shared_by_readers(const std::string& backend) {
    return backend == "pipe" || backend == "fifo";
}

}  // namespace

void Checker::plan_dead_readers() {
    dead_.assign(nchannels_, DeadReaders{});
    for (std::uint32_t c = 0; c < nchannels_; ++c) {
        const PlannedChannel& pc = h_.plan->channels[c];
        const ChannelState& cs = chans_[c];
        const bool queue = one_message_per_receive(pc.backend);
        if (!queue && !byte_stream_shared_by_readers(pc.backend)) continue;
        if (!pc.mutant.empty() || cs.shape != ChannelShape::kMessages || cs.route != c ||
            !cs.black_boxes.empty())
            continue;
        const ChannelStats& st = res_.channels[c];
        if (st.garbage_bytes > 0 || st.corrupted > 0) continue;  // a message may hide in damage
        DeadReaders d;
        bool clean = false, other = false;
        std::size_t holders = 0;
        for (std::uint32_t p : cs.consumers) {
            const ProcState& ps = procs_[p];
            for (std::uint64_t t : ps.deaths) {
                d.cutoff = std::max(d.cutoff, t);
                ++holders;
            }
            if (!ps.deaths.empty() &&
                std::find(d.dead.begin(), d.dead.end(), p) == d.dead.end())
                d.dead.push_back(p);
            if (ps.drained && !ps.recv_cut_short) {
                clean = true;
            } else if (!ps.drained && ps.killed && ps.status_seen && ps.ended_ns != 0) {
                if (ps.deaths.empty()) d.dead.push_back(p);
                d.cutoff = std::max(d.cutoff, ps.ended_ns);
                ++holders;
            } else {
                other = true;
            }
        }
        if (!clean || other || d.dead.empty()) continue;
        d.applies = true;
        d.bounded = queue;
        d.holders = holders;
        dead_[c] = std::move(d);
    }
}

// A message missing `missing` times from channel c whose loss is not
// provable as a whole: lost if its send began after every dead reader had
// ended; otherwise counted for judge_dead_readers() and left indeterminate.
std::uint64_t Checker::late_missing(std::uint32_t c, const Slot& sl, std::uint64_t missing) {
    if (c >= dead_.size() || !dead_[c].applies || sl.send_proc >= h_.logs.size()) return 0;
    const Record& send = h_.logs[sl.send_proc][sl.send_rec];
    if (send.t_start > dead_[c].cutoff) return missing;
    dead_[c].pool += missing;
    return 0;
}

// On a message queue: more messages missing from before the deaths than the
// dead readers could hold.  One finding per channel, naming no message.
void Checker::judge_dead_readers() {
    for (std::uint32_t c = 0; c < dead_.size(); ++c) {
        const DeadReaders& d = dead_[c];
        if (!d.applies || !d.bounded || d.pool <= d.holders) continue;
        const std::uint64_t lost = d.pool - d.holders;
        res_.channels[c].lost += lost;
        res_.channels[c].indeterminate -= lost;
        res_.indeterminate -= lost;
        if (!has(c, Check::kLost) || !keep(FindingKind::kLost)) continue;
        std::string who;
        for (std::uint32_t p : d.dead) who += (who.empty() ? "" : ", ") + proc_name(p);
        Finding& f = add(FindingKind::kLost, c, 0, 0,
                         chan_name(c) + ": " + std::to_string(d.pool) +
                             " messages sent ok before its killed reader(s) " + who +
                             " ended were never received, though the other readers drained it; "
                             "a killed reader held at most one message, so at least " +
                             std::to_string(lost) + " were lost");
        for (std::uint32_t p : d.dead) evidence_last(f, p);
    }
}

}  // namespace ipct::check_detail
