// Schedule perturbation and CPU placement: the text and YAML forms (errors
// at their line and column), the decisions (a pure function of seed, site
// and visit: same seed, same sequence; another process, another sequence),
// the per-thread perturber, and how the plan resolves each process's
// setting.
#include "ipctorture/perturb.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <set>
#include <thread>

#include "ipctorture/errors.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/schedule.hpp"

namespace ipct {
namespace {

PerturbConfig parse(const std::string& s) {
    std::string why;
    std::optional<PerturbConfig> c = parse_perturb_text(s, &why);
    EXPECT_TRUE(c.has_value()) << s << ": " << why;
    return c.value_or(PerturbConfig::off());
}

std::string rejected(const std::string& s) {
    std::string why;
    EXPECT_FALSE(parse_perturb_text(s, &why).has_value()) << s;
    return why;
}

TEST(PerturbText, ShortForms) {
    EXPECT_EQ(parse("off"), PerturbConfig::off());
    EXPECT_FALSE(parse("off").on());
    EXPECT_EQ(parse("default"), PerturbConfig::builtin_default());
    PerturbConfig p = parse("0.05");
    EXPECT_EQ(p.probability, 0.05);
    EXPECT_EQ(p.kinds, PerturbConfig::map_defaults().kinds);
    EXPECT_EQ(p.sites, PerturbConfig::map_defaults().sites);
    PerturbConfig q = parse("p=0.2,sleep=1ms,spin=77,kinds=yield+sleep,sites=calls");
    EXPECT_EQ(q.probability, 0.2);
    EXPECT_EQ(q.max_sleep_ns, 1'000'000u);
    EXPECT_EQ(q.max_spin, 77u);
    EXPECT_EQ(q.kinds, PerturbConfig::kYield | PerturbConfig::kSleep);
    EXPECT_EQ(q.sites, PerturbConfig::kCalls);
    EXPECT_EQ(parse("probability=0.2,max_sleep=1ms,max_spin=77,kinds=yield+sleep,sites=calls"), q);
    PerturbConfig r = parse("sleep=250us");
    EXPECT_EQ(r.max_sleep_ns, 250'000u);
    EXPECT_EQ(r.probability, PerturbConfig::map_defaults().probability);
}

TEST(PerturbText, RoundTrips) {
    for (const char* s :
         {"off", "default", "0.05", "1", "0", "p=0.3333333333333333,sleep=1234567ns,spin=1",
          "p=0.5,sleep=1s,kinds=spin", "sites=windows,kinds=sleep+yield", "p=1e-05"}) {
        const PerturbConfig c = parse(s);
        EXPECT_EQ(parse(perturb_text(c)), c) << s << " -> " << perturb_text(c);
    }
    EXPECT_EQ(perturb_text(PerturbConfig::off()), "off");
    EXPECT_EQ(perturb_text(parse("p=0.05,sleep=200us,spin=2000")),
              "p=0.05,sleep=200us,spin=2000,kinds=yield+spin+sleep,sites=calls+windows");
}

TEST(PerturbText, Rejects) {
    EXPECT_NE(rejected("on").find("expected off, default, a probability"), std::string::npos);
    EXPECT_NE(rejected("1.5").find("expected off, default"), std::string::npos);
    EXPECT_NE(rejected("-0.1").find("expected off"), std::string::npos);
    EXPECT_NE(rejected("p=2").find("probability in [0, 1]"), std::string::npos);
    EXPECT_NE(rejected("sleep=2s").find("at most 1s"), std::string::npos);
    EXPECT_NE(rejected("sleep=fast").find("duration"), std::string::npos);
    EXPECT_NE(rejected("spin=-3").find("count"), std::string::npos);
    EXPECT_NE(rejected("spin=0").find("max_spin must be between 1"), std::string::npos);
    EXPECT_NE(rejected("sleep=0s").find("max_sleep must be above 0"), std::string::npos);
    EXPECT_NE(rejected("kinds=yield+nap").find("unknown kind 'nap'"), std::string::npos);
    EXPECT_NE(rejected("kinds=spin+spin").find("repeated kind 'spin'"), std::string::npos);
    EXPECT_NE(rejected("sites=calls+nowhere").find("unknown site"), std::string::npos);
    EXPECT_NE(rejected("p=0.1,p=0.2").find("given twice"), std::string::npos);
    EXPECT_NE(rejected("p=0.1,probability=0.2").find("given twice"), std::string::npos);
    EXPECT_NE(rejected("p=0.1,colour=red").find("unknown key 'colour'"), std::string::npos);
    EXPECT_NE(rejected("p=0.1,").find("expected key=value"), std::string::npos);
    // A spin of 0 is fine where spin is no kind.
    EXPECT_TRUE(parse_perturb_text("spin=0,kinds=yield", nullptr).has_value());
}

// ---- decisions ---------------------------------------------------------------

std::vector<PerturbDecision> sequence(const PerturbConfig& c, std::uint64_t seed, int n,
                                      Site s = Site::kBeforeSend) {
    Perturber p(c, seed);
    std::vector<PerturbDecision> out;
    for (int i = 0; i < n; ++i) out.push_back(p.next(s));
    return out;
}

TEST(PerturbDecide, SameSeedSameSequenceOtherProcessOtherSequence) {
    const PerturbConfig c = parse("p=0.5");
    const Plan plan =
        make_plan(load_scenario_text("name: t\nchannels: {d: {backend: pipe}}\nprocesses:\n"
                                     "  - {role: producer, channel: d, workload: {messages: 1}}\n"
                                     "  - {role: consumer, channel: d}\n",
                                     "t.yaml"),
                  42, "r", "/tmp/r");
    const std::uint64_t s0 = perturb_seed(plan.processes[0]), s1 = perturb_seed(plan.processes[1]);
    EXPECT_NE(s0, s1);
    EXPECT_EQ(sequence(c, s0, 1000), sequence(c, s0, 1000));
    EXPECT_NE(sequence(c, s0, 1000), sequence(c, s1, 1000));
    // The same run seed planned again gives the same streams; another does not.
    const Plan again = make_plan(load_scenario_text(plan.scenario_text, "t.yaml"), 42, "x", "/x");
    EXPECT_EQ(perturb_seed(again.processes[0]), s0);
    const Plan other = make_plan(load_scenario_text(plan.scenario_text, "t.yaml"), 43, "x", "/x");
    EXPECT_NE(perturb_seed(other.processes[0]), s0);
    EXPECT_NE(sequence(c, perturb_seed(other.processes[0]), 1000), sequence(c, s0, 1000));
}

TEST(PerturbDecide, EachSiteHasItsOwnStream) {
    const PerturbConfig c = parse("p=0.5");
    Perturber a(c, 7), b(c, 7);
    std::vector<PerturbDecision> sa, sb;
    for (int i = 0; i < 500; ++i) {
        sa.push_back(a.next(Site::kAfterReceive));
        b.next(Site::kBeforeSend);  // visits of another site in between change nothing
        b.next(Site::kIndexToSlot);
        sb.push_back(b.next(Site::kAfterReceive));
    }
    EXPECT_EQ(sa, sb);
    EXPECT_NE(sequence(c, 7, 500, Site::kAfterReceive), sequence(c, 7, 500, Site::kBeforeSend));
}

TEST(PerturbDecide, RateKindsAmountsAndSites) {
    const PerturbConfig c = parse("p=0.25,sleep=300us,spin=1000");
    std::map<PerturbKind, int> n;
    const int visits = 200000;
    for (const PerturbDecision& d : sequence(c, 99, visits)) {
        ++n[d.kind];
        const std::uint64_t most = d.kind == PerturbKind::kSpin    ? 1000
                                   : d.kind == PerturbKind::kSleep ? 300'000
                                                                   : 0;
        EXPECT_LE(d.amount, most);
        EXPECT_EQ(d.amount == 0, most == 0);
    }
    // A fixed seed: these counts are exact and the same on every run; the
    // bounds only say the stream is what it claims (a quarter perturbed,
    // split evenly between the three kinds).
    const int on = visits - n[PerturbKind::kNone];
    EXPECT_NEAR(on, visits / 4, visits / 100);
    for (PerturbKind k : {PerturbKind::kYield, PerturbKind::kSpin, PerturbKind::kSleep})
        EXPECT_NEAR(n[k], on / 3, on / 30) << perturb_kind_name(k);

    for (const PerturbDecision& d : sequence(parse("p=1,kinds=spin"), 5, 1000))
        EXPECT_EQ(d.kind, PerturbKind::kSpin);
    for (const PerturbDecision& d : sequence(parse("p=1,sites=calls"), 5, 1000, Site::kCopyPiece))
        EXPECT_EQ(d.kind, PerturbKind::kNone) << "a window site under sites=calls";
    for (const PerturbDecision& d : sequence(parse("p=1,sites=windows"), 5, 1000))
        EXPECT_EQ(d.kind, PerturbKind::kNone) << "a call site under sites=windows";
    for (const PerturbDecision& d : sequence(PerturbConfig::off(), 5, 1000))
        EXPECT_EQ(d.kind, PerturbKind::kNone);
    for (const PerturbDecision& d : sequence(parse("0"), 5, 1000))
        EXPECT_EQ(d.kind, PerturbKind::kNone);
}

TEST(PerturbDecide, BuiltinDefaultTouchesOnlyWindows) {
    const PerturbConfig d = PerturbConfig::builtin_default();
    EXPECT_TRUE(d.on());
    EXPECT_EQ(perturb_config_error(d), "");
    EXPECT_EQ(d.kinds & PerturbConfig::kSleep, 0);
    int window = 0;
    for (const PerturbDecision& x : sequence(d, 3, 8000, Site::kIndexToSlot))
        window += x.kind != PerturbKind::kNone;
    EXPECT_NEAR(window, 3000, 200);
    for (const PerturbDecision& x : sequence(d, 3, 1000, Site::kBeforeReceive))
        EXPECT_EQ(x.kind, PerturbKind::kNone);
}

// ---- the per-thread perturber ------------------------------------------------

TEST(PerturbPoint, PerThreadAndKeepsErrno) {
    perturb_configure(parse("p=1,kinds=yield,sites=calls"), 1);
    for (int i = 0; i < 10; ++i) perturb_point(Site::kBeforeSend);
    perturb_point(Site::kWindow);  // not a call site
    errno = EAGAIN;
    perturb_point(Site::kAfterSend);
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(perturb_stats().yields, 11u);
    EXPECT_EQ(perturb_stats().spins + perturb_stats().sleeps, 0u);
    std::uint64_t other = 99;
    std::thread t([&] {
        perturb_point(Site::kBeforeSend);  // never configured: nothing
        other = perturb_stats().yields;
    });
    t.join();
    EXPECT_EQ(other, 0u);
    perturb_configure(parse("p=1,kinds=sleep,sleep=10us,sites=windows"), 1);
    EXPECT_EQ(perturb_stats().yields, 0u) << "configuring starts the counts again";
    perturb_point(Site::kCopyPiece);
    EXPECT_EQ(perturb_stats().sleeps, 1u);
    perturb_configure(PerturbConfig::off(), 1);
    perturb_point(Site::kCopyPiece);
    EXPECT_EQ(perturb_stats().sleeps, 0u);
}

// ---- YAML and the plan --------------------------------------------------------

const char* const kTwoPairs = R"(name: t
seed: 5
channels:
  d: {backend: pipe}
processes:
  - role: producer
    count: 2
    channel: d
    workload: {messages: 1}
  - role: consumer
    channel: d
)";

std::string with(const std::string& top, const std::string& producer = "",
                 const std::string& consumer = "") {
    std::string t = kTwoPairs;
    if (!producer.empty())
        t.insert(t.find("    workload: {messages: 1}"), "    " + producer + "\n");
    if (!consumer.empty()) t += "    " + consumer + "\n";
    return t + top + (top.empty() ? "" : "\n");
}

void expect_error(const std::string& text, int line, int column, const std::string& what) {
    try {
        load_scenario_text(text, "t.yaml");
        ADD_FAILURE() << "accepted:\n" << text;
    } catch (const ScenarioError& e) {
        EXPECT_EQ(e.line(), line) << e.what();
        EXPECT_EQ(e.column(), column) << e.what();
        EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
}

TEST(ScenarioPerturb, TopLevelAndPerProcess) {
    Scenario s = load_scenario_text(with("perturb: {probability: 0.1, kinds: [spin], "
                                         "max_spin: 50}",
                                         "perturb: off", "perturb: \"p=0.3,sites=calls\""),
                                    "t.yaml");
    ASSERT_TRUE(s.perturb);
    EXPECT_EQ(*s.perturb, parse("p=0.1,kinds=spin,spin=50"));
    Plan p = make_plan(s, 1, "r", "/r");
    EXPECT_EQ(p.processes[0].perturb, PerturbConfig::off());
    EXPECT_EQ(p.processes[1].perturb, PerturbConfig::off());
    EXPECT_EQ(p.processes[2].perturb, parse("p=0.3,sites=calls"));
    Plan plain = make_plan(load_scenario_text(with("", "perturb: 0.5"), "t.yaml"), 1, "r", "/r");
    EXPECT_EQ(plain.processes[0].perturb, parse("0.5"));
    EXPECT_EQ(plain.processes[2].perturb, PerturbConfig::builtin_default());
    EXPECT_EQ(plan_from_json(plan_to_json(p)), p);
}

TEST(ScenarioPerturb, ErrorsNameTheNode) {
    const int top = 12;  // the line after kTwoPairs
    expect_error(with("perturb: sometimes"), top, 10, "invalid 'perturb'");
    expect_error(with("perturb: [yield]"), top, 10, "expected off, default");
    expect_error(with("perturb: {probability: 1.5}"), top, 24, "probability in [0, 1]");
    expect_error(with("perturb: {max_sleep: forever}"), top, 22, "duration");
    expect_error(with("perturb: {kinds: [yield, nap]}"), top, 26, "expected one of yield");
    expect_error(with("perturb: {kinds: [spin, spin]}"), top, 25, "listed twice");
    expect_error(with("perturb: {kinds: []}"), top, 18, "non-empty sequence");
    expect_error(with("perturb: {sites: [calls, roof]}"), top, 26, "expected one of calls");
    expect_error(with("perturb: {probability: 0.1, colour: red}"), top, 29, "unknown key");
    expect_error(with("perturb: {max_spin: 0, kinds: [spin]}"), top, 10, "max_spin");
    expect_error(with("", "perturb: {probabilty: 0.1}"), 9, 15, "unknown key");
    expect_error(with("", "", "perturb: 2"), top, 14, "invalid 'perturb'");
}

TEST(ScenarioCpus, PlacementsResolveInPlanOrder) {
    const std::vector<int> allowed = allowed_cpus();
    ASSERT_FALSE(allowed.empty());
    Plan same = make_plan(load_scenario_text(with("cpus: same"), "t.yaml"), 1, "r", "/r");
    for (const PlannedProcess& p : same.processes) {
        EXPECT_EQ(p.placement, CpuPlacement::Kind::kSame);
        EXPECT_EQ(p.cpus, std::vector<int>{allowed.front()});
    }
    Plan spread = make_plan(load_scenario_text(with("cpus: spread", "", "cpus: any"), "t.yaml"), 1,
                            "r", "/r");
    EXPECT_EQ(spread.processes[0].cpus, std::vector<int>{allowed[0]});
    EXPECT_EQ(spread.processes[1].cpus, std::vector<int>{allowed[1 % allowed.size()]});
    EXPECT_EQ(spread.processes[2].placement, CpuPlacement::Kind::kAny);
    EXPECT_TRUE(spread.processes[2].cpus.empty());
    // Written in any order, kept ascending.
    std::string list = "cpus: [" + std::to_string(allowed.back());
    if (allowed.size() > 1) list += ", " + std::to_string(allowed.front());
    Plan listed = make_plan(load_scenario_text(with("", list + "]"), "t.yaml"), 1, "r", "/r");
    std::vector<int> want{allowed.front(), allowed.back()};
    want.erase(std::unique(want.begin(), want.end()), want.end());
    EXPECT_EQ(listed.processes[0].cpus, want);
    EXPECT_EQ(listed.processes[0].placement, CpuPlacement::Kind::kList);
    EXPECT_EQ(listed.processes[2].placement, CpuPlacement::Kind::kAny);
    EXPECT_EQ(plan_from_json(plan_to_json(spread)), spread);
    EXPECT_EQ(plan_from_json(plan_to_json(listed)), listed);
}

TEST(ScenarioCpus, ErrorsNameTheNode) {
    const int top = 12;
    const std::string first = std::to_string(allowed_cpus().front());
    const std::string absent = std::to_string(allowed_cpus().back() + 1);
    expect_error(with("cpus: [" + first + ", " + absent + "]"), top, 10 + int(first.size()),
                 "CPU " + absent + " is not one this process may run on");
    expect_error(with("cpus: [zero]"), top, 8, "expected a CPU number");
    expect_error(with("cpus: [-1]"), top, 8, "expected a CPU number");
    expect_error(with("cpus: []"), top, 7, "non-empty list");
    expect_error(with("cpus: everywhere"), top, 7, "expected any, same, spread");
    expect_error(with("", "", "cpus: {cpu: 0}"), top, 11, "expected any, same, spread");
    expect_error(with("cpus: [" + first + ", " + first + "]"), top, 10 + int(first.size()),
                 "listed twice");
}

// A trace fed by a perturber driven over `visits` visits of each site, in
// an order that depends on `shuffle` (another run interleaves the sites
// differently; each site's own stream must not care).
PerturbTrace traced(const PerturbConfig& c, std::uint64_t seed, std::uint64_t visits,
                    std::uint64_t shuffle) {
    Perturber p(c, seed);
    PerturbTrace t;
    std::array<std::uint64_t, kSites> left;
    left.fill(visits);
    for (std::uint64_t i = 0, x = shuffle;; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int k = int((x >> 33) % kSites);
        while (left[k] == 0 && std::any_of(left.begin(), left.end(), [](auto v) { return v; }))
            k = (k + 1) % kSites;
        if (left[k] == 0) break;
        --left[k];
        const Site s = Site(k);
        const std::uint64_t n = p.visits(s);
        const PerturbDecision d = p.next(s);
        if (d.kind != PerturbKind::kNone) t.add(s, n, d, p);
    }
    t.finish(p);
    return t;
}

TEST(PerturbTrace, SameSeedSameDecisionsWhateverTheInterleaving) {
    const PerturbConfig c = parse("p=0.3,kinds=yield+spin+sleep,sites=calls+windows");
    const PerturbTrace a = traced(c, 42, 300, 1), b = traced(c, 42, 300, 2);
    EXPECT_NE(a.entries, b.entries) << "the interleavings differ, so the lists' orders do";
    EXPECT_TRUE(perturb_trace_differences(a, b).empty());
    EXPECT_EQ(a.sites, b.sites);
    EXPECT_FALSE(a.truncated);
    std::uint64_t acted = 0;
    for (const PerturbSiteTrace& s : a.sites) {
        EXPECT_EQ(s.visits, 300u);
        EXPECT_EQ(s.covered, 300u);
        EXPECT_GT(s.acted, 30u);
        acted += s.acted;
    }
    EXPECT_EQ(acted, a.entries.size());
    for (const PerturbTraceEntry& e : a.entries)
        EXPECT_EQ(e.decision, perturb_decide(c, 42, e.site, e.visit));
}

TEST(PerturbTrace, AnotherSeedDiffers) {
    const PerturbConfig c = parse("p=0.3,kinds=yield+spin+sleep,sites=calls+windows");
    const std::vector<std::string> d =
        perturb_trace_differences(traced(c, 42, 300, 1), traced(c, 43, 300, 1));
    ASSERT_FALSE(d.empty());
    EXPECT_NE(d[0].find("differ"), std::string::npos) << d[0];
}

// One changed decision is found, by its list and by its site's digest.
TEST(PerturbTrace, OneChangedDecisionIsFound) {
    const PerturbConfig c = parse("p=0.3,kinds=spin,spin=1000,sites=calls");
    const PerturbTrace a = traced(c, 7, 100, 1);
    PerturbTrace b = a;
    ASSERT_FALSE(b.entries.empty());
    PerturbTraceEntry& e = b.entries[b.entries.size() / 2];
    e.decision.amount += 1;
    PerturbSiteTrace& st = b.sites[int(e.site)];
    st.digest ^= 1;
    const std::vector<std::string> d = perturb_trace_differences(a, b);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_NE(d[0].find(std::string(site_name(e.site)) + ": the decisions differ from visit " +
                        std::to_string(e.visit)),
              std::string::npos)
        << d[0];
    EXPECT_NE(d[1].find("digests"), std::string::npos) << d[1];
}

// More visits than the list holds: the list stops, the counts and digests go
// on, and two runs are compared over the visits both lists cover.
TEST(PerturbTrace, BoundedAndComparedOverWhatBothCover) {
    const PerturbConfig c = parse("p=1,kinds=yield,sites=calls+windows");
    const PerturbTrace a = traced(c, 5, 1000, 1), b = traced(c, 5, 1000, 3);
    EXPECT_TRUE(a.truncated);
    EXPECT_EQ(a.entries.size(), kPerturbTraceLimit);
    std::uint64_t covered = 0;
    for (const PerturbSiteTrace& s : a.sites) {
        EXPECT_EQ(s.visits, 1000u);
        EXPECT_EQ(s.acted, 1000u);
        EXPECT_LT(s.covered, 1000u);
        covered += s.covered;
    }
    EXPECT_EQ(covered, kPerturbTraceLimit) << "p=1: every covered visit is listed";
    EXPECT_TRUE(perturb_trace_differences(a, b).empty());
}

// The thread's own perturber records what perturb_point carried out.
TEST(PerturbTrace, PerturbPointRecords) {
    const PerturbConfig c = parse("p=0.5,kinds=yield+spin,spin=10,sites=calls");
    perturb_configure(c, 99);
    for (int i = 0; i < 200; ++i) perturb_point(i % 3 ? Site::kBeforeSend : Site::kAfterReceive);
    perturb_point(Site::kWindow);  // not a call site: visited, never acted on
    const PerturbTrace t = perturb_trace();
    EXPECT_EQ(t.sites[int(Site::kBeforeSend)].visits, 133u);
    EXPECT_EQ(t.sites[int(Site::kAfterReceive)].visits, 67u);
    EXPECT_EQ(t.sites[int(Site::kWindow)].visits, 1u);
    EXPECT_EQ(t.sites[int(Site::kWindow)].acted, 0u);
    const PerturbStats st = perturb_stats();
    EXPECT_EQ(t.entries.size(), st.yields + st.spins);
    for (const PerturbTraceEntry& e : t.entries)
        EXPECT_EQ(e.decision, perturb_decide(c, 99, e.site, e.visit));
    perturb_configure(PerturbConfig::off(), 1);
    EXPECT_TRUE(perturb_trace().entries.empty());
}

TEST(CpuList, Text) {
    EXPECT_EQ(cpu_list_text({0, 1, 2, 3, 6, 8, 9}), "0-3,6,8-9");
    EXPECT_EQ(cpu_list_text({5}), "5");
    EXPECT_EQ(cpu_list_text({}), "");
}

}  // namespace
}  // namespace ipct
