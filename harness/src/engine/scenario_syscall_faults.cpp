// `syscall_faults:` in a scenario, at the top level (every process that sets
// none) or per process:
//
//   syscall_faults: off                              # this process: none
//   syscall_faults: {error: EINTR, calls: [msgrcv], probability: 0.05}
//   syscall_faults:
//     - {error: short, calls: [read, write], probability: 0.2}
//     - {error: ENOBUFS, nth: 10}                    # the 10th eligible call only
//
// error: EINTR | EAGAIN | ENOBUFS | short; calls: one name or a list, every
// name one the error applies to (default: all of those); exactly one of
// probability (0 < p <= 1) and nth (>= 1).
#include "scenario_syscall_faults.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "ipctorture/backend.hpp"
#include "ipctorture/errors.hpp"
#include "scenario_yaml.hpp"
#include "ipctorture/syscall_faults.hpp"

namespace ipct {
namespace {

using namespace scenario_yaml;

std::vector<std::string> load_calls(const std::string& file, const Field& f,
                                    SyscallFaultRule::Error e) {
    const std::vector<std::string> allowed = syscall_fault_calls_for(e);
    const std::string error = syscall_fault_error_name(e);
    std::vector<Field> items;
    if (f.node.IsScalar()) items.push_back(f);
    if (f.node.IsSequence())
        for (const YAML::Node& c : f.node) items.push_back({c, at(file, c, f.loc)});
    if (items.empty())
        fail_at(f.loc, "expected a call name or a non-empty list of them for 'calls', got " +
                           shown(f.node));
    std::vector<std::string> out;
    for (const Field& c : items) {
        const std::string& name = text(c, "calls", "a call name");
        const auto& known = syscall_fault_calls();
        if (std::find(known.begin(), known.end(), name) == known.end())
            fail_at(c.loc,
                    "unknown call '" + name + "' in 'calls'; expected one of: " + joined(known));
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
            fail_at(c.loc, error + " is not injected into " + name +
                               "; expected one of: " + joined(allowed));
        if (std::find(out.begin(), out.end(), name) != out.end())
            fail_at(c.loc, "'" + name + "' is listed twice in 'calls'");
        out.push_back(name);
    }
    return out;
}

SyscallFaultRule load_rule(const std::string& file, const YAML::Node& n, const SourceLoc& loc) {
    const auto m = fields(file, n, loc, "syscall_fault", "a 'syscall_faults' rule");
    SyscallFaultRule r;
    r.loc = loc;
    const auto e = m.find("error");
    if (e == m.end())
        fail_at(loc,
                "missing key 'error' in a 'syscall_faults' rule; expected EINTR, EAGAIN, "
                "ENOBUFS or short");
    const std::string& err = text(e->second, "error", "EINTR, EAGAIN, ENOBUFS or short");
    const auto parsed = parse_syscall_fault_error(err);
    if (!parsed)
        fail_at(e->second.loc, "unknown error '" + err +
                                   "' for 'error'; expected EINTR, EAGAIN, ENOBUFS or short");
    r.error = *parsed;
    if (auto c = m.find("calls"); c != m.end()) r.calls = load_calls(file, c->second, r.error);
    const auto p = m.find("probability"), nth = m.find("nth");
    if ((p == m.end()) == (nth == m.end()))
        fail_at(loc, "a 'syscall_faults' rule takes exactly one of 'probability' and 'nth'");
    if (p != m.end()) {
        const std::string& s = text(p->second, "probability", "a probability");
        const std::optional<double> v = parse_decimal(s);
        if (!v || !(*v > 0 && *v <= 1))
            fail_at(p->second.loc,
                    "expected a probability in (0, 1] for 'probability', got '" + s + "'");
        r.probability = *v;
    } else {
        const std::string& s = text(nth->second, "nth", "a positive integer");
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), r.nth);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || r.nth == 0)
            fail_at(nth->second.loc, "expected a positive integer for 'nth', got '" + s + "'");
    }
    return r;
}

// Whether process p's calls on its channels can include a non-blocking send
// that rule r names: no, when every channel is a blocking posix_mq or
// sysv_msg queue and r names only queue calls (or every call).
bool eagain_reachable(const Scenario& s, const ProcessSpec& p, const SyscallFaultRule& r) {
    const std::vector<std::string> queue_calls{"mq_send", "mq_timedsend", "msgsnd"};
    for (const std::string& c : r.calls)
        if (std::find(queue_calls.begin(), queue_calls.end(), c) == queue_calls.end()) return true;
    for (const std::string* name : {&p.channel, &p.input, &p.output}) {
        if (name->empty()) continue;
        for (const ChannelSpec& ch : s.channels) {
            if (ch.name != *name) continue;
            if (ch.backend != "posix_mq" && ch.backend != "sysv_msg") return true;
            if (option_bool(ch.options, "nonblocking", false)) return true;
        }
    }
    return false;
}

}  // namespace

std::vector<SyscallFaultRule> load_syscall_faults(const std::string& file, const YAML::Node& n,
                                                  const SourceLoc& loc) {
    if (n.IsScalar() && n.Scalar() == "off") return {};
    if (n.IsMap()) return {load_rule(file, n, loc)};
    if (!n.IsSequence() || n.size() == 0)
        fail_at(loc,
                "expected off, a rule (a map with 'error') or a non-empty list of rules for "
                "'syscall_faults', got " +
                    shown(n));
    std::vector<SyscallFaultRule> out;
    for (const YAML::Node& e : n) out.push_back(load_rule(file, e, at(file, e, loc)));
    return out;
}

void check_syscall_faults(const Scenario& s) {
    for (const ProcessSpec& p : s.processes) {
        if (p.role == Role::kSignaler) {
            if (p.syscall_faults && !p.syscall_faults->empty())
                fail_at(p.syscall_faults->front().loc,
                        "a signaler makes none of the calls 'syscall_faults' reaches; expected "
                        "it on a producer, consumer, relay or exec process");
            continue;
        }
        for (const SyscallFaultRule& r : p.syscall_faults.value_or(s.syscall_faults)) {
            if (r.error != SyscallFaultRule::Error::kEagain || eagain_reachable(s, p, r)) continue;
            fail_at(r.loc,
                    "EAGAIN is injected only into non-blocking sends, and every channel "
                    "of process '" +
                        (p.name.empty() ? std::string(role_name(p.role)) : p.name) +
                        "' is a blocking queue; expected 'nonblocking: true' in its "
                        "channel's options, or another error");
        }
    }
}

}  // namespace ipct
