// The socket backends beyond conformance: fan-in of many writers whose
// connections a reader must never mix, fan-out over a shared server socket,
// killed writers, provoked UDP loss, the sun_path limit, cleanup.
//
// Driven like the orchestrator drives a channel: create() here, one forked
// worker per endpoint keeping only its side's inherited fds, after_spawn(),
// open() in the worker, a start barrier, the exchange, process_gone() when a
// worker is reaped, cleanup().  Every wait is bounded; workers left over are
// killed.
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

namespace ipct {
namespace {

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

Options options(std::initializer_list<std::pair<const char*, const char*>> kv) {
    Options o;
    int line = 1;
    for (const auto& [k, v] : kv) o[k] = OptionValue{v, SourceLoc{"socket.yaml", line++, 7}};
    return o;
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

std::size_t open_fd_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

// Sizes in [lo, hi], a pure function of (origin, seq): half small, some
// mid-sized, a fifth large.
std::size_t size_for(std::uint32_t origin, std::uint64_t seq, std::size_t lo, std::size_t hi) {
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

void send_messages(Endpoint& ep, std::uint32_t origin, std::uint64_t count, std::size_t lo,
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
void receive_all(Endpoint& ep, std::size_t max_message, Report& rep) {
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

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) IPCT_FAIL_ERRNO("pipe2");
        r = fds[0];
        w = fds[1];
    }
    ~Pipe() {
        close_r();
        close_w();
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void close_r() {
        if (r >= 0) ::close(r);
        r = -1;
    }
    void close_w() {
        if (w >= 0) ::close(w);
        w = -1;
    }
};

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
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ipct-sock-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        run_dir_ = tmpl;
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

class SocketKinds : public Sockets, public ::testing::WithParamInterface<std::string> {};
class LosslessKinds : public SocketKinds {};
class StreamKinds : public SocketKinds {};

// Options that allow large messages and make streams arrive in pieces
// (small send buffers: writers block in the middle of a message).
Options large_options(const std::string& b) {
    if (b == "unix_seqpacket" || b == "unix_dgram") return options({{"max_message", "262144"}});
    if (b == "tcp") return options({{"sndbuf", "8192"}, {"rcvbuf", "8192"}, {"nodelay", "true"}});
    if (b == "unix_stream") return options({{"sndbuf", "8192"}});
    return {};
}

// Many writers, messages up to 256 KiB: each receive must be exactly one
// whole message of one writer, in each writer's order.
TEST_P(LosslessKinds, FanInNeverMixesConnections) {
    constexpr std::uint32_t kWriters = 12;
    constexpr std::uint64_t kMessages = 150;
    create(GetParam(), large_options(GetParam()), kWriters, 1);
    const std::size_t hi = std::min<std::size_t>(contract_.max_message, 256 * 1024);
    const std::size_t r = reader();
    std::vector<std::size_t> ws;
    for (std::uint32_t w = 0; w < kWriters; ++w)
        ws.push_back(writer(w, kMessages, kHeaderSize, hi));
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    for (std::size_t i : ws) EXPECT_EQ(expect_clean(i, "writer").sent, kMessages);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.corrupt, 0u) << "a receive that was not exactly one whole message";
    EXPECT_EQ(rep.duplicates, 0u);
    EXPECT_EQ(rep.out_of_order, 0u);
    EXPECT_EQ(rep.eofs, 1u);
    for (std::uint32_t w = 0; w < kWriters; ++w) EXPECT_EQ(rep.received[w], kMessages) << w;
}

// Two readers share the server socket: every message reaches one of them,
// whole, and each sees every writer's messages in order.
TEST_P(SocketKinds, FanOutTwoReadersShareTheServer) {
    constexpr std::uint32_t kWriters = 4;
    constexpr std::uint64_t kMessages = 400;
    create(GetParam(), large_options(GetParam()), kWriters, 2);
    const std::size_t hi = std::min<std::size_t>(contract_.max_message, 64 * 1024);
    const std::size_t r0 = reader(), r1 = reader();
    for (std::uint32_t w = 0; w < kWriters; ++w) writer(w, kMessages, kHeaderSize, hi);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    const Report a = expect_clean(r0, "reader 0"), b = expect_clean(r1, "reader 1");
    for (const Report* rep : {&a, &b}) {
        EXPECT_EQ(rep->corrupt, 0u);
        EXPECT_EQ(rep->duplicates, 0u);
        EXPECT_EQ(rep->eofs, 1u);
        if (contract_.fifo) {
            EXPECT_EQ(rep->out_of_order, 0u);
        }
    }
    for (std::uint32_t w = 0; w < kWriters; ++w) {
        const std::uint64_t got = a.received[w] + b.received[w];
        if (contract_.lossless)
            EXPECT_EQ(got, kMessages) << "writer " << w;
        else
            EXPECT_LE(got, kMessages) << "writer " << w;
    }
}

// A writer that never closes its endpoint is killed: once the orchestrator
// has seen it go (process_gone), the reader reaches end of channel, with
// every message the writer's completed sends carried.
TEST_P(SocketKinds, KilledWriterDoesNotKeepTheReaderWaiting) {
    constexpr std::uint64_t kMessages = 100;
    create(GetParam(), {}, 2, 1);
    const std::size_t r = reader();
    Pipe never;  // nobody writes it: the victim blocks on it until killed
    const std::size_t victim = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, 0, kMessages, kHeaderSize, 2048, rep);
        progressed();
        char c;
        (void)!::read(never.r, &c, 1);
    });
    const std::size_t other = writer(1, kMessages, kHeaderSize, 2048);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_progress());
    kill(victim);
    ASSERT_NO_FATAL_FAILURE(wait_for());
    EXPECT_EQ(expect_clean(other, "writer").sent, kMessages);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.eofs, 1u);
    EXPECT_EQ(rep.corrupt, 0u);
    if (contract_.lossless) {
        EXPECT_EQ(rep.received[0], kMessages) << "the killed writer's completed sends";
        EXPECT_EQ(rep.received[1], kMessages);
    }
}

// A stream writer killed in the middle of a large message: its connection
// ends inside a frame.  The reader hands over the torn tail on its own (one
// corrupt receive at most, never garbage merged into another writer's
// frame) and still reaches end of channel.
TEST_P(StreamKinds, WriterKilledInTheMiddleOfAMessage) {
    create(GetParam(), large_options(GetParam()), 2, 1);
    const std::size_t r = reader();
    const std::size_t victim = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, 0, 4, 1 << 20, 1 << 20, rep);
        progressed();
        send_messages(ep, 0, 1'000'000, 1 << 20, 1 << 20, rep);
    });
    const std::size_t other = writer(1, 300, kHeaderSize, 64 * 1024);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_progress());
    kill(victim);
    ASSERT_NO_FATAL_FAILURE(wait_for());
    EXPECT_EQ(expect_clean(other, "writer").sent, 300u);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.eofs, 1u);
    EXPECT_LE(rep.corrupt, 1u);
    EXPECT_EQ(rep.garbage, 0u) << "the torn frame starts with its header";
    EXPECT_GE(rep.received[0], 4u);
    EXPECT_EQ(rep.received[1], 300u);
    EXPECT_EQ(rep.out_of_order, 0u);
}

// Bytes that start no header are handed over on their own, up to the next
// header of the same connection; another writer's frames are untouched.
TEST_P(StreamKinds, GarbageStaysWithinItsConnection) {
    create(GetParam(), {}, 2, 1);
    const std::size_t r = reader();
    const std::size_t dirty = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        const std::vector<std::byte> junk(3000, std::byte{0xab});
        const Payload payload(kSeed);
        std::vector<std::byte> msg(5000);
        for (std::uint64_t seq = 0; seq < 5; ++seq) {
            if (!ep.send(std::span(junk).first(seq == 4 ? 7 : junk.size())).ok())
                return rep.fail("send junk");
            payload.fill(msg, 0, seq, 0);
            if (!ep.send(msg).ok()) return rep.fail("send message");
        }
    });
    const std::size_t clean = writer(1, 500, kHeaderSize, 16 * 1024);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    expect_clean(dirty, "dirty writer");
    expect_clean(clean, "clean writer");
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.received[0], 5u);
    EXPECT_EQ(rep.received[1], 500u);
    EXPECT_GE(rep.garbage, 5u);
    EXPECT_EQ(rep.corrupt, rep.garbage) << "every bad receive is junk alone";
    EXPECT_EQ(rep.out_of_order, 0u);
}

// Cleanup from the setup alone (the plan written before create()), twice;
// nothing left and no descriptor kept.
TEST_P(SocketKinds, CleanupWorksFromTheSetupAlone) {
    const std::size_t fds = open_fd_count();
    create(GetParam(), {}, 3, 2);
    EXPECT_FALSE(list_dir(run_dir_).empty());
    backend_->after_spawn(state_);
    spawned_ = true;
    EXPECT_NO_THROW(backend_->cleanup(setup_, json()));
    EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{});
    EXPECT_NO_THROW(backend_->cleanup(setup_, json()));
    EXPECT_EQ(open_fd_count(), fds);
}

// Everyone killed in the middle of a fan-in/fan-out exchange.
TEST_P(SocketKinds, CleanupAfterKilledWorkers) {
    const std::size_t fds = open_fd_count();
    create(GetParam(), {}, 4, 2);
    reader();
    reader();
    for (std::uint32_t w = 0; w < 4; ++w)
        spawn(Direction::kWrite, [this, w](Endpoint& ep, Report& rep) {
            send_messages(ep, w, 20, kHeaderSize, 4096, rep);
            progressed();
            send_messages(ep, w, 1'000'000, kHeaderSize, 4096, rep);
        });
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_progress());
    kill_all();
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_));
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_));
    EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{});
    for (std::size_t i = 0; i < children_.size(); ++i) report(i);  // closes the report pipes
    ready_.reset(), go_.reset(), progress_.reset();
    EXPECT_EQ(open_fd_count(), fds);
}

// More writers than a channel can take: a clear error, nothing left behind.
TEST_P(SocketKinds, TooManyWritersIsAnEnvironmentError) {
    backend_ = find_backend(GetParam());
    setup_ = ChannelSetup{run_dir_, "sockettest", "ch", 0, {}, kSeed, 1'000'000, 1};
    const std::size_t fds = open_fd_count();
    EXPECT_THROW(backend_->create(setup_), EnvironmentError);
    EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{});
    EXPECT_EQ(open_fd_count(), fds);
}

INSTANTIATE_TEST_SUITE_P(Socket, SocketKinds,
                         ::testing::Values("unix_stream", "unix_seqpacket", "tcp", "unix_dgram",
                                           "udp"));
INSTANTIATE_TEST_SUITE_P(Socket, LosslessKinds,
                         ::testing::Values("unix_stream", "unix_seqpacket", "tcp", "unix_dgram"));
INSTANTIATE_TEST_SUITE_P(Socket, StreamKinds, ::testing::Values("unix_stream", "tcp"));

// UDP with the smallest receive buffer the kernel allows and writers at full
// speed: most datagrams are dropped.  The loss is measured; nothing fails,
// nothing hangs, and what arrives is intact.
TEST_F(Sockets, UdpLossWithATinyReceiveBufferIsMeasured) {
    constexpr std::uint32_t kWriters = 4;
    constexpr std::uint64_t kMessages = 5000;
    create("udp", options({{"rcvbuf", "1"}}), kWriters, 1);
    const std::size_t r = reader();
    std::vector<std::size_t> ws;
    for (std::uint32_t w = 0; w < kWriters; ++w)
        ws.push_back(writer(w, kMessages, kHeaderSize, 2048));
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    for (std::size_t i : ws) EXPECT_EQ(expect_clean(i, "writer").sent, kMessages);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.eofs, 1u);
    EXPECT_EQ(rep.corrupt, 0u);
    EXPECT_EQ(rep.duplicates, 0u);
    EXPECT_LE(rep.total(), kWriters * kMessages);
    const double loss = 1.0 - double(rep.total()) / double(kWriters * kMessages);
    RecordProperty("udp_loss_percent", std::to_string(100 * loss));
    std::printf("udp with rcvbuf 1: %llu of %llu datagrams arrived (%.1f%% lost)\n",
                static_cast<unsigned long long>(rep.total()),
                static_cast<unsigned long long>(kWriters * kMessages), 100 * loss);
}

// A run directory too deep for sun_path: create() says so and makes nothing.
TEST_F(Sockets, SunPathTooLongIsAClearError) {
    const std::string deep = run_dir_ + "/" + std::string(120 - run_dir_.size() % 10, 'd');
    ASSERT_TRUE(fs::create_directory(deep));
    for (const char* b : {"unix_stream", "unix_dgram", "unix_seqpacket"}) {
        SCOPED_TRACE(b);
        Backend* be = find_backend(b);
        const ChannelSetup s{deep, "sockettest", "ch", 0, {}, kSeed, 1, 1};
        try {
            be->create(s);
            ADD_FAILURE() << "create() accepted a " << deep.size() + 8 << "-byte socket path";
            be->after_spawn(json());
        } catch (const EnvironmentError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("sun_path"), std::string::npos) << what;
            EXPECT_NE(what.find(deep), std::string::npos) << what;
            EXPECT_NE(what.find("IPCTORTURE_RUN_ROOT"), std::string::npos) << what;
        }
        EXPECT_EQ(list_dir(deep), std::vector<std::string>{});
        EXPECT_NO_THROW(be->cleanup(s, json()));
    }
}

// Options are checked where they stand in the scenario.
TEST_F(Sockets, OptionsAreCheckedWhereTheyStand) {
    auto error_at = [](const char* backend, const Options& o) -> std::string {
        try {
            find_backend(backend)->validate(o);
        } catch (const ScenarioError& e) {
            return std::to_string(e.line()) + ": " + e.what();
        }
        return "accepted";
    };
    const std::string nodelay =
        error_at("unix_stream", options({{"sndbuf", "4096"}, {"nodelay", "true"}}));
    EXPECT_EQ(nodelay.rfind("2: ", 0), 0u) << "nodelay is tcp's: " << nodelay;
    EXPECT_NE(error_at("udp", options({{"max_message", "4096"}})).find("unknown option"),
              std::string::npos);
    const std::string small =
        error_at("unix_dgram", options({{"max_message", "1048576"}, {"sndbuf", "4096"}}));
    EXPECT_EQ(small.rfind("2: ", 0), 0u) << small;
    EXPECT_NE(small.find("524304"), std::string::npos) << small;
    EXPECT_NE(error_at("unix_seqpacket", options({{"max_message", "100"}})), "accepted");
    EXPECT_EQ(
        error_at("tcp", options({{"sndbuf", "65536"}, {"rcvbuf", "65536"}, {"nodelay", "on"}})),
        "accepted");
    EXPECT_EQ(
        find_backend("unix_dgram")->contract(options({{"max_message", "131072"}})).max_message,
        131072u);
    EXPECT_EQ(find_backend("udp")->contract({}).max_message, 65507u);
}

}  // namespace
}  // namespace ipct
