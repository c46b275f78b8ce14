// The shm backend's shared object: one POSIX shared-memory object per
// channel (shm_open, named after the run and the channel), laid out as a
// Header followed by the slots.  Everything in it is shared by processes:
// the mutex is PTHREAD_PROCESS_SHARED and robust, the semaphores
// sem_init(pshared = 1), the indices and events lock-free std::atomic words
// (atomics are address-free when lock-free, so they work across mappings at
// different addresses).
//
// The header is separate from the endpoints so that a test can map a
// channel and act as a misbehaving process (hold the mutex and die).
#pragma once

#include <pthread.h>
#include <semaphore.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ipctorture/backend.hpp"

namespace ipct::shm {

enum class Layout : std::uint32_t { kRing, kCounter, kSnapshot };
enum class Sync : std::uint32_t { kNone, kMutex, kSemaphore, kAtomic };
const char* layout_name(Layout l);
const char* sync_name(Sync s);

// The channel options, parsed.
struct Config {
    Layout layout = Layout::kRing;
    Sync sync = Sync::kMutex;
    std::uint32_t slots = 64;        // ring capacity in messages
    std::uint32_t slot_size = 4096;  // largest message (ring slot, snapshot record)
};

inline constexpr std::uint32_t kMaxSlots = 1u << 16;
inline constexpr std::uint32_t kMaxSlotSize = 16u << 20;
inline constexpr std::uint64_t kMaxObjectBytes = std::uint64_t{1} << 30;

// Throws ScenarioError at the offending option.
Config parse_config(const Options& o);

inline constexpr std::uint64_t kMagic = 0x6d68732d74637069ull;  // "ipct-shm"

// A slot of the ring, or the snapshot's one record.  seq is the ring's
// per-slot sequence number (sync atomic); size is the message's length.
// The bytes follow, padded so that the next slot starts on a cache line.
struct alignas(64) SlotHead {
    std::atomic<std::uint64_t> seq;
    std::atomic<std::uint32_t> size;
};

// The values of a ring slot's seq under sync atomic (shm_ring.cpp), for the
// slot of position p: free for the producer of p, full for the consumer of
// p.  Doubled positions: "full for p" (2p + 1) and "free for p + 1"
// (2p + 2) differ even when both are the same slot (a ring of one slot).
// With seq == p and p + 1 they did not, and a producer overwrote a message
// nobody had read (found by scenario_fuzzer).
constexpr std::uint64_t seq_free(std::uint64_t pos) {
    return 2 * pos;
}
constexpr std::uint64_t seq_full(std::uint64_t pos) {
    return 2 * pos + 1;
}

// A condition to wait for under the header's mutex: a word that notifiers
// bump and waiters sleep on with futex(2) (shared, not private: the key is
// the object's page, the same in every process).  Not a pthread_cond_t:
// with glibc's process-shared condition variables (before 2.41) a waiter
// killed inside pthread_cond_timedwait keeps a group reference that a later
// pthread_cond_signal waits for forever, so killing one blocked consumer
// would hang the channel.  The kernel simply drops a dead futex waiter.
struct Event {
    std::atomic<std::uint32_t> seq;
    // Waiters now, to skip the wake syscall when there are none; one that
    // died while waiting stays counted, which costs only a useless wake.
    std::atomic<std::uint32_t> waiters;
};

struct alignas(64) Header {
    std::uint64_t magic;
    Layout layout;
    Sync sync;
    std::uint32_t slots;
    std::uint32_t slot_size;
    std::uint64_t bytes;   // of the whole object
    std::uint64_t stride;  // bytes from one slot to the next
    // sync mutex: robust, process-shared.  Waits on the events are bounded
    // so that readers re-check the control file.
    pthread_mutex_t mutex;
    Event not_empty;
    Event not_full;
    // sync semaphore: `lock` is a binary semaphore guarding the indices and
    // the record; free_slots / used_slots count the ring's slots.
    sem_t lock;
    sem_t free_slots;
    sem_t used_slots;
    // Each on its own cache line: producers and consumers write different
    // ones.
    alignas(64) std::atomic<std::uint64_t> head;          // ring: next position written
    alignas(64) std::atomic<std::uint64_t> tail;          // ring: next position read
    alignas(64) std::atomic<std::uint64_t> value;         // counter
    alignas(64) std::atomic<std::uint64_t> seq;           // snapshot: the seqlock (sync atomic)
    std::atomic<std::uint64_t> version;                   // snapshot: writes so far (other syncs)
    alignas(64) std::atomic<std::uint64_t> owner_deaths;  // EOWNERDEAD recoveries
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Bytes of one slot (head and data), a multiple of 64.
std::uint64_t slot_stride(std::uint32_t slot_size);
// Bytes of the whole object for c.
std::uint64_t object_bytes(const Config& c);

// The object's name: "/ipct-<run id>-<channel>-<hash of the run dir>".  The
// hash keeps two runs that share a run id (tests) apart; a name too long for
// NAME_MAX falls back to hashes only.  Derived from the setup alone, so
// cleanup() works without the state.
std::string object_name(const ChannelSetup& ch);

// Creates and initialises the object (O_CREAT | O_EXCL, 0600).  Throws
// EnvironmentError (no room in /dev/shm) or HarnessError.
void create_object(const std::string& name, const Config& c);

// A mapping of an existing object.
class Mapping {
  public:
    // Throws HarnessError if the object is missing or not what c describes.
    Mapping(const std::string& name, const Config& c);
    ~Mapping();
    Mapping(Mapping&& o) noexcept;
    Mapping& operator=(Mapping&&) = delete;
    Mapping(const Mapping&) = delete;

    Header* header() const { return h_; }
    SlotHead* slot(std::uint64_t pos) const;  // the ring slot of position pos
    std::byte* data(SlotHead* s) const { return reinterpret_cast<std::byte*>(s + 1); }

  private:
    Header* h_ = nullptr;
    std::size_t bytes_ = 0;
};

// Locks the header's robust mutex.  An owner that died holding it
// (EOWNERDEAD) is recovered with pthread_mutex_consistent and counted in
// owner_deaths.  Returns 0 or an errno (ENOTRECOVERABLE).
int lock_robust(Header* h);

}  // namespace ipct::shm
