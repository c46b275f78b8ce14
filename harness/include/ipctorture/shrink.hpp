// `ipctorture shrink`: reduces a failing scenario to a smaller one that
// still fails the same way.
//
// The reduction works on the scenario's YAML tree, not on the model: each
// step is a copy of the tree with one thing made smaller (a process removed,
// a count or a message count lowered, a size distribution moved toward its
// minimum, perturbation turned off, a fault removed), re-emitted and loaded
// again with load_scenarios_text(), so a step the loader or
// validate_scenario() refuses is never run, and whatever no step touches
// (channel options, mutants, expect:, checks:, keys added later) is carried
// over as written.
//
// A step is kept while the target finding signature(s) (finding_signature(),
// "kind/channel/role") still show in at least k of n runs, run i with
// repetition_seed(seed, i); the n runs of a step stop as soon as k have
// failed or k can no longer be reached.  Steps are greedy, biggest first
// (a message count to 1 before halving it), and repeated in passes until a
// pass keeps nothing or the time budget is spent.
#pragma once

#include <yaml-cpp/yaml.h>

#include <CLI/App.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipctorture/scenario.hpp"

namespace ipct {

inline constexpr std::uint32_t kShrinkDefaultRuns = 3;
inline constexpr std::uint32_t kShrinkDefaultMinFails = 2;
inline constexpr double kShrinkDefaultBudgetS = 300;

struct ShrinkArgs {
    std::string path;
    std::optional<std::uint64_t> seed;    // default: the scenario's
    std::string cell;                     // a matrix file's cell
    std::vector<std::string> signatures;  // --signature; empty: established by a first run
    std::uint32_t runs = kShrinkDefaultRuns;
    std::uint32_t min_fails = kShrinkDefaultMinFails;
    std::string budget;  // a duration; empty: kShrinkDefaultBudgetS
    std::string output;  // -o; empty: NAME.min.yaml beside the original
    bool quiet = false;
};

void add_shrink_options(CLI::App& cmd, ShrinkArgs& a);
// 0 reduced (or nothing to reduce), 1 the original does not fail with the
// signature, 2 bad input, 3 harness or environment error, 128+N interrupted
// (the smallest scenario found so far is written first).
int shrink_main(const ShrinkArgs& a, const std::string& command);

// One candidate reduction of a tree.  `site` names what it changes, stable
// across other steps ("messages-half:producer 'w'"), so that a step that
// did not reproduce is not tried again in the same pass; `what` says it for
// a person ("messages of producer 'w': 1000 -> 500").
struct ShrinkStep {
    std::string site;
    std::string what;
    YAML::Node tree;
};

struct ShrinkHints {
    // A timeout the runs so far show is ample; a step lowers the scenario's
    // to it when that is lower.  Unset: timeouts are left alone.
    std::optional<double> timeout_s;
    // The target is a hang: every failing run lasts as long as the timeout,
    // so a step halves it instead (down to 1 s).
    bool halve_timeout = false;
};

// Every single-step reduction of `tree` (a scenario without a matrix), in
// the order they are tried: biggest first.  Each is a deep copy; `tree` is
// not changed.  Steps may give trees the loader refuses (removing the only
// reader of a channel); the caller loads each before running it.
std::vector<ShrinkStep> shrink_steps(const YAML::Node& tree, const ShrinkHints& hints = {});

// The YAML text of a tree, as the shrinker writes it.
std::string shrink_emit(const YAML::Node& tree);

// The tree of matrix cell number `cell` (its index in load_scenarios()'s
// order) as a scenario of its own: the matrix removed, its values put in
// place as the loader puts them (every channel's backend, every producer's
// workload field); the name stays the matrix's.  A tree without a matrix is
// returned as it is (a copy).
YAML::Node shrink_flatten_cell(const YAML::Node& root, std::size_t cell);

// What the shrinker prints before and after: planned processes (counts
// expanded), messages and bytes of producers with `messages:` (bytes at each
// size distribution's mean), seconds of producers with `duration:`, and
// faults (entries of `faults:` and `syscall_faults:` anywhere, and `proxy:`
// maps).
struct ScenarioSize {
    std::uint64_t processes = 0;
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    double duration_s = 0;
    std::uint64_t faults = 0;
};
ScenarioSize scenario_size(const Scenario& s, const YAML::Node& tree);
std::string size_text(const ScenarioSize& z);

}  // namespace ipct
