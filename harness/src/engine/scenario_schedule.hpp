// Loading `perturb:` and `cpus:` nodes (scenario.cpp calls these for the
// top level and for each process).  Errors are ScenarioErrors at the node.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "ipctorture/scenario.hpp"

namespace ipct {

// `loc` is where the value stands (the key's place when it is empty).
PerturbConfig load_perturb(const std::string& file, const YAML::Node& n, const SourceLoc& loc);
// Every CPU named must be one this process may run on (sched_getaffinity).
CpuPlacement load_cpus(const std::string& file, const YAML::Node& n, const SourceLoc& loc);

}  // namespace ipct
