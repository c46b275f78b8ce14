// The queue-order rule (priority on posix_mq and real-time signals,
// selective receive on sysv_msg): see checker.hpp for the rule and
// OrderTracker in checker_detail.hpp for how it stays within the messages in
// flight.
//
// Why it is sound: m's dequeue lies inside m's receive call and after m's
// enqueue, which lies inside m's send call; so it came after both calls
// began.  If n's send ended before that and n's receive began after m's
// receive ended, n sat in the queue at the moment m was taken; if the
// request admits n and n ranks before m (a better class, or the same class
// and n fully sent before m's send began, so n was queued first), the kernel
// had to return n, not m.
#include <algorithm>
#include <limits>
#include <string>

#include "checker_detail.hpp"

namespace ipct::check_detail {

std::uint64_t OrderTracker::rank(std::uint32_t t) const {
    switch (req_.order) {
        case ReceiveRequest::Order::kHighestFirst:
            return std::numeric_limits<std::uint32_t>::max() - t;
        case ReceiveRequest::Order::kLowestFirst:
            return t;
        default:
            return 0;  // queue order alone
    }
}

bool OrderTracker::find_overtaken(const Entry& n, std::uint64_t send_end, Entry* m) const {
    if (!req_.admits(n.type)) return false;
    const std::uint64_t rn = rank(n.type);
    for (auto it = folded_.lower_bound(rn); it != folded_.end(); ++it) {
        const bool same = it->first == rn;
        const Entry& e = same ? it->second.late_send : it->second.late_dequeue;
        if (overtakes(same, e, send_end) && e.recv_end < n.recv_start) {
            *m = e;
            return true;
        }
    }
    for (const Entry& e : live_) {
        if (e.key >= n.recv_start) break;  // sorted by key; key >= end
        const std::uint64_t re = rank(e.type);
        if (re < rn || e.recv_end >= n.recv_start) continue;
        if (overtakes(re == rn, e, send_end)) {
            *m = e;
            return true;
        }
    }
    return false;
}

void OrderTracker::add(const Entry& e) {
    live_.push_back(e);
    ++tally_->fifo_entries;
}

void OrderTracker::fold(std::uint64_t horizon) {
    std::size_t n = 0;
    while (n < live_.size() && live_[n].key < horizon) {
        const Entry& e = live_[n];
        Best& b = folded_[rank(e.type)];
        if (b.late_dequeue.recv.proc == kNoProc || dequeue_bound(e) > dequeue_bound(b.late_dequeue))
            b.late_dequeue = e;
        if (b.late_send.recv.proc == kNoProc || e.send_start > b.late_send.send_start)
            b.late_send = e;
        ++n;
    }
    live_.erase(live_.begin(), live_.begin() + static_cast<std::ptrdiff_t>(n));
    tally_->fifo_entries -= n;
}

// Called on the first intact receive of a message sent exactly once, ok.
void Checker::check_order(const Record& r, std::uint64_t key, RecRef ref, const Slot& slot) {
    const std::uint32_t c = r.channel;
    const ProcState& reader = procs_[ref.proc];
    if (reader.order == kNoProc || c != reader.in_channel) return;
    const Record* send = record(RecRef{slot.send_proc, slot.send_rec});
    if (send == nullptr || send->status != Status::kOk) return;
    if (!reader.request.admits(r.aux)) report_excluded(r, ref);
    OrderTracker::Entry n{r.t_start, r.t_end, send->t_start, key, r.aux, ref};
    OrderTracker::Entry m;
    for (std::uint32_t g : chans_[c].orders) {
        const OrderTracker& t = orders_[g];
        if (t.request().per_reader && t.reader() != ref.proc) continue;
        if (t.find_overtaken(n, send->t_end, &m)) {
            report_order(t, r, ref, RecRef{slot.send_proc, slot.send_rec}, m);
            break;
        }
    }
    orders_[reader.order].add(n);
    if (++chans_[c].order_receives >= 64) fold_orders(c);
}

void Checker::fold_orders(std::uint32_t c) {
    chans_[c].order_receives = 0;
    const std::uint64_t h = horizon(c);
    for (std::uint32_t g : chans_[c].orders) orders_[g].fold(h);
}

// Receives still to come on c start no earlier than the next record of each
// consumer of c (t_start is nondecreasing along a log).
std::uint64_t Checker::horizon(std::uint32_t c) const {
    std::uint64_t h = std::numeric_limits<std::uint64_t>::max();
    for (std::uint32_t p : chans_[c].consumers) {
        if (p < h_.logs.size() && pos_[p] < h_.logs[p].size())
            h = std::min(h, h_.logs[p][pos_[p]].t_start);
    }
    return h;
}

std::string Checker::request_text(const ReceiveRequest& q) const {
    std::string order;
    switch (q.order) {
        case ReceiveRequest::Order::kHighestFirst:
            order = "highest priority first";
            break;
        case ReceiveRequest::Order::kLowestFirst:
            order = "lowest type first";
            break;
        default:
            order = "queue order";
            break;
    }
    switch (q.match) {
        case ReceiveRequest::Match::kAny:
            return order;
        case ReceiveRequest::Match::kEqual:
            return "type " + std::to_string(q.type) + " only, " + order;
        case ReceiveRequest::Match::kNotEqual:
            return "any type but " + std::to_string(q.type) + ", " + order;
        case ReceiveRequest::Match::kAtMost:
            return "types up to " + std::to_string(q.type) + ", " + order;
    }
    return order;
}

namespace {
FindingKind order_kind(bool priority) {
    return priority ? FindingKind::kPriority : FindingKind::kSelective;
}
std::string id(const Record& r) {
    return "origin " + std::to_string(r.origin) + " seq " + std::to_string(r.seq);
}
}  // namespace

void Checker::report_order(const OrderTracker& g, const Record& n_recv, RecRef n_ref, RecRef n_send,
                           const OrderTracker::Entry& m) {
    const std::uint32_t c = n_recv.channel;
    ++res_.channels[c].order_violations;
    const bool prio = has(c, Check::kPriority);
    if (!prio && !has(c, Check::kSelective)) return;
    if (!keep(order_kind(prio))) return;
    const Record* mr = record(m.recv);
    if (mr == nullptr) return;
    const char* what = g.request().order == ReceiveRequest::Order::kHighestFirst ||
                               g.request().order == ReceiveRequest::Order::kLowestFirst
                           ? (prio ? "priority" : "type")
                           : "type";
    Finding& f =
        add(order_kind(prio), c, mr->origin, mr->seq,
            chan_name(c) + ": " + proc_name(m.recv.proc) + " (" + request_text(g.request()) +
                ") received " + id(*mr) + " (" + what + " " + std::to_string(mr->aux) +
                ") although " + id(n_recv) + " (" + what + " " + std::to_string(n_recv.aux) +
                "), which ranks before it, was queued for the whole receive: sent "
                "before it began, received only after it ended");
    evidence(f, m.recv);
    evidence(f, n_send);
    evidence(f, n_ref);
}

void Checker::report_excluded(const Record& r, RecRef ref) {
    const std::uint32_t c = r.channel;
    ++res_.channels[c].order_violations;
    const bool prio = has(c, Check::kPriority);
    if (!prio && !has(c, Check::kSelective)) return;
    if (!keep(order_kind(prio))) return;
    Finding& f = add(order_kind(prio), c, r.origin, r.seq,
                     chan_name(c) + ": " + proc_name(ref.proc) + " asked for " +
                         request_text(procs_[ref.proc].request) + " and received " + id(r) +
                         " of type " + std::to_string(r.aux));
    evidence(f, ref);
}

}  // namespace ipct::check_detail
