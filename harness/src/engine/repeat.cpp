#include "ipctorture/repeat.hpp"

#include <algorithm>
#include <iomanip>
#include <map>
#include <set>
#include <tuple>

#include "ipctorture/errors.hpp"
#include "ipctorture/schedule.hpp"

namespace ipct {

std::uint64_t repetition_seed(std::uint64_t base, std::uint32_t i) {
    // A stream of its own ("REPEAT"), apart from the per-process seeds that
    // derive_seed(base, k) gives a run of seed base.
    return i == 0 ? base : derive_seed(base ^ 0x524550454154ull, i);
}

std::string reproduce_command(const std::string& file, const std::string& cell, std::uint64_t seed,
                              const RunSettings& r) {
    std::string c = "ipctorture run " + shell_quote(file) + " --seed " + std::to_string(seed);
    if (!cell.empty()) c += " --cell " + shell_quote(cell);
    if (r.timeout_s) c += " --timeout " + std::to_string(*r.timeout_s);
    if (r.perturb) c += " --perturb " + shell_quote(perturb_text(*r.perturb));
    if (r.sigsafe) c += " --sigsafe";
    if (r.as_threads) c += " --as-threads";
    return c;
}

ScenarioReport run_report(const Scenario& s, std::uint64_t seed, const RunSettings& r) {
    ScenarioReport rep;
    rep.file = s.file;
    rep.name = s.name;
    rep.seed = seed;
    rep.reproduce = reproduce_command(s.file, s.cell, seed, r);
    RunOptions o;
    o.seed = seed;
    o.timeout_s = r.timeout_s;
    o.keep = r.keep;
    o.keep_failed = r.keep_failed;
    o.max_findings = r.max_findings;
    o.perturb = r.perturb;
    o.sigsafe = r.sigsafe;
    o.as_threads = r.as_threads;
    o.on_progress = r.on_progress;
    o.progress_interval_s = r.progress_interval_s;
    try {
        rep.outcome = run_scenario(s, o);
        rep.ran = true;
    } catch (const EnvironmentError& e) {
        rep.error = std::string("environment: ") + e.what();
    } catch (const std::exception& e) {
        rep.error = std::string("harness error: ") + e.what();
    }
    return rep;
}

const PlannedProcess* finding_process(const Finding& f, const Plan& plan) {
    for (auto it = f.evidence.rbegin(); it != f.evidence.rend(); ++it)
        if (it->process < plan.processes.size()) return &plan.processes[it->process];
    return nullptr;
}

std::string finding_signature(const Finding& f, const Plan& plan) {
    const PlannedProcess* p = finding_process(f, plan);
    return std::string(finding_kind_name(f.kind)) + "/" +
           (f.channel < plan.channels.size() ? plan.channels[f.channel].name : "-") + "/" +
           (p ? role_name(p->role) : "-");
}

RepeatSummary summarize_repetitions(const std::vector<const ScenarioReport*>& reps,
                                    std::uint64_t base_seed) {
    RepeatSummary s;
    s.base_seed = base_seed;
    using Key = std::tuple<std::string, std::string, std::string>;
    std::map<Key, FindingGroup> groups;
    for (const ScenarioReport* r : reps) {
        s.file = r->file;
        s.name = r->name;
        s.seeds.push_back(r->seed);
        s.verdicts.push_back(r->verdict());
        if (r->verdict() == ScenarioVerdict::kFail) ++s.failing;
        if (r->verdict() == ScenarioVerdict::kError ||
            r->verdict() == ScenarioVerdict::kInterrupted)
            ++s.errors;
        if (!r->ran) continue;
        const CheckResult& res = r->outcome.result;
        for (int k = 0; k < kFindingKinds; ++k) {
            s.counts[k] += res.counts[k];
            if (res.counts[k] > 0) ++s.runs_with[k];
        }
        std::set<Key> seen;
        const Plan& plan = r->outcome.plan;
        for (const Finding& f : res.findings) {
            const PlannedProcess* p = finding_process(f, plan);
            const Key key{finding_kind_name(f.kind),
                          f.channel < plan.channels.size() ? plan.channels[f.channel].name : "-",
                          p ? role_name(p->role) : "-"};
            FindingGroup& g = groups[key];
            std::tie(g.kind, g.channel, g.role) = key;
            ++g.findings;
            if (seen.insert(key).second) ++g.runs;
        }
    }
    for (auto& [key, g] : groups) s.groups.push_back(g);
    return s;
}

namespace {

std::string percent(std::uint32_t a, std::size_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", b ? 100.0 * a / double(b) : 0.0);
    return buf;
}

}  // namespace

void print_repeat_summaries(std::ostream& os, const std::vector<RepeatSummary>& sums) {
    std::size_t w = 8;
    for (const auto& s : sums) w = std::max(w, s.name.size());
    os << std::left << std::setw(int(w) + 2) << "SCENARIO" << std::right << std::setw(6) << "RUNS"
       << std::setw(9) << "FAILING" << std::setw(8) << "ERRORS" << std::setw(7) << "RATE"
       << "  BASE SEED\n";
    for (const auto& s : sums)
        os << std::left << std::setw(int(w) + 2) << s.name << std::right << std::setw(6)
           << s.seeds.size() << std::setw(9) << s.failing << std::setw(8) << s.errors
           << std::setw(7) << percent(s.failing, s.seeds.size()) << "  " << s.base_seed << "\n";
    for (const auto& s : sums) {
        if (s.groups.empty() && s.failing == 0) continue;
        os << "\n" << s.name << ": findings by kind, channel and role\n";
        os << "  " << std::left << std::setw(14) << "KIND" << std::setw(16) << "CHANNEL"
           << std::setw(10) << "ROLE" << std::right << std::setw(10) << "FINDINGS" << std::setw(7)
           << "RUNS"
           << "\n";
        for (const FindingGroup& g : s.groups)
            os << "  " << std::left << std::setw(14) << g.kind << std::setw(16) << g.channel
               << std::setw(10) << g.role << std::right << std::setw(10) << g.findings
               << std::setw(7) << g.runs << "\n";
        os << "  (findings as listed, at most --max-findings per kind and run; exact totals:";
        for (int k = 0; k < kFindingKinds; ++k)
            if (s.counts[k] > 0)
                os << " " << finding_kind_name(FindingKind(k)) << " " << s.counts[k];
        os << ")\n  failing seeds:";
        for (std::size_t i = 0; i < s.seeds.size(); ++i)
            if (s.verdicts[i] == ScenarioVerdict::kFail) os << " " << s.seeds[i];
        os << "\n";
    }
}

nlohmann::json repeat_summary_json(const RepeatSummary& s) {
    nlohmann::json runs = nlohmann::json::array();
    for (std::size_t i = 0; i < s.seeds.size(); ++i)
        runs.push_back(
            {{"repetition", i}, {"seed", s.seeds[i]}, {"verdict", verdict_label(s.verdicts[i])}});
    nlohmann::json counts = nlohmann::json::object(), runs_with = nlohmann::json::object();
    for (int k = 0; k < kFindingKinds; ++k) {
        counts[finding_kind_name(FindingKind(k))] = s.counts[k];
        runs_with[finding_kind_name(FindingKind(k))] = s.runs_with[k];
    }
    nlohmann::json groups = nlohmann::json::array();
    for (const FindingGroup& g : s.groups)
        groups.push_back({{"kind", g.kind},
                          {"channel", g.channel},
                          {"role", g.role},
                          {"findings", g.findings},
                          {"runs", g.runs}});
    return {{"file", s.file},
            {"name", s.name},
            {"base_seed", s.base_seed},
            {"runs", s.seeds.size()},
            {"failing_runs", s.failing},
            {"error_runs", s.errors},
            {"repetitions", runs},
            {"counts", counts},
            {"runs_with", runs_with},
            {"groups", groups}};
}

}  // namespace ipct
