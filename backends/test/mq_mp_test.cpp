// posix_mq: what the conformance suite cannot ask of every backend —
// priority order, the non-blocking path, the kernel limits named at
// validation, cleanup after killed workers and from a null state.
#include <mqueue.h>
#include <sys/resource.h>

#include <fstream>

#include "queue_test_util.hpp"

namespace ipct {
namespace {

using namespace qtest;

std::uint64_t proc_value(const char* path) {
    std::ifstream in(path);
    std::uint64_t v = 0;
    in >> v;
    return v;
}

std::string queue_name(const TestChannel& ch) {
    return ch.state().at("name").get<std::string>();
}

// The queue is gone from the kernel (not just from /dev/mqueue's view).
bool queue_exists(const std::string& name) {
    const mqd_t q = ::mq_open(name.c_str(), O_RDONLY);
    if (q == mqd_t(-1)) return errno != ENOENT;
    ::mq_close(q);
    return true;
}

TEST(PosixMq, ContractFollowsTheOptions) {
    const Backend& b = *find_backend("posix_mq");
    const Contract c = b.contract(options({{"msgsize", "1000"}}));
    EXPECT_TRUE(c.boundaries);
    EXPECT_TRUE(c.priority);
    EXPECT_TRUE(c.has_priority);
    EXPECT_EQ(c.min_priority, 0u);
    EXPECT_EQ(c.max_priority, std::uint32_t(::sysconf(_SC_MQ_PRIO_MAX) - 1));
    EXPECT_EQ(c.max_message, 1000u);
    const ReceiveRequest r = b.receive_request({}, {});
    EXPECT_EQ(r.order, ReceiveRequest::Order::kHighestFirst);
    EXPECT_EQ(r.match, ReceiveRequest::Match::kAny);
}

// Messages that wait are handed out highest priority first, oldest first
// within a priority: the writer fills the queue and leaves before the reader
// starts, so the whole order is the kernel's.
TEST(PosixMq, WaitingMessagesComeHighestPriorityFirstFifoWithinOne) {
    const std::vector<std::uint32_t> prios = {3, 0, 7, 3, 32767, 0, 7, 3, 1, 7};
    const std::uint64_t depth =
        std::min<std::uint64_t>(10, proc_value("/proc/sys/fs/mqueue/msg_max"));
    if (depth < prios.size()) GTEST_SKIP() << "fs.mqueue.msg_max is below " << prios.size();
    TestChannel ch("posix_mq", options({{"depth", "10"}, {"msgsize", "512"}}), 1, 1);
    const auto deadline = Clock::now() + kDeadline;
    Worker w(ch, Direction::kWrite, 0, {},
             [&](Endpoint& ep) { return send_all(ep, 4, prios, 200); });
    ASSERT_TRUE(w.wait(deadline));
    EXPECT_EQ(parse_sent(w.report()).first, prios.size()) << w.report();

    Worker r(ch, Direction::kRead, 0, {}, [&](Endpoint& ep) { return receive_all(ep, 512); });
    ASSERT_TRUE(r.wait(deadline));
    std::vector<Seen> expected;
    for (std::uint64_t seq = 0; seq < prios.size(); ++seq) expected.push_back({4, seq, prios[seq]});
    std::stable_sort(expected.begin(), expected.end(),
                     [](const Seen& a, const Seen& b) { return a.prio > b.prio; });
    EXPECT_EQ(parse_seen(r.report()), expected) << r.report();
}

// Non-blocking mode: the writer retries a full queue (see the helper).
TEST(PosixMq, NonblockingWriterRetriesAFullQueueLosslessly) {
    TestChannel ch("posix_mq",
                   options({{"depth", "2"}, {"msgsize", "256"}, {"nonblocking", "true"}}), 1, 1);
    expect_nonblocking_writer_retries(ch, 1, 5, 256, 256);
}

// A writer killed while its reader waits: the orchestrator's process_gone
// ends the channel, so the reader drains what was sent and sees the end.
TEST(PosixMq, AKilledWriterEndsTheChannelForItsReader) {
    TestChannel ch("posix_mq", options({{"msgsize", "128"}}), 1, 1);
    expect_killed_writer_ends_channel(ch, std::vector<std::uint32_t>(3, 1), 128);
}

// A reader killed while its writer sends: the writer blocks on the full
// queue for good; cleanup() still removes everything (the test kills the
// writer).
TEST(PosixMq, CleanupAfterAKilledReaderAndABlockedWriter) {
    auto ch = std::make_unique<TestChannel>("posix_mq", options({{"depth", "1"}}), 1, 1);
    const std::string name = queue_name(*ch);
    ASSERT_NO_FATAL_FAILURE(block_writer_after_killed_reader(
        *ch, 0, 64, 8192, [&] { EXPECT_TRUE(queue_exists(name)); }));
    ch->backend().cleanup(ch->setup(), ch->state());
    EXPECT_FALSE(queue_exists(name));
    EXPECT_EQ(ch->run_dir_files(), std::vector<std::string>{});
    ch->backend().cleanup(ch->setup(), ch->state());  // idempotent
    ch.reset();
}

// The plan is written before create(): `ipctorture clean` may call cleanup()
// with a null state, and the queue's name is derived from the setup alone.
TEST(PosixMq, CleanupFromANullStateFindsTheQueue) {
    TestChannel ch("posix_mq", {}, 1, 1);
    const std::string name = queue_name(ch);
    ASSERT_TRUE(queue_exists(name));
    ch.backend().cleanup(ch.setup(), nullptr);
    EXPECT_FALSE(queue_exists(name));
    EXPECT_EQ(ch.run_dir_files(), std::vector<std::string>{});
}

TEST(PosixMq, ALongRunIdStillMakesAValidUniqueName) {
    ChannelSetup a{make_temp_dir(), std::string(300, 'r'), "ch", 0, {}, kSeed, 1, 1};
    ChannelSetup b = a;
    b.run_dir = make_temp_dir();
    b.run_id.back() = 's';
    Backend& be = *find_backend("posix_mq");
    const json sa = be.create(a);
    const json sb = be.create(b);  // would fail with EEXIST if the names collided
    EXPECT_LE(sa.at("name").get<std::string>().size(), std::size_t(NAME_MAX) + 1);
    EXPECT_NE(sa.at("name"), sb.at("name"));
    be.cleanup(a, nullptr);
    be.cleanup(b, nullptr);
    EXPECT_FALSE(queue_exists(sa.at("name").get<std::string>()));
    EXPECT_FALSE(queue_exists(sb.at("name").get<std::string>()));
    fs::remove_all(a.run_dir);
    fs::remove_all(b.run_dir);
}

// ---- kernel limits, named at validation ----

TEST(PosixMqLimits, DepthAboveMsgMaxNamesTheSysctl) {
    const std::uint64_t msg_max = proc_value("/proc/sys/fs/mqueue/msg_max");
    const Options o = options({{"depth", std::to_string(msg_max + 1)}});
    expect_scenario_error([&] { find_backend("posix_mq")->validate(o); }, o.at("depth").loc,
                          {"fs.mqueue.msg_max", "/proc/sys/fs/mqueue/msg_max"});
}

TEST(PosixMqLimits, MsgsizeAboveMsgsizeMaxNamesTheSysctl) {
    const std::uint64_t max = proc_value("/proc/sys/fs/mqueue/msgsize_max");
    const Options o = options({{"nonblocking", "true"}, {"msgsize", std::to_string(max + 1)}});
    expect_scenario_error([&] { find_backend("posix_mq")->validate(o); }, o.at("msgsize").loc,
                          {"fs.mqueue.msgsize_max", "/proc/sys/fs/mqueue/msgsize_max"});
}

std::vector<ChannelSpec> channels(std::size_t n, const Options& o) {
    std::vector<ChannelSpec> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i].name = "q" + std::to_string(i);
        v[i].backend = "posix_mq";
        v[i].options = o;
        v[i].loc = SourceLoc{"test.yaml", int(100 + i), 3};
    }
    return v;
}

std::vector<const ChannelSpec*> pointers(const std::vector<ChannelSpec>& v) {
    std::vector<const ChannelSpec*> p;
    for (const ChannelSpec& c : v) p.push_back(&c);
    return p;
}

// Queues of the default shape until their bytes pass RLIMIT_MSGQUEUE: the
// error comes at the first channel over it and names the rlimit.
TEST(PosixMqLimits, QueueBytesOverRlimitMsgqueueNamesTheRlimit) {
    rlimit rl{};
    ASSERT_EQ(::getrlimit(RLIMIT_MSGQUEUE, &rl), 0);
    if (rl.rlim_cur == RLIM_INFINITY) GTEST_SKIP() << "RLIMIT_MSGQUEUE is unlimited";
    const Options o = options({{"depth", "1"}, {"msgsize", "8192"}});
    // The kernel charges 8192 + 96 bytes for such a queue (getrlimit(2)).
    const std::size_t fit = rl.rlim_cur / (8192 + 96);
    if (fit + 1 > proc_value("/proc/sys/fs/mqueue/queues_max"))
        GTEST_SKIP() << "fs.mqueue.queues_max binds first";
    const auto ok = channels(fit, o);
    EXPECT_NO_THROW(find_backend("posix_mq")->validate_usage(pointers(ok), {}));
    const auto over = channels(fit + 1, o);
    expect_scenario_error([&] { find_backend("posix_mq")->validate_usage(pointers(over), {}); },
                          over.back().options.at("depth").loc, {"RLIMIT_MSGQUEUE", "ulimit -q"});
}

TEST(PosixMqLimits, MoreQueuesThanQueuesMaxNamesTheSysctl) {
    const std::uint64_t queues_max = proc_value("/proc/sys/fs/mqueue/queues_max");
    rlimit rl{};
    ASSERT_EQ(::getrlimit(RLIMIT_MSGQUEUE, &rl), 0);
    // Tiny queues, so that the count binds before the bytes do.
    const Options o = options({{"depth", "1"}, {"msgsize", "32"}});
    if (rl.rlim_cur != RLIM_INFINITY && (queues_max + 1) * (32 + 96) > rl.rlim_cur)
        GTEST_SKIP() << "RLIMIT_MSGQUEUE binds first";
    const auto over = channels(queues_max + 1, o);
    expect_scenario_error([&] { find_backend("posix_mq")->validate_usage(pointers(over), {}); },
                          over.back().loc, {"fs.mqueue.queues_max"});
}

// ---- the real binary ----

TEST(PosixMqCli, BundledScenariosPass) {
    expect_bundled_scenarios_pass({"posix-mq-fan-in", "posix-mq-priority", "posix-mq-nonblocking"});
}

constexpr const char* kLongRun = R"(name: posix-mq-killed
timeout: 120s
channels:
  q:
    backend: posix_mq
    options: {depth: 4}
processes:
  - role: producer
    channel: q
    workload: {duration: 60s, rate: 2000, size: 256}
  - role: consumer
    channel: q
)";

// The harness dies mid-run (SIGKILL, no chance to clean): `ipctorture clean`
// finds the queue from the plan alone.
TEST(PosixMqCli, CleanAfterAKilledHarnessRemovesTheQueue) {
    test::TempDir root, scratch;
    const std::string dir = run_and_kill_harness(kLongRun, root, scratch, 2, 1);
    ASSERT_FALSE(dir.empty()) << test::slurp(scratch.path + "/e");
    const std::string name = "/ipct-" + fs::path(dir).filename().string() + "-q";
    EXPECT_TRUE(queue_exists(name)) << name;
    const auto r = test::run_binary({"clean"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_FALSE(queue_exists(name)) << name;
    EXPECT_TRUE(root.entries().empty());
}

}  // namespace
}  // namespace ipct
