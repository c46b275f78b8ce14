// The orchestrator: runs one scenario end to end.
//
//   make the run directory (owned: an flock on <dir>/.owner is held for the
//   whole run, which is how `clean` tells a live run from a dead one)
//   -> plan -> create every channel -> spawn one worker per planned process
//   (this binary, hidden `worker` subcommand, Boost.Process v2) in one new
//   process group -> start barrier -> wait, with a watchdog and SIGINT/SIGTERM
//   handling -> record every worker's end in the orchestrator log -> check
//   -> clean up channels; remove the run directory after a pass unless kept.
// In threads mode one worker process runs every planned process as a thread
// and reports each thread's end in <run dir>/threads.status; a thread that
// had not ended when the process did shares the process's end.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ipctorture/checker.hpp"
#include "ipctorture/faults.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/progress.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct {

struct RunOptions {
    std::optional<std::uint64_t> seed;  // replaces the scenario's seed
    std::optional<double> timeout_s;    // replaces the scenario's timeout
    bool keep = false;                  // keep the run directory after a pass
    std::string run_root;               // empty = default_run_root()
    std::string worker_exe;             // empty = this executable
    std::size_t max_findings = 100;     // listed per kind; counts are always exact
    bool sigsafe = false;               // every process under the signal-safety interposer
    // Threads mode: every planned process runs as a thread of one worker
    // process (worker.hpp), so that ThreadSanitizer sees the races between
    // them.  The scenario must pass validate_threads_mode().
    bool as_threads = false;
    // Keep the run directory after a failure (an interrupted run's always).
    bool keep_failed = true;
    // Replaces every process's perturbation (--perturb).
    std::optional<PerturbConfig> perturb;
    // Called from the orchestrator's wait loop every progress_interval_s
    // while the workers run (never after run_scenario returns); empty: none.
    std::function<void(const RunProgress&)> on_progress;
    double progress_interval_s = 1;
};

struct WorkerEnd {
    int pid = 0;
    int status = -1;  // raw wait status; -1 = never reaped
    bool killed_by_harness = false;
};

struct RunOutcome {
    Plan plan;
    CheckResult result;
    std::vector<WorkerEnd> workers;
    bool interrupted = false;
    int interrupt_signal = 0;
    bool barrier_failed = false;  // a worker ended before every worker was ready
    double wall_s = 0;            // spawn to last worker reaped
    double active_s = 0;          // start barrier to last worker reaped
    double check_s = 0;
    // CLOCK_MONOTONIC (the event logs' clock): the start barrier's release
    // and the last worker's end; 0 when the run never got there.
    std::uint64_t t_start_ns = 0;
    std::uint64_t t_end_ns = 0;
    std::string run_dir;
    bool kept = false;
    bool as_threads = false;  // the run used threads mode
    // The process faults carried out or attempted (the orchestrator log's
    // kFault records), in the order they were done.
    std::vector<FaultEvent> faults;
};

// $IPCTORTURE_RUN_ROOT, else ${TMPDIR:-/tmp}/ipctorture.
std::string default_run_root();

// Throws EnvironmentError / HarnessError; findings are in the outcome.
// ScenarioError if o.as_threads and the scenario cannot run as threads.
RunOutcome run_scenario(const Scenario& s, const RunOptions& o);

// Refuses (ScenarioError at the element) what threads mode cannot run:
// the signal backend and signaler processes (a signal goes to a process,
// not to the thread that stands for one).
void validate_threads_mode(const Scenario& s);

// Re-judges a kept run directory from its plan and logs.
// max_findings caps the findings listed per kind (counts stay exact).
RunOutcome check_run_dir(const std::string& dir, std::size_t max_findings = 100);

struct CleanReport {
    std::vector<std::string> removed_dirs;
    std::vector<std::string> skipped_live;  // owned by a running harness
    int killed_processes = 0;
};
// Removes every run directory under root that no live harness owns: kills
// leftover workers, runs each channel's cleanup from plan.json, removes the
// directory.
CleanReport clean_runs(const std::string& root);

}  // namespace ipct
