#include "ipctorture/replay.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ipctorture/errors.hpp"
#include "ipctorture/junit.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/progress.hpp"
#include "ipctorture/report.hpp"
#include "ipctorture/schedule.hpp"
#include "ipctorture/sha256.hpp"

namespace ipct {

void add_replay_options(CLI::App& cmd, ReplayArgs& a) {
    cmd.add_option("report", a.report, "a JSON report of `ipctorture run` (--json)")->required();
    cmd.add_option("--run", a.runs,
                   "replay run K of the report (1 = its first run; repeatable); default: its "
                   "failing runs, or all when none failed")
        ->check(CLI::PositiveNumber);
    cmd.add_flag("--all", a.all, "replay every run of the report");
    cmd.add_option("--repeat", a.repeat, "run each chosen run N times, all with its recorded seed")
        ->check(CLI::Range(1u, 1000000u));
    cmd.add_option("--json", a.json, "write the JSON report of the replays here");
    cmd.add_flag("--keep", a.keep, "keep run directories even after a pass");
    cmd.add_flag("--quiet", a.quiet, "print nothing; use the exit status or --json");
}

namespace {

using nlohmann::json;

// Where a report is wrong: the file, and the path of the offending value in
// the document ("scenarios[2].seed").
struct Where {
    const std::string& file;
    std::string path;
    Where at(const std::string& key) const { return {file, path.empty() ? key : path + "." + key}; }
    Where at(std::size_t i) const { return {file, path + "[" + std::to_string(i) + "]"}; }
    [[noreturn]] void fail(const std::string& what) const {
        throw ScenarioError(file, 0, 0, (path.empty() ? "" : path + ": ") + what);
    }
};

const json& member(const json& obj, const std::string& key, const Where& w) {
    if (!obj.is_object()) w.fail("expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) w.fail("expected the key '" + key + "'");
    return *it;
}

std::string string_member(const json& obj, const std::string& key, const Where& w) {
    const json& v = member(obj, key, w);
    if (!v.is_string()) w.at(key).fail("expected a string");
    return v.get<std::string>();
}

bool bool_member(const json& obj, const std::string& key, const Where& w) {
    const json& v = member(obj, key, w);
    if (!v.is_boolean()) w.at(key).fail("expected true or false");
    return v.get<bool>();
}

// nlohmann's parse_error counts the bytes read up to and including the one
// it stopped at; line and column of that byte, from 1.
std::pair<int, int> line_column(const std::string& text, std::size_t byte) {
    const std::size_t at = std::min(byte == 0 ? 0 : byte - 1, text.size());
    int line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < at; ++i)
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    return {line, int(at - line_start) + 1};
}

json parse_report(const std::string& path, const std::string& text) {
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        std::string why = e.what();  // "[json.exception...] parse error at line 1, column 2: why"
        if (auto p = why.find(": "); p != std::string::npos) why = why.substr(p + 2);
        const auto [line, column] = line_column(text, e.byte);
        throw ScenarioError(path, line, column, "malformed JSON: " + why);
    }
}

// The name a replay loads the scenario under: the file as the report names
// it when that still leads to the same place from here, else the file in
// its recorded directory.  Either way errors name the scenario's file and
// its relative paths start from its directory.
std::string original_name(const std::string& file, const std::string& directory) {
    namespace fs = std::filesystem;
    if (directory.empty() || fs::path(file).is_absolute()) return file;
    if (absolute_directory(file) == directory) return file;
    return (fs::path(directory) / fs::path(file).filename()).string();
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ScenarioError(path, 0, 0, std::string("cannot open: ") + std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The scenario text a run used: the report's copy, or the file if it still
// hashes to the recorded value.
std::string scenario_text(const json& report, const std::string& name, const std::string& hash,
                          const Where& w) {
    auto texts = report.find("scenario_texts");
    if (texts != report.end() && texts->is_object()) {
        auto it = texts->find(hash);
        if (it != texts->end()) {
            if (!it->is_string() || sha256_hex(it->get<std::string>()) != hash)
                Where{w.file, "scenario_texts." + hash}.fail(
                    "expected the scenario text whose SHA-256 is its key");
            return it->get<std::string>();
        }
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(name, ec))
        throw ScenarioError(
            name, 0, 0,
            "the report (" + w.file + ") holds no copy of this scenario and the file is not there");
    const std::string text = read_text(name);
    const std::string now = sha256_hex(text);
    if (now != hash)
        throw ScenarioError(name, 0, 0,
                            "has changed since the report (" + w.file +
                                ") was written: its SHA-256 is " + now + ", the report's " + hash);
    return text;
}

Scenario load_recorded(const json& report, const json& sc, const Where& w) {
    const std::string file = string_member(sc, "file", w);
    const std::string directory = string_member(sc, "directory", w);
    const std::string cell = string_member(sc, "cell", w);
    const std::string hash = string_member(sc, "sha256", w);
    if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos)
        w.at("sha256").fail("expected 64 lowercase hex digits");
    const std::string name = original_name(file, directory);
    const std::vector<Scenario> cells =
        load_scenarios_text(scenario_text(report, name, hash, w), name);
    if (!cell.empty()) return select_cell(cells, cell);
    if (cells.size() != 1 || !cells[0].cell.empty())
        w.at("cell").fail("is empty, but " + name + " is a matrix of " +
                          std::to_string(cells.size()) + " cells");
    return cells[0];
}

RunSettings recorded_settings(const json& st, const Where& w) {
    RunSettings r;
    const json& timeout = member(st, "timeout_s", w);
    if (!timeout.is_null()) {
        if (!timeout.is_number() || !(timeout.get<double>() > 0))
            w.at("timeout_s").fail("expected null or a number of seconds above 0");
        r.timeout_s = timeout.get<double>();
    }
    const json& perturb = member(st, "perturb", w);
    if (!perturb.is_null()) {
        std::string why;
        if (!perturb.is_string()) w.at("perturb").fail("expected null or a --perturb setting");
        r.perturb = parse_perturb_text(perturb.get<std::string>(), &why);
        if (!r.perturb) w.at("perturb").fail(why);
    }
    r.sigsafe = bool_member(st, "sigsafe", w);
    r.as_threads = bool_member(st, "as_threads", w);
    return r;
}

std::set<std::string> recorded_signatures(const json& run, const Where& w) {
    std::set<std::string> out;
    auto it = run.find("signatures");
    if (it == run.end()) return out;  // a run that ended in an error has none
    if (!it->is_array()) w.at("signatures").fail("expected an array of strings");
    for (std::size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) w.at("signatures").at(i).fail("expected a string");
        out.insert((*it)[i].get<std::string>());
    }
    return out;
}

ReplayTarget target(const json& report, const json& run, std::size_t number, const Where& w) {
    ReplayTarget t;
    t.number = number;
    const json& seed = member(run, "seed", w);
    if (!seed.is_number_unsigned()) w.at("seed").fail("expected an unsigned integer");
    t.seed = seed.get<std::uint64_t>();
    t.verdict = string_member(run, "verdict", w);
    t.signatures = recorded_signatures(run, w);
    t.settings = recorded_settings(member(run, "settings", w), w.at("settings"));
    t.scenario = load_recorded(report, member(run, "scenario", w), w.at("scenario"));
    if (t.settings.as_threads) validate_threads_mode(t.scenario);
    return t;
}

// 1-based numbers of the runs to replay.
std::vector<std::size_t> chosen(const json& runs, const std::vector<std::size_t>& numbers, bool all,
                                const Where& w) {
    std::vector<std::size_t> out;
    for (std::size_t k : numbers) {
        if (k < 1 || k > runs.size())
            w.fail("--run " + std::to_string(k) + ": expected a run between 1 and " +
                   std::to_string(runs.size()));
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    }
    if (!numbers.empty()) return out;
    for (std::size_t i = 0; i < runs.size() && !all; ++i)
        if (runs[i].is_object() && runs[i].value("verdict", "") == "FAIL") out.push_back(i + 1);
    if (out.empty())
        for (std::size_t i = 0; i < runs.size(); ++i) out.push_back(i + 1);
    return out;
}

}  // namespace

std::vector<ReplayTarget> replay_targets(const std::string& path, const std::string& text,
                                         const std::vector<std::size_t>& numbers, bool all) {
    const json report = parse_report(path, text);
    const Where top{path, ""};
    if (!report.is_object()) top.fail("expected a JSON object: an ipctorture report");
    auto version = report.find("ipctorture_report");
    if (version == report.end())
        top.fail("not an ipctorture report: expected the key 'ipctorture_report'");
    if (!version->is_number_integer() || version->get<long long>() != kReportVersion)
        top.at("ipctorture_report")
            .fail("report version " + version->dump() + "; replay reads version " +
                  std::to_string(kReportVersion) + ", which records each run's scenario");
    const json& runs = member(report, "scenarios", top);
    if (!runs.is_array()) top.at("scenarios").fail("expected an array of runs");
    if (runs.empty()) top.at("scenarios").fail("the report has no runs to replay");
    std::vector<ReplayTarget> out;
    for (std::size_t k : chosen(runs, numbers, all, top)) {
        const Where w = top.at("scenarios").at(k - 1);
        out.push_back(target(report, runs[k - 1], k, w));
    }
    return out;
}

namespace {

std::string signature_list(const std::set<std::string>& s) {
    std::string out;
    for (const std::string& g : s) out += (out.empty() ? "" : ", ") + g;
    return out;
}

// How a replay's signatures compare with the report's.
std::string comparison(const std::set<std::string>& got, const std::set<std::string>& want) {
    if (got == want)
        return want.empty() ? "no findings, as in the report" : "the report's signatures";
    std::set<std::string> missing, extra;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                        std::inserter(missing, missing.end()));
    std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                        std::inserter(extra, extra.end()));
    std::string t = reproduces(got, want) ? "the report's signatures and more:"
                                          : "not the report's signatures:";
    if (!missing.empty()) t += " missing " + signature_list(missing);
    if (!extra.empty()) t += (missing.empty() ? " new " : "; new ") + signature_list(extra);
    return t;
}

struct TargetResult {
    const ReplayTarget* target;
    std::vector<const ScenarioReport*> reps;
    std::uint32_t same = 0, reproduced = 0;
};

void print_result(std::ostream& os, const TargetResult& r) {
    const ReplayTarget& t = *r.target;
    const auto n = static_cast<std::uint32_t>(r.reps.size());
    os << "\nrun " << t.number << ": " << t.scenario.name << " (" << t.scenario.file << "), seed "
       << t.seed << "\n  the report: " << t.verdict;
    if (!t.signatures.empty()) os << " with " << signature_list(t.signatures);
    os << "\n  reproduced in " << r.reproduced << " of " << n
       << " replays: " << rate_text(wilson_interval(r.reproduced, n))
       << "; the same signatures exactly in " << r.same << "\n";
    const RepeatSummary s = summarize_repetitions(r.reps, t.seed);
    os << "  failing replays: " << s.failing << " of " << n << ", " << rate_text(s.failure_rate)
       << "\n";
    for (const FindingGroup& g : s.groups)
        os << "    " << g.signature << ": in " << g.runs << " of " << n << " replays\n";
}

json result_json(const TargetResult& r) {
    const ReplayTarget& t = *r.target;
    const auto n = static_cast<std::uint32_t>(r.reps.size());
    const RepeatSummary s = summarize_repetitions(r.reps, t.seed);
    json groups = json::array();
    for (const FindingGroup& g : s.groups)
        groups.push_back({{"signature", g.signature}, {"runs", g.runs}, {"findings", g.findings}});
    return {{"run", t.number},
            {"name", t.scenario.name},
            {"file", t.scenario.file},
            {"seed", t.seed},
            {"report_verdict", t.verdict},
            {"report_signatures", t.signatures},
            {"replays", n},
            {"same_signatures", r.same},
            {"reproduced", r.reproduced},
            {"reproduction_rate", rate_json(wilson_interval(r.reproduced, n))},
            {"failure_rate", rate_json(s.failure_rate)},
            {"groups", groups}};
}

}  // namespace

int replay_main(const ReplayArgs& a, const std::string& command) {
    const std::vector<ReplayTarget> targets =
        replay_targets(a.report, read_text(a.report), a.runs, a.all);
    if (!a.json.empty()) check_writable(a.json);
    ProgressPrinter printer(std::cerr, ProgressPrinter::stderr_is_terminal(), a.quiet);
    std::vector<ScenarioReport> reps;
    reps.reserve(targets.size() * a.repeat);  // TargetResult keeps pointers into it
    std::vector<TargetResult> results;
    bool interrupted = false;
    for (const ReplayTarget& t : targets) {
        RunSettings settings = t.settings;
        settings.keep = a.keep;
        if (printer.active()) {
            settings.on_progress = [&printer](const RunProgress& p) { printer.update(p); };
            settings.progress_interval_s = printer.interval_s();
        }
        results.push_back({&t, {}, 0, 0});
        for (std::uint32_t i = 0; i < a.repeat && !interrupted; ++i) {
            const std::string which = "run " + std::to_string(t.number) + " (" + t.scenario.name +
                                      "), replay " + std::to_string(i + 1) + " of " +
                                      std::to_string(a.repeat);
            printer.start(which, "replaying " + which + ", seed " + std::to_string(t.seed));
            reps.push_back(run_report(t.scenario, t.seed, settings));
            ScenarioReport& r = reps.back();
            r.repetition = i;
            const std::set<std::string> got = run_signatures(r);
            TargetResult& res = results.back();
            res.reps.push_back(&r);
            res.same += r.ran && got == t.signatures;
            res.reproduced += r.ran && reproduces(got, t.signatures);
            printer.end(
                which + ": " + verdict_label(r.verdict()) + ", " + comparison(got, t.signatures),
                r.ran ? r.outcome.result.total_findings() : 0,
                r.verdict() != ScenarioVerdict::kPass);
            interrupted = r.verdict() == ScenarioVerdict::kInterrupted;
        }
        if (interrupted) break;
    }
    if (!a.quiet) {
        print_table(std::cout, reps);
        for (const TargetResult& r : results) print_result(std::cout, r);
        std::vector<ScenarioReport> first_failures;
        for (const TargetResult& r : results)
            for (const ScenarioReport* rep : r.reps)
                if (rep->verdict() == ScenarioVerdict::kFail) {
                    first_failures.push_back(*rep);
                    break;
                }
        print_findings(std::cout, first_failures);
        std::cout << "\nnote: " << kReproducibilityNote << "\n";
    }
    if (!a.json.empty()) {
        json j = report_json(reps, command);
        j["replay"] = json::array();
        for (const TargetResult& r : results) j["replay"].push_back(result_json(r));
        j["replay_of"] = a.report;
        j["reproducibility"] = kReproducibilityNote;
        write_file_atomically(a.json, json_text(j) + "\n");
    }
    return exit_status(reps);
}

}  // namespace ipct
