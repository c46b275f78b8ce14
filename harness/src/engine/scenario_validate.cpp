// Whole-scenario checks on the model: what no single YAML node can show.
//
// Contract: validate_scenario() accepts exactly the scenarios make_plan() can
// expand and the orchestrator can run: every reference resolves, every
// channel has a writer and a reader, relays form no cycle (a message must
// leave the topology eventually, or "lost" means nothing), and every message
// a producer sends fits every channel it can travel through.
#include <algorithm>
#include <optional>
#include <set>

#include "ipctorture/backend.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/scenario.hpp"

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
        case Role::kProducer:
            return {std::nullopt, need_channel(s, p, p.channel)};
        case Role::kConsumer:
            return {need_channel(s, p, p.channel), std::nullopt};
        case Role::kRelay:
            break;
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
        if (p.role != Role::kProducer && (w.messages != 0 || w.duration_s != 0))
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
        if (e.in) ++readers[*e.in];
        if (e.out) ++writers[*e.out];
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
    }
}

// Relay edges between channels: from input to (output, relay process).
using Graph = std::vector<std::vector<std::pair<std::size_t, const ProcessSpec*>>>;

Graph relay_graph(const Scenario& s) {
    Graph g(s.channels.size());
    for (const ProcessSpec& p : s.processes) {
        if (p.role != Role::kRelay) continue;
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

// A producer's messages travel through its channel and, via relays, every
// channel downstream; the largest must fit each of them.
void check_sizes(const Scenario& s) {
    std::vector<std::size_t> max(s.channels.size());
    for (std::size_t i = 0; i < s.channels.size(); ++i)
        max[i] = find_backend(s.channels[i].backend)->contract(s.channels[i].options).max_message;
    Graph g = relay_graph(s);
    for (const ProcessSpec& p : s.processes) {
        if (p.role != Role::kProducer) continue;
        const SizeDist& d = p.workload.size;
        if (d.smallest() < kHeaderSize)
            fail_at(d.loc, "size " + std::to_string(d.smallest()) +
                               " is below the message header (" + std::to_string(kHeaderSize) +
                               " bytes)");
        std::vector<std::size_t> todo{*channel_index(s, p.channel)};
        std::vector<bool> seen(s.channels.size());
        while (!todo.empty()) {
            std::size_t c = todo.back();
            todo.pop_back();
            if (seen[c]) continue;
            seen[c] = true;
            if (d.largest() > max[c])
                fail_at(d.loc, "size " + std::to_string(d.largest()) +
                                   " exceeds the largest message of backend '" +
                                   s.channels[c].backend + "' (" + std::to_string(max[c]) +
                                   ") on channel '" + s.channels[c].name + "'");
            for (const auto& [next, relay] : g[c]) todo.push_back(next);
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
    check_relay_cycles(s);
    check_sizes(s);
    process_names(s);
}

std::vector<std::string> process_names(const Scenario& s) {
    std::vector<std::string> names;
    std::set<std::string> taken;
    int next[3] = {0, 0, 0};  // per Role, for unnamed processes
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
