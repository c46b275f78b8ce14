// Loading a channel's `proxy:` node (scenario.cpp calls it for each
// channel).  Errors are ScenarioErrors at the offending key or value.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "ipctorture/scenario.hpp"

namespace ipct {

// `loc` is where the value stands, `key_loc` the `proxy` key; `backend` is
// the channel's: only tcp and udp take a proxy, and each its own keys.
ProxySpec load_proxy(const std::string& file, const YAML::Node& n, const SourceLoc& loc,
                     const SourceLoc& key_loc, const std::string& backend);

}  // namespace ipct
