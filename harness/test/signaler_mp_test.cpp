// End-to-end: a signaler storms a pipe fan-in (the bundled scenario) with a
// signal its targets catch without SA_RESTART.  The run must pass (every
// EINTR retried, nothing lost), and the logs must show that signals were
// really sent and caught.  Every wait is bounded; none is a pass condition.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>

#include "ipctorture/event_log.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace ipct::test;

namespace {

// Each process's notes: Note -> the note's record.
std::map<ipct::Note, ipct::Record> notes(const std::string& log) {
    std::map<ipct::Note, ipct::Record> out;
    ipct::EventLogReader r(log);
    for (std::uint64_t i = 0; i < r.size(); ++i)
        if (r[i].op == ipct::Op::kNote) out[static_cast<ipct::Note>(r[i].aux)] = r[i];
    return out;
}

std::string only_run_dir(const std::string& root) {
    std::vector<std::string> dirs;
    for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path().string());
    return dirs.size() == 1 ? dirs[0] : "";
}

}  // namespace

TEST(Signaler, StormOverAPipeFanInPassesAndSignalsArrive) {
    TempDir root, scratch;
    const CmdResult r =
        run_binary({"run", "--keep", source("scenarios/backends/signaler-storm-pipe.yaml")},
                   root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
    const std::string dir = only_run_dir(root.path);
    ASSERT_FALSE(dir.empty()) << "expected the one kept run directory";

    // Plan order: producer0..2, consumer0, signaler0.
    const auto storm = notes(dir + "/events.4.log");
    ASSERT_TRUE(storm.count(ipct::Note::kSignalsSent)) << "the signaler logged no count";
    const ipct::Record& sent = storm.at(ipct::Note::kSignalsSent);
    EXPECT_GT(sent.seq, 0u);
    EXPECT_EQ(sent.extra, std::uint32_t(SIGUSR2));
    EXPECT_EQ(sent.origin, 4u) << "targets reached";
    EXPECT_EQ(sent.size, 0u) << "sends that failed, last errno " << sent.err;

    std::uint64_t caught = 0;
    for (int p = 0; p < 4; ++p) {
        const auto n = notes(dir + "/events." + std::to_string(p) + ".log");
        ASSERT_TRUE(n.count(ipct::Note::kSignalsCaught)) << "process " << p << " was no target";
        ASSERT_TRUE(n.count(ipct::Note::kEintrRetries)) << "process " << p;
        caught += n.at(ipct::Note::kSignalsCaught).seq;
    }
    EXPECT_GT(caught, 0u) << "no target caught a signal";
    EXPECT_LE(caught, sent.seq) << "more caught than sent";
    const auto signaler_self = notes(dir + "/events.4.log");
    EXPECT_FALSE(signaler_self.count(ipct::Note::kSignalsCaught)) << "nobody signals the signaler";

    // `clean` still reads the workers file and removes the kept run.
    const CmdResult c = run_binary({"clean"}, root.path, scratch.path);
    EXPECT_EQ(c.status, 0) << c.out << c.err;
    EXPECT_TRUE(root.entries().empty());
}

// A signaler with a duration stops on its own (here long before a paced
// producer is done) and reports what it did; its targets by default are
// every process that is not a signaler.
TEST(Signaler, DurationEndsTheStormBeforeTheTargets) {
    TempDir root, scratch;
    const std::string scenario = scratch.path + "/s.yaml";
    std::ofstream(scenario) << R"(name: short-storm
seed: 3
timeout: 60s
channels:
  data: {backend: fifo}
processes:
  - role: producer
    channel: data
    workload: {messages: 3000, rate: 3000, size: 64}
  - role: consumer
    channel: data
  - role: signaler
    signal: SIGHUP
    workload: {rate: 0, duration: 100ms}
)";
    const CmdResult r = run_binary({"run", "--keep", scenario}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const std::string dir = only_run_dir(root.path);
    ASSERT_FALSE(dir.empty());
    const auto storm = notes(dir + "/events.2.log");
    ASSERT_TRUE(storm.count(ipct::Note::kSignalsSent));
    EXPECT_EQ(storm.at(ipct::Note::kSignalsSent).extra, std::uint32_t(SIGHUP));
    EXPECT_EQ(storm.at(ipct::Note::kSignalsSent).origin, 2u);
}
