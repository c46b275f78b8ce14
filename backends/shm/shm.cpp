// Shared memory: a channel in a POSIX shared-memory object (shm_open), the
// backend that finds the races ThreadSanitizer cannot see across processes.
//
// Three layouts (what the object holds) and four syncs (how processes
// coordinate over it):
//   ring      a bounded queue of `slots` slots of `slot_size` bytes; several
//             producers and consumers.  mutex / semaphore / atomic: FIFO per
//             producer and lossless.  none: the same ring with unlocked
//             indices (a single-producer single-consumer ring used by many):
//             its contract still claims FIFO and lossless, as the user's code
//             would, and the checker finds the loss, duplication and
//             corruption the races cause.
//   counter   one 64-bit counter; each send is one increment, a consumer's
//             one receive is the final value once every writer has gone.
//             none: load, store (lost updates).
//   snapshot  one record; each send overwrites it whole, each receive copies
//             it when its version changed.  none: readers copy while writers
//             write (torn reads, found as corrupted messages); atomic: a
//             seqlock.
// End of channel: the control file (common/control.hpp).
// Planted bugs for the zoo (`mutant:` on a ring channel) live apart, in
// shm_mutants.hpp and mutant_*.cpp; open() dispatches to them.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <sstream>

#include "ipctorture/message.hpp"
#include "shm/shm_endpoint.hpp"
#include "shm/shm_mutants.hpp"

namespace ipct {

namespace shm {

const char* layout_name(Layout l) {
    switch (l) {
        case Layout::kRing:
            return "ring";
        case Layout::kCounter:
            return "counter";
        case Layout::kSnapshot:
            return "snapshot";
    }
    return "?";
}

const char* sync_name(Sync s) {
    switch (s) {
        case Sync::kNone:
            return "none";
        case Sync::kMutex:
            return "mutex";
        case Sync::kSemaphore:
            return "semaphore";
        case Sync::kAtomic:
            return "atomic";
    }
    return "?";
}

Config parse_config(const Options& o) {
    option_reject_unknown(o, {"layout", "sync", "slots", "slot_size"});
    Config c;
    const std::string layout = option_choice(o, "layout", "ring", {"ring", "counter", "snapshot"});
    c.layout = layout == "ring"      ? Layout::kRing
               : layout == "counter" ? Layout::kCounter
                                     : Layout::kSnapshot;
    const std::string sync =
        option_choice(o, "sync", "mutex", {"none", "mutex", "semaphore", "atomic"});
    c.sync = sync == "none"        ? Sync::kNone
             : sync == "mutex"     ? Sync::kMutex
             : sync == "semaphore" ? Sync::kSemaphore
                                   : Sync::kAtomic;
    if (auto it = o.find("slots"); it != o.end() && c.layout != Layout::kRing)
        throw ScenarioError(
            it->second.loc.file, it->second.loc.line, it->second.loc.column,
            "option 'slots' applies to layout ring only (layout is " + layout + ")");
    c.slots = static_cast<std::uint32_t>(option_uint(o, "slots", c.slots, 1, kMaxSlots));
    c.slot_size = static_cast<std::uint32_t>(
        option_uint(o, "slot_size", c.slot_size, kHeaderSize, kMaxSlotSize));
    if (object_bytes(c) > kMaxObjectBytes) {
        const OptionValue& v = o.count("slots") ? o.at("slots") : o.at("slot_size");
        throw ScenarioError(v.loc.file, v.loc.line, v.loc.column,
                            "slots x slot_size makes a " + std::to_string(object_bytes(c)) +
                                "-byte object; expected at most " +
                                std::to_string(kMaxObjectBytes));
    }
    return c;
}

std::uint64_t slot_stride(std::uint32_t slot_size) {
    return (sizeof(SlotHead) + std::uint64_t{slot_size} + 63) / 64 * 64;
}

std::uint64_t object_bytes(const Config& c) {
    const std::uint64_t n = c.layout == Layout::kRing       ? c.slots
                            : c.layout == Layout::kSnapshot ? 1
                                                            : 0;
    return sizeof(Header) + n * slot_stride(c.slot_size);
}

namespace {

// FNV-1a: a stable hash for names (not for security).
std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
    return h;
}

std::string hex(std::uint64_t v, int digits) {
    static const char* kDigits = "0123456789abcdef";
    std::string s(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = kDigits[v & 15];
    return s;
}

}  // namespace

std::string object_name(const ChannelSetup& ch) {
    const std::string tag = hex(fnv1a(ch.run_dir), 8);
    std::string n = "/ipct-" + ch.run_id + "-" + ch.name + "-" + tag;
    for (std::size_t i = 1; i < n.size(); ++i)
        if (n[i] == '/') n[i] = '_';
    if (n.size() > 200) n = "/ipct-" + hex(fnv1a(ch.run_id + "/" + ch.name), 16) + "-" + tag;
    return n;
}

namespace {

void init_sync(Header* h, const Config& c) {
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (int e = pthread_mutex_init(&h->mutex, &ma))
        IPCT_FAIL("pthread_mutex_init: " + errno_name(e));
    pthread_mutexattr_destroy(&ma);
    const unsigned free_slots = c.layout == Layout::kRing ? c.slots : 0;
    if (sem_init(&h->lock, 1, 1) != 0 || sem_init(&h->free_slots, 1, free_slots) != 0 ||
        sem_init(&h->used_slots, 1, 0) != 0)
        IPCT_FAIL_ERRNO("sem_init");
}

// The ring's per-slot sequence numbers start free for the slot's index:
// slot i is free for the producer of position i (see shm_ring.cpp).
void init_header(void* m, const Config& c) {
    auto* h = new (m) Header{};
    h->layout = c.layout;
    h->sync = c.sync;
    h->slots = c.layout == Layout::kRing ? c.slots : (c.layout == Layout::kSnapshot ? 1 : 0);
    h->slot_size = c.slot_size;
    h->bytes = object_bytes(c);
    h->stride = slot_stride(c.slot_size);
    init_sync(h, c);
    auto* base = static_cast<std::byte*>(m) + sizeof(Header);
    for (std::uint32_t i = 0; i < h->slots; ++i) {
        auto* s = new (base + i * h->stride) SlotHead{};
        s->seq.store(seq_free(i), std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = kMagic;
}

[[noreturn]] void no_room(const std::string& name, std::uint64_t bytes, int err) {
    struct statvfs v {};
    ::statvfs("/dev/shm", &v);
    throw EnvironmentError("cannot reserve " + std::to_string(bytes) + " bytes for " + name +
                           " in /dev/shm (" + errno_name(err) + "; " +
                           std::to_string(std::uint64_t{v.f_bavail} * v.f_frsize) +
                           " bytes free): lower slots or slot_size, or free /dev/shm");
}

}  // namespace

void create_object(const std::string& name, const Config& c) {
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            IPCT_FAIL_ERRNO("shared-memory object " + name +
                            " already exists (a run with the same id?)");
        IPCT_FAIL_ERRNO("shm_open " + name);
    }
    const std::uint64_t bytes = object_bytes(c);
    // Reserve the pages now: a tmpfs that runs out later kills the process
    // that touches the page (SIGBUS) instead of returning an error.
    if (int e = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes))) {
        ::close(fd);
        ::shm_unlink(name.c_str());
        if (e == ENOSPC || e == EFBIG) no_room(name, bytes, e);
        errno = e;
        IPCT_FAIL_ERRNO("posix_fallocate " + name);
    }
    void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) {
        const int e = errno;
        ::shm_unlink(name.c_str());
        errno = e;
        IPCT_FAIL_ERRNO("mmap " + name);
    }
    init_header(m, c);
    ::munmap(m, bytes);
}

namespace {

// One mapping of each object per process, shared by all of the process's
// endpoints.  In threads mode the threads that stand for processes then
// reach the object at one address: ThreadSanitizer tracks memory by address,
// and two mappings of one object would look like unrelated memory to it,
// hiding every race between them.  A worker process has one endpoint per
// channel, so nothing changes there.  Keyed by the object's inode, so that
// an object removed and created again under the same name is mapped anew.
struct MapEntry {
    void* addr;
    std::size_t bytes;
    unsigned refs;
};
std::mutex g_maps_mu;
std::map<std::pair<dev_t, ino_t>, MapEntry> g_maps;

// Maps the open object fd (closes it); throws on a size other than `want`.
void* map_shared(int fd, const std::string& name, std::uint64_t want,
                 std::pair<dev_t, ino_t>& key) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        IPCT_FAIL_ERRNO("fstat " + name);
    }
    if (static_cast<std::uint64_t>(st.st_size) != want) {
        ::close(fd);
        IPCT_FAIL(name + ": " + std::to_string(st.st_size) + " bytes, expected " +
                  std::to_string(want));
    }
    key = {st.st_dev, st.st_ino};
    std::lock_guard lock(g_maps_mu);
    if (auto it = g_maps.find(key); it != g_maps.end() && it->second.bytes == want) {
        ::close(fd);
        ++it->second.refs;
        return it->second.addr;
    }
    void* m = ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) IPCT_FAIL_ERRNO("mmap " + name);
    g_maps.insert_or_assign(key, MapEntry{m, want, 1});
    return m;
}

void unmap_shared(void* addr, std::size_t bytes) {
    std::lock_guard lock(g_maps_mu);
    for (auto it = g_maps.begin(); it != g_maps.end(); ++it) {
        if (it->second.addr != addr) continue;
        if (--it->second.refs == 0) {
            ::munmap(addr, bytes);
            g_maps.erase(it);
        }
        return;
    }
    ::munmap(addr, bytes);  // replaced in the table by a newer mapping of the key
}

}  // namespace

Mapping::Mapping(const std::string& name, const Config& c) {
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) IPCT_FAIL_ERRNO("cannot open shared-memory object " + name);
    const std::uint64_t want = object_bytes(c);
    std::pair<dev_t, ino_t> key;
    void* m = map_shared(fd, name, want, key);
    h_ = static_cast<Header*>(m);
    bytes_ = want;
    if (h_->magic != kMagic || h_->layout != c.layout || h_->sync != c.sync ||
        h_->slot_size != c.slot_size) {
        unmap_shared(m, want);
        h_ = nullptr;
        IPCT_FAIL(name + ": not the shared object these options describe");
    }
    std::atomic_thread_fence(std::memory_order_acquire);
}

Mapping::~Mapping() {
    if (h_ != nullptr) unmap_shared(h_, bytes_);
}

Mapping::Mapping(Mapping&& o) noexcept : h_(o.h_), bytes_(o.bytes_) {
    o.h_ = nullptr;
}

SlotHead* Mapping::slot(std::uint64_t pos) const {
    auto* base = reinterpret_cast<std::byte*>(h_) + sizeof(Header);
    return reinterpret_cast<SlotHead*>(base + (pos % h_->slots) * h_->stride);
}

// ---- endpoints: what every layout shares -----------------------------------

ShmEndpoint::ShmEndpoint(const ChannelSetup& ch, const nlohmann::json& state, const Config& c,
                         Direction d)
    : cfg_(c),
      map_(state.at("object").get<std::string>(), c),
      h_(map_.header()),
      ctl_(state.at("control").get<std::string>()),
      dir_(d),
      rank_(ch.rank) {}

void ShmEndpoint::close() {
    if (closed_) return;
    closed_ = true;
    if (dir_ != Direction::kWrite) return;
    ctl_.writer_gone(rank_);
    // Readers waiting for a message would notice within their bounded wait
    // anyway; this only makes the end prompt.
    if (cfg_.sync == Sync::kMutex) {
        MutexGuard g(h_);
        if (g.err() == 0) notify(&h_->not_empty, true);
    }
}

}  // namespace shm

namespace {

using shm::Config;
using shm::Layout;
using shm::Sync;

std::string sync_promise(const Config& c) {
    switch (c.sync) {
        case Sync::kNone:
            return "sync none: no synchronisation at all (racy on purpose)";
        case Sync::kMutex:
            return "sync mutex: a robust process-shared mutex (a holder that dies is recovered "
                   "with pthread_mutex_consistent); waits sleep on futex words, which a waiter "
                   "that "
                   "dies leaves usable (glibc's process-shared condition variables do not)";
        case Sync::kSemaphore:
            return "sync semaphore: POSIX semaphores (sem_init pshared), one as a lock; a process "
                   "killed while holding it leaves it taken";
        case Sync::kAtomic:
            return c.layout == Layout::kRing
                       ? "sync atomic: a lock-free bounded multi-producer multi-consumer queue "
                         "(per-slot sequence numbers, acquire/release); a producer killed "
                         "between claiming and publishing a slot blocks the ring there"
                   : c.layout == Layout::kCounter ? "sync atomic: fetch_add"
                                                  : "sync atomic: a seqlock (readers retry a "
                                                    "copy that overlapped a write)";
    }
    return {};
}

Contract shm_contract(const Config& c) {
    Contract k;
    k.boundaries = true;  // every receive returns one whole message
    k.max_message = c.slot_size;
    k.notes = sync_promise(c);
    switch (c.layout) {
        case Layout::kRing:
            k.shape = ChannelShape::kMessages;
            k.unit = "message";
            k.fifo = true;  // none too: it is what the user's code would claim
            k.lossless = true;
            k.notes += "; ring of " + std::to_string(c.slots) + " slots of " +
                       std::to_string(c.slot_size) + " bytes";
            break;
        case Layout::kCounter:
            k.shape = ChannelShape::kCounter;
            k.unit = "increment";
            k.fifo = false;
            k.lossless = true;  // every increment counted
            k.notes +=
                "; each send increments a shared 64-bit counter, a consumer receives its "
                "final value once every writer has gone";
            break;
        case Layout::kSnapshot:
            k.shape = ChannelShape::kSnapshot;
            k.unit = "record";
            k.fifo = false;
            k.lossless = false;  // an overwritten version is never read
            k.notes += "; each send overwrites one shared record of " +
                       std::to_string(c.slot_size) +
                       " bytes, a receive copies it when its version changed";
            break;
    }
    return k;
}

std::string explain_text() {
    std::ostringstream o;
    struct statvfs v {};
    if (::statvfs("/dev/shm", &v) == 0) {
        o << "/dev/shm: " << std::uint64_t{v.f_blocks} * v.f_frsize << " bytes, "
          << std::uint64_t{v.f_bavail} * v.f_frsize << " free\n";
    } else {
        o << "/dev/shm: cannot statvfs (" << errno_name(errno) << ")\n";
    }
    o << "object: /ipct-<run id>-<channel>-<hash>, created O_EXCL 0600, removed by cleanup\n"
         "options: layout ring|counter|snapshot (default ring), sync "
         "none|mutex|semaphore|atomic (default mutex),\n"
         "         slots (ring capacity, default 64, at most "
      << shm::kMaxSlots << "), slot_size (largest message, default 4096, at most "
      << shm::kMaxSlotSize
      << ")\n"
         "layouts:\n"
         "  ring      bounded queue of messages; mutex, semaphore and atomic are FIFO per\n"
         "            producer and lossless; none (unlocked indices) claims the same and\n"
         "            loses, duplicates and tears messages with several producers/consumers\n"
         "  counter   a send is one increment; a consumer receives the final value (origin\n"
         "            kCounterOrigin, seq = value) after every writer has gone; none loses\n"
         "            updates (load, then store)\n"
         "  snapshot  a send overwrites one record; a receive copies it when its version\n"
         "            changed; none lets readers copy half-written records (torn reads)\n"
         "syncs:\n"
         "  none       no synchronisation (racy on purpose, with seeded schedule noise)\n"
         "  mutex      robust process-shared pthread mutex; a holder that dies is recovered\n"
         "             (EOWNERDEAD, pthread_mutex_consistent); waits sleep on futex words\n"
         "             (a waiter that dies leaves them usable, unlike pthread_cond_t in\n"
         "             glibc before 2.41)\n"
         "  semaphore  POSIX semaphores (pshared): counts of free and used slots, one as a\n"
         "             lock; not robust: a holder that dies leaves the lock taken\n"
         "  atomic     ring: lock-free MPMC queue with per-slot sequence numbers; counter:\n"
         "             fetch_add; snapshot: seqlock\n"
         "end of channel: a control file in the run directory counts the writers still open\n";
    return o.str();
}

// A mutant is a ring protocol of its own (shm_mutants.hpp): it needs layout
// ring, replaces `sync`, and the single-producer single-consumer ones need
// exactly that topology (with more, their indices race as well, which is
// sync none's bug, not theirs).
void check_ring_mutant(const ChannelSpec& ch, std::uint32_t readers, std::uint32_t writers) {
    const Config c = shm::parse_config(ch.options);
    const SourceLoc& at = ch.mutant_loc;
    if (c.layout != Layout::kRing)
        throw ScenarioError(at.file, at.line, at.column,
                            "shm mutant '" + ch.mutant + "' needs layout ring (layout is " +
                                shm::layout_name(c.layout) + ")");
    if (auto it = ch.options.find("sync"); it != ch.options.end())
        throw ScenarioError(it->second.loc.file, it->second.loc.line, it->second.loc.column,
                            "option 'sync' does not apply with mutant '" + ch.mutant +
                                "': the mutant is a ring protocol of its own; expected no "
                                "'sync' (or no mutant)");
    if (shm::ring_mutant_is_spsc(ch.mutant) && (readers != 1 || writers != 1))
        throw ScenarioError(at.file, at.line, at.column,
                            "shm mutant '" + ch.mutant +
                                "' is a single-producer single-consumer ring; expected 1 writer "
                                "and 1 reader on channel '" +
                                ch.name + "', got " + std::to_string(writers) + " and " +
                                std::to_string(readers));
}

class ShmBackend final : public Backend {
  public:
    std::string_view name() const override { return "shm"; }
    std::string_view summary() const override {
        return "shared memory (shm_open): ring, counter or snapshot; sync none, mutex, "
               "semaphore or atomic";
    }
    Contract contract(const Options& o) const override {
        return shm_contract(shm::parse_config(o));
    }
    void validate(const Options& o) const override { shm::parse_config(o); }
    std::vector<MutantInfo> mutants() const override { return shm::ring_mutants(); }
    // Where a mutant's requirements are checked: here the spec carries the
    // mutant and its place in the file.
    void validate_topology(const ChannelSpec& ch, std::uint32_t readers,
                           std::uint32_t writers) const override {
        if (!ch.mutant.empty()) check_ring_mutant(ch, readers, writers);
    }

    nlohmann::json create(const ChannelSetup& ch) override {
        const Config c = shm::parse_config(ch.options);
        const std::string name = shm::object_name(ch);
        const std::string ctl = control_path(ch);
        ChannelControl::create(ctl, ch.writers);
        try {
            shm::create_object(name, c);
        } catch (...) {
            ::unlink(ctl.c_str());
            throw;
        }
        return {{"object", name}, {"control", ctl}, {"bytes", shm::object_bytes(c)}};
    }
    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json& st,
                                   Direction d) override {
        const Config c = shm::parse_config(ch.options);
        if (!ch.mutant.empty()) return shm::make_mutant_endpoint(ch, st, c, d);
        switch (c.layout) {
            case Layout::kRing:
                return shm::make_ring_endpoint(ch, st, c, d);
            case Layout::kCounter:
                return shm::make_counter_endpoint(ch, st, c, d);
            case Layout::kSnapshot:
                return shm::make_snapshot_endpoint(ch, st, c, d);
        }
        IPCT_FAIL("unknown shm layout");
    }
    void cleanup(const ChannelSetup& ch, const nlohmann::json&) override {
        ::shm_unlink(shm::object_name(ch).c_str());
        ::unlink(control_path(ch).c_str());
    }
    std::string explain() const override { return explain_text(); }
    std::string_view external_refusal() const override {
        return "a program would have to know the harness's own layout of the shared ring, "
               "counter or record, and its end-of-channel protocol: that is our code, not an "
               "interface";
    }
};

}  // namespace

Backend* shm_backend() {
    static ShmBackend b;
    return &b;
}

}  // namespace ipct
