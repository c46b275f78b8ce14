// `ipctorture replay REPORT.json`: runs again what a JSON report describes.
//
// A report (version 2, report.hpp) records for every run its scenario (the
// file as named, its absolute directory, the matrix cell, the text's
// SHA-256, and the text itself in "scenario_texts" under that hash), its
// seed, the settings that changed it (timeout, perturbation, sigsafe,
// threads mode) and the signatures of its findings (finding_signature()).
// Replay loads the scenario from the recorded text under the original file
// name, so that errors name that file and relative paths in it (plugins,
// exec programs) start from its directory; a report without the text falls
// back to the file, which must still hash to the recorded value.  Each
// chosen run is then run --repeat times with its own seed and settings, and
// each replay's signatures are compared with the report's.
//
// What a replay can repeat is what the seed decides: the workload, the fault
// schedule and the perturbation decisions.  The OS's scheduling is not
// recorded, so a race shows in a share of the replays: the reproduction
// rate, with its 95 % confidence interval.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ipctorture/repeat.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct {

struct ReplayArgs {
    std::string report;
    std::vector<std::size_t> runs;  // --run K (1-based, as in the report's order); empty = default
    bool all = false;               // --all: every run of the report
    std::uint32_t repeat = 1;
    std::string json;
    bool keep = false;
    bool quiet = false;
};

void add_replay_options(CLI::App& cmd, ReplayArgs& a);

// One run of a report, ready to run again.
struct ReplayTarget {
    std::size_t number = 0;  // 1-based position in the report's "scenarios"
    Scenario scenario;
    std::uint64_t seed = 0;
    RunSettings settings;
    std::string verdict;               // the report's verdict for it
    std::set<std::string> signatures;  // the report's signatures for it
};

// Parses a report's text (`path` names it in errors) and loads the
// scenario of each run in `numbers` (1-based; empty: the failing runs, or
// all when none failed).  Throws ScenarioError: the JSON's
// path:line:column where the parser gives one, else the offending key's
// path in the document; a missing or changed scenario file.
std::vector<ReplayTarget> replay_targets(const std::string& path, const std::string& text,
                                         const std::vector<std::size_t>& numbers, bool all);

int replay_main(const ReplayArgs& a, const std::string& command);

}  // namespace ipct
