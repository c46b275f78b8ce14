// The signal backend beyond conformance: real-time delivery and order in
// both receive modes, several writers and readers, lowest number first,
// coalescing standard signals, the pending limit, cleanup, load-time
// validation.
//
// Workers are forked like the conformance suite's: create() here, fork, open
// in the child, a start barrier, the exchange, cleanup().  A child writes
// what it saw to a file of its own and _exits; every wait is bounded and a
// child left over is killed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ipctorture/backend.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/message.hpp"

namespace ipct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uint64_t kSeed = 0x5167;
constexpr auto kDeadline = std::chrono::seconds(60);

struct Got {
    std::uint32_t origin, prio;
    std::uint64_t seq;
    std::uint64_t t_end;  // when the receive returned
};

// What a child saw: its counts, written to its output file, then `got`.
struct Counts {
    char error[256] = {};
    std::uint64_t sent = 0;
    int send_err = 0;  // the errno that stopped the writer, 0 if none
    std::uint64_t last_send_start = 0;
    std::uint64_t eofs = 0;
    std::uint64_t corrupt = 0;
    void fail(const std::string& s) {
        if (!error[0]) std::snprintf(error, sizeof error, "%s", s.c_str());
    }
};

struct Outcome : Counts {
    std::vector<Got> got;
};

Options opts(std::initializer_list<std::pair<const char*, const char*>> kv) {
    Options o;
    int line = 1;
    for (const auto& [k, v] : kv) o[k] = OptionValue{v, SourceLoc{"signal.yaml", line++, 7}};
    return o;
}

std::string temp_dir(const char* what) {
    std::string t =
        (fs::temp_directory_path() / (std::string("ipct-signal-") + what + "-XXXXXX")).string();
    if (!::mkdtemp(t.data())) IPCT_FAIL_ERRNO("mkdtemp");
    return t;
}

using Body = std::function<void(Endpoint&, Outcome&)>;

// One channel and its forked workers.
class SignalRun {
  public:
    SignalRun(const Options& o, std::uint32_t writers, std::uint32_t readers)
        : backend_(find_backend("signal")), dir_(temp_dir("run")), out_(temp_dir("out")) {
        setup_.run_dir = dir_;
        setup_.run_id = "sigtest";
        setup_.name = "ch";
        setup_.options = o;
        setup_.seed = kSeed;
        setup_.writers = writers;
        setup_.readers = readers;
        state_ = backend_->create(setup_);
        int go[2];
        if (::pipe2(go, O_CLOEXEC) != 0) IPCT_FAIL_ERRNO("pipe2");
        go_r_ = go[0], go_w_ = go[1];
    }
    ~SignalRun() {
        for (Child& c : kids_)
            if (!c.reaped) {
                ::kill(c.pid, SIGKILL);
                ::waitpid(c.pid, nullptr, 0);
            }
        for (int fd : {go_r_, go_w_})
            if (fd >= 0) ::close(fd);
        backend_->cleanup(setup_, state_);
        fs::remove_all(dir_);
        fs::remove_all(out_);
    }
    Backend& backend() { return *backend_; }
    const ChannelSetup& setup() const { return setup_; }
    const json& state() const { return state_; }
    const std::string& dir() const { return dir_; }

    // Forks a worker for side d.  `before` runs in the child before open().
    std::size_t spawn(Direction d, const Body& body, std::function<void()> before = {}) {
        const auto rank = static_cast<std::uint32_t>(
            std::count_if(kids_.begin(), kids_.end(), [d](const Child& c) { return c.dir == d; }));
        ChannelSetup me = setup_;
        me.process = static_cast<std::uint32_t>(kids_.size());
        me.rank = rank;
        const std::string file = out_ + "/" + std::to_string(kids_.size());
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) != 0) IPCT_FAIL_ERRNO("pipe2");
        const pid_t pid = ::fork();
        if (pid < 0) IPCT_FAIL_ERRNO("fork");
        if (pid == 0) child(d, me, body, before, ready, file);
        ::close(ready[1]);
        kids_.push_back(Child{pid, ready[0], d, file, me});
        return kids_.size() - 1;
    }

    // Every child opened its side; then they all start at once.
    void start() {
        for (Child& c : kids_) {
            char b;
            pollfd p{c.ready, POLLIN, 0};
            ASSERT_EQ(::poll(&p, 1, 60'000), 1) << "a worker did not open its side";
            ASSERT_EQ(::read(c.ready, &b, 1), 1) << "a worker ended before the start barrier";
            ::close(c.ready);
        }
        ::close(go_r_);
        ::close(go_w_);
        go_r_ = go_w_ = -1;
    }

    // Bounded wait for every child; what each saw.
    std::vector<Outcome> finish() {
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        std::vector<Outcome> out;
        for (Child& c : kids_) {
            int st = 0;
            while (::waitpid(c.pid, &st, WNOHANG) == 0) {
                if (std::chrono::steady_clock::now() > deadline) {
                    ::kill(c.pid, SIGKILL);
                    ::waitpid(c.pid, &st, 0);
                    ADD_FAILURE() << "worker killed at the deadline";
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            c.reaped = true;
            backend_->process_gone(c.setup, state_, c.dir);
            out.push_back(read_outcome(c.file));
            EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "wait status " << st;
            EXPECT_STREQ(out.back().error, "");
        }
        return out;
    }

  private:
    struct Child {
        pid_t pid;
        int ready;
        Direction dir;
        std::string file;
        ChannelSetup setup;
        bool reaped = false;
    };

    [[noreturn]] void child(Direction d, const ChannelSetup& me, const Body& body,
                            const std::function<void()>& before, int ready[2],
                            const std::string& file) {
        Outcome o;
        try {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::close(ready[0]);
            ::close(go_w_);
            if (before) before();
            auto ep = backend_->open(me, state_, d);
            char b = 'r';
            if (::write(ready[1], &b, 1) != 1) IPCT_FAIL_ERRNO("ready");
            ::close(ready[1]);
            if (!read_full(go_r_, &b, 1).eof()) IPCT_FAIL("barrier");
            body(*ep, o);
            ep->close();
        } catch (const std::exception& e) {
            o.fail(e.what());
        }
        write_outcome(file, o);
        ::_exit(o.error[0] ? 1 : 0);
    }
    static void write_outcome(const std::string& file, const Outcome& o) {
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const std::uint64_t n = o.got.size();
        write_full(fd, static_cast<const Counts*>(&o), sizeof(Counts));
        write_full(fd, &n, sizeof n);
        write_full(fd, o.got.data(), n * sizeof(Got));
        ::close(fd);
    }
    static Outcome read_outcome(const std::string& file) {
        Outcome o;
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        std::uint64_t n = 0;
        if (fd < 0 || read_full(fd, static_cast<Counts*>(&o), sizeof(Counts)).err ||
            read_full(fd, &n, sizeof n).err) {
            o.fail("no outcome");
        } else {
            o.got.resize(n);
            read_full(fd, o.got.data(), n * sizeof(Got));
        }
        if (fd >= 0) ::close(fd);
        return o;
    }

    Backend* backend_;
    std::string dir_, out_;
    ChannelSetup setup_;
    json state_;
    int go_r_ = -1, go_w_ = -1;
    std::vector<Child> kids_;
};

// Writer body: `count` messages of `origin`, priority prio(seq); stops at
// the first failed send and records its errno.
Body sender(std::uint32_t origin, std::uint64_t count,
            std::function<std::uint32_t(std::uint64_t)> prio = {}) {
    return [=](Endpoint& ep, Outcome& o) {
        const Payload payload(kSeed);
        std::byte buf[kHeaderSize];
        for (std::uint64_t seq = 0; seq < count; ++seq) {
            payload.fill(buf, origin, seq, prio ? prio(seq) : 0);
            o.last_send_start = now_ns();
            const IoResult r = ep.send(buf);
            if (!r.ok()) {
                o.send_err = r.err;
                return;
            }
            ++o.sent;
        }
    };
}

// Reader body: everything until end of file (twice: it must stay there).
void receive_all(Endpoint& ep, Outcome& o) {
    const Payload payload(kSeed);
    std::byte buf[64];
    while (o.eofs < 2) {
        const IoResult r = ep.receive(buf);
        if (r.eof()) {
            ++o.eofs;
            continue;
        }
        if (!r.ok() || r.done != kHeaderSize) {
            o.fail("receive: " + errno_name(r.err) + ", " + std::to_string(r.done) + " bytes");
            return;
        }
        if (payload.verify(std::span(buf).first(r.done), kHeaderSize) != Verdict::kOk) {
            ++o.corrupt;
            continue;
        }
        MsgHeader h;
        std::memcpy(&h, buf, sizeof h);
        o.got.push_back(Got{h.origin, h.prio, h.seq, now_ns()});
    }
}

// A reader that starts receiving only once `gate` reaches end of file (the
// writers have sent everything and closed their copies).
Body receive_after(int gate) {
    return [gate](Endpoint& ep, Outcome& o) {
        char b;
        read_full(gate, &b, 1);
        receive_all(ep, o);
    };
}

// A pipe whose write end the writers hold and close when done.
struct Gate {
    int r = -1, w = -1;
    Gate() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) IPCT_FAIL_ERRNO("pipe2");
        r = fds[0], w = fds[1];
    }
    ~Gate() {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
    }
    // Wraps a writer body: the gate opens when every writer has finished.
    Body writer(Body b) const {
        const int rd = r, wr = w;
        return [=](Endpoint& ep, Outcome& o) {
            ::close(rd);
            b(ep, o);
            ::close(wr);
        };
    }
    // For the reader: it must not hold the write end itself.
    std::function<void()> reader_setup() const {
        const int wr = w;
        return [wr] { ::close(wr); };
    }
    void spawned() { ::close(std::exchange(w, -1)); }
};

class Realtime : public ::testing::TestWithParam<const char*> {};

TEST_P(Realtime, EverySignalArrivesInOrder) {
    constexpr std::uint64_t kCount = 3000;
    SignalRun run(opts({{"receive", GetParam()}}), 1, 1);
    const std::size_t reader = run.spawn(Direction::kRead, receive_all);
    run.spawn(Direction::kWrite, sender(5, kCount));
    ASSERT_NO_FATAL_FAILURE(run.start());
    const std::vector<Outcome> out = run.finish();
    const Outcome& r = out[reader];
    EXPECT_EQ(out[1].sent, kCount);
    EXPECT_EQ(out[1].send_err, 0);
    ASSERT_EQ(r.got.size(), kCount);
    for (std::uint64_t i = 0; i < kCount; ++i) {
        EXPECT_EQ(r.got[i].origin, 5u);
        ASSERT_EQ(r.got[i].seq, i) << "out of order";
    }
    EXPECT_EQ(r.corrupt, 0u);
    EXPECT_EQ(r.eofs, 2u);
}

// Four writers over two readers, each writer with three signal numbers: a
// writer's messages all reach one reader, every one exactly once, in order
// within each signal number.
TEST_P(Realtime, SeveralWritersAndReaders) {
    constexpr std::uint64_t kCount = 800;
    SignalRun run(opts({{"receive", GetParam()}, {"signals", "3"}}), 4, 2);
    run.spawn(Direction::kRead, receive_all);
    run.spawn(Direction::kRead, receive_all);
    for (std::uint32_t w = 0; w < 4; ++w)
        run.spawn(Direction::kWrite, sender(w, kCount, [](std::uint64_t s) { return s % 3; }));
    ASSERT_NO_FATAL_FAILURE(run.start());
    const std::vector<Outcome> out = run.finish();
    std::map<std::uint32_t, std::vector<std::uint64_t>> seen;  // origin -> seqs
    for (int reader = 0; reader < 2; ++reader) {
        std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> next;  // (origin, prio)
        for (const Got& g : out[reader].got) {
            EXPECT_EQ(g.origin % 2, std::uint32_t(reader)) << "writer rank % readers";
            EXPECT_EQ(g.prio, g.seq % 3);
            std::uint64_t& n = next[{g.origin, g.prio}];
            EXPECT_GE(g.seq, n) << "origin " << g.origin << " out of order within a number";
            n = g.seq + 1;
            seen[g.origin].push_back(g.seq);
        }
    }
    for (std::uint32_t w = 0; w < 4; ++w) {
        EXPECT_EQ(out[2 + w].sent, kCount);
        std::vector<std::uint64_t>& s = seen[w];
        std::sort(s.begin(), s.end());
        ASSERT_EQ(s.size(), kCount) << "writer " << w;
        for (std::uint64_t i = 0; i < kCount; ++i) ASSERT_EQ(s[i], i) << "writer " << w;
    }
}

// Signals queued while the reader waits elsewhere come out lowest number
// first, and in sending order within one number.
TEST_P(Realtime, LowestNumberFirst) {
    constexpr std::uint64_t kCount = 600;
    SignalRun run(opts({{"receive", GetParam()}, {"signals", "5"}}), 1, 1);
    Gate gate;
    const std::size_t reader =
        run.spawn(Direction::kRead, receive_after(gate.r), gate.reader_setup());
    run.spawn(Direction::kWrite,
              gate.writer(sender(0, kCount, [](std::uint64_t s) { return mix64(s) % 5; })));
    gate.spawned();
    ASSERT_NO_FATAL_FAILURE(run.start());
    const std::vector<Outcome> out = run.finish();
    const std::vector<Got>& got = out[reader].got;
    ASSERT_EQ(got.size(), kCount);
    for (std::size_t i = 1; i < got.size(); ++i) {
        ASSERT_LE(got[i - 1].prio, got[i].prio) << "a higher number came first at " << i;
        if (got[i - 1].prio == got[i].prio) {
            ASSERT_LT(got[i - 1].seq, got[i].seq);
        }
    }
    EXPECT_EQ(got.front().prio, 0u);
    EXPECT_EQ(got.back().prio, 4u);
}

INSTANTIATE_TEST_SUITE_P(Receive, Realtime, ::testing::Values("wait", "handler"));

class Standard : public ::testing::TestWithParam<const char*> {};

// Sent while nothing receives: one instance stays pending, the first one,
// and it is delivered after the last send.
TEST_P(Standard, CoalesceToTheFirstPendingInstance) {
    SignalRun run(opts({{"kind", "standard"}, {"receive", GetParam()}}), 1, 1);
    Gate gate;
    const std::size_t reader =
        run.spawn(Direction::kRead, receive_after(gate.r), gate.reader_setup());
    run.spawn(Direction::kWrite, gate.writer(sender(0, 500)));
    gate.spawned();
    ASSERT_NO_FATAL_FAILURE(run.start());
    const std::vector<Outcome> out = run.finish();
    EXPECT_EQ(out[1].sent, 500u) << "every send succeeds, even a dropped one";
    ASSERT_EQ(out[reader].got.size(), 1u);
    EXPECT_EQ(out[reader].got[0].seq, 0u);
    EXPECT_GT(out[reader].got[0].t_end, out[1].last_send_start);
}

// Sent while the reader receives: fewer may arrive, never out of order, and
// at least one delivery comes after the last send.
TEST_P(Standard, FewerInOrderAndOneAfterTheLastSend) {
    constexpr std::uint64_t kCount = 5000;
    SignalRun run(opts({{"kind", "standard"}, {"signal", "SIGUSR2"}, {"receive", GetParam()}}), 1,
                  1);
    const std::size_t reader = run.spawn(Direction::kRead, receive_all);
    run.spawn(Direction::kWrite, sender(0, kCount));
    ASSERT_NO_FATAL_FAILURE(run.start());
    const std::vector<Outcome> out = run.finish();
    const std::vector<Got>& got = out[reader].got;
    EXPECT_EQ(out[1].sent, kCount);
    ASSERT_GE(got.size(), 1u);
    EXPECT_LE(got.size(), kCount);
    for (std::size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].seq, got[i].seq);
    EXPECT_GT(got.back().t_end, out[1].last_send_start);
    EXPECT_EQ(out[reader].corrupt, 0u);
}

INSTANTIATE_TEST_SUITE_P(Receive, Standard, ::testing::Values("wait", "handler"));

// RLIMIT_SIGPENDING is checked against the receiver's limit: lowered in
// the reader, a writer that keeps sending while nothing is received gets
// EAGAIN, and every send that succeeded is delivered.
void lower_pending_limit() {
    const rlimit rl{64, 64};
    if (::setrlimit(RLIMIT_SIGPENDING, &rl) != 0) IPCT_FAIL_ERRNO("setrlimit");
}

TEST(SignalLimit, EagainAtThePendingLimitIsAnError) {
    SignalRun run({}, 1, 1);
    Gate gate;
    const std::size_t reader = run.spawn(Direction::kRead, receive_after(gate.r), [&] {
        gate.reader_setup()();
        lower_pending_limit();
    });
    run.spawn(Direction::kWrite, gate.writer(sender(0, 1000)));
    gate.spawned();
    ASSERT_NO_FATAL_FAILURE(run.start());
    const std::vector<Outcome> out = run.finish();
    EXPECT_EQ(out[1].send_err, EAGAIN);
    EXPECT_LE(out[1].sent, 64u);
    EXPECT_EQ(out[reader].got.size(), out[1].sent) << "a send that succeeded was lost";
}

TEST(SignalLimit, RetryFullWaitsForTheReader) {
    constexpr std::uint64_t kCount = 2000;
    SignalRun run(opts({{"retry_full", "true"}}), 1, 1);
    const std::size_t reader = run.spawn(Direction::kRead, receive_all, lower_pending_limit);
    run.spawn(Direction::kWrite, sender(0, kCount));
    ASSERT_NO_FATAL_FAILURE(run.start());
    const std::vector<Outcome> out = run.finish();
    EXPECT_EQ(out[1].send_err, 0);
    EXPECT_EQ(out[1].sent, kCount);
    EXPECT_EQ(out[reader].got.size(), kCount);
}

// What send() refuses before any signal goes out.
TEST(SignalSend, RefusesWhatTheValueCannotCarry) {
    SignalRun run(opts({{"signals", "2"}}), 1, 1);
    ChannelSetup me = run.setup();
    me.process = 0;
    auto ep = run.backend().open(me, run.state(), Direction::kWrite);
    const Payload payload(kSeed);
    std::byte buf[kHeaderSize + 8];
    auto send = [&](std::uint32_t origin, std::uint64_t seq, std::uint32_t prio) {
        payload.fill(std::span(buf).first(kHeaderSize), origin, seq, prio);
        return ep->send(std::span(buf).first(kHeaderSize)).err;
    };
    EXPECT_EQ(send(0, std::uint64_t{1} << 48, 0), EOVERFLOW);
    EXPECT_EQ(send(1 << 16, 0, 0), EOVERFLOW);
    EXPECT_EQ(send(0, 0, 2), EINVAL) << "priority beyond 'signals'";
    payload.fill(buf, 0, 0, 0);
    EXPECT_EQ(ep->send(buf).err, EMSGSIZE);
    ep->close();
}

TEST(SignalCleanup, IdempotentAndLeavesNothing) {
    std::string dir;
    {
        SignalRun run({}, 1, 1);
        dir = run.dir();
        const std::size_t reader = run.spawn(Direction::kRead, receive_all);
        run.spawn(Direction::kWrite, sender(0, 50));
        ASSERT_NO_FATAL_FAILURE(run.start());
        EXPECT_EQ(run.finish()[reader].got.size(), 50u);
        EXPECT_FALSE(fs::is_empty(run.dir()));
        run.backend().cleanup(run.setup(), run.state());
        EXPECT_TRUE(fs::is_empty(run.dir()));
        run.backend().cleanup(run.setup(), run.state());
        run.backend().cleanup(run.setup(), nullptr);  // from the setup alone
        EXPECT_TRUE(fs::is_empty(run.dir()));
    }
    EXPECT_FALSE(fs::exists(dir));
}

// ---- load-time validation ---------------------------------------------------

ScenarioError load_error(const std::string& text) {
    try {
        load_scenario_text(text, "s.yaml");
    } catch (const ScenarioError& e) {
        return e;
    }
    ADD_FAILURE() << "loaded:\n" << text;
    return ScenarioError("", 0, 0, "");
}

std::string scenario(const std::string& options, int consumers, const std::string& prio = "") {
    return "name: s\nchannels:\n  sig: {backend: signal, options: {" + options +
           "}}\nprocesses:\n  - role: producer\n    channel: sig\n    workload: {messages: 5" +
           (prio.empty() ? ", size: 32" : prio) +
           "}\n  - role: consumer\n    count: " + std::to_string(consumers) +
           "\n    channel: sig\n";
}

TEST(SignalValidate, StandardTakesOneReader) {
    EXPECT_NO_THROW(load_scenario_text(scenario("kind: standard", 1), "s.yaml"));
    EXPECT_NO_THROW(load_scenario_text(scenario("kind: realtime", 3), "s.yaml"));
    const ScenarioError e = load_error(scenario("kind: standard", 2));
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.column(), 3);
    EXPECT_NE(std::string(e.what()).find("expected exactly one"), std::string::npos) << e.what();
}

TEST(SignalValidate, OptionsAtTheirPlace) {
    const int most = SIGRTMAX - SIGRTMIN + 1;
    EXPECT_NO_THROW(load_scenario_text(scenario("signals: " + std::to_string(most), 1), "s.yaml"));
    const std::string bad = scenario("signals: " + std::to_string(most + 1), 1);
    ScenarioError e = load_error(bad);
    EXPECT_EQ(e.line(), 3);
    const std::string line3 = bad.substr(bad.find("  sig:"));
    EXPECT_EQ(e.column(), int(line3.find(std::to_string(most + 1))) + 1) << e.what();
    e = load_error(scenario("kind: standard, signals: 2", 1));
    EXPECT_NE(std::string(e.what()).find("not for kind: standard"), std::string::npos) << e.what();
    e = load_error(scenario("kind: standard, signal: SIGKILL", 1));
    EXPECT_NE(std::string(e.what()).find("SIGUSR1, SIGUSR2"), std::string::npos) << e.what();
    e = load_error(scenario("signal: SIGUSR2", 1));
    EXPECT_NE(std::string(e.what()).find("not for kind: realtime"), std::string::npos) << e.what();
}

TEST(SignalValidate, PriorityWithinTheSignals) {
    EXPECT_NO_THROW(
        load_scenario_text(scenario("signals: 4", 1, ", size: 32, priority: 3"), "s.yaml"));
    ScenarioError e = load_error(scenario("signals: 4", 1, ", size: 32, priority: 4"));
    EXPECT_NE(std::string(e.what()).find("0 to 3"), std::string::npos) << e.what();
    e = load_error(scenario("kind: standard", 1, ", size: 32, priority: 1"));
    EXPECT_NE(std::string(e.what()).find("no message priorities"), std::string::npos) << e.what();
    e = load_error(scenario("", 1, ", size: 64"));
    EXPECT_NE(std::string(e.what()).find("exceeds the largest message"), std::string::npos);
}

TEST(SignalContract, OrderAndLoss) {
    Backend* b = find_backend("signal");
    const Contract rt = b->contract(opts({{"signals", "3"}}));
    EXPECT_TRUE(rt.lossless && rt.fifo && rt.priority && rt.boundaries && rt.has_priority);
    EXPECT_EQ(rt.max_priority, 2u);
    EXPECT_EQ(rt.max_message, kHeaderSize);
    const ReceiveRequest req = b->receive_request(opts({}), {});
    EXPECT_EQ(req.order, ReceiveRequest::Order::kLowestFirst);
    EXPECT_EQ(req.match, ReceiveRequest::Match::kAny);
    const Contract st = b->contract(opts({{"kind", "standard"}}));
    EXPECT_FALSE(st.lossless || st.priority || st.has_priority);
    EXPECT_TRUE(st.fifo && st.last_delivery);
    EXPECT_EQ(b->signals_used(opts({{"kind", "standard"}, {"signal", "SIGUSR2"}}), ""),
              std::vector<int>{SIGUSR2});
    EXPECT_EQ(b->signals_used(opts({{"signals", "2"}}), ""),
              (std::vector<int>{SIGRTMIN, SIGRTMIN + 1}));
    // The standard-signal mutant runs on SIGUSR1 whatever the options say.
    EXPECT_EQ(b->signals_used(opts({}), "standard-signal"), std::vector<int>{SIGUSR1});
    EXPECT_NE(b->explain().find("RLIMIT_SIGPENDING"), std::string::npos);
}

}  // namespace
}  // namespace ipct
