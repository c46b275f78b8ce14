// The harness side of the syscall-fault interposer (harness/faults/,
// libipctorture_faults.so): the rules a scenario's `syscall_faults:` names,
// where the library is, the environment a process gets, arming after the
// start barrier, and reading back what was injected.
//
// A process with rules runs with the library preloaded (LD_PRELOAD), the
// rules and its own seed in its environment, and the injection log
// <run dir>/syscall_faults.<index>.log.  A worker arms injection after its
// start barrier (so the barrier's pipes, opened channels and everything
// before is untouched); an exec program is armed from its first
// instruction, since its worker passed the barrier before execve.  Every
// injection is one Op::kSyscallFault record (harness/faults/ipct_faults_abi.h
// has the layout); the checker counts them per process, by call and errno,
// and a finding that involves a process with injections says so.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct {

struct Plan;
struct PlannedProcess;
struct CheckResult;

const char* syscall_fault_error_name(SyscallFaultRule::Error e);  // "EINTR" ... "short"
std::optional<SyscallFaultRule::Error> parse_syscall_fault_error(std::string_view s);
// The wrapped calls, by the id the log records (read, write, ... accept4).
const std::vector<std::string>& syscall_fault_calls();
// The calls an error applies to, in id order.
std::vector<std::string> syscall_fault_calls_for(SyscallFaultRule::Error e);

// The rules as the library reads them (IPCTORTURE_FAULTS).
std::string syscall_faults_spec(const std::vector<SyscallFaultRule>& rules);
// "EINTR on msgrcv, p=0.05; short on all, nth=3": for reports and messages.
std::string syscall_faults_text(const std::vector<SyscallFaultRule>& rules);

nlohmann::json syscall_faults_to_json(const std::vector<SyscallFaultRule>& rules);
std::vector<SyscallFaultRule> syscall_faults_from_json(const nlohmann::json& j);  // HarnessError

// <run dir>/syscall_faults.<index>.log
std::string syscall_faults_log_path(const std::string& run_dir, std::uint32_t process);

// The interposer library: beside `worker_exe` (the build tree), then in the
// install's lib/ipctorture.  Throws EnvironmentError naming where it looked.
std::string syscall_faults_library(const std::string& worker_exe);

// Adds process p's rules, seed, log and the library to `env` (a whole
// environment; empty: this process's own), appending the library to any
// LD_PRELOAD already there.
void add_syscall_faults_environment(std::vector<std::string>& env, const std::string& lib,
                                    const Plan& plan, const PlannedProcess& p);

// The seed of p's injection decisions: its own seed on a stream of its own.
std::uint64_t syscall_faults_seed(const PlannedProcess& p);

// In a worker with rules, after the start barrier: arms the preloaded
// library.  Throws EnvironmentError when it is not loaded.
void arm_syscall_faults();

// What was injected into one process: counts by (call, errno; 0 = short).
struct SyscallFaultCount {
    std::string call;
    int err = 0;
    std::uint64_t count = 0;
    bool operator==(const SyscallFaultCount&) const = default;
};
struct SyscallFaultStats {
    std::uint64_t total = 0;
    std::vector<SyscallFaultCount> counts;  // sorted by call id, then errno
    std::uint64_t first_ns = 0, last_ns = 0;
    bool operator==(const SyscallFaultStats&) const = default;
};
// "msgrcv EINTR x3, read short x12"
std::string syscall_fault_counts_text(const SyscallFaultStats& s);

// Counts the records of one injection log.
SyscallFaultStats count_syscall_faults(const Record* recs, std::uint64_t n);

// Reads every process's injection log into res.syscall_faults (by plan
// process) and notes, in each finding whose evidence comes from a process
// with injections (or whose crash or hang is that process's), that its
// calls were injected with faults.
void add_syscall_faults(CheckResult& res, const std::string& run_dir, const Plan& plan);

}  // namespace ipct
