// A fixture for multi-process tests of one channel (socket_mp_test.cpp).
//
// Driven like the orchestrator drives a channel: create() here, one forked
// worker per endpoint keeping only its side's inherited fds, after_spawn(),
// open() in the worker, a start barrier, the exchange, process_gone() when a
// worker is reaped, cleanup().  Every wait is bounded; workers left over are
// killed.
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
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ipctorture/backend.hpp"
#include "ipctorture/message.hpp"
#include "mp_test_util.hpp"

namespace ipct::sockettest {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uint64_t kSeed = 0x50c4e7;
constexpr std::uint32_t kMaxOrigins = 16;
constexpr auto kDeadline = std::chrono::seconds(90);

// A worker's account of its run, written once at the end (below PIPE_BUF).
struct Report {
    static constexpr std::uint32_t kDone = 0x600dd00d;
    std::uint32_t done = 0;
    char error[300] = {};
    std::uint64_t sent = 0;
    std::uint64_t received[kMaxOrigins] = {};
    std::uint64_t corrupt = 0;  // receives that were not exactly one whole message
    std::uint64_t garbage = 0;  // ... of which did not even start with the magic
    std::uint64_t out_of_order = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t eofs = 0;

    void fail(const std::string& what) {
        if (!error[0]) std::snprintf(error, sizeof error, "%s", what.c_str());
    }
    std::uint64_t total() const {
        std::uint64_t n = 0;
        for (std::uint64_t r : received) n += r;
        return n;
    }
};
static_assert(sizeof(Report) < 4096);

using Body = std::function<void(Endpoint&, Report&)>;

using mptest::list_dir;
using mptest::open_fd_count;
using mptest::Pipe;

inline Options options(std::initializer_list<std::pair<const char*, const char*>> kv) {
    return mptest::make_options(kv, "socket.yaml", 7);
}

// Sizes in [lo, hi], a pure function of (origin, seq): half small, some
// mid-sized, a fifth large.
inline std::size_t size_for(std::uint32_t origin, std::uint64_t seq, std::size_t lo,
                            std::size_t hi) {
    const std::uint64_t h = mix64((std::uint64_t{origin} << 40) ^ seq ^ 0x517e);
    std::size_t a = lo, b = std::min<std::size_t>(hi, 512);
    if (h % 10 >= 8)
        a = hi / 4, b = hi;
    else if (h % 10 >= 5)
        a = 4096, b = 16384;
    a = std::clamp(a, lo, hi);
    b = std::clamp(b, a, hi);
    return a + (h >> 20) % (b - a + 1);
}

inline void send_messages(Endpoint& ep, std::uint32_t origin, std::uint64_t count, std::size_t lo,
                          std::size_t hi, Report& rep) {
    const Payload payload(kSeed);
    std::vector<std::byte> buf(hi);
    for (std::uint64_t seq = 0; seq < count; ++seq) {
        auto msg = std::span(buf).first(size_for(origin, seq, lo, hi));
        payload.fill(msg, origin, seq, 0);
        const IoResult r = ep.send(msg);
        if (!r.ok() || r.done != msg.size()) {
            rep.fail("send of message " + std::to_string(seq) + " (" + std::to_string(msg.size()) +
                     " bytes): " + (r.eof() ? "end of file" : errno_name(r.err)));
            return;
        }
        ++rep.sent;
    }
}

// Every socket backend keeps boundaries: each receive must be one whole,
// intact message.
inline void receive_all(Endpoint& ep, std::size_t max_message, Report& rep) {
    const Payload payload(kSeed);
    std::vector<std::byte> buf(max_message);
    std::vector<std::vector<bool>> seen(kMaxOrigins);
    std::uint64_t next[kMaxOrigins] = {};
    for (;;) {
        const IoResult r = ep.receive(buf);
        if (r.eof()) break;
        if (!r.ok()) return rep.fail("receive: " + errno_name(r.err));
        auto msg = std::span(buf).first(r.done);
        if (payload.verify(msg, max_message) != Verdict::kOk) {
            ++rep.corrupt;
            std::uint32_t magic = 0;
            std::memcpy(&magic, msg.data(), std::min<std::size_t>(msg.size(), 4));
            if (magic != kMsgMagic) ++rep.garbage;
            continue;
        }
        MsgHeader h;
        std::memcpy(&h, msg.data(), kHeaderSize);
        if (h.origin >= kMaxOrigins) return rep.fail("a verified message of an unknown origin");
        auto& s = seen[h.origin];
        if (s.size() <= h.seq) s.resize(h.seq + 1);
        if (s[h.seq]) ++rep.duplicates;
        s[h.seq] = true;
        if (h.seq < next[h.origin]) ++rep.out_of_order;
        next[h.origin] = std::max(next[h.origin], h.seq + 1);
        ++rep.received[h.origin];
    }
    ++rep.eofs;
    std::byte more[64];
    if (!ep.receive(more).eof()) rep.fail("receive after end of file did not return end of file");
}

class Sockets : public ::testing::Test {
  protected:
    struct Child {
        pid_t pid = -1;
        int result_fd = -1;
        Direction dir = Direction::kRead;
        std::uint32_t rank = 0;
        int status = 0;
        bool reaped = false;
    };

    void SetUp() override {
        run_dir_ = mptest::make_temp_dir("ipct-sock");
        deadline_ = std::chrono::steady_clock::now() + kDeadline;
    }

    void TearDown() override {
        kill_all();
        for (Child& c : children_)
            if (c.result_fd >= 0) ::close(c.result_fd);
        if (created_) {
            if (!spawned_) backend_->after_spawn(state_);
            backend_->cleanup(setup_, state_);
            EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{})
                << "left in the run directory after cleanup()";
        }
        std::error_code ec;
        fs::remove_all(run_dir_, ec);
    }

    void create(const std::string& backend, const Options& o, std::uint32_t writers,
                std::uint32_t readers) {
        backend_ = find_backend(backend);
        ASSERT_NE(backend_, nullptr) << backend;
        setup_ = ChannelSetup{run_dir_, "sockettest", "ch", 0, o, kSeed, writers, readers};
        contract_ = backend_->contract(o);
        state_ = backend_->create(setup_);
        created_ = true;
    }

    std::size_t spawn(Direction d, const Body& body) {
        if (!ready_) {
            ready_ = std::make_unique<Pipe>();
            go_ = std::make_unique<Pipe>();
            progress_ = std::make_unique<Pipe>();
        }
        const auto rank = static_cast<std::uint32_t>(std::count_if(
            children_.begin(), children_.end(), [d](const Child& c) { return c.dir == d; }));
        ChannelSetup me = setup_;
        me.process = static_cast<std::uint32_t>(children_.size());
        me.rank = rank;
        Pipe result;
        const pid_t pid = ::fork();
        if (pid < 0) IPCT_FAIL_ERRNO("fork");
        if (pid == 0) worker(d, body, result.w, me);
        result.close_w();
        children_.push_back(Child{pid, std::exchange(result.r, -1), d, rank});
        return children_.size() - 1;
    }

    // after_spawn(), then the start barrier.
    void start() {
        backend_->after_spawn(state_);
        spawned_ = true;
        ready_->close_w();
        go_->close_r();
        progress_->close_w();
        std::size_t ready = 0;
        while (ready < children_.size()) {
            pollfd p{ready_->r, POLLIN, 0};
            if (::poll(&p, 1, 10) > 0) {
                char b[64];
                const ssize_t n = ::read(ready_->r, b, sizeof b);
                if (n > 0) ready += static_cast<std::size_t>(n);
            }
            if (ready == children_.size()) break;
            if (any_ended() || std::chrono::steady_clock::now() > deadline_)
                FAIL() << "a worker did not reach the start barrier";
        }
        go_->close_w();
    }

    // Waits (bounded) until a worker body has called progressed().
    void wait_progress() {
        pollfd p{progress_->r, POLLIN, 0};
        while (::poll(&p, 1, 10) == 0)
            if (std::chrono::steady_clock::now() > deadline_)
                FAIL() << "no progress by the deadline";
        char b;
        ASSERT_EQ(::read(progress_->r, &b, 1), 1);
    }
    // In a worker body: tells wait_progress() that it got this far.
    void progressed() { (void)!::write(progress_->w, "p", 1); }

    void wait_for(std::vector<std::size_t> which = {}) {
        if (which.empty())
            for (std::size_t i = 0; i < children_.size(); ++i) which.push_back(i);
        for (;;) {
            bool all = true;
            for (std::size_t i : which) all = reap(children_[i], WNOHANG) && all;
            if (all) return;
            if (std::chrono::steady_clock::now() > deadline_) {
                kill_all();
                FAIL() << "workers still running at the deadline (killed)";
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    void kill(std::size_t i) {
        ::kill(children_[i].pid, SIGKILL);
        reap(children_[i], 0);
    }
    void kill_all() {
        for (std::size_t i = 0; i < children_.size(); ++i)
            if (!children_[i].reaped) kill(i);
    }

    Report report(std::size_t i) {
        Child& c = children_[i];
        Report rep;
        const IoResult r = read_full(c.result_fd, &rep, sizeof rep);
        ::close(c.result_fd);
        c.result_fd = -1;
        if (r.done != sizeof rep || rep.done != Report::kDone) {
            rep = Report{};
            rep.fail("no report; wait status " + std::to_string(c.status));
        }
        return rep;
    }

    Report expect_clean(std::size_t i, const char* who) {
        Report rep = report(i);
        EXPECT_STREQ(rep.error, "") << who;
        EXPECT_TRUE(WIFEXITED(children_[i].status) && WEXITSTATUS(children_[i].status) == 0)
            << who << ": wait status " << children_[i].status;
        return rep;
    }

    std::size_t reader(std::size_t max_message = 0) {
        const std::size_t m = max_message ? max_message : contract_.max_message;
        return spawn(Direction::kRead, [m](Endpoint& ep, Report& rep) { receive_all(ep, m, rep); });
    }
    std::size_t writer(std::uint32_t origin, std::uint64_t count, std::size_t lo, std::size_t hi) {
        return spawn(Direction::kWrite, [=](Endpoint& ep, Report& rep) {
            send_messages(ep, origin, count, lo, hi, rep);
        });
    }

    Backend* backend_ = nullptr;
    std::string run_dir_;
    ChannelSetup setup_;
    Contract contract_;
    json state_;
    bool created_ = false;
    bool spawned_ = false;
    std::vector<Child> children_;
    std::unique_ptr<Pipe> ready_, go_, progress_;  // made by the first spawn()
    std::chrono::steady_clock::time_point deadline_;

  private:
    [[noreturn]] void worker(Direction d, const Body& body, int result_fd, const ChannelSetup& me) {
        Report rep;
        try {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::signal(SIGPIPE, SIG_IGN);
            ::close(ready_->r);
            ::close(go_->w);
            ::close(progress_->r);
            // Only this side's inherited fds, as an exec'd worker would have.
            std::set<int> mine, all;
            for (int fd : backend_->inherited_fds(state_, d)) mine.insert(fd);
            for (Direction x : {Direction::kRead, Direction::kWrite})
                for (int fd : backend_->inherited_fds(state_, x)) all.insert(fd);
            for (int fd : all)
                if (!mine.count(fd)) ::close(fd);
            auto ep = backend_->open(me, state_, d);
            if (write_full(ready_->w, "r", 1).err) IPCT_FAIL_ERRNO("barrier");
            ::close(ready_->w);
            char b;
            if (!read_full(go_->r, &b, 1).eof()) IPCT_FAIL("barrier: expected end of file");
            body(*ep, rep);
            ep->close();
        } catch (const std::exception& e) {
            rep.fail(std::string("exception: ") + e.what());
        }
        rep.done = Report::kDone;
        write_full(result_fd, &rep, sizeof rep);
        ::_exit(rep.error[0] ? 1 : 0);
    }

    bool any_ended() {
        bool ended = false;
        for (Child& c : children_) ended = reap(c, WNOHANG) || ended;
        return ended;
    }

    // What the orchestrator does when a worker ends: process_gone().
    bool reap(Child& c, int flags) {
        if (c.reaped) return true;
        int st = 0;
        if (::waitpid(c.pid, &st, flags) != c.pid) return false;
        c.status = st;
        c.reaped = true;
        ChannelSetup me = setup_;
        me.process = static_cast<std::uint32_t>(&c - children_.data());
        me.rank = c.rank;
        if (created_) backend_->process_gone(me, state_, c.dir);
        return true;
    }
};

}  // namespace ipct::sockettest
