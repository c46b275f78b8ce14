#include "ipctorture/syscall_faults.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "ipct_faults_abi.h"
#include "ipctorture/checker.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/plan.hpp"

extern char** environ;

namespace ipct {

namespace fs = std::filesystem;

namespace {

constexpr const char* kErrorNames[] = {"EINTR", "EAGAIN", "ENOBUFS", "short"};

std::uint64_t calls_mask(SyscallFaultRule::Error e) {
    switch (e) {
        case SyscallFaultRule::Error::kEintr:
            return IPCT_FAULT_EINTR_CALLS;
        case SyscallFaultRule::Error::kEagain:
            return IPCT_FAULT_EAGAIN_CALLS;
        case SyscallFaultRule::Error::kEnobufs:
            return IPCT_FAULT_ENOBUFS_CALLS;
        case SyscallFaultRule::Error::kShort:
            return IPCT_FAULT_SHORT_CALLS;
    }
    return 0;
}

// The shortest text that reads back as v.
std::string number_text(double v) {
    char b[32];
    const auto r = std::to_chars(b, b + sizeof b, v);
    return std::string(b, r.ptr);
}

std::string call_name(std::uint32_t id) {
    const auto& names = syscall_fault_calls();
    return id < names.size() ? names[id] : "call " + std::to_string(id);
}

}  // namespace

const char* syscall_fault_error_name(SyscallFaultRule::Error e) {
    return kErrorNames[static_cast<int>(e)];
}

std::optional<SyscallFaultRule::Error> parse_syscall_fault_error(std::string_view s) {
    for (int e = 0; e < IPCT_FAULT_ERROR_COUNT; ++e)
        if (s == kErrorNames[e]) return static_cast<SyscallFaultRule::Error>(e);
    return std::nullopt;
}

const std::vector<std::string>& syscall_fault_calls() {
#define IPCT_FAULT_CALL_NAME(name) #name,
    static const std::vector<std::string> names{IPCT_FAULT_CALLS(IPCT_FAULT_CALL_NAME)};
#undef IPCT_FAULT_CALL_NAME
    return names;
}

std::vector<std::string> syscall_fault_calls_for(SyscallFaultRule::Error e) {
    std::vector<std::string> out;
    const std::uint64_t mask = calls_mask(e);
    for (std::size_t c = 0; c < syscall_fault_calls().size(); ++c)
        if (mask & (std::uint64_t{1} << c)) out.push_back(syscall_fault_calls()[c]);
    return out;
}

std::string syscall_faults_spec(const std::vector<SyscallFaultRule>& rules) {
    std::string out;
    for (const SyscallFaultRule& r : rules) {
        std::string calls;
        for (const std::string& c : r.calls) calls += (calls.empty() ? "" : "+") + c;
        out += (out.empty() ? "" : ";") + std::string("error=") +
               syscall_fault_error_name(r.error) + ",calls=" + (calls.empty() ? "all" : calls) +
               (r.nth ? ",nth=" + std::to_string(r.nth) : ",p=" + number_text(r.probability));
    }
    return out;
}

std::string syscall_faults_text(const std::vector<SyscallFaultRule>& rules) {
    std::string out;
    for (const SyscallFaultRule& r : rules) {
        std::string calls;
        for (const std::string& c : r.calls) calls += (calls.empty() ? "" : ",") + c;
        out += (out.empty() ? "" : "; ") + std::string(syscall_fault_error_name(r.error)) + " on " +
               (calls.empty() ? "all" : calls) +
               (r.nth ? ", nth=" + std::to_string(r.nth) : ", p=" + number_text(r.probability));
    }
    return out;
}

nlohmann::json syscall_faults_to_json(const std::vector<SyscallFaultRule>& rules) {
    nlohmann::json a = nlohmann::json::array();
    for (const SyscallFaultRule& r : rules)
        a.push_back(
            {{"error", syscall_fault_error_name(r.error)},
             {"calls", r.calls},
             {"probability", r.probability},
             {"nth", r.nth},
             {"loc", {{"file", r.loc.file}, {"line", r.loc.line}, {"column", r.loc.column}}}});
    return a;
}

std::vector<SyscallFaultRule> syscall_faults_from_json(const nlohmann::json& j) {
    std::vector<SyscallFaultRule> out;
    try {
        if (!j.is_array()) IPCT_FAIL("bad plan: 'syscall_faults' is not an array");
        for (const nlohmann::json& e : j) {
            SyscallFaultRule r;
            const auto err = parse_syscall_fault_error(e.at("error").get<std::string>());
            if (!err) IPCT_FAIL("bad plan: unknown syscall fault " + e.at("error").dump());
            r.error = *err;
            r.calls = e.at("calls").get<std::vector<std::string>>();
            const auto& known = syscall_fault_calls();
            for (const std::string& c : r.calls)
                if (std::find(known.begin(), known.end(), c) == known.end())
                    IPCT_FAIL("bad plan: unknown call '" + c + "' in 'syscall_faults'");
            r.probability = e.at("probability").get<double>();
            r.nth = e.at("nth").get<std::uint64_t>();
            if ((r.nth == 0) == !(r.probability > 0 && r.probability <= 1))
                IPCT_FAIL("bad plan: a syscall fault needs one of a probability and nth");
            const nlohmann::json& loc = e.at("loc");
            r.loc = {loc.at("file").get<std::string>(), loc.at("line").get<int>(),
                     loc.at("column").get<int>()};
            out.push_back(std::move(r));
        }
    } catch (const nlohmann::json::exception& e) {
        IPCT_FAIL(std::string("bad plan: 'syscall_faults': ") + e.what());
    }
    return out;
}

std::string syscall_faults_log_path(const std::string& run_dir, std::uint32_t process) {
    return run_dir + "/syscall_faults." + std::to_string(process) + ".log";
}

std::string syscall_faults_library(const std::string& worker_exe) {
    const fs::path dir = fs::path(worker_exe).parent_path();
    const std::vector<fs::path> places{dir / IPCT_FAULTS_LIB,
                                       dir / IPCT_FAULTS_INSTALL_REL / IPCT_FAULTS_LIB};
    std::string looked;
    for (const fs::path& p : places) {
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return fs::absolute(p).lexically_normal().string();
        looked += (looked.empty() ? "" : ", ") + p.lexically_normal().string();
    }
    throw EnvironmentError("syscall_faults: the syscall-fault interposer " IPCT_FAULTS_LIB
                           " is missing (looked in: " +
                           looked +
                           "); build the ipctorture_faults target or install it next to "
                           "ipctorture");
}

std::uint64_t syscall_faults_seed(const PlannedProcess& p) {
    return derive_seed(p.seed, 0x5f5c);  // 'faults': a stream no other use of p.seed takes
}

void add_syscall_faults_environment(std::vector<std::string>& env, const std::string& lib,
                                    const Plan& plan, const PlannedProcess& p) {
    if (env.empty())
        for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    const std::vector<std::pair<std::string, std::string>> vars{
        {"IPCTORTURE_FAULTS", syscall_faults_spec(p.syscall_faults)},
        {"IPCTORTURE_FAULTS_SEED", std::to_string(syscall_faults_seed(p))},
        {"IPCTORTURE_FAULTS_LOG", syscall_faults_log_path(plan.run_dir, p.index)},
        {"IPCTORTURE_FAULTS_PROCESS", std::to_string(p.index)},
        {"IPCTORTURE_FAULTS_ARMED", "0"}};
    std::string preload = lib;
    std::erase_if(env, [&](const std::string& v) {
        if (v.rfind("LD_PRELOAD=", 0) == 0) {
            const std::string was = v.substr(std::strlen("LD_PRELOAD="));
            if (!was.empty()) preload = was + ":" + lib;
            return true;
        }
        for (const auto& [name, value] : vars)
            if (v.rfind(name + "=", 0) == 0) return true;
        return false;
    });
    env.push_back("LD_PRELOAD=" + preload);
    for (const auto& [name, value] : vars) env.push_back(name + "=" + value);
}

void arm_syscall_faults() {
    using Arm = void (*)();
    auto arm = reinterpret_cast<Arm>(::dlsym(RTLD_DEFAULT, "ipctorture_faults_arm"));
    if (arm == nullptr)
        throw EnvironmentError(
            "syscall_faults: the syscall-fault interposer is not loaded in this process "
            "(LD_PRELOAD did not reach it)");
    arm();
}

SyscallFaultStats count_syscall_faults(const Record* recs, std::uint64_t n) {
    SyscallFaultStats s;
    std::map<std::pair<std::uint32_t, int>, std::uint64_t> by;
    for (std::uint64_t i = 0; i < n; ++i) {
        const Record& r = recs[i];
        if (r.op != Op::kSyscallFault) continue;
        ++s.total;
        ++by[{r.aux & 0xffff, r.err}];
        if (s.first_ns == 0) s.first_ns = r.t_start;
        s.last_ns = std::max(s.last_ns, r.t_end);
    }
    for (const auto& [key, count] : by)
        s.counts.push_back({call_name(key.first), key.second, count});
    return s;
}

std::string syscall_fault_counts_text(const SyscallFaultStats& s) {
    std::string out;
    for (const SyscallFaultCount& c : s.counts)
        out += (out.empty() ? "" : ", ") + c.call + " " + (c.err ? errno_name(c.err) : "short") +
               " x" + std::to_string(c.count);
    return out;
}

namespace {

// The processes a finding involves: its evidence's, for a crash or a hang
// the process the orchestrator's record names, and every process on the
// finding's channel (a loss is the producer's send in evidence, but the
// consumer's receives decided it).
std::vector<std::uint32_t> finding_processes(const Finding& f, const Plan& plan) {
    std::vector<std::uint32_t> out;
    auto add = [&](std::uint64_t p) {
        if (p < plan.processes.size() && std::find(out.begin(), out.end(), p) == out.end())
            out.push_back(static_cast<std::uint32_t>(p));
    };
    for (const Evidence& e : f.evidence) {
        const bool orchestrator = e.process == 0xffffffffu;
        if (!orchestrator) add(e.process);
        if (orchestrator && (e.record.op == Op::kWorkerStatus || e.record.op == Op::kHang))
            add(e.record.seq);
    }
    if (f.channel != kNoChannel)
        for (const PlannedProcess& p : plan.processes)
            if (p.in_channel == f.channel || p.out_channel == f.channel) add(p.index);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

void add_syscall_faults(CheckResult& res, const std::string& run_dir, const Plan& plan) {
    res.syscall_faults.assign(plan.processes.size(), {});
    bool any = false;
    for (const PlannedProcess& p : plan.processes) {
        const std::string path = syscall_faults_log_path(run_dir, p.index);
        if (!fs::exists(path)) continue;
        std::unique_ptr<EventLogReader> log;
        try {
            log = std::make_unique<EventLogReader>(path);
        } catch (const HarnessError&) {
            // A log whose header was never completed: the library stopped
            // before its first injection could be made.
            continue;
        }
        res.syscall_faults[p.index] = count_syscall_faults(log->data(), log->size());
        any = any || res.syscall_faults[p.index].total > 0;
    }
    if (!any) return;
    for (Finding& f : res.findings) {
        std::string note;
        for (std::uint32_t p : finding_processes(f, plan)) {
            const SyscallFaultStats& s = res.syscall_faults[p];
            if (s.total == 0) continue;
            note += (note.empty() ? "" : "; ") + plan.processes[p].name + ": " +
                    syscall_fault_counts_text(s);
        }
        if (!note.empty()) f.summary += " [injected syscall faults: " + note + "]";
    }
}

}  // namespace ipct
