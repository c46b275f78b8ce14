// The harness side of the signal-safety interposer (harness/sigsafe/,
// libipctorture_sigsafe.so): where the library is, where a worker's reports
// go, and how a report line becomes a `signal_safety` finding.
//
// A process with `sigsafe: true` (or every process, with `run --sigsafe`)
// is started with LD_PRELOAD=<the library> and IPCTORTURE_SIGSAFE_OUT=<run
// dir>/sigsafe.<index>.log.  The interposer writes one line per distinct
// report there (harness/sigsafe/sigsafe.h has the format): a function that
// is not async-signal-safe called inside a signal handler, with the
// handler's frames as module+offset, or a handler that returned with errno
// changed.  After the run each line becomes a finding attributed to the
// process; its frames are symbolized with addr2line when it is installed
// (binutils), and left as module+offset otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipct {

struct Plan;
struct CheckResult;

inline constexpr std::uint32_t kNoSigsafeProcess = 0xffffffff;

struct SignalSafetyReport {
    std::uint32_t process = kNoSigsafeProcess;  // plan index
    std::uint64_t t_ns = 0;                     // CLOCK_MONOTONIC when reported (first time)
    int pid = 0;
    int tid = 0;
    int signal = 0;  // the signal whose handler was running (0: unknown)
    int depth = 0;   // handlers running on the thread, this one included
    // The function called ("printf", "malloc", ...); empty for a clobbered errno.
    std::string function;
    bool errno_clobbered = false;
    int errno_before = 0;
    int errno_after = 0;
    // The handler's entry point and, for a call, the handler's frames
    // (return addresses, innermost first; none when the handler tail-called
    // the function).  As written: "module+0xoffset".
    std::string raw_handler;
    std::vector<std::string> raw_frames;
    // The same symbolized, "function (file.cpp:12) in module+0xoffset" (the
    // module's file name) where addr2line knows them, the raw text otherwise.
    std::string handler;
    std::vector<std::string> frames;
    bool operator==(const SignalSafetyReport&) const = default;
};

// One line of a report file; nullopt for a line that is not a report (a
// truncated one, the "dropped" notice).
std::optional<SignalSafetyReport> parse_sigsafe_line(std::string_view line);

// Fills each report's `frames` from its `raw_frames` (one addr2line run per
// module).
void symbolize_sigsafe_reports(std::vector<SignalSafetyReport>& reports);

// "printf called in a handler of SIGUSR1" / "a handler of SIGUSR1 returned
// with errno changed (EINTR -> ECHILD)", with the first frame.
std::string describe_sigsafe_report(const SignalSafetyReport& r);

// <run dir>/sigsafe.<index>.log
std::string sigsafe_report_path(const std::string& run_dir, std::uint32_t process);

// Every report of a run directory, attributed and symbolized, by process.
std::vector<SignalSafetyReport> read_sigsafe_reports(const std::string& run_dir, const Plan& plan);

// Adds one `signal_safety` finding per report to res (counts exact, at most
// max_findings listed), attributed to the report's process.
void add_signal_safety_findings(CheckResult& res, const std::vector<SignalSafetyReport>& reports,
                                const Plan& plan, std::size_t max_findings);

// This process's environment for a worker under the interposer: lib added
// to LD_PRELOAD (after what is there already: a sanitizer runtime must stay
// first), IPCTORTURE_SIGSAFE_OUT=report_path.
std::vector<std::string> sigsafe_environment(const std::string& lib,
                                             const std::string& report_path);

// The interposer library for workers started from worker_exe: next to it
// (the build tree), then in the install location relative to it.  Throws
// EnvironmentError naming the places it looked.
std::string sigsafe_library(const std::string& worker_exe);

}  // namespace ipct
