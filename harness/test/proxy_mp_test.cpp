// The chaos proxy of tcp and udp channels (`proxy:`, socket_proxy.hpp) end
// to end: one test per action with the checker's verdict asserted, the
// proxy's log against the checker's counts, the same seed making the same
// decisions, and nothing left behind, also after the harness is killed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "ipctorture/event_log.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/socket_proxy.hpp"
#include "test_util.hpp"

namespace ipct::test {
namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// One paced producer (the proxy and the reader keep up: the kernel drops
// nothing, so every loss is the proxy's) and one consumer over udp.
std::string udp_scenario(const std::string& proxy, const std::string& bounds, int messages = 400) {
    return "name: udp-proxy\nseed: 11\ntimeout: 60s\nchannels:\n  data:\n    backend: udp\n"
           "    options: {rcvbuf: 4194304}\n    proxy: " +
           proxy + "\n    bounds: " + bounds +
           "\nprocesses:\n  - {role: producer, channel: data, workload: {messages: " +
           std::to_string(messages) +
           ", rate: 4000, size: {min: 32, max: 1024}}}\n  - {role: consumer, channel: data}\n";
}

// Two producers over tcp; `extra` adds channel keys (a mutant).
std::string tcp_scenario(const std::string& proxy, const std::string& workload,
                         const std::string& extra = "") {
    return "name: tcp-proxy\nseed: 12\ntimeout: 60s\nchannels:\n  data:\n    backend: tcp\n" +
           extra + "    proxy: " + proxy +
           "\nprocesses:\n  - {role: producer, count: 2, channel: data, workload: " + workload +
           "}\n  - {role: consumer, channel: data}\n";
}

struct Outcome {
    CmdResult cmd;
    nlohmann::json scenario;  // the JSON report's one scenario
    const nlohmann::json& channel() const { return scenario["channels"][0]; }
    const nlohmann::json& proxy() const { return channel()["proxy"]; }
    std::uint64_t stat(const char* key) const { return channel()[key].get<std::uint64_t>(); }
    std::uint64_t acted(const char* key) const { return proxy()[key].get<std::uint64_t>(); }
    std::uint64_t count(const char* kind) const {
        return scenario["counts"][kind].get<std::uint64_t>();
    }
    std::string run_dir() const { return scenario["run_dir"].get<std::string>(); }
};

// (action, origin, seq) of every record in a proxy's log, sorted.
std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>> decisions(
    const std::string& path) {
    EventLogReader log(path);
    std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>> v;
    for (std::uint64_t i = 0; i < log.size(); ++i)
        if (log[i].op == Op::kProxyAction) v.emplace_back(log[i].aux, log[i].origin, log[i].seq);
    std::sort(v.begin(), v.end());
    return v;
}

class Proxy : public ::testing::Test {
  protected:
    TempDir root, scratch;

    Outcome run(const std::string& text, std::vector<std::string> flags = {}) {
        const std::string file = scratch.path + "/scenario.yaml";
        std::ofstream(file) << text;
        const std::string json = scratch.path + "/report.json";
        std::filesystem::remove(json);
        std::vector<std::string> args{"run", file, "--json", json};
        args.insert(args.end(), flags.begin(), flags.end());
        Outcome r;
        r.cmd = run_binary(args, root.path, scratch.path);
        EXPECT_FALSE(r.cmd.timed_out);
        const std::string report = slurp(json);
        if (!report.empty()) r.scenario = nlohmann::json::parse(report)["scenarios"][0];
        return r;
    }
    // Nothing left: no process whose command line names this test's run
    // root (workers and proxies carry their run directory), and once
    // `clean` removed kept directories, nothing under the root.
    void TearDown() override {
        EXPECT_TRUE(processes_of_root().empty());
        auto c = run_binary({"clean"}, root.path, scratch.path);
        EXPECT_EQ(c.status, 0) << c.err;
        EXPECT_TRUE(root.entries().empty());
    }
    std::vector<int> processes_of_root(const std::string& also = "") const {
        std::vector<int> pids;
        for (const auto& e : std::filesystem::directory_iterator("/proc")) {
            const std::string name = e.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            std::string cmd = slurp(e.path().string() + "/cmdline");
            std::replace(cmd.begin(), cmd.end(), '\0', ' ');
            if (contains(cmd, root.path) && contains(cmd, "worker") && contains(cmd, also) &&
                process_alive(std::stoi(name)))
                pids.push_back(std::stoi(name));
        }
        return pids;
    }
};

// ---------------------------------------------------------------- udp

TEST_F(Proxy, UdpDropsAreCountedLostAndJudgedAgainstTheBound) {
    Outcome r = run(udp_scenario("{drop: 0.1}", "{max_loss: 1.0}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("dropped"), 0u);
    EXPECT_EQ(r.stat("lost"), r.acted("dropped"));
    EXPECT_EQ(r.stat("received"), r.stat("sent") - r.acted("dropped"));
    EXPECT_EQ(r.stat("duplicated"), 0u);
    EXPECT_TRUE(r.proxy()["exited"].get<bool>());

    Outcome over = run(udp_scenario("{drop: 0.1}", "{max_loss: 0.01}"));
    ASSERT_EQ(over.cmd.status, 1) << over.cmd.out << over.cmd.err;
    EXPECT_EQ(over.count("lost"), 1u);  // one finding: the rate over the bound
    EXPECT_EQ(over.stat("lost"), over.acted("dropped"));
}

TEST_F(Proxy, UdpDuplicatesAreMeasuredNotFindingsUnderTheBound) {
    Outcome r = run(udp_scenario("{duplicate: 0.1}", "{max_duplicate: 0.5}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("duplicated"), 0u);
    EXPECT_EQ(r.stat("duplicated"), r.acted("duplicated"));
    EXPECT_EQ(r.stat("received"), r.stat("sent"));
    EXPECT_EQ(r.stat("lost"), 0u);

    Outcome over = run(udp_scenario("{duplicate: 0.1}", "{max_duplicate: 0.0}"));
    ASSERT_EQ(over.cmd.status, 1) << over.cmd.out << over.cmd.err;
    EXPECT_EQ(over.count("duplicated"), 1u);
    EXPECT_EQ(over.stat("duplicated"), over.acted("duplicated"));
}

TEST_F(Proxy, UdpReorderingIsMeasuredAsTheProxyLoggedIt) {
    Outcome r = run(udp_scenario("{reorder: 0.1}", "{max_reorder: 0.5}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("reordered"), 0u);
    EXPECT_GT(r.acted("overtaken"), 0u);
    EXPECT_EQ(r.stat("fifo_violations"), r.acted("overtaken"));
    EXPECT_EQ(r.stat("received"), r.stat("sent"));

    Outcome over = run(udp_scenario("{reorder: 0.1}", "{max_reorder: 0.0}"));
    ASSERT_EQ(over.cmd.status, 1) << over.cmd.out << over.cmd.err;
    EXPECT_EQ(over.count("fifo"), 1u);
}

TEST_F(Proxy, UdpDelaysReorderWhatTheyHoldBack) {
    Outcome r = run(udp_scenario("{delay: 0.2, max_delay: 3ms}", "{max_reorder: 1.0}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("delayed"), 0u);
    EXPECT_EQ(r.stat("fifo_violations"), r.acted("overtaken"));
    EXPECT_EQ(r.stat("received"), r.stat("sent"));
    EXPECT_EQ(r.stat("lost"), 0u);
}

// Every action at once: each count the checker makes is the one the
// proxy's log accounts for.
TEST_F(Proxy, UdpLogAgreesWithTheCheckerWithEveryAction) {
    Outcome r = run(
        udp_scenario("{drop: 0.05, duplicate: 0.05, reorder: 0.05, delay: 0.05, max_delay: 2ms}",
                     "{max_loss: 1.0, max_duplicate: 1.0, max_reorder: 1.0}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_EQ(r.stat("lost"), r.acted("dropped"));
    EXPECT_EQ(r.stat("duplicated"), r.acted("duplicated"));
    EXPECT_EQ(r.stat("fifo_violations"), r.acted("overtaken"));
    EXPECT_EQ(r.stat("received") + r.stat("lost"), r.stat("sent"));
    EXPECT_EQ(r.count("indeterminate"), 0u);
}

TEST_F(Proxy, TheSameSeedMakesTheSameDecisions) {
    const std::string text =
        udp_scenario("{drop: 0.1, duplicate: 0.1, reorder: 0.1, delay: 0.1, max_delay: 1ms}",
                     "{max_loss: 1.0, max_duplicate: 1.0, max_reorder: 1.0}", 200);
    Outcome a = run(text, {"--keep"});
    Outcome b = run(text, {"--keep"});
    Outcome other = run(text, {"--keep", "--seed", "99"});
    ASSERT_EQ(a.cmd.status, 0) << a.cmd.err;
    ASSERT_EQ(b.cmd.status, 0) << b.cmd.err;
    ASSERT_EQ(other.cmd.status, 0) << other.cmd.err;
    const auto da = decisions(proxy_log_path(a.run_dir(), 0));
    EXPECT_FALSE(da.empty());
    EXPECT_EQ(da, decisions(proxy_log_path(b.run_dir(), 0)));
    EXPECT_NE(da, decisions(proxy_log_path(other.run_dir(), 0)));
}

// ---------------------------------------------------------------- tcp

TEST_F(Proxy, TcpSplitGivesNoFindingOnCorrectCode) {
    Outcome r =
        run(tcp_scenario("{max_segment: 7}", "{messages: 200, size: {min: 32, max: 3000}}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("split"), 0u);
    EXPECT_EQ(r.stat("received"), 400u);
    EXPECT_EQ(r.count("indeterminate"), 0u);
}

// The zoo's tcp-whole-read takes each recv() for a message: split writes
// make it fail every time, whatever the socket buffers do.
TEST_F(Proxy, TcpSplitMakesTheWholeReadMutantFail) {
    for (int seed : {1, 2, 3}) {
        Outcome r =
            run(tcp_scenario("{max_segment: 100}", "{messages: 100, size: {min: 256, max: 4096}}",
                             "    mutant: whole-read\n"),
                {"--seed", std::to_string(seed)});
        ASSERT_EQ(r.cmd.status, 1) << r.cmd.out << r.cmd.err;
        EXPECT_GT(r.count("corrupted") + r.count("unexpected"), 0u);
    }
}

TEST_F(Proxy, TcpDelayGivesNoFinding) {
    Outcome r = run(tcp_scenario("{delay: 0.3, max_delay: 2ms}",
                                 "{messages: 200, size: {min: 32, max: 3000}}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("tcp_delayed"), 0u);
    EXPECT_EQ(r.stat("received"), 400u);
    EXPECT_EQ(r.count("indeterminate"), 0u);
}

// Cuts: what was in flight and the frames cut in two are indeterminate, the
// producers reconnect (no crash), and what they send after the cut is still
// checked: everything not excused by a cut arrived.
TEST_F(Proxy, TcpCutsGiveNoFalseFindingsAndWritersCarryOn) {
    const std::string text = tcp_scenario(
        "{cut_after: 20000}", "{messages: 300, rate: 3000, size: {min: 64, max: 2000}}");
    Outcome r = run(text, {"--keep"});
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("cut"), 0u);
    EXPECT_GT(r.acted("resumed"), 0u);
    EXPECT_EQ(r.stat("lost"), 0u);
    EXPECT_EQ(r.stat("corrupted"), 0u);
    EXPECT_EQ(r.stat("unexpected"), 0u);
    EXPECT_EQ(r.stat("indeterminate"), r.acted("excused"));
    EXPECT_GE(r.stat("received") + r.stat("indeterminate"), r.stat("sent"));
    for (const auto& p : r.scenario["processes"]) EXPECT_EQ(p["exit_code"], 0) << p.dump();

    // Without the proxy's log the same history is findings: the checker
    // tells a cut from a bug only by what the proxy logged.
    std::filesystem::remove(proxy_log_path(r.run_dir(), 0));
    auto again = run_binary({"check", r.run_dir()}, root.path, scratch.path);
    EXPECT_EQ(again.status, 1) << again.out << again.err;
}

TEST_F(Proxy, TcpCutsByProbabilityAreExcusedToo) {
    Outcome r = run(tcp_scenario("{cut: 0.02, max_segment: 300}",
                                 "{messages: 300, rate: 3000, size: {min: 64, max: 2000}}"));
    ASSERT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.acted("cut"), 0u);
    EXPECT_EQ(r.stat("lost") + r.stat("corrupted") + r.stat("unexpected"), 0u);
    EXPECT_EQ(r.stat("indeterminate"), r.acted("excused"));
}

// ---------------------------------------------------------------- the rest

TEST_F(Proxy, AProxyElsewhereIsAScenarioError) {
    const std::string file = scratch.path + "/bad.yaml";
    std::ofstream(file) << "name: bad\nchannels:\n  data:\n    backend: pipe\n    proxy: {drop: "
                           "0.1}\nprocesses:\n  - {role: producer, channel: data, workload: "
                           "{messages: 1}}\n  - {role: consumer, channel: data}\n";
    auto r = run_binary({"validate", file}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(contains(r.out + r.err, "bad.yaml:5:5")) << r.out << r.err;

    std::ofstream(file) << tcp_scenario("{drop: 0.1}", "{messages: 1}");
    r = run_binary({"validate", file}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2);
    EXPECT_TRUE(contains(r.out + r.err, "'drop' does not apply to a tcp channel")) << r.err;
}

// A harness killed mid-run takes its proxy with it, and clean leaves
// nothing of the run.
TEST_F(Proxy, AKilledHarnessLeavesNoProxyBehind) {
    const std::string file = scratch.path + "/long.yaml";
    std::ofstream(file) << "name: long\ntimeout: 60s\nchannels:\n  data:\n    backend: udp\n"
                           "    proxy: {delay: 0.5, max_delay: 5ms}\nprocesses:\n"
                           "  - {role: producer, channel: data, workload: {duration: 30s, rate: "
                           "200, size: 64}}\n  - {role: consumer, channel: data}\n";
    const pid_t harness =
        spawn_binary({"run", file}, root.path, scratch.path + "/o", scratch.path + "/e");
    std::vector<int> proxies;
    for (int i = 0; i < 1000 && proxies.empty(); ++i) {  // a deadlock guard, not a pass condition
        proxies = processes_of_root("--proxy");
        if (proxies.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(proxies.size(), 1u);
    ::kill(harness, SIGKILL);
    ::waitpid(harness, nullptr, 0);
    // A dying process's command line reads empty before it has finished
    // exiting (under TSan, unmapping its shadow memory takes a while): wait
    // for the proxy itself, not for the list to empty.
    for (int i = 0; i < 1000 && (process_alive(proxies[0]) || !processes_of_root().empty()); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(process_alive(proxies[0]));
}

}  // namespace
}  // namespace ipct::test
