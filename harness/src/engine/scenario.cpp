// Scenario loading: YAML text -> a validated Scenario.
//
// Contract: every rejection is a ScenarioError at the offending node's
// 1-based line and column (for a missing key: the map that lacks it) that says
// what was expected.  This file checks what one node can show (types, keys,
// ranges, references to channels); validate_scenario() then checks the model
// as a whole (topology, sizes against each backend's contract).
#include "ipctorture/scenario.hpp"

#include <signal.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "ipctorture/backend.hpp"
#include "ipctorture/checker.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/exec.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/plugin_loader.hpp"
#include "scenario_faults.hpp"
#include "scenario_proxy.hpp"
#include "scenario_schedule.hpp"
#include "scenario_syscall_faults.hpp"

namespace ipct {
namespace {

using YAML::Node;

constexpr std::uint64_t kMaxCount = 256;

// yaml-cpp marks are 0-based; a node without a position (an empty document)
// has line -1 and is reported at 1:1.
SourceLoc to_loc(const std::string& file, const YAML::Mark& m) {
    if (m.line < 0) return {file, 1, 1};
    return {file, m.line + 1, m.column + 1};
}

[[noreturn]] void fail_at(const SourceLoc& l, const std::string& msg) {
    throw ScenarioError(l.file, l.line, l.column, msg);
}

std::string describe(const Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return "a sequence";
        case YAML::NodeType::Scalar:
            return "'" + n.Scalar() + "'";
        default:
            return "nothing";
    }
}

template <typename Range>
std::string join(const Range& r) {
    std::string out;
    for (const auto& s : r) out += (out.empty() ? "" : ", ") + std::string(s);
    return out;
}

bool name_chars(const std::string& s, bool allow_dot) {
    auto ok = [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || (allow_dot && c == '.');
    };
    return !s.empty() && std::all_of(s.begin(), s.end(), ok);
}

// One value of a map (or one element of a sequence), named for messages.
struct Item {
    std::string name;  // the key; for a sequence element, the sequence's key
    Node node;
    SourceLoc loc;      // the value; the key's when the value is empty
    SourceLoc key_loc;  // the key
};

Item element(const std::string& file, const std::string& name, const Node& n) {
    SourceLoc l = to_loc(file, n.Mark());
    return {name, n, l, l};
}

// Every kind of map the loader reads and the keys it accepts there (the
// `known` lists of the Map instances below, and load_perturb's).
const std::vector<ScenarioKeys> kKnownKeys = {
    {"scenario",
     {"name", "description", "seed", "timeout", "channels", "processes", "checks", "matrix",
      "expect", "perturb", "cpus", "faults", "syscall_faults"}},
    {"channel", {"backend", "options", "bounds", "mutant", "proxy"}},
    {"bounds", {"max_loss", "max_duplicate", "max_reorder"}},
    {"proxy",
     {"drop", "duplicate", "reorder", "delay", "max_delay", "max_segment", "cut", "cut_after"}},
    {"process",
     {"role", "name", "count", "channel", "input", "output", "workload", "options", "targets",
      "signal", "sigsafe", "perturb", "cpus", "program", "env", "syscall_faults"}},
    {"workload", {"messages", "duration", "size", "priority", "type", "rate", "start_delay"}},
    {"distribution", {"min", "max", "choices", "weights"}},
    {"matrix", {"backend", "size", "messages", "rate"}},
    {"matrix_backend", {"backend", "options"}},
    {"plugin_backend", {"plugin", "options"}},
    {"perturb", {"probability", "max_sleep", "max_spin", "kinds", "sites"}},
    {"fault", {"action", "target", "at", "after", "random", "pause", "signal", "delay"}},
    {"fault_after", {"process", "messages"}},
    {"fault_random", {"rate", "from", "until"}},
    {"syscall_fault", {"error", "calls", "probability", "nth"}},
};

// A YAML map checked on construction: plain scalar keys, no key twice and,
// when `known` is not empty, no key outside it.
class Map {
  public:
    Map(const std::string& file, const Node& node, std::string what, std::vector<std::string> known)
        : what_(std::move(what)), loc_(to_loc(file, node.Mark())) {
        if (!node.IsMap()) fail_at(loc_, "expected a map for " + what_ + ", got " + describe(node));
        for (auto it = node.begin(); it != node.end(); ++it)
            add(file, it->first, it->second, known);
    }
    const Item* find(const std::string& key) const {
        for (const Item& i : items_)
            if (i.name == key) return &i;
        return nullptr;
    }
    const Item& need(const std::string& key) const {
        if (const Item* i = find(key)) return *i;
        fail_at(loc_, "missing key '" + key + "' in " + what_);
    }
    const std::vector<Item>& items() const { return items_; }
    const SourceLoc& loc() const { return loc_; }

  private:
    void add(const std::string& file, const Node& key, const Node& value,
             const std::vector<std::string>& known) {
        SourceLoc key_loc = to_loc(file, key.Mark());
        if (!key.IsScalar())
            fail_at(key_loc, "expected a plain key in " + what_ + ", got " + describe(key));
        const std::string& k = key.Scalar();
        if (!known.empty() && std::find(known.begin(), known.end(), k) == known.end())
            fail_at(key_loc,
                    "unknown key '" + k + "' in " + what_ + "; expected one of: " + join(known));
        if (find(k)) fail_at(key_loc, "duplicate key '" + k + "' in " + what_);
        SourceLoc val_loc = value.IsNull() ? key_loc : to_loc(file, value.Mark());
        items_.push_back({k, value, val_loc, key_loc});
    }

    std::string what_;
    SourceLoc loc_;
    std::vector<Item> items_;
};

const std::string& scalar(const Item& it, const std::string& expected) {
    if (!it.node.IsScalar())
        fail_at(it.loc,
                "expected " + expected + " for '" + it.name + "', got " + describe(it.node));
    return it.node.Scalar();
}

std::uint64_t read_uint(const Item& it, std::uint64_t lo, std::uint64_t hi) {
    const std::string& s = scalar(it, "an unsigned integer");
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        fail_at(it.loc, "expected an unsigned integer for '" + it.name + "', got '" + s + "'");
    if (v < lo || v > hi)
        fail_at(it.loc, "'" + it.name + "' must be between " + std::to_string(lo) + " and " +
                            std::to_string(hi) + ", got " + s);
    return v;
}

// A finite number >= 0, or > 0 when `positive`.
double read_number(const Item& it, bool positive) {
    const std::string expected = positive ? "a positive number" : "a non-negative number";
    const std::string& s = scalar(it, expected);
    const std::optional<double> v = parse_decimal(s);
    if (!v || !std::isfinite(*v) || std::signbit(*v) || (positive && *v == 0))
        fail_at(it.loc, "expected " + expected + " for '" + it.name + "', got '" + s + "'");
    return *v;
}

double read_duration(const Item& it, bool positive) {
    const std::string& s = scalar(it, "a duration");
    std::optional<double> d = parse_duration(s);
    if (!d)
        fail_at(it.loc, "expected a duration for '" + it.name +
                            "' (like 250ms, 2s, 1.5m or a number of seconds), got '" + s + "'");
    if (positive && *d == 0) fail_at(it.loc, "'" + it.name + "' must be greater than zero");
    return *d;
}

// true or false (also yes/no, on/off, as backend options take them).
bool read_bool(const Item& it) {
    const std::string& s = scalar(it, "true or false");
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    fail_at(it.loc, "expected true or false for '" + it.name + "', got '" + s + "'");
}

// A whole message size: header included, so at least kHeaderSize.
std::uint32_t read_msg_size(const Item& it) {
    std::uint64_t v = read_uint(it, 0, std::numeric_limits<std::uint32_t>::max());
    if (v < kHeaderSize)
        fail_at(it.loc, "size " + std::to_string(v) + " is below the message header (" +
                            std::to_string(kHeaderSize) + " bytes)");
    return static_cast<std::uint32_t>(v);
}

std::uint32_t read_u32(const Item& it) {
    return static_cast<std::uint32_t>(read_uint(it, 0, std::numeric_limits<std::uint32_t>::max()));
}

// Reads one scenario document; `file_` names the source in every error.
class Loader {
  public:
    explicit Loader(std::string file) : file_(std::move(file)) {}
    Scenario scenario(const Node& root) const;
    std::vector<Scenario> cells(const Node& root) const;
    std::string apply(Node& cell, const std::string& dim, const Node& v) const;

  private:
    std::vector<ChannelSpec> channels(const Item& it) const;
    ChannelSpec channel(const Item& it) const;
    Options options(const Item& it) const;
    Bounds bounds(const Item& it) const;
    SizeDist priority(const Item& it) const;
    std::vector<ProcessSpec> processes(const Item& it, const std::vector<ChannelSpec>& ch) const;
    ProcessSpec process(const Node& n, const std::vector<ChannelSpec>& ch) const;
    void endpoints(const Map& m, ProcessSpec& p, const std::vector<ChannelSpec>& ch) const;
    void signaler(const Map& m, ProcessSpec& p) const;
    void exec_keys(const Map& m, ProcessSpec& p) const;
    std::string channel_ref(const Item& it, const std::vector<ChannelSpec>& ch) const;
    Workload workload(const Map& proc, Role role) const;
    using ReadValue = std::uint32_t (*)(const Item&);
    SizeDist size(const Item& it, const char* what = "size", ReadValue read = read_msg_size) const;
    SizeDist choice_size(const Map& m, SizeDist d, const char* what, ReadValue read) const;
    std::vector<Check> checks(const Item& it) const;
    std::vector<std::string> expect(const Item& it) const;

    std::string file_;
};

Scenario Loader::scenario(const Node& root) const {
    if (!root.IsDefined() || root.IsNull())
        fail_at({file_, 1, 1}, "empty scenario; expected a map with name, channels and processes");
    Map top(file_, root, "scenario", scenario_keys("scenario"));
    Scenario s;
    s.file = file_;
    const Item& name = top.need("name");
    s.name = scalar(name, "a scenario name");
    if (!name_chars(s.name, true))
        fail_at(name.loc, "invalid scenario name '" + s.name +
                              "'; expected letters, digits, '_', '-' or '.'");
    if (const Item* d = top.find("description")) s.description = scalar(*d, "a string");
    if (const Item* f = top.find("seed"))
        s.seed = read_uint(*f, 0, std::numeric_limits<std::uint64_t>::max());
    if (const Item* f = top.find("timeout")) s.timeout_s = read_duration(*f, true);
    s.channels = channels(top.need("channels"));
    s.processes = processes(top.need("processes"), s.channels);
    if (const Item* f = top.find("checks")) {
        s.checks = checks(*f);
        s.checks_loc = f->loc;
    }
    if (const Item* f = top.find("expect")) {
        s.expect = expect(*f);
        s.expect_loc = f->loc;
    }
    if (const Item* f = top.find("perturb")) s.perturb = load_perturb(file_, f->node, f->loc);
    if (const Item* f = top.find("cpus")) s.cpus = load_cpus(file_, f->node, f->loc);
    if (const Item* f = top.find("faults")) s.faults = load_faults(file_, f->node, f->loc);
    if (const Item* f = top.find("syscall_faults"))
        s.syscall_faults = load_syscall_faults(file_, f->node, f->loc);
    return s;
}

// A matrix: dimensions, each a sequence of values; every combination is a
// cell, a copy of the scenario with the values put in place:
//   backend   every channel's backend: a name, or {backend: NAME, options: {...}}
//             to give that backend its own channel options;
//   size, messages, rate   every producer's workload field.
// The values are the matrix's own YAML nodes, so an error a value causes in
// a cell is reported at the value.
constexpr std::size_t kMaxCells = 256;

std::vector<Scenario> Loader::cells(const Node& root) const {
    if (!root.IsMap() || !root["matrix"]) return {scenario(root)};
    const Node mnode = root["matrix"];
    Map m(file_, mnode, "'matrix'", scenario_keys("matrix"));
    if (m.items().empty())
        fail_at(to_loc(file_, mnode.Mark()), "expected at least one dimension in 'matrix'");
    std::vector<std::pair<std::string, std::vector<Node>>> dims;
    std::size_t total = 1;
    for (const Item& d : m.items()) {
        if (!d.node.IsSequence() || d.node.size() == 0)
            fail_at(d.loc, "expected a non-empty sequence of values for matrix dimension '" +
                               d.name + "', got " + describe(d.node));
        std::vector<Node> values(d.node.begin(), d.node.end());
        total *= values.size();
        if (total > kMaxCells)
            fail_at(d.loc, "the matrix has more than " + std::to_string(kMaxCells) +
                               " cells; expected at most that many");
        dims.emplace_back(d.name, std::move(values));
    }
    std::vector<Scenario> out;
    std::vector<std::string> labels;
    std::vector<std::size_t> at(dims.size(), 0);
    for (std::size_t n = 0; n < total; ++n) {
        Node cell = YAML::Clone(root);
        cell.remove("matrix");
        std::string label;
        for (std::size_t d = 0; d < dims.size(); ++d) {
            const Node& v = dims[d].second[at[d]];
            label +=
                (label.empty() ? "" : ",") + dims[d].first + "=" + apply(cell, dims[d].first, v);
        }
        if (std::find(labels.begin(), labels.end(), label) != labels.end())
            fail_at(to_loc(file_, mnode.Mark()),
                    "two matrix cells are both labelled '" + label + "'; expected distinct values");
        labels.push_back(label);
        Scenario s = scenario(cell);
        s.name += "[" + label + "]";
        s.cell = label;
        out.push_back(std::move(s));
        for (std::size_t d = dims.size(); d-- > 0;) {
            if (++at[d] < dims[d].second.size()) break;
            at[d] = 0;
        }
    }
    return out;
}

// Puts matrix value v of dimension `dim` in place in a cell; returns the
// value's label.
std::string Loader::apply(Node& cell, const std::string& dim, const Node& v) const {
    const SourceLoc loc = to_loc(file_, v.Mark());
    if (dim == "backend" && v.IsMap() && v["plugin"]) {
        // A plugin, {plugin: LIBRARY, options: {...}}: goes in place whole,
        // and channel() reads it there.
        Node channels = cell["channels"];
        if (channels.IsMap())
            for (auto it = channels.begin(); it != channels.end(); ++it)
                if (it->second.IsMap()) {
                    it->second["backend"] = v;
                    it->second.remove("options");
                }
        std::string label = v["plugin"].IsScalar() ? v["plugin"].Scalar() : describe(v["plugin"]);
        const Node options = v["options"];
        if (options.IsMap()) {
            std::string opts;
            for (auto it = options.begin(); it != options.end(); ++it)
                if (it->first.IsScalar() && it->second.IsScalar())
                    opts +=
                        (opts.empty() ? "" : ";") + it->first.Scalar() + "=" + it->second.Scalar();
            label += "{" + opts + "}";
        }
        return label;
    }
    if (dim == "backend") {
        Node name = v, options;
        bool has_options = false;
        if (v.IsMap()) {
            Map m(file_, v, "matrix backend", scenario_keys("matrix_backend"));
            name = m.need("backend").node;
            if (const Item* o = m.find("options")) {
                options = o->node;
                has_options = true;
            }
        }
        if (!name.IsScalar())
            fail_at(loc, "expected a backend name or {backend, options} in the matrix, got " +
                             describe(v));
        Node channels = cell["channels"];
        if (channels.IsMap()) {
            for (auto it = channels.begin(); it != channels.end(); ++it) {
                if (!it->second.IsMap()) continue;
                it->second["backend"] = name;
                if (has_options)
                    it->second["options"] = options;
                else
                    it->second.remove("options");
            }
        }
        std::string label = name.Scalar();
        if (has_options && options.IsMap()) {
            std::string opts;
            for (auto it = options.begin(); it != options.end(); ++it)
                if (it->first.IsScalar() && it->second.IsScalar())
                    opts +=
                        (opts.empty() ? "" : ";") + it->first.Scalar() + "=" + it->second.Scalar();
            label += "{" + opts + "}";
        }
        return label;
    }
    if (!v.IsScalar() && dim != "size")
        fail_at(loc, "expected a scalar for matrix dimension '" + dim + "', got " + describe(v));
    Node processes = cell["processes"];
    if (processes.IsSequence()) {
        for (Node p : processes) {
            if (!p.IsMap() || !p["role"] || !p["role"].IsScalar() ||
                p["role"].Scalar() != "producer")
                continue;
            Node w = p["workload"];
            if (!w || !w.IsMap()) continue;  // the loader will say what is missing
            w[dim] = v;
        }
    }
    if (v.IsScalar()) return v.Scalar();
    return "L" + std::to_string(loc.line) + "C" + std::to_string(loc.column);
}

std::vector<ChannelSpec> Loader::channels(const Item& it) const {
    Map m(file_, it.node, "'channels'", {});
    if (m.items().empty()) fail_at(it.loc, "expected at least one channel in 'channels'");
    std::vector<ChannelSpec> out;
    for (const Item& c : m.items()) out.push_back(channel(c));
    return out;
}

ChannelSpec Loader::channel(const Item& it) const {
    if (!name_chars(it.name, false))
        fail_at(it.key_loc,
                "invalid channel name '" + it.name + "'; expected letters, digits, '_' or '-'");
    Map m(file_, it.node, "channel '" + it.name + "'", scenario_keys("channel"));
    ChannelSpec ch;
    ch.name = it.name;
    ch.loc = it.key_loc;
    const Item& b = m.need("backend");
    Backend* backend = nullptr;
    SourceLoc plugin_loc;
    if (b.node.IsMap()) {
        // {plugin: PATH-OR-NAME, options: {...}}: the library's own options
        // may stand here or in the channel's `options:`, not in both.
        Map pm(file_, b.node, "the backend of channel '" + it.name + "'",
               scenario_keys("plugin_backend"));
        const Item& p = pm.need("plugin");
        plugin_loc = p.loc;
        const std::string spec = scalar(p, "a plugin library path or name");
        try {
            const std::string path =
                resolve_plugin(spec, std::filesystem::path(file_).parent_path().string());
            backend = load_plugin(path);
            ch.backend = plugin_backend_name(path);
        } catch (const PluginError& e) {
            fail_at(p.loc, e.what());
        }
        if (const Item* o = pm.find("options")) ch.options = options(*o);
    } else {
        ch.backend = scalar(b, "a backend name or {plugin: LIBRARY, options: {...}}");
        if (is_plugin_backend(ch.backend))
            fail_at(b.loc, "expected a backend name; a plugin is given as {plugin: LIBRARY}");
        backend = find_backend(ch.backend);
        if (!backend)
            fail_at(b.loc, "unknown backend '" + ch.backend + "'; expected one of: " +
                               join(backend_names()) + ", or {plugin: LIBRARY}");
    }
    if (const Item* o = m.find("options")) {
        for (auto& [k, v] : options(*o))
            if (!ch.options.emplace(k, v).second)
                fail_at(v.loc, "option '" + k +
                                   "' is also given in the backend's options; expected it once");
    }
    try {
        backend->validate(ch.options);
    } catch (const PluginError& e) {
        fail_at(plugin_loc, e.what());
    }
    if (const Item* b = m.find("bounds")) ch.bounds = bounds(*b);
    if (const Item* p = m.find("proxy"))
        ch.proxy = load_proxy(file_, p->node, p->loc, p->key_loc, ch.backend);
    if (const Item* mu = m.find("mutant")) {
        ch.mutant = scalar(*mu, "a mutant name");
        ch.mutant_loc = mu->loc;
        std::vector<std::string> names;
        for (const MutantInfo& i : backend->mutants()) names.push_back(i.name);
        if (std::find(names.begin(), names.end(), ch.mutant) == names.end())
            fail_at(mu->loc, "unknown mutant '" + ch.mutant + "' for backend '" + ch.backend +
                                 "'; expected " +
                                 (names.empty() ? std::string("none: it has no mutants")
                                                : "one of: " + join(names)));
    }
    return ch;
}

Bounds Loader::bounds(const Item& it) const {
    Map m(file_, it.node, "'bounds'", scenario_keys("bounds"));
    Bounds b;
    b.loc = it.loc;
    auto rate = [&](const char* key, std::optional<double>& out) {
        const Item* f = m.find(key);
        if (!f) return;
        const double v = read_number(*f, false);
        if (v > 1)
            fail_at(f->loc, std::string("expected a rate in [0, 1] for '") + key + "', got " +
                                f->node.Scalar());
        out = v;
    };
    rate("max_loss", b.max_loss);
    rate("max_duplicate", b.max_duplicate);
    rate("max_reorder", b.max_reorder);
    return b;
}

Options Loader::options(const Item& it) const {
    Map m(file_, it.node, "'options'", {});
    Options out;
    for (const Item& o : m.items()) {
        if (!o.node.IsScalar())
            fail_at(o.loc,
                    "expected a scalar for option '" + o.name + "', got " + describe(o.node));
        out[o.name] = OptionValue{o.node.Scalar(), o.loc};
    }
    return out;
}

std::vector<ProcessSpec> Loader::processes(const Item& it,
                                           const std::vector<ChannelSpec>& ch) const {
    if (!it.node.IsSequence())
        fail_at(it.loc,
                "expected a sequence of processes for 'processes', got " + describe(it.node));
    if (it.node.size() == 0) fail_at(it.loc, "expected at least one process in 'processes'");
    std::vector<ProcessSpec> out;
    for (const Node& n : it.node) out.push_back(process(n, ch));
    return out;
}

ProcessSpec Loader::process(const Node& n, const std::vector<ChannelSpec>& ch) const {
    Map m(file_, n, "process", scenario_keys("process"));
    ProcessSpec p;
    p.loc = m.loc();
    const Item& role = m.need("role");
    std::optional<Role> r = parse_role(scalar(role, "a role"));
    if (!r)
        fail_at(role.loc,
                "expected one of: producer, consumer, relay, signaler, exec for 'role', got '" +
                              role.node.Scalar() + "'");
    p.role = *r;
    if (const Item* f = m.find("name")) {
        p.name = scalar(*f, "a process name");
        if (!name_chars(p.name, false))
            fail_at(f->loc,
                    "invalid process name '" + p.name + "'; expected letters, digits, '_' or '-'");
    }
    if (const Item* f = m.find("count")) p.count = static_cast<int>(read_uint(*f, 1, kMaxCount));
    endpoints(m, p, ch);
    exec_keys(m, p);
    p.workload = workload(m, p.role);
    if (const Item* o = m.find("options")) p.options = options(*o);
    if (const Item* f = m.find("sigsafe")) p.sigsafe = read_bool(*f);
    if (const Item* f = m.find("syscall_faults"))
        p.syscall_faults = load_syscall_faults(file_, f->node, f->loc);
    if (const Item* f = m.find("perturb")) p.perturb = load_perturb(file_, f->node, f->loc);
    if (const Item* f = m.find("cpus")) p.cpus = load_cpus(file_, f->node, f->loc);
    return p;
}

void Loader::endpoints(const Map& m, ProcessSpec& p, const std::vector<ChannelSpec>& ch) const {
    if (p.role == Role::kSignaler) return signaler(m, p);
    for (const char* key : {"targets", "signal"})
        if (const Item* f = m.find(key))
            fail_at(f->key_loc, std::string("'") + key + "' is only for a signaler");
    if (p.role == Role::kRelay || p.role == Role::kExec) {
        if (const Item* f = m.find("channel"))
            fail_at(f->key_loc, std::string("'channel' is not for ") +
                                    (p.role == Role::kExec ? "an exec process" : "a relay") +
                                    "; it has 'input' and 'output'");
        p.input = channel_ref(m.need("input"), ch);
        const Item& out = m.need("output");
        p.output = channel_ref(out, ch);
        if (p.output == p.input)
            fail_at(out.loc, "a relay's output must differ from its input '" + p.input + "'");
        return;
    }
    for (const char* key : {"input", "output"})
        if (const Item* f = m.find(key))
            fail_at(f->key_loc, std::string("'") + key + "' is only for relays and exec; a " +
                                    role_name(p.role) + " has 'channel'");
    p.channel = channel_ref(m.need("channel"), ch);
}

// A signaler uses no channel; its targets are resolved against the whole
// scenario later (validate_scenario), the signal name here.
void Loader::signaler(const Map& m, ProcessSpec& p) const {
    for (const char* key : {"channel", "input", "output"})
        if (const Item* f = m.find(key))
            fail_at(f->key_loc, std::string("'") + key +
                                    "' is not for a signaler; it uses no channel (it has "
                                    "'targets' and 'signal')");
    if (const Item* t = m.find("targets")) {
        if (t->node.IsScalar()) p.targets.push_back({t->node.Scalar(), t->loc});
        if (!t->node.IsScalar() && (!t->node.IsSequence() || t->node.size() == 0))
            fail_at(t->loc,
                    "expected a process or role name, or a non-empty sequence of them, "
                    "for 'targets', got " +
                        describe(t->node));
        for (std::size_t i = 0; t->node.IsSequence() && i < t->node.size(); ++i) {
            Item e = element(file_, "targets", t->node[i]);
            p.targets.push_back({scalar(e, "a process or role name"), e.loc});
        }
    }
    p.signal = SIGUSR2;
    p.signal_loc = m.loc();
    if (const Item* f = m.find("signal")) {
        std::string why;
        std::optional<int> sig = signaler_signal(scalar(*f, "a signal name"), &why);
        if (!sig) fail_at(f->loc, why);
        p.signal = *sig;
        p.signal_loc = f->loc;
    }
}

// An exec process: its program (a command line or a sequence of words) and
// environment, resolved at load time (exec.hpp).  It runs no workload of
// ours and takes no backend options: the program does what it does.
void Loader::exec_keys(const Map& m, ProcessSpec& p) const {
    if (p.role != Role::kExec) {
        for (const char* key : {"program", "env"})
            if (const Item* f = m.find(key))
                fail_at(f->key_loc, std::string("'") + key + "' is only for an exec process");
        return;
    }
    for (const char* key : {"workload", "options", "perturb"})
        if (const Item* f = m.find(key))
            fail_at(f->key_loc, std::string("'") + key +
                                    "' is not for an exec process; its program runs as it is");
    const Item& prog = m.need("program");
    p.program_loc = prog.loc;
    if (prog.node.IsScalar()) {
        std::istringstream words(prog.node.Scalar());
        for (std::string w; words >> w;) p.program.push_back(w);
    } else if (prog.node.IsSequence()) {
        for (std::size_t i = 0; i < prog.node.size(); ++i)
            p.program.push_back(scalar(element(file_, "program", prog.node[i]), "a word"));
    }
    if (p.program.empty())
        fail_at(prog.loc,
                "expected a command line or a non-empty sequence of words for 'program', got " +
                    describe(prog.node));
    std::string why;
    std::optional<std::string> path = resolve_program(p.program[0], file_, &why);
    if (!path) fail_at(prog.loc, why);
    p.program_path = *path;
    if (const Item* e = m.find("env")) {
        Map env(file_, e->node, "env", {});
        for (const Item& v : env.items()) {
            if (!name_chars(v.name, false) || v.name.find('-') != std::string::npos)
                fail_at(v.key_loc, "invalid environment variable name '" + v.name +
                                       "'; expected letters, digits and '_'");
            p.env.emplace_back(v.name, scalar(v, "a string"));
        }
    }
}

std::string Loader::channel_ref(const Item& it, const std::vector<ChannelSpec>& ch) const {
    const std::string& name = scalar(it, "a channel name");
    for (const ChannelSpec& c : ch)
        if (c.name == name) return name;
    std::vector<std::string> names;
    for (const ChannelSpec& c : ch) names.push_back(c.name);
    fail_at(it.loc, "unknown channel '" + name + "'; expected one of: " + join(names));
}

// Producers need exactly one of messages and duration.  Consumers and relays
// take what arrives: they may set only start_delay and rate.
Workload Loader::workload(const Map& proc, Role role) const {
    Workload w;
    w.loc = w.size.loc = proc.loc();
    const bool producer = role == Role::kProducer;
    const bool signaler = role == Role::kSignaler;
    const Item* it = proc.find("workload");
    if (!it && producer)
        fail_at(proc.loc(),
                "missing key 'workload' in process; a producer needs "
                "workload.messages or workload.duration");
    if (!it) return w;
    Map m(file_, it->node, "workload", scenario_keys("workload"));
    w.loc = w.size.loc = m.loc();
    for (const char* key : {"messages", "duration", "size", "priority", "type"})
        if (const Item* f = m.find(key); f && !producer && !(signaler && f->name == "duration"))
            fail_at(f->key_loc, std::string("'") + key + "' is not allowed for a " +
                                    role_name(role) + "; it may set only start_delay" +
                                    (signaler ? ", rate and duration" : " and rate"));
    const Item* messages = m.find("messages");
    const Item* duration = m.find("duration");
    if (producer && !messages == !duration)
        fail_at(m.loc(), messages ? "workload sets both 'messages' and 'duration'; expected one"
                                  : "missing key 'messages' or 'duration' in workload; a "
                                    "producer needs exactly one");
    if (messages) w.messages = read_uint(*messages, 1, std::numeric_limits<std::uint64_t>::max());
    if (duration) w.duration_s = read_duration(*duration, true);
    if (const Item* f = m.find("size")) w.size = size(*f);
    const Item* prio = m.find("priority");
    if (const Item* type = m.find("type")) {
        if (prio)
            fail_at(type->key_loc,
                    "workload sets both 'priority' and 'type' (the same field: a message's "
                    "priority or type); expected one");
        prio = type;
    }
    if (prio) w.priority = priority(*prio);
    if (const Item* f = m.find("rate")) w.rate = read_number(*f, false);
    if (const Item* f = m.find("start_delay")) w.start_delay_s = read_duration(*f, false);
    return w;
}

// A value drawn per message: a number, {min, max} or {choices, weights}.
SizeDist Loader::size(const Item& it, const char* what, ReadValue read) const {
    SizeDist d;
    d.loc = it.loc;
    if (it.node.IsScalar()) {
        d.min = d.max = read(it);
        return d;
    }
    if (!it.node.IsMap())
        fail_at(it.loc, std::string("expected a ") + what + " for '" + it.name +
                            "' (a number, {min, max} or {choices, weights}), got " +
                            describe(it.node));
    Map m(file_, it.node, what, scenario_keys("distribution"));
    const bool uniform = m.find("min") || m.find("max");
    const bool choice = m.find("choices") || m.find("weights");
    if (uniform == choice)
        fail_at(m.loc(), "expected either {min, max} or {choices, weights} for '" + it.name + "'");
    if (choice) return choice_size(m, d, what, read);
    d.kind = SizeDist::Kind::kUniform;
    d.min = read(m.need("min"));
    d.max = read(m.need("max"));
    if (d.min > d.max)
        fail_at(m.loc(), std::string(what) + " min " + std::to_string(d.min) +
                             " is greater than max " + std::to_string(d.max));
    return d;
}

SizeDist Loader::priority(const Item& it) const {
    return size(it, "priority", read_u32);
}

SizeDist Loader::choice_size(const Map& m, SizeDist d, const char* what, ReadValue read) const {
    d.kind = SizeDist::Kind::kChoice;
    const Item& choices = m.need("choices");
    if (!choices.node.IsSequence() || choices.node.size() == 0)
        fail_at(choices.loc, std::string("expected a non-empty sequence of ") + what +
                                 "s for 'choices', got " + describe(choices.node));
    for (const Node& n : choices.node) d.choices.push_back(read(element(file_, "choices", n)));
    d.weights.assign(d.choices.size(), 1.0);
    if (const Item* w = m.find("weights")) {
        if (!w->node.IsSequence() || w->node.size() != d.choices.size())
            fail_at(w->loc, "expected " + std::to_string(d.choices.size()) +
                                " weights for 'weights', one per choice, got " +
                                (w->node.IsSequence() ? std::to_string(w->node.size())
                                                      : describe(w->node)));
        for (std::size_t i = 0; i < d.choices.size(); ++i) {
            d.weights[i] = read_number(element(file_, "weights", w->node[i]), true);
        }
    }
    d.min = d.smallest();
    d.max = d.largest();
    return d;
}

std::vector<std::string> Loader::expect(const Item& it) const {
    if (!it.node.IsSequence() || it.node.size() == 0)
        fail_at(it.loc, "expected a non-empty sequence of finding kinds for 'expect', got " +
                            describe(it.node));
    std::vector<std::string> out;
    for (const Node& n : it.node) {
        Item e = element(file_, "expect", n);
        const std::string& name = scalar(e, "a finding kind");
        if (!parse_finding_kind(name)) {
            std::vector<std::string> kinds;
            for (int k = 0; k < kFindingKinds; ++k)
                kinds.push_back(finding_kind_name(static_cast<FindingKind>(k)));
            fail_at(e.loc, "unknown finding kind '" + name + "'; expected one of: " + join(kinds));
        }
        if (std::find(out.begin(), out.end(), name) != out.end())
            fail_at(e.loc, "finding kind '" + name + "' is listed twice in 'expect'");
        out.push_back(name);
    }
    return out;
}

std::vector<Check> Loader::checks(const Item& it) const {
    if (!it.node.IsSequence())
        fail_at(it.loc,
                "expected a sequence of check names for 'checks', got " + describe(it.node));
    if (it.node.size() == 0)
        fail_at(it.loc,
                "expected at least one check in 'checks'; leave 'checks' out to use "
                "each channel's contract");
    std::vector<Check> out;
    for (const Node& n : it.node) {
        Item e = element(file_, "checks", n);
        const std::string& name = scalar(e, "a check name");
        std::optional<Check> c = parse_check(name);
        if (!c)
            fail_at(e.loc, "unknown check '" + name +
                               "'; expected one of: lost, duplicated, corrupted, fifo, priority, "
                               "selective, counter, last_delivery");
        if (std::find(out.begin(), out.end(), *c) != out.end())
            fail_at(e.loc, "check '" + name + "' is listed twice");
        out.push_back(*c);
    }
    return out;
}

std::string read_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ScenarioError(path, 0, 0, "is a directory, not a scenario file");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        throw ScenarioError(path, 0, 0, "cannot open: " + std::generic_category().message(errno));
    std::string text;
    char buf[8192];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    const bool failed = std::ferror(f);
    const int err = errno;
    std::fclose(f);
    if (failed)
        throw ScenarioError(path, 0, 0, "cannot read: " + std::generic_category().message(err));
    return text;
}

}  // namespace

const std::vector<ScenarioKeys>& scenario_known_keys() {
    return kKnownKeys;
}

const std::vector<std::string>& scenario_keys(std::string_view kind) {
    for (const ScenarioKeys& k : kKnownKeys)
        if (k.kind == kind) return k.keys;
    throw std::out_of_range("no scenario map kind '" + std::string(kind) + "'");
}

const char* role_name(Role r) {
    switch (r) {
        case Role::kProducer:
            return "producer";
        case Role::kConsumer:
            return "consumer";
        case Role::kRelay:
            return "relay";
        case Role::kSignaler:
            return "signaler";
        case Role::kExec:
            return "exec";
    }
    return "?";
}

std::optional<Role> parse_role(const std::string& s) {
    for (Role r : {Role::kProducer, Role::kConsumer, Role::kRelay, Role::kSignaler, Role::kExec})
        if (s == role_name(r)) return r;
    return std::nullopt;
}

const char* check_name(Check c) {
    switch (c) {
        case Check::kLost:
            return "lost";
        case Check::kDuplicated:
            return "duplicated";
        case Check::kCorrupted:
            return "corrupted";
        case Check::kFifo:
            return "fifo";
        case Check::kPriority:
            return "priority";
        case Check::kSelective:
            return "selective";
        case Check::kCounter:
            return "counter";
        case Check::kLastDelivery:
            return "last_delivery";
    }
    return "?";
}

std::optional<Check> parse_check(const std::string& s) {
    for (Check c : {Check::kLost, Check::kDuplicated, Check::kCorrupted, Check::kFifo,
                    Check::kPriority, Check::kSelective, Check::kCounter, Check::kLastDelivery})
        if (s == check_name(c)) return c;
    return std::nullopt;
}

const char* shape_name(ChannelShape s) {
    switch (s) {
        case ChannelShape::kMessages:
            return "messages";
        case ChannelShape::kCounter:
            return "counter";
        case ChannelShape::kSnapshot:
            return "snapshot";
    }
    return "?";
}

std::optional<ChannelShape> parse_shape(const std::string& s) {
    for (ChannelShape c :
         {ChannelShape::kMessages, ChannelShape::kCounter, ChannelShape::kSnapshot})
        if (s == shape_name(c)) return c;
    return std::nullopt;
}

std::uint32_t SizeDist::largest() const {
    if (kind != Kind::kChoice) return max;
    return choices.empty() ? 0 : *std::max_element(choices.begin(), choices.end());
}

std::uint32_t SizeDist::smallest() const {
    if (kind != Kind::kChoice) return min;
    return choices.empty() ? 0 : *std::min_element(choices.begin(), choices.end());
}

std::optional<double> parse_decimal(std::string_view s) {
    // strtod also takes leading space, a '+' and hexadecimal; from_chars,
    // whose grammar this keeps, takes none of them.  The harness never
    // changes the C locale, so the decimal point is '.'.
    if (s.empty() || s.size() > 64 || s.front() == '+' ||
        std::isspace(static_cast<unsigned char>(s.front())) ||
        s.find_first_of("xX") != std::string_view::npos)
        return std::nullopt;
    const std::string text(s);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
    return v;
}

std::optional<double> parse_duration(const std::string& s) {
    // Two-letter units first, so that "ms" is not read as "m" after "...s".
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}, {"m", 60.0}, {"h", 3600.0}};
    std::string_view num = s;
    double scale = 1.0;
    for (const auto& [suffix, factor] : kUnits) {
        if (num.ends_with(suffix)) {
            num.remove_suffix(suffix.size());
            scale = factor;
            break;
        }
    }
    const std::optional<double> parsed = parse_decimal(num);
    if (!parsed) return std::nullopt;
    const double v = *parsed * scale;
    if (!std::isfinite(v) || std::signbit(v)) return std::nullopt;
    return v;
}

namespace {

// Length of the UTF-8 sequence starting at text[i], or 0 if it is not valid
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t utf8_sequence(const std::string& text, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || i + n > text.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((b(i + k) & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && b(i + 1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(i + 1) > 0x9f) return 0;  // surrogate
    if (c == 0xf0 && b(i + 1) < 0x90) return 0;  // overlong
    if (c == 0xf4 && b(i + 1) > 0x8f) return 0;  // above U+10FFFF
    return n;
}

// Counts documents without building them.  YAML::LoadAll is not used: in
// yaml-cpp 0.7 it never returns on some inputs (a lone ",") and allocates
// until memory runs out (found by scenario_parser_fuzzer).
struct DocumentCounter : YAML::EventHandler {
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// Where a second document starts, if there is one.  At most two documents
// are parsed, so the loop is bounded whatever the parser does.
std::optional<YAML::Mark> second_document(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentCounter counter;
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
    if (counter.starts.size() < 2) return std::nullopt;
    return counter.starts[1];
}

// YAML text is UTF-8; so are our plan and reports.  Rejecting anything else
// here keeps bad bytes out of every JSON file written later.
void require_utf8(const std::string& text, const std::string& file) {
    int line = 1, column = 1;
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_sequence(text, i);
        if (n == 0) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", unsigned(static_cast<unsigned char>(text[i])));
            throw ScenarioError(file, line, column,
                                std::string("expected UTF-8 text, found byte ") + hex);
        }
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
        i += n;
    }
}

}  // namespace

std::vector<Scenario> load_scenarios_text(const std::string& text,
                                          const std::string& name_for_errors) {
    const std::string& file = name_for_errors;
    require_utf8(text, file);
    std::vector<Scenario> cells;
    try {
        if (auto second = second_document(text))
            fail_at(to_loc(file, *second), "expected one YAML document, found 2 or more");
        cells = Loader(file).cells(YAML::Load(text));
    } catch (const YAML::Exception& e) {
        const YAML::Mark& m = e.mark;
        throw ScenarioError(file, m.line < 0 ? 1 : m.line + 1, m.line < 0 ? 1 : m.column + 1,
                            "YAML syntax error: " + e.msg);
    }
    for (Scenario& s : cells) {
        s.text = text;
        validate_scenario(s);
    }
    return cells;
}

Scenario load_scenario_text(const std::string& text, const std::string& name_for_errors) {
    std::vector<Scenario> cells = load_scenarios_text(text, name_for_errors);
    if (cells.size() != 1 || !cells[0].cell.empty())
        throw ScenarioError(name_for_errors, 0, 0,
                            "is a matrix of " + std::to_string(cells.size()) +
                                " scenarios; expected a single scenario here");
    return std::move(cells[0]);
}

Scenario load_scenario(const std::string& path) {
    return load_scenario_text(read_file(path), path);
}

std::vector<Scenario> load_scenarios(const std::string& path) {
    return load_scenarios_text(read_file(path), path);
}

Scenario select_cell(const std::vector<Scenario>& cells, const std::string& cell) {
    std::string labels;
    for (const Scenario& s : cells) {
        if (s.cell == cell) return s;
        labels += (labels.empty() ? "" : ", ") + s.cell;
    }
    const std::string file = cells.empty() ? std::string() : cells[0].file;
    throw ScenarioError(file, 0, 0,
                        labels.empty() || cells[0].cell.empty()
                            ? "has no matrix; --cell '" + cell + "' names nothing"
                            : "has no matrix cell '" + cell + "'; expected one of: " + labels);
}

std::vector<std::string> scenario_files(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (!fs::exists(st)) throw ScenarioError(path, 0, 0, "no such file or directory");
    if (!fs::is_directory(st)) return {path};
    std::vector<std::string> out;
    fs::recursive_directory_iterator it(path, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        std::error_code ec2;
        if ((p.extension() == ".yaml" || p.extension() == ".yml") && it->is_regular_file(ec2))
            out.push_back(p.string());
    }
    if (ec) throw ScenarioError(path, 0, 0, "cannot list directory: " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace ipct
