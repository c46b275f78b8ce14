// The HTML report (`run --html FILE`, `check RUNDIR --html FILE`): one
// self-contained page (inline CSS and SVG, no script, nothing fetched) with
// the verdict table and, per run, a timeline of its processes with the
// findings marked on it, each channel's latency histogram and throughput
// over time, and every listed finding with its evidence and the command that
// reproduces it.
//
// The page is drawn from the RunOutcome alone (the checker's ChannelStats
// and ProcessStats): the run directory is gone after a pass.  With
// --repeat / --until-fail every repetition is a row of the table; the runs
// that did not pass get a section each (at most kHtmlDetailedRuns of them),
// and the last run does when every one passed.
#pragma once

#include <string>
#include <vector>

#include "ipctorture/report.hpp"

namespace ipct {

inline constexpr std::size_t kHtmlDetailedRuns = 20;

std::string html_report(const std::vector<ScenarioReport>& reps, const std::string& command);

// Writes html_report() to path; EnvironmentError if it cannot.
void write_html_report(const std::string& path, const std::vector<ScenarioReport>& reps,
                       const std::string& command);

// The report's stylesheet (the contents of its <style> element), shared with
// the bench's page (bench_html.cpp) so that both look alike.
const char* html_report_style();

}  // namespace ipct
