// Waiting, locking and schedule noise for the shm endpoints.
#pragma once

#include <semaphore.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "ipctorture/perturb.hpp"
#include "shm/shm_layout.hpp"

namespace ipct::shm {

// Polling with growing pauses: a few spins, then yields, then sleeps that
// double up to 1 ms.  For waits with nothing to block on (the lock-free
// ring, the counter's end, the snapshot's next version).
class Backoff {
  public:
    void pause();
    void reset() { n_ = 0; }

  private:
    unsigned n_ = 0;
};

// Schedule noise at the points where processes race: between reading a
// shared index (or counter) and writing it back, and in the middle of a
// copy.  Each call is a perturbation point of the process's perturber
// (ipctorture/perturb.hpp), which the scenario's `perturb:` configures: by
// default it yields or spins a little at 3 visits in 8 of these windows,
// which on a busy machine hands the CPU to another process in the middle
// of the critical window.  The same points are visited with every sync, so
// a correct sync is shown correct under the very schedules that break
// `none`.  The perturber's stream comes from the run seed and the process:
// one seed reproduces the noise.
class Perturb {
  public:
    void operator()(Site s = Site::kWindow) const { perturb_point(s); }
};

// An absolute CLOCK_MONOTONIC time `ms` milliseconds from now.
timespec deadline_in(long ms);

// Holds the header's robust mutex for a scope.
class MutexGuard {
  public:
    explicit MutexGuard(Header* h) : h_(h), err_(lock_robust(h)) {}
    ~MutexGuard() {
        if (err_ == 0) pthread_mutex_unlock(&h_->mutex);
    }
    MutexGuard(const MutexGuard&) = delete;
    MutexGuard& operator=(const MutexGuard&) = delete;
    int err() const { return err_; }
    // Releases the mutex, waits for a notify of e (at most ms), and takes
    // the mutex again.  Returns 0 (notified or timed out; the caller
    // re-checks its condition) or an errno, and then the mutex is not held.
    int wait(Event* e, long ms);

  private:
    Header* h_;
    int err_;
};

// Wakes one waiter of e (all with `all`).  Call after the change, with the
// mutex held: a waiter read e's word under the mutex before it slept, so it
// either sees the change or is woken.
void notify(Event* e, bool all = false);

// Holds a semaphore used as a lock for a scope.  Not robust: a holder that
// dies leaves it taken for good, which is why the contract notes say so.
class SemGuard {
  public:
    explicit SemGuard(sem_t* s);
    ~SemGuard() { sem_post(s_); }
    SemGuard(const SemGuard&) = delete;
    SemGuard& operator=(const SemGuard&) = delete;

  private:
    sem_t* s_;
};

// sem_clockwait on CLOCK_MONOTONIC for at most ms.  Returns 0 when it took
// the semaphore, ETIMEDOUT or EINTR when it did not (the caller loops and
// re-checks), another errno on failure.
int sem_wait_for(sem_t* s, long ms);

// Word-wise copies with relaxed atomic accesses (ipct::atomic_store/load), for the
// seqlock: a reader may copy while a writer writes, and the copy is then
// thrown away, but the accesses themselves must not be data races.  words
// is 8-byte aligned; n bytes, the last word partly.
void atomic_copy_in(std::byte* words, std::span<const std::byte> src);
void atomic_copy_out(std::span<std::byte> dst, const std::byte* words);

}  // namespace ipct::shm
