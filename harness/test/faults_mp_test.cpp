// End to end: process faults (`faults:`) carried out by the orchestrator on
// our own backends, with the checker's verdict asserted.  Where a test needs
// its target still alive, the trigger is a producer's message count and the
// producers send at a rate: a consumer cannot end before every producer has,
// and the rate makes that take longer than the count does.  Every wait is
// bounded; none is a pass condition.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "ipctorture/event_log.hpp"
#include "ipctorture/faults.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace ipct::test;
using ipct::FaultStep;
using ipct::Op;
using ipct::Record;
using ipct::Status;

namespace {

struct FaultRun {
    CmdResult cmd;
    nlohmann::json report;   // the one scenario's entry
    nlohmann::json planned;  // plan.json's fault schedule
    std::vector<Record> faults;
    // By event log file name (events.<p>.log, events.<p>.<k>.log for a
    // restarted process's incarnation k): intact receives, and the lowest
    // seq it began to send (none: UINT64_MAX).
    std::map<std::string, std::uint64_t> receives, first_send;

    const nlohmann::json& channel(std::size_t i = 0) const { return report["channels"][i]; }
    const nlohmann::json& process(const std::string& name) const {
        for (const auto& p : report["processes"])
            if (p["name"] == name) return p;
        throw std::runtime_error("no process " + name);
    }
    // The kFault records of one step.
    std::vector<Record> steps(FaultStep s) const {
        std::vector<Record> out;
        for (const Record& r : faults)
            if (r.aux == static_cast<std::uint32_t>(s)) out.push_back(r);
        return out;
    }
};

FaultRun run(const std::string& yaml, std::vector<std::string> extra = {}) {
    TempDir scratch;
    const std::string root = scratch.path + "/root", file = scratch.path + "/s.yaml";
    fs::create_directories(root);
    std::ofstream(file) << yaml;
    std::vector<std::string> args{"run", "--keep", "--json", scratch.path + "/r.json", file};
    args.insert(args.end(), extra.begin(), extra.end());
    FaultRun r;
    r.cmd = run_binary(args, root, scratch.path);
    std::ifstream in(scratch.path + "/r.json");
    if (in) r.report = nlohmann::json::parse(in)["scenarios"][0];
    for (const auto& e : fs::directory_iterator(root)) {  // the one kept run directory
        ipct::EventLogReader log(e.path().string() + "/events.orchestrator.log");
        for (std::uint64_t i = 0; i < log.size(); ++i)
            if (log[i].op == Op::kFault) r.faults.push_back(log[i]);
        std::ifstream plan(e.path().string() + "/plan.json");
        r.planned = nlohmann::json::parse(plan)["faults"];
        for (const auto& f : fs::directory_iterator(e.path())) {
            const std::string name = f.path().filename().string();
            if (name.rfind("events.", 0) != 0 || name == "events.orchestrator.log") continue;
            ipct::EventLogReader w(f.path().string());
            std::uint64_t got = 0, first = UINT64_MAX;
            for (std::uint64_t i = 0; i < w.size(); ++i) {
                if (w[i].op == Op::kRecv && w[i].status == Status::kOk) ++got;
                if (w[i].op == Op::kSend) first = std::min(first, w[i].seq);
            }
            r.receives[name] = got;
            r.first_send[name] = first;
        }
    }
    return r;
}

// Two producers, two consumers on a posix_mq; `faults` from line 9.
std::string queue_scenario(const std::string& faults, const std::string& extra = "") {
    return "name: faults-queue\n"
           "timeout: 60s\n"
           "channels:\n"
           "  q: {backend: posix_mq}\n"
           "processes:\n"
           "  - {role: producer, count: 2, channel: q, workload: {messages: 400, size: 64, rate: "
           "1000}}\n"
           "  - {role: consumer, count: 2, channel: q" +
           extra +
           "}\n"
           "faults:\n" +
           faults;
}

void expect_pass(const FaultRun& r) {
    ASSERT_FALSE(r.cmd.timed_out);
    EXPECT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    ASSERT_TRUE(r.report.is_object()) << r.cmd.err;
    EXPECT_EQ(r.report["verdict"], "PASS") << r.report["findings"].dump(2);
}

}  // namespace

TEST(Faults, AKilledConsumersQueueStillDeliversEveryOtherMessage) {
    const FaultRun r = run(queue_scenario(
        "  - {action: kill, target: consumer0, after: {process: producer0, messages: 100}}\n"));
    expect_pass(r);
    const auto kills = r.steps(FaultStep::kKill);
    ASSERT_EQ(kills.size(), 1u);
    EXPECT_EQ(kills[0].status, Status::kOk) << "consumer0 was alive: producers were not done";
    EXPECT_EQ(kills[0].seq, 2u);
    EXPECT_EQ(kills[0].extra, std::uint32_t(SIGKILL));
    EXPECT_EQ(r.process("consumer0")["killed_by_harness"], true);
    EXPECT_EQ(r.report["counts"]["crash"], 0);
    // consumer1 drained the queue: everything consumer0 had not taken
    // reached it; consumer0 held at most one message when it died.
    const auto& q = r.channel();
    EXPECT_EQ(q["sent"], 800);
    EXPECT_EQ(q["lost"], 0);
    EXPECT_LE(q["indeterminate"].get<int>(), 1);
    EXPECT_EQ(q["received"].get<int>() + q["indeterminate"].get<int>(), 800);
}

TEST(Faults, AStoppedConsumerIsNoHangWhileItsPauseLasts) {
    // The pause outlasts the scenario's timeout: the watchdog waits for it.
    const FaultRun r =
        run("name: faults-stop\n"
            "timeout: 4s\n"
            "channels:\n"
            "  q: {backend: sysv_msg}\n"
            "processes:\n"
            "  - {role: producer, channel: q, workload: {messages: 300, size: 64, rate: 300}}\n"
            "  - {role: consumer, channel: q}\n"
            "faults:\n"
            "  - {action: stop, target: consumer0, pause: 5s, after: {process: producer0, "
            "messages: 20}}\n");
    expect_pass(r);
    const auto stops = r.steps(FaultStep::kStop), conts = r.steps(FaultStep::kCont);
    ASSERT_EQ(stops.size(), 1u);
    ASSERT_EQ(conts.size(), 1u);
    EXPECT_EQ(stops[0].status, Status::kOk);
    EXPECT_EQ(conts[0].status, Status::kOk);
    EXPECT_GE(conts[0].t_start - stops[0].t_end, 5'000'000'000u);
    EXPECT_EQ(r.report["counts"]["hang"], 0);
    EXPECT_EQ(r.channel()["received"], 300);
}

TEST(Faults, ASignalThatEndsAWorkerIsNoCrash) {
    const FaultRun r = run(queue_scenario(
        "  - {action: signal, signal: SIGTERM, target: consumer1, after: {process: producer1, "
        "messages: 50}}\n"));
    expect_pass(r);
    const auto sigs = r.steps(FaultStep::kSignal);
    ASSERT_EQ(sigs.size(), 1u);
    EXPECT_EQ(sigs[0].status, Status::kOk);
    EXPECT_EQ(sigs[0].extra, std::uint32_t(SIGTERM));
    EXPECT_EQ(r.process("consumer1")["killed_by_harness"], true);
    EXPECT_EQ(r.process("consumer1")["signal"], "TERM");
    EXPECT_EQ(r.channel()["lost"], 0);
}

TEST(Faults, AKillInTheMiddleOfASendIsIndeterminateNotLost) {
    // The queue holds 10 messages and its consumer starts 5 s late: once
    // producer0 has sent 10 (within microseconds of the start), its next send
    // blocks until it is killed at 2 s.  A kill triggered by the 10th send
    // itself could land between two sends on a loaded machine.
    const FaultRun r =
        run("name: faults-mid-send\n"
            "timeout: 60s\n"
            "channels:\n"
            "  q: {backend: posix_mq, options: {depth: 10}}\n"
            "processes:\n"
            "  - {role: producer, channel: q, workload: {messages: 50, size: 64}}\n"
            "  - {role: consumer, channel: q, workload: {start_delay: 5s}}\n"
            "faults:\n"
            "  - {action: kill, target: producer0, at: 2s}\n");
    expect_pass(r);
    ASSERT_EQ(r.steps(FaultStep::kKill).size(), 1u);
    EXPECT_EQ(r.steps(FaultStep::kKill)[0].status, Status::kOk);
    const auto& q = r.channel();
    EXPECT_EQ(q["sent"], 10);
    EXPECT_EQ(q["received"], 10);
    EXPECT_EQ(q["send_unknown"], 1) << "the send it was killed in";
    EXPECT_EQ(q["indeterminate"], 1);
    EXPECT_EQ(q["lost"], 0);
    EXPECT_EQ(r.report["counts"]["crash"], 0);
}

TEST(Faults, TheSameSeedLogsTheSameFaultSchedule) {
    const std::string yaml =
        "name: faults-random\n"
        "channels:\n"
        "  q: {backend: posix_mq}\n"
        "processes:\n"
        "  - {role: producer, count: 2, channel: q, workload: {messages: 300, rate: 1000}}\n"
        "  - {role: consumer, channel: q}\n"
        "faults:\n"
        "  - {action: stop, target: producer, pause: 1ms, random: {rate: 40, until: 250ms}}\n";
    // (fault index, target, step, signal) of every first step, by fault.
    auto schedule = [](const FaultRun& r) {
        std::vector<std::tuple<std::uint32_t, std::uint64_t, std::uint32_t, std::uint32_t>> s;
        for (const Record& f : r.faults)
            if (f.aux != static_cast<std::uint32_t>(FaultStep::kCont))
                s.emplace_back(f.origin, f.seq, f.aux, f.extra);
        std::sort(s.begin(), s.end());
        return s;
    };
    const FaultRun a = run(yaml, {"--seed", "11"}), b = run(yaml, {"--seed", "11"});
    const FaultRun other = run(yaml, {"--seed", "12"});
    expect_pass(a);
    expect_pass(b);
    expect_pass(other);
    ASSERT_GT(a.faults.size(), 1u);
    EXPECT_EQ(schedule(a), schedule(b));
    EXPECT_NE(schedule(a), schedule(other));
    EXPECT_EQ(a.planned, b.planned);
    EXPECT_NE(a.planned, other.planned);
}

// producer0 -> q -> consumer0 on a queue of `backend`; `faults` from line 8.
// The producer's rate keeps it sending for 0.6 s: a fault after its 200th
// message finds both processes alive.
std::string restart_scenario(const std::string& backend, const std::string& faults) {
    return "name: faults-restart\n"
           "timeout: 60s\n"
           "channels:\n"
           "  q: {backend: " +
           backend +
           "}\n"
           "processes:\n"
           "  - {role: producer, channel: q, workload: {messages: 600, size: 64, rate: 1000}}\n"
           "  - {role: consumer, channel: q}\n"
           "faults:\n" +
           faults;
}

class Restart : public testing::TestWithParam<std::string> {};

TEST_P(Restart, ARestartedConsumerReceivesEverythingTheDeadOneDidNot) {
    const FaultRun r = run(restart_scenario(
        GetParam(), "  - {action: restart, target: consumer0, delay: 20ms, after: {process: "
                    "producer0, messages: 200}}\n"));
    expect_pass(r);
    const auto kills = r.steps(FaultStep::kKill);
    const auto respawns = r.steps(FaultStep::kRespawn);
    ASSERT_EQ(kills.size(), 1u);
    EXPECT_EQ(kills[0].status, Status::kOk);
    ASSERT_EQ(respawns.size(), 1u);
    EXPECT_EQ(respawns[0].status, Status::kOk);
    EXPECT_EQ(respawns[0].seq, 1u);
    EXPECT_EQ(respawns[0].extra, 1u) << "incarnation 1";
    EXPECT_GE(respawns[0].t_end, respawns[0].t_start + 20'000'000) << "after the delay";
    EXPECT_EQ(r.report["counts"]["crash"], 0);
    // The report lists both steps.
    const auto& listed = r.report["faults"];
    ASSERT_EQ(listed.size(), 2u) << listed.dump(2);
    EXPECT_EQ(listed[0]["step"], "kill");
    EXPECT_EQ(listed[0]["target"], "consumer0");
    EXPECT_EQ(listed[0]["signal"], "SIGKILL");
    EXPECT_EQ(listed[0]["carried_out"], true);
    EXPECT_EQ(listed[1]["step"], "respawn");
    EXPECT_EQ(listed[1]["incarnation"], 1);
    EXPECT_GT(listed[1]["at_s"].get<double>(), listed[0]["at_s"].get<double>());
    // The first incarnation took messages before it died (the queue holds
    // ten, and the producer had sent 200); the second took the rest.
    EXPECT_GT(r.receives.at("events.1.log"), 0u);
    EXPECT_GT(r.receives.at("events.1.1.log"), 0u);
    const auto& q = r.channel();
    EXPECT_EQ(q["sent"], 600);
    EXPECT_EQ(q["lost"], 0);
    EXPECT_LE(q["indeterminate"].get<int>(), 1) << "the dead incarnation held at most one";
    EXPECT_EQ(q["received"].get<int>() + q["indeterminate"].get<int>(), 600);
    EXPECT_EQ(r.receives.at("events.1.log") + r.receives.at("events.1.1.log"),
              q["received"].get<std::uint64_t>());
}

TEST_P(Restart, ARestartedProducerResumesAfterItsLastSendWithoutDuplicates) {
    const FaultRun r = run(restart_scenario(
        GetParam(), "  - {action: restart, target: producer0, after: {process: producer0, "
                    "messages: 200}}\n"));
    expect_pass(r);
    ASSERT_EQ(r.steps(FaultStep::kRespawn).size(), 1u);
    EXPECT_EQ(r.steps(FaultStep::kRespawn)[0].status, Status::kOk);
    // The second incarnation began after the first one's last send.
    EXPECT_GE(r.first_send.at("events.0.1.log"), 200u);
    EXPECT_EQ(r.first_send.at("events.0.log"), 0u);
    const auto& q = r.channel();
    EXPECT_EQ(q["sent"].get<int>() + q["send_unknown"].get<int>(), 600) << "each seq sent once";
    EXPECT_LE(q["send_unknown"].get<int>(), 1);
    EXPECT_EQ(q["duplicated"], 0);
    EXPECT_EQ(q["lost"], 0);
    EXPECT_EQ(q["received"].get<int>() + q["indeterminate"].get<int>(), 600);
}

INSTANTIATE_TEST_SUITE_P(Faults, Restart, testing::Values("posix_mq", "sysv_msg"));

// The incarnations' logs are checked as one history: a receive of the
// second incarnation made to fail in the kept run directory (a message it
// never got) is a loss by name, which `check` reports.
TEST(Faults, AMessageMissingAfterARestartIsLostByName) {
    TempDir scratch;
    const std::string root = scratch.path + "/root", file = scratch.path + "/s.yaml";
    fs::create_directories(root);
    std::ofstream(file) << restart_scenario(
        "posix_mq",
        "  - {action: restart, target: consumer0, after: {process: producer0, messages: 100}}\n");
    CmdResult c = run_binary({"run", "--keep", file}, root, scratch.path);
    ASSERT_EQ(c.status, 0) << c.out << c.err;
    std::string dir;
    for (const auto& e : fs::directory_iterator(root)) dir = e.path().string();
    const std::string log = dir + "/events.1.1.log";
    ASSERT_TRUE(fs::exists(log));
    // The victim: the second incarnation's last receive of a message whose
    // send began after the first one was seen to end (the kRespawn record).
    std::uint64_t death = 0;
    {
        ipct::EventLogReader o(dir + "/events.orchestrator.log");
        for (std::uint64_t i = 0; i < o.size(); ++i)
            if (o[i].op == Op::kFault && o[i].aux == std::uint32_t(FaultStep::kRespawn))
                death = o[i].t_start;
    }
    ASSERT_NE(death, 0u);
    std::map<std::uint64_t, std::uint64_t> sent_at;
    {
        ipct::EventLogReader p(dir + "/events.0.log");
        for (std::uint64_t i = 0; i < p.size(); ++i)
            if (p[i].op == Op::kSend) sent_at[p[i].seq] = p[i].t_start;
    }
    std::uint64_t victim = UINT64_MAX, seq = 0;
    {
        ipct::EventLogReader w(log);
        for (std::uint64_t i = w.size(); i-- > 0;)
            if (w[i].op == Op::kRecv && w[i].status == Status::kOk &&
                sent_at.count(w[i].seq) != 0 && sent_at[w[i].seq] > death) {
                victim = i;
                seq = w[i].seq;
                break;
            }
    }
    ASSERT_NE(victim, UINT64_MAX) << "the producer sent 500 messages after the restart";
    {
        std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
        const std::streamoff at =
            std::streamoff(sizeof(ipct::LogFileHeader) + victim * sizeof(Record));
        Record rec{};
        f.seekg(at);
        f.read(reinterpret_cast<char*>(&rec), sizeof rec);
        rec.status = Status::kError;  // a receive that returned no message
        rec.err = EIO;
        f.seekp(at);
        f.write(reinterpret_cast<const char*>(&rec), sizeof rec);
    }
    const std::string json = scratch.path + "/check.json";
    c = run_binary({"check", dir, "--json", json}, root, scratch.path);
    EXPECT_NE(c.status, 0) << c.out;
    std::ifstream in(json);
    ASSERT_TRUE(in) << c.err;
    const auto rep = nlohmann::json::parse(in)["scenarios"][0];
    EXPECT_EQ(rep["verdict"], "FAIL");
    ASSERT_EQ(rep["counts"]["lost"], 1) << rep["findings"].dump(2);
    bool named = false;
    for (const auto& f : rep["findings"])
        named |= f["kind"] == "lost" && f["message"]["seq"] == seq &&
                 f["summary"].get<std::string>().find("after every killed reader") !=
                     std::string::npos;
    EXPECT_TRUE(named) << rep["findings"].dump(2);
    fs::remove_all(dir);
}
