// `ipctorture detect`: the detection benchmark over the zoo.
//
// A zoo entry is a scenario with a planted bug (scenarios/zoo/NAME.yaml);
// its correct twin (scenarios/zoo/twins/NAME.yaml) must pass.  For every
// entry the benchmark runs N seeded runs with perturbation (each scenario's
// own setting, or --perturb) and the same N seeds with perturbation off; a
// run detects the bug when it has at least one finding of a kind the entry
// expects (its top-level `expect: [kind, ...]`; without one, any finding).
// For every twin it runs M seeded runs and counts their findings: each one
// is a false positive.
//
// Time to first finding, per detecting run: the earliest moment, counted
// from the start barrier's release, at which the history held everything
// that proves a finding of an expected kind.  For a finding judged while
// the history streams by (corrupted, duplicated, unexpected, fifo, order)
// that is the end of the latest of its evidence records (the receive that
// got the damaged message, say); for one that needs the end of the run
// (lost, last_delivery, a shared counter's lost updates, bounds) it is the
// later of that and the last worker's end.  It is measured from the listed
// findings (at most --max-findings per kind, the earliest ones for the
// streamed kinds).
//
// Seeds: run i of an entry uses repetition_seed(base, i), as `run --repeat`
// does, so a run is re-run alone with `run FILE --seed S`.
//
// --until-found is the CI form: each entry runs until its first failing run
// (at most --max runs), which must show an expected kind; each twin runs
// --twin-runs times and must pass.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipctorture/orchestrator.hpp"

namespace ipct {

struct DetectArgs {
    std::vector<std::string> paths;  // zoo directories or files; default scenarios/zoo
    std::vector<std::string> twins;  // more twins (files or directories)
    std::uint32_t runs = 20;
    std::optional<std::uint32_t> off_runs;  // default: runs; 0 leaves the "off" column out
    std::uint32_t twin_runs = 200;
    std::string perturb;  // the perturbed setting; empty = each scenario's own
    bool until_found = false;
    std::uint32_t max = 20;             // --until-found: most runs per entry
    double min_rate = 0.95;             // a perturbed detection rate below it fails the benchmark
    std::optional<std::uint64_t> seed;  // base seed; default each scenario's
    std::optional<double> timeout;
    std::size_t max_findings = 100;
    std::string json;
    std::string junit;  // --junit: a testcase per zoo entry and per twin
    std::string shard;  // --shard I/N over zoo entries and twins together
    bool quiet = false;
};

// --perturb, as `run` and `detect` take it (checked when parsed).
void add_perturb_option(CLI::App& cmd, std::string& spec);
void add_detect_options(CLI::App& cmd, DetectArgs& a);
// 0: every entry detected (at or above --min-rate; within --max runs with
// --until-found) and every twin clean; 1 otherwise; 3 a run could not be
// made; 128+N interrupted.
int detect_main(const DetectArgs& a, const std::string& command);

// The finding kinds a zoo scenario expects (its `expect:` list, read from
// the scenario's text); empty when it names none.
std::vector<std::string> expected_kinds(const Scenario& s);

// Seconds from the start barrier to the first finding of one of `kinds`
// (any kind when empty), as defined above; nullopt if there is none.
std::optional<double> first_finding_s(const RunOutcome& o, const std::vector<std::string>& kinds);

}  // namespace ipct
