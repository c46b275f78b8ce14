// FifoTracker and RelayPending: the checker's other bounded structures.
#include <algorithm>
#include <iterator>

#include "checker_detail.hpp"

namespace ipct::check_detail {

// Queries come from receives that just ended, so the answer is nearly always
// among the newest entries: gallop back from the end, then bisect.
bool FifoTracker::latest_before(std::uint64_t t, Latest* out) const {
    if (folded_ && floor_.key >= t) return false;
    const Entry* e = entries_.data() + head_;
    const std::size_t n = live();
    if (n > 0 && e[n - 1].key < t) {
        *out = e[n - 1].best;
        return true;
    }
    std::size_t hi = n == 0 ? 0 : n - 1;  // e[hi].key >= t when n > 0
    std::size_t lo = 0;
    for (std::size_t step = 1; step <= hi; step *= 2) {
        if (e[hi - step].key < t) {
            lo = hi - step;
            break;
        }
        hi -= step;
    }
    const Entry* it = std::lower_bound(e + lo, e + hi, t,
                                       [](const Entry& x, std::uint64_t v) { return x.key < v; });
    if (it != e) {
        *out = std::prev(it)->best;
        return true;
    }
    if (folded_) {
        *out = floor_.best;
        return true;
    }
    return false;
}

void FifoTracker::add(std::uint64_t key, std::uint64_t send_rec, RecRef recv) {
    Entry e{key, Latest{send_rec, recv}};
    const Entry* prev = live() ? &entries_.back() : (folded_ ? &floor_ : nullptr);
    if (prev != nullptr && prev->best.send_rec >= send_rec) e.best = prev->best;
    // Keys arrive in merge order; a damaged history cannot unsort them.
    if (prev != nullptr) e.key = std::max(e.key, prev->key);
    entries_.push_back(e);
    ++tally_->fifo_entries;  // its peak is noted by fold(), before it shrinks
}

void FifoTracker::fold(std::uint64_t horizon) {
    tally_->note();
    const auto first = entries_.begin() + static_cast<std::ptrdiff_t>(head_);
    const auto it = std::lower_bound(first, entries_.end(), horizon,
                                     [](const Entry& e, std::uint64_t v) { return e.key < v; });
    if (it == first) return;
    floor_ = *std::prev(it);
    folded_ = true;
    tally_->fifo_entries -= static_cast<std::uint64_t>(it - first);
    head_ = static_cast<std::size_t>(it - entries_.begin());
    if (head_ == entries_.size()) {
        entries_.clear();
        head_ = 0;
    } else if (head_ >= 1024 && head_ * 2 >= entries_.size()) {
        entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

void RelayPending::received(std::uint32_t origin, std::uint64_t seq, std::uint64_t rec) {
    recent_.push_back(Item{seq, rec, origin, false});
    ++tally_->relay_pending;
    tally_->note();
    trim();
}

// Scans at most kRecent items, then one map lookup.
void RelayPending::forwarded(std::uint32_t origin, std::uint64_t seq) {
    for (std::size_t i = head_; i < recent_.size(); ++i) {
        Item& it = recent_[i];
        if (!it.done && it.origin == origin && it.seq == seq) {
            it.done = true;
            --tally_->relay_pending;
            trim();
            return;
        }
    }
    if (old_.empty()) return;
    auto it = old_.find({origin, seq});
    if (it != old_.end()) {
        old_.erase(it);
        --tally_->relay_pending;
    }
}

// Keeps the scan list at most kRecent long and free of leading done items.
void RelayPending::trim() {
    while (head_ < recent_.size() && (recent_[head_].done || recent_.size() - head_ > kRecent)) {
        const Item& it = recent_[head_];
        if (!it.done) old_.emplace(std::make_pair(it.origin, it.seq), it.rec);
        ++head_;
    }
    if (head_ == recent_.size()) {
        recent_.clear();
        head_ = 0;
    } else if (head_ >= kRecent && head_ * 2 >= recent_.size()) {
        recent_.erase(recent_.begin(), recent_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

std::vector<RelayPending::Item> RelayPending::pending() const {
    std::vector<Item> out;
    for (std::size_t i = head_; i < recent_.size(); ++i) {
        if (!recent_[i].done) out.push_back(recent_[i]);
    }
    for (const auto& [id, rec] : old_) out.push_back(Item{id.second, rec, id.first, false});
    std::sort(out.begin(), out.end(), [](const Item& a, const Item& b) {
        if (a.origin != b.origin) return a.origin < b.origin;
        if (a.seq != b.seq) return a.seq < b.seq;
        return a.rec < b.rec;
    });
    return out;
}

}  // namespace ipct::check_detail
