// The shrinker's reduction steps on YAML trees: every step that loads is a
// smaller scenario that differs from its tree only where the step says, and
// the steps a topology needs (a relay bypassed, a signaler's target removed,
// a fault list cut) give the scenario one would write by hand.  No scenario
// runs here.
#include "ipctorture/shrink.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "ipctorture/errors.hpp"

namespace ipct {
namespace {

// A scenario with something for every kind of step.
const char* const kRich = R"(name: rich
description: >
  A pipeline with a signaler: every kind of step applies.
seed: 7
timeout: 120s
expect: [corrupted]
perturb: 0.2
cpus: any
channels:
  a:
    backend: pipe
    options: {capacity: 65536}
  b: {backend: fifo}
processes:
  - role: producer
    name: w
    count: 4
    channel: a
    workload:
      messages: 1000
      size: {min: 64, max: 4096}
      rate: 100000
      start_delay: 10ms
  - role: producer
    channel: a
    workload:
      duration: 2s
      size: {choices: [64, 512, 2048], weights: [1, 2, 3]}
  - role: relay
    input: a
    output: b
  - role: consumer
    name: r
    channel: b
    perturb: {probability: 0.5, kinds: [yield]}
    cpus: any
  - role: signaler
    targets: [w, r]
    workload: {rate: 100}
)";

Scenario load(const YAML::Node& tree) {
    return load_scenario_text(shrink_emit(tree), "t.yaml");
}

std::vector<ShrinkStep> steps_of(const std::string& text, const ShrinkHints& h = {}) {
    return shrink_steps(YAML::Load(text), h);
}

const ShrinkStep* find_step(const std::vector<ShrinkStep>& v, const std::string& site) {
    for (const ShrinkStep& s : v)
        if (s.site == site) return &s;
    return nullptr;
}

// The paths at which two trees differ ("processes[0].workload.messages"); a
// sequence of another length differs as a whole.
void diff(const YAML::Node& a, const YAML::Node& b, const std::string& path,
          std::vector<std::string>& out) {
    if (a.Type() != b.Type()) {
        out.push_back(path);
        return;
    }
    if (a.IsScalar()) {
        if (a.Scalar() != b.Scalar()) out.push_back(path);
        return;
    }
    if (a.IsSequence()) {
        if (a.size() != b.size()) {
            out.push_back(path);
            return;
        }
        for (std::size_t i = 0; i < a.size(); ++i)
            diff(a[i], b[i], path + "[" + std::to_string(i) + "]", out);
        return;
    }
    if (!a.IsMap()) return;
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it->first.Scalar());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it->first.Scalar());
    for (const std::string& k : keys) {
        const std::string p = path.empty() ? k : path + "." + k;
        if (!a[k] || !b[k])
            out.push_back(p);
        else
            diff(a[k], b[k], p, out);
    }
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// What each kind of step may change: every path it changes ends in (or,
// for "size", contains) one of these.
std::vector<std::string> allowed(const std::string& site) {
    const std::string kind = site.substr(0, site.find(':'));
    if (kind.rfind("messages-", 0) == 0) return {".messages"};
    if (kind.rfind("duration-", 0) == 0) return {".duration"};
    if (kind == "count-min" || kind == "count-half") return {".count"};
    if (kind == "remove" || kind == "bypass" || kind == "drop-channel")
        return {"processes", "channels"};
    if (kind == "perturb-off" || kind == "perturb-half") return {"perturb"};
    if (kind.rfind("size-", 0) == 0)
        return {".size", ".size.min", ".size.max", ".choices", ".weights"};
    if (kind == "rate-off") return {".rate"};
    if (kind == "start_delay-off") return {".start_delay"};
    if (kind == "cpus-off") return {"cpus"};
    if (kind == "timeout" || kind == "timeout-half") return {"timeout"};
    return {"faults", "syscall_faults", "proxy"};
}

TEST(ShrinkSteps, EveryStepChangesOnlyWhatItSaysAndLoadsOrIsRefused) {
    const YAML::Node tree = YAML::Load(kRich);
    const Scenario before = load(tree);
    ShrinkHints hints;
    hints.timeout_s = 5;
    const std::vector<ShrinkStep> steps = shrink_steps(tree, hints);
    ASSERT_GE(steps.size(), 25u);
    std::set<std::string> sites, kinds;
    std::size_t loaded = 0;
    for (const ShrinkStep& s : steps) {
        SCOPED_TRACE(s.site + ": " + s.what);
        EXPECT_TRUE(sites.insert(s.site).second) << "sites are distinct";
        kinds.insert(s.site.substr(0, s.site.find(':')));
        std::vector<std::string> changed;
        diff(tree, s.tree, "", changed);
        ASSERT_FALSE(changed.empty()) << "a step changes something";
        for (const std::string& p : changed) {
            bool ok = false;
            for (const std::string& a : allowed(s.site))
                ok = ok || ends_with(p, a) || p == a || p.rfind(a + ".", 0) == 0;
            EXPECT_TRUE(ok) << "changed " << p;
        }
        Scenario after;
        try {
            after = load(s.tree);
        } catch (const ScenarioError&) {
            continue;  // refused: the shrinker never runs it
        }
        ++loaded;
        const ScenarioSize a = scenario_size(after, s.tree), b = scenario_size(before, tree);
        EXPECT_LE(a.processes, b.processes);
        EXPECT_LE(a.messages, b.messages);
        EXPECT_LE(a.bytes, b.bytes);
        EXPECT_LE(a.duration_s, b.duration_s);
        EXPECT_EQ(after.expect, before.expect) << "what no step touches stays";
        EXPECT_EQ(after.seed, before.seed);
    }
    EXPECT_GE(loaded, 20u);
    for (const char* k :
         {"messages-min",  "messages-cut",     "messages-half", "duration-min",    "duration-cut",
          "duration-half", "count-min",        "count-half",    "remove",          "bypass",
          "drop-channel",  "perturb-off",      "perturb-half",  "size-fixed",      "size-min",
          "size-half",     "size-drop-choice", "rate-off",      "start_delay-off", "cpus-off",
          "timeout"})
        EXPECT_TRUE(kinds.count(k)) << "no step of kind " << k;
    // The original tree is untouched by all of this.
    EXPECT_EQ(shrink_emit(tree), shrink_emit(YAML::Load(kRich)));
}

TEST(ShrinkSteps, MessageCountsGoToOneFirstThenASixteenthThenHalve) {
    const auto steps = steps_of(kRich);
    const ShrinkStep* min = find_step(steps, "messages-min:producer 'w'");
    const ShrinkStep* cut = find_step(steps, "messages-cut:producer 'w'");
    const ShrinkStep* half = find_step(steps, "messages-half:producer 'w'");
    ASSERT_TRUE(min && cut && half);
    EXPECT_LT(min - steps.data(), cut - steps.data()) << "the biggest step is tried first";
    EXPECT_LT(cut - steps.data(), half - steps.data());
    EXPECT_EQ(load(min->tree).processes[0].workload.messages, 1u);
    EXPECT_EQ(load(cut->tree).processes[0].workload.messages, 62u);
    EXPECT_EQ(load(half->tree).processes[0].workload.messages, 500u);
    const ShrinkStep* dur = find_step(steps, "duration-half:processes[1] (producer)");
    ASSERT_TRUE(dur);
    EXPECT_DOUBLE_EQ(load(dur->tree).processes[1].workload.duration_s, 1.0);
    // A count of 2 halves to 1, which is the minimum step already.
    const auto two = steps_of(
        "name: t\nchannels: {a: {backend: pipe}}\nprocesses:\n"
        "  - {role: producer, channel: a, count: 2, workload: {messages: 3}}\n"
        "  - {role: consumer, channel: a}\n");
    EXPECT_TRUE(find_step(two, "count-min:processes[0] (producer)"));
    EXPECT_FALSE(find_step(two, "count-half:processes[0] (producer)"));
    EXPECT_TRUE(find_step(two, "messages-min:processes[0] (producer)"));
    EXPECT_FALSE(find_step(two, "messages-half:processes[0] (producer)"));
}

TEST(ShrinkSteps, ARelayIsBypassedAndItsOutputChannelGoes) {
    const auto steps = steps_of(kRich);
    const ShrinkStep* s = find_step(steps, "bypass:processes[2] (relay)");
    ASSERT_TRUE(s);
    const Scenario sc = load(s->tree);
    ASSERT_EQ(sc.channels.size(), 1u);
    EXPECT_EQ(sc.channels[0].name, "a");
    EXPECT_EQ(sc.channels[0].options.at("capacity").text, "65536");
    ASSERT_EQ(sc.processes.size(), 4u);
    EXPECT_EQ(sc.processes[2].name, "r");
    EXPECT_EQ(sc.processes[2].channel, "a");
}

TEST(ShrinkSteps, RemovingATargetedProcessDropsItFromTheSignalersTargets) {
    const auto steps = steps_of(kRich);
    const ShrinkStep* s = find_step(steps, "remove:consumer 'r'");
    ASSERT_TRUE(s);
    const YAML::Node sig = s->tree["processes"][3];
    ASSERT_EQ(sig["role"].Scalar(), "signaler");
    ASSERT_EQ(sig["targets"].size(), 1u);
    EXPECT_EQ(sig["targets"][0].Scalar(), "w");
    // A signaler whose only target goes goes with it.
    const auto one = steps_of(
        "name: t\nchannels: {a: {backend: pipe}}\nprocesses:\n"
        "  - {role: producer, channel: a, workload: {messages: 3}}\n"
        "  - {role: consumer, name: c, channel: a}\n"
        "  - {role: consumer, name: d, channel: a}\n"
        "  - {role: signaler, targets: c}\n");
    const ShrinkStep* c = find_step(one, "remove:consumer 'c'");
    ASSERT_TRUE(c);
    const Scenario sc = load(c->tree);
    ASSERT_EQ(sc.processes.size(), 2u);
    EXPECT_EQ(sc.processes[1].name, "d");
}

TEST(ShrinkSteps, RemovingTheOnlyReaderIsRefusedByTheLoader) {
    const auto steps = steps_of(kRich);
    const ShrinkStep* s = find_step(steps, "remove:consumer 'r'");
    ASSERT_TRUE(s);
    EXPECT_THROW(load(s->tree), ScenarioError);
}

TEST(ShrinkSteps, SizesMoveTowardTheirMinimum) {
    const auto steps = steps_of(kRich);
    const ShrinkStep* fixed = find_step(steps, "size-fixed:producer 'w'");
    ASSERT_TRUE(fixed);
    const SizeDist f = load(fixed->tree).processes[0].workload.size;
    EXPECT_EQ(f.kind, SizeDist::Kind::kFixed);
    EXPECT_EQ(f.min, 64u);
    const ShrinkStep* max = find_step(steps, "size-half:size max:producer 'w'");
    ASSERT_TRUE(max);
    EXPECT_EQ(load(max->tree).processes[0].workload.size.max, 64u + (4096u - 64u) / 2);
    const ShrinkStep* lo = find_step(steps, "size-min:size min:producer 'w'");
    ASSERT_TRUE(lo);
    EXPECT_EQ(load(lo->tree).processes[0].workload.size.min, 32u);
    const ShrinkStep* choice = find_step(steps, "size-drop-choice:processes[1] (producer)");
    ASSERT_TRUE(choice);
    const SizeDist c = load(choice->tree).processes[1].workload.size;
    EXPECT_EQ(c.choices, (std::vector<std::uint32_t>{64, 512}));
    EXPECT_EQ(c.weights, (std::vector<double>{1, 2}));
}

TEST(ShrinkSteps, PerturbationGoesOffOrHalves) {
    const auto steps = steps_of(kRich);
    const ShrinkStep* off = find_step(steps, "perturb-off:scenario");
    const ShrinkStep* half = find_step(steps, "perturb-half:scenario");
    const ShrinkStep* proc = find_step(steps, "perturb-half:consumer 'r'");
    ASSERT_TRUE(off && half && proc);
    EXPECT_FALSE(load(off->tree).perturb->on());
    EXPECT_DOUBLE_EQ(load(half->tree).perturb->probability, 0.1);
    const Scenario p = load(proc->tree);
    EXPECT_DOUBLE_EQ(p.processes[3].perturb->probability, 0.25);
    EXPECT_EQ(p.processes[3].perturb->kinds, PerturbConfig::kYield) << "the rest of it stays";
    // Saying nothing is the built-in default, which is on: off is a step.
    const auto plain = steps_of(
        "name: t\nchannels: {a: {backend: pipe}}\nprocesses:\n"
        "  - {role: producer, channel: a, workload: {messages: 3}}\n"
        "  - {role: consumer, channel: a}\n");
    const ShrinkStep* d = find_step(plain, "perturb-off:scenario");
    ASSERT_TRUE(d);
    EXPECT_FALSE(load(d->tree).perturb->on());
}

TEST(ShrinkSteps, TimeoutsFollowTheHint) {
    ShrinkHints h;
    EXPECT_FALSE(find_step(steps_of(kRich, h), "timeout")) << "no hint, no step";
    h.timeout_s = 5;
    const auto lowered = steps_of(kRich, h);
    const ShrinkStep* s = find_step(lowered, "timeout");
    ASSERT_TRUE(s);
    EXPECT_DOUBLE_EQ(load(s->tree).timeout_s, 5);
    h.timeout_s = 500;
    EXPECT_FALSE(find_step(steps_of(kRich, h), "timeout")) << "never raised";
    h.halve_timeout = true;
    const auto halved = steps_of(kRich, h);
    const ShrinkStep* half = find_step(halved, "timeout-half");
    ASSERT_TRUE(half);
    EXPECT_DOUBLE_EQ(load(half->tree).timeout_s, 60);
}

// Fault lists are handled by shape, whatever their entries say: the key
// whole, then halves of a long list, then each entry; a map's keys one by one.
TEST(ShrinkSteps, FaultListsAndProxyMapsAreCutEntryByEntry) {
    const YAML::Node tree = YAML::Load(R"(name: t
faults:
  - {action: kill, target: c, at: 1ms}
  - {action: kill, target: c, at: 2ms}
  - {action: kill, target: c, at: 3ms}
  - {action: kill, target: c, at: 4ms}
channels:
  a: {backend: tcp, proxy: {drop: 0.1, delay: 0.2}}
processes:
  - {role: producer, channel: a, workload: {messages: 3}, syscall_faults: [{call: read}]}
  - {role: consumer, name: c, channel: a}
)");
    const auto steps = shrink_steps(tree);
    const ShrinkStep* all = find_step(steps, "drop:scenario.faults");
    ASSERT_TRUE(all);
    EXPECT_FALSE(all->tree["faults"]);
    const ShrinkStep* h0 = find_step(steps, "drop-half0:faults of scenario");
    const ShrinkStep* h1 = find_step(steps, "drop-half1:faults of scenario");
    ASSERT_TRUE(h0 && h1);
    ASSERT_EQ(h0->tree["faults"].size(), 2u);
    EXPECT_EQ(h0->tree["faults"][0]["at"].Scalar(), "3ms");
    ASSERT_EQ(h1->tree["faults"].size(), 2u);
    EXPECT_EQ(h1->tree["faults"][1]["at"].Scalar(), "2ms");
    for (int j = 0; j < 4; ++j) {
        const ShrinkStep* e =
            find_step(steps, "drop-entry:faults of scenario[" + std::to_string(j) + "]");
        ASSERT_TRUE(e);
        ASSERT_EQ(e->tree["faults"].size(), 3u);
        for (const YAML::Node& f : e->tree["faults"])
            EXPECT_NE(f["at"].Scalar(), std::to_string(j + 1) + "ms");
    }
    EXPECT_TRUE(find_step(steps, "drop:channel 'a'.proxy"));
    const ShrinkStep* d = find_step(steps, "drop-sub:proxy of channel 'a'.drop");
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->tree["channels"]["a"]["proxy"]["drop"]);
    EXPECT_EQ(d->tree["channels"]["a"]["proxy"]["delay"].Scalar(), "0.2");
    EXPECT_TRUE(find_step(steps, "drop:processes[0] (producer).syscall_faults"));
    const ScenarioSize z = scenario_size(Scenario{}, tree);
    EXPECT_EQ(z.faults, 6u) << "four faults, one proxy, one syscall fault";
}

// With the loader's own `faults:`: an entry removed is a scenario with one
// fault fewer, and a process a fault targets cannot go while the fault stays.
TEST(ShrinkSteps, ProcessFaultsGoBeforeTheProcessesTheyTarget) {
    const YAML::Node tree = YAML::Load(R"(name: t
channels: {a: {backend: pipe}}
processes:
  - {role: producer, channel: a, workload: {messages: 30}}
  - {role: consumer, name: c, channel: a}
  - {role: consumer, name: d, channel: a}
faults:
  - {action: stop, target: d, at: 5ms, pause: 10ms}
  - {action: signal, target: c, at: 2ms, signal: SIGUSR2}
)");
    ASSERT_EQ(load(tree).faults.size(), 2u);
    const auto steps = shrink_steps(tree);
    const ShrinkStep* all = find_step(steps, "drop:scenario.faults");
    const ShrinkStep* one = find_step(steps, "drop-entry:faults of scenario[0]");
    const ShrinkStep* d = find_step(steps, "remove:consumer 'd'");
    ASSERT_TRUE(all && one && d);
    EXPECT_LT(all - steps.data(), d - steps.data()) << "faults go first";
    EXPECT_TRUE(load(all->tree).faults.empty());
    const Scenario sc = load(one->tree);
    ASSERT_EQ(sc.faults.size(), 1u);
    EXPECT_EQ(sc.faults[0].target.text, "c");
    EXPECT_THROW(load(d->tree), ScenarioError) << "a fault still targets d";
    const ScenarioSize z = scenario_size(load(tree), tree);
    EXPECT_EQ(z.faults, 2u);
}

TEST(ShrinkSteps, SizesArePlannedTotals) {
    const Scenario s = load(YAML::Load(kRich));
    const ScenarioSize z = scenario_size(s, YAML::Load(kRich));
    EXPECT_EQ(z.processes, 8u);
    EXPECT_EQ(z.messages, 4000u);
    EXPECT_EQ(z.bytes, 4000u * (64 + 4096) / 2);
    EXPECT_DOUBLE_EQ(z.duration_s, 2);
    EXPECT_EQ(z.faults, 0u);
}

// A matrix cell flattened is the scenario the loader makes of that cell.
TEST(ShrinkSteps, AMatrixCellFlattensToWhatTheLoaderRuns) {
    const std::string file =
        std::string(IPCT_SOURCE_DIR) + "/scenarios/backends/matrix-fan-in.yaml";
    const std::vector<Scenario> cells = load_scenarios(file);
    ASSERT_GT(cells.size(), 2u);
    const YAML::Node root = YAML::Load(cells[0].text);
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const YAML::Node flat = shrink_flatten_cell(root, i);
        EXPECT_FALSE(flat["matrix"]);
        const Scenario s = load(flat);
        EXPECT_EQ(s.cell, "");
        ASSERT_EQ(s.channels.size(), cells[i].channels.size());
        EXPECT_EQ(s.channels[0].backend, cells[i].channels[0].backend) << cells[i].cell;
        EXPECT_EQ(s.processes.size(), cells[i].processes.size());
        EXPECT_EQ(s.processes[0].workload.messages, cells[i].processes[0].workload.messages);
        EXPECT_EQ(s.processes[0].workload.size.max, cells[i].processes[0].workload.size.max);
    }
}

TEST(ShrinkSteps, EmittedTextKeepsFlowStyleAndLiteralDescriptions) {
    const std::string text = shrink_emit(YAML::Load(kRich));
    EXPECT_NE(text.find("options: {capacity: 65536}"), std::string::npos) << text;
    EXPECT_NE(text.find("description: |"), std::string::npos) << text;
    EXPECT_EQ(load(YAML::Load(text)).description, load(YAML::Load(kRich)).description);
}

}  // namespace
}  // namespace ipct
