#include "ipctorture/detect.hpp"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "ipctorture/errors.hpp"
#include "ipctorture/junit.hpp"
#include "ipctorture/progress.hpp"
#include "ipctorture/repeat.hpp"
#include "ipctorture/report.hpp"
#include "ipctorture/schedule.hpp"
#include "ipctorture/shard.hpp"

namespace ipct {

namespace fs = std::filesystem;
using nlohmann::json;

void add_perturb_option(CLI::App& cmd, std::string& spec) {
    cmd.add_option("--perturb", spec,
                   "schedule perturbation for every process, replacing the scenario's: off, "
                   "default, a probability (0.05) or key=value pairs "
                   "(p=0.05,sleep=200us,spin=2000,kinds=yield+spin+sleep,sites=calls+windows)")
        ->check([](const std::string& s) {
            std::string why;
            return parse_perturb_text(s, &why) ? std::string() : why;
        });
}

void add_detect_options(CLI::App& cmd, DetectArgs& a) {
    cmd.add_option("paths", a.paths,
                   "zoo directories (their *.yaml are the entries; the twins are in twins/ inside "
                   "or beside it) or "
                   "files (default scenarios/zoo)");
    cmd.add_option("--twin", a.twins, "one more correct twin (a file or directory); repeatable")
        ->allow_extra_args(false);
    cmd.add_option("--runs", a.runs, "seeded runs per zoo entry and setting")
        ->check(CLI::Range(1u, 100000u));
    cmd.add_option("--off-runs", a.off_runs,
                   "runs per entry with perturbation off (default --runs; 0: none)")
        ->check(CLI::Range(0u, 100000u));
    cmd.add_option("--twin-runs", a.twin_runs, "seeded runs per twin (0: none)")
        ->check(CLI::Range(0u, 100000u));
    add_perturb_option(cmd, a.perturb);
    auto* until = cmd.add_flag("--until-found", a.until_found,
                               "CI form: run each entry until its first failing run (at most "
                               "--max), which must show an expected kind");
    cmd.add_option("--max", a.max, "with --until-found: the most runs per entry")
        ->check(CLI::Range(1u, 100000u))
        ->needs(until);
    cmd.add_option("--min-rate", a.min_rate,
                   "the perturbed detection rate every entry must reach (default 0.95)")
        ->check(CLI::Range(0.0, 1.0));
    cmd.add_option("--seed", a.seed, "base seed for every scenario (default each one's own)");
    cmd.add_option("--timeout", a.timeout, "replace every scenario's timeout (seconds)")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--max-findings", a.max_findings, "findings listed per kind and run")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--json", a.json, "write the results here");
    cmd.add_option("--junit", a.junit,
                   "write a JUnit XML report here: a testcase per zoo entry (a failure when it "
                   "was not detected as required) and per twin (a failure when a run failed)");
    cmd.add_flag("--quiet", a.quiet, "print nothing; use the exit status or --json");
    add_shard_option(cmd, a.shard);
}

std::vector<std::string> expected_kinds(const Scenario& s) {
    std::vector<std::string> out;
    try {
        const YAML::Node e = YAML::Load(s.text)["expect"];
        if (e && e.IsSequence())
            for (const YAML::Node& k : e)
                if (k.IsScalar()) out.push_back(k.Scalar());
    } catch (const YAML::Exception&) {
        // The loader read this text already; nothing is expected of what it refused.
    }
    return out;
}

namespace {

bool wanted(FindingKind k, const std::vector<std::string>& kinds) {
    return kinds.empty() ||
           std::find(kinds.begin(), kinds.end(), finding_kind_name(k)) != kinds.end();
}

// Kinds proved only by the end of the run (a drained channel, the final
// value of a counter, the rates of a whole run).
bool proved_at_end(const Finding& f) {
    return f.kind == FindingKind::kLost || f.kind == FindingKind::kLastDelivery ||
           f.kind == FindingKind::kLostUpdate || f.evidence.empty();
}

}  // namespace

std::optional<double> first_finding_s(const RunOutcome& o, const std::vector<std::string>& kinds) {
    if (o.t_start_ns == 0) return std::nullopt;
    std::optional<std::uint64_t> first;
    for (const Finding& f : o.result.findings) {
        if (!wanted(f.kind, kinds)) continue;
        std::uint64_t t = proved_at_end(f) ? o.t_end_ns : 0;
        for (const Evidence& e : f.evidence)
            t = std::max(t, e.record.t_end ? e.record.t_end : e.record.t_start);
        if (!first || t < *first) first = t;
    }
    if (!first) return std::nullopt;
    return *first > o.t_start_ns ? double(*first - o.t_start_ns) / 1e9 : 0.0;
}

namespace {

struct Entry {
    Scenario scenario;
    std::vector<std::string> expect;  // zoo entries only
};

void add_files(const std::string& path, std::vector<std::string>& out) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path, ec)) {
        const fs::path& p = e.path();
        if ((p.extension() == ".yaml" || p.extension() == ".yml") && e.is_regular_file(ec))
            out.push_back(p.string());
    }
    if (ec) throw ScenarioError(path, 0, 0, "cannot list directory: " + ec.message());
}

// Where a zoo directory's twins are: `twins/` inside it, or the sibling
// `twins/` (scenarios/zoo -> scenarios/twins, so that `run scenarios/zoo`
// runs planted bugs only).  Empty if neither exists.
fs::path twins_of(fs::path zoo_dir) {
    if (zoo_dir.filename().empty()) zoo_dir = zoo_dir.parent_path();  // "scenarios/zoo/"
    for (const fs::path& d : {zoo_dir / "twins", zoo_dir.parent_path() / "twins"})
        if (fs::is_directory(d)) return d;
    return {};
}

// Zoo entries and twins named by the arguments, each file once, sorted.
void collect(const DetectArgs& a, std::vector<std::string>& zoo, std::vector<std::string>& twins) {
    std::vector<std::string> paths = a.paths;
    if (paths.empty()) paths.push_back("scenarios/zoo");
    for (const std::string& p : paths) {
        if (!fs::exists(p)) throw ScenarioError(p, 0, 0, "no such file or directory");
        if (fs::is_directory(p)) {
            add_files(p, zoo);
            if (const fs::path t = twins_of(fs::path(p).lexically_normal()); !t.empty())
                add_files(t, twins);
            continue;
        }
        const fs::path f(p);
        if (f.parent_path().filename() == "twins") {
            twins.push_back(p);
            continue;
        }
        zoo.push_back(p);
        const fs::path t = twins_of(fs::absolute(f).parent_path());
        if (!t.empty() && fs::exists(t / f.filename()))
            twins.push_back((t / f.filename()).string());
    }
    for (const std::string& t : a.twins) {
        if (fs::is_directory(t))
            add_files(t, twins);
        else
            twins.push_back(scenario_files(t).at(0));
    }
    for (auto* v : {&zoo, &twins}) {
        std::sort(v->begin(), v->end());
        v->erase(std::unique(v->begin(), v->end()), v->end());
    }
}

// --shard: keeps this shard's entries, zoo and twins dealt together; the key
// of each is its directory's name, file name and cell ("zoo/x.yaml").
void shard_entries(const DetectArgs& a, std::vector<Entry>& zoo, std::vector<Entry>& twins) {
    std::string why;
    const Shard sh = *parse_shard(a.shard, &why);
    std::vector<std::string> keys;
    for (const auto* v : {&zoo, &twins})
        for (const Entry& e : *v) {
            const std::string dir = fs::absolute(e.scenario.file).parent_path().string();
            keys.push_back(shard_key(dir, e.scenario.file, e.scenario.cell));
        }
    std::vector<Entry> z, t;
    for (std::size_t i : shard_select(keys, sh))
        (i < zoo.size() ? z : t)
            .push_back(std::move(i < zoo.size() ? zoo[i] : twins[i - zoo.size()]));
    if (!a.quiet)
        std::cerr << "shard " << a.shard << ": " << z.size() + t.size() << " of " << keys.size()
                  << " zoo entries and twins\n";
    zoo = std::move(z);
    twins = std::move(t);
}

std::vector<Entry> load_entries(const std::vector<std::string>& files, bool zoo) {
    std::vector<Entry> out;
    for (const std::string& f : files)
        for (Scenario& s : load_scenarios(f)) {
            Entry e{std::move(s), {}};
            if (zoo) e.expect = expected_kinds(e.scenario);
            out.push_back(std::move(e));
        }
    return out;
}

// One run as the benchmark sees it.
struct Run {
    std::uint64_t seed = 0;
    ScenarioVerdict verdict = ScenarioVerdict::kError;
    bool detected = false;
    std::optional<double> ttff_s;
    double wall_s = 0;
    std::uint64_t counts[kFindingKinds] = {};
    int signal = 0;  // an interrupted run: the signal
    std::string reproduce, run_dir, error;
};

// The runs of one entry under one setting.
struct Series {
    std::string setting;  // "perturbed" | "off" | "twin"
    std::vector<Run> runs;
    std::uint32_t detected() const {
        return static_cast<std::uint32_t>(
            std::count_if(runs.begin(), runs.end(), [](const Run& r) { return r.detected; }));
    }
    std::uint32_t failing() const {
        return static_cast<std::uint32_t>(std::count_if(runs.begin(), runs.end(), [](const Run& r) {
            return r.verdict == ScenarioVerdict::kFail;
        }));
    }
    std::uint32_t errors() const {
        return static_cast<std::uint32_t>(std::count_if(runs.begin(), runs.end(), [](const Run& r) {
            return r.verdict == ScenarioVerdict::kError ||
                   r.verdict == ScenarioVerdict::kInterrupted;
        }));
    }
    bool interrupted() const {
        return !runs.empty() && runs.back().verdict == ScenarioVerdict::kInterrupted;
    }
    double rate() const { return runs.empty() ? 0 : double(detected()) / double(runs.size()); }
    std::uint32_t longest_miss_streak() const {
        std::uint32_t best = 0, cur = 0;
        for (const Run& r : runs) {
            cur = r.detected ? 0 : cur + 1;
            best = std::max(best, cur);
        }
        return best;
    }
};

std::optional<double> median(std::vector<double> v) {
    if (v.empty()) return std::nullopt;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::optional<double> median_ttff(const Series& s) {
    std::vector<double> v;
    for (const Run& r : s.runs)
        if (r.detected && r.ttff_s) v.push_back(*r.ttff_s);
    return median(v);
}

double median_wall(const Series& s) {
    std::vector<double> v;
    for (const Run& r : s.runs) v.push_back(r.wall_s);
    return median(v).value_or(0);
}

// Wall time spent per detection: what running the entry again and again
// costs on average before it is caught.
std::optional<double> wall_per_detection(const Series& s) {
    if (s.detected() == 0) return std::nullopt;
    double total = 0;
    for (const Run& r : s.runs) total += r.wall_s;
    return total / s.detected();
}

Run judge(const ScenarioReport& rep, const std::vector<std::string>& expect) {
    Run r;
    r.seed = rep.seed;
    r.verdict = rep.verdict();
    r.reproduce = rep.reproduce;
    r.error = rep.error;
    if (!rep.ran) return r;
    const RunOutcome& o = rep.outcome;
    r.wall_s = o.wall_s;
    r.signal = o.interrupt_signal;
    if (o.kept) r.run_dir = o.run_dir;
    for (int k = 0; k < kFindingKinds; ++k) {
        r.counts[k] = o.result.counts[k];
        if (r.counts[k] > 0 && wanted(FindingKind(k), expect)) r.detected = true;
    }
    if (r.detected) r.ttff_s = first_finding_s(o, expect);
    return r;
}

// n runs of one entry (stopping at the first failing one with `until`).
// On a terminal, `progress` shows the live run and the findings of the
// series' runs so far; the series' summary line is what stays.
Series run_series(const Entry& e, const std::string& setting, RunSettings rs, std::uint32_t n,
                  bool until, const DetectArgs& a, ProgressPrinter& progress) {
    Series s{setting, {}};
    const std::uint64_t base = a.seed.value_or(e.scenario.seed);
    progress.reset_counts();
    if (progress.active()) {
        rs.on_progress = [&progress](const RunProgress& p) { progress.update(p); };
        rs.progress_interval_s = progress.interval_s();
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        progress.start(e.scenario.name + " (" + setting + ") run " + std::to_string(i + 1) +
                           " of " + (until ? "at most " : "") + std::to_string(n),
                       "");
        const ScenarioReport rep = run_report(e.scenario, repetition_seed(base, i), rs);
        s.runs.push_back(judge(rep, e.expect));
        const ScenarioVerdict v = s.runs.back().verdict;
        progress.count_run(rep.ran ? rep.outcome.result.total_findings() : 0,
                           v != ScenarioVerdict::kPass);
        if (v == ScenarioVerdict::kInterrupted || (until && v != ScenarioVerdict::kPass)) break;
    }
    progress.clear();
    if (!a.quiet) {
        std::cerr << e.scenario.name << " (" << setting << "): " << s.runs.size() << " runs, "
                  << s.detected() << " detected, " << s.failing() << " failing";
        if (s.errors()) std::cerr << ", " << s.errors() << " errors";
        std::cerr << "\n";
    }
    return s;
}

std::string opt_secs(const std::optional<double>& s) {
    if (!s) return "-";
    char b[32];
    if (*s < 1)
        std::snprintf(b, sizeof b, "%.1fms", *s * 1e3);
    else
        std::snprintf(b, sizeof b, "%.2fs", *s);
    return b;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

struct Result {
    const Entry* entry;
    std::vector<Series> series;  // zoo: perturbed [, off]; twin: twin
};

void print_zoo(std::ostream& os, const std::vector<Result>& zoo) {
    std::size_t w = 10;
    for (const auto& r : zoo) w = std::max(w, r.entry->scenario.name.size());
    os << std::left << std::setw(int(w) + 2) << "ZOO ENTRY" << std::setw(24) << "EXPECTED"
       << std::setw(10) << "SETTING" << std::right << std::setw(6) << "RUNS" << std::setw(9)
       << "DETECTED" << std::setw(7) << "RATE" << std::setw(11) << "MISS-RUN" << std::setw(12)
       << "TTFF(med)" << std::setw(11) << "RUN(med)" << std::setw(12) << "TIME/FOUND"
       << "\n";
    for (const auto& r : zoo) {
        for (std::size_t i = 0; i < r.series.size(); ++i) {
            const Series& s = r.series[i];
            const std::string expect =
                r.entry->expect.empty() ? "(any)" : join(r.entry->expect, ",");
            char rate[16];
            std::snprintf(rate, sizeof rate, "%.0f%%", 100 * s.rate());
            os << std::left << std::setw(int(w) + 2) << (i ? "" : r.entry->scenario.name)
               << std::setw(24) << (i ? "" : expect) << std::setw(10) << s.setting << std::right
               << std::setw(6) << s.runs.size() << std::setw(9) << s.detected() << std::setw(7)
               << rate << std::setw(11) << s.longest_miss_streak() << std::setw(12)
               << opt_secs(median_ttff(s)) << std::setw(11) << opt_secs(median_wall(s))
               << std::setw(12) << opt_secs(wall_per_detection(s)) << "\n";
        }
    }
}

void print_twins(std::ostream& os, const std::vector<Result>& twins) {
    std::size_t w = 10;
    for (const auto& r : twins) w = std::max(w, r.entry->scenario.name.size());
    os << std::left << std::setw(int(w) + 2) << "TWIN" << std::right << std::setw(6) << "RUNS"
       << std::setw(9) << "FAILING" << std::setw(10) << "FINDINGS" << std::setw(8) << "ERRORS"
       << std::setw(11) << "RUN(med)"
       << "\n";
    for (const auto& r : twins) {
        const Series& s = r.series[0];
        std::uint64_t findings = 0;
        for (const Run& run : s.runs)
            for (std::uint64_t c : run.counts) findings += c;
        os << std::left << std::setw(int(w) + 2) << r.entry->scenario.name << std::right
           << std::setw(6) << s.runs.size() << std::setw(9) << s.failing() << std::setw(10)
           << findings << std::setw(8) << s.errors() << std::setw(11) << opt_secs(median_wall(s))
           << "\n";
        for (const Run& run : s.runs)
            if (run.verdict != ScenarioVerdict::kPass)
                os << "  " << verdict_label(run.verdict) << ": " << run.reproduce
                   << (run.run_dir.empty() ? "" : "  (kept: " + run.run_dir + ")")
                   << (run.error.empty() ? "" : "  " + run.error) << "\n";
    }
}

json run_json(const Run& r) {
    json counts = json::object();
    for (int k = 0; k < kFindingKinds; ++k)
        if (r.counts[k]) counts[finding_kind_name(FindingKind(k))] = r.counts[k];
    json j{{"seed", r.seed},         {"verdict", verdict_label(r.verdict)},
           {"detected", r.detected}, {"ttff_s", r.ttff_s ? json(*r.ttff_s) : json(nullptr)},
           {"wall_s", r.wall_s},     {"counts", counts}};
    if (r.verdict != ScenarioVerdict::kPass) j["reproduce"] = r.reproduce;
    if (!r.run_dir.empty()) j["run_dir"] = r.run_dir;
    if (!r.error.empty()) j["error"] = r.error;
    return j;
}

json series_json(const Series& s) {
    auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
    json runs = json::array();
    for (const Run& r : s.runs) runs.push_back(run_json(r));
    return {{"setting", s.setting},
            {"runs", s.runs.size()},
            {"detected", s.detected()},
            {"failing", s.failing()},
            {"errors", s.errors()},
            {"rate", s.rate()},
            {"longest_miss_streak", s.longest_miss_streak()},
            {"median_ttff_s", opt(median_ttff(s))},
            {"median_wall_s", median_wall(s)},
            {"wall_per_detection_s", opt(wall_per_detection(s))},
            {"per_run", runs}};
}

json result_json(const Result& r, bool zoo) {
    json j{{"file", r.entry->scenario.file}, {"name", r.entry->scenario.name}};
    if (zoo) j["expect"] = r.entry->expect.empty() ? json(nullptr) : json(r.entry->expect);
    for (const Series& s : r.series) j[s.setting] = series_json(s);
    return j;
}

}  // namespace

namespace {

// The exit status the results call for (see detect.hpp).
int status_of(const DetectArgs& a, const std::vector<Result>& zoo,
              const std::vector<Result>& twins) {
    int status = kExitPass;
    for (const Result& r : zoo) {
        const Series& p = r.series[0];
        if (!(a.until_found ? p.detected() > 0 : p.rate() >= a.min_rate))
            status = std::max(status, int(kExitFindings));
    }
    for (const Result& r : twins)
        if (r.series[0].failing()) status = std::max(status, int(kExitFindings));
    for (const auto* rs : {&zoo, &twins})
        for (const Result& r : *rs)
            for (const Series& s : r.series) {
                if (s.errors()) status = std::max(status, int(kExitEnvironment));
                if (s.interrupted()) return 128 + (s.runs.back().signal ? s.runs.back().signal : 2);
            }
    return status;
}

// One <testcase> for a zoo entry's perturbed series or a twin's series.
// Counts it in *failures or *errors when it is one.
std::string junit_case(const DetectArgs& a, const Result& r, bool zoo, std::size_t* failures,
                       std::size_t* errors) {
    const Series& s = r.series[0];
    double t = 0;
    for (const Series& x : r.series)
        for (const Run& run : x.runs) t += run.wall_s;
    char b[160];
    std::snprintf(b, sizeof b, "%.3f", t);
    const Scenario& sc = r.entry->scenario;
    std::string x = "    <testcase classname=\"" + xml_attribute(junit_classname(sc.file)) +
                    "\" name=\"" + xml_attribute(sc.name) + "\" time=\"" + b + "\" file=\"" +
                    xml_attribute(sc.file) + "\">\n";
    std::snprintf(b, sizeof b, "%u of %zu runs detected, %u failing, %u errors", s.detected(),
                  s.runs.size(), s.failing(), s.errors());
    const bool ok =
        zoo ? (a.until_found ? s.detected() > 0 : s.rate() >= a.min_rate) : s.failing() == 0;
    std::string runs;  // the runs that matter: misses of an entry, failures of a twin
    for (const Run& run : s.runs)
        if (zoo ? !run.detected : run.verdict != ScenarioVerdict::kPass)
            runs += verdict_label(run.verdict) + std::string(": ") + run.reproduce + "\n";
    const char* what = s.errors() ? "error" : !ok ? "failure" : nullptr;
    if (what) ++*(s.errors() ? errors : failures);
    if (what)
        x += std::string("      <") + what + " message=\"" + xml_attribute(b) + "\" type=\"" +
             (zoo ? "missed" : "false positive") + "\">" + xml_text(runs) + "</" + what + ">\n";
    x += "      <system-out>" + xml_text(std::string(b) + "\n" + runs) + "</system-out>\n";
    return x + "    </testcase>\n";
}

// Two suites: the zoo entries (perturbed series) and the twins.
void write_junit(const DetectArgs& a, const std::string& command, const std::vector<Result>& zoo,
                 const std::vector<Result>& twins) {
    std::string x =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ipctorture detect\">\n";
    for (const auto& [name, rs] : {std::pair{"zoo", &zoo}, std::pair{"twins", &twins}}) {
        std::size_t failures = 0, errors = 0;
        std::string cases;
        for (const Result& r : *rs) cases += junit_case(a, r, rs == &zoo, &failures, &errors);
        x += std::string("  <testsuite name=\"") + name + "\" tests=\"" +
             std::to_string(rs->size()) + "\" failures=\"" + std::to_string(failures) +
             "\" errors=\"" + std::to_string(errors) +
             "\">\n    <properties>\n      <property name=\"command\" value=\"" +
             xml_attribute(command) + "\"/>\n    </properties>\n" + cases + "  </testsuite>\n";
    }
    write_file_atomically(a.junit, x + "</testsuites>\n");
}

void report(const DetectArgs& a, const std::string& command, const std::string& setting,
            const std::vector<Result>& zoo, const std::vector<Result>& twins, int status) {
    if (!a.quiet) {
        std::cout << "perturbed: " << setting << "; off: no perturbation\n"
                  << "TTFF: time from the start barrier to the first finding of an expected "
                     "kind; MISS-RUN: longest run of consecutive runs without detection\n\n";
        if (!zoo.empty()) print_zoo(std::cout, zoo);
        if (!zoo.empty() && !twins.empty()) std::cout << "\n";
        if (!twins.empty()) print_twins(std::cout, twins);
    }
    if (!a.junit.empty()) write_junit(a, command, zoo, twins);
    if (a.json.empty()) return;
    json j{{"ipctorture_detect", 1},       {"command", command},     {"perturbed", setting},
           {"until_found", a.until_found}, {"min_rate", a.min_rate}, {"exit_status", status},
           {"zoo", json::array()},         {"twins", json::array()}};
    for (const Result& r : zoo) j["zoo"].push_back(result_json(r, true));
    for (const Result& r : twins) j["twins"].push_back(result_json(r, false));
    std::ofstream out(a.json);
    out << json_text(j) << "\n";
    if (!out) throw EnvironmentError("cannot write " + a.json);
}

}  // namespace

int detect_main(const DetectArgs& a, const std::string& command) {
    std::vector<std::string> zoo_files, twin_files;
    collect(a, zoo_files, twin_files);
    std::vector<Entry> zoo = load_entries(zoo_files, true);
    std::vector<Entry> twins = load_entries(twin_files, false);
    if (zoo.empty() && twins.empty()) {
        std::cerr << "ipctorture: no zoo scenarios found\n";
        return kExitUsage;
    }
    if (!a.shard.empty()) shard_entries(a, zoo, twins);
    if (!a.junit.empty()) check_writable(a.junit);
    if (zoo.empty() && twins.empty() && !a.quiet)  // passes, with an empty report
        std::cerr << "shard " << a.shard << " has nothing to run\n";
    RunSettings perturbed;
    perturbed.timeout_s = a.timeout;
    perturbed.max_findings = a.max_findings;
    perturbed.keep_failed = false;  // a caught bug's logs are not worth keeping
    if (!a.perturb.empty()) perturbed.perturb = parse_perturb_text(a.perturb, nullptr);
    RunSettings off = perturbed;
    off.perturb = PerturbConfig::off();
    RunSettings twin = perturbed;
    twin.keep_failed = true;  // a false positive is: its directory stays for `check`
    const std::uint32_t off_runs = a.until_found ? 0 : a.off_runs.value_or(a.runs);

    // Live progress on a terminal only: a CI log gets the summary line of
    // each entry and setting, not a line per run.
    ProgressPrinter progress(std::cerr, true, a.quiet || !ProgressPrinter::stderr_is_terminal());
    bool stop = false;
    std::vector<Result> zres, tres;
    for (std::size_t i = 0; i < zoo.size() && !stop; ++i) {
        Result r{&zoo[i], {}};
        r.series.push_back(run_series(zoo[i], "perturbed", perturbed,
                                      a.until_found ? a.max : a.runs, a.until_found, a, progress));
        stop = r.series.back().interrupted();
        if (!stop && off_runs > 0) {
            r.series.push_back(run_series(zoo[i], "off", off, off_runs, false, a, progress));
            stop = r.series.back().interrupted();
        }
        zres.push_back(std::move(r));
    }
    for (std::size_t i = 0; i < twins.size() && !stop && a.twin_runs > 0; ++i) {
        tres.push_back(Result{
            &twins[i], {run_series(twins[i], "twin", twin, a.twin_runs, false, a, progress)}});
        stop = tres.back().series.back().interrupted();
    }
    const std::string setting =
        a.perturb.empty()
            ? "each scenario's own (default " + perturb_text(PerturbConfig::builtin_default()) + ")"
            : perturb_text(*perturbed.perturb);
    const int status = status_of(a, zres, tres);
    report(a, command, setting, zres, tres, status);
    return status;
}

}  // namespace ipct
