// sysv_msg: selective receive (msgtyp 0, > 0, < 0, MSG_EXCEPT), the
// non-blocking path, end of channel for a reader blocked in msgrcv, the
// msgmnb limit, cleanup after killed workers, from a null state, and never
// of a queue that is not ours.
#include <sys/msg.h>

#include <fstream>

#include "queue_test_util.hpp"

namespace ipct {
namespace {

using namespace qtest;

int queue_id(const TestChannel& ch) {
    return ch.state().at("msqid").get<int>();
}

bool queue_exists(int id) {
    msqid_ds ds{};
    return ::msgctl(id, IPC_STAT, &ds) == 0;
}

Options reader(std::int64_t msgtyp, bool except = false) {
    Options o = options({{"msgtyp", std::to_string(msgtyp)}});
    if (except) o["except"] = OptionValue{"true", SourceLoc{"test.yaml", 9, 7}};
    return o;
}

TEST(SysvMsg, ContractAndReceiveRequests) {
    const Backend& b = *find_backend("sysv_msg");
    const Contract c = b.contract(options({{"bytes", "4000"}}));
    EXPECT_TRUE(c.boundaries);
    EXPECT_TRUE(c.selective);
    EXPECT_FALSE(c.priority);
    EXPECT_TRUE(c.has_priority);
    EXPECT_EQ(c.min_priority, 1u) << "mtype must be positive";
    EXPECT_EQ(c.max_message, 4000u) << "a message above msg_qbytes can never be sent";
    using R = ReceiveRequest;
    EXPECT_EQ(b.receive_request({}, {}), (R{R::Order::kQueue, R::Match::kAny, 0}));
    EXPECT_EQ(b.receive_request({}, reader(2)), (R{R::Order::kQueue, R::Match::kEqual, 2}));
    EXPECT_EQ(b.receive_request({}, reader(2, true)),
              (R{R::Order::kQueue, R::Match::kNotEqual, 2}));
    EXPECT_EQ(b.receive_request({}, reader(-3)), (R{R::Order::kLowestFirst, R::Match::kAtMost, 3}));
    EXPECT_EQ(b.endpoint_keys(Direction::kRead), (std::vector<std::string>{"msgtyp", "except"}));
    EXPECT_TRUE(b.endpoint_keys(Direction::kWrite).empty());
}

// The writer fills the queue with mixed types and leaves; then readers run
// one after the other, each to the end of the channel, so each takes exactly
// what it asks for, in the kernel's order, from what the earlier ones left.
// Types by seq:             0  1  2  3  4  5  6  7  8  9  10
const std::vector<std::uint32_t> kTypes = {3, 1, 2, 5, 2, 1, 3, 5, 2, 1, 4};

std::vector<Seen> seen(std::initializer_list<std::uint64_t> seqs) {
    std::vector<Seen> v;
    for (std::uint64_t s : seqs) v.push_back({6, s, kTypes[s]});
    return v;
}

std::vector<Seen> drain(TestChannel& ch, const Options& endpoint) {
    Worker r(ch, Direction::kRead, 0, endpoint,
             [&](Endpoint& ep) { return receive_all(ep, ch.contract().max_message); });
    EXPECT_TRUE(r.wait(Clock::now() + kDeadline));
    return parse_seen(r.report());
}

void fill(TestChannel& ch) {
    Worker w(ch, Direction::kWrite, 0, {},
             [&](Endpoint& ep) { return send_all(ep, 6, kTypes, 64); });
    ASSERT_TRUE(w.wait(Clock::now() + kDeadline));
    ASSERT_EQ(parse_sent(w.report()).first, kTypes.size()) << w.report();
}

TEST(SysvMsgSelective, TypeThenExceptThenAny) {
    TestChannel ch("sysv_msg", {}, 1, 3);
    ASSERT_NO_FATAL_FAILURE(fill(ch));
    EXPECT_EQ(drain(ch, reader(2)), seen({2, 4, 8})) << "msgtyp 2: type 2 only, in order";
    EXPECT_EQ(drain(ch, reader(1, true)), seen({0, 3, 6, 7, 10}))
        << "msgtyp 1 with MSG_EXCEPT: every other type, in queue order";
    EXPECT_EQ(drain(ch, reader(0)), seen({1, 5, 9})) << "msgtyp 0: what is left, in order";
}

TEST(SysvMsgSelective, LowestTypeFirstThenAny) {
    TestChannel ch("sysv_msg", {}, 1, 2);
    ASSERT_NO_FATAL_FAILURE(fill(ch));
    EXPECT_EQ(drain(ch, reader(-3)), seen({1, 5, 9, 2, 4, 8, 0, 6}))
        << "msgtyp -3: the lowest type up to 3 first, in order within a type";
    EXPECT_EQ(drain(ch, reader(0)), seen({3, 7, 10})) << "msgtyp 0: the rest in queue order";
}

// A reader blocked in msgrcv for a type nobody sends learns that the writer
// has gone (closed, still alive) and ends with nothing, while another reader
// takes what was sent.
TEST(SysvMsg, ABlockedReaderOfAnAbsentTypeSeesTheEnd) {
    TestChannel ch("sysv_msg", {}, 1, 2);
    const auto deadline = Clock::now() + kDeadline;
    Worker idle(ch, Direction::kRead, 0, reader(7),
                [&](Endpoint& ep) { return receive_all(ep, ch.contract().max_message); });
    ASSERT_TRUE(wait_until_sleeping(idle.pid(), deadline));  // in msgrcv
    int release[2];
    ASSERT_EQ(::pipe(release), 0);
    Worker w(ch, Direction::kWrite, 0, {}, [&](Endpoint& ep) {
        ::close(release[1]);
        std::string r = send_all(ep, 0, {1, 1, 1}, 100);
        ep.close();
        char b;
        (void)::read(release[0], &b, 1);  // until the test lets go
        return r;
    });
    ::close(release[0]);
    Worker taker(ch, Direction::kRead, 1, reader(1),
                 [&](Endpoint& ep) { return receive_all(ep, ch.contract().max_message); });
    ASSERT_TRUE(idle.wait(deadline));
    EXPECT_EQ(idle.report(), "eof");
    ASSERT_TRUE(taker.wait(deadline));
    EXPECT_EQ(parse_seen(taker.report()).size(), 3u) << taker.report();
    ::close(release[1]);
    ASSERT_TRUE(w.wait(deadline));
    EXPECT_EQ(parse_sent(w.report()).first, 3u);
}

// Non-blocking mode: the writer retries a full queue (see the helper).
TEST(SysvMsg, NonblockingWriterRetriesAFullQueueLosslessly) {
    TestChannel ch("sysv_msg", options({{"bytes", "1024"}, {"nonblocking", "true"}}), 1, 1);
    expect_nonblocking_writer_retries(ch, 2, 9, 200, 1024);
}

TEST(SysvMsg, AKilledWriterEndsTheChannelForItsReader) {
    TestChannel ch("sysv_msg", {}, 1, 1);
    expect_killed_writer_ends_channel(ch, {1, 2, 3}, 8192);
}

TEST(SysvMsg, CleanupAfterAKilledReaderAndABlockedWriter) {
    auto ch = std::make_unique<TestChannel>("sysv_msg", options({{"bytes", "256"}}), 1, 1);
    const int id = queue_id(*ch);
    ASSERT_NO_FATAL_FAILURE(block_writer_after_killed_reader(*ch, 1, 100, 256, [] {}));
    ch->backend().cleanup(ch->setup(), ch->state());
    EXPECT_FALSE(queue_exists(id)) << "msqid " << id << " is still in ipcs -q";
    EXPECT_EQ(ch->run_dir_files(), std::vector<std::string>{});
    ch->backend().cleanup(ch->setup(), ch->state());  // idempotent
    ch.reset();
}

// A harness killed before it recorded the state: the id file the backend
// wrote right after msgget is enough.
TEST(SysvMsg, CleanupFromANullStateUsesTheIdFile) {
    TestChannel ch("sysv_msg", {}, 1, 1);
    const int id = queue_id(ch);
    EXPECT_EQ(ch.run_dir_files(), (std::vector<std::string>{"ch.ctl", "ch.msqid"}));
    ch.backend().cleanup(ch.setup(), nullptr);
    EXPECT_FALSE(queue_exists(id));
    EXPECT_EQ(ch.run_dir_files(), std::vector<std::string>{});
}

// Ids are reused once freed: cleanup removes only a private 0600 queue of
// this user that matches what was recorded.
TEST(SysvMsg, CleanupLeavesAQueueThatIsNotOurs) {
    const int other = ::msgget(IPC_PRIVATE, IPC_CREAT | 0640);
    ASSERT_GE(other, 0);
    ChannelSetup s{make_temp_dir(), "not-ours", "ch", 0, {}, kSeed, 1, 1};
    std::ofstream(s.run_dir + "/ch.msqid") << other << "\n";
    find_backend("sysv_msg")->cleanup(s, nullptr);
    EXPECT_TRUE(queue_exists(other)) << "removed a queue of another mode";
    EXPECT_FALSE(fs::exists(s.run_dir + "/ch.msqid"));
    // Same mode, but not the queue made at the recorded time.
    msqid_ds ds{};
    ASSERT_EQ(::msgctl(other, IPC_STAT, &ds), 0);
    ds.msg_perm.mode = 0600;
    ASSERT_EQ(::msgctl(other, IPC_SET, &ds), 0);
    ASSERT_EQ(::msgctl(other, IPC_STAT, &ds), 0);
    std::ofstream(s.run_dir + "/ch.msqid") << other << "\n" << ds.msg_ctime - 1 << "\n";
    find_backend("sysv_msg")->cleanup(s, nullptr);
    EXPECT_TRUE(queue_exists(other)) << "removed a later queue that got the same id";
    ::msgctl(other, IPC_RMID, nullptr);
    fs::remove_all(s.run_dir);
}

// ---- options and kernel limits, named at validation ----

TEST(SysvMsgLimits, BytesAboveMsgmnbNamesTheSysctl) {
    std::uint64_t msgmnb = 0;
    std::ifstream("/proc/sys/kernel/msgmnb") >> msgmnb;
    const Options o = options({{"nonblocking", "false"}, {"bytes", std::to_string(msgmnb + 1)}});
    expect_scenario_error([&] { find_backend("sysv_msg")->validate(o); }, o.at("bytes").loc,
                          {"kernel.msgmnb", "/proc/sys/kernel/msgmnb", "CAP_SYS_RESOURCE"});
}

TEST(SysvMsgLimits, ExceptNeedsAPositiveMsgtyp) {
    const Backend& b = *find_backend("sysv_msg");
    for (std::int64_t t : {0, -2}) {
        const Options e = reader(t, true);
        expect_scenario_error([&] { b.validate_endpoint({}, e, Direction::kRead); },
                              e.at("except").loc, {"except", "msgtyp > 0"});
    }
    EXPECT_NO_THROW(b.validate_endpoint({}, reader(4, true), Direction::kRead));
    const Options big = reader(std::int64_t{1} << 31);
    expect_scenario_error([&] { b.validate_endpoint({}, big, Direction::kRead); },
                          big.at("msgtyp").loc, {"msgtyp"});
}

// ---- the real binary ----

TEST(SysvMsgCli, BundledScenariosPass) {
    expect_bundled_scenarios_pass({"sysv-msg-fan-in", "sysv-msg-selective"});
}

constexpr const char* kLongRun = R"(name: sysv-msg-killed
timeout: 120s
channels:
  q:
    backend: sysv_msg
    options: {bytes: 2048}
processes:
  - role: producer
    channel: q
    workload: {duration: 60s, rate: 2000, size: 256, type: 3}
  - role: consumer
    channel: q
    options: {msgtyp: -5}
)";

// The harness dies mid-run (SIGKILL, no chance to clean): `ipctorture clean`
// finds the queue through the plan and the id file.
TEST(SysvMsgCli, CleanAfterAKilledHarnessRemovesTheQueue) {
    test::TempDir root, scratch;
    const std::string dir = run_and_kill_harness(kLongRun, root, scratch, 2, 1);
    ASSERT_FALSE(dir.empty()) << test::slurp(scratch.path + "/e");
    int id = -1;
    std::ifstream(dir + "/q.msqid") >> id;
    ASSERT_GE(id, 0);
    EXPECT_TRUE(queue_exists(id));
    const auto r = test::run_binary({"clean"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_FALSE(queue_exists(id)) << "msqid " << id << " is still in ipcs -q";
    EXPECT_TRUE(root.entries().empty());
}

}  // namespace
}  // namespace ipct
