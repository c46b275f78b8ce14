// Loading `faults:` (scenario.cpp calls it for the top level) and expanding
// it into the plan's fault schedule (make_plan calls plan_faults).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ipctorture/faults.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct {

// `loc` is where the value stands (the key's place when it is empty).
// Throws ScenarioError at the offending node.
std::vector<FaultSpec> load_faults(const std::string& file, const YAML::Node& n,
                                   const SourceLoc& loc);

// Checks every fault against the scenario as a whole (targets, the process
// an `after` trigger counts).  validate_scenario() calls it.
void check_faults(const Scenario& s);

// The schedule: one entry per (fault, target) for `at` and `after`, one per
// draw for `random` (times from derive_seed(seed, ...)), sorted by entry
// then time.  The scenario must have passed check_faults().
std::vector<PlannedFault> plan_faults(const Scenario& s, std::uint64_t seed);

}  // namespace ipct
