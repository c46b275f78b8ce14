// End-to-end: repeated runs (--repeat, --until-fail), the detection
// benchmark (`detect`), --perturb and `cpus:` through the real binary.
// Every wait is bounded; none is a pass condition.  No test depends on one
// seed being lucky: a planted bug is run until it is caught (under a cap the
// benchmark shows is never reached), and a correct scenario must pass every
// time.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "ipctorture/perturb.hpp"
#include "test_util.hpp"

using namespace ipct::test;
using nlohmann::json;

namespace {

json read_json(const std::string& p) {
    return json::parse(slurp(p));
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
    const std::string p = dir + "/" + name;
    std::ofstream(p) << text;
    return p;
}

const char* const kPassing = "scenarios/smoke/pipe-one-to-one.yaml";
const char* const kZoo = "scenarios/zoo/shm-ring-none.yaml";

TEST(Repeat, RepeatGivesNPassingRunsWithDistinctSeeds) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/r.json";
    auto r = run_binary({"run", source(kPassing), "--repeat", "3", "--json", out}, root.path,
                        scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const json j = read_json(out);
    ASSERT_EQ(j["scenarios"].size(), 3u);
    std::set<std::uint64_t> seeds;
    for (std::size_t i = 0; i < 3; ++i) {
        const json& s = j["scenarios"][i];
        EXPECT_EQ(s["verdict"], "PASS");
        EXPECT_EQ(s["repetition"], i);
        seeds.insert(s["seed"].get<std::uint64_t>());
        // Each repetition's seed is printed, so that one can be re-run alone.
        EXPECT_NE(r.err.find("seed " + std::to_string(s["seed"].get<std::uint64_t>())),
                  std::string::npos)
            << r.err;
    }
    EXPECT_EQ(seeds.size(), 3u);
    EXPECT_EQ(j["scenarios"][0]["seed"], 1) << "the first repetition runs with the base seed";
    ASSERT_EQ(j["repetitions"].size(), 1u);
    const json& sum = j["repetitions"][0];
    EXPECT_EQ(sum["runs"], 3);
    EXPECT_EQ(sum["failing_runs"], 0);
    EXPECT_EQ(sum["base_seed"], 1);
    EXPECT_EQ(sum["repetitions"].size(), 3u);
    EXPECT_TRUE(root.entries().empty()) << "passing runs leave nothing";
}

// Runs the zoo entry until it fails: every run before the last passed, the
// last failed, and its seed reproduces a failure when run alone.
TEST(Repeat, UntilFailStopsAtTheFirstFailingRun) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/r.json";
    auto r = run_binary({"run", source(kZoo), "--until-fail", "--max", "10", "--json", out},
                        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    const json j = read_json(out);
    const json& runs = j["scenarios"];
    ASSERT_GE(runs.size(), 1u);
    ASSERT_LE(runs.size(), 10u);
    for (std::size_t i = 0; i + 1 < runs.size(); ++i) EXPECT_EQ(runs[i]["verdict"], "PASS");
    const json& last = runs.back();
    EXPECT_EQ(last["verdict"], "FAIL");
    EXPECT_EQ(j["repetitions"][0]["failing_runs"], 1);
    bool grouped = false;
    for (const json& g : j["repetitions"][0]["groups"]) {
        EXPECT_EQ(g["channel"], "ring");
        grouped = grouped || (g["runs"] == 1 && g["findings"].get<int>() > 0);
    }
    EXPECT_TRUE(grouped) << j["repetitions"][0].dump();
    EXPECT_NE(r.out.find("failing seeds: " + std::to_string(last["seed"].get<std::uint64_t>())),
              std::string::npos)
        << r.out;
    run_binary({"clean"}, root.path, scratch.path);
    EXPECT_TRUE(root.entries().empty());
}

TEST(Repeat, UntilFailOnAPassingScenarioRunsMaxTimes) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/r.json";
    auto r = run_binary({"run", source(kPassing), "--until-fail", "--max", "2", "--json", out},
                        root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(read_json(out)["scenarios"].size(), 2u);
}

TEST(Repeat, OptionsAreChecked) {
    TempDir root, scratch;
    const std::string f = source(kPassing);
    EXPECT_EQ(
        run_binary({"run", f, "--repeat", "2", "--until-fail"}, root.path, scratch.path).status, 2);
    EXPECT_EQ(run_binary({"run", f, "--max", "2"}, root.path, scratch.path).status, 2);
    EXPECT_EQ(run_binary({"run", f, "--repeat", "0"}, root.path, scratch.path).status, 2);
    auto p = run_binary({"run", f, "--perturb", "sometimes"}, root.path, scratch.path);
    EXPECT_EQ(p.status, 2);
    EXPECT_NE(p.err.find("expected off, default"), std::string::npos) << p.err;
    EXPECT_TRUE(root.entries().empty());
}

// The event log's perturbation note of each process of a kept run.
std::vector<ipct::Record> perturb_notes(const std::string& run_dir, std::size_t processes) {
    std::vector<ipct::Record> out;
    for (std::size_t p = 0; p < processes; ++p) {
        ipct::EventLogReader log(run_dir + "/events." + std::to_string(p) + ".log");
        for (std::uint64_t i = 0; i < log.size(); ++i)
            if (log[i].op == ipct::Op::kNote &&
                log[i].aux == static_cast<std::uint32_t>(ipct::Note::kPerturbations))
                out.push_back(log[i]);
    }
    return out;
}

// --perturb reaches every worker (their notes count what was done), shows in
// the report and in the reproduce command; off does nothing.
TEST(Perturb, CommandLineSettingReachesEveryWorker) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/r.json";
    auto r = run_binary({"run", source(kPassing), "--keep", "--json", out, "--perturb",
                         "p=0.5,kinds=yield+spin,spin=100,sites=calls"},
                        root.path, scratch.path);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    json s = read_json(out)["scenarios"][0];
    const std::string text = "p=0.5,sleep=200us,spin=100,kinds=yield+spin,sites=calls";
    EXPECT_NE(s["reproduce"].get<std::string>().find("--perturb " + text), std::string::npos)
        << s["reproduce"];
    ASSERT_EQ(s["processes"].size(), 2u);
    for (const json& p : s["processes"]) EXPECT_EQ(p["perturb"], text);
    const std::vector<ipct::Record> on = perturb_notes(s["run_dir"], 2);
    ASSERT_EQ(on.size(), 2u);
    for (const ipct::Record& n : on) {
        EXPECT_GT(n.seq, 0u);
        EXPECT_EQ(n.seq, std::uint64_t(n.origin) + n.size + n.extra);
        EXPECT_EQ(n.extra, 0u) << "sleep is no kind here";
    }

    auto off = run_binary({"run", source(kPassing), "--keep", "--json", out, "--perturb", "off"},
                          root.path, scratch.path);
    ASSERT_EQ(off.status, 0) << off.err;
    s = read_json(out)["scenarios"][0];
    EXPECT_EQ(s["processes"][0]["perturb"], "off");
    EXPECT_TRUE(perturb_notes(s["run_dir"], 2).empty());
    run_binary({"clean"}, root.path, scratch.path);
    EXPECT_TRUE(root.entries().empty());
}

// cpus: same puts every process on one CPU, spread goes round-robin; the
// workers pin themselves (a failed pin would be a crash) and the report
// names each one's CPUs.
TEST(Placement, SameAndSpreadAreAppliedAndReported) {
    const std::vector<int> allowed = ipct::allowed_cpus();
    ASSERT_FALSE(allowed.empty());
    TempDir root, scratch;
    const std::string base = R"(name: placed
channels:
  d: {backend: pipe}
processes:
  - {role: producer, count: 2, channel: d, workload: {messages: 2000, size: 256}, cpus: spread}
  - {role: consumer, channel: d}
cpus: same
)";
    const std::string f = write_file(scratch.path, "placed.yaml", base);
    const std::string out = scratch.path + "/r.json";
    auto r = run_binary({"run", f, "--json", out}, root.path, scratch.path);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    const json ps = read_json(out)["scenarios"][0]["processes"];
    ASSERT_EQ(ps.size(), 3u);
    EXPECT_EQ(ps[0]["placement"], "spread");
    EXPECT_EQ(ps[0]["cpus"], json::array({allowed[0]}));
    EXPECT_EQ(ps[1]["cpus"], json::array({allowed[1 % allowed.size()]}));
    EXPECT_EQ(ps[2]["placement"], "same");
    EXPECT_EQ(ps[2]["cpus"], json::array({allowed[0]}));

    const std::string bad = write_file(scratch.path, "bad.yaml",
                                       "name: bad\nchannels: {d: {backend: pipe}}\nprocesses:\n"
                                       "  - {role: producer, channel: d, workload: {messages: 1}}\n"
                                       "  - {role: consumer, channel: d, cpus: [" +
                                           std::to_string(allowed.back() + 1) + "]}\n");
    auto v = run_binary({"validate", bad}, root.path, scratch.path);
    EXPECT_EQ(v.status, 2);
    EXPECT_NE(v.err.find(bad + ":5:41: CPU"), std::string::npos) << v.err;
    EXPECT_TRUE(root.entries().empty());
}

// The benchmark on one zoo entry and two twins: the planted bug is caught
// in every perturbed run, the correct twin is clean, and a "twin" that is
// not correct fails the benchmark.
TEST(Detect, MeasuresZooAndTwins) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/d.json";
    auto r = run_binary({"detect", source("scenarios/zoo/pipe-fan-in-interleave.yaml"), "--runs",
                         "2", "--off-runs", "1", "--twin-runs", "2", "--twin",
                         source("scenarios/smoke/pipe-fan-in-locked.yaml"), "--json", out},
                        root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const json j = read_json(out);
    ASSERT_EQ(j["zoo"].size(), 1u);
    const json& z = j["zoo"][0];
    EXPECT_EQ(z["perturbed"]["runs"], 2);
    EXPECT_EQ(z["perturbed"]["detected"], 2);
    EXPECT_EQ(z["off"]["runs"], 1);
    EXPECT_GT(z["perturbed"]["median_ttff_s"].get<double>(), 0);
    std::set<std::uint64_t> seeds;
    for (const json& run : z["perturbed"]["per_run"])
        seeds.insert(run["seed"].get<std::uint64_t>());
    EXPECT_EQ(seeds.size(), 2u);
    EXPECT_EQ(z["off"]["per_run"][0]["seed"], z["perturbed"]["per_run"][0]["seed"]);
    // The entry's own twin (scenarios/twins/, beside the zoo) and the one given.
    ASSERT_EQ(j["twins"].size(), 2u);
    for (const json& t : j["twins"]) {
        EXPECT_EQ(t["twin"]["runs"], 2);
        EXPECT_EQ(t["twin"]["failing"], 0);
    }
    EXPECT_NE(r.out.find("pipe-fan-in-interleave-twin"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("pipe-fan-in-locked"), std::string::npos) << r.out;
    EXPECT_TRUE(root.entries().empty()) << "caught bugs' runs are not kept";

    auto bad = run_binary({"detect", "--runs", "1", "--off-runs", "0", "--twin-runs", "1", "--twin",
                           source("scenarios/zoo/pipe-fan-in-interleave.yaml"),
                           source("scenarios/zoo/pipe-fan-in-interleave.yaml"), "--json", out},
                          root.path, scratch.path);
    EXPECT_EQ(bad.status, 1) << bad.out << bad.err;
    int failing = 0;  // the planted bug given as a twin fails; its real twin does not
    const json bad_report = read_json(out);
    for (const json& t : bad_report["twins"]) failing += t["twin"]["failing"].get<int>();
    EXPECT_EQ(failing, 1);
    EXPECT_NE(bad.out.find("FAIL: ipctorture run"), std::string::npos) << bad.out;
    run_binary({"clean"}, root.path, scratch.path);
    EXPECT_TRUE(root.entries().empty());
}

// The CI form: the entry runs until its first failing run, which must show
// a finding; an entry that is never caught within the cap fails.
TEST(Detect, UntilFoundStopsAtTheFirstDetection) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/d.json";
    auto r =
        run_binary({"detect", source(kZoo), "--until-found", "--max", "10", "--twin-runs", "1",
                    "--twin", source("scenarios/backends/shm-ring-atomic.yaml"), "--json", out},
                   root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const json z = read_json(out)["zoo"][0];
    EXPECT_FALSE(z.contains("off"));
    const json& runs = z["perturbed"]["per_run"];
    ASSERT_GE(runs.size(), 1u);
    EXPECT_TRUE(runs.back()["detected"].get<bool>());
    for (std::size_t i = 0; i + 1 < runs.size(); ++i) EXPECT_EQ(runs[i]["verdict"], "PASS");

    // A correct scenario posing as a zoo entry is never caught.
    auto never = run_binary({"detect", source(kPassing), "--until-found", "--max", "2",
                             "--twin-runs", "0", "--json", out},
                            root.path, scratch.path);
    EXPECT_EQ(never.status, 1) << never.out << never.err;
    EXPECT_EQ(read_json(out)["zoo"][0]["perturbed"]["runs"], 2);
    run_binary({"clean"}, root.path, scratch.path);
    EXPECT_TRUE(root.entries().empty());
}

}  // namespace
