// End-to-end: the real binary on real scenarios, asserting on verdicts, exit
// statuses, reports and on what is left behind.  Every wait is bounded; none
// is a pass condition.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqueue.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace ipct::test;
using std::chrono::seconds;

namespace {

// Files under root that a run must never leave: FIFOs, sockets, lock files.
std::vector<std::string> ipc_leftovers(const std::string& root) {
    std::vector<std::string> v;
    for (auto& e : fs::recursive_directory_iterator(root)) {
        auto st = e.symlink_status().type();
        const std::string name = e.path().filename().string();
        if (st == fs::file_type::fifo || st == fs::file_type::socket || name.ends_with(".lock"))
            v.push_back(e.path().string());
    }
    return v;
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
    const std::string p = dir + "/" + name;
    std::ofstream(p) << text;
    return p;
}

const char* kLongScenario = R"(name: long-fifo
seed: 9
timeout: 120s
channels:
  data: {backend: fifo}
processes:
  - role: producer
    channel: data
    workload: {duration: 60s, rate: 2000, size: 256}
  - role: consumer
    channel: data
)";

// Records published in an event log; 0 while its writer is still creating it.
std::uint64_t log_records(const std::string& path) {
    try {
        return ipct::EventLogReader(path).size();
    } catch (const std::exception&) {
        return 0;
    }
}

// Waits (bounded) until the single run directory under root lists n live workers.
std::vector<int> wait_for_workers(const std::string& root, std::size_t n) {
    for (int i = 0; i < 2000; ++i) {
        for (auto& e : fs::directory_iterator(root)) {
            std::ifstream in(e.path() / "workers");
            std::vector<int> pids;
            for (int p; in >> p;) pids.push_back(p);
            bool alive = pids.size() == n;
            for (int p : pids) alive = alive && process_alive(p);
            // Started for real: the consumer (process 1) has received something.
            const auto log = e.path() / "events.1.log";
            if (alive && fs::exists(log) && log_records(log.string()) > 8) return pids;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
}

nlohmann::json read_json(const std::string& p) {
    return nlohmann::json::parse(slurp(p));
}

// The long FIFO scenario started in the background, with both workers seen
// running and the consumer already receiving.
struct LongRun {
    TempDir root, scratch;
    std::string json;
    pid_t harness = -1;
    std::vector<int> pids;
    explicit LongRun(const char* scenario = kLongScenario, std::size_t workers = 2) {
        const std::string f = write_file(scratch.path, "long.yaml", scenario);
        json = scratch.path + "/r.json";
        harness = spawn_binary({"run", f, "--json", json}, root.path, scratch.path + "/o",
                               scratch.path + "/e");
        pids = wait_for_workers(root.path, workers);
    }
    ~LongRun() {
        if (harness > 0 && ::kill(harness, 0) == 0) {
            ::kill(harness, SIGKILL);
            wait_bounded(harness, seconds(30));
        }
    }
    std::string out() const { return slurp(scratch.path + "/o"); }
    std::string err() const { return slurp(scratch.path + "/e"); }
    CmdResult clean() { return run_binary({"clean"}, root.path, scratch.path); }
};

}  // namespace

TEST(Cli, SmokeSuitePassesAndLeavesNothing) {
    TempDir root, scratch;
    auto r = run_binary({"run", source("scenarios/smoke")}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("PASS"), std::string::npos);
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
    EXPECT_TRUE(root.entries().empty()) << "a passing run must remove its run directory";
}

TEST(Cli, ARunRootTheRunCreatedIsRemovedWithItsLastRun) {
    TempDir parent, scratch;
    const std::string made = parent.path + "/made-by-the-run/";
    auto r =
        run_binary({"run", source("scenarios/smoke/pipe-fan-out-packet.yaml")}, made, scratch.path);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(fs::exists(made)) << "an empty run root the run created must go with it";
    EXPECT_TRUE(parent.entries().empty());
}

// ThreadSanitizer runs every handler through its own wrapper (errno saved
// and restored around it, delivery deferred outside blocking calls) and
// reports signal-unsafe calls itself, ending the worker: under TSan the
// planted handlers are TSan's to catch, not the interposer's.
#if defined(__SANITIZE_THREAD__)
#define IPCT_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IPCT_UNDER_TSAN 1
#endif
#endif
#ifdef IPCT_UNDER_TSAN
const std::vector<std::string> kHandlerCaught = {};
const std::vector<std::string> kHandlerNever = {"lost", "duplicated", "corrupted"};
#else
const std::vector<std::string> kHandlerCaught = {"signal_safety"};
const std::vector<std::string> kHandlerNever = {"lost", "duplicated", "corrupted", "crash"};
#endif

// What each planted bug must be caught as, and what it must not be called.
struct ZooCase {
    std::vector<std::string> caught;  // finding kinds, each at least once
    std::vector<std::string> never;   // finding kinds that would be wrong
};
const std::map<std::string, ZooCase> kZoo = {
    // Interleaved writes damage messages; none is lost.
    {"pipe-fan-in-interleave", {{"corrupted"}, {"lost", "duplicated"}}},
    {"fifo-fan-in-interleave", {{"corrupted"}, {"lost", "duplicated"}}},
    {"pipe-fan-out-split-reads", {{"corrupted"}, {"lost", "duplicated"}}},
    // UDP may lose; the scenario's bound makes its loss a finding.
    {"udp-loss-over-bound", {{"lost"}, {"corrupted", "duplicated"}}},
    // Shared memory with no synchronisation: several producers and consumers
    // race on the ring's indices; increments race; a reader copies the
    // record while a writer rewrites it.
    {"shm-ring-none", {{"duplicated"}, {}}},
    {"shm-counter-none", {{"lost_update"}, {"corrupted"}}},
    {"shm-snapshot-none", {{"corrupted"}, {"lost", "duplicated"}}},
    // Ring mutants (backends/shm/mutant_*.cpp).  A plain index store lets
    // the consumer copy a half-written slot, but the indices stay right; a
    // consumer that copies before it checks delivers the slot's previous
    // message in place of the new one; producers and consumers that claim a
    // position with a load and a store share it.
    {"shm-ring-spsc-plain-store", {{"corrupted"}, {"lost", "duplicated", "fifo", "unexpected"}}},
    {"shm-ring-spsc-read-before-check", {{"lost", "duplicated"}, {}}},
    {"shm-ring-mpmc-check-then-act", {{"lost", "duplicated"}, {}}},
    // A stream reader that takes one recv() for one message hands over
    // truncated frames and then their tails; nothing is received twice.
    {"unix-stream-whole-read", {{"corrupted", "unexpected"}, {"duplicated", "fifo"}}},
    {"tcp-whole-read", {{"corrupted", "unexpected"}, {"duplicated", "fifo"}}},
    // A reader that takes EINTR for end of input stops early: what the
    // writers send afterwards stays in the queue, lost.
    {"sysv-eintr-is-eof", {{"lost"}, {"duplicated", "corrupted", "selective"}}},
    // The same reader with no signal sent: the syscall-fault interposer makes
    // a waiting msgrcv fail with EINTR.
    {"sysv-eintr-is-eof-injected", {{"lost"}, {"duplicated", "corrupted", "selective"}}},
    // A user-space reorder buffer hands a low priority over while a higher
    // one waits; nothing is lost.
    {"posix-mq-reorder-buffer", {{"priority"}, {"lost", "duplicated", "corrupted"}}},
    // msgrcv(-N) for a reader of type N takes lower types too.
    {"sysv-msgtyp-sign", {{"selective"}, {"lost", "duplicated", "corrupted"}}},
    // A standard signal in place of a real-time one coalesces: payloads are
    // lost, and what arrives is intact and in order.
    {"signal-standard-signal", {{"lost"}, {"duplicated", "corrupted", "fifo", "priority"}}},
    // Handlers that are not async-signal-safe: every message still arrives;
    // only the interposer sees them.
    {"signal-handler-printf", {kHandlerCaught, kHandlerNever}},
    {"signal-handler-malloc", {kHandlerCaught, kHandlerNever}},
    {"signal-handler-errno", {kHandlerCaught, kHandlerNever}},
};

TEST(Cli, EveryZooScenarioIsCaughtAsWhatItIs) {
    TempDir root, scratch;
    const std::string json = scratch.path + "/report.json";
    auto r = run_binary({"run", source("scenarios/zoo"), "--json", json}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    auto j = read_json(json);
    EXPECT_EQ(j["ipctorture_report"], 2);
    ASSERT_GE(j["scenarios"].size(), kZoo.size());
    for (auto& s : j["scenarios"]) {
        const std::string name = s["name"];
        EXPECT_EQ(s["verdict"], "FAIL") << name;
        EXPECT_NE(s["reproduce"].get<std::string>().find("--seed"), std::string::npos);
        auto it = kZoo.find(name);
        if (it == kZoo.end()) {
            ADD_FAILURE() << "zoo scenario " << name << " has no expectation in kZoo";
            continue;
        }
        for (const std::string& k : it->second.caught)
            EXPECT_GT(s["counts"][k].get<long>(), 0) << name << " not caught as " << k;
        for (const std::string& k : it->second.never)
            EXPECT_EQ(s["counts"][k].get<long>(), 0) << name << " wrongly called " << k;
        for (auto& f : s["findings"]) {
            EXPECT_FALSE(f["summary"].get<std::string>().empty());
            if (f["kind"] == "corrupted") {
                EXPECT_TRUE(f["message"].contains("origin"));
                EXPECT_TRUE(f["message"].contains("seq"));
                EXPECT_FALSE(f["evidence"].empty());
            }
        }
    }
    EXPECT_TRUE(ipc_leftovers(root.path).empty());
    auto c = run_binary({"clean"}, root.path, scratch.path);
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_TRUE(root.entries().empty());
}

// The correct twins: every bundled backend scenario passes.
TEST(Cli, BackendSuitePasses) {
    TempDir root, scratch;
    auto r = run_binary({"run", source("scenarios/backends")}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
    EXPECT_TRUE(root.entries().empty());
}

// Every planted bug's correct twin passes.
TEST(Cli, ZooTwinsPass) {
    TempDir root, scratch;
    auto r = run_binary({"run", source("scenarios/twins")}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
    EXPECT_TRUE(root.entries().empty());
}

TEST(Cli, MalformedScenarioExits2WithLocation) {
    TempDir root, scratch;
    const std::string f = write_file(scratch.path, "bad.yaml",
                                     "name: bad\nchannels:\n  data:\n    backend: pipe\n"
                                     "    colour: red\nprocesses: []\n");
    auto r = run_binary({"run", f}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(f + ":5:5"), std::string::npos) << r.err;
    auto v = run_binary({"validate", f}, root.path, scratch.path);
    EXPECT_EQ(v.status, 2);
    EXPECT_TRUE(root.entries().empty());
}

TEST(Cli, EveryBundledScenarioValidates) {
    TempDir root, scratch;
    auto r = run_binary({"validate", source("scenarios")}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
}

TEST(Cli, UsageErrorExits2) {
    TempDir root, scratch;
    EXPECT_EQ(run_binary({"frobnicate"}, root.path, scratch.path).status, 2);
    EXPECT_EQ(run_binary({"run"}, root.path, scratch.path).status, 2);
    EXPECT_EQ(run_binary({"explain", "carrier-pigeon"}, root.path, scratch.path).status, 2);
}

TEST(Cli, ListAndExplain) {
    TempDir root, scratch;
    auto l = run_binary({"list", "backends"}, root.path, scratch.path);
    EXPECT_EQ(l.status, 0);
    EXPECT_NE(l.out.find("pipe"), std::string::npos);
    EXPECT_NE(l.out.find("fifo"), std::string::npos);
    auto e = run_binary({"explain", "pipe"}, root.path, scratch.path);
    EXPECT_EQ(e.status, 0);
    EXPECT_NE(e.out.find("PIPE_BUF = 4096"), std::string::npos) << e.out;
    EXPECT_NE(e.out.find("pipe-max-size"), std::string::npos);
}

TEST(Cli, SigkillOfHarnessLeavesNoWorkerAndCleanRemovesEverything) {
    LongRun run;
    ASSERT_EQ(run.pids.size(), 2u) << run.err();
    ::kill(run.harness, SIGKILL);
    wait_bounded(run.harness, seconds(30));
    for (int i = 0; i < 1000 && (process_alive(run.pids[0]) || process_alive(run.pids[1])); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(process_alive(run.pids[0]));
    EXPECT_FALSE(process_alive(run.pids[1]));
    EXPECT_FALSE(ipc_leftovers(run.root.path).empty()) << "the FIFO a killed run leaves behind";
    auto c = run.clean();
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_NE(c.out.find("removed"), std::string::npos);
    EXPECT_TRUE(run.root.entries().empty());
}

// One long-running pair per kind of kernel object a run creates.
const char* kEveryObjectScenario = R"(name: every-object
seed: 9
timeout: 120s
channels:
  q: {backend: posix_mq}
  s: {backend: sysv_msg}
  m: {backend: shm}
  u: {backend: unix_stream}
  f: {backend: fifo}
processes:
  - {role: producer, channel: q, workload: {duration: 60s, rate: 500, size: 64}}
  - {role: consumer, channel: q}
  - {role: producer, channel: s, workload: {duration: 60s, rate: 500, size: 64}}
  - {role: consumer, channel: s}
  - {role: producer, channel: m, workload: {duration: 60s, rate: 500, size: 64}}
  - {role: consumer, channel: m}
  - {role: producer, channel: u, workload: {duration: 60s, rate: 500, size: 64}}
  - {role: consumer, channel: u}
  - {role: producer, channel: f, workload: {duration: 60s, rate: 500, size: 64}}
  - {role: consumer, channel: f}
)";

std::vector<std::string> named_after(const std::string& dir, const std::string& run_id) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().filename().string().starts_with("ipct-" + run_id)) out.push_back(e.path());
    return out;
}

// By name, not through /dev/mqueue, which need not be mounted.
bool posix_queue_exists(const std::string& name) {
    const mqd_t q = ::mq_open(name.c_str(), O_RDONLY);
    if (q == mqd_t(-1)) return false;
    ::mq_close(q);
    return true;
}

// Every kind of object (POSIX queue, System V queue, shm object, socket
// file, FIFO) outlives a SIGKILLed harness, and `clean` removes them all.
TEST(Cli, CleanRemovesEveryKindOfObjectAKilledRunLeft) {
    LongRun run(kEveryObjectScenario, 10);
    ASSERT_EQ(run.pids.size(), 10u) << run.err();
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(run.root.path)) dirs.push_back(e.path());
    ASSERT_EQ(dirs.size(), 1u);
    const std::string run_id = dirs[0].filename();
    int msqid = -1;
    std::ifstream(dirs[0] / "s.msqid") >> msqid;
    ::kill(run.harness, SIGKILL);
    wait_bounded(run.harness, seconds(30));
    for (int i = 0; i < 1000; ++i) {
        bool any = false;
        for (int p : run.pids) any = any || process_alive(p);
        if (!any) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (int p : run.pids) EXPECT_FALSE(process_alive(p)) << p;
    EXPECT_TRUE(posix_queue_exists("/ipct-" + run_id + "-q"));
    EXPECT_EQ(named_after("/dev/shm", run_id).size(), 1u);
    EXPECT_GE(msqid, 0);
    EXPECT_TRUE(sysv_queue_exists(msqid));
    EXPECT_TRUE(fs::exists(dirs[0] / "u.sock"));
    auto c = run.clean();
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_FALSE(posix_queue_exists("/ipct-" + run_id + "-q"));
    EXPECT_TRUE(named_after("/dev/shm", run_id).empty());
    EXPECT_FALSE(sysv_queue_exists(msqid));
    EXPECT_TRUE(run.root.entries().empty());
}

TEST(Cli, SigintStopsTheRunAndReportsWhatRan) {
    LongRun run;
    ASSERT_EQ(run.pids.size(), 2u) << run.err();
    ::kill(run.harness, SIGINT);
    EXPECT_EQ(wait_bounded(run.harness, seconds(60)), 130) << run.err();
    EXPECT_FALSE(process_alive(run.pids[0]));
    EXPECT_FALSE(process_alive(run.pids[1]));
    EXPECT_NE(run.out().find("INTERRUPTED"), std::string::npos);
    auto j = read_json(run.json);
    auto& s = j["scenarios"][0];
    EXPECT_EQ(s["verdict"], "INTERRUPTED");
    EXPECT_EQ(s["counts"]["lost"], 0) << "an interrupted run proves nothing lost";
    EXPECT_GT(s["channels"][0]["received"].get<long>(), 0);
    EXPECT_TRUE(ipc_leftovers(run.root.path).empty());
    run.clean();
    EXPECT_TRUE(run.root.entries().empty());
}

TEST(Cli, WatchdogReportsHangWithLastOperation) {
    TempDir root, scratch;
    std::string text = kLongScenario;
    text.replace(text.find("timeout: 120s"), 13, "timeout: 1s");
    const std::string f = write_file(scratch.path, "hang.yaml", text);
    const std::string json = scratch.path + "/r.json";
    auto r = run_binary({"run", f, "--json", json}, root.path, scratch.path);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    auto j = read_json(json);
    auto& s = j["scenarios"][0];
    EXPECT_EQ(s["counts"]["hang"], 2);
    EXPECT_EQ(s["counts"]["lost"], 0);
    for (auto& fd : s["findings"]) {
        if (fd["kind"] != "hang") continue;
        ASSERT_FALSE(fd["evidence"].empty());
    }
    EXPECT_TRUE(ipc_leftovers(root.path).empty());
}

TEST(Cli, KilledConsumerIsACrashNotALoss) {
    LongRun run;
    ASSERT_EQ(run.pids.size(), 2u) << run.err();
    ::kill(run.pids[1], SIGKILL);  // the consumer (plan order: producer, consumer)
    EXPECT_EQ(wait_bounded(run.harness, seconds(90)), 1) << run.err();
    auto j = read_json(run.json);
    auto& s = j["scenarios"][0];
    EXPECT_EQ(s["counts"]["crash"], 1);
    EXPECT_EQ(s["counts"]["lost"], 0);
    EXPECT_EQ(s["counts"]["corrupted"], 0);
    run.clean();
}

TEST(Cli, CheckRejudgesAKeptRun) {
    TempDir root, scratch;
    const std::string json = scratch.path + "/run.json", json2 = scratch.path + "/check.json";
    auto r =
        run_binary({"run", source("scenarios/zoo/pipe-fan-in-interleave.yaml"), "--json", json},
                   root.path, scratch.path);
    ASSERT_EQ(r.status, 1) << r.err;
    auto a = read_json(json)["scenarios"][0];
    ASSERT_TRUE(a["run_dir"].is_string());
    auto c = run_binary({"check", a["run_dir"], "--json", json2}, root.path, scratch.path);
    EXPECT_EQ(c.status, 1) << c.err;
    auto b = read_json(json2)["scenarios"][0];
    EXPECT_EQ(a["counts"], b["counts"]);
    EXPECT_EQ(a["channels"], b["channels"]);
    run_binary({"clean"}, root.path, scratch.path);
}

TEST(Cli, SameSeedSameWorkload) {
    TempDir root, scratch;
    const std::string f = source("scenarios/smoke/pipe-one-to-one.yaml");
    auto r1 = run_binary({"run", f, "--seed", "77", "--json", scratch.path + "/1.json"}, root.path,
                         scratch.path);
    auto r2 = run_binary({"run", f, "--seed", "77", "--json", scratch.path + "/2.json"}, root.path,
                         scratch.path);
    auto r3 = run_binary({"run", f, "--seed", "78", "--json", scratch.path + "/3.json"}, root.path,
                         scratch.path);
    ASSERT_EQ(r1.status, 0);
    ASSERT_EQ(r2.status, 0);
    ASSERT_EQ(r3.status, 0);
    auto bytes = [&](const char* n) {
        return read_json(scratch.path + n)["scenarios"][0]["channels"][0]["bytes_received"]
            .get<std::uint64_t>();
    };
    EXPECT_EQ(bytes("/1.json"), bytes("/2.json"));
    EXPECT_NE(bytes("/1.json"), bytes("/3.json"));
}

TEST(Cli, MaxFindingsListsEveryFindingWhenAsked) {
    TempDir root, scratch;
    const std::string f = source("scenarios/zoo/pipe-fan-in-interleave.yaml");
    const std::string capped = scratch.path + "/c.json", all = scratch.path + "/a.json";
    ASSERT_EQ(
        run_binary({"run", f, "--json", capped, "--max-findings", "2"}, root.path, scratch.path)
            .status,
        1);
    ASSERT_EQ(
        run_binary({"run", f, "--json", all, "--max-findings", "1000000"}, root.path, scratch.path)
            .status,
        1);
    auto c = read_json(capped)["scenarios"][0];
    auto a = read_json(all)["scenarios"][0];
    EXPECT_TRUE(c["findings_truncated"].get<bool>());
    EXPECT_LE(c["findings"].size(), 2u * 7);
    EXPECT_FALSE(a["findings_truncated"].get<bool>());
    std::uint64_t total = 0;
    for (auto& [k, v] : a["counts"].items())
        if (k != "indeterminate") total += v.get<std::uint64_t>();
    EXPECT_EQ(a["findings"].size(), total);
    run_binary({"clean"}, root.path, scratch.path);
}
