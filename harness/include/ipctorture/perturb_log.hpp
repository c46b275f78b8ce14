// The perturbation log: each worker whose perturbation is on writes, at its
// end, the decisions its perturber carried out (PerturbTrace) to
// <run dir>/perturb.<process>.json, so that two runs of one seed can be
// compared decision by decision.  A worker that is killed writes none.
//
//   {"process": "consumer0", "index": 1, "perturb": "p=0.375,...",
//    "limit": 4096, "truncated": false,
//    "sites": {"before_send": {"visits": 900, "acted": 41, "covered": 900,
//                              "digest": "5f0c..."}, ...},
//    "decisions": [["before_send", 3, "spin", 117], ...]}
//
// A decision is [site, visit number from 0, kind, amount]: pause
// instructions for a spin, nanoseconds for a sleep, 0 for a yield.
#pragma once

#include <string>

#include "ipctorture/perturb.hpp"
#include "ipctorture/plan.hpp"

namespace ipct {

std::string perturb_log_path(const std::string& run_dir, std::uint32_t process);

void write_perturb_log(const std::string& path, const PlannedProcess& p, const PerturbTrace& t);

// Throws HarnessError naming the file and what is wrong with it.
PerturbTrace read_perturb_log(const std::string& path);

}  // namespace ipct
