// `ipctorture shrink` (shrink.hpp): the command, its runs and its output.
#include "ipctorture/shrink.hpp"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "ipctorture/checker.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/junit.hpp"
#include "ipctorture/repeat.hpp"
#include "ipctorture/report.hpp"

namespace ipct {

void add_shrink_options(CLI::App& cmd, ShrinkArgs& a) {
    cmd.add_option("scenario", a.path, "the failing scenario file")->required();
    cmd.add_option("--seed", a.seed, "the seed it fails with (default the scenario's)");
    cmd.add_option("--cell", a.cell, "the cell of a matrix file to shrink (its label)");
    cmd.add_option("--signature", a.signatures,
                   "the finding signature to keep, kind/channel/role (as `run --repeat` groups "
                   "them); repeatable: a run must show every one.  Default: the signature with the "
                   "most findings in the first run")
        ->allow_extra_args(false);
    cmd.add_option("--runs", a.runs,
                   "runs per step (default " + std::to_string(kShrinkDefaultRuns) + ")")
        ->check(CLI::Range(1u, 1000u));
    cmd.add_option("--min-fails", a.min_fails,
                   "runs of a step that must show the signature for the step to be kept "
                   "(default " +
                       std::to_string(kShrinkDefaultMinFails) + ")")
        ->check(CLI::Range(1u, 1000u));
    cmd.add_option("--budget", a.budget,
                   "stop starting runs after this long (default 5m): 90s, 10m, ...")
        ->check([](const std::string& s) {
            const std::optional<double> d = parse_duration(s);
            return d && *d > 0 ? std::string()
                               : "expected a positive duration like 90s or 10m, got '" + s + "'";
        });
    cmd.add_option("-o,--output", a.output,
                   "write the result here (default NAME.min.yaml beside it)");
    cmd.add_flag("--quiet", a.quiet, "print no progress");
}

namespace {

using Clock = std::chrono::steady_clock;

// SIGINT or SIGTERM between runs (a run in progress handles them itself and
// ends as interrupted): the signal, so that the shrinker stops before the
// next run and still writes what it has.
volatile sig_atomic_t g_stop = 0;

void on_stop(int sig) {
    g_stop = sig;
}

// The orchestrator's handling of these signals ends with each run (and
// leaves them at their default), so this is installed again after each.
void catch_stop_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &sa, nullptr);
}

std::set<std::string> signatures_of(const ScenarioReport& r) {
    std::set<std::string> out;
    if (!r.ran) return out;
    for (const Finding& f : r.outcome.result.findings)
        out.insert(finding_signature(f, r.outcome.plan));
    return out;
}

bool shows(const std::set<std::string>& got, const std::set<std::string>& want) {
    return std::includes(got.begin(), got.end(), want.begin(), want.end());
}

std::string joined(const std::set<std::string>& v) {
    std::string s;
    for (const std::string& e : v) s += (s.empty() ? "" : ", ") + e;
    return s;
}

std::string secs(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2fs", s);
    return b;
}

// Why `sig` is not a signature of scenario s: kind/channel/role, each a
// name the scenario has, or "-".  Empty when it is one.
std::string signature_error(const std::string& sig, const Scenario& s) {
    const auto a = sig.find('/'), b = a == std::string::npos ? a : sig.find('/', a + 1);
    if (b == std::string::npos || sig.find('/', b + 1) != std::string::npos)
        return "expected kind/channel/role (like corrupted/data/consumer)";
    const std::string kind = sig.substr(0, a), ch = sig.substr(a + 1, b - a - 1),
                      role = sig.substr(b + 1);
    if (!parse_finding_kind(kind)) {
        std::string kinds;
        for (int k = 0; k < kFindingKinds; ++k)
            kinds += (k ? ", " : "") + std::string(finding_kind_name(FindingKind(k)));
        return "unknown finding kind '" + kind + "'; expected one of: " + kinds;
    }
    bool known = ch == "-";
    std::string names;
    for (const ChannelSpec& c : s.channels) {
        known = known || c.name == ch;
        names += (names.empty() ? "" : ", ") + c.name;
    }
    if (!known)
        return "the scenario has no channel '" + ch + "'; expected one of: " + names + ", -";
    if (role != "-" && !parse_role(role))
        return "unknown role '" + role +
               "'; expected producer, consumer, relay, signaler, exec or -";
    return {};
}

// A loader error on a step's text, without its file:line:column (the text
// of a step is never written out).
std::string without_place(const ScenarioError& e) {
    const std::string w = e.what();
    const std::string place =
        e.file() + ":" + std::to_string(e.line()) + ":" + std::to_string(e.column()) + ": ";
    return w.rfind(place, 0) == 0 ? w.substr(place.size()) : w;
}

std::string default_output(const std::string& path) {
    const std::filesystem::path p(path);
    return (p.parent_path() / (p.stem().string() + ".min.yaml")).string();
}

// The runs of one scenario for one step: run i with repetition_seed(seed, i),
// stopping once `k` showed the target or `k` can no longer be reached.
struct Trial {
    std::uint32_t runs = 0, fails = 0;
    double max_wall_s = 0;                      // of the runs that showed the target
    int interrupted = 0;                        // the signal, when a run was interrupted
    std::string error;                          // a run's harness or environment error
    std::map<std::string, std::uint64_t> seen;  // signature -> listed findings
};

class Shrinker {
  public:
    Shrinker(const ShrinkArgs& a, std::string command) : a_(a), command_(std::move(command)) {}
    int run();

  private:
    ScenarioReport one_run(const Scenario& s, std::uint64_t seed);
    void trial_runs(const Scenario& s, Trial& t, std::uint32_t from);
    Trial trial(const Scenario& s);
    bool kept(const Trial& t) const { return t.fails >= a_.min_fails; }
    int establish(const Scenario& s, Trial& t);
    void reduce();
    void progress(const std::string& line) const {
        if (!a_.quiet) std::cerr << line << std::endl;
    }
    double elapsed_s() const {
        return std::chrono::duration<double>(Clock::now() - start_).count();
    }
    // A watchdog that leaves a loaded machine room: ten times the slowest
    // failing run, whole seconds, at least kMinTimeoutS.
    void update_hint(const Trial& t) {
        hints_.timeout_s = std::max(kMinTimeoutS, std::ceil(10 * t.max_wall_s));
    }
    static constexpr double kMinTimeoutS = 5;
    std::string header(const ScenarioSize& before, const ScenarioSize& after) const;
    int finish(int status);

    const ShrinkArgs& a_;
    std::string command_;
    std::string file_, cell_, out_;
    std::uint64_t seed_ = 0;
    double budget_s_ = kShrinkDefaultBudgetS;
    Clock::time_point start_ = Clock::now();
    std::set<std::string> target_;
    YAML::Node tree_;  // the smallest that still fails
    Scenario current_;
    ScenarioSize before_;
    ShrinkHints hints_;
    std::uint32_t steps_ = 0, kept_ = 0, runs_ = 0, passes_ = 0;
    bool budget_spent_ = false;
    int interrupted_ = 0;
};

// One run; a stop signal that came before it makes it an interrupted run
// that never started.
ScenarioReport Shrinker::one_run(const Scenario& s, std::uint64_t seed) {
    if (g_stop) {
        ScenarioReport r;
        r.ran = true;
        r.outcome.interrupted = true;
        r.outcome.interrupt_signal = g_stop;
        return r;
    }
    RunSettings rs;
    rs.keep_failed = false;  // a step's runs leave nothing behind
    ScenarioReport r = run_report(s, seed, rs);
    catch_stop_signals();
    ++runs_;
    return r;
}

void Shrinker::trial_runs(const Scenario& s, Trial& t, std::uint32_t from) {
    for (std::uint32_t i = from; i < a_.runs; ++i) {
        if (t.fails >= a_.min_fails || t.fails + (a_.runs - i) < a_.min_fails) break;
        ScenarioReport r = one_run(s, repetition_seed(seed_, i));
        ++t.runs;
        if (r.verdict() == ScenarioVerdict::kInterrupted) {
            t.interrupted = r.outcome.interrupt_signal ? r.outcome.interrupt_signal : 2;
            return;
        }
        if (!r.ran) {
            if (t.error.empty()) t.error = r.error;
            continue;
        }
        for (const Finding& f : r.outcome.result.findings)
            ++t.seen[finding_signature(f, r.outcome.plan)];
        if (!target_.empty() && shows(signatures_of(r), target_)) {
            ++t.fails;
            t.max_wall_s = std::max(t.max_wall_s, r.outcome.wall_s);
        }
    }
}

Trial Shrinker::trial(const Scenario& s) {
    Trial t;
    trial_runs(s, t, 0);
    return t;
}

// Runs the original: with no --signature, its first run names the target
// (the signature with the most listed findings); then the rest of its runs.
int Shrinker::establish(const Scenario& s, Trial& t) {
    if (target_.empty()) {
        ScenarioReport r = one_run(s, seed_);
        t.runs = 1;
        if (r.verdict() == ScenarioVerdict::kInterrupted)
            return 128 + (r.outcome.interrupt_signal ? r.outcome.interrupt_signal : 2);
        if (!r.ran) {
            std::cerr << "ipctorture shrink: " << file_ << ": " << r.error << "\n";
            return kExitEnvironment;
        }
        for (const Finding& f : r.outcome.result.findings)
            ++t.seen[finding_signature(f, r.outcome.plan)];
        if (t.seen.empty()) {
            std::cout << "shrink: " << file_ << " passed with seed " << seed_
                      << ": no finding to shrink toward (give the seed of a failing run)\n";
            return kExitFindings;
        }
        auto best = t.seen.begin();
        for (auto it = t.seen.begin(); it != t.seen.end(); ++it)
            if (it->second > best->second) best = it;
        target_ = {best->first};
        std::string all;
        for (const auto& [sig, n] : t.seen)
            all += (all.empty() ? "" : ", ") + sig + " (" + std::to_string(n) + ")";
        progress("shrink: the first run's findings by signature: " + all);
        t.fails = 1;
        t.max_wall_s = r.outcome.wall_s;
        trial_runs(s, t, 1);
    } else {
        trial_runs(s, t, 0);
    }
    if (t.interrupted) return 128 + t.interrupted;
    if (!t.error.empty() && t.fails == 0) {
        std::cerr << "ipctorture shrink: " << file_ << ": " << t.error << "\n";
        return kExitEnvironment;
    }
    progress("shrink: original: " + std::to_string(t.fails) + " of " + std::to_string(t.runs) +
             " runs showed " + joined(target_));
    if (!kept(t)) {
        std::string seen;
        for (const auto& [sig, n] : t.seen) seen += (seen.empty() ? "" : ", ") + sig;
        std::cout << "shrink: " << file_ << " does not fail with " << joined(target_)
                  << " in at least " << a_.min_fails << " of " << a_.runs << " runs (seed " << seed_
                  << "; " << t.fails << " did"
                  << (seen.empty() ? std::string() : "; signatures seen: " + seen) << ")\n";
        return kExitFindings;
    }
    return kExitPass;
}

void Shrinker::reduce() {
    std::set<std::string> rejected;  // sites refused or not reproducing in this pass
    std::set<std::string> tried;     // texts that did not reproduce: never run again
    bool kept_in_pass = false;
    passes_ = 1;
    for (;;) {
        bool progressed = false;
        for (ShrinkStep& step : shrink_steps(tree_, hints_)) {
            if (rejected.count(step.site)) continue;
            const std::string text = shrink_emit(step.tree);
            if (tried.count(text)) {
                rejected.insert(step.site);
                continue;
            }
            Scenario cand;
            try {
                cand = load_scenario_text(text, out_);
            } catch (const ScenarioError& e) {
                rejected.insert(step.site);
                progress("  - " + step.what + ": not a valid scenario (" + without_place(e) + ")");
                continue;
            }
            if (elapsed_s() >= budget_s_) {
                budget_spent_ = true;
                return;
            }
            const Trial t = trial(cand);
            ++steps_;
            std::string line = "[" + std::to_string(steps_) + "] " + step.what + ": " +
                               std::to_string(t.fails) + " of " + std::to_string(t.runs) +
                               " runs showed the signature: ";
            if (t.interrupted) {
                interrupted_ = t.interrupted;
                progress(line + "interrupted");
                return;
            }
            if (kept(t)) {
                tree_ = step.tree;
                current_ = std::move(cand);
                update_hint(t);
                ++kept_;
                kept_in_pass = progressed = true;
                progress(line + "kept (" + size_text(scenario_size(current_, tree_)) + ", " +
                         secs(elapsed_s()) + ")");
                break;
            }
            rejected.insert(step.site);
            tried.insert(text);
            progress(line + "not kept" + (t.error.empty() ? "" : " (" + t.error + ")") + " (" +
                     secs(elapsed_s()) + ")");
        }
        if (progressed) continue;
        if (!kept_in_pass) return;  // a whole pass kept nothing: a fixpoint
        ++passes_;
        kept_in_pass = false;
        rejected.clear();
    }
}

std::string Shrinker::header(const ScenarioSize& before, const ScenarioSize& after) const {
    std::string h = "# Reduced by `ipctorture shrink` from " + file_;
    if (!cell_.empty()) h += " (matrix cell " + cell_ + ")";
    h += ", seed " + std::to_string(seed_) + ".\n";
    h += "# It fails with " + joined(target_) + " in at least " + std::to_string(a_.min_fails) +
         " of " + std::to_string(a_.runs) + " runs (seed " + std::to_string(seed_) +
         " and the seeds `run --repeat` derives from it).\n";
    h += "# before: " + size_text(before) + "\n";
    h += "# after:  " + size_text(after) + "\n";
    h += "# " + std::to_string(steps_) + " steps tried, " + std::to_string(kept_) + " kept, " +
         std::to_string(runs_) + " runs, " + std::to_string(passes_) + " passes; " +
         (interrupted_    ? "interrupted"
          : budget_spent_ ? "stopped when the budget of " + secs(budget_s_) + " was spent"
                          : std::string("no step left that keeps the signature")) +
         ".\n";
    h += "# command: " + command_ + "\n";
    return h;
}

int Shrinker::finish(int status) {
    YAML::Node out = YAML::Clone(tree_);
    out["seed"] = seed_;
    const ScenarioSize after = scenario_size(current_, tree_);
    write_file_atomically(out_, header(before_, after) + shrink_emit(out));
    std::cout << "shrink: before: " << size_text(before_) << "\n"
              << "shrink: after:  " << size_text(after) << "\n"
              << "shrink: " << steps_ << " steps tried, " << kept_ << " kept, " << runs_
              << " runs in " << secs(elapsed_s())
              << (interrupted_    ? "; interrupted"
                  : budget_spent_ ? "; the budget was spent"
                                  : "")
              << "\nshrink: wrote " << out_ << " (reproduce: ipctorture run " << shell_quote(out_)
              << ")\n";
    return status;
}

int Shrinker::run() {
    file_ = a_.path;
    if (!a_.budget.empty()) budget_s_ = *parse_duration(a_.budget);
    if (a_.min_fails > a_.runs) {
        std::cerr << "ipctorture shrink: --min-fails " << a_.min_fails << " is more than --runs "
                  << a_.runs << "\n";
        return kExitUsage;
    }
    std::vector<Scenario> cells = load_scenarios(file_);
    std::size_t index = 0;
    if (!a_.cell.empty() || cells.size() > 1 || !cells[0].cell.empty()) {
        if (a_.cell.empty()) {
            std::string labels;
            for (const Scenario& c : cells) labels += (labels.empty() ? "" : ", ") + c.cell;
            std::cerr << file_ << ": is a matrix of " << cells.size()
                      << " cells; name the one to shrink with --cell, one of: " << labels << "\n";
            return kExitUsage;
        }
        const Scenario chosen = select_cell(cells, a_.cell);
        while (cells[index].cell != chosen.cell) ++index;
        cell_ = a_.cell;
    }
    out_ = a_.output.empty() ? default_output(file_) : a_.output;
    check_writable(out_);
    seed_ = a_.seed.value_or(cells[index].seed);
    tree_ = shrink_flatten_cell(YAML::Load(cells[index].text), index);
    // Every candidate is loaded as the output file, so that relative paths
    // (exec programs, plugins) resolve as they will from there.
    current_ = load_scenario_text(shrink_emit(tree_), out_);
    for (const std::string& sig : a_.signatures) {
        if (const std::string why = signature_error(sig, current_); !why.empty()) {
            std::cerr << "ipctorture shrink: --signature '" << sig << "': " << why << "\n";
            return kExitUsage;
        }
        target_.insert(sig);
    }
    before_ = scenario_size(current_, tree_);
    progress("shrink: " + file_ + (cell_.empty() ? "" : " [" + cell_ + "]") + ", seed " +
             std::to_string(seed_) + ": " + size_text(before_));
    catch_stop_signals();
    Trial original;
    if (const int st = establish(current_, original); st != kExitPass) return st;
    update_hint(original);
    for (const std::string& sig : target_) hints_.halve_timeout |= sig.rfind("hang/", 0) == 0;
    progress("shrink: keeping each step that shows " + joined(target_) + " in at least " +
             std::to_string(a_.min_fails) + " of " + std::to_string(a_.runs) + " runs; budget " +
             secs(budget_s_));
    reduce();
    return finish(interrupted_ ? 128 + interrupted_ : kExitPass);
}

}  // namespace

int shrink_main(const ShrinkArgs& a, const std::string& command) {
    return Shrinker(a, command).run();
}

}  // namespace ipct
