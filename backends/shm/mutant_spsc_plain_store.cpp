// MUTANT spsc-plain-store (planted bug): a single-producer single-consumer
// ring whose indices are plain memory instead of release/acquire atomics.
//
// The correct SPSC ring (sync none with one producer and one consumer) fills
// the slot, then stores head + 1 with release; the consumer loads head with
// acquire, and so sees the whole slot once it sees the index.  Here head and
// tail are read and written as plain (volatile, non-atomic) words.  Nothing
// then orders the slot's stores before the index store: the compiler may
// sink any of them below it (it only has to keep the final memory contents
// of this one thread), and a weakly ordered CPU (Arm, POWER) may make them
// visible to the other core in any order.  The consumer can then see the
// new index while part of the slot still holds the previous message.
//
// x86 keeps stores in program order (TSO) and GCC happens not to move the
// copy here, so a plain store written in the natural order would not show
// the bug on this machine.  The mutant therefore performs its stores in one
// order the plain store permits, and pins it with compiler fences: it
// writes the size and the first half of the message, publishes the index,
// then (after the seeded schedule noise) writes the second half.  A consumer
// that copies the slot in that window delivers the new header with stale
// payload bytes: a corrupted message.  Indices themselves stay consistent
// (one writer each), so nothing is lost or duplicated.
//
// Under threads mode and ThreadSanitizer the index accesses are real data
// races (plain, unordered accesses from two threads), and so is the slot
// copy: TSan reports them with both stacks.
#include <cstring>

#include "ipctorture/message.hpp"
#include "shm/shm_mutants.hpp"

namespace ipct::shm {

namespace {

// The index word as plain memory.  volatile keeps every access a real load
// or store (a spin on a non-volatile plain load may be hoisted out of the
// loop) without making it atomic or ordered: ThreadSanitizer treats volatile
// accesses as ordinary ones.  An aligned 8-byte mov does not tear on x86-64.
volatile std::uint64_t& plain(std::atomic<std::uint64_t>& a) {
    static_assert(sizeof(a) == sizeof(std::uint64_t));
    return *reinterpret_cast<volatile std::uint64_t*>(&a);
}

// Keeps the compiler from moving memory accesses across it (no CPU fence):
// the mutant's order is the one written, and only the modelled reordering
// happens.
inline void compiler_fence() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

class SpscPlainStore final : public MutantRing {
  public:
    using MutantRing::MutantRing;

  private:
    IoResult send_ring(std::span<const std::byte> msg) override {
        Backoff b;
        const std::uint64_t head = plain(h_->head);  // only this producer writes it
        while (head - plain(h_->tail) >= h_->slots) b.pause();
        SlotHead* s = map_.slot(head);
        std::byte* d = map_.data(s);
        // The first half of the message (the header at least) goes before
        // the index, the rest after it.
        const std::size_t n = msg.size();
        const std::size_t early = n <= kHeaderSize ? n : kHeaderSize + (n - kHeaderSize) / 2;
        compiler_fence();
        s->size.store(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
        std::memcpy(d, msg.data(), early);
        compiler_fence();
        plain(h_->head) = head + 1;  // BUG: a plain store publishes the slot
        compiler_fence();
        perturb_();
        std::memcpy(d + early, msg.data() + early, n - early);
        compiler_fence();
        return done(n);
    }

    // The count of open writers is read before the ring (see shm_ring.cpp):
    // a producer's close() follows its last store, so a ring found empty
    // after a count of 0 stays empty.
    IoResult receive_ring(std::span<std::byte> buf) override {
        Backoff b;
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            const std::uint64_t tail = plain(h_->tail);  // only this consumer writes it
            if (plain(h_->head) != tail) {
                compiler_fence();
                const IoResult r = copy_out(map_.slot(tail), buf);
                compiler_fence();
                plain(h_->tail) = tail + 1;
                return r;
            }
            if (open == 0) return end();
            b.pause();
        }
    }
};

}  // namespace

std::unique_ptr<Endpoint> make_spsc_plain_store(const ChannelSetup& ch, const nlohmann::json& state,
                                                const Config& c, Direction d) {
    return std::make_unique<SpscPlainStore>(ch, state, c, d);
}

}  // namespace ipct::shm
