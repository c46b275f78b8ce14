// layouts counter and snapshot: one shared cell that every writer updates
// and every reader looks at.
#include <algorithm>
#include <cstring>
#include <optional>

#include "ipctorture/message.hpp"
#include "shm/shm_endpoint.hpp"

namespace ipct::shm {

namespace {

// ---- counter ---------------------------------------------------------------
//
// A send is exactly one increment; the message's bytes are not kept.  A
// consumer's first receive waits until every writer has gone, then returns
// the final value once, as a header-only message of origin kCounterOrigin
// and seq = value; the next receive is end of file.  The checker compares
// the value with the increments the producers logged: fewer means lost
// updates.

class CounterEndpoint final : public ShmEndpoint {
  public:
    CounterEndpoint(const ChannelSetup& ch, const nlohmann::json& state, const Config& c,
                    Direction d)
        : ShmEndpoint(ch, state, c, d) {
        if (d == Direction::kRead) payload_.emplace(ch.seed);
    }

    IoResult send(std::span<const std::byte> msg) override {
        if (dir_ != Direction::kWrite || closed_) return error(EBADF);
        if (msg.size() > cfg_.slot_size) return error(EMSGSIZE);
        switch (cfg_.sync) {
            case Sync::kNone:
                increment();  // load, noise, store: updates in between are lost
                break;
            case Sync::kMutex: {
                MutexGuard g(h_);
                if (g.err()) return error(g.err());
                increment();
                break;
            }
            case Sync::kSemaphore: {
                SemGuard g(&h_->lock);
                increment();
                break;
            }
            case Sync::kAtomic:
                perturb_(Site::kLoadToStore);  // where the other syncs' window is
                h_->value.fetch_add(1, std::memory_order_relaxed);
                break;
        }
        return done(msg.size());
    }

    IoResult receive(std::span<std::byte> buf) override {
        if (dir_ != Direction::kRead || closed_) return error(EBADF);
        if (ended_) return eof();
        if (buf.size() < kHeaderSize) return error(EMSGSIZE);
        // Acquire on the count of open writers: every increment of a send
        // that completed is visible once it reads 0.
        Backoff b;
        while (ctl_.writers_open() != 0) b.pause();
        const std::uint64_t value = h_->value.load(std::memory_order_relaxed);
        payload_->fill(buf.first(kHeaderSize), kCounterOrigin, value, 0);
        ended_ = true;
        return done(kHeaderSize);
    }

  private:
    void increment() {
        const std::uint64_t v = h_->value.load(std::memory_order_relaxed);
        perturb_(Site::kLoadToStore);
        h_->value.store(v + 1, std::memory_order_relaxed);
    }

    std::optional<Payload> payload_;
};

// ---- snapshot --------------------------------------------------------------
//
// One record (the single slot: size word and slot_size bytes).  A send
// overwrites it whole; a receive returns a copy when the record changed
// since this reader's last receive, waits (with backoff) while it has not,
// waits before the first write, and ends once every writer has gone and the
// last version was read.
//
//   none       writers copy in while readers copy out, both in pieces with
//              noise between them: a reader can copy half of one version
//              and half of another (a torn read: the checker finds the
//              header checksum or the payload wrong).  Only a version
//              counter, bumped after each write, tells readers to look.
//   mutex      writers and readers copy under the robust mutex.  The record
//              is marked incomplete (seq odd) while it is written, so a
//              writer that died mid-copy leaves nothing a reader would take.
//   semaphore  the same under the `lock` semaphore.
//   atomic     a seqlock.  A writer takes seq from even s to odd s + 1 by
//              CAS (writers exclude each other), copies, and stores s + 2
//              with release.  A reader loads seq (acquire), skips it while
//              odd, copies, then fences (acquire) and loads seq again: if it
//              is still s, no write overlapped the copy.  The copies are
//              relaxed atomic word accesses, so an overlapping copy is a
//              discarded value, never a data race.  Why the second load
//              cannot miss a writer: the writer's release fence comes after
//              its odd store and before its data stores; a reader whose
//              copy saw any of those data stores synchronises with that
//              fence through its own acquire fence, so its second load sees
//              the odd value or later.

constexpr int kPieces = 4;

class SnapshotEndpoint final : public ShmEndpoint {
  public:
    SnapshotEndpoint(const ChannelSetup& ch, const nlohmann::json& state, const Config& c,
                     Direction d)
        : ShmEndpoint(ch, state, c, d), rec_(map_.slot(0)) {}

    IoResult send(std::span<const std::byte> msg) override {
        if (dir_ != Direction::kWrite || closed_) return error(EBADF);
        if (msg.size() > cfg_.slot_size) return error(EMSGSIZE);
        switch (cfg_.sync) {
            case Sync::kNone:
                write_plain(msg);
                h_->version.fetch_add(1, std::memory_order_release);
                break;
            case Sync::kMutex: {
                MutexGuard g(h_);
                if (g.err()) return error(g.err());
                write_marked(msg);
                break;
            }
            case Sync::kSemaphore: {
                SemGuard g(&h_->lock);
                write_marked(msg);
                break;
            }
            case Sync::kAtomic:
                write_seqlock(msg);
                break;
        }
        return done(msg.size());
    }

    IoResult receive(std::span<std::byte> buf) override {
        if (dir_ != Direction::kRead || closed_) return error(EBADF);
        if (ended_) return eof();
        Backoff b;
        for (;;) {
            const std::uint32_t open = ctl_.writers_open();
            if (std::optional<IoResult> r = read_new(buf)) return *r;
            if (open == 0) {
                ended_ = true;
                return eof();
            }
            b.pause();
        }
    }

  private:
    // The record's length, clamped: a torn or never-written size word still
    // yields bytes for the checker to judge, inside the record.
    std::size_t record_size() const {
        const std::size_t n = rec_->size.load(std::memory_order_relaxed);
        return std::clamp<std::size_t>(n, kHeaderSize, cfg_.slot_size);
    }

    // Copies n bytes in kPieces pieces with noise between them.
    template <typename Copy>
    void in_pieces(std::size_t n, Copy&& copy) {
        const std::size_t piece = std::max<std::size_t>((n / kPieces + 63) / 64 * 64, 64);
        for (std::size_t at = 0; at < n; at += piece) {
            if (at > 0) perturb_(Site::kCopyPiece);
            copy(at, std::min(piece, n - at));
        }
    }

    void write_plain(std::span<const std::byte> msg) {
        rec_->size.store(static_cast<std::uint32_t>(msg.size()), std::memory_order_relaxed);
        std::byte* data = map_.data(rec_);
        in_pieces(msg.size(), [&](std::size_t at, std::size_t n) {
            std::memcpy(data + at, msg.data() + at, n);
        });
    }

    IoResult copy_plain(std::span<std::byte> buf) {
        const std::size_t n = record_size();
        if (n > buf.size()) return error(EMSGSIZE);
        const std::byte* data = map_.data(rec_);
        in_pieces(
            n, [&](std::size_t at, std::size_t k) { std::memcpy(buf.data() + at, data + at, k); });
        return done(n);
    }

    // Under a lock: seq odd while the record is being written.
    void write_marked(std::span<const std::byte> msg) {
        const std::uint64_t s = h_->seq.load(std::memory_order_relaxed);
        h_->seq.store(s | 1, std::memory_order_relaxed);
        write_plain(msg);
        h_->seq.store((s | 1) + 1, std::memory_order_relaxed);
        h_->version.store(h_->version.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    }

    void write_seqlock(std::span<const std::byte> msg) {
        Backoff b;
        std::uint64_t s = h_->seq.load(std::memory_order_relaxed);
        for (;;) {
            if (s & 1) {
                b.pause();  // another writer is in
                s = h_->seq.load(std::memory_order_relaxed);
            } else if (h_->seq.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                                     std::memory_order_relaxed)) {
                break;
            }
        }
        std::atomic_thread_fence(std::memory_order_release);
        rec_->size.store(static_cast<std::uint32_t>(msg.size()), std::memory_order_relaxed);
        std::byte* data = map_.data(rec_);
        in_pieces(msg.size(), [&](std::size_t at, std::size_t n) {
            atomic_copy_in(data + at, msg.subspan(at, n));
        });
        h_->seq.store(s + 2, std::memory_order_release);
    }

    // A copy of the record if it changed since the last one, else nullopt.
    std::optional<IoResult> read_new(std::span<std::byte> buf) {
        switch (cfg_.sync) {
            case Sync::kNone: {
                const std::uint64_t v = h_->version.load(std::memory_order_acquire);
                if (v == 0 || v == last_) return std::nullopt;
                last_ = v;
                return copy_plain(buf);
            }
            case Sync::kMutex: {
                MutexGuard g(h_);
                if (g.err()) return error(g.err());
                return read_marked(buf);
            }
            case Sync::kSemaphore: {
                SemGuard g(&h_->lock);
                return read_marked(buf);
            }
            case Sync::kAtomic:
                return read_seqlock(buf);
        }
        return error(EINVAL);
    }

    std::optional<IoResult> read_marked(std::span<std::byte> buf) {
        const std::uint64_t v = h_->version.load(std::memory_order_relaxed);
        if (v == 0 || v == last_ || (h_->seq.load(std::memory_order_relaxed) & 1))
            return std::nullopt;
        last_ = v;
        return copy_plain(buf);
    }

    std::optional<IoResult> read_seqlock(std::span<std::byte> buf) {
        for (;;) {
            const std::uint64_t s1 = h_->seq.load(std::memory_order_acquire);
            if ((s1 & 1) || s1 == 0 || s1 == last_) return std::nullopt;
            const std::size_t n = record_size();
            const bool fits = n <= buf.size();
            if (fits) {
                const std::byte* data = map_.data(rec_);
                in_pieces(n, [&](std::size_t at, std::size_t k) {
                    atomic_copy_out(buf.subspan(at, k), data + at);
                });
            }
            std::atomic_thread_fence(std::memory_order_acquire);
            if (h_->seq.load(std::memory_order_relaxed) != s1) continue;  // overlapped: again
            last_ = s1;
            return fits ? done(n) : error(EMSGSIZE);
        }
    }

    SlotHead* rec_;
    std::uint64_t last_ = 0;  // version (seq for atomic) of the last copy returned
};

}  // namespace

std::unique_ptr<Endpoint> make_counter_endpoint(const ChannelSetup& ch, const nlohmann::json& state,
                                                const Config& c, Direction d) {
    return std::make_unique<CounterEndpoint>(ch, state, c, d);
}

std::unique_ptr<Endpoint> make_snapshot_endpoint(const ChannelSetup& ch,
                                                 const nlohmann::json& state, const Config& c,
                                                 Direction d) {
    return std::make_unique<SnapshotEndpoint>(ch, state, c, d);
}

}  // namespace ipct::shm
