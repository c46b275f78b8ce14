// The scenario model: what a scenario file says, after loading and
// validation.  Every node keeps where it came from so that later checks
// (backend options, sizes against a backend's maximum) can still name
// file:line:column.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipctorture/faults.hpp"
#include "ipctorture/perturb.hpp"

namespace ipct {

struct SourceLoc {
    std::string file;
    int line = 0;    // 1-based; 0 = unknown
    int column = 0;  // 1-based
    bool operator==(const SourceLoc&) const = default;
};

// A backend option as written: the scalar text and where it stands.
// Backends parse it with the helpers in options.hpp.
struct OptionValue {
    std::string text;
    SourceLoc loc;
    bool operator==(const OptionValue&) const = default;
};
using Options = std::map<std::string, OptionValue>;

struct SizeDist {
    enum class Kind { kFixed, kUniform, kChoice };
    Kind kind = Kind::kFixed;
    std::uint32_t min = 64;  // kFixed: min == max; kChoice: the extremes of choices
    std::uint32_t max = 64;
    std::vector<std::uint32_t> choices;  // kChoice
    std::vector<double> weights;         // kChoice, same length, > 0
    SourceLoc loc;
    std::uint32_t largest() const;
    std::uint32_t smallest() const;
    bool operator==(const SizeDist&) const = default;
};

struct Workload {
    std::uint64_t messages = 0;  // producers: how many to send (0 with duration)
    double duration_s = 0;       // producers: send for this long instead
    SizeDist size;
    // Producers: the priority (posix_mq) or type (sysv_msg) of each message,
    // drawn like a size; unset = the backend's lowest.
    std::optional<SizeDist> priority;
    double rate = 0;           // messages per second; 0 = as fast as possible
    double start_delay_s = 0;  // wait this long after the start barrier
    SourceLoc loc;
    bool operator==(const Workload&) const = default;
};

// A signaler uses no channel: it sends signals to other workers while they
// run, so that every backend's blocking calls meet EINTR.  An exec process
// runs a user's program as a relay between its input and output channels
// (exec.hpp); it logs nothing, so the checker judges it as a black box.
enum class Role { kProducer, kConsumer, kRelay, kSignaler, kExec };
const char* role_name(Role r);
std::optional<Role> parse_role(const std::string& s);  // "producer" -> kProducer

// The signals a signaler may send, by name ("SIGUSR2" or "USR2"): those a
// worker can catch without disturbing the harness.  nullopt for any other
// name, with the reason in *why.
std::optional<int> signaler_signal(const std::string& name, std::string* why);
const char* signal_name(int sig);  // "SIGUSR2"; "?" for a signal not in that set

// Tolerances for a channel whose contract allows loss, duplication or
// reordering (udp): measured rates above them are findings.  Fractions of
// the messages sent, in [0, 1].
struct Bounds {
    std::optional<double> max_loss;
    std::optional<double> max_duplicate;
    std::optional<double> max_reorder;
    SourceLoc loc;
    bool operator==(const Bounds&) const = default;
};

// What a channel carries (see Contract::shape in backend.hpp).
enum class ChannelShape : std::uint8_t { kMessages, kCounter, kSnapshot };
const char* shape_name(ChannelShape s);
std::optional<ChannelShape> parse_shape(const std::string& s);
// The origin of the value message a counter channel's consumer receives.
inline constexpr std::uint32_t kCounterOrigin = 0xfffffffe;

// How a reader asks for messages, as far as ordering goes (from the backend
// and the reader's options).  The checker's queue-order rule: a receive
// returned m although an eligible n that ranks before m was in the queue for
// the whole receive.
struct ReceiveRequest {
    enum class Order : std::uint8_t {
        kNone,          // no queue-order rule (byte streams, sockets)
        kQueue,         // the first eligible message in queue order (sysv msgtyp >= 0)
        kHighestFirst,  // highest priority first, queue order within one (posix_mq)
        kLowestFirst,   // lowest type first, queue order within one (sysv msgtyp < 0)
    };
    enum class Match : std::uint8_t { kAny, kEqual, kNotEqual, kAtMost };
    Order order = Order::kNone;
    Match match = Match::kAny;
    std::uint32_t type = 0;  // kEqual, kNotEqual, kAtMost
    // Each reader has a queue of its own (signals go to one process): the
    // rule then compares only messages that reached the same reader.
    bool per_reader = false;
    bool admits(std::uint32_t t) const {
        switch (match) {
            case Match::kAny:
                return true;
            case Match::kEqual:
                return t == type;
            case Match::kNotEqual:
                return t != type;
            case Match::kAtMost:
                return t <= type;
        }
        return true;
    }
    bool operator==(const ReceiveRequest&) const = default;
};

// Where a process may run (`cpus:`): anywhere (not pinned), on one CPU
// shared by every process placed `same`, round-robin over the allowed CPUs
// (`spread`, in plan order), or on a list of CPUs.
struct CpuPlacement {
    enum class Kind : std::uint8_t { kAny, kSame, kSpread, kList };
    Kind kind = Kind::kAny;
    std::vector<int> cpus;  // kList: ascending, each once
    SourceLoc loc;
    bool operator==(const CpuPlacement&) const = default;
};
const char* placement_name(CpuPlacement::Kind k);

// A chaos proxy on a tcp or udp channel (`proxy:`): a relay in a process of
// its own between the channel's writers and its readers, acting on the
// traffic.  Every decision is drawn from the run seed and the message's
// (origin, seq), so one seed makes the same decisions (socket_proxy.hpp).
struct ProxySpec {
    double drop = 0;       // udp: a datagram is not forwarded
    double duplicate = 0;  // udp: a datagram is forwarded twice
    double reorder = 0;    // udp: a datagram is held until the next one has gone
    // udp: a datagram waits, the others pass; tcp: a frame and what follows
    // it on its connection wait.  The wait is uniform in [0, max_delay_s].
    double delay = 0;
    double max_delay_s = 0.001;
    std::uint32_t max_segment = 0;  // tcp: frames forwarded in writes of at most this; 0 = whole
    double cut = 0;                 // tcp: a connection is cut inside this frame
    std::uint64_t cut_after = 0;    // tcp: every connection is cut after this many bytes; 0 = never
    SourceLoc loc;
    bool operator==(const ProxySpec&) const = default;
};

struct ChannelSpec {
    std::string name;
    std::string backend;
    Options options;
    Bounds bounds;
    // A planted bug: the name of one of the backend's mutants (deliberately
    // wrong IPC code, Backend::mutants()); empty = the correct code.
    std::string mutant;
    SourceLoc mutant_loc;
    SourceLoc loc;
    std::optional<ProxySpec> proxy;  // a chaos proxy between writers and readers (tcp, udp)
    bool operator==(const ChannelSpec&) const = default;
};

// One rule of `syscall_faults:` (syscall_faults.hpp): the syscall-fault
// interposer makes `error` happen in the named calls (empty: every call the
// error applies to), each eligible call with a probability, or at the nth
// eligible call only.
struct SyscallFaultRule {
    enum class Error : std::uint8_t { kEintr, kEagain, kEnobufs, kShort };
    Error error = Error::kEintr;
    std::vector<std::string> calls;
    double probability = 0;  // 0 with nth
    std::uint64_t nth = 0;   // 0 with probability
    SourceLoc loc;
    bool operator==(const SyscallFaultRule&) const = default;
};

struct ProcessSpec {
    Role role = Role::kProducer;
    std::string name;  // optional; default "<role><k>"
    int count = 1;
    std::string channel;  // producer / consumer
    std::string input;    // relay, exec
    std::string output;   // relay, exec
    // Exec: the program's argv as written, the file its first word resolved
    // to when the scenario was loaded (exec.hpp), and the variables added to
    // its environment, in the order written.
    std::vector<std::string> program;
    std::string program_path;
    SourceLoc program_loc;
    std::vector<std::pair<std::string, std::string>> env;
    Workload workload;
    Options options;  // per-process backend options (sysv msgtyp, ...)
    // Signaler: the processes it signals, as written (process names, names
    // of a counted process, or role names), empty = every process that is
    // not a signaler; and the signal it sends.
    std::vector<OptionValue> targets;
    int signal = 0;
    SourceLoc signal_loc;
    // Run under the signal-safety interposer (LD_PRELOAD; sigsafe.hpp).
    bool sigsafe = false;
    // Syscall faults injected into its calls (LD_PRELOAD); unset: the
    // scenario's top-level `syscall_faults:`; empty: none.
    std::optional<std::vector<SyscallFaultRule>> syscall_faults;
    // Unset: the scenario's (top-level) setting.
    std::optional<PerturbConfig> perturb;
    std::optional<CpuPlacement> cpus;
    SourceLoc loc;
    bool operator==(const ProcessSpec&) const = default;
};

// The checker rules a scenario may ask for.  Default: the backend contract's.
enum class Check {
    kLost,
    kDuplicated,
    kCorrupted,
    kFifo,
    kPriority,
    kSelective,
    kCounter,       // a shared counter's final value against the increments made
    kLastDelivery,  // coalescing signals: a delivery after each sender's last send
};
const char* check_name(Check c);
std::optional<Check> parse_check(const std::string& s);

// One entry of `faults:` as written (faults.hpp).  Exactly one trigger:
// `at`, `after` (after_process, after_messages) or `random` (rate per second
// over [from_s, until_s) after the start barrier).  Targets are resolved and
// random times drawn at plan time (make_plan).
struct FaultSpec {
    enum class Trigger : std::uint8_t { kAt, kAfter, kRandom };
    FaultAction action = FaultAction::kKill;
    OptionValue target;
    int signal = 0;      // kSignal
    double pause_s = 0;  // kStop
    double delay_s = 0;  // kRestart
    Trigger trigger = Trigger::kAt;
    double at_s = 0;
    OptionValue after_process;
    std::uint64_t after_messages = 0;
    double rate = 0;
    double from_s = 0;
    double until_s = 0;
    SourceLoc loc;
    bool operator==(const FaultSpec&) const = default;
};

struct Scenario {
    std::string file;  // path it was loaded from
    std::string name;  // a matrix cell's name ends in its label: "fan-in[backend=tcp]"
    std::string cell;  // a matrix cell's label ("backend=tcp,size=64"); empty otherwise
    std::string description;
    std::uint64_t seed = 1;
    double timeout_s = 60;
    std::vector<ChannelSpec> channels;
    std::vector<ProcessSpec> processes;
    std::vector<Check> checks;  // empty = each channel's contract
    SourceLoc checks_loc;
    // A planted bug's scenario names the finding kinds it must produce
    // ("lost", "selective", ...).  It does not change a run's verdict; the
    // tests and the detection benchmark read it.
    std::vector<std::string> expect;
    SourceLoc expect_loc;
    // Unset: PerturbConfig::builtin_default(); not pinned.
    std::optional<PerturbConfig> perturb;
    std::optional<CpuPlacement> cpus;
    std::vector<FaultSpec> faults;  // process faults (faults.hpp)
    // Syscall faults for every process that does not set its own.
    std::vector<SyscallFaultRule> syscall_faults;
    std::string text;  // the file's bytes, kept for reports and replay
    bool operator==(const Scenario&) const = default;
};

// Loads and validates a scenario file.  Throws ScenarioError naming
// file:line:column and what was expected.  A file with a `matrix:` is many
// scenarios (its cells): load_scenarios() returns them all, in the order of
// the matrix's values (the first dimension varies slowest); load_scenario()
// refuses such a file.
Scenario load_scenario(const std::string& path);
Scenario load_scenario_text(const std::string& text, const std::string& name_for_errors);
std::vector<Scenario> load_scenarios(const std::string& path);
std::vector<Scenario> load_scenarios_text(const std::string& text,
                                          const std::string& name_for_errors);
// The cell whose label is `cell` (as printed in reports), or throws
// ScenarioError listing the labels there are.
Scenario select_cell(const std::vector<Scenario>& cells, const std::string& cell);

// The keys the loader accepts in each kind of map, per kind: "scenario",
// "channel", "bounds", "process", "workload", "distribution" (a size or
// priority written as a map), "matrix", "matrix_backend" (a matrix backend
// value written as a map) and "perturb" (the map form).  The loader checks
// against these very lists, so they cannot drift from it; the scenario
// schema's test compares them with the schema (scenarios/schema/).  Channel
// and process options are each backend's own (Backend::validate).
struct ScenarioKeys {
    std::string kind;
    std::vector<std::string> keys;
};
const std::vector<ScenarioKeys>& scenario_known_keys();
// The keys of one kind; throws std::out_of_range for a kind not listed.
const std::vector<std::string>& scenario_keys(std::string_view kind);

// Scenario files under a path: the file itself, or every *.yaml / *.yml
// below a directory, sorted.
std::vector<std::string> scenario_files(const std::string& path);

// Parses "250ms", "2s", "1.5m", "100us", "3h" (also "ns", "h") or a plain
// number of seconds.  nullopt for anything else, a negative or a non-finite
// value.
std::optional<double> parse_duration(const std::string& s);

// The whole of s as a decimal floating-point number ("0.5", "1e-3", "inf"),
// as std::from_chars reads one (no sign '+', no space, no hex); nullopt for
// anything else.  (libc++ before LLVM 20 has no floating-point from_chars.)
std::optional<double> parse_decimal(std::string_view s);

// Checks a scenario model as a whole: references, topology (every channel
// read and written, no relay cycle), sizes against each backend's contract,
// backend options, process names.  load_scenario() calls it; call it again
// after editing a Scenario (the shrinker does).  Throws ScenarioError at the
// element's SourceLoc.
void validate_scenario(const Scenario& s);

// The name of every expanded process, in plan order (what make_plan uses).
// Unnamed processes get "<role><k>" numbered per role across the scenario; a
// named one with count > 1 gets "<name>0".."<name><count-1>".  Throws
// ScenarioError at the process whose name is already taken.
std::vector<std::string> process_names(const Scenario& s);

// The plan indices of the processes a fault's target names (a role, a
// process name, a counted process's name), sorted.  Throws ScenarioError at
// the target that names no process or names a signaler.
std::vector<std::uint32_t> fault_targets(const Scenario& s, const FaultSpec& f);

// The plan indices of the processes signaler p (an element of s.processes)
// signals, sorted.  Throws ScenarioError at a target that names no process
// or names a signaler.
std::vector<std::uint32_t> signaler_targets(const Scenario& s, const ProcessSpec& p);

}  // namespace ipct
