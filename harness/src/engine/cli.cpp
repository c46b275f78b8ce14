#include "ipctorture/cli.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>

#include "ipctorture/backend.hpp"
#include "ipctorture/bench.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/logging.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/report.hpp"
#include "ipctorture/worker.hpp"

namespace ipct {

namespace {

struct RunArgs {
    std::vector<std::string> paths;
    std::optional<std::uint64_t> seed;
    std::optional<double> timeout;
    std::string json;
    bool keep = false;
    bool quiet = false;
    std::size_t max_findings = 100;
    std::string cell;         // run only this matrix cell
    bool sigsafe = false;     // every process under the signal-safety interposer
    bool as_threads = false;  // every process as a thread of one worker process
};

std::vector<std::string> expand(const std::vector<std::string>& paths) {
    std::vector<std::string> files;
    for (const auto& p : paths) {
        auto v = scenario_files(p);
        files.insert(files.end(), v.begin(), v.end());
    }
    return files;
}

std::string reproduce_cmd(const std::string& file, const std::string& cell, std::uint64_t seed,
                          const RunArgs& a) {
    std::string c = "ipctorture run " + shell_quote(file) + " --seed " + std::to_string(seed);
    if (!cell.empty()) c += " --cell " + shell_quote(cell);
    if (a.timeout) c += " --timeout " + std::to_string(*a.timeout);
    if (a.sigsafe) c += " --sigsafe";
    if (a.as_threads) c += " --as-threads";
    return c;
}

// Writes the JSON report to path, if one was asked for.
void write_report(const std::string& path, const std::vector<ScenarioReport>& reps,
                  const std::string& command) {
    if (path.empty()) return;
    std::ofstream out(path);
    out << json_text(report_json(reps, command)) << "\n";
    if (!out) throw EnvironmentError("cannot write " + path);
}

ScenarioReport run_one(const Scenario& s, const RunArgs& a) {
    ScenarioReport r;
    r.file = s.file;
    r.name = s.name;
    r.seed = a.seed.value_or(s.seed);
    r.reproduce = reproduce_cmd(s.file, s.cell, r.seed, a);
    RunOptions o;
    o.seed = a.seed;
    o.timeout_s = a.timeout;
    o.keep = a.keep;
    o.max_findings = a.max_findings;
    o.sigsafe = a.sigsafe;
    o.as_threads = a.as_threads;
    try {
        r.outcome = run_scenario(s, o);
        r.ran = true;
    } catch (const EnvironmentError& e) {
        r.error = std::string("environment: ") + e.what();
    } catch (const std::exception& e) {
        r.error = std::string("harness error: ") + e.what();
    }
    return r;
}

int cmd_run(const RunArgs& a, const std::string& command) {
    if (a.as_threads && a.sigsafe) {
        std::cerr << "ipctorture: --sigsafe cannot be combined with --as-threads (the interposer "
                     "is loaded per process)\n";
        return kExitUsage;
    }
    std::vector<Scenario> scenarios;
    for (const auto& f : expand(a.paths)) {
        std::vector<Scenario> cells = load_scenarios(f);
        if (!a.cell.empty()) cells = {select_cell(cells, a.cell)};
        for (Scenario& s : cells) {
            if (a.as_threads) validate_threads_mode(s);
            scenarios.push_back(std::move(s));
        }
    }
    if (scenarios.empty()) {
        std::cerr << "ipctorture: no scenario files found\n";
        return kExitUsage;
    }
    std::vector<ScenarioReport> reps;
    for (const auto& s : scenarios) {
        if (!a.quiet) std::cerr << "running " << s.name << " (" << s.file << ")\n";
        reps.push_back(run_one(s, a));
        if (reps.back().verdict() == ScenarioVerdict::kInterrupted) break;
    }
    if (!a.quiet) {
        print_table(std::cout, reps);
        print_findings(std::cout, reps);
    }
    write_report(a.json, reps, command);
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

int cmd_check(const std::string& dir, const std::string& json, const std::string& command) {
    ScenarioReport r;
    r.outcome = check_run_dir(dir);
    r.ran = true;
    r.name = r.outcome.plan.scenario_name;
    r.file = r.outcome.plan.scenario_file;
    r.seed = r.outcome.plan.seed;
    RunArgs as_run;
    as_run.as_threads = r.outcome.as_threads;
    r.reproduce = reproduce_cmd(r.file, r.outcome.plan.scenario_cell, r.seed, as_run);
    std::vector<ScenarioReport> reps{r};
    print_table(std::cout, reps);
    print_findings(std::cout, reps);
    write_report(json, reps, command);
    return exit_status(reps);
}

int cmd_list() {
    for (auto n : backend_names())
        std::cout << std::left << std::setw(10) << n << " " << find_backend(n)->summary() << "\n";
    return kExitPass;
}

int cmd_explain(const std::string& name) {
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
    CLI::App app{"ipctorture: stress-test and correctness harness for inter-process communication"};
    app.require_subcommand(1);
    RunArgs ra;
    auto* run = app.add_subcommand("run", "run scenario files or directories of them");
    run->add_option("paths", ra.paths, "scenario file or directory")->required();
    run->add_option("--seed", ra.seed, "replace every scenario's seed");
    run->add_option("--timeout", ra.timeout, "replace every scenario's timeout (seconds)")
        ->check(CLI::PositiveNumber);
    run->add_option("--json", ra.json, "write the JSON report here");
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

    std::vector<std::string> vpaths;
    auto* validate = app.add_subcommand("validate", "check scenario files without running them");
    validate->add_option("paths", vpaths)->required();

    std::string check_dir, check_json;
    auto* check = app.add_subcommand("check", "re-judge a kept run directory");
    check->add_option("rundir", check_dir)->required();
    check->add_option("--json", check_json, "write the JSON report here");

    auto* list = app.add_subcommand("list", "list things: backends");
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

    WorkerArgs wa;
    auto* worker = app.add_subcommand("worker", "");  // hidden: empty description
    worker->group("");
    worker->add_option("--run-dir", wa.run_dir)->required();
    auto* wproc = worker->add_option("--process", wa.process);
    auto* wthreads = worker->add_flag("--threads", wa.threads);
    wproc->excludes(wthreads);
    wthreads->excludes(wproc);
    worker->add_option("--parent", wa.parent);
    worker->add_option("--ready-fd", wa.ready_fd)->required();
    worker->add_option("--go-fd", wa.go_fd)->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kExitUsage;
    }
    if (worker->parsed()) {
        if (wa.threads) return worker_threads_main(wa);
        if (wproc->count() == 0) {
            std::cerr << "ipctorture worker: --process or --threads is required\n";
            return kExitUsage;
        }
        return worker_main(wa);
    }
    init_logging("orchestrator");
    try {
        if (run->parsed()) return cmd_run(ra, joined(argc, argv));
        if (validate->parsed()) return cmd_validate(vpaths);
        if (check->parsed()) return cmd_check(check_dir, check_json, joined(argc, argv));
        if (list->parsed()) return cmd_list();
        if (explain->parsed()) return cmd_explain(backend);
        if (clean->parsed()) return cmd_clean(root);
        if (bench->parsed()) return bench_main(ba);
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
