// Repeated runs of one scenario (`run --repeat N`, `run --until-fail`,
// `replay --repeat N`) and what they add up to: how many runs failed (a rate
// with its 95 % confidence interval), and the findings grouped by signature
// with the number of runs each group showed up in.
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
#include <set>
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

// The part of r that changes what a run does (what a report records).
RunRecipe recipe_of(const RunSettings& r);

// The absolute directory of a scenario file (where the relative paths in it
// start), or empty if there is none to be had.
std::string absolute_directory(const std::string& file);

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

// The signatures of a run's listed findings, each once (empty for a run
// that passed or did not run).
std::set<std::string> run_signatures(const ScenarioReport& r);

// Whether a run with signatures `got` shows again what `want` showed: every
// signature of `want` among `got` (more is still a reproduction), or, when
// `want` is empty (a pass), none at all.
bool reproduces(const std::set<std::string>& got, const std::set<std::string>& want);

// A proportion k of n with its 95 % confidence interval by the Wilson score
// method, which stays inside [0, 1] and is not empty at k = 0 or k = n (0 of
// 10 failing runs still allows a failure rate up to 28 %).  n = 0 gives
// rate 0 and the interval [0, 1].
struct RateInterval {
    std::uint32_t k = 0, n = 0;
    double rate = 0, low = 0, high = 1;
};
RateInterval wilson_interval(std::uint32_t k, std::uint32_t n);
// "40% (95% CI 17%-69%)"
std::string rate_text(const RateInterval& r);
nlohmann::json rate_json(const RateInterval& r);

// What a report says about reproducing a run from its seed.
extern const char* const kReproducibilityNote;

struct FindingGroup {
    std::string signature;            // finding_signature(): "kind/channel/role"
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
    std::vector<FindingGroup> groups;  // by signature, sorted
    RateInterval failure_rate;         // failing runs of all runs
    // The signatures of the first failing run, and in how many runs they all
    // showed again (that run included): the chance that a failure once seen
    // comes back.  Unset while no run failed.
    std::optional<std::set<std::string>> reference;
    RateInterval reproduction_rate;
};

// The repetitions of one scenario, in order.
RepeatSummary summarize_repetitions(const std::vector<const ScenarioReport*>& reps,
                                    std::uint64_t base_seed);

void print_repeat_summaries(std::ostream& os, const std::vector<RepeatSummary>& sums);
nlohmann::json repeat_summary_json(const RepeatSummary& s);

}  // namespace ipct
