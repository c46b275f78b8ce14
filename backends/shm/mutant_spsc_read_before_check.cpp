// MUTANT spsc-read-before-check (planted bug): a single-producer
// single-consumer ring whose consumer copies the slot before it checks that
// the slot holds a message.
//
// The producer is the correct SPSC producer: it fills slot[head], then
// stores head + 1 with release.  The consumer should load head (acquire),
// and copy slot[tail] only if head > tail.  This one copies slot[tail]
// first, then loads head, and delivers its copy if head > tail by then.
// When the ring is empty the copy is of a slot the producer has not filled
// yet; if the producer fills and publishes it between the copy and the
// check, the consumer delivers what the slot held before: the message of
// the previous lap (received already: duplicated) or nothing yet (zeros:
// bytes no producer sent), or a mix of old and new if the copy overlapped
// the producer's write (corrupted).  It then moves tail on, so the new
// message is never read: lost.  The seeded schedule noise sits between the
// copy and the check, the bug's window.
#include <cstring>

#include "shm/shm_mutants.hpp"

namespace ipct::shm {

namespace {

class SpscReadBeforeCheck final : public MutantRing {
  public:
    using MutantRing::MutantRing;

  private:
    IoResult send_ring(std::span<const std::byte> msg) override {
        Backoff b;
        const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
        while (head - h_->tail.load(std::memory_order_acquire) >= h_->slots) b.pause();
        SlotHead* s = map_.slot(head);
        s->size.store(static_cast<std::uint32_t>(msg.size()), std::memory_order_relaxed);
        std::memcpy(map_.data(s), msg.data(), msg.size());
        h_->head.store(head + 1, std::memory_order_release);
        return done(msg.size());
    }

    // The count of open writers is read before the ring (see shm_ring.cpp).
    IoResult receive_ring(std::span<std::byte> buf) override {
        Backoff b;
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
            const IoResult r = copy_out(map_.slot(tail), buf);  // BUG: before the check
            perturb_();
            if (h_->head.load(std::memory_order_acquire) != tail) {
                h_->tail.store(tail + 1, std::memory_order_release);
                return r;
            }
            if (open == 0) return end();
            b.pause();
        }
    }
};

}  // namespace

std::unique_ptr<Endpoint> make_spsc_read_before_check(const ChannelSetup& ch,
                                                      const nlohmann::json& state, const Config& c,
                                                      Direction d) {
    return std::make_unique<SpscReadBeforeCheck>(ch, state, c, d);
}

}  // namespace ipct::shm
