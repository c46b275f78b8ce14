// Helpers for the message-queue backend tests (posix_mq, sysv_msg): a
// channel made the way the orchestrator makes one, forked workers that open
// an endpoint and report what they did as text, bounded waits.
//
// A worker reports once, at the end, through a pipe the test drains while it
// waits (a report may exceed the pipe's buffer).  Every wait is bounded and a
// worker still running at the end of a test is killed.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../harness/test/test_util.hpp"
#include "ipctorture/backend.hpp"
#include "ipctorture/message.hpp"
#include "mp_test_util.hpp"

namespace ipct::qtest {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline constexpr std::uint64_t kSeed = 0x5eed;
// A guard against a hung worker, well inside CTest's timeout.
inline constexpr auto kDeadline = std::chrono::seconds(60);

inline Options options(std::initializer_list<std::pair<const char*, std::string>> kv) {
    return mptest::make_options(kv, "test.yaml", 7);
}

inline std::string make_temp_dir() {
    return mptest::make_temp_dir("ipct-queue-test");
}

// One message as a worker saw it.
struct Seen {
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
    std::uint32_t prio = 0;
    bool operator==(const Seen&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Seen& s) {
    return os << s.origin << ":" << s.seq << "/" << s.prio;
}

// A channel created in a fresh run directory; cleaned up and removed at the end.
class TestChannel {
  public:
    TestChannel(const char* backend, const Options& o, std::uint32_t writers, std::uint32_t readers)
        : b_(find_backend(backend)), dir_(make_temp_dir()) {
        if (!b_) IPCT_FAIL(std::string("no backend ") + backend);
        setup_ = ChannelSetup{dir_, fs::path(dir_).filename().string(), "ch", 0, o, kSeed};
        setup_.writers = writers;
        setup_.readers = readers;
        b_->validate(o);
        contract_ = b_->contract(o);
        state_ = b_->create(setup_);
        b_->after_spawn(state_);
    }
    ~TestChannel() {
        b_->cleanup(setup_, state_);
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    TestChannel(const TestChannel&) = delete;
    TestChannel& operator=(const TestChannel&) = delete;

    Backend& backend() const { return *b_; }
    const ChannelSetup& setup() const { return setup_; }
    const json& state() const { return state_; }
    const Contract& contract() const { return contract_; }
    // Every endpoint opened from now on runs this planted bug.
    void set_mutant(const std::string& name) { setup_.mutant = name; }
    // What open() and process_gone() get for one side.
    ChannelSetup side(Direction d, std::uint32_t rank, const Options& endpoint = {}) const {
        ChannelSetup s = setup_;
        s.process = rank + (d == Direction::kRead ? 100 : 0);
        s.rank = rank;
        s.endpoint = endpoint;
        return s;
    }
    std::vector<std::string> run_dir_files() const { return mptest::list_dir(dir_); }

  private:
    Backend* b_;
    std::string dir_;
    ChannelSetup setup_;
    Contract contract_;
    json state_;
};

using Body = std::function<std::string(Endpoint&)>;

// A forked worker on one side of a channel.
class Worker {
  public:
    Worker(TestChannel& ch, Direction d, std::uint32_t rank, const Options& endpoint,
           const Body& body)
        : ch_(ch), d_(d), setup_(ch.side(d, rank, endpoint)) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) IPCT_FAIL_ERRNO("pipe2");
        pid_ = ::fork();
        if (pid_ < 0) IPCT_FAIL_ERRNO("fork");
        if (pid_ == 0) {
            ::close(fds[0]);
            run(fds[1], body);
        }
        ::close(fds[1]);
        fd_ = fds[0];
        ::fcntl(fd_, F_SETFL, O_NONBLOCK);
    }
    ~Worker() {
        kill();
        if (fd_ >= 0) ::close(fd_);
    }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    pid_t pid() const { return pid_; }
    // Bounded wait; false (and the worker killed) at the deadline.
    bool wait(Clock::time_point deadline) {
        while (!reap(WNOHANG)) {
            if (Clock::now() > deadline) {
                kill();
                return false;
            }
            pollfd p{fd_, POLLIN, 0};
            ::poll(&p, 1, 5);
            drain();
        }
        drain();
        return true;
    }
    void kill() {
        if (reaped_) return;
        ::kill(pid_, SIGKILL);
        reap(0);
    }
    // The report of a worker that ended normally, "error: ..." otherwise.
    std::string report() const {
        if (!reaped_) return "error: still running";
        if (!WIFEXITED(status_) || WEXITSTATUS(status_) != 0)
            return "error: wait status " + std::to_string(status_) + ": " + out_;
        return out_;
    }

  private:
    [[noreturn]] void run(int out, const Body& body) {
        std::string text;
        int rc = 0;
        try {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            auto ep = ch_.backend().open(setup_, ch_.state(), d_);
            text = body(*ep);
            ep->close();
        } catch (const std::exception& e) {
            text = std::string("error: exception: ") + e.what();
            rc = 1;
        }
        (void)write_full(out, text.data(), text.size());
        ::_exit(rc);
    }
    void drain() {
        char b[4096];
        for (ssize_t n; (n = ::read(fd_, b, sizeof b)) > 0;) out_.append(b, std::size_t(n));
    }
    bool reap(int flags) {
        if (reaped_) return true;
        if (::waitpid(pid_, &status_, flags) != pid_) return false;
        reaped_ = true;
        // What the orchestrator does when a worker ends.
        ch_.backend().process_gone(setup_, ch_.state(), d_);
        return true;
    }
    TestChannel& ch_;
    Direction d_;
    ChannelSetup setup_;
    pid_t pid_ = -1;
    int fd_ = -1;
    bool reaped_ = false;
    int status_ = 0;
    std::string out_;
};

// Worker side: sends one message per entry of prios (seq 0, 1, ...) of
// `size` bytes from `origin`.  Reports "sent <n> calls <c>".
inline std::string send_all(Endpoint& ep, std::uint32_t origin,
                            const std::vector<std::uint32_t>& prios, std::size_t size) {
    const Payload payload(kSeed);
    std::vector<std::byte> buf(size);
    std::uint64_t calls = 0;
    for (std::size_t seq = 0; seq < prios.size(); ++seq) {
        payload.fill(buf, origin, seq, prios[seq]);
        const IoResult r = ep.send(buf);
        calls += r.calls;
        if (!r.ok() || r.done != size)
            return "error: send " + std::to_string(seq) + ": " + errno_name(r.err);
    }
    return "sent " + std::to_string(prios.size()) + " calls " + std::to_string(calls);
}

// Worker side: receives until end of channel.  Reports "origin:seq:prio ..."
// for every message that verifies, then "eof", or an error.
inline std::string receive_all(Endpoint& ep, std::size_t max_message) {
    const Payload payload(kSeed);
    std::vector<std::byte> buf(max_message);
    std::string out;
    for (;;) {
        const IoResult r = ep.receive(buf);
        if (r.eof()) break;
        if (!r.ok()) return "error: receive: " + errno_name(r.err) + " after " + out;
        const auto msg = std::span(buf).first(r.done);
        if (payload.verify(msg, max_message) != Verdict::kOk) return "error: corrupt after " + out;
        MsgHeader h;
        std::memcpy(&h, msg.data(), kHeaderSize);
        out += std::to_string(h.origin) + ":" + std::to_string(h.seq) + ":" +
               std::to_string(h.prio) + " ";
    }
    std::byte more[64];
    if (!ep.receive(more).eof()) return "error: data after end of file";
    return out + "eof";
}

// Parses receive_all's report; a report that does not end in "eof" is
// returned as one failure.
inline std::vector<Seen> parse_seen(const std::string& report) {
    std::vector<Seen> v;
    EXPECT_TRUE(report.size() >= 3 && report.compare(report.size() - 3, 3, "eof") == 0) << report;
    std::istringstream in(report);
    for (std::string tok; in >> tok && tok != "eof";) {
        Seen s;
        char c1 = 0, c2 = 0;
        std::istringstream t(tok);
        t >> s.origin >> c1 >> s.seq >> c2 >> s.prio;
        v.push_back(s);
    }
    return v;
}

// The numbers in "sent <n> calls <c>".
inline std::pair<std::uint64_t, std::uint64_t> parse_sent(const std::string& report) {
    std::uint64_t n = 0, c = 0;
    std::string w1, w2;
    std::istringstream(report) >> w1 >> n >> w2 >> c;
    EXPECT_EQ(w1, "sent") << report;
    return {n, c};
}

// True once `pid` sleeps ('S' in /proc/<pid>/stat); false at the deadline.
inline bool wait_until_sleeping(pid_t pid, Clock::time_point deadline) {
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    while (Clock::now() < deadline) {
        std::ifstream in(path);
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto p = stat.rfind(')');
        if (p != std::string::npos && p + 2 < stat.size() && stat[p + 2] == 'S') return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

// Expects `fn` to throw a ScenarioError at `at` whose text names every one
// of `words`.
template <typename Fn>
void expect_scenario_error(Fn&& fn, const SourceLoc& at, std::initializer_list<const char*> words) {
    try {
        fn();
        ADD_FAILURE() << "no ScenarioError";
    } catch (const ScenarioError& e) {
        EXPECT_EQ(e.file(), at.file);
        EXPECT_EQ(e.line(), at.line);
        EXPECT_EQ(e.column(), at.column);
        for (const char* w : words)
            EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << w << " in: " << e.what();
    }
}

// ---- tests both queue backends run ----

// Non-blocking mode: the writer finds the queue full (it is seen sleeping in
// its backoff, which follows only an EAGAIN) before any reader exists, keeps
// retrying, and in the end every message arrives once, in order.  `ch` must
// be a non-blocking channel too small for the messages.
inline void expect_nonblocking_writer_retries(TestChannel& ch, std::uint32_t origin,
                                              std::uint32_t prio, std::size_t size,
                                              std::size_t max_message) {
    constexpr std::uint32_t kMessages = 300;
    const auto deadline = Clock::now() + kDeadline;
    const std::vector<std::uint32_t> prios(kMessages, prio);
    Worker w(ch, Direction::kWrite, 0, {},
             [&](Endpoint& ep) { return send_all(ep, origin, prios, size); });
    ASSERT_TRUE(wait_until_sleeping(w.pid(), deadline))
        << "the writer never waited on a full queue";
    Worker r(ch, Direction::kRead, 0, {},
             [&](Endpoint& ep) { return receive_all(ep, max_message); });
    ASSERT_TRUE(w.wait(deadline));
    ASSERT_TRUE(r.wait(deadline));
    const auto [sent, calls] = parse_sent(w.report());
    EXPECT_EQ(sent, kMessages);
    EXPECT_GT(calls, kMessages) << "EAGAIN retries are counted as calls";
    const std::vector<Seen> got = parse_seen(r.report());
    ASSERT_EQ(got.size(), kMessages) << r.report();
    for (std::uint64_t i = 0; i < kMessages; ++i) EXPECT_EQ(got[i], (Seen{origin, i, prio}));
}

// A writer killed while its reader waits: the orchestrator's process_gone
// ends the channel, so the reader drains what was sent (one message of 100
// bytes per entry of prios) and sees the end.
inline void expect_killed_writer_ends_channel(TestChannel& ch,
                                              const std::vector<std::uint32_t>& prios,
                                              std::size_t max_message) {
    const auto deadline = Clock::now() + kDeadline;
    Worker r(ch, Direction::kRead, 0, {},
             [&](Endpoint& ep) { return receive_all(ep, max_message); });
    Worker w(ch, Direction::kWrite, 0, {}, [&](Endpoint& ep) {
        send_all(ep, 0, prios, 100);
        ::pause();  // until killed, its endpoint still open
        return std::string("error: not killed");
    });
    ASSERT_TRUE(wait_until_sleeping(w.pid(), deadline));
    w.kill();  // process_gone marks it gone
    ASSERT_TRUE(r.wait(deadline));
    EXPECT_EQ(parse_seen(r.report()).size(), prios.size()) << r.report();
}

// A reader killed while its writer sends: the writer (messages of `size`
// bytes and priority `prio`) blocks on the full queue for good.  Calls
// while_blocked() then, and kills the writer before it returns.
template <typename Fn>
void block_writer_after_killed_reader(TestChannel& ch, std::uint32_t prio, std::size_t size,
                                      std::size_t max_message, Fn&& while_blocked) {
    const auto deadline = Clock::now() + kDeadline;
    Worker r(ch, Direction::kRead, 0, {},
             [&](Endpoint& ep) { return receive_all(ep, max_message); });
    Worker w(ch, Direction::kWrite, 0, {}, [&](Endpoint& ep) {
        return send_all(ep, 0, std::vector<std::uint32_t>(1'000'000, prio), size);
    });
    r.kill();
    ASSERT_TRUE(wait_until_sleeping(w.pid(), deadline)) << "the writer never blocked";
    while_blocked();
}  // the writer is killed here

// ---- the real binary ----

// Records published in an event log (LogFileHeader::count, at byte 32).
inline std::uint64_t log_records(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::uint64_t hdr[5] = {};
    in.read(reinterpret_cast<char*>(hdr), sizeof hdr);
    return in ? hdr[4] : 0;
}

// Starts `ipctorture run` on the scenario text under `root`, waits until its
// `workers` workers run and process `consumer` has received something, then
// kills the harness with SIGKILL (its workers die with it).  Returns the run
// directory it left, or "" if the run never got going.
inline std::string run_and_kill_harness(const std::string& yaml, const test::TempDir& root,
                                        const test::TempDir& scratch, std::size_t workers,
                                        int consumer) {
    const std::string file = scratch.path + "/scenario.yaml";
    std::ofstream(file) << yaml;
    const pid_t harness =
        test::spawn_binary({"run", file}, root.path, scratch.path + "/o", scratch.path + "/e");
    std::string dir;
    const auto deadline = Clock::now() + kDeadline;
    while (dir.empty() && Clock::now() < deadline) {
        for (const auto& e : fs::directory_iterator(root.path)) {
            std::ifstream in(e.path() / "workers");
            std::vector<int> pids;
            for (int p; in >> p;) pids.push_back(p);
            bool alive = pids.size() == workers;
            for (int p : pids) alive = alive && test::process_alive(p);
            const auto log = e.path() / ("events." + std::to_string(consumer) + ".log");
            if (alive && log_records(log.string()) > 8) dir = e.path().string();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(harness, SIGKILL);
    test::wait_bounded(harness, std::chrono::seconds(30));
    return dir;
}

// Runs the bundled scenarios scenarios/backends/<name>.yaml in one
// `ipctorture run`: every check passes and nothing is left in the run root.
inline void expect_bundled_scenarios_pass(std::initializer_list<const char*> names) {
    test::TempDir root, scratch;
    std::vector<std::string> args{"run"};
    for (const char* f : names)
        args.push_back(test::source(std::string("scenarios/backends/") + f + ".yaml"));
    const auto r = test::run_binary(args, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
    EXPECT_TRUE(root.entries().empty());
}

}  // namespace ipct::qtest
