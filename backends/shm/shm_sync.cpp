#include "shm/shm_sync.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "ipctorture/atomic_access.hpp"
#include "ipctorture/message.hpp"

#if defined(__SANITIZE_THREAD__)
#define IPCT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPCT_TSAN 1
#endif
#endif
#if IPCT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace ipct::shm {

namespace {

#if IPCT_TSAN
void tsan_acquire(void* addr) {
    __tsan_acquire(addr);
}
#else
void tsan_acquire(void*) {}
#endif

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

void spin(unsigned n) {
    for (unsigned i = 0; i < n; ++i) cpu_relax();
}

void sleep_ns(long ns) {
    timespec ts{0, ns};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

}  // namespace

void Backoff::pause() {
    constexpr unsigned kSpins = 4, kYields = 12;
    if (n_ < kSpins) {
        spin(64u << n_);
    } else if (n_ < kYields) {
        ::sched_yield();
    } else {
        const unsigned k = std::min(n_ - kYields, 6u);
        sleep_ns(std::min(20'000L << k, 1'000'000L));
    }
    if (n_ < 64) ++n_;
}

timespec deadline_in(long ms) {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1'000'000L;
    if (ts.tv_nsec >= 1'000'000'000L) {
        ts.tv_nsec -= 1'000'000'000L;
        ++ts.tv_sec;
    }
    return ts;
}

// Why the lock is polled with pthread_mutex_trylock and a backoff instead
// of sleeping in pthread_mutex_lock: unlocking a contended mutex clears its
// word and wakes ONE sleeper, which then owes the others the "waiters" bit.
// If that sleeper is killed before it takes the lock, and another process
// takes and releases the lock in between (no bit, so no wake), the other
// sleepers sleep on a free mutex forever (the kernel covers only the case
// where the word is still free when it processes the dead one's robust
// list; seen once in ~400 killed-writer runs).  A poller has nothing to
// lose.  Not a timed lock either: ThreadSanitizer (clang 14) intercepts
// neither pthread_mutex_clocklock nor an EOWNERDEAD from
// pthread_mutex_timedlock, and would then report our unlock as bogus.
int lock_robust(Header* h) {
    Backoff b;
    int r;
    while ((r = pthread_mutex_trylock(&h->mutex)) == EBUSY) b.pause();
    if (r == EOWNERDEAD) {
        // The owner died inside a critical section.  Each critical section
        // here publishes its change with its last store (head, tail, value),
        // and the snapshot record is marked incomplete while it is written,
        // so what a dead owner left half done is invisible: no repair.
        h->owner_deaths.fetch_add(1, std::memory_order_relaxed);
        r = pthread_mutex_consistent(&h->mutex);
    }
    return r;
}

namespace {
long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val, const timespec* timeout) {
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
    return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, timeout, nullptr,
                     0);
}
}  // namespace

int MutexGuard::wait(Event* e, long ms) {
    const std::uint32_t seen = e->seq.load(std::memory_order_relaxed);
    e->waiters.fetch_add(1, std::memory_order_relaxed);
    pthread_mutex_unlock(&h_->mutex);
    // Returns at a wake, at the timeout, at a signal, or at once (EAGAIN)
    // if the word changed since we read it: all mean "look again".
    const timespec rel{ms / 1000, (ms % 1000) * 1'000'000L};
    futex(&e->seq, FUTEX_WAIT, seen, &rel);
    e->waiters.fetch_sub(1, std::memory_order_relaxed);
    err_ = lock_robust(h_);
    return err_;
}

void notify(Event* e, bool all) {
    e->seq.fetch_add(1, std::memory_order_release);
    if (e->waiters.load(std::memory_order_relaxed) > 0)
        futex(&e->seq, FUTEX_WAKE, all ? INT_MAX : 1, nullptr);
}

// Timed for the same reason as lock_robust(): sem_post wakes one sleeper,
// and if that one dies before it takes the count, the others sleep on.
SemGuard::SemGuard(sem_t* s) : s_(s) {
    for (;;) {
        const int e = sem_wait_for(s_, 20);
        if (e == 0) return;
        if (e != ETIMEDOUT && e != EINTR) IPCT_FAIL("sem_clockwait: " + errno_name(e));
    }
}

int sem_wait_for(sem_t* s, long ms) {
    const timespec ts = deadline_in(ms);
    if (sem_clockwait(s, CLOCK_MONOTONIC, &ts) == 0) {
        // ThreadSanitizer (clang 14) intercepts sem_post and sem_wait but
        // not sem_clockwait: without this the wait orders nothing for it,
        // and in threads mode every slot handed over under the semaphores
        // looked like a race.  What sem_wait's interceptor would do.
        tsan_acquire(s);
        return 0;
    }
    return errno;
}

void atomic_copy_in(std::byte* words, std::span<const std::byte> src) {
    auto* w = reinterpret_cast<std::uint64_t*>(words);
    const std::size_t full = src.size() / 8;
    for (std::size_t i = 0; i < full; ++i) {
        std::uint64_t v;
        std::memcpy(&v, src.data() + 8 * i, 8);
        atomic_store(w[i], v, std::memory_order_relaxed);
    }
    if (const std::size_t rest = src.size() % 8) {
        std::uint64_t v = 0;
        std::memcpy(&v, src.data() + 8 * full, rest);
        atomic_store(w[full], v, std::memory_order_relaxed);
    }
}

void atomic_copy_out(std::span<std::byte> dst, const std::byte* words) {
    const auto* w = reinterpret_cast<const std::uint64_t*>(words);
    const std::size_t full = dst.size() / 8;
    for (std::size_t i = 0; i < full; ++i) {
        const std::uint64_t v = atomic_load(w[i], std::memory_order_relaxed);
        std::memcpy(dst.data() + 8 * i, &v, 8);
    }
    if (const std::size_t rest = dst.size() % 8) {
        const std::uint64_t v = atomic_load(w[full], std::memory_order_relaxed);
        std::memcpy(dst.data() + 8 * full, &v, rest);
    }
}

}  // namespace ipct::shm
