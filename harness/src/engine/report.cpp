#include "ipctorture/report.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <iomanip>
#include <set>
#include <sstream>

#include "ipctorture/errors.hpp"
#include "ipctorture/faults.hpp"
#include "ipctorture/plugin_loader.hpp"
#include "ipctorture/repeat.hpp"
#include "ipctorture/schedule.hpp"
#include "ipctorture/syscall_faults.hpp"
#include "ipctorture/sha256.hpp"

namespace ipct {

const char* verdict_label(ScenarioVerdict v) {
    switch (v) {
        case ScenarioVerdict::kPass:
            return "PASS";
        case ScenarioVerdict::kFail:
            return "FAIL";
        case ScenarioVerdict::kError:
            return "ERROR";
        case ScenarioVerdict::kInterrupted:
            return "INTERRUPTED";
    }
    return "?";
}

ScenarioVerdict ScenarioReport::verdict() const {
    if (!ran) return ScenarioVerdict::kError;
    if (outcome.interrupted) return ScenarioVerdict::kInterrupted;
    return outcome.result.pass() ? ScenarioVerdict::kPass : ScenarioVerdict::kFail;
}

std::string shell_quote(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-./=:,@+") == std::string::npos)
        return s;
    std::string q = "'";
    for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

namespace {

struct Totals {
    std::uint64_t sent = 0, received = 0, lost = 0, dup = 0, corrupt = 0, fifo = 0, indet = 0;
};

Totals totals(const RunOutcome& o) {
    Totals t;
    for (const auto& c : o.result.channels) {
        t.sent += c.sent;
        t.received += c.received;
        t.indet += c.indeterminate;
    }
    t.lost = o.result.counts[int(FindingKind::kLost)] +
             o.result.counts[int(FindingKind::kLostUpdate)] +
             o.result.counts[int(FindingKind::kLastDelivery)];
    t.dup = o.result.counts[int(FindingKind::kDuplicated)];
    t.corrupt = o.result.counts[int(FindingKind::kCorrupted)] +
                o.result.counts[int(FindingKind::kUnexpected)];
    t.fifo = o.result.counts[int(FindingKind::kFifo)] +
             o.result.counts[int(FindingKind::kPriority)] +
             o.result.counts[int(FindingKind::kSelective)];
    return t;
}

std::string backends_of(const Plan& p) {
    std::set<std::string> s;
    for (const auto& c : p.channels) s.insert(backend_label(c.backend));  // a plugin: its file
    std::string out;
    for (const auto& b : s) out += (out.empty() ? "" : ",") + b;
    return out;
}

std::string fmt_secs(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2fs", s);
    return b;
}

}  // namespace

void print_table(std::ostream& os, const std::vector<ScenarioReport>& reps) {
    std::size_t w = 8;
    for (const auto& r : reps) w = std::max(w, r.name.size());
    os << std::left << std::setw(int(w) + 2) << "SCENARIO" << std::setw(16) << "BACKEND"
       << std::right << std::setw(6) << "PROCS" << std::setw(10) << "SENT" << std::setw(10)
       << "RECV" << std::setw(7) << "LOST" << std::setw(6) << "DUP" << std::setw(9) << "CORRUPT"
       << std::setw(6) << "ORDER" << std::setw(7) << "OTHER" << std::setw(7) << "INDET"
       << std::setw(9) << "TIME"
       << "  VERDICT\n";
    for (const auto& r : reps) {
        os << std::left << std::setw(int(w) + 2) << r.name;
        if (!r.ran) {
            os << "  " << verdict_label(r.verdict()) << ": " << r.error << "\n";
            continue;
        }
        const RunOutcome& o = r.outcome;
        Totals t = totals(o);
        const std::uint64_t other = o.result.counts[int(FindingKind::kHang)] +
                                    o.result.counts[int(FindingKind::kCrash)] +
                                    o.result.counts[int(FindingKind::kSignalSafety)] +
                                    o.result.counts[int(FindingKind::kSanitizer)];
        os << std::setw(16) << backends_of(o.plan) << std::right << std::setw(6)
           << o.plan.processes.size() << std::setw(10) << t.sent << std::setw(10) << t.received
           << std::setw(7) << t.lost << std::setw(6) << t.dup << std::setw(9) << t.corrupt
           << std::setw(6) << t.fifo << std::setw(7) << other << std::setw(7) << t.indet
           << std::setw(9) << fmt_secs(o.wall_s) << "  " << verdict_label(r.verdict()) << "\n";
    }
}

TableCounts table_counts(const RunOutcome& o) {
    const Totals t = totals(o);
    TableCounts c;
    c.backends = backends_of(o.plan);
    c.sent = t.sent;
    c.received = t.received;
    c.lost = t.lost;
    c.duplicated = t.dup;
    c.corrupted = t.corrupt;
    c.order = t.fifo;
    c.other = o.result.counts[int(FindingKind::kHang)] + o.result.counts[int(FindingKind::kCrash)] +
              o.result.counts[int(FindingKind::kSignalSafety)] +
              o.result.counts[int(FindingKind::kSanitizer)];
    c.indeterminate = t.indet;
    return c;
}

namespace {

std::string process_label(std::uint32_t p, const Plan& plan) {
    if (p >= plan.processes.size()) return {};
    return plan.processes[p].name + " (" + role_name(plan.processes[p].role) + ")";
}

// The report's stacks under its finding, a few frames each.
void print_sanitizer_stacks(std::ostream& os, const SanitizerReport& r, const Plan& plan) {
    constexpr std::size_t kFrames = 4;
    for (const SanitizerStack& st : r.stacks) {
        os << "      " << (st.title.empty() ? "stack" : st.title);
        const std::string who = process_label(st.process, plan);
        if (!who.empty()) os << " [" << who << "]";
        os << ":\n";
        for (std::size_t i = 0; i < st.frames.size() && i < kFrames; ++i)
            os << "        " << st.frames[i] << "\n";
    }
}

// "consumer0: msgrcv EINTR x3; producer0: write short x12", empty if none.
std::string injected_text(const RunOutcome& o) {
    std::string out;
    for (std::size_t i = 0; i < o.result.syscall_faults.size() && i < o.plan.processes.size(); ++i)
        if (o.result.syscall_faults[i].total > 0)
            out += (out.empty() ? "" : "; ") + o.plan.processes[i].name + ": " +
                   syscall_fault_counts_text(o.result.syscall_faults[i]);
    return out;
}

}  // namespace

void print_findings(std::ostream& os, const std::vector<ScenarioReport>& reps,
                    std::size_t per_kind) {
    for (const auto& r : reps) {
        if (!r.ran) continue;
        const std::string injected = injected_text(r.outcome);
        if (r.verdict() == ScenarioVerdict::kPass) {
            if (!injected.empty())
                os << "\n" << r.name << ": passed with injected syscall faults: " << injected
                   << "\n";
            continue;
        }
        const CheckResult& res = r.outcome.result;
        os << "\n" << r.name << " (" << r.file << "), seed " << r.seed << ":\n";
        if (!injected.empty()) os << "  injected syscall faults: " << injected << "\n";
        std::size_t shown[kFindingKinds] = {};
        for (const auto& f : res.findings) {
            if (shown[int(f.kind)]++ >= per_kind) continue;
            os << "  " << finding_kind_name(f.kind) << ": " << f.summary << "\n";
            if (f.signal_safety)  // the first frame is in the summary
                for (std::size_t i = 1; i < f.signal_safety->frames.size() && i < 6; ++i)
                    os << "      " << f.signal_safety->frames[i] << "\n";
            if (f.sanitizer) print_sanitizer_stacks(os, *f.sanitizer, r.outcome.plan);
        }
        for (int k = 0; k < kFindingKinds; ++k)
            if (res.counts[k] > shown[k] && shown[k] >= per_kind)
                os << "  ... " << res.counts[k] - per_kind << " more "
                   << finding_kind_name(FindingKind(k)) << "\n";
        if (r.outcome.interrupted) os << "  run interrupted: results cover what ran so far\n";
        if (r.outcome.kept) os << "  run directory kept: " << r.outcome.run_dir << "\n";
        os << "  reproduce: " << r.reproduce << "\n";
    }
}

namespace {

nlohmann::json record_json(const Evidence& e, const Plan& plan) {
    const Record& r = e.record;
    nlohmann::json j{{"op", op_name(r.op)},     {"status", status_name(r.status)},
                     {"t_start_ns", r.t_start}, {"t_end_ns", r.t_end},
                     {"origin", r.origin},      {"seq", r.seq},
                     {"size", r.size},          {"aux", r.aux},
                     {"extra", r.extra}};
    if (e.process < plan.processes.size()) {
        j["process"] = plan.processes[e.process].name;
        j["role"] = role_name(plan.processes[e.process].role);
    } else {
        j["process"] = "orchestrator";
    }
    if (r.channel < plan.channels.size() && r.op != Op::kWorkerStatus && r.op != Op::kHang)
        j["channel"] = plan.channels[r.channel].name;
    if (r.err) j["errno"] = errno_name(r.err);
    return j;
}

nlohmann::json stats_json(const ChannelStats& c, const PlannedChannel& ch) {
    nlohmann::json j{{"name", ch.name},
                     {"backend", ch.backend},
                     {"shape", shape_name(ch.shape)},
                     {"sent", c.sent},
                     {"send_unknown", c.send_unknown},
                     {"received", c.received},
                     {"bytes_received", c.bytes_received},
                     {"lost", c.lost},
                     {"duplicated", c.duplicated},
                     {"corrupted", c.corrupted},
                     {"unexpected", c.unexpected},
                     {"garbage_bytes", c.garbage_bytes},
                     {"fifo_violations", c.fifo_violations},
                     {"order_violations", c.order_violations},
                     {"indeterminate", c.indeterminate}};
    if (c.sent > 0) {
        // Rates: what a lossy channel's bounds are judged against.
        j["loss_rate"] = double(c.lost) / double(c.sent);
        j["duplicate_rate"] = double(c.duplicated) / double(c.sent);
        j["reorder_rate"] = double(c.fifo_violations) / double(c.sent);
    }
    if (c.counter_observed) j["counter_value"] = c.counter_value;
    if (c.proxy.present) {
        // What the chaos proxy logged, beside what the checker counted.
        const ProxyStats& p = c.proxy;
        j["proxy"] = {{"exited", p.exited},
                      {"dropped", p.dropped},
                      {"duplicated", p.duplicated},
                      {"reordered", p.reordered},
                      {"delayed", p.delayed},
                      {"overtaken", p.overtaken},
                      {"split", p.split},
                      {"tcp_delayed", p.tcp_delayed},
                      {"cut", p.cut},
                      {"resumed", p.resumed},
                      {"excused", p.excused}};
    }
    return j;
}

nlohmann::json signal_safety_json(const SignalSafetyReport& r, const Plan& plan) {
    nlohmann::json j{{"function", r.errno_clobbered ? "errno clobbered" : r.function},
                     {"signal", r.signal},
                     {"depth", r.depth},
                     {"t_ns", r.t_ns},
                     {"pid", r.pid},
                     {"tid", r.tid},
                     {"handler", r.handler},
                     {"frames", r.frames},
                     {"raw_handler", r.raw_handler},
                     {"raw_frames", r.raw_frames}};
    if (r.process < plan.processes.size()) {
        j["process"] = plan.processes[r.process].name;
        j["role"] = role_name(plan.processes[r.process].role);
    }
    if (r.errno_clobbered) {
        j["errno_before"] = errno_name(r.errno_before);
        j["errno_after"] = errno_name(r.errno_after);
    }
    return j;
}

}  // namespace

namespace {

nlohmann::json process_json(std::uint32_t p, const Plan& plan) {
    if (p >= plan.processes.size()) return nullptr;
    return {{"name", plan.processes[p].name},
            {"index", p},
            {"role", role_name(plan.processes[p].role)}};
}

// A process's rules and what they injected, counted by call and errno
// ("short" for a short transfer).
nlohmann::json syscall_faults_json(const RunOutcome& o, std::size_t i) {
    nlohmann::json by_call = nlohmann::json::object();
    std::uint64_t total = 0;
    if (i < o.result.syscall_faults.size()) {
        total = o.result.syscall_faults[i].total;
        for (const SyscallFaultCount& c : o.result.syscall_faults[i].counts)
            by_call[c.call][c.err ? errno_name(c.err) : "short"] = c.count;
    }
    return {{"rules", syscall_faults_text(o.plan.processes[i].syscall_faults)},
            {"injected", total},
            {"by_call", by_call}};
}

nlohmann::json sanitizer_json(const SanitizerReport& r, const Plan& plan) {
    nlohmann::json j{{"tool", r.tool},
                     {"kind", r.kind},
                     {"headline", r.headline},
                     {"truncated", r.truncated},
                     {"processes", nlohmann::json::array()},
                     {"stacks", nlohmann::json::array()}};
    if (!r.location.empty()) j["location"] = r.location;
    for (std::uint32_t p : r.processes) j["processes"].push_back(process_json(p, plan));
    for (const SanitizerStack& st : r.stacks)
        j["stacks"].push_back({{"title", st.title},
                               {"thread", st.thread},
                               {"process", process_json(st.process, plan)},
                               {"frames", st.frames}});
    return j;
}

}  // namespace

nlohmann::json finding_json(const Finding& f, const Plan& plan) {
    nlohmann::json j{{"kind", finding_kind_name(f.kind)},
                     {"signature", finding_signature(f, plan)},
                     {"summary", f.summary}};
    if (f.channel < plan.channels.size()) j["channel"] = plan.channels[f.channel].name;
    if (f.signal_safety) j["signal_safety"] = signal_safety_json(*f.signal_safety, plan);
    if (f.kind != FindingKind::kHang && f.kind != FindingKind::kCrash &&
        f.kind != FindingKind::kSignalSafety && f.kind != FindingKind::kSanitizer) {
        j["message"] = {{"origin", f.origin}, {"seq", f.seq}};
    }
    j["evidence"] = nlohmann::json::array();
    for (const auto& e : f.evidence) j["evidence"].push_back(record_json(e, plan));
    if (f.sanitizer) j["sanitizer"] = sanitizer_json(*f.sanitizer, plan);
    return j;
}

namespace {

// What replay needs to run r again: the scenario (its text is the report's
// "scenario_texts" entry under the hash) and the settings.
nlohmann::json recipe_json(const ScenarioReport& r) {
    const RunRecipe& k = r.recipe;
    return {{"scenario",
             {{"file", r.file},
              {"directory", r.directory},
              {"cell", r.cell},
              {"sha256", sha256_hex(r.text)}}},
            {"settings",
             {{"timeout_s", k.timeout_s ? nlohmann::json(*k.timeout_s) : nlohmann::json(nullptr)},
              {"perturb",
               k.perturb ? nlohmann::json(perturb_text(*k.perturb)) : nlohmann::json(nullptr)},
              {"sigsafe", k.sigsafe},
              {"as_threads", k.as_threads}}}};
}

nlohmann::json scenario_json(const ScenarioReport& r) {
    nlohmann::json j{{"file", r.file},
                     {"name", r.name},
                     {"seed", r.seed},
                     {"verdict", verdict_label(r.verdict())},
                     {"reproduce", r.reproduce}};
    j.update(recipe_json(r));
    if (r.repetition) j["repetition"] = *r.repetition;
    if (!r.ran) {
        j["error"] = r.error;
        return j;
    }
    const RunOutcome& o = r.outcome;
    j["wall_s"] = o.wall_s;
    j["active_s"] = o.active_s;
    j["check_s"] = o.check_s;
    j["interrupted"] = o.interrupted;
    j["as_threads"] = o.as_threads;
    j["run_dir"] = o.kept ? nlohmann::json(o.run_dir) : nlohmann::json(nullptr);
    j["records"] = o.result.records;
    j["channels"] = nlohmann::json::array();
    for (std::size_t c = 0; c < o.result.channels.size() && c < o.plan.channels.size(); ++c)
        j["channels"].push_back(stats_json(o.result.channels[c], o.plan.channels[c]));
    nlohmann::json counts = nlohmann::json::object();
    for (int k = 0; k < kFindingKinds; ++k)
        counts[finding_kind_name(FindingKind(k))] = o.result.counts[k];
    counts["indeterminate"] = o.result.indeterminate;
    j["counts"] = counts;
    j["findings"] = nlohmann::json::array();
    std::set<std::string> signatures;
    for (const auto& f : o.result.findings) {
        j["findings"].push_back(finding_json(f, o.plan));
        signatures.insert(finding_signature(f, o.plan));
    }
    j["signatures"] = signatures;  // sorted, each once: what replay compares
    // The list is capped per kind (--max-findings); say so when it is.
    j["findings_truncated"] = o.result.findings.size() < o.result.total_findings();
    // The process faults done (or not: the target had ended), at seconds
    // after the start barrier.
    j["faults"] = nlohmann::json::array();
    for (const FaultEvent& e : o.faults) {
        nlohmann::json f{{"step", fault_step_name(e.step)},
                         {"fault", e.fault},
                         {"target", e.target < o.plan.processes.size()
                                        ? nlohmann::json(o.plan.processes[e.target].name)
                                        : nlohmann::json(e.target)},
                         {"carried_out", e.done}};
        if (e.signal != 0) f["signal"] = any_signal_name(e.signal);
        if (e.step == FaultStep::kRespawn) f["incarnation"] = e.incarnation;
        if (!e.done) f["error"] = errno_name(e.err);
        f["at_s"] = o.t_start_ns != 0 && e.t_ns >= o.t_start_ns
                        ? nlohmann::json(double(e.t_ns - o.t_start_ns) / 1e9)
                        : nlohmann::json(nullptr);
        j["faults"].push_back(std::move(f));
    }
    j["processes"] = nlohmann::json::array();
    for (std::size_t i = 0; i < o.plan.processes.size(); ++i) {
        const PlannedProcess& q = o.plan.processes[i];
        // Unpinned workers run where the harness may: its own CPU set.
        nlohmann::json p{{"name", q.name},
                         {"role", role_name(q.role)},
                         {"perturb", perturb_text(q.perturb)},
                         {"placement", placement_name(q.placement)},
                         {"cpus", q.cpus.empty() ? allowed_cpus() : q.cpus}};
        if (i < o.workers.size()) {
            p["pid"] = o.workers[i].pid;
            const int st = o.workers[i].status;
            if (st >= 0 && WIFEXITED(st)) p["exit_code"] = WEXITSTATUS(st);
            if (st >= 0 && WIFSIGNALED(st)) p["signal"] = sigabbrev_np(WTERMSIG(st));
            p["killed_by_harness"] = o.workers[i].killed_by_harness;
        }
        if (!q.syscall_faults.empty()) p["syscall_faults"] = syscall_faults_json(o, i);
        j["processes"].push_back(p);
    }
    return j;
}
}  // namespace

nlohmann::json report_json(const std::vector<ScenarioReport>& reps, const std::string& command) {
    nlohmann::json j{{"ipctorture_report", kReportVersion},
                     {"tool_version", "0.1.0"},
                     {"command", command},
                     {"exit_status", exit_status(reps)},
                     {"reproducibility", kReproducibilityNote},
                     {"scenarios", nlohmann::json::array()},
                     {"scenario_texts", nlohmann::json::object()}};
    for (const auto& r : reps) {
        j["scenarios"].push_back(scenario_json(r));
        // Each text once, under its hash: repetitions and matrix cells share one.
        if (!r.text.empty()) j["scenario_texts"][sha256_hex(r.text)] = r.text;
    }
    return j;
}

std::string json_text(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

int exit_status(const std::vector<ScenarioReport>& reps) {
    int st = kExitPass;
    for (const auto& r : reps) {
        switch (r.verdict()) {
            case ScenarioVerdict::kPass:
                break;
            case ScenarioVerdict::kFail:
                st = std::max(st, int(kExitFindings));
                break;
            case ScenarioVerdict::kError:
                st = std::max(st, int(kExitEnvironment));
                break;
            case ScenarioVerdict::kInterrupted:
                return 128 + (r.outcome.interrupt_signal ? r.outcome.interrupt_signal : 2);
        }
    }
    return st;
}

}  // namespace ipct
