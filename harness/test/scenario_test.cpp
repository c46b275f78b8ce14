// Scenario loading and validation: every rule is shown failing at the exact
// line and column of the offending node, next to a close scenario that loads.
#include "ipctorture/scenario.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "ipctorture/errors.hpp"

namespace ipct {
namespace {

// The first scenario of a file (a matrix file's first cell).
Scenario load(const std::string& text) {
    return load_scenarios_text(text, "t.yaml").front();
}

// The base scenario, one string per line (line N is kBase[N - 1]).
const std::vector<std::string> kBase = {
    "name: t",                       // 1
    "channels:",                     // 2
    "  data: {backend: pipe}",       // 3
    "processes:",                    // 4
    "  - role: producer",            // 5
    "    channel: data",             // 6
    "    workload: {messages: 10}",  // 7
    "  - role: consumer",            // 8
    "    channel: data",             // 9
};

std::string join(const std::vector<std::string>& lines) {
    std::string t;
    for (const std::string& l : lines) t += l + "\n";
    return t;
}

// kBase with line N replaced (the replacement may hold several lines, or
// none); line 0 appends at the end.
std::string base(const std::map<int, std::string>& edits = {}) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < kBase.size(); ++i) {
        auto it = edits.find(static_cast<int>(i) + 1);
        if (it == edits.end())
            out.push_back(kBase[i]);
        else if (!it->second.empty())
            out.push_back(it->second);
    }
    if (auto it = edits.find(0); it != edits.end()) out.push_back(it->second);
    return join(out);
}

struct Case {
    std::string id;
    std::string bad;
    int line;
    int column;
    std::string message;  // a substring of the error
    std::string good;     // a close scenario that loads
};

// A topology with two channels: a -> relay -> b.  Line 12 is the relay's output.
std::string relay_chain(const std::string& output = "b", const std::string& b = "fifo") {
    return join({
        "name: chain",                               // 1
        "channels:",                                 // 2
        "  a: {backend: pipe}",                      // 3
        "  b: {backend: " + b + "}",                 // 4
        "processes:",                                // 5
        "  - role: producer",                        // 6
        "    channel: a",                            // 7
        "    workload: {messages: 10, size: 5000}",  // 8
        "  - role: relay",                           // 9
        "    name: fwd",                             // 10
        "    input: a",                              // 11
        "    output: " + output,                     // 12
        "  - role: consumer",                        // 13
        "    channel: b",                            // 14
    });
}

// a -> exec (a program, judged as a black box) -> b; line N replaced as in
// base(), line 0 appended.  Line 12 is the program, its value at column 14.
std::string exec_chain(const std::map<int, std::string>& edits = {}) {
    std::vector<std::string> lines = {
        "name: ex",                      // 1
        "channels:",                     // 2
        "  a: {backend: pipe}",          // 3
        "  b: {backend: pipe}",          // 4
        "processes:",                    // 5
        "  - role: producer",            // 6
        "    channel: a",                // 7
        "    workload: {messages: 10}",  // 8
        "  - role: exec",                // 9
        "    input: a",                  // 10
        "    output: b",                 // 11
        "    program: cat",              // 12
        "  - role: consumer",            // 13
        "    channel: b",                // 14
    };
    std::vector<std::string> out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        auto it = edits.find(static_cast<int>(i) + 1);
        if (it == edits.end())
            out.push_back(lines[i]);
        else if (!it->second.empty())
            out.push_back(it->second);
    }
    if (auto it = edits.find(0); it != edits.end()) out.push_back(it->second);
    return join(out);
}

// Three channels a -> b -> c; the third relay (line 16) goes c -> <target>.
std::string relay_cycle(const std::string& third_in, const std::string& third_out) {
    return join({
        "name: cyc",                     // 1
        "channels:",                     // 2
        "  a: {backend: pipe}",          // 3
        "  b: {backend: pipe}",          // 4
        "  c: {backend: pipe}",          // 5
        "processes:",                    // 6
        "  - role: producer",            // 7
        "    channel: a",                // 8
        "    workload: {messages: 10}",  // 9
        "  - role: relay",               // 10
        "    input: a",                  // 11
        "    output: b",                 // 12
        "  - role: relay",               // 13
        "    input: b",                  // 14
        "    output: c",                 // 15
        "  - role: relay",               // 16
        "    input: " + third_in,        // 17
        "    output: " + third_out,      // 18
        "  - role: consumer",            // 19
        "    channel: c",                // 20
    });
}

const std::string kSpare = "  data: {backend: pipe}\n  spare: {backend: fifo}";
const std::string kSpareConsumer = "  - role: consumer\n    channel: spare";
const std::string kSpareProducer =
    "  - role: producer\n    channel: spare\n    workload: {messages: 1}";

const std::vector<Case> kCases = {
    // unknown keys at every level
    {"UnknownTopKey", base({{1, "name: t\nnmae: u"}}), 2, 1,
     "unknown key 'nmae' in scenario; expected one of: name, description, seed, timeout, "
     "channels, processes, checks",
     base()},
    {"UnknownChannelKey", base({{3, "  data: {backend: pipe, opts: {}}"}}), 3, 25,
     "unknown key 'opts' in channel 'data'; expected one of: backend, options",
     base({{3, "  data: {backend: pipe, options: {}}"}})},
    {"UnknownProcessKey", base({{7, "    worklaod: {messages: 10}"}}), 7, 5,
     "unknown key 'worklaod' in process; expected one of: role, name, count, channel, input, "
     "output, workload",
     base()},
    {"UnknownWorkloadKey", base({{7, "    workload: {messages: 10, sise: 64}"}}), 7, 30,
     "unknown key 'sise' in workload", base({{7, "    workload: {messages: 10, size: 64}"}})},
    {"UnknownSizeKey", base({{7, "    workload: {messages: 10, size: {min: 64, mx: 90}}"}}), 7, 46,
     "unknown key 'mx' in size",
     base({{7, "    workload: {messages: 10, size: {min: 64, max: 90}}"}})},
    // duplicate keys
    {"DuplicateTopKey", base({{0, "name: u"}}), 10, 1, "duplicate key 'name' in scenario", base()},
    {"DuplicateChannel", base({{3, "  data: {backend: pipe}\n  data: {backend: fifo}"}}), 4, 3,
     "duplicate key 'data' in 'channels'", base()},
    {"DuplicateProcessKey", base({{6, "    channel: data\n    channel: data"}}), 7, 5,
     "duplicate key 'channel' in process", base()},
    // wrong types
    {"CountSequence", base({{5, "  - role: producer\n    count: [1]"}}), 6, 12,
     "expected an unsigned integer for 'count', got a sequence",
     base({{5, "  - role: producer\n    count: 1"}})},
    {"CountText", base({{5, "  - role: producer\n    count: abc"}}), 6, 12,
     "expected an unsigned integer for 'count', got 'abc'",
     base({{5, "  - role: producer\n    count: 2"}})},
    {"ChannelsSequence", base({{2, "channels: [data]"}, {3, ""}}), 2, 11,
     "expected a map for 'channels', got a sequence", base()},
    {"ProcessesMap", join({"name: t", "channels:", "  data: {backend: pipe}", "processes: {a: 1}"}),
     4, 12, "expected a sequence of processes for 'processes', got a map", base()},
    {"NameEmpty", base({{1, "name:"}}), 1, 1, "expected a scenario name for 'name', got nothing",
     base({{1, "name: x.y-z_1"}})},
    {"NameChars", base({{1, "name: a b"}}), 1, 7, "invalid scenario name 'a b'", base()},
    {"SeedNegative", base({{0, "seed: -1"}}), 10, 7,
     "expected an unsigned integer for 'seed', got '-1'",
     base({{0, "seed: 18446744073709551615"}})},
    {"TimeoutBad", base({{0, "timeout: 5 s"}}), 10, 10, "expected a duration for 'timeout'",
     base({{0, "timeout: 1.5m"}})},
    {"TimeoutZero", base({{0, "timeout: 0s"}}), 10, 10, "'timeout' must be greater than zero",
     base({{0, "timeout: 100ms"}})},
    {"OptionNotScalar", base({{3, "  data: {backend: pipe, options: {packet: [1]}}"}}), 3, 43,
     "expected a scalar for option 'packet', got a sequence",
     base({{3, "  data: {backend: pipe, options: {packet: true}}"}})},
    // missing keys: reported at the map that lacks them
    {"MissingName", base({{1, "description: no name"}}), 1, 1, "missing key 'name' in scenario",
     base({{1, "name: t\ndescription: named"}})},
    {"MissingProcesses", join({"name: t", "channels:", "  data: {backend: pipe}"}), 1, 1,
     "missing key 'processes' in scenario", base()},
    {"MissingBackend", base({{3, "  data: {options: {}}"}}), 3, 9,
     "missing key 'backend' in channel 'data'", base()},
    {"MissingRole", base({{5, "  - name: p"}}), 5, 5, "missing key 'role' in process",
     base({{5, "  - role: producer\n    name: p"}})},
    {"MissingChannel", base({{9, "    name: c"}}), 8, 5, "missing key 'channel' in process",
     base()},
    {"NoChannels", base({{2, "channels: {}"}, {3, ""}}), 2, 11,
     "expected at least one channel in 'channels'", base()},
    {"EmptyScenario", "", 1, 1, "empty scenario", base()},
    // backends
    {"UnknownBackend", base({{3, "  data: {backend: pipo}"}}), 3, 19,
     "unknown backend 'pipo'; expected one of: ", base({{3, "  data: {backend: fifo}"}})},
    // references and topology
    {"UnknownChannelRef", base({{9, "    channel: dta"}}), 9, 14,
     "unknown channel 'dta'; expected one of: data", base()},
    {"UnknownRole", base({{8, "  - role: sink"}}), 8, 11,
     "expected one of: producer, consumer, relay, signaler, exec for 'role', got 'sink'", base()},
    {"RelayInputIsOutput", relay_chain("a"), 12, 13,
     "a relay's output must differ from its input 'a'", relay_chain("b")},
    {"RelayWithChannel", base({{0, "  - role: relay\n    channel: data"}}), 11, 5,
     "'channel' is not for a relay; it has 'input' and 'output'", base()},
    {"ProducerWithInput", base({{6, "    input: data"}}), 6, 5,
     "'input' is only for relays and exec; a producer has 'channel'", base()},
    {"RelayCycle", relay_cycle("c", "b"), 16, 5, "relay cycle: b -> c -> b", relay_cycle("a", "c")},
    // exec processes
    {"ExecProgramNotFound", exec_chain({{12, "    program: no-such-program-ipct --flag"}}), 12, 14,
     "program 'no-such-program-ipct' not found in the scenario's directory", exec_chain()},
    {"ExecWithoutProgram", exec_chain({{12, ""}}), 9, 5, "missing key 'program' in process",
     exec_chain({{12, "    program: [cat, -u]"}})},
    {"ExecWithWorkload", exec_chain({{12, "    program: cat\n    workload: {rate: 5}"}}), 13, 5,
     "'workload' is not for an exec process", exec_chain()},
    {"ExecOnABackendNoProgramCanUse", exec_chain({{4, "  b: {backend: shm}"}}), 12, 14,
     "channel 'b' uses backend shm, which an exec program cannot use",
     exec_chain({{4, "  b: {backend: fifo}"}})},
    {"ConsumerOnAnExecInput", exec_chain({{0, "  - {role: consumer, channel: a}"}}), 15, 5,
     "which is the input of an exec process",
     exec_chain({{0, "  - {role: consumer, channel: b}"}})},
    {"ProgramOnAConsumer", exec_chain({{14, "    channel: b\n    program: cat"}}), 15, 5,
     "'program' is only for an exec process", exec_chain()},
    {"ReadNotWritten", base({{3, kSpare}, {0, kSpareConsumer}}), 4, 3,
     "channel 'spare' is read but nothing writes it",
     base({{3, kSpare}, {0, kSpareConsumer + "\n" + kSpareProducer}})},
    {"WrittenNotRead", base({{3, kSpare}, {0, kSpareProducer}}), 4, 3,
     "channel 'spare' is written but nothing reads it",
     base({{3, kSpare}, {0, kSpareProducer + "\n" + kSpareConsumer}})},
    {"UnusedChannel", base({{3, kSpare}}), 4, 3, "channel 'spare' is not used by any process",
     base({{3, kSpare}, {0, kSpareProducer + "\n" + kSpareConsumer}})},
    {"NameTaken", base({{9, "    channel: data\n    name: producer0"}}), 8, 5,
     "process name 'producer0' is already taken",
     base({{9, "    channel: data\n    name: reader"}})},
    {"NameTakenByCount",
     base({{6, "    name: w\n    count: 2\n    channel: data"},
           {9, "    channel: data\n    name: w1"}}),
     10, 5, "process name 'w1' is already taken",
     base({{6, "    name: w\n    count: 2\n    channel: data"},
           {9, "    channel: data\n    name: w"}})},
    // workloads
    {"ConsumerMessages", base({{9, "    channel: data\n    workload: {messages: 5}"}}), 10, 16,
     "'messages' is not allowed for a consumer; it may set only start_delay and rate",
     base({{9, "    channel: data\n    workload: {start_delay: 5ms, rate: 100}"}})},
    {"ConsumerSize", base({{9, "    channel: data\n    workload: {size: 64}"}}), 10, 16,
     "'size' is not allowed for a consumer", base()},
    {"ProducerBoth", base({{7, "    workload: {messages: 10, duration: 2s}"}}), 7, 15,
     "workload sets both 'messages' and 'duration'", base({{7, "    workload: {duration: 2s}"}})},
    {"ProducerNeither", base({{7, "    workload: {rate: 5}"}}), 7, 15,
     "missing key 'messages' or 'duration' in workload",
     base({{7, "    workload: {rate: 5, messages: 1}"}})},
    {"ProducerNoWorkload", base({{7, ""}}), 5, 5, "missing key 'workload' in process", base()},
    {"MessagesZero", base({{7, "    workload: {messages: 0}"}}), 7, 26,
     "'messages' must be between 1 and", base({{7, "    workload: {messages: 1}"}})},
    {"NegativeRate", base({{7, "    workload: {messages: 10, rate: -5}"}}), 7, 36,
     "expected a non-negative number for 'rate', got '-5'",
     base({{7, "    workload: {messages: 10, rate: 0}"}})},
    {"NegativeStartDelay", base({{7, "    workload: {messages: 10, start_delay: -1ms}"}}), 7, 43,
     "expected a duration for 'start_delay'",
     base({{7, "    workload: {messages: 10, start_delay: 0}"}})},
    {"CountZero", base({{5, "  - role: producer\n    count: 0"}}), 6, 12,
     "'count' must be between 1 and 256, got 0", base({{5, "  - role: producer\n    count: 256"}})},
    {"CountTooLarge", base({{5, "  - role: producer\n    count: 300"}}), 6, 12,
     "'count' must be between 1 and 256, got 300",
     base({{5, "  - role: producer\n    count: 256"}})},
    // sizes
    {"SizeBelowHeader", base({{7, "    workload: {messages: 10, size: 31}"}}), 7, 36,
     "size 31 is below the message header (32 bytes)",
     base({{7, "    workload: {messages: 10, size: 32}"}})},
    {"SizeAboveBackend", base({{7, "    workload: {messages: 10, size: 1048577}"}}), 7, 36,
     "size 1048577 exceeds the largest message of backend 'pipe' (1048576)",
     base({{7, "    workload: {messages: 10, size: 1048576}"}})},
    {"SizeAbovePacket",
     base({{3, "  data: {backend: pipe, options: {packet: true}}"},
           {7, "    workload: {messages: 10, size: 4097}"}}),
     7, 36, "size 4097 exceeds the largest message of backend 'pipe' (4096)",
     base({{3, "  data: {backend: pipe, options: {packet: true}}"},
           {7, "    workload: {messages: 10, size: 4096}"}})},
    {"SizeAboveDownstream", relay_chain("b", "pipe, options: {packet: true}"), 8, 36,
     "size 5000 exceeds the largest message of backend 'pipe' (4096) on channel 'b'",
     relay_chain("b")},
    {"UniformMinAboveMax", base({{7, "    workload: {messages: 10, size: {min: 100, max: 50}}"}}),
     7, 36, "size min 100 is greater than max 50",
     base({{7, "    workload: {messages: 10, size: {min: 50, max: 100}}"}})},
    {"UniformMinBelowHeader", base({{7, "    workload: {messages: 10, size: {min: 8, max: 50}}"}}),
     7, 42, "size 8 is below the message header",
     base({{7, "    workload: {messages: 10, size: {min: 32, max: 50}}"}})},
    {"UniformMissingMax", base({{7, "    workload: {messages: 10, size: {min: 64}}"}}), 7, 36,
     "missing key 'max' in size",
     base({{7, "    workload: {messages: 10, size: {min: 64, max: 64}}"}})},
    {"SizeMixed", base({{7, "    workload: {messages: 10, size: {min: 64, choices: [64]}}"}}), 7,
     36, "expected either {min, max} or {choices, weights}",
     base({{7, "    workload: {messages: 10, size: {choices: [64]}}"}})},
    {"SizeSequence", base({{7, "    workload: {messages: 10, size: [64]}"}}), 7, 36,
     "expected a size for 'size'", base({{7, "    workload: {messages: 10, size: 64}"}})},
    {"WeightsLength",
     base({{7, "    workload: {messages: 10, size: {choices: [64, 128], weights: [1]}}"}}), 7, 66,
     "expected 2 weights for 'weights', one per choice, got 1",
     base({{7, "    workload: {messages: 10, size: {choices: [64, 128], weights: [1, 3]}}"}})},
    {"WeightZero",
     base({{7, "    workload: {messages: 10, size: {choices: [64, 128], weights: [1, 0]}}"}}), 7,
     70, "expected a positive number for 'weights', got '0'",
     base({{7, "    workload: {messages: 10, size: {choices: [64, 128], weights: [1, 0.5]}}"}})},
    {"ChoiceAboveBackend",
     base({{7, "    workload: {messages: 10, size: {choices: [64, 2000000]}}"}}), 7, 36,
     "size 2000000 exceeds the largest message of backend 'pipe' (1048576)",
     base({{7, "    workload: {messages: 10, size: {choices: [64, 200000]}}"}})},
    // checks
    {"UnknownCheck", base({{0, "checks: [lost, fifo, ordered]"}}), 10, 22,
     "unknown check 'ordered'; expected one of: lost, duplicated, corrupted, fifo",
     base({{0, "checks: [lost, fifo]"}})},
    {"CheckTwice", base({{0, "checks: [lost, lost]"}}), 10, 16, "check 'lost' is listed twice",
     base({{0, "checks: [lost]"}})},
    {"ChecksEmpty", base({{0, "checks: []"}}), 10, 9, "expected at least one check",
     base({{0, "checks: [corrupted]"}})},
    // priorities, per-process options, bounds
    {"PriorityOnPipe", base({{7, "    workload: {messages: 10, priority: 3}"}}), 7, 40,
     "backend 'pipe' of channel 'data' has no message priorities or types",
     base({{7, "    workload: {messages: 10}"}})},
    {"PriorityAndType", base({{7, "    workload: {messages: 10, priority: 3, type: 3}"}}), 7, 43,
     "workload sets both 'priority' and 'type'", base({{7, "    workload: {messages: 10}"}})},
    {"PriorityOnConsumer", base({{9, "    channel: data\n    workload: {priority: 2}"}}), 10, 16,
     "'priority' is not allowed for a consumer",
     base({{9, "    channel: data\n    workload: {rate: 2}"}})},
    {"PriorityNotANumber", base({{7, "    workload: {messages: 10, priority: high}"}}), 7, 40,
     "expected", base({{7, "    workload: {messages: 10}"}})},
    {"ProcessOptionUnknown", base({{9, "    channel: data\n    options: {msgtyp: 2}"}}), 10, 23,
     "unknown process option 'msgtyp' for consumer; its channels take no process options",
     base({{9, "    channel: data\n    options: {}"}})},
    {"BoundAboveOne", base({{3, "  data: {backend: pipe, bounds: {max_loss: 1.5}}"}}), 3, 44,
     "expected a rate in [0, 1] for 'max_loss'",
     base({{3, "  data: {backend: pipe, bounds: {max_loss: 1}}"}})},
    {"BoundUnknown", base({{3, "  data: {backend: pipe, bounds: {max_lag: 0.1}}"}}), 3, 34,
     "unknown key 'max_lag' in 'bounds'",
     base({{3, "  data: {backend: pipe, bounds: {max_reorder: 0.1}}"}})},
    // the signal-safety interposer
    {"SigsafeNotABoolean", base({{9, "    channel: data\n    sigsafe: maybe"}}), 10, 14,
     "expected true or false for 'sigsafe', got 'maybe'",
     base({{9, "    channel: data\n    sigsafe: true"}})},
    {"SigsafeAList", base({{9, "    channel: data\n    sigsafe: [true]"}}), 10, 14,
     "expected true or false for 'sigsafe'", base({{9, "    channel: data\n    sigsafe: no"}})},
    {"HandlerMutantNeedsTheHandler",
     base({{3, "  data: {backend: signal, mutant: handler-printf}"},
           {7, "    workload: {messages: 10, size: 32}"}}),
     3, 35, "expected option receive: handler on channel 'data'",
     base({{3, "  data: {backend: signal, mutant: handler-printf, options: {receive: handler}}"},
           {7, "    workload: {messages: 10, size: 32}"}})},
    // planted bugs
    {"UnknownMutant", base({{3, "  data: {backend: pipe, mutant: torn}"}}), 3, 33,
     "unknown mutant 'torn' for backend 'pipe'; expected none: it has no mutants", base()},
    {"UnknownMutantNamesTheBackendsOwn", base({{3, "  data: {backend: sysv_msg, mutant: torn}"}}),
     3, 37,
     "unknown mutant 'torn' for backend 'sysv_msg'; expected one of: msgtyp-sign, eintr-is-eof",
     base({{3, "  data: {backend: sysv_msg, mutant: eintr-is-eof}"}})},
    {"MutantOfAnotherBackend", base({{3, "  data: {backend: unix_dgram, mutant: whole-read}"}}), 3,
     39, "unknown mutant 'whole-read' for backend 'unix_dgram'; expected none: it has no mutants",
     base({{3, "  data: {backend: unix_stream, mutant: whole-read}"}})},
    {"MutantNeedsABlockingReader",
     base({{3, "  data: {backend: sysv_msg, mutant: eintr-is-eof, options: {nonblocking: true}}"}}),
     3, 37,
     "mutant 'eintr-is-eof' is a reader that waits in msgrcv, but channel 'data' is nonblocking",
     base({{3, "  data: {backend: sysv_msg, mutant: eintr-is-eof, options: {bytes: 8192}}"}})},
    {"MutantNeedsMsgtyp", base({{3, "  data: {backend: sysv_msg, mutant: msgtyp-sign}"}}), 3, 37,
     "the consumer at line 8 reading channel 'data' has msgtyp 0; expected every reader to set "
     "msgtyp > 0 without except",
     base({{3, "  data: {backend: sysv_msg, mutant: msgtyp-sign}"},
           {9, "    channel: data\n    options: {msgtyp: 1}"}})},
    {"MutantNeedsMsgtypWithoutExcept",
     base({{3, "  data: {backend: sysv_msg, mutant: msgtyp-sign}"},
           {8, "  - role: consumer\n    name: picky"},
           {9, "    channel: data\n    options: {msgtyp: 1, except: true}"}}),
     3, 37, "the consumer 'picky' at line 8 reading channel 'data' has except: true",
     base({{3, "  data: {backend: sysv_msg, mutant: msgtyp-sign}"},
           {9, "    channel: data\n    options: {msgtyp: 3}"}})},
    {"MutantNeedsRealtimeSignal",
     base({{3, "  data: {backend: signal, mutant: standard-signal, options: {kind: standard}}"},
           {7, "    workload: {messages: 10, size: 32}"}}),
     3, 35, "channel 'data' is not declared kind: realtime; expected kind: realtime",
     base({{3, "  data: {backend: signal, mutant: standard-signal, options: {kind: realtime}}"},
           {7, "    workload: {messages: 10, size: 32}"}})},
    {"MutantNeedsOneRealtimeSignal",
     base({{3, "  data: {backend: signal, mutant: standard-signal, options: {signals: 2}}"},
           {7, "    workload: {messages: 10, size: 32}"}}),
     3, 35, "expected signals: 1",
     base({{3, "  data: {backend: signal, mutant: standard-signal, options: {signals: 1}}"},
           {7, "    workload: {messages: 10, size: 32}"}})},
    {"ExpectUnknownKind", base({{0, "expect: [lost, lots]"}}), 10, 16,
     "unknown finding kind 'lots'; expected one of: lost, duplicated",
     base({{0, "expect: [lost]"}})},
    {"ExpectTwice", base({{0, "expect: [lost, lost]"}}), 10, 16,
     "finding kind 'lost' is listed twice", base({{0, "expect: [lost, fifo]"}})},
    {"ExpectEmpty", base({{0, "expect: []"}}), 10, 9,
     "expected a non-empty sequence of finding kinds for 'expect'",
     base({{0, "expect: [corrupted]"}})},
    // matrix
    {"MatrixUnknownBackend", base({{0, "matrix: {backend: [pipe, pipes]}"}}), 10, 26,
     "unknown backend 'pipes'", base({{0, "matrix: {backend: [pipe, fifo]}"}})},
    {"MatrixUnknownDimension", base({{0, "matrix: {channels: [a]}"}}), 10, 10,
     "unknown key 'channels' in 'matrix'", base({{0, "matrix: {size: [64]}"}})},
    {"MatrixEmptyDimension", base({{0, "matrix: {size: []}"}}), 10, 16,
     "expected a non-empty sequence of values for matrix dimension 'size'",
     base({{0, "matrix: {size: [64, 128]}"}})},
    {"MatrixSameCellTwice", base({{0, "matrix: {backend: [pipe, pipe]}"}}), 10, 9,
     "two matrix cells are both labelled 'backend=pipe'",
     base({{0, "matrix: {backend: [pipe, {backend: pipe, options: {write_lock: true}}]}"}})},
    {"MatrixBadOptionForOneBackend",
     base({{0, "matrix: {backend: [pipe, {backend: fifo, options: {bogus: 1}}]}"}}), 10, 59,
     "unknown option 'bogus'",
     base({{0, "matrix: {backend: [pipe, {backend: fifo, options: {capacity: 65536}}]}"}})},
    {"MatrixSizeBelowHeader", base({{0, "matrix: {size: [64, 8]}"}}), 10, 21,
     "size 8 is below the message header", base({{0, "matrix: {size: [64, 32]}"}})},
    // YAML itself
    // yaml-cpp notices the unclosed flow map at the ':' after "processes".
    {"SyntaxError", base({{3, "  data: {backend: pipe"}}), 4, 10,
     "YAML syntax error: end of map flow not found", base()},
    {"TwoDocuments", base({{0, "---\nname: u"}}), 10, 1, "expected one YAML document, found 2",
     "---\n" + base()},
    // signalers
    {"UnknownTarget", base({{0, "  - role: signaler\n    targets: [producer0, nobody]"}}), 11, 26,
     "unknown target 'nobody'; expected a role (producer, consumer, relay) or a process name "
     "(producer0, consumer0, signaler0)",
     base({{0, "  - role: signaler\n    targets: [producer0, consumer]"}})},
    {"TargetRoleAbsent", base({{0, "  - role: signaler\n    targets: [relay]"}}), 11, 15,
     "target 'relay' names no process", base({{0, "  - role: signaler\n    targets: [consumer]"}})},
    {"TargetIsASignaler",
     base({{0, "  - role: signaler\n  - role: signaler\n    targets: signaler0"}}), 12, 14,
     "target 'signaler0' is a signaler",
     base({{0, "  - role: signaler\n  - role: signaler\n    targets: consumer0"}})},
    {"TargetsEmpty", base({{0, "  - role: signaler\n    targets: []"}}), 11, 14,
     "expected a process or role name, or a non-empty sequence of them",
     base({{0, "  - role: signaler\n    targets: consumer0"}})},
    {"BadSignalName", base({{0, "  - role: signaler\n    signal: SIGFOO"}}), 11, 13,
     "expected a signal name (one of: SIGUSR1, SIGUSR2",
     base({{0, "  - role: signaler\n    signal: SIGHUP"}})},
    {"SignalKillRefused", base({{0, "  - role: signaler\n    signal: SIGKILL"}}), 11, 13,
     "a signaler cannot send SIGKILL: it cannot be caught",
     base({{0, "  - role: signaler\n    signal: USR1"}})},
    {"SignalRealTimeRefused", base({{0, "  - role: signaler\n    signal: SIGRTMIN"}}), 11, 13,
     "cannot send real-time signals", base({{0, "  - role: signaler\n    signal: SIGWINCH"}})},
    {"SignalerWithChannel", base({{0, "  - role: signaler\n    channel: data"}}), 11, 5,
     "'channel' is not for a signaler", base({{0, "  - role: signaler"}})},
    {"SignalerMessages", base({{0, "  - role: signaler\n    workload: {messages: 5}"}}), 11, 16,
     "'messages' is not allowed for a signaler; it may set only start_delay, rate and duration",
     base({{0, "  - role: signaler\n    workload: {duration: 1s, rate: 100, start_delay: 1ms}"}})},
    {"TargetsOnAProducer", base({{6, "    channel: data\n    targets: [consumer]"}}), 7, 5,
     "'targets' is only for a signaler", base()},
    {"SignalUsedByATargetsChannel",
     base({{3, "  data: {backend: signal, options: {kind: standard, signal: SIGUSR2}}"},
           {7, "    workload: {messages: 10, size: 32}"},
           {0, "  - role: signaler\n    targets: [consumer]"}}),
     10, 5, "signal SIGUSR2 is used by channel 'data' of target 'consumer0'",
     base({{3, "  data: {backend: signal, options: {kind: standard, signal: SIGUSR2}}"},
           {7, "    workload: {messages: 10, size: 32}"},
           {0, "  - role: signaler\n    targets: [consumer]\n    signal: SIGUSR1"}})},
    // The standard-signal mutant runs on SIGUSR1, though its options declare
    // a real-time channel.
    {"SignalUsedByATargetsMutant",
     base({{3, "  data: {backend: signal, mutant: standard-signal, options: {kind: realtime}}"},
           {7, "    workload: {messages: 10, size: 32}"},
           {0, "  - role: signaler\n    targets: [consumer]\n    signal: SIGUSR1"}}),
     12, 13, "signal SIGUSR1 is used by channel 'data' of target 'consumer0'",
     base({{3, "  data: {backend: signal, mutant: standard-signal, options: {kind: realtime}}"},
           {7, "    workload: {messages: 10, size: 32}"},
           {0, "  - role: signaler\n    targets: [consumer]\n    signal: SIGUSR2"}})},
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.id;
}

class BadScenario : public testing::TestWithParam<Case> {};

TEST_P(BadScenario, FailsAtTheOffendingNode) {
    const Case& c = GetParam();
    try {
        load(c.bad);
        ADD_FAILURE() << "loaded:\n" << c.bad;
    } catch (const ScenarioError& e) {
        EXPECT_EQ(e.file(), "t.yaml");
        EXPECT_EQ(e.line(), c.line) << e.what() << "\n" << c.bad;
        EXPECT_EQ(e.column(), c.column) << e.what() << "\n" << c.bad;
        EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
            << e.what() << "\nexpected: " << c.message;
    }
}

TEST_P(BadScenario, CloseGoodScenarioLoads) {
    const Case& c = GetParam();
    try {
        load(c.good);
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what() << "\n" << c.good;
    }
}

TEST(Matrix, CellsInOrderWithTheirValuesInPlace) {
    const std::vector<Scenario> cells = load_scenarios_text(
        base({{0, "matrix: {backend: [pipe, fifo], size: [64, 1000]}"}}), "m.yaml");
    ASSERT_EQ(cells.size(), 4u);
    EXPECT_EQ(cells[0].name, "t[backend=pipe,size=64]");
    EXPECT_EQ(cells[1].cell, "backend=pipe,size=1000");
    EXPECT_EQ(cells[2].cell, "backend=fifo,size=64");
    EXPECT_EQ(cells[3].channels[0].backend, "fifo");
    EXPECT_EQ(cells[3].processes[0].workload.size.max, 1000u);
    EXPECT_EQ(cells[3].processes[0].workload.messages, 10u) << "other fields stay";
    EXPECT_EQ(select_cell(cells, "backend=fifo,size=64").channels[0].backend, "fifo");
    try {
        select_cell(cells, "backend=tcp");
        ADD_FAILURE() << "selected a cell that is not there";
    } catch (const ScenarioError& e) {
        EXPECT_NE(std::string(e.what()).find("backend=pipe,size=64, backend=pipe,size=1000"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Matrix, BackendOptionsGoToEveryChannelOfTheCell) {
    const std::vector<Scenario> cells = load_scenarios_text(
        base({{0, "matrix: {backend: [{backend: pipe, options: {write_lock: true}}, fifo]}"}}),
        "m.yaml");
    ASSERT_EQ(cells.size(), 2u);
    EXPECT_EQ(cells[0].cell, "backend=pipe{write_lock=true}");
    EXPECT_EQ(cells[0].channels[0].options.at("write_lock").text, "true");
    EXPECT_TRUE(cells[1].channels[0].options.empty()) << "a plain name drops the options";
}

TEST(Matrix, ASingleScenarioLoaderRefusesAMatrix) {
    EXPECT_THROW(load_scenario_text(base({{0, "matrix: {size: [64, 128]}"}}), "m.yaml"),
                 ScenarioError);
    EXPECT_EQ(load_scenarios_text(base(), "m.yaml").size(), 1u);
    EXPECT_EQ(load_scenarios_text(base(), "m.yaml")[0].cell, "");
}

TEST(Matrix, TooManyCellsIsAnError) {
    std::string values;
    for (int i = 0; i < 20; ++i) values += (i ? ", " : "") + std::to_string(64 + i);
    EXPECT_THROW(
        load_scenarios_text(
            base({{0, "matrix: {size: [" + values + "], messages: [" + values + "]}"}}), "m.yaml"),
        ScenarioError);
}

INSTANTIATE_TEST_SUITE_P(Rules, BadScenario, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& i) { return i.param.id; });

const char* const kFull = R"(# a comment
name: full.example
description: every field set
seed: 42
timeout: 30s
channels:
  data:
    backend: pipe
    options: {write_lock: true, packet: false}
  out:
    backend: fifo
processes:
  - role: producer
    name: writer
    count: 4
    channel: data
    workload:
      messages: 10000
      size: {min: 64, max: 4000}
      rate: 250.5
      start_delay: 100ms
  - role: producer
    channel: data
    workload:
      duration: 2s
      size: {choices: [64, 8192], weights: [3, 1]}
  - role: relay
    input: data
    output: out
  - role: consumer
    count: 2
    channel: out
    workload: {start_delay: 1.5, rate: 10}
checks: [lost, corrupted]
)";

TEST(LoadScenario, ReadsEveryField) {
    Scenario s = load(kFull);
    EXPECT_EQ(s.file, "t.yaml");
    EXPECT_EQ(s.text, kFull);
    EXPECT_EQ(s.name, "full.example");
    EXPECT_EQ(s.description, "every field set");
    EXPECT_EQ(s.seed, 42u);
    EXPECT_DOUBLE_EQ(s.timeout_s, 30);
    ASSERT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[0].name, "data");
    EXPECT_EQ(s.channels[0].backend, "pipe");
    EXPECT_EQ(s.channels[0].loc, (SourceLoc{"t.yaml", 7, 3}));
    ASSERT_EQ(s.channels[0].options.size(), 2u);
    EXPECT_EQ(s.channels[0].options.at("write_lock"), (OptionValue{"true", {"t.yaml", 9, 27}}));
    EXPECT_EQ(s.channels[0].options.at("packet"), (OptionValue{"false", {"t.yaml", 9, 41}}));
    EXPECT_EQ(s.channels[1].name, "out");
    EXPECT_EQ(s.channels[1].backend, "fifo");
    EXPECT_TRUE(s.channels[1].options.empty());
    EXPECT_EQ(s.checks, (std::vector<Check>{Check::kLost, Check::kCorrupted}));
    EXPECT_EQ(s.checks_loc, (SourceLoc{"t.yaml", 34, 9}));
}

TEST(LoadScenario, ReadsProcesses) {
    Scenario s = load(kFull);
    ASSERT_EQ(s.processes.size(), 4u);
    const ProcessSpec& w = s.processes[0];
    EXPECT_EQ(w.role, Role::kProducer);
    EXPECT_EQ(w.name, "writer");
    EXPECT_EQ(w.count, 4);
    EXPECT_EQ(w.channel, "data");
    EXPECT_EQ(w.loc, (SourceLoc{"t.yaml", 13, 5}));
    EXPECT_EQ(w.workload.messages, 10000u);
    EXPECT_EQ(w.workload.duration_s, 0);
    EXPECT_EQ(w.workload.size.kind, SizeDist::Kind::kUniform);
    EXPECT_EQ(w.workload.size.min, 64u);
    EXPECT_EQ(w.workload.size.max, 4000u);
    EXPECT_EQ(w.workload.size.loc, (SourceLoc{"t.yaml", 19, 13}));
    EXPECT_DOUBLE_EQ(w.workload.rate, 250.5);
    EXPECT_DOUBLE_EQ(w.workload.start_delay_s, 0.1);
    EXPECT_EQ(w.workload.loc, (SourceLoc{"t.yaml", 18, 7}));

    const ProcessSpec& p = s.processes[1];
    EXPECT_EQ(p.name, "");
    EXPECT_EQ(p.count, 1);
    EXPECT_EQ(p.workload.messages, 0u);
    EXPECT_DOUBLE_EQ(p.workload.duration_s, 2);
    EXPECT_EQ(p.workload.size.kind, SizeDist::Kind::kChoice);
    EXPECT_EQ(p.workload.size.choices, (std::vector<std::uint32_t>{64, 8192}));
    EXPECT_EQ(p.workload.size.weights, (std::vector<double>{3, 1}));
    EXPECT_EQ(p.workload.size.smallest(), 64u);
    EXPECT_EQ(p.workload.size.largest(), 8192u);

    const ProcessSpec& r = s.processes[2];
    EXPECT_EQ(r.role, Role::kRelay);
    EXPECT_EQ(r.input, "data");
    EXPECT_EQ(r.output, "out");
    EXPECT_EQ(r.channel, "");

    const ProcessSpec& c = s.processes[3];
    EXPECT_EQ(c.role, Role::kConsumer);
    EXPECT_FALSE(c.sigsafe);
    EXPECT_TRUE(load(base({{9, "    channel: data\n    sigsafe: true"}})).processes[1].sigsafe);
    EXPECT_EQ(c.count, 2);
    EXPECT_EQ(c.channel, "out");
    EXPECT_DOUBLE_EQ(c.workload.start_delay_s, 1.5);
    EXPECT_DOUBLE_EQ(c.workload.rate, 10);
}

TEST(LoadScenario, Defaults) {
    Scenario s = load(base());
    EXPECT_EQ(s.seed, 1u);
    EXPECT_DOUBLE_EQ(s.timeout_s, 60);
    EXPECT_TRUE(s.checks.empty());
    EXPECT_EQ(s.description, "");
    const Workload& w = s.processes[0].workload;
    EXPECT_EQ(w.size.kind, SizeDist::Kind::kFixed);
    EXPECT_EQ(w.size.min, 64u);
    EXPECT_EQ(w.size.max, 64u);
    EXPECT_EQ(w.rate, 0);
    EXPECT_EQ(w.start_delay_s, 0);
    EXPECT_EQ(s.processes[1].workload.messages, 0u);
}

TEST(LoadScenario, FixedSize) {
    Scenario s = load(base({{7, "    workload: {messages: 3, size: 100}"}}));
    const SizeDist& d = s.processes[0].workload.size;
    EXPECT_EQ(d.kind, SizeDist::Kind::kFixed);
    EXPECT_EQ(d.smallest(), 100u);
    EXPECT_EQ(d.largest(), 100u);
    EXPECT_EQ(d.loc, (SourceLoc{"t.yaml", 7, 35}));
}

TEST(LoadScenario, UnknownBackendListsKnownOnes) {
    try {
        load(base({{3, "  data: {backend: nope}"}}));
        FAIL();
    } catch (const ScenarioError& e) {
        EXPECT_NE(std::string(e.what()).find("pipe"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("fifo"), std::string::npos) << e.what();
    }
}

// The backend validates its own options; we only check it is asked and that
// the option's place reaches it.
TEST(LoadScenario, BackendRejectsAnOption) {
    try {
        load(base({{3, "  data:\n    backend: pipe\n    options: {wirte_lock: true}"}}));
        FAIL();
    } catch (const ScenarioError& e) {
        EXPECT_EQ(e.file(), "t.yaml");
        EXPECT_EQ(e.line(), 5) << e.what();
        EXPECT_NE(std::string(e.what()).find("wirte_lock"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(
        load(base({{3, "  data:\n    backend: pipe\n    options: {write_lock: true}"}})));
}

TEST(ParseDuration, Units) {
    EXPECT_EQ(parse_duration("250ms"), 0.25);
    EXPECT_EQ(parse_duration("2s"), 2.0);
    EXPECT_EQ(parse_duration("1.5m"), 90.0);
    EXPECT_EQ(parse_duration("3h"), 10800.0);
    EXPECT_EQ(parse_duration("7"), 7.0);
    EXPECT_EQ(parse_duration("0.5"), 0.5);
    EXPECT_EQ(parse_duration("0"), 0.0);
    ASSERT_TRUE(parse_duration("100us"));
    EXPECT_DOUBLE_EQ(*parse_duration("100us"), 1e-4);
    ASSERT_TRUE(parse_duration("5ns"));
    EXPECT_DOUBLE_EQ(*parse_duration("5ns"), 5e-9);
}

TEST(ParseDuration, Rejects) {
    for (const char* s : {"", "s", "ms", "-1s", "-0", "-2", "inf", "nans", "1e999h", "5 s", " 5s",
                          "5x", "1.5.2s", "abc", "2sec", "+3s", "0x10"})
        EXPECT_FALSE(parse_duration(s)) << "'" << s << "'";
}

// parse_decimal keeps std::from_chars's grammar (it stands in for it where
// libc++ has no floating-point from_chars).
TEST(ParseDecimal, AcceptsWhatFromCharsAccepts) {
    for (const char* s : {"0", "7", "0.5", ".5", "5.", "-2.25", "1e-3", "1E3", "inf", "-inf"}) {
        double expected = 0;
        const auto [end, ec] = std::from_chars(s, s + std::strlen(s), expected);
        ASSERT_TRUE(ec == std::errc() && *end == 0) << s;
        const std::optional<double> v = parse_decimal(s);
        ASSERT_TRUE(v) << "'" << s << "'";
        EXPECT_EQ(*v, expected) << s;
    }
    ASSERT_TRUE(parse_decimal("nan"));
    EXPECT_TRUE(std::isnan(*parse_decimal("nan")));
}

TEST(ParseDecimal, RejectsWhatFromCharsRejects) {
    for (const char* s : {"", " 1", "1 ", "+1", "0x10", "0X1p3", "1,5", "1.5.2", "e3", "abc", "-",
                          "1e999", "5s", "\t2"})
        EXPECT_FALSE(parse_decimal(s)) << "'" << s << "'";
}

TEST(Names, RoundTrip) {
    for (Check c : {Check::kLost, Check::kDuplicated, Check::kCorrupted, Check::kFifo})
        EXPECT_EQ(parse_check(check_name(c)), c);
    EXPECT_FALSE(parse_check("Lost"));
    for (Role r : {Role::kProducer, Role::kConsumer, Role::kRelay})
        EXPECT_EQ(parse_role(role_name(r)), r);
    EXPECT_STREQ(role_name(Role::kRelay), "relay");
    EXPECT_STREQ(check_name(Check::kFifo), "fifo");
}

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ipct-scen-XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& rel, const std::string& text) const {
        std::filesystem::path p = std::filesystem::path(path_) / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

TEST(ScenarioFiles, WalksADirectorySorted) {
    TempDir d;
    ASSERT_FALSE(d.path().empty());
    std::string b = d.file("b.yaml", base());
    std::string a = d.file("a.yml", base());
    std::string deep = d.file("sub/deeper/c.yaml", base());
    d.file("notes.txt", "x");
    d.file("sub/readme.md", "x");
    d.file("yaml", "x");
    EXPECT_EQ(scenario_files(d.path()), (std::vector<std::string>{a, b, deep}));
    EXPECT_EQ(scenario_files(b), (std::vector<std::string>{b}));
    EXPECT_EQ(scenario_files(d.path() + "/notes.txt"),
              (std::vector<std::string>{d.path() + "/notes.txt"}));
}

TEST(ScenarioFiles, MissingPath) {
    TempDir d;
    try {
        scenario_files(d.path() + "/nope");
        FAIL();
    } catch (const ScenarioError& e) {
        EXPECT_EQ(e.file(), d.path() + "/nope");
        EXPECT_EQ(e.line(), 0);
        EXPECT_EQ(e.column(), 0);
        EXPECT_NE(std::string(e.what()).find("no such file or directory"), std::string::npos);
    }
}

TEST(LoadScenarioFile, ReadsAFile) {
    TempDir d;
    std::string path = d.file("s.yaml", base());
    Scenario s = load_scenario(path);
    EXPECT_EQ(s.file, path);
    EXPECT_EQ(s.text, base());
    EXPECT_EQ(s.channels[0].loc.file, path);
    try {
        load_scenario(d.file("bad.yaml", base({{9, "    channel: nowhere"}})));
        FAIL();
    } catch (const ScenarioError& e) {
        EXPECT_EQ(e.file(), d.path() + "/bad.yaml");
        EXPECT_EQ(e.line(), 9);
    }
}

TEST(LoadScenarioFile, UnreadableIsLineZero) {
    TempDir d;
    for (const std::string& p : {d.path() + "/missing.yaml", d.path()}) {
        try {
            load_scenario(p);
            ADD_FAILURE() << p;
        } catch (const ScenarioError& e) {
            EXPECT_EQ(e.file(), p);
            EXPECT_EQ(e.line(), 0);
            EXPECT_EQ(e.column(), 0);
        }
    }
}

TEST(ValidateScenario, EditedModelIsRechecked) {
    Scenario s = load(base());
    EXPECT_NO_THROW(validate_scenario(s));
    Scenario noreader = s;
    noreader.processes.pop_back();
    EXPECT_THROW(validate_scenario(noreader), ScenarioError);
    Scenario dangling = s;
    dangling.processes[1].channel = "gone";
    EXPECT_THROW(validate_scenario(dangling), ScenarioError);
    Scenario big = s;
    big.processes[0].workload.size.max = big.processes[0].workload.size.min = 2u << 20;
    EXPECT_THROW(validate_scenario(big), ScenarioError);
}

TEST(ProcessNames, ExpandsPerRole) {
    Scenario s = load(join({
        "name: n",
        "channels:",
        "  a: {backend: pipe}",
        "processes:",
        "  - {role: producer, count: 2, channel: a, workload: {messages: 1}}",
        "  - {role: producer, name: w, count: 3, channel: a, workload: {messages: 1}}",
        "  - {role: producer, name: solo, channel: a, workload: {messages: 1}}",
        "  - {role: producer, channel: a, workload: {messages: 1}}",
        "  - {role: consumer, channel: a}",
    }));
    EXPECT_EQ(process_names(s), (std::vector<std::string>{"producer0", "producer1", "w0", "w1",
                                                          "w2", "solo", "producer2", "consumer0"}));
}

TEST(SignalerTargets, RolesNamesAndCountedNames) {
    Scenario s = load(join({
        "name: n",
        "channels:",
        "  a: {backend: pipe}",
        "processes:",
        "  - {role: producer, name: w, count: 2, channel: a, workload: {messages: 1}}",
        "  - {role: signaler, targets: [w, consumer], workload: {rate: 10}}",
        "  - {role: consumer, channel: a}",
        "  - {role: signaler, name: hup, signal: SIGHUP}",
        "  - {role: signaler, targets: [w1, w1]}",
    }));
    EXPECT_EQ(process_names(s),
              (std::vector<std::string>{"w0", "w1", "signaler0", "consumer0", "hup", "signaler1"}));
    EXPECT_EQ(signaler_targets(s, s.processes[1]), (std::vector<std::uint32_t>{0, 1, 3}));
    EXPECT_EQ(signaler_targets(s, s.processes[3]), (std::vector<std::uint32_t>{0, 1, 3}))
        << "default: every process that is not a signaler";
    EXPECT_EQ(signaler_targets(s, s.processes[4]), (std::vector<std::uint32_t>{1}));
    EXPECT_EQ(s.processes[1].signal, SIGUSR2);
    EXPECT_EQ(s.processes[3].signal, SIGHUP);
    EXPECT_DOUBLE_EQ(s.processes[1].workload.rate, 10);
}

TEST(SignalerSignals, NamesRoundTrip) {
    for (const char* n : {"SIGUSR1", "SIGUSR2", "SIGHUP", "SIGALRM", "SIGWINCH"}) {
        std::optional<int> sig = signaler_signal(n, nullptr);
        ASSERT_TRUE(sig) << n;
        EXPECT_STREQ(signal_name(*sig), n);
        EXPECT_EQ(signaler_signal(std::string(n).substr(3), nullptr), sig);
    }
    for (const char* n : {"SIGKILL", "SIGSTOP", "SIGCONT", "SIGPIPE", "SIGCHLD", "SIGSEGV",
                          "SIGTERM", "SIGINT", "SIGABRT", "SIGRTMIN", "SIGRTMIN+1", "12", ""}) {
        std::string why;
        EXPECT_FALSE(signaler_signal(n, &why)) << n;
        EXPECT_NE(why.find(std::string("got '") + n + "'"), std::string::npos) << why;
    }
}

// The commented example in scenarios/README.md must stay a valid scenario.
TEST(Readme, ExampleLoads) {
    std::ifstream in(std::string(IPCT_SOURCE_DIR) + "/scenarios/README.md");
    std::stringstream all;
    all << in.rdbuf();
    const std::string md = all.str();
    const std::size_t start = md.find("```yaml\n");
    ASSERT_NE(start, std::string::npos);
    const std::size_t end = md.find("```", start + 8);
    ASSERT_NE(end, std::string::npos);
    Scenario s = load(md.substr(start + 8, end - start - 8));
    EXPECT_EQ(s.name, "pipe-fan-in");
    EXPECT_EQ(process_names(s),
              (std::vector<std::string>{"writer0", "writer1", "writer2", "writer3", "consumer0",
                                        "consumer1", "relay0", "consumer2"}));
}

}  // namespace
}  // namespace ipct

// Found by scenario_parser_fuzzer: a byte that is not UTF-8 used to pass the
// loader and make writing plan.json throw (a harness error, exit 3).
TEST(ScenarioUtf8, InvalidUtf8IsAScenarioErrorAtItsPlace) {
    const std::string bad = "name: x\ndescription: caf\xe9 au lait\n";
    try {
        ipct::load_scenario_text(bad, "u.yaml");
        FAIL() << "accepted invalid UTF-8";
    } catch (const ipct::ScenarioError& e) {
        EXPECT_EQ(e.line(), 2);
        EXPECT_EQ(e.column(), 17);
        EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos);
    }
}

TEST(ScenarioUtf8, ValidUtf8PassesTheCheck) {
    // The same text in UTF-8 fails only later, for its missing keys.
    const std::string good = "name: x\ndescription: caf\xc3\xa9 \xf0\x9f\x98\x80\n";
    try {
        ipct::load_scenario_text(good, "u.yaml");
    } catch (const ipct::ScenarioError& e) {
        EXPECT_EQ(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
    }
}

TEST(ScenarioLimits, MoreThan1024ProcessesInAllIsRejected) {
    std::string text =
        "name: big\nchannels:\n  data: {backend: pipe}\nprocesses:\n"
        "  - {role: consumer, channel: data, count: 256}\n";
    for (int i = 0; i < 3; ++i)
        text +=
            "  - {role: producer, channel: data, count: 256, workload: {messages: 1, size: 64}}\n";
    EXPECT_NO_THROW(ipct::load_scenario_text(text, "big.yaml"));  // exactly 1024
    text += "  - {role: producer, channel: data, workload: {messages: 1, size: 64}}\n";
    try {
        ipct::load_scenario_text(text, "big.yaml");
        FAIL() << "accepted 1025 processes";
    } catch (const ipct::ScenarioError& e) {
        EXPECT_EQ(e.line(), 9);
        EXPECT_NE(std::string(e.what()).find("1024"), std::string::npos);
    }
}

// Found by scenario_parser_fuzzer: yaml-cpp's LoadAll never returns on a lone
// "," and allocates until memory runs out.  The loader must answer at once.
TEST(ScenarioYaml, StrayCommaIsAScenarioErrorNotAHang) {
    for (const char* text : {",", ",,", "name: x\n,\n", "--- a\n--- b\n"}) {
        EXPECT_THROW(ipct::load_scenario_text(text, "c.yaml"), ipct::ScenarioError) << text;
    }
}
