// Reports: the console verdict table and the versioned JSON report.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ipctorture/orchestrator.hpp"

namespace ipct {

// 2: each run records its scenario (file, directory, cell, SHA-256; the text
// itself under "scenario_texts"), its settings and its finding signatures,
// which is what `ipctorture replay` reads.
inline constexpr int kReportVersion = 2;

enum class ScenarioVerdict { kPass, kFail, kError, kInterrupted };
const char* verdict_label(ScenarioVerdict v);

// What changes a run besides its scenario and seed: the command line's
// settings that a reproduce command carries and a replay restores.
struct RunRecipe {
    std::optional<double> timeout_s;       // replaces the scenario's timeout
    std::optional<PerturbConfig> perturb;  // replaces every process's perturbation
    bool sigsafe = false;                  // every process under the interposer
    bool as_threads = false;               // threads mode
};

struct ScenarioReport {
    std::string file;
    std::string name;
    std::string cell;       // a matrix cell's label, empty otherwise
    std::string text;       // the scenario file's bytes (Scenario::text)
    std::string directory;  // the file's directory, absolute: where its relative paths start
    std::uint64_t seed = 0;
    RunRecipe recipe;
    bool ran = false;  // false: the harness failed before it had an outcome
    RunOutcome outcome;
    std::string error;      // harness or environment error text
    std::string reproduce;  // the command that re-runs exactly this
    // With --repeat / --until-fail: the repetition's index, from 0.
    std::optional<std::uint32_t> repetition;
    ScenarioVerdict verdict() const;
};

void print_table(std::ostream& os, const std::vector<ScenarioReport>& reps);

// One run's counts as the verdict table shows them (print_table, the HTML
// report).
struct TableCounts {
    std::string backends;  // comma-separated, sorted
    std::uint64_t sent = 0, received = 0, lost = 0, duplicated = 0, corrupted = 0, order = 0,
                  other = 0, indeterminate = 0;
};
TableCounts table_counts(const RunOutcome& o);
// The findings of failed scenarios, a few per kind, each with its evidence
// summary and reproduction command.
void print_findings(std::ostream& os, const std::vector<ScenarioReport>& reps,
                    std::size_t per_kind = 5);

// Serialises j for a file.  Bytes that are not UTF-8 (from a command line,
// say) are replaced rather than thrown on.
std::string json_text(const nlohmann::json& j, int indent = 2);

nlohmann::json report_json(const std::vector<ScenarioReport>& reps, const std::string& command);
nlohmann::json finding_json(const Finding& f, const Plan& plan);

// 0 pass, 1 findings, 3 error, 128+signal interrupted.
int exit_status(const std::vector<ScenarioReport>& reps);

std::string shell_quote(const std::string& s);

}  // namespace ipct
