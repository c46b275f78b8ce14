// Internals of the history checker (checker*.cpp), not a public interface.
//
// Memory model: the checker never keeps a record per message sent.  It keeps
//  - per (channel, origin) an IdWindow: a ring of slots for the seqs in flight
//    (sent, not yet received as often as sent) plus side maps for stragglers
//    (evicted from the ring, the lost/indeterminate candidates) and outliers
//    (seqs far ahead of the ring, only seen in damaged histories);
//  - per (channel, sender) a FifoTracker: receives in merge order, folded
//    into one aggregate once no future receive can start before them;
//  - per relay a RelayPending: receives not yet forwarded.
// Records are referred to by (process, index in its log), never copied.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ipctorture/checker.hpp"

namespace ipct::check_detail {

inline constexpr std::uint32_t kNoProc = 0xffffffff;

struct RecRef {
    std::uint32_t proc = kNoProc;
    std::uint64_t index = 0;
};

// Live sizes of the bounded structures, with their peaks.
struct MemoryTally {
    std::uint64_t window_slots = 0;
    std::uint64_t side_entries = 0;
    std::uint64_t fifo_entries = 0;
    std::uint64_t relay_pending = 0;
    CheckMemoryStats peak;
    void note();
};

// What is known of one message id (channel, origin, seq).
struct Slot {
    std::uint64_t send_rec = 0;  // representative send: the first ok one, else the first
    std::uint64_t recv_rec = 0;  // first receive, intact or corrupt
    std::uint32_t send_proc = kNoProc;
    std::uint32_t recv_proc = kNoProc;
    std::uint32_t fifo = kNoProc;  // FifoTracker of (channel, send_proc)
    std::uint32_t sends_ok = 0;
    std::uint32_t sends_unknown = 0;  // pending or failed: may or may not have been sent
    std::uint32_t intact = 0;
    std::uint32_t corrupt = 0;

    std::uint64_t sends() const { return std::uint64_t{sends_ok} + sends_unknown; }
    bool used() const { return sends() != 0; }
    // Every send is accounted for by an intact receive: one more intact
    // receive is a duplicate, so the slot may be forgotten.
    bool settled() const { return used() && intact >= sends(); }
};

// The slots of one (channel, origin).  Contract, for any seq:
//   seq in [base, base + ring size)   -> the ring (an unused slot: never sent);
//   seq <  base -> `behind_` (unsettled stragglers), else a hole (passed over
//                  while never sent), else it was settled and forgotten;
//   seq >= base + ring size -> `ahead_` (outliers), else never sent.
// The ring only grows while at least half of it is unsettled, up to
// kMaxRing; a seq just past the ring slides it (evicting the oldest), one far
// away goes to `ahead_`.  So a wild seq (2^60) never resizes anything and each
// operation costs O(kMaxSlide) at worst.
class IdWindow {
  public:
    explicit IdWindow(MemoryTally* tally) : tally_(tally) {}

    // Counts a send of seq; returns its slot for the caller to fill its
    // references.  The reference is valid until the next call on the window.
    Slot& add_send(std::uint64_t seq, bool ok);
    // Counts a receive; copies the updated slot to *out.  False (and nothing
    // counted) when seq is not tracked.
    bool add_receive(std::uint64_t seq, bool intact, RecRef ref, Slot* out);
    // For a seq add_receive did not find: was it sent, settled, forgotten?
    bool forgotten_settled(std::uint64_t seq) const;
    // Calls f(seq, slot) for every tracked slot, in no particular order.
    template <class F>
    void for_each(F&& f) const;

    static constexpr std::uint64_t kInitialRing = 16;
    static constexpr std::uint64_t kMaxRing = 1u << 16;
    static constexpr std::uint64_t kMaxSlide = 64;

  private:
    bool in_ring(std::uint64_t seq) const { return seq >= base_ && seq - base_ < ring_.size(); }
    Slot& at(std::uint64_t seq) { return ring_[seq & (ring_.size() - 1)]; }
    bool make_room(std::uint64_t seq);
    bool add_receive_side(std::uint64_t seq, bool intact, RecRef ref, Slot* out);
    void start(std::uint64_t seq);
    void grow();
    void slide_to(std::uint64_t new_base);
    void advance();
    void pull_ahead(std::uint64_t lo, std::uint64_t hi);
    void add_hole(std::uint64_t seq);
    void remove_hole(std::uint64_t seq);
    bool in_hole(std::uint64_t seq) const;
    Slot& side_slot(std::uint64_t seq);
    static void count(Slot& s, bool intact, RecRef ref);

    MemoryTally* tally_;
    std::vector<Slot> ring_;  // power-of-two size; seq maps to seq & (size - 1)
    std::uint64_t base_ = 0;
    std::uint64_t unsettled_ = 0;  // used, unsettled ring slots
    std::unordered_map<std::uint64_t, Slot> behind_;
    std::map<std::uint64_t, Slot> ahead_;
    std::map<std::uint64_t, std::uint64_t> holes_;  // [start, end)
};

inline Slot& IdWindow::add_send(std::uint64_t seq, bool ok) {
    if (!in_ring(seq) && !make_room(seq)) {
        Slot& side = side_slot(seq);
        ++(ok ? side.sends_ok : side.sends_unknown);
        return side;
    }
    Slot& s = at(seq);
    const bool was_unsettled = s.used() && !s.settled();
    ++(ok ? s.sends_ok : s.sends_unknown);
    if (!was_unsettled && !s.settled()) ++unsettled_;
    return s;
}

inline void IdWindow::count(Slot& s, bool intact, RecRef ref) {
    ++(intact ? s.intact : s.corrupt);
    if (s.recv_proc == kNoProc) {
        s.recv_proc = ref.proc;
        s.recv_rec = ref.index;
    }
}

inline bool IdWindow::add_receive(std::uint64_t seq, bool intact, RecRef ref, Slot* out) {
    if (!in_ring(seq)) return add_receive_side(seq, intact, ref, out);
    Slot& s = at(seq);
    if (!s.used()) return false;
    const bool was_settled = s.settled();
    count(s, intact, ref);
    *out = s;
    if (!was_settled && s.settled()) {
        --unsettled_;
        if (seq == base_) advance();
    }
    return true;
}

template <class F>
void IdWindow::for_each(F&& f) const {
    for (std::uint64_t i = 0; i < ring_.size(); ++i) {
        const std::uint64_t seq = base_ + i;
        const Slot& s = ring_[seq & (ring_.size() - 1)];
        if (s.used()) f(seq, s);
    }
    for (const auto& [seq, s] : behind_) f(seq, s);
    for (const auto& [seq, s] : ahead_) f(seq, s);
}

// Receives of one sender's messages on one channel, to answer: "among the
// receives that ended before t, which one carries the latest-sent message?"
// Entries are appended in merge order, so their keys (receive end times,
// clamped monotone) are sorted and a query is a binary search.  fold(h)
// merges entries with key < h into one aggregate: valid once no receive still
// to come can start before h.
class FifoTracker {
  public:
    FifoTracker(std::uint32_t channel, std::uint32_t sender, MemoryTally* tally)
        : channel_(channel), sender_(sender), tally_(tally) {}

    struct Latest {
        std::uint64_t send_rec = 0;  // in the sender's log; later sends have larger indices
        RecRef recv;
    };
    // False when no receive ended before t, or when t lies below what was
    // already folded (then the answer cannot be proven; only a damaged
    // history gets there).
    bool latest_before(std::uint64_t t, Latest* out) const;
    void add(std::uint64_t key, std::uint64_t send_rec, RecRef recv);
    void fold(std::uint64_t horizon);

    std::uint32_t channel() const { return channel_; }
    std::uint32_t sender() const { return sender_; }
    std::uint64_t live() const { return entries_.size() - head_; }

  private:
    struct Entry {
        std::uint64_t key = 0;
        Latest best;  // latest-sent among this entry and all before it
    };
    std::uint32_t channel_;
    std::uint32_t sender_;
    MemoryTally* tally_;
    std::vector<Entry> entries_;
    std::size_t head_ = 0;
    bool folded_ = false;
    Entry floor_;  // the last folded entry: its key is the largest folded
};

// A relay's receives still waiting for the matching forward (a send of the
// same origin and seq on its output).  Forwards normally follow receives
// closely, so the recent ones sit in a short scan list; older ones (the
// never-forwarded candidates) move to a map.
class RelayPending {
  public:
    explicit RelayPending(MemoryTally* tally) : tally_(tally) {}

    void received(std::uint32_t origin, std::uint64_t seq, std::uint64_t rec);
    void forwarded(std::uint32_t origin, std::uint64_t seq);
    struct Item {
        std::uint64_t seq = 0;
        std::uint64_t rec = 0;
        std::uint32_t origin = 0;
        bool done = false;
    };
    std::vector<Item> pending() const;  // sorted by (origin, seq, rec)

    static constexpr std::size_t kRecent = 64;

  private:
    void trim();
    MemoryTally* tally_;
    std::vector<Item> recent_;
    std::size_t head_ = 0;
    std::multimap<std::pair<std::uint32_t, std::uint64_t>, std::uint64_t> old_;
};

// The queue-order rule for one reader (or one group of readers with the
// same request): "a receive returned m although an eligible n that ranks
// before m was queued for the whole receive".  Entries are this reader's
// receives in merge order (by end time).  A query comes with n, at n's
// receive: it asks for an m whose receive ended before n's began, began
// after n's send ended, and ranks below n.  Entries that ended before the
// horizon (no receive still to come begins before it) always satisfy the
// first condition, so they fold into one aggregate per rank class.  Within
// one class the rule is FIFO across every sender, which is why queues with
// priorities or types drop the per-sender fifo rule (a sender's later
// high-priority message rightly overtakes its earlier low one).
class OrderTracker {
  public:
    OrderTracker(std::uint32_t channel, std::uint32_t reader, ReceiveRequest req,
                 MemoryTally* tally)
        : channel_(channel), reader_(reader), req_(req), tally_(tally) {}

    struct Entry {
        std::uint64_t recv_start = 0;
        std::uint64_t recv_end = 0;
        std::uint64_t send_start = 0;
        std::uint64_t key = 0;  // merge key of the receive
        std::uint32_t type = 0;
        RecRef recv;
    };
    // The rank class of a message of priority/type t under this request;
    // smaller ranks first.
    std::uint64_t rank(std::uint32_t t) const;
    // An entry m that n (sent, ended at send_end, of type n.type) should
    // have preceded; false if none.
    bool find_overtaken(const Entry& n, std::uint64_t send_end, Entry* m) const;
    void add(const Entry& e);
    void fold(std::uint64_t horizon);

    const ReceiveRequest& request() const { return req_; }
    std::uint32_t channel() const { return channel_; }
    std::uint32_t reader() const { return reader_; }

  private:
    // m was dequeued no earlier than max(its receive's start, its send's
    // start): n was already queued then if its send ended before that.  In
    // the same class n was also ahead of m if its send ended before m's began.
    struct Best {
        Entry late_dequeue;  // the latest max(receive start, send start) of the class
        Entry late_send;     // the latest send start of the class
    };
    static std::uint64_t dequeue_bound(const Entry& m) {
        return std::max(m.recv_start, m.send_start);
    }
    static bool overtakes(bool same_class, const Entry& m, std::uint64_t send_end) {
        return same_class ? m.send_start > send_end : dequeue_bound(m) > send_end;
    }
    std::uint32_t channel_;
    std::uint32_t reader_;
    ReceiveRequest req_;
    MemoryTally* tally_;
    std::vector<Entry> live_;  // by key, not yet folded
    std::map<std::uint64_t, Best> folded_;
};

// What the checker knows of a process: its plan entry and what its own log
// and the orchestrator's said about how it ended.
struct ProcState {
    std::string name;
    std::uint32_t in_channel = kNoChannel;
    std::uint32_t out_channel = kNoChannel;
    std::uint32_t relay = kNoProc;  // index into Checker::relays_, relays only
    bool drained = false;           // logged kDrained on its input
    bool recv_cut_short = false;    // a receive on its input still pending
    bool exit_seen = false;
    bool exit_zero = false;
    // Its kWorkerStatus record's time: it had ended by then.
    std::uint64_t ended_ns = 0;
    bool killed = false;  // by the harness or by a signal
    // A restarted process (faults.hpp): when each incarnation but the last
    // ended (Note::kIncarnation).  What it said before a death, drained or
    // cut short, was said by an incarnation that is gone.
    std::vector<std::uint64_t> deaths;
    bool hung = false;
    bool sanitized = false;  // a sanitizer report in its output
    // An exec process (a user's program, logging nothing): how the
    // orchestrator saw it end.
    bool exec = false;
    bool status_seen = false;
    bool status_zero = false;                 // exited with status 0
    std::uint32_t fifo_channel = kNoChannel;  // cache of Checker::fifo_for
    std::uint32_t fifo_index = kNoProc;
    std::uint32_t order = kNoProc;  // OrderTracker of its input, if the rule applies
    ReceiveRequest request;
};

struct Stream {
    std::uint32_t channel;
    std::uint32_t origin;
    IdWindow window;
};

inline constexpr std::size_t kChecks = 8;

struct ChannelState {
    std::array<bool, kChecks> checks{};  // by Check
    ChannelShape shape = ChannelShape::kMessages;
    std::vector<std::uint32_t> orders;  // OrderTracker indices, one per ordered reader
    std::uint64_t order_receives = 0;   // since the last fold
    // kSnapshot: per origin, 1 + the highest seq whose write began.
    std::vector<std::uint64_t> written;
    // kLastDelivery: the latest ok send (by start) and the latest receive end.
    RecRef last_send;
    std::uint64_t last_send_start = 0;
    RecRef last_recv;
    std::uint64_t last_recv_end = 0;
    std::vector<std::pair<std::uint64_t, RecRef>> counter_reads;  // kCounter: value, receive
    std::vector<std::uint32_t> consumers;  // processes whose in_channel is this one
    std::vector<std::uint32_t> fifos;      // FifoTracker indices
    std::vector<std::uint32_t> direct;     // origin -> stream index + 1, small origins
    // Black boxes (checker_exec.cpp).  route: the channel whose messages
    // this one carries (itself, or, for an exec process's output, the
    // route of its input); receives are judged there.  On a route's first
    // channel: the exec processes along it, how to name it, and whether a
    // byte stream lies on it.
    std::uint32_t route = 0;
    std::vector<std::uint32_t> black_boxes;
    std::string via;
    bool stream_on_route = false;
};

// A provable loss, kept light until the cap picks which to describe.
struct LostCandidate {
    std::uint32_t channel;
    std::uint32_t origin;
    std::uint64_t seq;
    RecRef evidence;  // the send, or the relay's receive
    bool relay;
    bool after_dead_readers = false;  // sent after every killed reader had ended
};

// A channel whose readers partly died (checker_faults.cpp): the others
// drained it, so a missing message is lost unless a dead reader took it.
struct DeadReaders {
    bool applies = false;
    std::uint64_t cutoff = 0;  // the last dead reader's end: no later send reached one
    bool bounded = false;      // a dead reader held at most one message
    std::uint64_t holders = 0;
    std::uint64_t pool = 0;  // missing messages sent before the cutoff
    std::vector<std::uint32_t> dead;
};

// A chaos proxy's cut of a tcp connection (socket_proxy.hpp): frames of
// `origin` from `seq` up to `resume` (exclusive; the first frame of its next
// connection) were in flight; `partial` bytes of frame seq went through.
struct ProxyCut {
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
    std::uint32_t partial = 0;
    std::uint64_t resume = ~std::uint64_t{0};
    bool tail_seen = false;  // the truncated frame (or its bytes) has been accounted for
};
struct ProxyState {
    bool present = false;
    bool exited = false;
    std::vector<ProxyCut> cuts;
    std::map<std::pair<std::uint32_t, std::uint64_t>, std::uint32_t> duplicates;  // left to excuse
};

// One run of check_history.  checker_merge.cpp: the merge and the per-record
// rules; checker.cpp: the orchestrator log, the end-of-run verdicts and the
// findings.
class Checker {
  public:
    Checker(const HistoryView& h, const CheckOptions& opt);
    CheckResult run();

  private:
    void merge();
    void dispatch(std::uint32_t p, std::uint64_t i, const Record& r, std::uint64_t key);
    void on_send(std::uint32_t p, std::uint64_t i, const Record& r);
    void on_receive(std::uint32_t p, std::uint64_t i, const Record& r, std::uint64_t key);
    void on_intact(std::uint32_t p, std::uint64_t i, const Record& r, std::uint64_t key);
    void on_corrupt(std::uint32_t p, std::uint64_t i, const Record& r);
    void on_garbage(std::uint32_t p, std::uint64_t i, const Record& r);
    void check_fifo(const Record& r, std::uint64_t key, RecRef ref, const Slot& slot);
    void check_order(const Record& r, std::uint64_t key, RecRef ref, const Slot& slot);
    void report_order(const OrderTracker& g, const Record& n_recv, RecRef n_ref, RecRef n_send,
                      const OrderTracker::Entry& m);
    void report_excluded(const Record& r, RecRef ref);
    bool on_shaped(std::uint32_t p, std::uint64_t i, const Record& r);
    void fold_fifo();
    void fold_orders(std::uint32_t c);
    std::uint64_t horizon(std::uint32_t c) const;
    void judge_counters();
    void judge_last_delivery();
    void judge_bounds();
    std::string request_text(const ReceiveRequest& q) const;
    Stream* find_stream(std::uint32_t channel, std::uint32_t origin);
    Stream& stream_for_send(std::uint32_t channel, std::uint32_t origin);
    std::uint32_t fifo_for(std::uint32_t p, std::uint32_t channel);

    void plan_black_boxes();  // checker_exec.cpp
    bool black_boxes_clean(std::uint32_t c) const;
    std::string exec_end(std::uint32_t p, const std::string& how) const;
    void read_orchestrator();
    void time_span();
    void on_note(std::uint32_t p, const Record& r);
    void judge_sanitizer();  // checker_sanitizer.cpp
    void on_worker_status(std::uint64_t i, const Record& r);
    void on_hang(std::uint64_t i, const Record& r);
    void read_proxies();  // checker_proxy.cpp
    bool proxy_excuses_missing(std::uint32_t c, std::uint32_t origin, std::uint64_t seq) const;
    bool proxy_excuses_corrupt(const Record& r);
    bool proxy_excuses_garbage(const Record& r);
    bool proxy_excuses_duplicate(const Record& r);
    bool proxy_excuses_order(const Record& r, std::uint32_t sender, std::uint64_t later_send);
    void judge_streams(std::vector<LostCandidate>& lost);
    void plan_dead_readers();  // checker_faults.cpp
    std::uint64_t late_missing(std::uint32_t c, const Slot& sl, std::uint64_t missing);
    void judge_dead_readers();
    bool loss_provable(std::size_t c) const;
    void judge_stream(const Stream& s, bool provable, std::vector<LostCandidate>& lost);
    void judge_relays(std::vector<LostCandidate>& lost);
    void report_lost(std::vector<LostCandidate>& lost);

    void report_duplicate(const Record& r, RecRef ref, const Slot* slot);
    void report_unexpected(const Record& r, RecRef ref);
    void report_fifo(const Record& r, RecRef ref, const Slot& a, const FifoTracker& f,
                     const FifoTracker::Latest& b);
    bool has(std::uint32_t channel, Check c) const;
    bool keep(FindingKind k);
    Finding& add(FindingKind k, std::uint32_t channel, std::uint32_t origin, std::uint64_t seq,
                 std::string summary);
    void evidence(Finding& f, RecRef r) const;
    void evidence_last(Finding& f, std::uint64_t p) const;
    const Record* record(RecRef r) const;
    std::string proc_name(std::uint64_t p) const;
    std::string chan_name(std::uint32_t c) const;

    const HistoryView& h_;
    const CheckOptions& opt_;
    std::size_t nchannels_ = 0;
    CheckResult res_;
    MemoryTally tally_;
    std::vector<ProcState> procs_;
    std::vector<ChannelState> chans_;
    std::vector<DeadReaders> dead_;    // by channel
    std::vector<ProxyState> proxies_;  // by channel
    std::vector<Stream> streams_;
    std::unordered_map<std::uint64_t, std::uint32_t> far_streams_;  // (channel, big origin)
    std::vector<FifoTracker> fifos_;
    std::unordered_map<std::uint64_t, std::uint32_t> fifo_ids_;  // (channel, sender)
    std::vector<RelayPending> relays_;
    std::vector<OrderTracker> orders_;
    std::vector<std::uint64_t> pos_;  // merge cursor per log
    std::array<std::size_t, kFindingKinds> kept_{};
};

}  // namespace ipct::check_detail
