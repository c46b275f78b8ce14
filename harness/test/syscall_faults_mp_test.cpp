// Syscall fault injection (libipctorture_faults.so, `syscall_faults:`)
// through the whole harness: each injected error on one of our backends
// that a correct program survives, with the checker's verdict and the
// injection counts asserted; the same seed making the same decisions call
// for call; exec programs under injection; the zoo's EINTR reader caught
// with no signal sent; and the scenario errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "test_util.hpp"

using namespace ipct;
using namespace ipct::test;

namespace {

namespace fs = std::filesystem;

struct FaultRun {
    CmdResult cmd;
    nlohmann::json scenario;  // the report's first scenario
};

// Runs `yaml` (written to a scratch file) with `args`, in a private run root
// that must be empty afterwards unless the run was kept.
FaultRun run_yaml(const TempDir& root, const TempDir& scratch, const std::string& yaml,
                  std::vector<std::string> args = {}) {
    const std::string file = scratch.path + "/s.yaml", json = scratch.path + "/r.json";
    std::ofstream(file) << yaml;
    fs::remove(json);
    std::vector<std::string> cmd{"run", file, "--json", json};
    cmd.insert(cmd.end(), args.begin(), args.end());
    FaultRun r;
    r.cmd = run_binary(cmd, root.path, scratch.path);
    EXPECT_FALSE(r.cmd.timed_out);
    if (fs::exists(json)) r.scenario = nlohmann::json::parse(slurp(json))["scenarios"][0];
    return r;
}

// What the report counts for process `name`: injections of `err` ("EINTR",
// ..., "short") into `call`.
long injected(const nlohmann::json& s, const std::string& name, const std::string& call,
              const std::string& err) {
    for (const auto& p : s["processes"]) {
        if (p["name"] != name || !p.contains("syscall_faults")) continue;
        const auto& by = p["syscall_faults"]["by_call"];
        if (by.contains(call) && by[call].contains(err)) return by[call][err].get<long>();
    }
    return 0;
}

long injected_total(const nlohmann::json& s, const std::string& name) {
    for (const auto& p : s["processes"])
        if (p["name"] == name && p.contains("syscall_faults"))
            return p["syscall_faults"]["injected"].get<long>();
    return 0;
}

// Passed, and every send completed: none failed with an injected error.
// Every message arrived, except on udp, whose loss the kernel may decide.
void expect_pass(const FaultRun& r) {
    EXPECT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
    EXPECT_EQ(r.scenario["verdict"], "PASS") << r.scenario.dump(2);
    for (const auto& c : r.scenario["channels"]) {
        EXPECT_EQ(c["send_unknown"], 0) << c.dump();
        if (c["backend"] == "udp") continue;
        EXPECT_EQ(c["received"], c["sent"]) << c.dump();
        EXPECT_EQ(c["indeterminate"], 0) << c.dump();
    }
}

// A pipe's single writer with messages above PIPE_BUF, so that its writes
// may be cut short; its reader's reads are cut short too, and both meet
// EINTR in calls that would wait.
const char* kPipeShort = R"(name: pipe-short
seed: 5
timeout: 60s
channels:
  data: {backend: pipe}
processes:
  - role: producer
    channel: data
    workload: {messages: 300, size: {min: 4200, max: 12000}}
    syscall_faults:
      - {error: short, calls: write, probability: 0.3}
      - {error: EINTR, calls: write, probability: 0.1}
  - role: consumer
    channel: data
    syscall_faults:
      - {error: short, calls: [read], probability: 0.3}
      - {error: EINTR, calls: [read], probability: 0.1}
)";

}  // namespace

TEST(SyscallFaults, ShortReadsAndWritesAndEintrOnAPipe) {
    TempDir root, scratch;
    const FaultRun r = run_yaml(root, scratch, kPipeShort);
    expect_pass(r);
    EXPECT_GT(injected(r.scenario, "producer0", "write", "short"), 0) << r.scenario.dump(2);
    EXPECT_GT(injected(r.scenario, "producer0", "write", "EINTR"), 0);
    EXPECT_GT(injected(r.scenario, "consumer0", "read", "short"), 0);
    EXPECT_GT(injected(r.scenario, "consumer0", "read", "EINTR"), 0);
    EXPECT_NE(r.cmd.out.find("passed with injected syscall faults: producer0: write"),
              std::string::npos)
        << r.cmd.out;
    EXPECT_TRUE(root.entries().empty());
}

// unix_stream: frames cut anywhere, in both directions.
TEST(SyscallFaults, ShortTransfersOnAUnixStream) {
    TempDir root, scratch;
    const FaultRun r = run_yaml(root, scratch, R"(name: unix-stream-short
seed: 6
timeout: 60s
syscall_faults: {error: short, probability: 0.4}
channels:
  s: {backend: unix_stream}
processes:
  - role: producer
    count: 2
    channel: s
    workload: {messages: 300, size: {min: 64, max: 3000}}
  - role: consumer
    channel: s
)");
    expect_pass(r);
    EXPECT_GT(injected_total(r.scenario, "producer0"), 0) << r.scenario.dump(2);
    EXPECT_GT(injected_total(r.scenario, "producer1"), 0);
    EXPECT_GT(injected_total(r.scenario, "consumer0"), 0);
    EXPECT_TRUE(root.entries().empty());
}

// A non-blocking POSIX queue: its senders retry EAGAIN with a backoff.
TEST(SyscallFaults, EagainOnANonblockingPosixQueue) {
    TempDir root, scratch;
    const FaultRun r = run_yaml(root, scratch, R"(name: mq-eagain
seed: 7
timeout: 60s
channels:
  q: {backend: posix_mq, options: {nonblocking: true}}
processes:
  - role: producer
    count: 2
    channel: q
    workload: {messages: 300, size: 128, priority: {min: 0, max: 3}}
    syscall_faults: {error: EAGAIN, calls: [mq_send, mq_timedsend], probability: 0.2}
  - role: consumer
    channel: q
)");
    expect_pass(r);
    EXPECT_GT(injected(r.scenario, "producer0", "mq_send", "EAGAIN") +
                  injected(r.scenario, "producer0", "mq_timedsend", "EAGAIN"),
              0)
        << r.scenario.dump(2);
    EXPECT_TRUE(root.entries().empty());
}

// A blocking POSIX queue and a System V queue: EINTR in every wait.
TEST(SyscallFaults, EintrOnBlockingQueues) {
    TempDir root, scratch;
    const FaultRun r = run_yaml(root, scratch, R"(name: queues-eintr
seed: 8
timeout: 60s
syscall_faults: {error: EINTR, probability: 0.2}
channels:
  mq: {backend: posix_mq}
  sv: {backend: sysv_msg}
processes:
  - role: producer
    channel: mq
    workload: {messages: 300, size: 100, priority: 1, rate: 20000}
  - role: relay
    input: mq
    output: sv
  - role: consumer
    channel: sv
)");
    expect_pass(r);
    EXPECT_GT(injected(r.scenario, "relay0", "mq_timedreceive", "EINTR"), 0) << r.scenario.dump(2);
    EXPECT_GT(injected(r.scenario, "consumer0", "msgrcv", "EINTR"), 0);
    EXPECT_TRUE(root.entries().empty());
}

// Datagram sockets: ENOBUFS is transient, the sender waits and sends again
// (unix_dgram is lossless, so every message must arrive; on udp every send
// must complete).
TEST(SyscallFaults, EnobufsOnDatagramSockets) {
    TempDir root, scratch;
    const FaultRun r = run_yaml(root, scratch, R"(name: dgram-enobufs
seed: 9
timeout: 60s
syscall_faults: {error: ENOBUFS, probability: 0.2}
channels:
  d: {backend: unix_dgram}
  u: {backend: udp}
processes:
  - role: producer
    channel: d
    workload: {messages: 300, size: 200}
  - role: relay
    input: d
    output: u
  - role: consumer
    channel: u
)");
    expect_pass(r);
    EXPECT_GT(injected(r.scenario, "producer0", "send", "ENOBUFS"), 0) << r.scenario.dump(2);
    EXPECT_GT(injected(r.scenario, "relay0", "send", "ENOBUFS"), 0);
    EXPECT_EQ(injected_total(r.scenario, "consumer0"), 0);
    EXPECT_TRUE(root.entries().empty());
}

// Every injection is a record in the process's own log; one seed makes the
// same decisions at the same call indices, another seed others.  The
// producer's writes to a pipe are a fixed sequence once the decisions are
// (a blocking pipe write above PIPE_BUF returns whole), so its whole log
// repeats.
TEST(SyscallFaults, TheSameSeedMakesTheSameInjections) {
    using Key =
        std::tuple<std::uint32_t, std::uint64_t, std::int32_t, std::uint32_t, std::uint32_t>;
    auto decisions = [](const std::string& seed) {
        TempDir root, scratch;
        const FaultRun r = run_yaml(root, scratch, kPipeShort, {"--seed", seed, "--keep"});
        EXPECT_EQ(r.cmd.status, 0) << r.cmd.out << r.cmd.err;
        const std::string dir = r.scenario["run_dir"];
        EventLogReader log(dir + "/syscall_faults.0.log");
        EXPECT_EQ(log.process(), 0u);
        std::vector<Key> out;
        for (std::uint64_t i = 0; i < log.size(); ++i) {
            const Record& rec = log[i];
            EXPECT_EQ(rec.op, Op::kSyscallFault);
            EXPECT_EQ(rec.status, Status::kOk);
            out.emplace_back(rec.aux, rec.seq, rec.err, rec.size, rec.extra);
        }
        EXPECT_EQ(static_cast<long>(out.size()), injected_total(r.scenario, "producer0"));
        run_binary({"clean"}, root.path, scratch.path);
        return out;
    };
    const std::vector<Key> a = decisions("11"), b = decisions("11"), c = decisions("12");
    ASSERT_GT(a.size(), 10u);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

// `cat` between two pipes, under short transfers and EINTR from its first
// instruction: it retries and resumes, and the checker judges the route.
TEST(SyscallFaults, AnExecProgramUnderInjection) {
    TempDir root, scratch;
    const FaultRun r = run_yaml(root, scratch, R"(name: cat-faults
seed: 10
timeout: 60s
channels:
  in: {backend: pipe}
  out: {backend: pipe}
processes:
  - role: producer
    channel: in
    workload: {messages: 300, size: {min: 64, max: 9000}}
  - role: exec
    name: cat
    input: in
    output: out
    program: cat
    syscall_faults:
      - {error: short, calls: [read, write], probability: 0.3}
      - {error: EINTR, calls: [read, write], probability: 0.1}
  - role: consumer
    channel: out
)");
    expect_pass(r);
    EXPECT_GT(injected(r.scenario, "cat", "read", "short"), 0) << r.scenario.dump(2);
    EXPECT_GT(injected(r.scenario, "cat", "read", "EINTR"), 0);
    EXPECT_GT(injected(r.scenario, "cat", "write", "short") +
                  injected(r.scenario, "cat", "write", "EINTR"),
              0);
    EXPECT_TRUE(root.entries().empty());
}

// The zoo's EINTR reader, with no signaler: injected EINTR on its waiting
// msgrcv ends its input, and the messages sent afterwards are proven lost;
// each finding says the consumer's calls were injected.  Its twin, with the
// same injections, passes.
TEST(SyscallFaults, TheZoosEintrReaderIsCaughtWithoutASignal) {
    TempDir root, scratch;
    const std::string zoo = source("scenarios/zoo/sysv-eintr-is-eof-injected.yaml");
    const std::string text = slurp(zoo);
    EXPECT_EQ(text.find("role: signaler"), std::string::npos);
    const FaultRun r = run_yaml(root, scratch, text);
    EXPECT_EQ(r.cmd.status, 1) << r.cmd.out << r.cmd.err;
    EXPECT_GT(r.scenario["counts"]["lost"].get<long>(), 0) << r.scenario.dump(2);
    for (const char* k : {"duplicated", "corrupted", "selective", "crash", "hang"})
        EXPECT_EQ(r.scenario["counts"][k].get<long>(), 0) << k;
    EXPECT_GT(injected(r.scenario, "consumer0", "msgrcv", "EINTR"), 0);
    for (const auto& p : r.scenario["processes"]) EXPECT_NE(p["role"], "signaler");
    for (const auto& f : r.scenario["findings"])
        EXPECT_NE(f["summary"].get<std::string>().find(
                      "[injected syscall faults: consumer0: msgrcv EINTR x"),
                  std::string::npos)
            << f.dump();
    EXPECT_NE(r.cmd.out.find("injected syscall faults: consumer0: msgrcv EINTR"),
              std::string::npos);
    run_binary({"clean"}, root.path, scratch.path);

    const FaultRun t =
        run_yaml(root, scratch, slurp(source("scenarios/twins/sysv-eintr-is-eof-injected.yaml")));
    expect_pass(t);
    EXPECT_GT(injected(t.scenario, "consumer0", "msgrcv", "EINTR"), 0);
    EXPECT_TRUE(root.entries().empty());
}

// Scenario errors: exit 2 with file:line:column and what was expected.
TEST(SyscallFaults, BadRulesAreScenarioErrors) {
    TempDir root, scratch;
    const std::string head =
        "name: bad\nchannels:\n  q: {backend: posix_mq}\nprocesses:\n"
        "  - role: producer\n    channel: q\n"
        "    workload: {messages: 10}\n  - role: consumer\n    channel: q\n";
    struct Case {
        std::string rule, where, says;
    };
    const std::vector<Case> cases{
        {"    syscall_faults: {error: EIO, probability: 0.1}\n", ":10:29",
         "expected EINTR, EAGAIN, ENOBUFS or short"},
        {"    syscall_faults: {error: short, calls: [msgrcv], probability: 0.1}\n", ":10:44",
         "short is not injected into msgrcv"},
        {"    syscall_faults: {error: EINTR, calls: [open], probability: 0.1}\n", ":10:44",
         "unknown call 'open'"},
        {"    syscall_faults: {error: EINTR, probability: 0.1, nth: 3}\n", ":10:21",
         "exactly one of 'probability' and 'nth'"},
        {"    syscall_faults: {error: EINTR, probability: 1.5}\n", ":10:49",
         "a probability in (0, 1]"},
        {"    syscall_faults: {error: EAGAIN, nth: 2}\n", ":10:21",
         "every channel of process 'consumer' is a blocking queue"},
        {"    syscall_faults: {error: EINTR, colour: red, nth: 2}\n", ":10:36",
         "unknown key 'colour'"},
        {"    syscall_faults: sometimes\n", ":10:21", "expected off, a rule"},
    };
    for (const Case& c : cases) {
        const std::string f = scratch.path + "/bad.yaml";
        std::ofstream(f) << head << c.rule;
        auto r = run_binary({"validate", f}, root.path, scratch.path);
        EXPECT_EQ(r.status, 2) << c.rule << r.out << r.err;
        EXPECT_NE(r.err.find(f + c.where), std::string::npos) << c.rule << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << c.rule << r.err;
    }
    // Threads share one process, and so one interposer.
    const std::string f = scratch.path + "/threads.yaml";
    std::ofstream(f) << head << "    syscall_faults: {error: EINTR, nth: 2}\n";
    auto r = run_binary({"run", f, "--as-threads"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(f + ":10:21"), std::string::npos) << r.err;
    EXPECT_TRUE(root.entries().empty());
}
