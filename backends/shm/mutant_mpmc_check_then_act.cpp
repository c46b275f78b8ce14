// MUTANT mpmc-check-then-act (planted bug): the lock-free multi-producer
// multi-consumer ring of sync atomic (per-slot sequence numbers, see
// shm_ring.cpp) with its one compare-and-swap per claim split into a check
// and an act: a producer loads head, checks that the slot of that position
// is free (seq == seq_free(pos)), and then stores head = pos + 1; a consumer does the
// same with tail and a full slot (seq == seq_full(pos)).  Every access is atomic,
// but the check and the act are two operations: two producers that both
// check before either acts own the same position and fill the same slot
// (one message overwritten: lost, or both torn: corrupted), and two
// consumers read the same message (duplicated).  A late store can also move
// an index backwards, which hands a position out again.  The seeded schedule
// noise sits between the check and the act, the bug's window.
//
// Kept from the correct ring so that the race shows as loss and duplication
// instead of wedging the ring: the sequence numbers only ever rise (a late
// owner's publication cannot move a slot back a lap), and a process that
// finds a position taken tries the next one instead of waiting for an index
// that a backward store may have left behind.  Every position below an
// index is then claimed, every claimed position is filled by a live
// producer, and each position is read at most once per consumer, so the
// ring still drains and ends.
#include <cstring>

#include "shm/shm_mutants.hpp"

namespace ipct::shm {

namespace {

// Raises a to v unless it is there already: the sequence numbers never go
// back, whatever order the owners of one position publish in.
void raise_to(std::atomic<std::uint64_t>& a, std::uint64_t v) {
    std::uint64_t cur = a.load(std::memory_order_relaxed);
    while (static_cast<std::int64_t>(v - cur) > 0 &&
           !a.compare_exchange_weak(cur, v, std::memory_order_release, std::memory_order_relaxed)) {
    }
}

class MpmcCheckThenAct final : public MutantRing {
  public:
    using MutantRing::MutantRing;

  private:
    IoResult send_ring(std::span<const std::byte> msg) override {
        Backoff b;
        std::uint64_t pos = h_->head.load(std::memory_order_relaxed);
        SlotHead* s;
        for (;;) {
            s = map_.slot(pos);
            const auto diff =
                static_cast<std::int64_t>(s->seq.load(std::memory_order_acquire) - seq_free(pos));
            if (diff == 0) {
                perturb_();
                h_->head.store(pos + 1, std::memory_order_relaxed);  // BUG: should be one CAS
                break;
            }
            if (diff < 0) {  // full
                b.pause();
                pos = h_->head.load(std::memory_order_relaxed);
            } else {  // taken
                ++pos;
            }
        }
        s->size.store(static_cast<std::uint32_t>(msg.size()), std::memory_order_relaxed);
        std::memcpy(map_.data(s), msg.data(), msg.size());
        raise_to(s->seq, seq_full(pos));
        return done(msg.size());
    }

    // The count of open writers is read before the ring (see shm_ring.cpp);
    // positions are filled without holes, so the first empty one, found
    // after a count of 0, marks the end.
    IoResult receive_ring(std::span<std::byte> buf) override {
        Backoff b;
        std::uint64_t pos = h_->tail.load(std::memory_order_relaxed);
        SlotHead* s;
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            s = map_.slot(pos);
            const auto diff =
                static_cast<std::int64_t>(s->seq.load(std::memory_order_acquire) - seq_full(pos));
            if (diff == 0) {
                perturb_();
                h_->tail.store(pos + 1, std::memory_order_relaxed);  // BUG: should be one CAS
                break;
            }
            if (diff < 0) {  // empty
                if (open == 0) return end();
                b.pause();
                pos = h_->tail.load(std::memory_order_relaxed);
            } else {  // taken
                ++pos;
            }
        }
        const IoResult r = copy_out(s, buf);
        raise_to(s->seq, seq_free(pos + h_->slots));
        return r;
    }
};

}  // namespace

std::unique_ptr<Endpoint> make_mpmc_check_then_act(const ChannelSetup& ch,
                                                   const nlohmann::json& state, const Config& c,
                                                   Direction d) {
    return std::make_unique<MpmcCheckThenAct>(ch, state, c, d);
}

}  // namespace ipct::shm
