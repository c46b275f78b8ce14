// Worker roles: what one process (or, later, one thread) does on its
// channels.  A role writes everything the checker needs to the event log and
// nothing else; it never judges the history itself.
#pragma once

#include <cstdint>

#include "ipctorture/backend.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/plan.hpp"

namespace ipct {

struct RoleContext {
    const Plan* plan = nullptr;
    const PlannedProcess* self = nullptr;
    EventLogWriter* log = nullptr;
    const Payload* payload = nullptr;
    Endpoint* in = nullptr;   // consumer, relay
    Endpoint* out = nullptr;  // producer, relay
    // A restarted process's later incarnation (faults.hpp): the start
    // barrier's release (its start delay, pace and duration count from
    // there, as they did for the first incarnation), and a producer's first
    // seq (the sizes and priorities of the ones before are drawn and
    // skipped, so each seq keeps the message it had).  0 for a first
    // incarnation.
    std::uint64_t t0_ns = 0;
    std::uint64_t first_seq = 0;
};

// The most a reader asks of a byte stream in one receive.  Reads of
// 256 KiB and more into the decoder's buffer made a 4 KiB pipe stream 2-5x
// slower than 4-64 KiB reads on the development VM (measured with a plain
// write()/read() loop; the kernel copies the same bytes either way).
inline constexpr std::size_t kStreamReadChunk = 64 * 1024;

// Runs the role to its end; returns the worker's exit code (0 = done).
int run_role(RoleContext& ctx);

// Signalers (signaler.cpp).  The signaler role: signals its targets until
// each has ended (or its duration passes), then logs a Note::kSignalsSent.
int run_signaler(RoleContext& ctx);
// In every worker before the start barrier: a handler that only counts,
// installed without SA_RESTART (so blocking calls see EINTR), for each
// signal a signaler sends this process.  Returns whether there was one.
bool install_target_handlers(const Plan& plan, std::uint32_t self);
std::uint64_t target_signals_caught();
// A completed kNote record stamped now, its value in seq.
Record note_record(Note n, std::uint64_t value);

// Seeded generator for sizes and perturbation: splitmix64.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : s_(seed) {}
    std::uint64_t next();
    std::uint64_t below(std::uint64_t n);  // uniform in [0, n)
    double unit();                         // uniform in [0, 1)

  private:
    std::uint64_t s_;
};

std::uint32_t draw_size(const SizeDist& d, Rng& rng);

// Sleeps until the CLOCK_MONOTONIC instant t (ns), resuming after signals.
void sleep_until_ns(std::uint64_t t);

}  // namespace ipct
