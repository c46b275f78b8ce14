// The planted bugs of the queue and signal backends, each shown doing
// exactly its wrong thing next to the correct code on the same input:
// reorder-buffer (posix_mq), msgtyp-sign and eintr-is-eof (sysv_msg),
// standard-signal (signal).  (whole-read: socket_mp_test.cpp.)  The
// zoo scenarios show the checker catching them (cli_mp_test.cpp).
#include <signal.h>

#include <fstream>

#include "queue_test_util.hpp"

namespace ipct {
namespace {

using namespace qtest;

std::vector<std::string> mutant_names(const char* backend) {
    std::vector<std::string> v;
    for (const MutantInfo& m : find_backend(backend)->mutants()) {
        EXPECT_FALSE(m.summary.empty()) << m.name;
        v.push_back(m.name);
    }
    return v;
}

bool has_mutant(const char* backend, const std::string& name) {
    const std::vector<std::string> v = mutant_names(backend);
    return std::find(v.begin(), v.end(), name) != v.end();
}

std::vector<Seen> seen(std::uint32_t origin, const std::vector<std::uint32_t>& prios,
                       std::initializer_list<std::uint64_t> seqs) {
    std::vector<Seen> v;
    for (std::uint64_t s : seqs) v.push_back({origin, s, prios[s]});
    return v;
}

// The writer fills the queue and leaves; then one reader drains it.
std::vector<Seen> fill_then_drain(TestChannel& ch, const std::vector<std::uint32_t>& prios,
                                  const Options& reader = {}) {
    const auto deadline = Clock::now() + kDeadline;
    Worker w(ch, Direction::kWrite, 0, {},
             [&](Endpoint& ep) { return send_all(ep, 3, prios, 100); });
    EXPECT_TRUE(w.wait(deadline));
    EXPECT_EQ(parse_sent(w.report()).first, prios.size()) << w.report();
    Worker r(ch, Direction::kRead, 0, reader,
             [&](Endpoint& ep) { return receive_all(ep, ch.contract().max_message); });
    EXPECT_TRUE(r.wait(deadline));
    return parse_seen(r.report());
}

// The queue hands out priority 5 first; the reorder buffer drains all four
// queued messages and hands them over in sender order, priority 0 first.
TEST(Mutants, ReorderBufferSortsAPriorityQueueBySender) {
    ASSERT_TRUE(has_mutant("posix_mq", "reorder-buffer"));
    const std::vector<std::uint32_t> prios = {0, 5, 0, 5};
    const Options o = options({{"depth", "4"}, {"msgsize", "256"}});
    {
        TestChannel ch("posix_mq", o, 1, 1);
        EXPECT_EQ(fill_then_drain(ch, prios), seen(3, prios, {1, 3, 0, 2})) << "correct";
    }
    TestChannel ch("posix_mq", o, 1, 1);
    ch.set_mutant("reorder-buffer");
    EXPECT_EQ(fill_then_drain(ch, prios), seen(3, prios, {0, 1, 2, 3})) << "mutant";
}

// A reader declared msgtyp 2: the correct one takes type 2 only, the mutant
// (msgtyp -2) the lowest type up to 2 first, types 1 included.
TEST(Mutants, MsgtypSignTakesLowerTypesLowestFirst) {
    ASSERT_TRUE(has_mutant("sysv_msg", "msgtyp-sign"));
    const std::vector<std::uint32_t> types = {2, 1, 3, 2, 1};
    const Options twos = options({{"msgtyp", "2"}});
    {
        TestChannel ch("sysv_msg", {}, 1, 2);
        EXPECT_EQ(fill_then_drain(ch, types, twos), seen(3, types, {0, 3})) << "correct";
    }
    TestChannel ch("sysv_msg", {}, 1, 2);
    ch.set_mutant("msgtyp-sign");
    EXPECT_EQ(fill_then_drain(ch, types, twos), seen(3, types, {1, 4, 0, 3})) << "mutant";
}

// Three signals sent while the reader has not yet looked: real-time ones all
// queue; with the mutant (SIGUSR1 in their place) only the first stays
// pending, and the reader still sees the end of the channel.
std::vector<Seen> signals_then_receive(TestChannel& ch) {
    const auto deadline = Clock::now() + kDeadline;
    int go[2];
    EXPECT_EQ(::pipe2(go, O_CLOEXEC), 0);
    int opened[2];
    EXPECT_EQ(::pipe2(opened, O_CLOEXEC), 0);
    Worker r(ch, Direction::kRead, 0, {}, [&](Endpoint& ep) {
        ::close(go[1]);
        ::close(opened[0]);
        ::close(opened[1]);  // open() has published the reader's pid
        char b;
        (void)read_full(go[0], &b, 1);  // until the writer has sent and gone
        return receive_all(ep, kHeaderSize);
    });
    ::close(go[0]);
    ::close(opened[1]);
    char b;
    EXPECT_TRUE(read_full(opened[0], &b, 1).eof());
    ::close(opened[0]);
    Worker w(ch, Direction::kWrite, 0, {}, [&](Endpoint& ep) {
        return send_all(ep, 3, {0, 0, 0}, kHeaderSize);
    });
    EXPECT_TRUE(w.wait(deadline));
    EXPECT_EQ(parse_sent(w.report()).first, 3u) << w.report();
    ::close(go[1]);
    EXPECT_TRUE(r.wait(deadline));
    return parse_seen(r.report());
}

TEST(Mutants, StandardSignalKeepsOnlyTheFirstPendingPayload) {
    ASSERT_TRUE(has_mutant("signal", "standard-signal"));
    const std::vector<std::uint32_t> prios = {0, 0, 0};
    const Options rt = options({{"kind", "realtime"}});
    {
        TestChannel ch("signal", rt, 1, 1);
        EXPECT_EQ(signals_then_receive(ch), seen(3, prios, {0, 1, 2})) << "correct";
    }
    TestChannel ch("signal", rt, 1, 1);
    ch.set_mutant("standard-signal");
    EXPECT_EQ(signals_then_receive(ch), seen(3, prios, {0})) << "mutant";
}

void on_usr2(int) {}

// The child has exited (a zombie until its Worker reaps it).
bool exited(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto p = stat.rfind(')');
    return p == std::string::npos || (p + 2 < stat.size() && stat[p + 2] == 'Z');
}

// A System V reader waits for a second message while SIGUSR2 (no
// SA_RESTART) keeps interrupting its msgrcv.  The correct reader retries
// and gets both messages; the mutant takes the first EINTR for the end of
// input and ends while the writer is still there.  Returns the reader's
// report and whether it ended before the writer was let go.
std::pair<std::string, bool> interrupted_reader(TestChannel& ch) {
    const auto deadline = Clock::now() + kDeadline;
    int release[2], first[2];
    EXPECT_EQ(::pipe2(release, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(first, O_CLOEXEC), 0);
    struct sigaction sa {};
    sa.sa_handler = on_usr2;
    sigemptyset(&sa.sa_mask);
    struct sigaction old {};
    ::sigaction(SIGUSR2, &sa, &old);  // inherited by the forks: no SA_RESTART
    Worker r(ch, Direction::kRead, 0, {}, [&](Endpoint& ep) {
        ::close(first[1]);
        ::close(release[1]);  // the writer's release comes from the test alone
        char b;
        (void)read_full(first[0], &b, 1);  // until the first message is queued
        return receive_all(ep, ch.contract().max_message);
    });
    Worker w(ch, Direction::kWrite, 0, {}, [&](Endpoint& ep) {
        ::close(release[1]);
        std::string out = send_all(ep, 3, {1}, 100);
        ::close(first[1]);
        char b;
        (void)read_full(release[0], &b, 1);  // until the test lets go
        return out + " " + send_all(ep, 4, {1}, 100);
    });
    ::close(first[0]);
    ::close(first[1]);
    ::close(release[0]);
    ::sigaction(SIGUSR2, &old, nullptr);
    // 200 signals, 2 ms apart: many land while the reader waits in msgrcv.
    bool ended_early = false;
    for (int i = 0; i < 200 && !ended_early; ++i) {
        ::kill(r.pid(), SIGUSR2);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ended_early = exited(r.pid());
    }
    ::close(release[1]);
    EXPECT_TRUE(w.wait(deadline));
    EXPECT_TRUE(r.wait(deadline));
    return {r.report(), ended_early};
}

TEST(Mutants, EintrIsEofEndsTheInputAtTheFirstInterruptedWait) {
    ASSERT_TRUE(has_mutant("sysv_msg", "eintr-is-eof"));
    {
        TestChannel ch("sysv_msg", {}, 1, 1);
        const auto [report, early] = interrupted_reader(ch);
        EXPECT_FALSE(early) << "the correct reader retries EINTR";
        EXPECT_EQ(report, "3:0:1 4:0:1 eof");
    }
    TestChannel ch("sysv_msg", {}, 1, 1);
    ch.set_mutant("eintr-is-eof");
    const auto [report, early] = interrupted_reader(ch);
    EXPECT_TRUE(early) << "the mutant ended while the writer was still there";
    EXPECT_EQ(report, "3:0:1 eof");
}

}  // namespace
}  // namespace ipct
