// The plan: a scenario expanded into concrete processes with their seeds and
// ids.  The orchestrator writes it to <run dir>/plan.json; workers and
// `ipctorture check` read it back, so it holds everything they need.
#pragma once

#include <cstdint>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ipctorture/scenario.hpp"

namespace ipct {

inline constexpr int kPlanVersion = 1;
inline constexpr std::uint32_t kNoChannel = 0xffff;

struct PlannedChannel {
    std::uint32_t index = 0;
    std::string name;
    std::string backend;
    Options options;
    std::vector<Check> checks;  // the rules the checker applies to this channel
    std::uint32_t max_message = 0;
    bool boundaries = false;  // the backend keeps message boundaries
    ChannelShape shape = ChannelShape::kMessages;
    Bounds bounds;         // tolerated loss, duplication, reordering rates
    std::string mutant;    // a planted bug (Backend::mutants()); empty = none
    nlohmann::json state;  // what backend create() returned (paths, fds)
    // A chaos proxy sits between the writers and the readers (tcp, udp).
    std::optional<ProxySpec> proxy;
    bool operator==(const PlannedChannel&) const = default;
};

struct PlannedProcess {
    std::uint32_t index = 0;  // position in the plan, also the event log's id
    std::string name;         // "producer0", "relay1", ...
    Role role = Role::kProducer;
    std::uint32_t in_channel = kNoChannel;   // consumer, relay
    std::uint32_t out_channel = kNoChannel;  // producer, relay
    std::uint32_t origin = 0;                // producers: the origin id carried in messages
    std::uint64_t seed = 0;                  // per-process seed derived from the run seed
    Workload workload;
    Options options;         // per-process backend options
    ReceiveRequest request;  // readers: how they ask for messages (the checker's order rule)
    // Signaler: the plan indices of the processes it signals and the signal.
    // A process finds the signals it must catch in the signalers' entries
    // (signals_for).
    std::vector<std::uint32_t> targets;
    int signal = 0;
    bool sigsafe = false;  // started under the signal-safety interposer
    // Injected into its calls by the syscall-fault interposer (syscall_faults.hpp).
    std::vector<SyscallFaultRule> syscall_faults;
    // Exec: the program's argv, the file it runs, variables added to its
    // environment (exec.hpp).
    std::vector<std::string> program;
    std::string program_path;
    std::vector<std::pair<std::string, std::string>> env;
    // Schedule perturbation (its stream: perturb_seed) and CPU placement:
    // the CPUs it is pinned to, ascending (empty: not pinned, kAny).
    PerturbConfig perturb;
    CpuPlacement::Kind placement = CpuPlacement::Kind::kAny;
    std::vector<int> cpus;
    bool operator==(const PlannedProcess&) const = default;
};

struct Plan {
    int version = kPlanVersion;
    std::string scenario_name;
    std::string scenario_file;
    std::string scenario_cell;  // a matrix cell's label, empty otherwise
    std::string scenario_text;
    std::uint64_t seed = 0;
    double timeout_s = 60;
    std::string run_id;
    std::string run_dir;
    std::vector<PlannedChannel> channels;
    std::vector<PlannedProcess> processes;
    // Process faults (faults.hpp), random ones already drawn from the seed.
    std::vector<PlannedFault> faults;
    bool operator==(const Plan&) const = default;
};

// Expands a scenario (validated again here; throws ScenarioError).  `seed` is
// the run seed: the scenario's, or the command line's override.  Backend
// contracts decide each channel's default checks; channel state stays null
// until the orchestrator fills it in from create().
Plan make_plan(const Scenario& s, std::uint64_t seed, const std::string& run_id,
               const std::string& run_dir);

// A well-mixed per-stream seed; distinct streams of one run seed never
// collide.  Process i of a plan gets derive_seed(plan seed, i + 1).
std::uint64_t derive_seed(std::uint64_t run_seed, std::uint64_t stream);

// The seed of process p's perturbation stream: its own seed (the run seed
// mixed with its plan index) on a stream of its own.
std::uint64_t perturb_seed(const PlannedProcess& p);

struct Contract;  // backend.hpp
// The checker rules a backend contract implies, in the order lost,
// duplicated, corrupted, fifo.  make_plan uses them when the scenario names
// no checks.
std::vector<Check> default_checks(const Contract& c);

struct ChannelSetup;  // backend.hpp
enum class Direction;
// What a backend call about channel c needs; with a process, the setup that
// process opens its side d with (its rank among the channel's readers or
// writers, its options).
ChannelSetup channel_setup(const Plan& plan, std::uint32_t c);
ChannelSetup channel_setup(const Plan& plan, std::uint32_t c, std::uint32_t process, Direction d);

// The signals the plan's signalers send to process p, each once, sorted.
std::vector<int> signals_for(const Plan& plan, std::uint32_t p);

nlohmann::json plan_to_json(const Plan& p);
Plan plan_from_json(const nlohmann::json& j);  // throws HarnessError on a bad plan

std::string event_log_path(const std::string& run_dir, std::uint32_t process);
// Incarnation k of a restarted process (faults.hpp): k = 0 is the first,
// event_log_path(dir, p); k > 0 logs to events.<p>.<k>.log.
std::string event_log_path(const std::string& run_dir, std::uint32_t process,
                           std::uint32_t incarnation);
std::string orchestrator_log_path(const std::string& run_dir);
// The event log of channel c's chaos proxy (Op::kProxyAction records).
std::string proxy_log_path(const std::string& run_dir, std::uint32_t channel);

}  // namespace ipct
