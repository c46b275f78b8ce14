// `faults:` in a scenario: loading (every error a ScenarioError at the node,
// saying what was expected), checking against the topology, and the plan's
// schedule drawn from the run seed.
//
//   faults:
//     - action: kill | stop | signal | restart
//       target: consumer0            # a process name, a counted name, a role
//       at: 200ms                    # one trigger: at, after or random
//       after: {process: producer0, messages: 500}
//       random: {rate: 4, from: 100ms, until: 1s}   # faults per second
//       pause: 50ms                  # stop only: SIGCONT after this long
//       signal: SIGTERM              # signal only
//       delay: 20ms                  # restart only (default 0): the new incarnation
//                                    # starts this long after the old one ended
//
// A restart's target must be a producer or a consumer whose channel a new
// process can open again by name (Backend::reopenable(): posix_mq,
// sysv_msg).
#include "scenario_faults.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "ipctorture/backend.hpp"
#include "ipctorture/errors.hpp"
#include "scenario_yaml.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/roles.hpp"

namespace ipct {
namespace {

using namespace scenario_yaml;

double duration(const Field& f, const std::string& key) {
    const std::optional<double> d = parse_duration(text(f, key, "a duration"));
    if (!d)
        fail_at(f.loc, "expected a duration for '" + key +
                           "' (like 250ms, 2s or a number of seconds), got '" + f.node.Scalar() +
                           "'");
    return *d;
}

const Field& need(const std::map<std::string, Field>& m, const std::string& key,
                  const SourceLoc& loc, const std::string& what) {
    auto it = m.find(key);
    if (it == m.end()) fail_at(loc, "missing key '" + key + "' in " + what);
    return it->second;
}

void load_after(const std::string& file, const Field& f, FaultSpec& out) {
    const auto m = fields(file, f.node, f.loc, "fault_after", "a fault's 'after'");
    const Field& p = need(m, "process", f.loc, "a fault's 'after'");
    out.after_process = {text(p, "process", "a process name"), p.loc};
    const Field& n = need(m, "messages", f.loc, "a fault's 'after'");
    const std::string& s = text(n, "messages", "a positive integer");
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v == 0)
        fail_at(n.loc, "expected a positive integer for 'messages', got '" + s + "'");
    out.after_messages = v;
}

void load_random(const std::string& file, const Field& f, FaultSpec& out) {
    const auto m = fields(file, f.node, f.loc, "fault_random", "a fault's 'random'");
    const Field& r = need(m, "rate", f.loc, "a fault's 'random'");
    const std::optional<double> rate = parse_decimal(text(r, "rate", "faults per second"));
    if (!rate || !std::isfinite(*rate) || !(*rate > 0))
        fail_at(r.loc, "expected a positive number of faults per second for 'rate', got '" +
                           r.node.Scalar() + "'");
    out.rate = *rate;
    if (auto it = m.find("from"); it != m.end()) out.from_s = duration(it->second, "from");
    const Field& u = need(m, "until", f.loc, "a fault's 'random'");
    out.until_s = duration(u, "until");
    if (!(out.until_s > out.from_s)) fail_at(u.loc, "'until' must be later than 'from'");
    if (out.rate * (out.until_s - out.from_s) > double(kMaxRandomFaults) / 4)
        fail_at(r.loc, "'rate' over the interval would draw about " +
                           std::to_string(std::llround(out.rate * (out.until_s - out.from_s))) +
                           " faults; expected at most " + std::to_string(kMaxRandomFaults / 4));
}

void load_trigger(const std::string& file, const std::map<std::string, Field>& m, FaultSpec& out) {
    int triggers = 0;
    for (const char* k : {"at", "after", "random"}) triggers += m.count(k) != 0 ? 1 : 0;
    if (triggers != 1)
        fail_at(out.loc, triggers == 0 ? "a fault needs a trigger: one of 'at', 'after', 'random'"
                                       : "a fault takes one trigger; expected only one of 'at', "
                                         "'after', 'random'");
    if (auto it = m.find("at"); it != m.end()) {
        out.trigger = FaultSpec::Trigger::kAt;
        out.at_s = duration(it->second, "at");
    } else if (auto a = m.find("after"); a != m.end()) {
        out.trigger = FaultSpec::Trigger::kAfter;
        load_after(file, a->second, out);
    } else {
        out.trigger = FaultSpec::Trigger::kRandom;
        load_random(file, m.at("random"), out);
    }
}

void load_action_keys(const std::map<std::string, Field>& m, FaultSpec& out) {
    auto pause = m.find("pause");
    if ((out.action == FaultAction::kStop) != (pause != m.end()))
        fail_at(pause != m.end() ? pause->second.loc : out.loc,
                pause != m.end() ? "'pause' is only for a stop fault"
                                 : "a stop fault needs 'pause' (how long the target stays "
                                   "stopped before SIGCONT)");
    if (pause != m.end()) {
        out.pause_s = duration(pause->second, "pause");
        if (!(out.pause_s > 0)) fail_at(pause->second.loc, "'pause' must be greater than zero");
    }
    auto sig = m.find("signal");
    if ((out.action == FaultAction::kSignal) != (sig != m.end()))
        fail_at(sig != m.end() ? sig->second.loc : out.loc,
                sig != m.end() ? "'signal' is only for a signal fault (kill sends SIGKILL)"
                               : "a signal fault needs 'signal' (a name like SIGTERM)");
    auto delay = m.find("delay");
    if (delay != m.end() && out.action != FaultAction::kRestart)
        fail_at(delay->second.loc, "'delay' is only for a restart fault");
    if (delay != m.end()) out.delay_s = duration(delay->second, "delay");
    if (sig != m.end()) {
        const std::string& name = text(sig->second, "signal", "a signal name");
        const std::optional<int> s = any_signal(name);
        if (!s)
            fail_at(
                sig->second.loc,
                "expected a signal name like SIGTERM, SIGUSR1 or SIGRTMIN+2, got '" + name + "'");
        out.signal = *s;
    }
}

FaultSpec load_fault(const std::string& file, const YAML::Node& n, const SourceLoc& loc) {
    FaultSpec f;
    f.loc = loc;
    const auto m = fields(file, n, loc, "fault", "a fault");
    const Field& a = need(m, "action", loc, "a fault");
    const std::string& action = text(a, "action", "kill, stop, signal or restart");
    const std::optional<FaultAction> act = parse_fault_action(action);
    if (!act)
        fail_at(a.loc,
                "unknown fault action '" + action + "'; expected kill, stop, signal or restart");
    f.action = *act;
    const Field& t = need(m, "target", loc, "a fault");
    f.target = {text(t, "target", "a process or role name"), t.loc};
    load_action_keys(m, f);
    load_trigger(file, m, f);
    return f;
}

// The one process an `after` trigger counts: a producer's sends, a
// reader's receives.
std::uint32_t counted_process(const Scenario& s, const FaultSpec& f) {
    const std::vector<std::string> names = process_names(s);
    std::uint32_t i = 0;
    for (const ProcessSpec& p : s.processes) {
        for (int k = 0; k < p.count; ++k, ++i) {
            if (names[i] != f.after_process.text) continue;
            if (p.role == Role::kSignaler || p.role == Role::kExec)
                fail_at(f.after_process.loc,
                        "'" + names[i] + "' is a " + role_name(p.role) +
                            ", which logs no messages; expected a producer, consumer or relay");
            return i;
        }
    }
    fail_at(f.after_process.loc, "unknown process '" + f.after_process.text +
                                     "' in 'after'; expected one process by name (" +
                                     joined(names) + ")");
}

// A restart's targets: producers and consumers (a relay, a pinger or an exec
// program cannot pick up where a killed incarnation stopped), on channels a
// new incarnation can open again (Backend::reopenable).
void check_restart(const Scenario& s, const FaultSpec& f, const std::vector<std::uint32_t>& targets) {
    const std::vector<std::string> names = process_names(s);
    std::uint32_t i = 0;
    for (const ProcessSpec& p : s.processes) {
        for (int k = 0; k < p.count; ++k, ++i) {
            if (!std::binary_search(targets.begin(), targets.end(), i)) continue;
            const bool pinger = p.role == Role::kProducer && !p.input.empty();
            if ((p.role != Role::kProducer && p.role != Role::kConsumer) || pinger)
                fail_at(f.target.loc, "a restart's target must be a producer or a consumer; '" +
                                          names[i] + "' is a " +
                                          (pinger ? std::string("pinger (a producer with an input)")
                                                  : std::string(role_name(p.role))));
            for (const ChannelSpec& c : s.channels) {
                if (c.name != p.channel) continue;
                const Backend* b = find_backend(c.backend);
                if (b == nullptr || !b->reopenable())
                    fail_at(f.target.loc,
                            "a restart needs a channel that a new incarnation can open again "
                            "(posix_mq or sysv_msg); '" +
                                names[i] + "' uses channel '" + c.name + "' (" + c.backend + ")");
            }
        }
    }
}

}  // namespace

std::vector<FaultSpec> load_faults(const std::string& file, const YAML::Node& n,
                                   const SourceLoc& loc) {
    if (!n.IsSequence())
        fail_at(loc, "expected a sequence of faults for 'faults', got " + shown(n));
    std::vector<FaultSpec> out;
    for (const YAML::Node& e : n) out.push_back(load_fault(file, e, at(file, e, loc)));
    return out;
}

void check_faults(const Scenario& s) {
    for (const FaultSpec& f : s.faults) {
        const std::vector<std::uint32_t> targets = fault_targets(s, f);
        if (f.action == FaultAction::kRestart) check_restart(s, f, targets);
        if (f.trigger == FaultSpec::Trigger::kAfter) counted_process(s, f);
    }
}

std::vector<PlannedFault> plan_faults(const Scenario& s, std::uint64_t seed) {
    std::vector<PlannedFault> out;
    for (std::uint32_t e = 0; e < s.faults.size(); ++e) {
        const FaultSpec& f = s.faults[e];
        const std::vector<std::uint32_t> targets = fault_targets(s, f);
        PlannedFault p;
        p.action = f.action;
        p.signal = f.signal;
        p.pause_s = f.pause_s;
        p.delay_s = f.delay_s;
        p.entry = e;
        if (f.trigger != FaultSpec::Trigger::kRandom) {
            p.at_s = f.at_s;
            p.by_count = f.trigger == FaultSpec::Trigger::kAfter;
            if (p.by_count) {
                p.after_process = counted_process(s, f);
                p.after_messages = f.after_messages;
            }
            for (std::uint32_t t : targets) {
                p.target = t;
                out.push_back(p);
            }
            continue;
        }
        // A Poisson process of the given rate: exponential gaps, each draw
        // picking one of the targets.
        Rng rng(derive_seed(seed, 0x6661756c74000000ull + e));
        std::uint64_t drawn = 0;
        for (double t = f.from_s;;) {
            t += -std::log1p(-rng.unit()) / f.rate;
            if (t >= f.until_s || drawn++ == kMaxRandomFaults) break;
            p.at_s = t;
            p.target = targets[rng.below(targets.size())];
            out.push_back(p);
        }
    }
    return out;
}

}  // namespace ipct
