// Fault names, signal names, and the schedule's JSON form (plan.json).
#include "ipctorture/faults.hpp"

#include <signal.h>
#include <string.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "ipctorture/errors.hpp"

namespace ipct {

using nlohmann::json;

const char* fault_action_name(FaultAction a) {
    switch (a) {
        case FaultAction::kKill:
            return "kill";
        case FaultAction::kStop:
            return "stop";
        case FaultAction::kSignal:
            return "signal";
        case FaultAction::kRestart:
            return "restart";
    }
    return "?";
}

std::optional<FaultAction> parse_fault_action(std::string_view s) {
    for (FaultAction a :
         {FaultAction::kKill, FaultAction::kStop, FaultAction::kSignal, FaultAction::kRestart})
        if (s == fault_action_name(a)) return a;
    return std::nullopt;
}

const char* fault_step_name(FaultStep s) {
    switch (s) {
        case FaultStep::kKill:
            return "kill";
        case FaultStep::kStop:
            return "stop";
        case FaultStep::kCont:
            return "continue";
        case FaultStep::kSignal:
            return "signal";
        case FaultStep::kRespawn:
            return "respawn";
    }
    return "?";
}

std::optional<int> any_signal(const std::string& name) {
    const std::string bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
    if (bare.rfind("RTMIN", 0) == 0 || bare.rfind("RTMAX", 0) == 0) {
        const bool min = bare[3] == 'I';
        const std::string rest = bare.substr(5);
        int off = 0;
        if (!rest.empty()) {
            const char sign = rest[0];
            auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), off);
            if ((sign != '+' && sign != '-') || rest.size() < 2 || ec != std::errc() ||
                end != rest.data() + rest.size())
                return std::nullopt;
            if (sign == '-') off = -off;
        }
        const int sig = (min ? SIGRTMIN : SIGRTMAX) + off;
        if (sig < SIGRTMIN || sig > SIGRTMAX) return std::nullopt;
        return sig;
    }
    for (int sig = 1; sig < SIGRTMIN; ++sig) {
        const char* abbrev = sigabbrev_np(sig);
        if (abbrev != nullptr && bare == abbrev) return sig;
    }
    return std::nullopt;
}

std::string any_signal_name(int sig) {
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
    const char* abbrev = sigabbrev_np(sig);
    return abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(sig);
}

int fault_signal(const PlannedFault& f) {
    switch (f.action) {
        case FaultAction::kKill:
        case FaultAction::kRestart:
            return SIGKILL;
        case FaultAction::kStop:
            return SIGSTOP;
        case FaultAction::kSignal:
            return f.signal;
    }
    return 0;
}

json faults_to_json(const std::vector<PlannedFault>& faults) {
    json out = json::array();
    for (const PlannedFault& f : faults) {
        json j = {
            {"action", fault_action_name(f.action)}, {"target", f.target}, {"entry", f.entry}};
        if (f.action == FaultAction::kSignal) j["signal"] = any_signal_name(f.signal);
        if (f.action == FaultAction::kStop) j["pause_s"] = f.pause_s;
        if (f.action == FaultAction::kRestart) j["delay_s"] = f.delay_s;
        if (f.by_count)
            j["after"] = {{"process", f.after_process}, {"messages", f.after_messages}};
        else
            j["at_s"] = f.at_s;
        out.push_back(std::move(j));
    }
    return out;
}

namespace {

[[noreturn]] void bad(std::size_t i, const std::string& why) {
    IPCT_FAIL("bad plan: faults/" + std::to_string(i) + ": " + why);
}

std::uint64_t index_of(const json& j, const char* key, std::uint64_t limit, std::size_t i) {
    if (!j.contains(key) || !j[key].is_number_unsigned() || j[key].get<std::uint64_t>() >= limit)
        bad(i, std::string("'") + key + "' is not an index below " + std::to_string(limit));
    return j[key].get<std::uint64_t>();
}

double seconds_of(const json& j, const char* key, std::size_t i) {
    if (!j.contains(key) || !j[key].is_number() || !std::isfinite(j[key].get<double>()) ||
        j[key].get<double>() < 0)
        bad(i, std::string("'") + key + "' is not a non-negative number of seconds");
    return j[key].get<double>();
}

PlannedFault read_fault(const json& j, std::size_t processes, std::size_t i) {
    if (!j.is_object()) bad(i, "not an object");
    PlannedFault f;
    const std::optional<FaultAction> a = j.contains("action") && j["action"].is_string()
                                             ? parse_fault_action(j["action"].get<std::string>())
                                             : std::nullopt;
    if (!a) bad(i, "'action' is not kill, stop, signal or restart");
    f.action = *a;
    f.target = static_cast<std::uint32_t>(index_of(j, "target", processes, i));
    f.entry = static_cast<std::uint32_t>(
        index_of(j, "entry", std::numeric_limits<std::uint32_t>::max(), i));
    if (f.action == FaultAction::kSignal) {
        const std::optional<int> s = j.contains("signal") && j["signal"].is_string()
                                         ? any_signal(j["signal"].get<std::string>())
                                         : std::nullopt;
        if (!s) bad(i, "'signal' is not a signal name");
        f.signal = *s;
    }
    if (f.action == FaultAction::kStop) f.pause_s = seconds_of(j, "pause_s", i);
    if (f.action == FaultAction::kRestart) f.delay_s = seconds_of(j, "delay_s", i);
    f.by_count = j.contains("after");
    if (f.by_count) {
        const json& a2 = j["after"];
        if (!a2.is_object()) bad(i, "'after' is not an object");
        f.after_process = static_cast<std::uint32_t>(index_of(a2, "process", processes, i));
        f.after_messages = index_of(a2, "messages", std::numeric_limits<std::uint64_t>::max(), i);
    } else {
        f.at_s = seconds_of(j, "at_s", i);
    }
    return f;
}

}  // namespace

std::vector<PlannedFault> faults_from_json(const json& j, std::size_t processes) {
    if (!j.is_array()) IPCT_FAIL("bad plan: 'faults' is not an array");
    std::vector<PlannedFault> out;
    for (std::size_t i = 0; i < j.size(); ++i) out.push_back(read_fault(j[i], processes, i));
    return out;
}

}  // namespace ipct
