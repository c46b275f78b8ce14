// layout ring: a bounded queue of messages in `slots` slots.
//
// Positions count up from 0 forever (64 bits do not wrap in any run);
// position p lives in slot p % slots.  head is the next position a producer
// writes, tail the next a consumer reads; head - tail messages are queued.
//
// End of channel: a reader reads the count of open writers BEFORE it looks
// at the ring.  If the count was 0, every send that will ever complete had
// completed (and published its message) before that read, so a ring found
// empty afterwards is empty for good: end of file.
#include <algorithm>
#include <cstring>

#include "ipctorture/message.hpp"
#include "shm/shm_endpoint.hpp"

namespace ipct::shm {

namespace {

// Waits are bounded so that readers re-check the control file and nobody
// depends on a wake-up that a dying process may have swallowed.
constexpr long kReaderWaitMs = 20;
constexpr long kWriterWaitMs = 100;

class RingEndpoint final : public ShmEndpoint {
  public:
    using ShmEndpoint::ShmEndpoint;

    IoResult send(std::span<const std::byte> msg) override {
        if (dir_ != Direction::kWrite || closed_) return error(EBADF);
        if (msg.size() > cfg_.slot_size) return error(EMSGSIZE);
        switch (cfg_.sync) {
            case Sync::kMutex:
                return send_mutex(msg);
            case Sync::kSemaphore:
                return send_semaphore(msg);
            case Sync::kAtomic:
                return send_atomic(msg);
            case Sync::kNone:
                return send_none(msg);
        }
        return error(EINVAL);
    }

    IoResult receive(std::span<std::byte> buf) override {
        if (dir_ != Direction::kRead || closed_) return error(EBADF);
        if (ended_) return eof();
        switch (cfg_.sync) {
            case Sync::kMutex:
                return receive_mutex(buf);
            case Sync::kSemaphore:
                return receive_semaphore(buf);
            case Sync::kAtomic:
                return receive_atomic(buf);
            case Sync::kNone:
                return receive_none(buf);
        }
        return error(EINVAL);
    }

  private:
    void put(SlotHead* s, std::span<const std::byte> msg) {
        s->size.store(static_cast<std::uint32_t>(msg.size()), std::memory_order_relaxed);
        std::memcpy(map_.data(s), msg.data(), msg.size());
    }

    // Copies the slot's message out.  A racy ring (none) may hold any size
    // word: it is clamped to what a slot holds, so the bytes still go to the
    // checker (which then finds them damaged) instead of out of bounds.
    // A buffer shorter than the message gets its first buf.size() bytes: the
    // slot is consumed either way (as with every message backend; the
    // header's size field tells the receiver the message was cut).  It used
    // to return EMSGSIZE after consuming the slot, losing the message
    // (found by op_sequence_shm_fuzzer).
    IoResult take(SlotHead* s, std::span<std::byte> buf) {
        std::size_t n = s->size.load(std::memory_order_relaxed);
        if (cfg_.sync == Sync::kNone) n = std::max<std::size_t>(n, kHeaderSize);
        n = std::min<std::size_t>({n, cfg_.slot_size, buf.size()});
        std::memcpy(buf.data(), map_.data(s), n);
        return done(n);
    }

    IoResult end() {
        ended_ = true;
        return eof();
    }

    // ---- sync mutex: indices and slots under the robust mutex ----

    IoResult send_mutex(std::span<const std::byte> msg) {
        MutexGuard g(h_);
        if (g.err()) return error(g.err());
        std::uint64_t head;
        for (;;) {
            head = h_->head.load(std::memory_order_relaxed);
            if (head - h_->tail.load(std::memory_order_relaxed) < h_->slots) break;
            if (int e = g.wait(&h_->not_full, kWriterWaitMs)) return error(e);
        }
        perturb_(Site::kIndexToSlot);
        put(map_.slot(head), msg);
        perturb_(Site::kSlotToIndex);
        h_->head.store(head + 1, std::memory_order_relaxed);
        notify(&h_->not_empty);
        return done(msg.size());
    }

    IoResult receive_mutex(std::span<std::byte> buf) {
        MutexGuard g(h_);
        if (g.err()) return error(g.err());
        std::uint64_t tail;
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            tail = h_->tail.load(std::memory_order_relaxed);
            if (h_->head.load(std::memory_order_relaxed) != tail) break;
            if (open == 0) return end();
            if (int e = g.wait(&h_->not_empty, kReaderWaitMs)) return error(e);
        }
        perturb_(Site::kIndexToSlot);
        const IoResult r = take(map_.slot(tail), buf);
        perturb_(Site::kSlotToIndex);
        h_->tail.store(tail + 1, std::memory_order_relaxed);
        notify(&h_->not_full);
        return r;
    }

    // ---- sync semaphore: free_slots / used_slots count, `lock` guards ----

    IoResult send_semaphore(std::span<const std::byte> msg) {
        for (;;) {
            const int e = sem_wait_for(&h_->free_slots, kWriterWaitMs);
            if (e == 0) break;
            if (e != ETIMEDOUT && e != EINTR) return error(e);
        }
        {
            SemGuard g(&h_->lock);
            const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
            perturb_(Site::kIndexToSlot);
            put(map_.slot(head), msg);
            perturb_(Site::kSlotToIndex);
            h_->head.store(head + 1, std::memory_order_relaxed);
        }
        sem_post(&h_->used_slots);
        return done(msg.size());
    }

    IoResult receive_semaphore(std::span<std::byte> buf) {
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            if (open == 0) {
                // Every post has happened: a count of zero now is final.
                if (sem_trywait(&h_->used_slots) == 0) break;
                if (errno == EAGAIN) return end();
                if (errno != EINTR) return error(errno);
                continue;
            }
            const int e = sem_wait_for(&h_->used_slots, kReaderWaitMs);
            if (e == 0) break;
            if (e != ETIMEDOUT && e != EINTR) return error(e);
        }
        IoResult r;
        {
            SemGuard g(&h_->lock);
            const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
            perturb_(Site::kIndexToSlot);
            r = take(map_.slot(tail), buf);
            perturb_(Site::kSlotToIndex);
            h_->tail.store(tail + 1, std::memory_order_relaxed);
        }
        sem_post(&h_->free_slots);
        return r;
    }

    // ---- sync atomic: a lock-free bounded MPMC queue ----
    //
    // Each slot carries a sequence number that says whose turn it is.  For
    // the slot of position p (p % slots == i):
    //   seq == seq_free(p)           free: the producer of position p may fill it;
    //   seq == seq_full(p)           full: the consumer of position p may empty it;
    //   seq == seq_free(p + slots)   emptied: free for the producer of p + slots.
    // (shm_layout.hpp: 2p, 2p + 1; every value names one position, even
    // with one slot.)  Initially seq == seq_free(i).  head and tail only say
    // where to try next; ownership of a slot is decided by a CAS on head
    // (producers) or tail (consumers) from p to p + 1, made only when the
    // slot's seq shows it is that side's turn for p.  So exactly one
    // producer fills and exactly one consumer empties each position, and
    // positions are handed out in order: FIFO for each producer, and no
    // message lost or read twice.
    //
    // Ordering: a producer writes the bytes, then stores seq_full(p) with
    // release; a consumer loads seq with acquire before it reads them (and
    // the reverse for seq_free(p + slots)), so the bytes always travel with the
    // sequence number.  The CAS itself orders nothing (relaxed): it only
    // elects the owner.
    //
    // Seen by a producer at position p: seq below seq_free(p) means the slot
    // still holds the message of p - slots (the ring is full); above it,
    // another producer took p already (reload head).  Likewise for
    // consumers with seq_full(p): smaller is empty, larger is taken.
    //
    // Not robust: a producer killed between its CAS and its release store
    // leaves position p unpublished, and consumers stop there.

    IoResult send_atomic(std::span<const std::byte> msg) {
        Backoff b;
        std::uint64_t pos = h_->head.load(std::memory_order_relaxed);
        SlotHead* s;
        for (;;) {
            s = map_.slot(pos);
            const std::uint64_t seq = s->seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::int64_t>(seq - seq_free(pos));
            if (diff == 0) {
                if (h_->head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed))
                    break;  // pos is ours; on failure pos holds the new head
            } else if (diff < 0) {
                b.pause();  // full
                pos = h_->head.load(std::memory_order_relaxed);
            } else {
                pos = h_->head.load(std::memory_order_relaxed);
            }
        }
        perturb_(Site::kIndexToSlot);
        put(s, msg);
        perturb_(Site::kSlotToIndex);
        s->seq.store(seq_full(pos), std::memory_order_release);
        return done(msg.size());
    }

    IoResult receive_atomic(std::span<std::byte> buf) {
        Backoff b;
        std::uint64_t pos = h_->tail.load(std::memory_order_relaxed);
        SlotHead* s;
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            s = map_.slot(pos);
            const std::uint64_t seq = s->seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::int64_t>(seq - seq_full(pos));
            if (diff == 0) {
                if (h_->tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
            } else if (diff < 0) {
                if (open == 0) return end();  // empty, and nothing more will come
                b.pause();
                pos = h_->tail.load(std::memory_order_relaxed);
            } else {
                pos = h_->tail.load(std::memory_order_relaxed);
            }
        }
        perturb_(Site::kIndexToSlot);
        const IoResult r = take(s, buf);
        perturb_(Site::kSlotToIndex);
        s->seq.store(seq_free(pos + h_->slots), std::memory_order_release);
        return r;
    }

    // ---- sync none: racy on purpose ----
    //
    // A single-producer single-consumer ring: a producer loads head, fills
    // the slot, then stores head + 1 with release; a consumer loads head with
    // acquire, copies, then stores tail + 1.  With one producer and one
    // consumer this is correct.  With more, two producers can load the same
    // head and fill the same slot (one message lost, or torn when the copies
    // overlap), and two consumers can copy the same slot (duplicated); the
    // late store of an index can move it backwards (more loss or
    // duplication).  Loads and stores are separate atomic operations, never
    // a read-modify-write, so the race is real but no compiler UB; the
    // seeded noise between them widens the windows.
    //
    // The indices may end up anywhere, so the distance head - tail is read
    // as signed and a reader ends for sure: once every writer has gone it
    // takes at most `slots` more messages.

    IoResult send_none(std::span<const std::byte> msg) {
        Backoff b;
        std::uint64_t head;
        for (;;) {
            head = h_->head.load(std::memory_order_relaxed);
            const std::uint64_t tail = h_->tail.load(std::memory_order_acquire);
            if (static_cast<std::int64_t>(head - tail) < static_cast<std::int64_t>(h_->slots))
                break;
            b.pause();
        }
        perturb_(Site::kIndexToSlot);
        put(map_.slot(head), msg);
        perturb_(Site::kSlotToIndex);
        h_->head.store(head + 1, std::memory_order_release);
        return done(msg.size());
    }

    IoResult receive_none(std::span<std::byte> buf) {
        Backoff b;
        std::uint64_t tail;
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            if (open == 0 && !draining_) {
                draining_ = true;
                drain_left_ = h_->slots;
            }
            tail = h_->tail.load(std::memory_order_relaxed);
            const std::uint64_t head = h_->head.load(std::memory_order_acquire);
            if (static_cast<std::int64_t>(head - tail) > 0) {
                if (!draining_) break;
                if (drain_left_ == 0) return end();
                --drain_left_;
                break;
            }
            if (open == 0) return end();
            b.pause();
        }
        perturb_(Site::kIndexToSlot);
        const IoResult r = take(map_.slot(tail), buf);
        perturb_(Site::kSlotToIndex);
        h_->tail.store(tail + 1, std::memory_order_release);
        return r;
    }

    bool draining_ = false;
    std::uint64_t drain_left_ = 0;
};

}  // namespace

std::unique_ptr<Endpoint> make_ring_endpoint(const ChannelSetup& ch, const nlohmann::json& state,
                                             const Config& c, Direction d) {
    return std::make_unique<RingEndpoint>(ch, state, c, d);
}

}  // namespace ipct::shm
