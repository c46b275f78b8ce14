// The scenario side of schedule perturbation and CPU placement: their text
// forms and how a scenario's settings become each process's (perturb.hpp
// has the mechanism).
//
//   perturb: off
//   perturb: 0.05                         # a probability; the rest as a map's defaults
//   perturb: "p=0.05,sleep=200us"         # the short form of --perturb
//   perturb: {probability: 0.05, max_sleep: 200us, max_spin: 2000,
//             kinds: [yield, spin, sleep], sites: [calls, windows]}
//   cpus: any | same | spread | [0, 2]
//
// Both keys may stand at the top level (every process) and in a process
// (overriding the top level for it).  --perturb on the command line
// replaces every process's setting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipctorture/perturb.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct {

// "off", or every field as key=value pairs, in the form parse_perturb_text
// reads back to the same configuration:
// "p=0.05,sleep=200us,spin=2000,kinds=yield+spin+sleep,sites=calls+windows".
std::string perturb_text(const PerturbConfig& c);

// The short forms of --perturb and of a scalar `perturb:`: "off";
// "default" (PerturbConfig::builtin_default); a probability ("0.05"); or
// comma-separated key=value pairs with keys p (or probability), sleep (or
// max_sleep; a duration), spin (or max_spin; a count), kinds (yield, spin,
// sleep joined by '+') and sites (calls, windows joined by '+'), each at
// most once, the others from PerturbConfig::map_defaults().  nullopt with
// the reason in *why.
std::optional<PerturbConfig> parse_perturb_text(const std::string& s, std::string* why);

// A kinds or sites name: its bit, or 0 for an unknown name.
std::uint8_t perturb_kind_bit(const std::string& name);
std::uint8_t perturb_site_bit(const std::string& name);

// The effective setting of process `p` of scenario s (its own, else the
// scenario's, else the built-in default).
PerturbConfig effective_perturb(const Scenario& s, const ProcessSpec& p);
CpuPlacement effective_placement(const Scenario& s, const ProcessSpec& p);

// Resolves placements over the processes of a plan, in plan order: `same`
// is the first allowed CPU, `spread` the k-th spread process on allowed
// CPU k mod n, a list itself; `any` gives an empty set (not pinned).
class CpuAssigner {
  public:
    explicit CpuAssigner(std::vector<int> allowed) : allowed_(std::move(allowed)) {}
    std::vector<int> next(const CpuPlacement& p);

  private:
    std::vector<int> allowed_;
    std::size_t spread_ = 0;
};

}  // namespace ipct
