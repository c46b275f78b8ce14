// Sanitizer reports in a worker's output, read back as findings.
//
// A worker's stdout and stderr go to a file in the run directory
// (worker.<index>.log, or worker.threads.log in threads mode).  Under a
// sanitizer build (ThreadSanitizer, AddressSanitizer, LeakSanitizer,
// UndefinedBehaviorSanitizer) a report printed there is a bug the run
// found: the checker turns each one into a `sanitizer` finding.
//
// The parser reads the reports' text as the runtimes print it, line by
// line, and is meant to survive what a real log holds:
//  - other output between and inside reports (the harness's own log lines,
//    another thread's): a line that is neither a frame nor a stack title
//    nor a report's start or end is skipped, without ending the report;
//  - several reports, of several tools, in one file;
//  - a report cut short (the process killed while printing, a full disk):
//    it is kept, marked truncated, with what it had.
// A report ends at its SUMMARY line, at TSan's closing "=====" rule, or at
// the start of the next report.
//
// Attribution: in process mode every report in worker.<i>.log belongs to
// process i.  In threads mode every planned process is a thread of one
// worker, named "ipct-p<index>" (prctl PR_SET_NAME), and the runtimes
// print thread names in their reports ("Thread T3 'ipct-p2' (tid=...)" in
// TSan, "Thread T3 (ipct-p2) created by T0" in ASan), so each stack is
// attributed to the process whose thread made it.  A report without thread
// names (UBSan prints none) in threads mode is attributed to no process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipct {

inline constexpr std::uint32_t kNoSanitizerProcess = 0xffffffff;

// One stack of a report: an access, a free, an allocation, a leak.
struct SanitizerStack {
    std::string title;   // as printed, trimmed: "Write of size 8 at 0x7b04... by thread T2"
    std::string thread;  // "T2" ("T0" for TSan's "main thread"); empty if the title names none
    std::uint32_t process = kNoSanitizerProcess;  // plan index of the thread's process
    std::vector<std::string> frames;              // the first frames: "#0 foo() file.cpp:10:5"
};

struct SanitizerReport {
    std::string tool;      // "ThreadSanitizer", "AddressSanitizer", ...
    std::string kind;      // "data race", "heap-use-after-free", "runtime error: ..."
    std::string headline;  // the report's first line, trimmed
    std::string location;  // UBSan: file:line:column of the error
    int pid = 0;           // as printed, 0 if not
    std::vector<SanitizerStack> stacks;
    // Thread ids and the names the report gives them ("T2" -> "ipct-p1").
    std::vector<std::pair<std::string, std::string>> threads;
    bool truncated = false;  // the text ended before the report did
    // Plan indices of the processes whose output held the report (process
    // mode: that worker; threads mode: every thread of the one worker).
    // Their ends (a sanitizer's exit code, its abort) are explained by it.
    std::vector<std::uint32_t> output_of;
    // Plan indices of the processes the report's stacks are attributed to,
    // in order of first appearance.
    std::vector<std::uint32_t> processes;
    bool operator==(const SanitizerReport&) const = default;
};

inline constexpr std::size_t kSanitizerMaxFrames = 6;    // kept per stack
inline constexpr std::size_t kSanitizerMaxStacks = 6;    // kept per report
inline constexpr std::size_t kSanitizerMaxReports = 64;  // kept per output file

// Every report in text, in order (at most kSanitizerMaxReports).
std::vector<SanitizerReport> parse_sanitizer_output(std::string_view text);

// The thread name a threads-mode worker gives the thread of process i, and
// back (nullopt-like kNoSanitizerProcess for any other name).
std::string sanitizer_thread_name(std::uint32_t process);
std::uint32_t process_of_thread_name(std::string_view name);

// Fills output_of, each stack's process and processes.  `process` is the
// plan index whose output held the reports, or kNoSanitizerProcess for a
// threads-mode worker running processes [0, nprocs) (attributed by thread
// names).
void attribute_sanitizer_reports(std::vector<SanitizerReport>& reports, std::uint32_t process,
                                 std::uint32_t nprocs);

// Reads the reports of a run directory's worker outputs, attributed.
std::vector<SanitizerReport> read_sanitizer_reports(const std::string& run_dir,
                                                    std::uint32_t nprocs);

// The name of a threads-mode worker's output file in a run directory.
inline constexpr const char* kThreadsWorkerLog = "worker.threads.log";

}  // namespace ipct
