// Loading `syscall_faults:` (scenario.cpp calls it for the top level and for
// each process) and checking it against the topology (validate_scenario).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "ipctorture/scenario.hpp"

namespace ipct {

// `off`, one rule (a map) or a sequence of rules.  `loc` is where the value
// stands (the key's place when it is empty).  Throws ScenarioError at the
// offending node.
std::vector<SyscallFaultRule> load_syscall_faults(const std::string& file, const YAML::Node& n,
                                                  const SourceLoc& loc);

// A signaler makes none of the wrapped calls: rules of its own are refused.
// EAGAIN is injected only into non-blocking sends: a rule that can reach no
// such call of its process (every channel a blocking posix_mq or sysv_msg
// queue, and only queue calls or all calls named) is refused.
void check_syscall_faults(const Scenario& s);

}  // namespace ipct
