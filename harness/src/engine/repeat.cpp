#include "ipctorture/repeat.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <map>
#include <set>

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

RunRecipe recipe_of(const RunSettings& r) {
    return {r.timeout_s, r.perturb, r.sigsafe, r.as_threads};
}

std::string absolute_directory(const std::string& file) {
    std::error_code ec;
    const std::filesystem::path p = std::filesystem::absolute(file, ec);
    return ec ? std::string() : p.lexically_normal().parent_path().string();
}

ScenarioReport run_report(const Scenario& s, std::uint64_t seed, const RunSettings& r) {
    ScenarioReport rep;
    rep.file = s.file;
    rep.name = s.name;
    rep.cell = s.cell;
    rep.text = s.text;
    rep.directory = absolute_directory(s.file);
    rep.seed = seed;
    rep.recipe = recipe_of(r);
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

std::set<std::string> run_signatures(const ScenarioReport& r) {
    std::set<std::string> out;
    if (!r.ran) return out;
    for (const Finding& f : r.outcome.result.findings)
        out.insert(finding_signature(f, r.outcome.plan));
    return out;
}

bool reproduces(const std::set<std::string>& got, const std::set<std::string>& want) {
    if (want.empty()) return got.empty();
    return std::includes(got.begin(), got.end(), want.begin(), want.end());
}

const char* const kReproducibilityNote =
    "the seed reproduces the workload, the fault schedule and the perturbation decisions, but "
    "not the operating system's timing: a run with the same seed may interleave differently, so "
    "a race shows in a share of its runs";

RateInterval wilson_interval(std::uint32_t k, std::uint32_t n) {
    RateInterval r;
    r.k = k;
    r.n = n;
    if (n == 0) return r;
    constexpr double z = 1.959963984540054;  // the normal distribution's 97.5 % quantile
    const double p = double(k) / n, z2n = z * z / n;
    const double denom = 1 + z2n;
    const double center = (p + z2n / 2) / denom;
    const double half = z * std::sqrt(p * (1 - p) / n + z2n / (4.0 * n)) / denom;
    r.rate = p;
    r.low = k == 0 ? 0.0 : std::max(0.0, center - half);
    r.high = k == n ? 1.0 : std::min(1.0, center + half);
    return r;
}

namespace {

std::string percent_text(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, x > 0 && x < 0.1 ? "%.1f%%" : "%.0f%%", 100 * x);
    return buf;
}

}  // namespace

std::string rate_text(const RateInterval& r) {
    return percent_text(r.rate) + " (95% CI " + percent_text(r.low) + "-" + percent_text(r.high) +
           ")";
}

nlohmann::json rate_json(const RateInterval& r) {
    return {{"runs", r.k},       {"of", r.n},           {"rate", r.rate},
            {"ci95_low", r.low}, {"ci95_high", r.high}, {"method", "wilson"}};
}

RepeatSummary summarize_repetitions(const std::vector<const ScenarioReport*>& reps,
                                    std::uint64_t base_seed) {
    RepeatSummary s;
    s.base_seed = base_seed;
    std::map<std::string, FindingGroup> groups;
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
        const Plan& plan = r->outcome.plan;
        for (const Finding& f : res.findings) {
            FindingGroup& g = groups[finding_signature(f, plan)];
            if (g.signature.empty()) {
                const PlannedProcess* p = finding_process(f, plan);
                g.signature = finding_signature(f, plan);
                g.kind = finding_kind_name(f.kind);
                g.channel = f.channel < plan.channels.size() ? plan.channels[f.channel].name : "-";
                g.role = p ? role_name(p->role) : "-";
            }
            ++g.findings;
        }
        for (const std::string& sig : run_signatures(*r)) ++groups[sig].runs;
        if (!s.reference && r->verdict() == ScenarioVerdict::kFail)
            s.reference = run_signatures(*r);
    }
    for (auto& [key, g] : groups) s.groups.push_back(g);
    const auto n = static_cast<std::uint32_t>(reps.size());
    s.failure_rate = wilson_interval(s.failing, n);
    if (s.reference) {
        std::uint32_t again = 0;
        for (const ScenarioReport* r : reps)
            if (r->verdict() == ScenarioVerdict::kFail &&
                reproduces(run_signatures(*r), *s.reference))
                ++again;
        s.reproduction_rate = wilson_interval(again, n);
    }
    return s;
}

namespace {

std::string joined_signatures(const std::set<std::string>& sigs) {
    if (sigs.empty()) return "none (a pass)";
    std::string out;
    for (const std::string& g : sigs) out += (out.empty() ? "" : ", ") + g;
    return out;
}

void print_groups(std::ostream& os, const RepeatSummary& s) {
    std::size_t w = 10;
    for (const FindingGroup& g : s.groups) w = std::max(w, g.signature.size());
    os << "\n" << s.name << ": findings by signature (kind/channel/role)\n";
    os << "  " << std::left << std::setw(int(w) + 2) << "SIGNATURE" << std::right << std::setw(10)
       << "FINDINGS" << std::setw(7) << "RUNS\n";
    for (const FindingGroup& g : s.groups)
        os << "  " << std::left << std::setw(int(w) + 2) << g.signature << std::right
           << std::setw(10) << g.findings << std::setw(6) << g.runs << "\n";
    os << "  (findings as listed, at most --max-findings per kind and run; exact totals:";
    for (int k = 0; k < kFindingKinds; ++k)
        if (s.counts[k] > 0) os << " " << finding_kind_name(FindingKind(k)) << " " << s.counts[k];
    os << ")\n  failing seeds:";
    for (std::size_t i = 0; i < s.seeds.size(); ++i)
        if (s.verdicts[i] == ScenarioVerdict::kFail) os << " " << s.seeds[i];
    os << "\n";
    if (s.reference)
        os << "  reproduction: the first failing run's signatures ("
           << joined_signatures(*s.reference) << ") showed in " << s.reproduction_rate.k << " of "
           << s.reproduction_rate.n << " runs, " << rate_text(s.reproduction_rate) << "\n";
}

}  // namespace

void print_repeat_summaries(std::ostream& os, const std::vector<RepeatSummary>& sums) {
    std::size_t w = 8;
    for (const auto& s : sums) w = std::max(w, s.name.size());
    os << std::left << std::setw(int(w) + 2) << "SCENARIO" << std::right << std::setw(6) << "RUNS"
       << std::setw(9) << "FAILING" << std::setw(8) << "ERRORS"
       << "  " << std::left << std::setw(28) << "FAILURE RATE"
       << "BASE SEED\n";
    for (const auto& s : sums)
        os << std::left << std::setw(int(w) + 2) << s.name << std::right << std::setw(6)
           << s.seeds.size() << std::setw(9) << s.failing << std::setw(8) << s.errors << "  "
           << std::left << std::setw(28) << rate_text(s.failure_rate) << s.base_seed << "\n";
    for (const auto& s : sums)
        if (!s.groups.empty() || s.failing > 0) print_groups(os, s);
    if (!sums.empty()) os << "\nnote: " << kReproducibilityNote << "\n";
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
        groups.push_back({{"signature", g.signature},
                          {"kind", g.kind},
                          {"channel", g.channel},
                          {"role", g.role},
                          {"findings", g.findings},
                          {"runs", g.runs}});
    nlohmann::json reproduction = nullptr;
    if (s.reference)
        reproduction = {{"signatures", *s.reference}, {"rate", rate_json(s.reproduction_rate)}};
    return {{"file", s.file},
            {"name", s.name},
            {"base_seed", s.base_seed},
            {"runs", s.seeds.size()},
            {"failing_runs", s.failing},
            {"error_runs", s.errors},
            {"failure_rate", rate_json(s.failure_rate)},
            {"reproduction", reproduction},
            {"reproducibility", kReproducibilityNote},
            {"repetitions", runs},
            {"counts", counts},
            {"runs_with", runs_with},
            {"groups", groups}};
}

}  // namespace ipct
