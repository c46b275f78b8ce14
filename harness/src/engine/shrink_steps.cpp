// The shrinker's reduction steps on a scenario's YAML tree (shrink.hpp).
//
// Every step is a deep copy of the tree with one change; none reads or
// repairs anything it does not change, so a step whose result is not a valid
// scenario is simply refused by the loader.  Numbers are lowered in two
// ways: straight to their minimum (one run tells whether the value matters
// at all) and by halving toward it (many kept halvings in a row, each run
// cheaper than the last).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>

#include "ipctorture/errors.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/schedule.hpp"
#include "ipctorture/shrink.hpp"
#include "scenario_schedule.hpp"

namespace ipct {
namespace {

using YAML::Node;

// The keys whose entries are faults, wherever they stand (the top level, a
// channel, a process): removed whole first, then entry by entry.
const char* const kFaultKeys[] = {"faults", "syscall_faults", "proxy"};

constexpr double kMinDurationS = 0.01;
constexpr std::uint64_t kCut = 16;
constexpr double kMinPerturbProbability = 0.01;

std::optional<std::uint64_t> uint_of(const Node& n) {
    if (!n || !n.IsScalar()) return std::nullopt;
    const std::string& s = n.Scalar();
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<double> duration_of(const Node& n) {
    if (!n || !n.IsScalar()) return std::nullopt;
    return parse_duration(n.Scalar());
}

std::string seconds_text(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6gs", s);
    return b;
}

std::string scalar_or(const Node& n, const std::string& fallback) {
    return n && n.IsScalar() ? n.Scalar() : fallback;
}

// "producer 'w'" for a named process, "processes[2] (consumer)" otherwise.
std::string label(const Node& p, std::size_t i) {
    const std::string role = scalar_or(p["role"], "?");
    if (p["name"] && p["name"].IsScalar()) return role + " '" + p["name"].Scalar() + "'";
    return "processes[" + std::to_string(i) + "] (" + role + ")";
}

// A sequence like `seq` without its elements [from, to).
Node without(const Node& seq, std::size_t from, std::size_t to) {
    Node out(YAML::NodeType::Sequence);
    out.SetStyle(seq.Style());
    for (std::size_t j = 0; j < seq.size(); ++j)
        if (j < from || j >= to) out.push_back(seq[j]);
    return out;
}

// A map like `map` without key `key`, keys in their order.
Node without_key(const Node& map, const std::string& key) {
    Node out(YAML::NodeType::Map);
    out.SetStyle(map.Style());
    for (auto it = map.begin(); it != map.end(); ++it)
        if (!(it->first.IsScalar() && it->first.Scalar() == key)) out[it->first] = it->second;
    return out;
}

class Steps {
  public:
    Steps(const Node& tree, const ShrinkHints& hints) : tree_(tree), hints_(hints) {
        const Node ps = tree_["processes"];
        if (ps && ps.IsSequence())
            for (std::size_t i = 0; i < ps.size(); ++i) procs_.push_back(ps[i]);
    }
    std::vector<ShrinkStep> all();

  private:
    using Edit = std::function<void(Node&)>;
    void add(const std::string& site, const std::string& what, const Edit& edit) {
        Node copy = YAML::Clone(tree_);
        edit(copy);
        out_.push_back({site, what, copy});
    }
    // Where fault-like keys may stand: (a description, the path to its map).
    struct Place {
        std::string name;
        std::function<Node(Node&)> map;  // the map in a copy
        Node here;                       // the map in tree_
    };
    std::vector<Place> places() const;

    void minimum_workloads();
    void cut_workloads();
    void drop_fault_keys();
    void remove_processes();
    void bypass_relays();
    void drop_channels();
    void counts();
    void halve_workloads();
    void fault_entries();
    void perturbation();
    void sizes();
    void pacing();
    void placement();
    void timeout();
    void size_steps(std::size_t i, const Node& size);

    const Node& tree_;
    const ShrinkHints& hints_;
    std::vector<Node> procs_;
    std::vector<ShrinkStep> out_;
};

std::vector<ShrinkStep> Steps::all() {
    minimum_workloads();
    cut_workloads();
    drop_fault_keys();
    remove_processes();
    bypass_relays();
    drop_channels();
    counts();
    halve_workloads();
    fault_entries();
    perturbation();
    sizes();
    pacing();
    placement();
    timeout();
    return std::move(out_);
}

std::vector<Steps::Place> Steps::places() const {
    std::vector<Place> v;
    v.push_back({"scenario", [](Node& t) { return t; }, tree_});
    const Node chans = tree_["channels"];
    if (chans && chans.IsMap())
        for (auto it = chans.begin(); it != chans.end(); ++it) {
            if (!it->first.IsScalar() || !it->second.IsMap()) continue;
            const std::string c = it->first.Scalar();
            v.push_back(
                {"channel '" + c + "'", [c](Node& t) { return t["channels"][c]; }, it->second});
        }
    for (std::size_t i = 0; i < procs_.size(); ++i)
        if (procs_[i].IsMap())
            v.push_back(
                {label(procs_[i], i), [i](Node& t) { return t["processes"][i]; }, procs_[i]});
    return v;
}

void Steps::minimum_workloads() {
    for (std::size_t i = 0; i < procs_.size(); ++i) {
        const Node w = procs_[i]["workload"];
        if (!w || !w.IsMap()) continue;
        const std::string l = label(procs_[i], i);
        if (auto m = uint_of(w["messages"]); m && *m > 1)
            add("messages-min:" + l, "messages of " + l + ": " + std::to_string(*m) + " -> 1",
                [i](Node& t) { t["processes"][i]["workload"]["messages"] = 1; });
        if (auto d = duration_of(w["duration"]); d && *d > kMinDurationS)
            add("duration-min:" + l,
                "duration of " + l + ": " + seconds_text(*d) + " -> " + seconds_text(kMinDurationS),
                [i](Node& t) {
                    t["processes"][i]["workload"]["duration"] = seconds_text(kMinDurationS);
                });
    }
}

// A sixteenth of a message count or duration: a step big enough that the
// steps after it run short scenarios, small enough to keep a bug that needs
// more than one message.
void Steps::cut_workloads() {
    for (std::size_t i = 0; i < procs_.size(); ++i) {
        const Node w = procs_[i]["workload"];
        if (!w || !w.IsMap()) continue;
        const std::string l = label(procs_[i], i);
        if (auto m = uint_of(w["messages"]); m && *m / kCut > 1)
            add("messages-cut:" + l,
                "messages of " + l + ": " + std::to_string(*m) + " -> " + std::to_string(*m / kCut),
                [i, n = *m / kCut](Node& t) { t["processes"][i]["workload"]["messages"] = n; });
        if (auto d = duration_of(w["duration"]); d && *d / kCut > kMinDurationS)
            add("duration-cut:" + l,
                "duration of " + l + ": " + seconds_text(*d) + " -> " + seconds_text(*d / kCut),
                [i, c = *d / kCut](Node& t) {
                    t["processes"][i]["workload"]["duration"] = seconds_text(c);
                });
    }
}

void Steps::drop_fault_keys() {
    for (const Place& p : places())
        for (const char* key : kFaultKeys)
            if (p.here[key])
                add(std::string("drop:") + p.name + "." + key,
                    "remove " + std::string(key) + " of " + p.name, [&p, key](Node& t) {
                        Node m = p.map(t);
                        m.remove(key);
                    });
}

// Removes process i; a signaler's target naming it goes too, and a signaler
// left with no target at all (it signalled only what was removed) with it.
void Steps::remove_processes() {
    if (procs_.size() < 2) return;
    // Signalers first, then relays and exec processes, then the rest, the
    // later entries of each before the earlier.
    std::vector<std::size_t> order;
    for (const char* role : {"signaler", "exec", "relay", ""})
        for (std::size_t i = procs_.size(); i-- > 0;) {
            const std::string r = scalar_or(procs_[i]["role"], "");
            const bool other = r != "signaler" && r != "exec" && r != "relay";
            if (r == role || (*role == '\0' && other)) order.push_back(i);
        }
    for (std::size_t i : order) {
        const std::string name = scalar_or(procs_[i]["name"], "");
        add("remove:" + label(procs_[i], i), "remove " + label(procs_[i], i), [i, name](Node& t) {
            Node ps = t["processes"];
            Node kept(YAML::NodeType::Sequence);
            for (std::size_t j = 0; j < ps.size(); ++j) {
                if (j == i) continue;
                Node p = ps[j];
                const Node targets = p["targets"];
                if (!name.empty() && targets && targets.IsSequence()) {
                    Node keep(YAML::NodeType::Sequence);
                    keep.SetStyle(targets.Style());
                    for (const Node& x : targets)
                        if (!(x.IsScalar() && x.Scalar() == name)) keep.push_back(x);
                    if (keep.size() == 0) continue;
                    p["targets"] = keep;
                } else if (!name.empty() && targets && targets.IsScalar() &&
                           targets.Scalar() == name) {
                    continue;
                }
                kept.push_back(p);
            }
            t["processes"] = kept;
        });
    }
}

// A relay (or exec program) from X to Y taken out: what read or wrote Y
// uses X instead, and channel Y goes.
void Steps::bypass_relays() {
    const Node chans = tree_["channels"];
    if (!chans || !chans.IsMap()) return;
    for (std::size_t i = 0; i < procs_.size(); ++i) {
        const std::string r = scalar_or(procs_[i]["role"], "");
        if (r != "relay" && r != "exec") continue;
        const std::string in = scalar_or(procs_[i]["input"], ""),
                          out = scalar_or(procs_[i]["output"], "");
        if (in.empty() || out.empty() || !chans[out]) continue;
        add("bypass:" + label(procs_[i], i),
            "bypass " + label(procs_[i], i) + " (channel '" + out + "' becomes '" + in + "')",
            [i, in, out](Node& t) {
                Node ps = t["processes"];
                Node kept(YAML::NodeType::Sequence);
                for (std::size_t j = 0; j < ps.size(); ++j) {
                    if (j == i) continue;
                    Node p = ps[j];
                    for (const char* k : {"channel", "input", "output"})
                        if (p[k] && p[k].IsScalar() && p[k].Scalar() == out) p[k] = in;
                    kept.push_back(p);
                }
                t["processes"] = kept;
                t["channels"] = without_key(t["channels"], out);
            });
    }
}

// A channel taken out with every process that uses it.
void Steps::drop_channels() {
    const Node chans = tree_["channels"];
    if (!chans || !chans.IsMap() || chans.size() < 2) return;
    for (auto it = chans.begin(); it != chans.end(); ++it) {
        if (!it->first.IsScalar()) continue;
        const std::string c = it->first.Scalar();
        add("drop-channel:" + c, "remove channel '" + c + "' and the processes that use it",
            [c](Node& t) {
                Node ps = t["processes"];
                Node kept(YAML::NodeType::Sequence);
                for (std::size_t j = 0; j < ps.size(); ++j) {
                    bool uses = false;
                    for (const char* k : {"channel", "input", "output"})
                        uses = uses || (ps[j][k] && ps[j][k].IsScalar() && ps[j][k].Scalar() == c);
                    if (!uses) kept.push_back(ps[j]);
                }
                t["processes"] = kept;
                t["channels"] = without_key(t["channels"], c);
            });
    }
}

void Steps::counts() {
    for (std::size_t i = 0; i < procs_.size(); ++i) {
        const auto c = uint_of(procs_[i]["count"]);
        if (!c || *c < 2) continue;
        const std::string l = label(procs_[i], i);
        add("count-min:" + l, "count of " + l + ": " + std::to_string(*c) + " -> 1",
            [i](Node& t) { t["processes"][i].remove("count"); });
        if (*c / 2 > 1)
            add("count-half:" + l,
                "count of " + l + ": " + std::to_string(*c) + " -> " + std::to_string(*c / 2),
                [i, n = *c / 2](Node& t) { t["processes"][i]["count"] = n; });
    }
}

void Steps::halve_workloads() {
    for (std::size_t i = 0; i < procs_.size(); ++i) {
        const Node w = procs_[i]["workload"];
        if (!w || !w.IsMap()) continue;
        const std::string l = label(procs_[i], i);
        if (auto m = uint_of(w["messages"]); m && *m / 2 > 1)
            add("messages-half:" + l,
                "messages of " + l + ": " + std::to_string(*m) + " -> " + std::to_string(*m / 2),
                [i, n = *m / 2](Node& t) { t["processes"][i]["workload"]["messages"] = n; });
        if (auto d = duration_of(w["duration"]); d && *d / 2 > kMinDurationS)
            add("duration-half:" + l,
                "duration of " + l + ": " + seconds_text(*d) + " -> " + seconds_text(*d / 2),
                [i, h = *d / 2](Node& t) {
                    t["processes"][i]["workload"]["duration"] = seconds_text(h);
                });
    }
}

void Steps::fault_entries() {
    for (const Place& p : places())
        for (const char* key : kFaultKeys) {
            const Node v = p.here[key];
            if (!v) continue;
            const std::string where = std::string(key) + " of " + p.name;
            if (v.IsSequence() && v.size() > 1) {
                const std::size_t n = v.size(), h = n / 2;
                if (n >= 4) {
                    add("drop-half0:" + where,
                        "remove the first " + std::to_string(h) + " of " + where,
                        [&p, key, h](Node& t) {
                            Node m = p.map(t);
                            m[key] = without(m[key], 0, h);
                        });
                    add("drop-half1:" + where,
                        "remove the last " + std::to_string(n - h) + " of " + where,
                        [&p, key, h, n](Node& t) {
                            Node m = p.map(t);
                            m[key] = without(m[key], h, n);
                        });
                }
                for (std::size_t j = 0; j < n; ++j)
                    add("drop-entry:" + where + "[" + std::to_string(j) + "]",
                        "remove entry " + std::to_string(j) + " of " + where,
                        [&p, key, j](Node& t) {
                            Node m = p.map(t);
                            m[key] = without(m[key], j, j + 1);
                        });
            } else if (v.IsMap() && v.size() > 1) {
                for (auto it = v.begin(); it != v.end(); ++it) {
                    if (!it->first.IsScalar()) continue;
                    const std::string k = it->first.Scalar();
                    add("drop-sub:" + where + "." + k, "remove '" + k + "' of " + where,
                        [&p, key, k](Node& t) {
                            Node m = p.map(t);
                            m[key] = without_key(m[key], k);
                        });
                }
            }
        }
}

// Off, then half the probability.  A scenario that says nothing runs with
// the built-in default (on), so `perturb: off` is a step there too.
void Steps::perturbation() {
    auto steps = [&](const Node& here, const std::string& name,
                     const std::function<Node(Node&)>& map, bool absent_is_on) {
        const Node v = here["perturb"];
        if (!v && !absent_is_on) return;
        std::optional<PerturbConfig> c;
        if (!v) {
            c = PerturbConfig::builtin_default();
        } else {
            try {
                c = load_perturb("", v, {});
            } catch (const ScenarioError&) {
                return;  // the loader says what is wrong with it
            }
        }
        if (!c->on()) return;
        add("perturb-off:" + name, "perturbation of " + name + ": off",
            [map](Node& t) { map(t)["perturb"] = "off"; });
        if (c->probability / 2 < kMinPerturbProbability) return;
        PerturbConfig half = *c;
        half.probability /= 2;
        char p[64];
        std::snprintf(p, sizeof p, "%g -> %g", c->probability, half.probability);
        add("perturb-half:" + name, "perturbation probability of " + name + ": " + p,
            [map, text = perturb_text(half)](Node& t) { map(t)["perturb"] = text; });
    };
    steps(
        tree_, "scenario", [](Node& t) { return t; }, true);
    for (std::size_t i = 0; i < procs_.size(); ++i)
        steps(
            procs_[i], label(procs_[i], i), [i](Node& t) { return t["processes"][i]; }, false);
}

// A size lowered toward the message header's size: a fixed size, or a
// {min, max} range's max toward its min and then its min; a choice loses
// its largest value.
void Steps::size_steps(std::size_t i, const Node& size) {
    const std::string l = label(procs_[i], i);
    const std::uint64_t lo = kHeaderSize;
    auto lower = [&](const std::string& part, std::uint64_t v, std::uint64_t floor,
                     const std::function<void(Node, std::uint64_t)>& set) {
        if (v <= floor) return;
        add("size-min:" + part + ":" + l,
            part + " of " + l + ": " + std::to_string(v) + " -> " + std::to_string(floor),
            [i, floor, set](Node& t) { set(t["processes"][i]["workload"], floor); });
        const std::uint64_t h = floor + (v - floor) / 2;
        if (h > floor && h < v)
            add("size-half:" + part + ":" + l,
                part + " of " + l + ": " + std::to_string(v) + " -> " + std::to_string(h),
                [i, h, set](Node& t) { set(t["processes"][i]["workload"], h); });
    };
    if (size.IsScalar()) {
        if (auto v = uint_of(size))
            lower("size", *v, lo, [](Node w, std::uint64_t x) { w["size"] = x; });
        return;
    }
    if (!size.IsMap()) return;
    const auto mn = uint_of(size["min"]), mx = uint_of(size["max"]);
    if (mn && mx) {
        if (*mx > *mn)
            add("size-fixed:" + l,
                "size of " + l + ": " + std::to_string(*mn) + ".." + std::to_string(*mx) + " -> " +
                    std::to_string(*mn),
                [i, v = *mn](Node& t) { t["processes"][i]["workload"]["size"] = v; });
        lower("size max", *mx, *mn, [](Node w, std::uint64_t x) { w["size"]["max"] = x; });
        lower("size min", *mn, lo, [](Node w, std::uint64_t x) { w["size"]["min"] = x; });
        return;
    }
    const Node choices = size["choices"];
    if (!choices || !choices.IsSequence() || choices.size() < 2) return;
    std::size_t big = 0;
    std::uint64_t bigv = 0;
    for (std::size_t j = 0; j < choices.size(); ++j)
        if (auto v = uint_of(choices[j]); v && *v >= bigv) {
            big = j;
            bigv = *v;
        }
    add("size-drop-choice:" + l, "size of " + l + ": choice " + std::to_string(bigv) + " removed",
        [i, big](Node& t) {
            Node s = t["processes"][i]["workload"]["size"];
            s["choices"] = without(s["choices"], big, big + 1);
            if (s["weights"] && s["weights"].IsSequence())
                s["weights"] = without(s["weights"], big, big + 1);
        });
}

void Steps::sizes() {
    for (std::size_t i = 0; i < procs_.size(); ++i) {
        const Node w = procs_[i]["workload"];
        if (w && w.IsMap() && w["size"]) size_steps(i, w["size"]);
    }
}

// Rates and start delays go: a process then runs as fast as it can from
// the start barrier.
void Steps::pacing() {
    for (std::size_t i = 0; i < procs_.size(); ++i) {
        const Node w = procs_[i]["workload"];
        if (!w || !w.IsMap()) continue;
        const std::string l = label(procs_[i], i);
        for (const char* key : {"rate", "start_delay"})
            if (w[key])
                add(std::string(key) + "-off:" + l,
                    std::string("remove ") + key + " of " + l + " (" + scalar_or(w[key], "?") + ")",
                    [i, key](Node& t) { t["processes"][i]["workload"].remove(key); });
    }
}

void Steps::placement() {
    if (tree_["cpus"])
        add("cpus-off:scenario", "remove cpus of the scenario", [](Node& t) { t.remove("cpus"); });
    for (std::size_t i = 0; i < procs_.size(); ++i)
        if (procs_[i]["cpus"])
            add("cpus-off:" + label(procs_[i], i), "remove cpus of " + label(procs_[i], i),
                [i](Node& t) { t["processes"][i].remove("cpus"); });
}

// Lowered to the hint at once, or halved (to 1 s at least) when the target
// is a hang, which every run shows only once the watchdog fires.
void Steps::timeout() {
    const double now = tree_["timeout"] ? duration_of(tree_["timeout"]).value_or(0) : 60.0;
    std::optional<double> to = hints_.timeout_s;
    if (hints_.halve_timeout) to = std::max(1.0, std::floor(now / 2));
    if (!to || *to >= now) return;
    add(hints_.halve_timeout ? "timeout-half" : "timeout",
        "timeout: " + seconds_text(now) + " -> " + seconds_text(*to),
        [t = seconds_text(*to)](Node& root) { root["timeout"] = t; });
}

}  // namespace

std::vector<ShrinkStep> shrink_steps(const YAML::Node& tree, const ShrinkHints& hints) {
    if (!tree.IsMap()) return {};
    return Steps(tree, hints).all();
}

namespace {

// Like `e << n`, but a text of several lines outside a flow collection
// (a folded description) is written as a literal block, not as one quoted
// line full of \n.
void emit(YAML::Emitter& e, const Node& n, bool flow) {
    switch (n.Type()) {
        case YAML::NodeType::Map:
        case YAML::NodeType::Sequence: {
            const bool map = n.IsMap();
            flow = flow || n.Style() == YAML::EmitterStyle::Flow;
            if (flow) e << YAML::Flow;
            e << (map ? YAML::BeginMap : YAML::BeginSeq);
            for (auto it = n.begin(); it != n.end(); ++it) {
                if (!map) {
                    emit(e, *it, flow);
                    continue;
                }
                e << YAML::Key;
                emit(e, it->first, flow);
                e << YAML::Value;
                emit(e, it->second, flow);
            }
            e << (map ? YAML::EndMap : YAML::EndSeq);
            return;
        }
        case YAML::NodeType::Scalar:
            if (!flow && n.Scalar().find('\n') != std::string::npos)
                e << YAML::Literal << n.Scalar();
            else
                e << n;
            return;
        default:
            e << n;
    }
}

}  // namespace

std::string shrink_emit(const YAML::Node& tree) {
    YAML::Emitter e;
    emit(e, tree, false);
    return std::string(e.c_str()) + "\n";
}

YAML::Node shrink_flatten_cell(const YAML::Node& root, std::size_t cell) {
    Node out = YAML::Clone(root);
    const Node m = root["matrix"];
    if (!m || !m.IsMap()) return out;
    out.remove("matrix");
    // The loader's order: the first dimension varies slowest.
    std::vector<std::pair<std::string, Node>> dims;
    for (auto it = m.begin(); it != m.end(); ++it)
        dims.emplace_back(it->first.Scalar(), it->second);
    std::vector<Node> values(dims.size());
    for (std::size_t d = dims.size(); d-- > 0;) {
        const std::size_t n = dims[d].second.size();
        values[d] = dims[d].second[cell % n];
        cell /= n;
    }
    for (std::size_t d = 0; d < dims.size(); ++d) {
        const Node& v = values[d];
        if (dims[d].first == "backend") {
            Node chans = out["channels"];
            for (auto it = chans.begin(); it != chans.end(); ++it) {
                Node c = it->second;
                if (!c.IsMap()) continue;
                if (v.IsMap() && v["plugin"]) {
                    c["backend"] = YAML::Clone(v);
                    c.remove("options");
                } else if (v.IsMap()) {
                    c["backend"] = YAML::Clone(v["backend"]);
                    if (v["options"])
                        c["options"] = YAML::Clone(v["options"]);
                    else
                        c.remove("options");
                } else {
                    c["backend"] = YAML::Clone(v);
                    c.remove("options");
                }
            }
            continue;
        }
        Node ps = out["processes"];
        for (std::size_t i = 0; ps.IsSequence() && i < ps.size(); ++i) {
            Node p = ps[i];
            if (scalar_or(p["role"], "") != "producer" || !p["workload"].IsMap()) continue;
            p["workload"][dims[d].first] = YAML::Clone(v);
        }
    }
    return out;
}

namespace {

double mean_size(const SizeDist& d) {
    switch (d.kind) {
        case SizeDist::Kind::kFixed:
            return d.min;
        case SizeDist::Kind::kUniform:
            return (double(d.min) + double(d.max)) / 2;
        case SizeDist::Kind::kChoice: {
            double w = 0, s = 0;
            for (std::size_t i = 0; i < d.choices.size(); ++i) {
                s += d.weights[i] * d.choices[i];
                w += d.weights[i];
            }
            return w > 0 ? s / w : 0;
        }
    }
    return d.min;
}

std::uint64_t fault_entries_in(const Node& n) {
    std::uint64_t k = 0;
    if (!n || !n.IsMap()) return 0;
    for (const char* key : kFaultKeys) {
        const Node v = n[key];
        if (!v) continue;
        k += v.IsSequence() ? v.size() : 1;
    }
    return k;
}

}  // namespace

ScenarioSize scenario_size(const Scenario& s, const YAML::Node& tree) {
    ScenarioSize z;
    for (const ProcessSpec& p : s.processes) {
        z.processes += std::uint64_t(p.count);
        if (p.role != Role::kProducer) continue;
        z.messages += std::uint64_t(p.count) * p.workload.messages;
        z.bytes += std::uint64_t(std::llround(double(p.count) * double(p.workload.messages) *
                                              mean_size(p.workload.size)));
        z.duration_s = std::max(z.duration_s, p.workload.duration_s);
    }
    z.faults = fault_entries_in(tree);
    const Node chans = tree["channels"];
    if (chans && chans.IsMap())
        for (auto it = chans.begin(); it != chans.end(); ++it)
            z.faults += fault_entries_in(it->second);
    const Node ps = tree["processes"];
    for (std::size_t i = 0; ps && ps.IsSequence() && i < ps.size(); ++i)
        z.faults += fault_entries_in(ps[i]);
    return z;
}

std::string size_text(const ScenarioSize& z) {
    std::string t = std::to_string(z.processes) +
                    (z.processes == 1 ? " process, " : " processes, ") +
                    std::to_string(z.messages) + (z.messages == 1 ? " message" : " messages");
    if (z.duration_s > 0) t += " (and producers sending for " + seconds_text(z.duration_s) + ")";
    t += ", " + std::to_string(z.bytes) + " bytes, " + std::to_string(z.faults) +
         (z.faults == 1 ? " fault" : " faults");
    return t;
}

}  // namespace ipct
