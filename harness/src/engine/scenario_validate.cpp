// Whole-scenario checks on the model: what no single YAML node can show.
//
// Contract: validate_scenario() accepts exactly the scenarios make_plan() can
// expand and the orchestrator can run: every reference resolves, every
// channel has a writer and a reader, relays form no cycle (a message must
// leave the topology eventually, or "lost" means nothing), and every message
// a producer sends fits every channel it can travel through.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "ipctorture/backend.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/scenario.hpp"
#include "scenario_faults.hpp"
#include "scenario_syscall_faults.hpp"

namespace ipct {
namespace {

constexpr int kMaxCount = 256;

[[noreturn]] void fail_at(const SourceLoc& l, const std::string& msg) {
    throw ScenarioError(l.file, l.line, l.column, msg);
}

std::optional<std::size_t> channel_index(const Scenario& s, const std::string& name) {
    for (std::size_t i = 0; i < s.channels.size(); ++i)
        if (s.channels[i].name == name) return i;
    return std::nullopt;
}

std::size_t need_channel(const Scenario& s, const ProcessSpec& p, const std::string& name) {
    if (auto i = channel_index(s, name)) return *i;
    fail_at(p.loc, "unknown channel '" + name + "' in " + role_name(p.role));
}

SourceLoc scenario_loc(const Scenario& s) {
    return {s.file, 1, 1};
}

void check_channels(const Scenario& s) {
    if (s.channels.empty()) fail_at(scenario_loc(s), "expected at least one channel");
    std::set<std::string> seen;
    for (const ChannelSpec& c : s.channels) {
        if (!seen.insert(c.name).second) fail_at(c.loc, "duplicate channel '" + c.name + "'");
        Backend* b = find_backend(c.backend);
        if (!b) fail_at(c.loc, "unknown backend '" + c.backend + "' in channel '" + c.name + "'");
        b->validate(c.options);
    }
}

// Each process's inputs and outputs, as channel indices.
struct Edges {
    std::optional<std::size_t> in, out;
};

Edges process_edges(const Scenario& s, const ProcessSpec& p) {
    switch (p.role) {
        case Role::kProducer: {
            // A producer with an input is a pinger (`ipctorture bench`): it
            // reads the replies to its messages there.
            if (p.input.empty()) return {std::nullopt, need_channel(s, p, p.channel)};
            Edges e{need_channel(s, p, p.input), need_channel(s, p, p.channel)};
            if (e.in == e.out)
                fail_at(p.loc, "a pinger's input must differ from its channel '" + p.input + "'");
            return e;
        }
        case Role::kConsumer:
            return {need_channel(s, p, p.channel), std::nullopt};
        case Role::kRelay:
        case Role::kExec:
            break;
        case Role::kSignaler:
            return {};
    }
    Edges e{need_channel(s, p, p.input), need_channel(s, p, p.output)};
    if (e.in == e.out)
        fail_at(p.loc, "a relay's output must differ from its input '" + p.input + "'");
    return e;
}

void check_processes(const Scenario& s) {
    if (s.processes.empty()) fail_at(scenario_loc(s), "expected at least one process");
    for (const ProcessSpec& p : s.processes) {
        if (p.count < 1 || p.count > kMaxCount)
            fail_at(p.loc, "'count' must be between 1 and " + std::to_string(kMaxCount) + ", got " +
                               std::to_string(p.count));
        process_edges(s, p);
        const Workload& w = p.workload;
        if (p.role == Role::kProducer && (w.messages == 0) == (w.duration_s == 0))
            fail_at(w.loc, "a producer needs exactly one of 'messages' and 'duration'");
        if (p.role == Role::kSignaler && w.messages != 0)
            fail_at(w.loc, "a signaler may set only start_delay, rate and duration");
        if (p.role != Role::kProducer && p.role != Role::kSignaler &&
            (w.messages != 0 || w.duration_s != 0))
            fail_at(w.loc,
                    std::string("a ") + role_name(p.role) + " may set only start_delay and rate");
    }
}

// Every channel needs a writer (producer or relay output) and a reader
// (consumer or relay input); an unused channel is a mistake too.
void check_readers_writers(const Scenario& s) {
    std::vector<int> readers(s.channels.size()), writers(s.channels.size());
    for (const ProcessSpec& p : s.processes) {
        Edges e = process_edges(s, p);
        if (e.in) readers[*e.in] += p.count;
        if (e.out) writers[*e.out] += p.count;
    }
    for (std::size_t i = 0; i < s.channels.size(); ++i) {
        const ChannelSpec& c = s.channels[i];
        if (!readers[i] && !writers[i])
            fail_at(c.loc, "channel '" + c.name + "' is not used by any process");
        if (!writers[i])
            fail_at(c.loc, "channel '" + c.name +
                               "' is read but nothing writes it; expected a "
                               "producer with channel: " +
                               c.name + " or a relay with output: " + c.name);
        if (!readers[i])
            fail_at(c.loc, "channel '" + c.name +
                               "' is written but nothing reads it; expected "
                               "a consumer with channel: " +
                               c.name + " or a relay with input: " + c.name);
        find_backend(c.backend)->validate_topology(c, static_cast<std::uint32_t>(readers[i]),
                                                   static_cast<std::uint32_t>(writers[i]));
    }
}

// An exec process's program logs nothing, so the checker judges what goes
// into its input against what comes out of its output (a black box).  That
// is only sound when nothing else takes from the input or puts into the
// output: every reader of the input is an exec process with the same
// output, and every writer of the output one with the same input.  Each
// backend must be one a program outside the harness can use
// (Backend::external).
void check_exec(const Scenario& s) {
    for (const ProcessSpec& p : s.processes) {
        if (p.role != Role::kExec) continue;
        for (const std::string& name : {p.input, p.output}) {
            const ChannelSpec& c = s.channels[need_channel(s, p, name)];
            if (find_backend(c.backend)->external()) continue;
            std::string list;
            for (std::string_view b : backend_names())
                if (find_backend(b)->external())
                    list += (list.empty() ? "" : ", ") + std::string(b);
            const std::string_view why = find_backend(c.backend)->external_refusal();
            fail_at(p.program_loc,
                    "channel '" + c.name + "' uses backend " + c.backend +
                        ", which an exec program cannot use" +
                        (why.empty() ? std::string() : " (" + std::string(why) + ")") +
                        "; expected one of: " + list);
        }
        // A cut connection is one a harness writer makes again, sending the
        // cut message whole once more: a protocol of ours, not a program's.
        const ChannelSpec& out = s.channels[need_channel(s, p, p.output)];
        if (out.proxy && (out.proxy->cut > 0 || out.proxy->cut_after > 0))
            fail_at(out.proxy->loc,
                    "channel '" + out.name +
                        "' is the output of an exec process, and its proxy cuts connections "
                        "('cut', 'cut_after'): a writer the "
                        "proxy cuts must connect again and send the cut message again, which "
                        "a program is not told to do; remove them");
        for (const ProcessSpec& q : s.processes) {
            const bool reads_input =
                q.role == Role::kConsumer ? q.channel == p.input : q.input == p.input;
            const bool writes_output =
                q.role == Role::kProducer ? q.channel == p.output : q.output == p.output;
            const bool same = q.role == Role::kExec && q.input == p.input && q.output == p.output;
            if ((reads_input || writes_output) && !same)
                fail_at(q.loc, std::string("this ") + role_name(q.role) + " uses channel '" +
                                   (reads_input ? p.input : p.output) + "', which is the " +
                                   (reads_input ? "input" : "output") +
                                   " of an exec process; the program is judged as a black box, "
                                   "so only exec processes with the same input and output may "
                                   "read its input or write its output");
        }
    }
}

// Relay edges between channels: from input to (output, relay process).
using Graph = std::vector<std::vector<std::pair<std::size_t, const ProcessSpec*>>>;

Graph relay_graph(const Scenario& s) {
    Graph g(s.channels.size());
    for (const ProcessSpec& p : s.processes) {
        if (p.role != Role::kRelay && p.role != Role::kExec) continue;
        Edges e = process_edges(s, p);
        g[*e.in].push_back({*e.out, &p});
    }
    return g;
}

// Depth-first search; colour 0 = unseen, 1 = on the current path, 2 = done.
void find_cycle(const Scenario& s, const Graph& g, std::size_t c, std::vector<int>& colour,
                std::vector<std::size_t>& path) {
    colour[c] = 1;
    path.push_back(c);
    for (const auto& [next, relay] : g[c]) {
        if (colour[next] == 1) {
            std::string cycle;
            auto from = std::find(path.begin(), path.end(), next);
            for (auto it = from; it != path.end(); ++it) cycle += s.channels[*it].name + " -> ";
            fail_at(relay->loc, "relay cycle: " + cycle + s.channels[next].name +
                                    "; messages would circulate forever");
        }
        if (colour[next] == 0) find_cycle(s, g, next, colour, path);
    }
    path.pop_back();
    colour[c] = 2;
}

void check_relay_cycles(const Scenario& s) {
    Graph g = relay_graph(s);
    std::vector<int> colour(g.size(), 0);
    std::vector<std::size_t> path;
    for (std::size_t c = 0; c < g.size(); ++c)
        if (colour[c] == 0) find_cycle(s, g, c, colour, path);
}

// The priority (or type) a producer gives its messages: what it sets, else
// the lowest its own channel takes (0 where the backend has none).
SizeDist effective_priority(const ProcessSpec& p, const Contract& own) {
    if (p.workload.priority) return *p.workload.priority;
    SizeDist d;
    d.min = d.max = own.has_priority ? own.min_priority : 0;
    d.loc = p.workload.loc;
    return d;
}

// A producer's messages travel through its channel and, via relays, every
// channel downstream: the largest must fit each of them, and so must their
// priorities where a backend reads them.  Then each backend sees its
// channels' total use (kernel limits that span channels).
void check_sizes(const Scenario& s) {
    std::vector<Contract> contract(s.channels.size());
    std::vector<std::uint32_t> largest(s.channels.size(), 0);
    for (std::size_t i = 0; i < s.channels.size(); ++i)
        contract[i] = find_backend(s.channels[i].backend)->contract(s.channels[i].options);
    Graph g = relay_graph(s);
    for (const ProcessSpec& p : s.processes) {
        if (p.role != Role::kProducer) continue;
        const SizeDist& d = p.workload.size;
        if (d.smallest() < kHeaderSize)
            fail_at(d.loc, "size " + std::to_string(d.smallest()) +
                               " is below the message header (" + std::to_string(kHeaderSize) +
                               " bytes)");
        const std::size_t own = *channel_index(s, p.channel);
        const SizeDist prio = effective_priority(p, contract[own]);
        if (p.workload.priority && !contract[own].has_priority)
            fail_at(prio.loc, "backend '" + s.channels[own].backend + "' of channel '" +
                                  s.channels[own].name +
                                  "' has no message priorities or types; remove 'priority'");
        std::vector<std::size_t> todo{own};
        std::vector<bool> seen(s.channels.size());
        while (!todo.empty()) {
            std::size_t c = todo.back();
            todo.pop_back();
            if (seen[c]) continue;
            seen[c] = true;
            const Contract& k = contract[c];
            if (d.largest() > k.max_message)
                fail_at(d.loc, "size " + std::to_string(d.largest()) +
                                   " exceeds the largest message of backend '" +
                                   s.channels[c].backend + "' (" + std::to_string(k.max_message) +
                                   ") on channel '" + s.channels[c].name + "'");
            largest[c] = std::max(largest[c], d.largest());
            if (k.has_priority &&
                (prio.smallest() < k.min_priority || prio.largest() > k.max_priority))
                fail_at(prio.loc,
                        "priority " +
                            std::to_string(prio.smallest() < k.min_priority ? prio.smallest()
                                                                            : prio.largest()) +
                            " is outside what backend '" + s.channels[c].backend +
                            "' takes on channel '" + s.channels[c].name + "' (" +
                            std::to_string(k.min_priority) + " to " +
                            std::to_string(k.max_priority) + ")");
            for (const auto& [next, relay] : g[c]) todo.push_back(next);
        }
    }
    std::map<std::string, std::pair<std::vector<const ChannelSpec*>, std::vector<std::uint32_t>>>
        by_backend;
    for (std::size_t i = 0; i < s.channels.size(); ++i) {
        auto& [chans, sizes] = by_backend[s.channels[i].backend];
        chans.push_back(&s.channels[i]);
        sizes.push_back(largest[i]);
    }
    for (const auto& [name, use] : by_backend)
        find_backend(name)->validate_usage(use.first, use.second);
}

// Per-process options go to the backends of the channels the process uses;
// each key must mean something to one of them.
void check_endpoint_options(const Scenario& s) {
    for (const ProcessSpec& p : s.processes) {
        std::vector<std::pair<const ChannelSpec*, Direction>> sides;
        auto side = [&](const std::string& channel, Direction d) {
            sides.push_back({&s.channels[*channel_index(s, channel)], d});
        };
        if (p.role == Role::kProducer) side(p.channel, Direction::kWrite);
        if (p.role == Role::kConsumer) side(p.channel, Direction::kRead);
        if (p.role == Role::kRelay || p.role == Role::kExec) {
            side(p.input, Direction::kRead);
            side(p.output, Direction::kWrite);
        }
        std::vector<std::string> known;
        for (const auto& [c, d] : sides) {
            for (std::string& k : find_backend(c->backend)->endpoint_keys(d))
                known.push_back(std::move(k));
        }
        for (const auto& [key, v] : p.options) {
            if (std::find(known.begin(), known.end(), key) != known.end()) continue;
            std::string list;
            for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
            fail_at(v.loc, "unknown process option '" + key + "' for " + role_name(p.role) +
                               (list.empty() ? std::string("; its channels take no process options")
                                             : "; expected one of: " + list));
        }
        for (const auto& [c, d] : sides) {
            find_backend(c->backend)->validate_endpoint(c->options, p.options, d);
            if (!c->mutant.empty()) find_backend(c->backend)->validate_mutant(*c, p, d);
        }
    }
}

// A signaler's signal must not be one its targets' channels use: the
// handler that counts it would take the channel's messages.
void check_signalers(const Scenario& s, const std::vector<std::string>& names) {
    std::vector<const ProcessSpec*> spec_of;
    for (const ProcessSpec& p : s.processes)
        for (int k = 0; k < p.count; ++k) spec_of.push_back(&p);
    for (const ProcessSpec& p : s.processes) {
        if (p.role != Role::kSignaler) continue;
        for (std::uint32_t t : signaler_targets(s, p)) {
            const ProcessSpec& target = *spec_of[t];
            for (const std::string& chan : {target.channel, target.input, target.output}) {
                if (chan.empty()) continue;
                const ChannelSpec& c = s.channels[*channel_index(s, chan)];
                const std::vector<int> used =
                    find_backend(c.backend)->signals_used(c.options, c.mutant);
                if (std::find(used.begin(), used.end(), p.signal) == used.end()) continue;
                fail_at(p.signal_loc, std::string("signal ") + signal_name(p.signal) +
                                          " is used by channel '" + c.name + "' of target '" +
                                          names[t] + "'; expected another signal");
            }
        }
    }
}

}  // namespace

// One machine runs every process of a scenario: more than this is a typo,
// not a topology (and it bounds what loading a hostile file can allocate).
constexpr long kMaxProcesses = 1024;

void validate_scenario(const Scenario& s) {
    if (!(s.timeout_s > 0)) fail_at(scenario_loc(s), "'timeout' must be greater than zero");
    check_channels(s);
    check_processes(s);
    long total = 0;
    for (const ProcessSpec& p : s.processes) {
        total += p.count;
        if (total > kMaxProcesses)
            fail_at(p.loc, "the scenario expands to more than " + std::to_string(kMaxProcesses) +
                               " processes; expected at most that many in all");
    }
    check_readers_writers(s);
    check_exec(s);
    check_relay_cycles(s);
    check_sizes(s);
    check_endpoint_options(s);
    check_signalers(s, process_names(s));
    check_faults(s);
    check_syscall_faults(s);
}

std::vector<std::string> process_names(const Scenario& s) {
    std::vector<std::string> names;
    std::set<std::string> taken;
    int next[5] = {0, 0, 0, 0, 0};  // per Role, for unnamed processes
    for (const ProcessSpec& p : s.processes) {
        for (int k = 0; k < p.count; ++k) {
            std::string n;
            if (p.name.empty())
                n = role_name(p.role) + std::to_string(next[static_cast<int>(p.role)]++);
            else
                n = p.count > 1 ? p.name + std::to_string(k) : p.name;
            if (!taken.insert(n).second)
                fail_at(p.loc, "process name '" + n +
                                   "' is already taken by an earlier process; set another 'name'");
            names.push_back(std::move(n));
        }
    }
    return names;
}

}  // namespace ipct

namespace ipct {

namespace {

// Indices of the processes a target word names: a role (every process of
// it), an expanded process name, or the name of a counted process (all of
// its instances).
std::vector<std::uint32_t> resolve_target(const Scenario& s, const std::vector<std::string>& names,
                                          const OptionValue& t) {
    std::vector<std::uint32_t> out;
    std::uint32_t i = 0;
    const std::optional<Role> role = parse_role(t.text);
    for (const ProcessSpec& p : s.processes) {
        for (int k = 0; k < p.count; ++k, ++i) {
            if (role ? p.role == *role : (names[i] == t.text || p.name == t.text)) {
                if (p.role == Role::kSignaler)
                    fail_at(t.loc, "target '" + t.text +
                                       "' is a signaler; expected processes that use channels");
                out.push_back(i);
            }
        }
    }
    if (!out.empty()) return out;
    if (role)
        fail_at(t.loc, "target '" + t.text + "' names no process: the scenario has no " + t.text);
    std::string list;
    for (std::size_t n = 0; n < names.size(); ++n) list += (list.empty() ? "" : ", ") + names[n];
    fail_at(t.loc, "unknown target '" + t.text +
                       "'; expected a role (producer, consumer, relay) or a process name (" + list +
                       ")");
}

}  // namespace

std::vector<std::uint32_t> fault_targets(const Scenario& s, const FaultSpec& f) {
    std::vector<std::uint32_t> out = resolve_target(s, process_names(s), f.target);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::uint32_t> signaler_targets(const Scenario& s, const ProcessSpec& p) {
    const std::vector<std::string> names = process_names(s);
    std::vector<std::uint32_t> out;
    if (p.targets.empty()) {
        std::uint32_t i = 0;
        for (const ProcessSpec& q : s.processes)
            for (int k = 0; k < q.count; ++k, ++i)
                if (q.role != Role::kSignaler) out.push_back(i);
        if (out.empty())
            fail_at(p.loc, "a signaler needs a process to signal; the scenario has none");
        return out;
    }
    for (const OptionValue& t : p.targets) {
        std::vector<std::uint32_t> some = resolve_target(s, names, t);
        out.insert(out.end(), some.begin(), some.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace ipct
