// What a worker process and a threads-mode worker thread share
// (worker.cpp, worker_threads.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ipctorture/backend.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/plan.hpp"

namespace ipct::worker_detail {

Plan read_plan(const std::string& run_dir);

// Opens process `self`'s side d of channel c from `state` (the channel's
// state, or a threads-mode thread's copy of it), logging a kOpen record.
std::unique_ptr<Endpoint> open_endpoint(const Plan& plan, std::uint32_t self, std::uint32_t c,
                                        Direction d, const nlohmann::json& state,
                                        EventLogWriter& log);

// Room for the records a process will most likely write.
std::uint64_t expected_records(const Plan& plan, const PlannedProcess& p);

// Start barrier: one byte on ready_fd, then end-of-file on go_fd.
void barrier(int ready_fd, int go_fd);

// Everything after the start barrier: the start mark, the role, the notes
// and the exit mark.  Returns the role's exit code.
// Pins the calling thread to the plan's CPUs and configures its perturber.
void place_and_perturb(const PlannedProcess& self);

// Which incarnation of its process a worker is (faults.hpp: restart), and
// where a later one picks up (RoleContext).
struct Incarnation {
    unsigned number = 0;
    std::uint64_t t0_ns = 0;
    std::uint64_t first_seq = 0;
};
Incarnation resume_point(const std::string& run_dir, const PlannedProcess& self,
                         unsigned number, std::uint64_t t0_ns);

int run_started(const Plan& plan, const PlannedProcess& self, EventLogWriter& log, Endpoint* in,
                Endpoint* out, bool targeted, const Incarnation& inc = {});

}  // namespace ipct::worker_detail
