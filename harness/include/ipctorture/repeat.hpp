// Repeated runs of one scenario (`run --repeat N`, `run --until-fail`) and
// what they add up to: how many runs failed, and the findings grouped by
// kind, channel and role with the number of runs each group showed up in.
//
// Each repetition has its own seed, derived from the base seed (the
// scenario's, or --seed) and the repetition's index, and printed, so that a
// failing repetition is re-run alone with `run --seed SEED`.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ipctorture/perturb.hpp"
#include "ipctorture/report.hpp"

namespace ipct {

// --until-fail without --max stops after this many runs.
inline constexpr std::uint32_t kDefaultUntilFailMax = 100;

// Repetition 0 runs with the base seed itself (so `--repeat 1` is a plain
// run); repetition i > 0 with a seed derived from (base, i).
std::uint64_t repetition_seed(std::uint64_t base, std::uint32_t i);

// What makes a run: everything a reproduce command must carry.
struct RunSettings {
    std::optional<double> timeout_s;
    std::optional<PerturbConfig> perturb;  // the command line's, replacing the scenario's
    std::size_t max_findings = 100;
    bool keep = false;
    bool keep_failed = true;  // false: remove a failing run's directory too
    bool sigsafe = false;     // --sigsafe: every process under the interposer
    bool as_threads = false;  // --as-threads
    // Progress while a run is live (RunOptions::on_progress); not part of
    // what a run does, so not in its reproduce command.
    std::function<void(const RunProgress&)> on_progress;
    double progress_interval_s = 1;
};

// `ipctorture run FILE --seed S [--cell C] [--timeout T] [--perturb P]`.
std::string reproduce_command(const std::string& file, const std::string& cell, std::uint64_t seed,
                              const RunSettings& r);

// Runs s once with `seed`; a harness or environment error becomes the
// report's error (verdict ERROR), never an exception.
ScenarioReport run_report(const Scenario& s, std::uint64_t seed, const RunSettings& r);

// The process that observed a finding: the one of its last evidence record
// (the receive that got the damaged or duplicated message, the crashed
// worker's last record, the send of a lost message); nullptr if none.
const PlannedProcess* finding_process(const Finding& f, const Plan& plan);

// A finding's signature: what stays the same when the same bug shows again
// under another seed, at another message or in another repetition: its kind,
// the name of its channel and the role of the process that observed it
// (finding_process), as "kind/channel/role" ("lost/q/consumer"; "-" where a
// finding has no channel or process).  Repetitions group findings by it; the
// shrinker keeps a reduction only while it still shows; replay compares by it.
std::string finding_signature(const Finding& f, const Plan& plan);

struct FindingGroup {
    std::string kind, channel, role;  // "-" where a finding has none
    std::uint64_t findings = 0;  // listed findings (each run lists at most --max-findings per kind)
    std::uint32_t runs = 0;      // runs with at least one
};

struct RepeatSummary {
    std::string file, name;
    std::uint64_t base_seed = 0;
    std::vector<std::uint64_t> seeds;  // per repetition, in order
    std::vector<ScenarioVerdict> verdicts;
    std::uint32_t failing = 0;                 // verdict FAIL
    std::uint32_t errors = 0;                  // verdict ERROR (or INTERRUPTED)
    std::uint64_t counts[kFindingKinds] = {};  // exact, summed over runs
    std::uint32_t runs_with[kFindingKinds] = {};
    std::vector<FindingGroup> groups;  // sorted by kind, channel, role
};

// The repetitions of one scenario, in order.
RepeatSummary summarize_repetitions(const std::vector<const ScenarioReport*>& reps,
                                    std::uint64_t base_seed);

void print_repeat_summaries(std::ostream& os, const std::vector<RepeatSummary>& sums);
nlohmann::json repeat_summary_json(const RepeatSummary& s);

}  // namespace ipct
