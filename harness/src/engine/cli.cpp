#include "ipctorture/cli.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>

#include "ipctorture/backend.hpp"
#include "ipctorture/bench.hpp"
#include "ipctorture/detect.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/html_report.hpp"
#include "ipctorture/junit.hpp"
#include "ipctorture/logging.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/plugin_loader.hpp"
#include "ipctorture/progress.hpp"
#include "ipctorture/repeat.hpp"
#include "ipctorture/replay.hpp"
#include "ipctorture/report.hpp"
#include "ipctorture/schedule.hpp"
#include "ipctorture/shard.hpp"
#include "ipctorture/shrink.hpp"
#include "ipctorture/worker.hpp"

namespace ipct {

namespace {

struct RunArgs {
    std::vector<std::string> paths;
    std::optional<std::uint64_t> seed;
    std::optional<double> timeout;
    std::string json;
    std::string junit;  // --junit FILE
    std::string html;   // --html FILE
    bool keep = false;
    bool quiet = false;
    std::size_t max_findings = 100;
    std::string cell;          // run only this matrix cell
    bool sigsafe = false;      // every process under the signal-safety interposer
    bool as_threads = false;   // every process as a thread of one worker process
    std::uint32_t repeat = 0;  // --repeat N; 0 = not asked for
    bool until_fail = false;
    std::uint32_t max = 0;  // --max with --until-fail; 0 = the default
    std::string perturb;    // --perturb, checked at parse time
    std::string shard;      // --shard I/N, checked at parse time
    bool list = false;      // --list: print the cells it would run, run nothing
};

std::vector<std::string> expand(const std::vector<std::string>& paths) {
    std::vector<std::string> files;
    for (const auto& p : paths) {
        auto v = scenario_files(p);
        files.insert(files.end(), v.begin(), v.end());
    }
    return files;
}

RunSettings settings_of(const RunArgs& a) {
    RunSettings r;
    r.timeout_s = a.timeout;
    r.max_findings = a.max_findings;
    r.keep = a.keep;
    r.sigsafe = a.sigsafe;
    r.as_threads = a.as_threads;
    if (!a.perturb.empty()) r.perturb = parse_perturb_text(a.perturb, nullptr);
    return r;
}

// Writes the JSON report to path, if one was asked for.
void write_report(const std::string& path, const nlohmann::json& j) {
    if (path.empty()) return;
    std::ofstream out(path);
    out << json_text(j) << "\n";
    if (!out) throw EnvironmentError("cannot write " + path);
}

// Scenarios from index `from` on, as the <skipped> cases of a JUnit report.
std::vector<NotRun> not_run_from(const std::vector<Scenario>& scenarios, std::size_t from) {
    std::vector<NotRun> v;
    for (std::size_t i = from; i < scenarios.size(); ++i)
        v.push_back(
            {scenarios[i].file, scenarios[i].name, "not run: an earlier run was interrupted"});
    return v;
}

void write_junit(const RunArgs& a, const std::vector<ScenarioReport>& reps,
                 const std::vector<NotRun>& not_run, const std::string& command) {
    if (!a.junit.empty()) write_file_atomically(a.junit, junit_xml(reps, not_run, command));
}

std::string seconds_text(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2fs", s);
    return b;
}

// "PASS 1.23s", "FAIL 0.80s, 3 findings", "ERROR: why".
std::string result_text(const ScenarioReport& r) {
    std::string t = verdict_label(r.verdict());
    if (!r.ran) return t + ": " + r.error;
    t += " " + seconds_text(r.outcome.wall_s);
    const std::uint64_t n = r.outcome.result.total_findings();
    if (n > 0) t += ", " + std::to_string(n) + (n == 1 ? " finding" : " findings");
    return t;
}

// Progress goes to stderr through `printer`; the runs report to it.
void report_progress(RunSettings& settings, ProgressPrinter& printer) {
    if (!printer.active()) return;
    settings.on_progress = [&printer](const RunProgress& p) { printer.update(p); };
    settings.progress_interval_s = printer.interval_s();
}

void run_ended(ProgressPrinter& printer, const ScenarioReport& r, const std::string& line) {
    printer.end(line, r.ran ? r.outcome.result.total_findings() : 0,
                r.verdict() != ScenarioVerdict::kPass);
}

// --repeat N / --until-fail: each scenario's repetitions in turn, each with
// its own seed, then a summary per scenario and the findings of the first
// failing repetition of each.
int run_repeated(const std::vector<Scenario>& scenarios, const RunArgs& a,
                 const std::string& command) {
    RunSettings settings = settings_of(a);
    ProgressPrinter printer(std::cerr, ProgressPrinter::stderr_is_terminal(), a.quiet);
    report_progress(settings, printer);
    const std::uint32_t n = a.until_fail ? (a.max ? a.max : kDefaultUntilFailMax)
                                         : std::max<std::uint32_t>(a.repeat, 1);
    std::vector<ScenarioReport> reps;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;  // [first, last) of each scenario
    std::vector<std::uint64_t> bases;
    bool interrupted = false;
    std::size_t done = 0;  // scenarios whose repetitions ran
    for (const Scenario& s : scenarios) {
        ++done;
        const std::uint64_t base = a.seed.value_or(s.seed);
        const std::size_t first = reps.size();
        for (std::uint32_t i = 0; i < n && !interrupted; ++i) {
            const std::uint64_t seed = repetition_seed(base, i);
            const std::string which = s.name + ": repetition " + std::to_string(i + 1) + " of " +
                                      (a.until_fail ? "at most " : "") + std::to_string(n);
            printer.start(which, which + ", seed " + std::to_string(seed));
            reps.push_back(run_report(s, seed, settings));
            ScenarioReport& r = reps.back();
            r.repetition = i;
            const ScenarioVerdict v = r.verdict();
            run_ended(printer, r, which + ", seed " + std::to_string(seed) + ": " + result_text(r));
            interrupted = v == ScenarioVerdict::kInterrupted;
            if (a.until_fail && v != ScenarioVerdict::kPass) break;
        }
        ranges.emplace_back(first, reps.size());
        bases.push_back(base);
        if (interrupted) break;
    }
    std::vector<RepeatSummary> sums;
    std::vector<ScenarioReport> first_failures;
    for (std::size_t k = 0; k < ranges.size(); ++k) {
        std::vector<const ScenarioReport*> mine;
        for (std::size_t i = ranges[k].first; i < ranges[k].second; ++i) mine.push_back(&reps[i]);
        sums.push_back(summarize_repetitions(mine, bases[k]));
        for (const ScenarioReport* r : mine)
            if (r->verdict() != ScenarioVerdict::kPass) {
                first_failures.push_back(*r);
                break;
            }
    }
    if (!a.quiet) {
        print_repeat_summaries(std::cout, sums);
        print_findings(std::cout, first_failures);
    }
    nlohmann::json j = report_json(reps, command);
    j["repetitions"] = nlohmann::json::array();
    for (const RepeatSummary& s : sums) j["repetitions"].push_back(repeat_summary_json(s));
    write_report(a.json, j);
    write_junit(a, reps, not_run_from(scenarios, done), command);
    if (!a.html.empty()) write_html_report(a.html, reps, command);
    return exit_status(reps);
}

int cmd_run(const RunArgs& a, const std::string& command) {
    if (a.as_threads && a.sigsafe) {
        std::cerr << "ipctorture: --sigsafe cannot be combined with --as-threads (the interposer "
                     "is loaded per process)\n";
        return kExitUsage;
    }
    std::vector<Scenario> scenarios;
    std::vector<std::string> keys;  // shard_key() of each
    for (const auto& p : a.paths)
        for (const auto& f : scenario_files(p)) {
            std::vector<Scenario> cells = load_scenarios(f);
            if (!a.cell.empty()) cells = {select_cell(cells, a.cell)};
            for (Scenario& s : cells) {
                if (a.as_threads) validate_threads_mode(s);
                keys.push_back(shard_key(p, f, s.cell));
                scenarios.push_back(std::move(s));
            }
        }
    if (scenarios.empty()) {
        std::cerr << "ipctorture: no scenario files found\n";
        return kExitUsage;
    }
    const std::size_t all = scenarios.size();
    if (!a.shard.empty()) {
        std::string why;
        const Shard sh = *parse_shard(a.shard, &why);
        std::vector<Scenario> mine;
        for (std::size_t i : shard_select(keys, sh)) mine.push_back(std::move(scenarios[i]));
        scenarios = std::move(mine);
        if (!a.quiet)
            std::cerr << "shard " << a.shard << ": " << scenarios.size() << " of " << all
                      << " scenario cells\n";
    }
    if (a.list) {
        for (const Scenario& s : scenarios) std::cout << s.file << "\t" << s.name << "\n";
        return kExitPass;
    }
    if (!a.junit.empty()) check_writable(a.junit);
    if (!a.html.empty()) check_writable(a.html);
    if (scenarios.empty()) {  // a shard with nothing to run passes: its jobs still report
        if (!a.quiet) std::cerr << "shard " << a.shard << " has nothing to run\n";
        write_report(a.json, report_json({}, command));
        write_junit(a, {}, {}, command);
        if (!a.html.empty()) write_html_report(a.html, {}, command);
        return kExitPass;
    }
    if (a.repeat > 0 || a.until_fail) return run_repeated(scenarios, a, command);
    RunSettings settings = settings_of(a);
    ProgressPrinter printer(std::cerr, ProgressPrinter::stderr_is_terminal(), a.quiet);
    report_progress(settings, printer);
    std::vector<ScenarioReport> reps;
    for (const auto& s : scenarios) {
        const std::string which = "[" + std::to_string(reps.size() + 1) + "/" +
                                  std::to_string(scenarios.size()) + "] " + s.name;
        printer.start(which, "running " + which + " (" + s.file + ")");
        reps.push_back(run_report(s, a.seed.value_or(s.seed), settings));
        run_ended(printer, reps.back(), which + ": " + result_text(reps.back()));
        if (reps.back().verdict() == ScenarioVerdict::kInterrupted) break;
    }
    if (!a.quiet) {
        print_table(std::cout, reps);
        print_findings(std::cout, reps);
    }
    write_report(a.json, report_json(reps, command));
    write_junit(a, reps, not_run_from(scenarios, reps.size()), command);
    if (!a.html.empty()) write_html_report(a.html, reps, command);
    return exit_status(reps);
}

int cmd_validate(const std::vector<std::string>& paths) {
    int bad = 0;
    for (const auto& f : expand(paths)) {
        try {
            std::vector<Scenario> cells = load_scenarios(f);
            if (cells.size() == 1 && cells[0].cell.empty())
                std::cout << f << ": ok (" << cells[0].name << ")\n";
            else
                std::cout << f << ": ok (" << cells.size() << " matrix cells of "
                          << cells[0].name.substr(0, cells[0].name.find('[')) << ")\n";
        } catch (const ScenarioError& e) {
            std::cerr << e.what() << "\n";
            ++bad;
        }
    }
    return bad ? kExitUsage : kExitPass;
}

int cmd_check(const std::string& dir, const std::string& json, const std::string& html,
              const std::string& command) {
    ScenarioReport r;
    r.outcome = check_run_dir(dir);
    r.ran = true;
    r.name = r.outcome.plan.scenario_name;
    r.file = r.outcome.plan.scenario_file;
    r.seed = r.outcome.plan.seed;
    r.cell = r.outcome.plan.scenario_cell;
    r.text = r.outcome.plan.scenario_text;
    r.directory = absolute_directory(r.file);
    RunSettings as_run;
    as_run.as_threads = r.outcome.as_threads;
    r.recipe = recipe_of(as_run);
    r.reproduce = reproduce_command(r.file, r.outcome.plan.scenario_cell, r.seed, as_run);
    std::vector<ScenarioReport> reps{r};
    print_table(std::cout, reps);
    print_findings(std::cout, reps);
    write_report(json, report_json(reps, command));
    if (!html.empty()) write_html_report(html, reps, command);
    return exit_status(reps);
}

// A plugin's contract with no options, in a few words.
std::string contract_summary(const Backend& b) {
    try {
        const Contract c = b.contract({});
        return std::string(c.unit) + ", up to " + std::to_string(c.max_message) + " bytes, " +
               (c.fifo ? "FIFO" : "no order promised") + ", " +
               (c.lossless ? "lossless" : "loss allowed");
    } catch (const std::exception& e) {
        return std::string("contract with no options refused: ") + e.what();
    }
}

// The built-in backends, then every plugin library in the plugin search
// directories (plugin_loader.cpp's own search): one line each, a library
// that cannot be loaded with the loader's reason.
int cmd_list() {
    for (auto n : backend_names())
        std::cout << std::left << std::setw(10) << n << " " << find_backend(n)->summary() << "\n";
    for (const FoundPlugin& p : find_plugins()) {
        std::cout << kPluginPrefix << p.name << "  " << (p.path.empty() ? "-" : p.path) << "  ";
        if (p.backend)
            std::cout << p.backend->summary() << " (" << contract_summary(*p.backend) << ")\n";
        else
            std::cout << "cannot be used: " << p.error << "\n";
    }
    return kExitPass;
}

int cmd_explain(std::string name) {
    // plugin:NAME, as `list backends` shows a plugin: looked for as a
    // scenario's bare name is.
    if (is_plugin_backend(name) && plugin_path(name).find('/') == std::string::npos) {
        try {
            name = plugin_backend_name(resolve_plugin(plugin_path(name), ""));
        } catch (const PluginError& e) {
            std::cerr << "ipctorture: " << e.what() << "\n";
            return kExitUsage;
        }
    }
    Backend* b = find_backend(name);
    if (!b) {
        std::cerr << "ipctorture: unknown backend '" << name << "'\n";
        return kExitUsage;
    }
    Contract c = b->contract({});
    std::cout << name << ": " << b->summary() << "\n"
              << "contract:\n"
              << "  unit:        " << c.unit << "\n"
              << "  boundaries:  " << (c.boundaries ? "kept" : "not kept (framing needed)") << "\n"
              << "  order:       "
              << (c.priority
                      ? (b->receive_request({}, {}).order == ReceiveRequest::Order::kLowestFirst
                             ? "lowest number first, FIFO within a number"
                             : "highest priority first, FIFO within a priority")
                  : c.selective ? "FIFO within a type; readers select by type (msgtyp)"
                  : c.fifo      ? "FIFO per sender"
                                : "none promised")
              << "\n"
              << "  loss:        " << (c.lossless ? "none" : "allowed") << "\n"
              << "  max message: " << c.max_message << " bytes\n"
              << "  notes:       " << c.notes << "\n";
    const std::vector<MutantInfo> mutants = b->mutants();
    if (!mutants.empty()) {
        std::cout << "mutants (planted bugs, `mutant: NAME` on a channel):\n";
        for (const MutantInfo& m : mutants)
            std::cout << "  " << m.name << ": " << m.summary << "\n";
    }
    std::cout << "live kernel limits:\n";
    std::istringstream lim(b->explain());
    for (std::string line; std::getline(lim, line);) std::cout << "  " << line << "\n";
    return kExitPass;
}

int cmd_clean(const std::string& root) {
    CleanReport r = clean_runs(root.empty() ? default_run_root() : root);
    for (const auto& d : r.removed_dirs) std::cout << "removed " << d << "\n";
    for (const auto& d : r.skipped_live) std::cout << "skipped (run still live) " << d << "\n";
    if (r.killed_processes) std::cout << "killed " << r.killed_processes << " leftover workers\n";
    if (r.removed_dirs.empty() && r.skipped_live.empty()) std::cout << "nothing to clean\n";
    return kExitPass;
}

std::string joined(int argc, char** argv) {
    std::string s = "ipctorture";
    for (int i = 1; i < argc; ++i) s += " " + shell_quote(argv[i]);
    return s;
}

}  // namespace

int cli_main(int argc, char** argv) {
    // The orchestrator's own workers (worker_cli.cpp): parsed on their own.
    if (argc > 1 && std::string_view(argv[1]) == "worker") return worker_command(argc, argv);
    CLI::App app{"ipctorture: stress-test and correctness harness for inter-process communication"};
    app.require_subcommand(1);
    RunArgs ra;
    auto* run = app.add_subcommand("run", "run scenario files or directories of them");
    run->add_option("paths", ra.paths, "scenario file or directory")->required();
    run->add_option("--seed", ra.seed, "replace every scenario's seed");
    run->add_option("--timeout", ra.timeout, "replace every scenario's timeout (seconds)")
        ->check(CLI::PositiveNumber);
    run->add_option("--json", ra.json, "write the JSON report here");
    run->add_option("--junit", ra.junit,
                    "write a JUnit XML report here (one testcase per scenario, matrix cell and "
                    "repetition), for Jenkins, GitLab and other CI systems");
    run->add_option("--html", ra.html,
                    "write the HTML report here: one self-contained page with the verdicts, "
                    "latency and throughput charts, a timeline and the findings' evidence");
    run->add_flag("--keep", ra.keep, "keep run directories even after a pass");
    run->add_option("--cell", ra.cell,
                    "run only this cell of a matrix scenario (its label, as in 'backend=tcp')");
    run->add_flag("--quiet", ra.quiet, "print nothing; use the exit status or --json");
    run->add_flag("--sigsafe", ra.sigsafe,
                  "run every process under the signal-safety interposer (as `sigsafe: true`)");
    run->add_flag("--as-threads", ra.as_threads,
                  "run every process of a scenario as a thread of one worker process "
                  "(for ThreadSanitizer builds: it then sees the races between them)");
    run->add_option("--max-findings", ra.max_findings,
                    "findings listed per kind in the report (counts are always exact)")
        ->check(CLI::PositiveNumber);
    add_perturb_option(*run, ra.perturb);
    add_shard_option(*run, ra.shard);
    run->add_flag("--list", ra.list,
                  "print the scenario cells the command would run (file, tab, name; after --cell "
                  "and --shard) and run nothing");
    auto* repeat = run->add_option("--repeat", ra.repeat,
                                   "run each scenario N times, each with its own derived seed")
                       ->check(CLI::Range(1u, 1000000u));
    auto* until = run->add_flag("--until-fail", ra.until_fail,
                                "run each scenario again, with a new derived seed each time, "
                                "until a run fails (at most --max runs)");
    run->add_option("--max", ra.max,
                    "with --until-fail: the most runs per scenario (default " +
                        std::to_string(kDefaultUntilFailMax) + ")")
        ->check(CLI::Range(1u, 1000000u))
        ->needs(until);
    repeat->excludes(until);

    DetectArgs da;
    auto* detect = app.add_subcommand(
        "detect", "detection benchmark: how often and how soon each zoo scenario is caught");
    add_detect_options(*detect, da);

    ShrinkArgs sa;
    auto* shrink = app.add_subcommand(
        "shrink", "reduce a failing scenario to a smaller one that fails the same way");
    add_shrink_options(*shrink, sa);

    std::vector<std::string> vpaths;
    auto* validate = app.add_subcommand("validate", "check scenario files without running them");
    validate->add_option("paths", vpaths)->required();

    ReplayArgs rpa;
    auto* replay = app.add_subcommand(
        "replay", "run again what a JSON report describes and compare the finding signatures");
    add_replay_options(*replay, rpa);

    std::string check_dir, check_json, check_html;
    auto* check = app.add_subcommand("check", "re-judge a kept run directory");
    check->add_option("rundir", check_dir)->required();
    check->add_option("--json", check_json, "write the JSON report here");
    check->add_option("--html", check_html, "write the HTML report here");

    auto* list = app.add_subcommand(
        "list", "list things: backends (the built-in ones, then the plugins found)");
    std::string what;
    list->add_option("what", what)->required()->check(CLI::IsMember({"backends"}));

    std::string backend;
    auto* explain = app.add_subcommand("explain", "a backend's contract and live kernel limits");
    explain->add_option("backend", backend)->required();

    std::string root;
    auto* clean = app.add_subcommand("clean", "remove what killed runs left behind");
    clean->add_option("--root", root, "run root (default $IPCTORTURE_RUN_ROOT or /tmp/ipctorture)");

    BenchArgs ba;
    auto* bench = app.add_subcommand("bench", "measure throughput against a raw baseline");
    add_bench_options(*bench, ba);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kExitUsage;
    }
    init_logging("orchestrator");
    try {
        if (run->parsed()) return cmd_run(ra, joined(argc, argv));
        if (validate->parsed()) return cmd_validate(vpaths);
        if (replay->parsed()) return replay_main(rpa, joined(argc, argv));
        if (check->parsed())
            return cmd_check(check_dir, check_json, check_html, joined(argc, argv));
        if (list->parsed()) return cmd_list();
        if (explain->parsed()) return cmd_explain(backend);
        if (clean->parsed()) return cmd_clean(root);
        if (bench->parsed()) return bench_main(ba);
        if (detect->parsed()) return detect_main(da, joined(argc, argv));
        if (shrink->parsed()) return shrink_main(sa, joined(argc, argv));
    } catch (const ScenarioError& e) {
        std::cerr << e.what() << "\n";
        return kExitUsage;
    } catch (const EnvironmentError& e) {
        std::cerr << "ipctorture: environment: " << e.what() << "\n";
        return kExitEnvironment;
    } catch (const std::exception& e) {
        std::cerr << "ipctorture: harness error: " << e.what() << "\n";
        return kExitEnvironment;
    }
    return kExitUsage;
}

}  // namespace ipct
