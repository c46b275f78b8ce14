// IdWindow: the bounded per-(channel, origin) message tracker of the checker.
// See checker_detail.hpp for the contract; this file holds the slow paths
// (first use, growth, sliding, side maps, holes).
#include <algorithm>

#include "checker_detail.hpp"

namespace ipct::check_detail {

void MemoryTally::note() {
    peak.window_slots = std::max(peak.window_slots, window_slots);
    peak.side_entries = std::max(peak.side_entries, side_entries);
    peak.fifo_entries = std::max(peak.fifo_entries, fifo_entries);
    peak.relay_pending = std::max(peak.relay_pending, relay_pending);
}

// Seqs of a damaged history can be anything; a base this high could make
// base + ring size wrap, so such a first seq leaves the base at 0 (the seq
// itself then lives in `ahead_`).
static constexpr std::uint64_t kMaxStartSeq = std::uint64_t{1} << 62;

// Makes the ring cover seq if that is cheap and sensible; false: seq belongs
// in a side map.
bool IdWindow::make_room(std::uint64_t seq) {
    if (ring_.empty()) {
        start(seq);
        return in_ring(seq);
    }
    if (seq < base_) return false;
    const std::uint64_t off = seq - base_;
    const std::uint64_t cap = ring_.size();
    if (cap < kMaxRing && unsettled_ * 2 >= cap && off < 2 * cap) {
        grow();
        return true;
    }
    if (off - cap < kMaxSlide) {
        slide_to(seq - cap + 1);
        return true;
    }
    return false;
}

// A producer's first seq is normally 0; a relay's output or a restarted
// producer may start later.  Seqs below the first are holes: never sent.
void IdWindow::start(std::uint64_t seq) {
    ring_.assign(kInitialRing, Slot{});
    tally_->window_slots += kInitialRing;
    tally_->note();
    base_ = seq < kMaxStartSeq ? seq : 0;
    if (base_ > 0) holes_.emplace(0, base_);
}

void IdWindow::grow() {
    const std::uint64_t cap = ring_.size();
    std::vector<Slot> bigger(cap * 2);
    for (std::uint64_t i = 0; i < cap; ++i) {
        const Slot& s = at(base_ + i);
        if (s.used()) bigger[(base_ + i) & (cap * 2 - 1)] = s;
    }
    ring_.swap(bigger);
    tally_->window_slots += cap;
    tally_->note();
    pull_ahead(base_ + cap, base_ + 2 * cap);
}

// Moves the ring's start to new_base (at most kMaxSlide ahead).  Passed seqs
// become holes (never sent), are forgotten (settled) or move to `behind_`.
void IdWindow::slide_to(std::uint64_t new_base) {
    const std::uint64_t old_end = base_ + ring_.size();
    for (std::uint64_t p = base_; p < new_base; ++p) {
        Slot moved;
        if (p < old_end) {
            Slot& s = at(p);
            moved = s;
            s = Slot{};
            if (moved.used() && !moved.settled()) --unsettled_;
        } else if (auto it = ahead_.find(p); it != ahead_.end()) {
            moved = it->second;
            ahead_.erase(it);
            --tally_->side_entries;
        }
        if (!moved.used()) {
            add_hole(p);
        } else if (!moved.settled()) {
            behind_.emplace(p, moved);
            ++tally_->side_entries;
        }
    }
    base_ = new_base;
    tally_->note();
    pull_ahead(std::max(new_base, old_end), new_base + ring_.size());
    advance();
}

// Retires settled slots at the base; each step uncovers one seq at the top.
void IdWindow::advance() {
    const std::uint64_t cap = ring_.size();
    while (at(base_).settled()) {
        at(base_) = Slot{};
        ++base_;
        if (!ahead_.empty()) pull_ahead(base_ + cap - 1, base_ + cap);
    }
}

// Moves outliers in [lo, hi), now covered by the ring, into it.
void IdWindow::pull_ahead(std::uint64_t lo, std::uint64_t hi) {
    for (auto it = ahead_.lower_bound(lo); it != ahead_.end() && it->first < hi;) {
        Slot& s = at(it->first);
        s = it->second;
        if (!s.settled()) ++unsettled_;
        it = ahead_.erase(it);
        --tally_->side_entries;
    }
}

Slot& IdWindow::side_slot(std::uint64_t seq) {
    if (seq < base_) {
        remove_hole(seq);
        auto [it, inserted] = behind_.try_emplace(seq);
        if (inserted) ++tally_->side_entries;
        tally_->note();
        return it->second;
    }
    auto [it, inserted] = ahead_.try_emplace(seq);
    if (inserted) ++tally_->side_entries;
    tally_->note();
    return it->second;
}

// `behind_` holds only unsettled slots: once settled they are forgotten, and
// the contract (below base, not a hole) still answers "it was settled".
bool IdWindow::add_receive_side(std::uint64_t seq, bool intact, RecRef ref, Slot* out) {
    if (seq < base_) {
        auto it = behind_.find(seq);
        if (it == behind_.end()) return false;
        count(it->second, intact, ref);
        *out = it->second;
        if (it->second.settled()) {
            behind_.erase(it);
            --tally_->side_entries;
        }
        return true;
    }
    auto it = ahead_.find(seq);
    if (it == ahead_.end()) return false;
    count(it->second, intact, ref);
    *out = it->second;
    return true;
}

bool IdWindow::forgotten_settled(std::uint64_t seq) const {
    return !ring_.empty() && seq < base_ && !in_hole(seq);
}

// Holes are added in increasing order (the base only moves up), except the
// first [0, start), so appending or extending the last interval suffices.
void IdWindow::add_hole(std::uint64_t seq) {
    if (!holes_.empty() && holes_.rbegin()->second == seq) {
        holes_.rbegin()->second = seq + 1;
    } else {
        holes_.emplace(seq, seq + 1);
    }
}

bool IdWindow::in_hole(std::uint64_t seq) const {
    auto it = holes_.upper_bound(seq);
    if (it == holes_.begin()) return false;
    --it;
    return seq < it->second;
}

// A late send of a seq the window passed over while it was unsent.
void IdWindow::remove_hole(std::uint64_t seq) {
    auto it = holes_.upper_bound(seq);
    if (it == holes_.begin()) return;
    --it;
    const std::uint64_t start = it->first;
    const std::uint64_t end = it->second;
    if (seq >= end) return;
    holes_.erase(it);
    if (start < seq) holes_.emplace(start, seq);
    if (seq + 1 < end) holes_.emplace(seq + 1, end);
}

}  // namespace ipct::check_detail
