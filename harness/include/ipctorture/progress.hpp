// Progress while scenarios run, on stderr.
//
// On a terminal: one line per run, rewritten in place, with the time spent
// against the time planned (or the messages sent against those planned),
// messages sent per second and the findings of the runs already finished.
// Not on a terminal (a CI log): plain lines, one when a run starts, one when
// it ends, and for a long run at most one progress line every few seconds.
//
// Where "messages sent" comes from: the workers' event logs, which the
// orchestrator reads as they grow (SendTally) -- the records are already
// there, so the workers do nothing more.  A send counts once its record is
// complete with status ok.  "Findings so far" counts only finished runs: a
// finding is judged from the whole history, after the run.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "ipctorture/plan.hpp"

namespace ipct {

// What a run plans, from its plan: the longest producer's duration (with its
// start delay) when producers send for a time, else the messages they send.
struct RunPlanSize {
    double duration_s = 0;  // 0: the producers send counts
    std::uint64_t messages = 0;
    double timeout_s = 0;
};
RunPlanSize plan_size(const Plan& plan);

// What the orchestrator tells a progress callback while a run is live.
struct RunProgress {
    double elapsed_s = 0;  // since the workers were spawned
    bool started = false;  // the start barrier has been released
    std::uint64_t sent = 0;
    double send_s = 0;  // seconds since the start barrier: what `sent` took
    RunPlanSize plan;
};

// Counts the completed, successful sends in a run directory's worker event
// logs, reading each log from where it stopped last time (pread of the
// header's published count, then of the new records only).  A record still
// pending stops the reading of its log until it completes.  Logs that do not
// exist yet count 0.  Never throws.
class SendTally {
  public:
    SendTally(std::string run_dir, std::size_t processes);
    ~SendTally();
    SendTally(const SendTally&) = delete;
    SendTally& operator=(const SendTally&) = delete;
    std::uint64_t sent();

  private:
    struct Log {
        int fd = -1;
        std::uint64_t next = 0;  // first record not yet counted
    };
    std::string dir_;
    std::vector<Log> logs_;
    std::vector<Record> buf_;
    std::uint64_t sent_ = 0;
};

// The text of a progress line (no newline), for both forms:
// "NAME  3.2s/10.0s  sent 12345 (3.9k/s)  findings so far 2".
struct ProgressLine {
    std::string label;                  // scenario name, with "[3/12]" or the repetition
    RunProgress now;                    // now.plan: what the run plans
    std::uint64_t findings_so_far = 0;  // in runs already finished
    std::uint32_t failed_so_far = 0;    // runs already finished that failed
};
std::string progress_text(const ProgressLine& p);
// "12.3k/s", "950/s"
std::string rate_text(double per_s);

// Writes the progress of one command's runs to os (stderr).
class ProgressPrinter {
  public:
    // terminal: rewrite one line in place; else plain lines, a progress line
    // at most every plain_interval_s.  quiet: print nothing at all.
    ProgressPrinter(std::ostream& os, bool terminal, bool quiet, double plain_interval_s = 10);
    // For stderr: terminal when isatty(2) and TERM is not "dumb".
    static bool stderr_is_terminal();

    void start(const std::string& label, const std::string& start_line);
    void update(const RunProgress& p);
    // The run has ended: its line, and what it adds to "so far".
    void end(const std::string& end_line, std::uint64_t findings, bool failed);
    // The run has ended; no line of its own (the live line stays until the
    // next start() or clear()).
    void count_run(std::uint64_t findings, bool failed);
    void reset_counts();  // "so far" starts again from nothing
    void clear();         // removes the live line, if one is on screen
    bool active() const { return !quiet_; }
    // How often the orchestrator should call update().
    double interval_s() const { return terminal_ ? 0.25 : 1.0; }

  private:
    std::ostream& os_;
    bool terminal_, quiet_;
    double plain_interval_s_;
    double last_plain_ = 0;
    bool live_ = false;  // a live line is on screen
    ProgressLine line_;
};

}  // namespace ipct
