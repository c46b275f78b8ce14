// Process faults: a scenario's `faults:` list, its schedule in the plan, and
// what the orchestrator logs when it carries one out (Op::kFault).
//
// A fault acts on one planned process: kill (SIGKILL), stop (SIGSTOP, then
// SIGCONT after its pause), signal (a named signal) or restart (SIGKILL, then
// a new incarnation of the same process, after its delay, that carries on
// its work: a producer from the message after the last one any earlier
// incarnation began to send, a consumer receiving on).  Its trigger is a time after the start
// barrier, or a message count of a process (its completed sends; a reader's
// intact receives).  A random trigger is drawn at plan time from the run
// seed, so the whole schedule is in plan.json and one seed gives one
// schedule.  A target that names several processes (a role, a counted name)
// gets one fault each; a random fault picks one of them per draw.
//
// The kFault record (orchestrator log): t_start/t_end around the kill(2)
// call, seq = target process index, origin = the fault's index in
// Plan::faults, aux = the FaultStep, extra = the signal sent; status ok
// when it was carried out, error with err = ESRCH when the target had
// already ended (not carried out, not a finding), another errno if kill(2)
// failed.  A restart's second record (aux = kRespawn) is written when the
// new incarnation is spawned: t_start = when the orchestrator saw the old
// one end (a bound on its death), t_end = the spawn, extra = the new
// incarnation's number (1, 2, ...), status error with err when the spawn
// failed (the process then stays ended).  Each incarnation k > 0 logs to
// its own file (event_log_path(dir, p, k)); the checker reads them as one
// history with a Note::kIncarnation record between them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ipct {

enum class FaultAction : std::uint8_t { kKill = 1, kStop = 2, kSignal = 3, kRestart = 4 };
const char* fault_action_name(FaultAction a);  // "kill", "stop", "signal", "restart"
std::optional<FaultAction> parse_fault_action(std::string_view s);

// What one kFault record did (its aux).  A stop is two records: kStop, then
// kCont after the pause; a restart is kKill, then kRespawn.
enum class FaultStep : std::uint32_t { kKill = 1, kStop = 2, kCont = 3, kSignal = 4, kRespawn = 5 };
const char* fault_step_name(FaultStep s);

// Any signal by name, "SIGTERM" or "TERM" (real-time ones as "SIGRTMIN+3"):
// what a `signal` fault may send.  nullopt for a name that is none.
std::optional<int> any_signal(const std::string& name);
std::string any_signal_name(int sig);  // "SIGTERM"

// Random faults: at most this many drawn per scenario entry.
inline constexpr std::uint64_t kMaxRandomFaults = 1000;

// One scheduled fault: on `target`, either at_s seconds after the start
// barrier, or once process after_process has done after_messages messages.
struct PlannedFault {
    FaultAction action = FaultAction::kKill;
    std::uint32_t target = 0;  // plan process index
    int signal = 0;            // kSignal: the signal; otherwise the one the action sends
    double pause_s = 0;        // kStop: SIGCONT this long after SIGSTOP
    double delay_s = 0;        // kRestart: the new incarnation this long after the old ended
    bool by_count = false;
    double at_s = 0;
    std::uint32_t after_process = 0;
    std::uint64_t after_messages = 0;
    std::uint32_t entry = 0;  // which entry of the scenario's `faults:` it came from
    bool operator==(const PlannedFault&) const = default;
};

// One kFault record of a run, as the reports list it: what was done to
// which plan process, and whether it was carried out.
struct FaultEvent {
    FaultStep step = FaultStep::kKill;
    std::uint32_t target = 0;       // plan process index
    std::uint32_t fault = 0;        // index in Plan::faults
    int signal = 0;                 // sent (0 for kRespawn)
    std::uint64_t t_ns = 0;         // CLOCK_MONOTONIC, when it was done
    bool done = false;              // carried out (status ok)
    int err = 0;                    // else why not (ESRCH: the target had ended)
    std::uint32_t incarnation = 0;  // kRespawn: the new incarnation's number
};

// The signal a fault's first step sends.
int fault_signal(const PlannedFault& f);

nlohmann::json faults_to_json(const std::vector<PlannedFault>& f);
// Throws HarnessError on a malformed entry or a process index out of range.
std::vector<PlannedFault> faults_from_json(const nlohmann::json& j, std::size_t processes);

}  // namespace ipct
