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
};

// Runs the role to its end; returns the worker's exit code (0 = done).
int run_role(RoleContext& ctx);

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
