// End-to-end: `ipctorture replay` on reports of real runs (a failing zoo
// entry, a passing scenario whose file is then changed or removed, a
// scenario whose program sits beside it), on malformed reports, and the
// reproducibility that replay rests on: two runs of one seed make the same
// perturbation decisions and send the same messages; another seed does not.
// Every wait is bounded; none is a pass condition.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "ipctorture/perturb_log.hpp"
#include "ipctorture/sha256.hpp"
#include "test_util.hpp"

using namespace ipct::test;
using nlohmann::json;

namespace {

std::string write_file(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    return path;
}

// Runs the binary with `dir` as its working directory.
CmdResult run_in(const std::string& dir, const std::vector<std::string>& args,
                 const std::string& root, const std::string& scratch) {
    char here[4096];
    EXPECT_NE(::getcwd(here, sizeof here), nullptr);
    EXPECT_EQ(::chdir(dir.c_str()), 0) << dir;
    CmdResult r = run_binary(args, root, scratch);
    EXPECT_EQ(::chdir(here), 0);
    return r;
}

// A failing zoo run, recorded with a relative file name, replayed from
// another directory: the same seed, the same finding signature.  The run is
// repeated until it fails (the bug is caught in nearly every run), and the
// replay need only show the signature in one of its three runs.
TEST(Replay, AFailingZooReportReproducesItsSignature) {
    TempDir root, scratch;
    const std::string report = scratch.path + "/zoo.json", out = scratch.path + "/replay.json";
    auto r = run_in(IPCT_SOURCE_DIR,
                    {"run", "scenarios/zoo/sysv-msgtyp-sign.yaml", "--until-fail", "--max", "10",
                     "--json", report, "--quiet"},
                    root.path, scratch.path);
    ASSERT_EQ(r.status, 1) << r.out << r.err;
    const json rep = json::parse(slurp(report));
    const json& failing = rep["scenarios"].back();
    ASSERT_EQ(failing["verdict"], "FAIL");
    EXPECT_EQ(failing["scenario"]["file"], "scenarios/zoo/sysv-msgtyp-sign.yaml");
    EXPECT_EQ(failing["scenario"]["directory"], source("scenarios/zoo"));
    const std::string sha = failing["scenario"]["sha256"];
    EXPECT_EQ(sha, ipct::sha256_hex(slurp(source("scenarios/zoo/sysv-msgtyp-sign.yaml"))));
    EXPECT_EQ(rep["scenario_texts"][sha], slurp(source("scenarios/zoo/sysv-msgtyp-sign.yaml")));
    const std::vector<std::string> sigs = failing["signatures"];
    ASSERT_NE(std::find(sigs.begin(), sigs.end(), "selective/q/consumer"), sigs.end())
        << failing["signatures"];

    r = run_in(scratch.path, {"replay", report, "--repeat", "3", "--json", out}, root.path,
               scratch.path);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    const json j = json::parse(slurp(out));
    ASSERT_EQ(j["replay"].size(), 1u) << "by default the failing run alone";
    const json& res = j["replay"][0];
    EXPECT_EQ(res["run"], rep["scenarios"].size());
    EXPECT_EQ(res["seed"], failing["seed"]);
    EXPECT_EQ(res["file"], source("scenarios/zoo/sysv-msgtyp-sign.yaml"));
    EXPECT_EQ(res["replays"], 3);
    EXPECT_GE(res["reproduced"].get<int>(), 1) << res.dump();
    EXPECT_EQ(res["reproduction_rate"]["of"], 3);
    EXPECT_EQ(res["reproduction_rate"]["method"], "wilson");
    for (const json& s : j["scenarios"]) EXPECT_EQ(s["seed"], failing["seed"]);
    for (const json* doc : {&rep, &j})
        EXPECT_NE(
            (*doc)["reproducibility"].get<std::string>().find("not the operating system's timing"),
            std::string::npos);
    EXPECT_NE(r.out.find("reproduced in "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("not the operating system's timing"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("the report's signatures"), std::string::npos) << r.err;
    run_binary({"clean"}, root.path, scratch.path);
    EXPECT_TRUE(root.entries().empty());
}

// A report without the scenario's text replays the file, if it is the one
// that ran; a changed or missing file is a scenario error (2), and the
// embedded text needs no file at all.
TEST(Replay, TheFileMustMatchTheRecordedHash) {
    TempDir root, scratch;
    const std::string file = write_file(scratch.path + "/small.yaml", R"(name: small
seed: 3
channels:
  data: {backend: pipe}
processes:
  - role: producer
    channel: data
    workload: {messages: 200, size: {min: 32, max: 256}}
  - role: consumer
    channel: data
)");
    const std::string report = scratch.path + "/r.json", bare = scratch.path + "/bare.json";
    auto r = run_binary({"run", file, "--json", report, "--quiet"}, root.path, scratch.path);
    ASSERT_EQ(r.status, 0) << r.err;
    json j = json::parse(slurp(report));
    j.erase("scenario_texts");
    write_file(bare, j.dump());

    r = run_binary({"replay", bare}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("no findings, as in the report"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("reproduced in 1 of 1 replays"), std::string::npos) << r.out;

    std::ofstream(file, std::ios::app) << "# edited\n";
    r = run_binary({"replay", bare}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(file + ":0:0: has changed since the report"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(ipct::sha256_hex(slurp(file))), std::string::npos) << r.err;

    ASSERT_EQ(::unlink(file.c_str()), 0);
    r = run_binary({"replay", bare}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("holds no copy of this scenario and the file is not there"),
              std::string::npos)
        << r.err;

    r = run_binary({"replay", report, "--quiet"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << "the embedded text needs no file: " << r.err;
    EXPECT_TRUE(root.entries().empty());
}

// A program named by a relative path beside the scenario is found from the
// scenario's directory, wherever replay runs.
TEST(Replay, RelativePathsStartFromTheScenarioDirectory) {
    TempDir root, scratch;
    const std::string dir = scratch.path + "/suite";
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    write_file(dir + "/relay.sh", "#!/bin/sh\nexec cat\n");
    ASSERT_EQ(::chmod((dir + "/relay.sh").c_str(), 0700), 0);
    write_file(dir + "/relay.yaml", R"(name: relay
channels:
  in: {backend: pipe}
  out: {backend: pipe}
processes:
  - role: producer
    channel: in
    workload: {messages: 100, size: {min: 32, max: 128}}
  - role: exec
    name: relay
    input: in
    output: out
    program: ./relay.sh
  - role: consumer
    channel: out
)");
    const std::string report = scratch.path + "/r.json";
    auto r =
        run_in(dir, {"run", "relay.yaml", "--json", report, "--quiet"}, root.path, scratch.path);
    ASSERT_EQ(r.status, 0) << r.err;
    r = run_in(scratch.path, {"replay", report}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("(" + dir + "/relay.yaml)"), std::string::npos) << r.out;
    EXPECT_TRUE(root.entries().empty());
}

// A report of one run of `text`, as `run --json` writes it, for the
// malformed-report tests.
json report_of(const std::string& file, const std::string& text) {
    const std::string sha = ipct::sha256_hex(text);
    return {{"ipctorture_report", 2},
            {"scenarios",
             {{{"file", file},
               {"name", "x"},
               {"seed", 7},
               {"verdict", "PASS"},
               {"signatures", json::array()},
               {"scenario", {{"file", file}, {"directory", "/"}, {"cell", ""}, {"sha256", sha}}},
               {"settings",
                {{"timeout_s", nullptr},
                 {"perturb", nullptr},
                 {"sigsafe", false},
                 {"as_threads", false}}}}}},
            {"scenario_texts", {{sha, text}}}};
}

struct Refusal {
    std::string what;
    std::string text;     // the report file's content
    std::string message;  // must appear in stderr, after "<report path>"
};

// Nothing runs for a malformed report: exit 2 and a message that names the
// report, the place in it (line:column from the JSON parser, else the path
// to the value) and what was expected.
TEST(Replay, MalformedReportsAreRefused) {
    TempDir root, scratch;
    const std::string scenario = slurp(source("scenarios/smoke/pipe-one-to-one.yaml"));
    const std::string file = "/nonexistent/pipe-one-to-one.yaml";
    const json good = report_of(file, scenario);
    auto edited = [&](auto edit) {
        json j = good;
        edit(j);
        return j.dump(2);
    };
    const std::vector<Refusal> cases = {
        {"not JSON", "{\n  \"scenarios\": [1,\n  }\n", ":3:3: malformed JSON: syntax error"},
        {"empty", "", ":1:1: malformed JSON"},
        {"not a report", "{\"scenarios\": []}",
         ":0:0: not an ipctorture report: expected the key 'ipctorture_report'"},
        {"version 1", edited([](json& j) { j["ipctorture_report"] = 1; }),
         ":0:0: ipctorture_report: report version 1; replay reads version 2"},
        {"no runs", edited([](json& j) { j["scenarios"] = json::array(); }),
         ":0:0: scenarios: the report has no runs to replay"},
        {"seed", edited([](json& j) { j["scenarios"][0]["seed"] = "7"; }),
         ":0:0: scenarios[0].seed: expected an unsigned integer"},
        {"settings", edited([](json& j) { j["scenarios"][0].erase("settings"); }),
         ":0:0: scenarios[0]: expected the key 'settings'"},
        {"perturb", edited([](json& j) { j["scenarios"][0]["settings"]["perturb"] = "often"; }),
         ":0:0: scenarios[0].settings.perturb: expected off, default"},
        {"hash", edited([](json& j) { j["scenarios"][0]["scenario"]["sha256"] = "abc"; }),
         ":0:0: scenarios[0].scenario.sha256: expected 64 lowercase hex digits"},
        {"tampered text", edited([&](json& j) {
             j["scenario_texts"][ipct::sha256_hex(scenario)] = scenario + "# more\n";
         }),
         ":0:0: scenario_texts." + ipct::sha256_hex(scenario) +
             ": expected the scenario text whose SHA-256 is its key"},
    };
    for (const Refusal& c : cases) {
        const std::string path = write_file(scratch.path + "/bad.json", c.text);
        auto r = run_binary({"replay", path}, root.path, scratch.path);
        EXPECT_EQ(r.status, 2) << c.what << ": " << r.out << r.err;
        EXPECT_NE(r.err.find(path + c.message), std::string::npos) << c.what << ": " << r.err;
    }
    const std::string path = write_file(scratch.path + "/good.json", good.dump());
    auto r = run_binary({"replay", path, "--run", "2"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("--run 2: expected a run between 1 and 1"), std::string::npos) << r.err;
    r = run_binary({"replay", scratch.path + "/absent.json"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("absent.json:0:0: cannot open"), std::string::npos) << r.err;
    EXPECT_TRUE(root.entries().empty()) << "nothing ran";
}

// The embedded scenario is loaded under its original file name: its errors
// name that file, line and column.
TEST(Replay, AScenarioErrorNamesTheOriginalFile) {
    TempDir root, scratch;
    const std::string file = "/nonexistent/suite/broken.yaml";
    const json j = report_of(file, "name: broken\nchannels:\n  q: {backend: nosuch}\n");
    const std::string path = write_file(scratch.path + "/r.json", j.dump());
    auto r = run_binary({"replay", path}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(file + ":3:"), std::string::npos) << r.err;
    EXPECT_TRUE(root.entries().empty());
}

// The sends of every producer of a kept run: (process, seq, size, priority).
std::vector<std::tuple<std::size_t, std::uint64_t, std::uint32_t, std::uint32_t>> sends(
    const std::string& run_dir, std::size_t processes) {
    std::vector<std::tuple<std::size_t, std::uint64_t, std::uint32_t, std::uint32_t>> out;
    for (std::size_t p = 0; p < processes; ++p) {
        ipct::EventLogReader log(run_dir + "/events." + std::to_string(p) + ".log");
        for (std::uint64_t i = 0; i < log.size(); ++i)
            if (log[i].op == ipct::Op::kSend)
                out.emplace_back(p, log[i].seq, log[i].size, log[i].aux);
    }
    return out;
}

const char* const kPerturbed = R"(name: perturbed
seed: 5
perturb: "p=0.3,kinds=yield+spin,spin=200,sites=calls"
channels:
  q: {backend: posix_mq}
processes:
  - role: producer
    count: 2
    channel: q
    workload:
      messages: 300
      size: {min: 32, max: 512}
      priority: {min: 0, max: 3}
  - role: consumer
    channel: q
)";

struct KeptRun {
    std::string dir;
    std::vector<ipct::PerturbTrace> traces;  // per process
};

KeptRun kept_run(const std::string& file, const std::string& seed, const TempDir& root,
                 const TempDir& scratch) {
    const std::string out = scratch.path + "/r" + seed + ".json";
    auto r = run_binary({"run", file, "--seed", seed, "--keep", "--json", out, "--quiet"},
                        root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.err;
    KeptRun k;
    k.dir = json::parse(slurp(out))["scenarios"][0]["run_dir"];
    for (std::uint32_t p = 0; p < 3; ++p)
        k.traces.push_back(ipct::read_perturb_log(ipct::perturb_log_path(k.dir, p)));
    return k;
}

TEST(Reproducible, OneSeedMakesTheSameDecisionsAndTheSameWorkload) {
    TempDir root, scratch;
    const std::string file = write_file(scratch.path + "/perturbed.yaml", kPerturbed);
    const KeptRun a = kept_run(file, "5", root, scratch), b = kept_run(file, "5", root, scratch);
    const KeptRun c = kept_run(file, "6", root, scratch);
    for (std::size_t p = 0; p < 3; ++p) {
        const auto& ta = a.traces[p];
        std::uint64_t acted = 0;
        for (const ipct::PerturbSiteTrace& s : ta.sites) acted += s.acted;
        EXPECT_GT(acted, 50u) << "process " << p << " was perturbed";
        EXPECT_EQ(ipct::perturb_trace_differences(ta, b.traces[p]), std::vector<std::string>{})
            << "process " << p;
        EXPECT_FALSE(ipct::perturb_trace_differences(ta, c.traces[p]).empty())
            << "process " << p << ": another seed, other decisions";
    }
    // Producers' sites are visited once per send: the same number of visits,
    // the same digests.
    for (std::size_t p = 0; p < 2; ++p)
        EXPECT_EQ(a.traces[p].sites, b.traces[p].sites) << "producer " << p;
    const auto sa = sends(a.dir, 3), sb = sends(b.dir, 3), sc = sends(c.dir, 3);
    EXPECT_EQ(sa.size(), 600u);
    EXPECT_EQ(sa, sb) << "the same sizes and priorities, in the same order";
    EXPECT_NE(sa, sc);
    run_binary({"clean"}, root.path, scratch.path);
    EXPECT_TRUE(root.entries().empty());
}

}  // namespace
