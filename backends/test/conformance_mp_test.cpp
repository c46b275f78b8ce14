// Conformance: what every backend in the registry must do, checked the way
// the orchestrator drives a channel.  The suite is instantiated over
// backend_names(), so a backend added to the registry is covered without a
// line here, and once more over a plugin given by the environment:
//   IPCTORTURE_PLUGIN=path/to/libmine.so (or a bare name, looked for as a
//   scenario's would be) and, optionally,
//   IPCTORTURE_PLUGIN_OPTIONS=key=value,key=value (the channel options)
//   conformance_mp_test --gtest_filter='Plugin/*'
//
// Order of a run, as in the orchestrator: create() in the test process, fork
// one worker per endpoint (a worker keeps only the fds inherited_fds() names
// for its side, like an exec'd worker), after_spawn() in the test process,
// open() in each worker, a start barrier, the exchange, cleanup().  Workers
// report through a pipe of their own and _exit; they never return into the
// test framework.  Every wait is bounded and a worker left over is killed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ipctorture/backend.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/framing.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/plugin_loader.hpp"
#include "mp_test_util.hpp"

namespace ipct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uint64_t kSeed = 0xc0ffee;
constexpr std::uint32_t kMaxOrigins = 8;
// A guard against a hung worker, well inside CTest's timeout: the tests never
// depend on how fast anything is.
constexpr auto kDeadline = std::chrono::seconds(60);

// What a worker tells the test.  Written once, at the end, in one write
// below PIPE_BUF; a worker that dies first leaves no report.
struct Report {
    static constexpr std::uint32_t kDone = 0x600dd00d;
    std::uint32_t done = 0;
    char error[400] = {};
    std::uint64_t sent = 0;
    std::uint64_t received[kMaxOrigins] = {};
    std::uint64_t corrupt = 0;
    std::uint64_t garbage_bytes = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t eofs = 0;  // receive() calls that returned end of file

    void fail(const std::string& what) {
        if (!error[0]) std::snprintf(error, sizeof error, "%s", what.c_str());
    }
    std::uint64_t total_received() const {
        std::uint64_t n = 0;
        for (std::uint64_t r : received) n += r;
        return n;
    }
};
static_assert(sizeof(Report) < 4096);

using Body = std::function<void(Endpoint&, Report&)>;

using mptest::open_fd_count;
using mptest::Pipe;

std::string make_temp_dir() {
    return mptest::make_temp_dir("ipct-conformance");
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) {
        const char* type = e.is_fifo() ? " (fifo)" : e.is_socket() ? " (socket)" : "";
        v.push_back(e.path().filename().string() + type);
    }
    std::sort(v.begin(), v.end());
    return v;
}

Options options(std::initializer_list<std::pair<const char*, const char*>> kv) {
    return mptest::make_options(kv, "conformance.yaml", 5);
}

// The channel options of the plugin under test: IPCTORTURE_PLUGIN_OPTIONS,
// "key=value,key=value"; an option's column is where its value starts.
Options plugin_options() {
    Options o;
    const char* env = std::getenv("IPCTORTURE_PLUGIN_OPTIONS");
    const std::string text = env ? env : "";
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find(',', at);
        if (end == std::string::npos) end = text.size();
        const std::string kv = text.substr(at, end - at);
        const std::size_t eq = kv.find('=');
        if (eq == std::string::npos) IPCT_FAIL("IPCTORTURE_PLUGIN_OPTIONS: expected key=value");
        o[kv.substr(0, eq)] =
            OptionValue{kv.substr(eq + 1),
                        SourceLoc{"IPCTORTURE_PLUGIN_OPTIONS", 1, static_cast<int>(at + eq + 2)}};
        at = end + 1;
    }
    return o;
}

// Message sizes from the header alone up to `hi`: mostly small, some around
// PIPE_BUF, some large.  A pure function of (origin, seq).
std::size_t size_for(std::uint32_t origin, std::uint64_t seq, std::size_t lo, std::size_t hi) {
    if (seq == 0) return lo;
    if (seq == 1) return hi;
    const std::uint64_t h = mix64((std::uint64_t{origin} << 40) ^ seq ^ 0xabcdef);
    const std::uint64_t pick = h % 100;
    std::size_t a = 0, b = 512;
    if (pick >= 90)
        a = 8192, b = hi;
    else if (pick >= 60)
        a = 3000, b = 5000;
    a = std::clamp(a, lo, hi);
    b = std::clamp(b, a, hi);
    return a + (h >> 20) % (b - a + 1);
}

// Worker side: sends `count` messages of origin `origin`, with the lowest
// priority (or type) the contract takes, as the harness does by default.
void send_messages(Endpoint& ep, const Contract& c, std::uint32_t origin, std::uint64_t count,
                   std::size_t lo, std::size_t hi, Report& rep) {
    const Payload payload(kSeed);
    std::vector<std::byte> buf(hi);
    for (std::uint64_t seq = 0; seq < count; ++seq) {
        const std::size_t size = size_for(origin, seq, lo, hi);
        auto msg = std::span(buf).first(size);
        payload.fill(msg, origin, seq, c.has_priority ? c.min_priority : 0);
        IoResult r = ep.send(msg);
        if (!r.ok() || r.done != size) {
            rep.fail("send of message " + std::to_string(seq) + " (" + std::to_string(size) +
                     " bytes) moved " + std::to_string(r.done) + ": " +
                     (r.eof() ? "end of file" : errno_name(r.err)));
            return;
        }
        ++rep.sent;
    }
}

// Worker side: receives until end of file and accounts for every message,
// through a FrameDecoder when the channel is a byte stream.
void receive_all(Endpoint& ep, const Contract& c, Report& rep) {
    const Payload payload(kSeed);
    std::uint64_t next[kMaxOrigins] = {};
    std::vector<std::vector<bool>> seen(kMaxOrigins);
    auto account = [&](const MsgHeader& h) {
        if (h.origin >= kMaxOrigins || h.seq > 10'000'000) {
            rep.fail("a verified message with an impossible identity");
            return;
        }
        auto& s = seen[h.origin];
        if (s.size() <= h.seq) s.resize(h.seq + 1);
        if (s[h.seq]) ++rep.duplicates;
        s[h.seq] = true;
        if (h.seq != next[h.origin]) ++rep.out_of_order;
        next[h.origin] = std::max(next[h.origin], h.seq + 1);
        ++rep.received[h.origin];
    };
    auto failed = [&](const IoResult& r) {
        if (r.eof()) {
            ++rep.eofs;
            return true;
        }
        if (!r.ok()) {
            rep.fail("receive: " + errno_name(r.err));
            return true;
        }
        return false;
    };
    if (c.boundaries) {
        std::vector<std::byte> buf(c.max_message);
        for (;;) {
            IoResult r = ep.receive(buf);
            if (failed(r)) break;
            auto msg = std::span(buf).first(r.done);
            if (payload.verify(msg, c.max_message) != Verdict::kOk) {
                ++rep.corrupt;
                continue;
            }
            MsgHeader h;
            std::memcpy(&h, msg.data(), kHeaderSize);
            account(h);
        }
    } else {
        FrameDecoder dec(payload, c.max_message);
        auto sink = [&](const Frame& f) {
            if (f.kind == Frame::Kind::kMessage) account(f.header);
            if (f.kind == Frame::Kind::kCorrupt) ++rep.corrupt;
            if (f.kind == Frame::Kind::kGarbage) rep.garbage_bytes += f.size;
        };
        for (;;) {
            const std::uint64_t t0 = now_ns();
            IoResult r = ep.receive(dec.space());
            if (failed(r)) break;
            dec.commit(r.done, t0, now_ns(), sink);
        }
        dec.finish(now_ns(), sink);
    }
    // End of file stays end of file.
    std::byte more[64];
    IoResult again = ep.receive(more);
    if (!failed(again)) rep.fail("receive after end of file returned data");
}

class Conformance : public ::testing::TestWithParam<std::string> {
  protected:
    struct Child {
        pid_t pid = -1;
        int result_fd = -1;  // read end of the worker's report pipe
        Direction dir = Direction::kRead;
        std::uint32_t rank = 0;  // among the children of its direction
        int status = 0;
        bool reaped = false;
    };

    void SetUp() override {
        backend_ = find_backend(GetParam());
        ASSERT_NE(backend_, nullptr);
        run_dir_ = make_temp_dir();
        // The run id is unique per run (ChannelSetup): backends name global
        // objects after it, and tests of one backend run in parallel.
        setup_ = ChannelSetup{run_dir_, fs::path(run_dir_).filename().string(), "ch", 0, {}, kSeed};
        deadline_ = std::chrono::steady_clock::now() + kDeadline;
    }

    void TearDown() override {
        for (Child& c : children_) {
            if (!c.reaped) {
                ::kill(c.pid, SIGKILL);
                ::waitpid(c.pid, nullptr, 0);
            }
            if (c.result_fd >= 0) ::close(c.result_fd);
        }
        if (created_) {
            if (!spawned_) backend_->after_spawn(state_);
            backend_->cleanup(setup_, state_);
        }
        std::error_code ec;
        fs::remove_all(run_dir_, ec);
    }

    // o, and for a plugin the options its environment gives.
    Options with_plugin_options(const Options& o) const {
        Options all = o;
        if (is_plugin_backend(GetParam()))
            for (const auto& [k, v] : plugin_options()) all.emplace(k, v);
        return all;
    }

    // False when the backend does not take these options (the test skips).
    bool accepts(const Options& o) {
        try {
            backend_->validate(with_plugin_options(o));
            return true;
        } catch (const ScenarioError&) {
            return false;
        }
    }

    // Options that make the backend create files of its own, where it has them.
    Options busiest_options() {
        const Options locks = options({{"write_lock", "true"}, {"read_lock", "true"}});
        return accepts(locks) ? locks : Options{};
    }

    // The topology's counts: how many writers and readers will be spawned.
    void create(const Options& o, std::uint32_t writers = 1, std::uint32_t readers = 1) {
        setup_.options = with_plugin_options(o);
        setup_.writers = writers;
        setup_.readers = readers;
        contract_ = backend_->contract(setup_.options);
        state_ = backend_->create(setup_);
        created_ = true;
    }

    // Forks a worker for side d running body on its endpoint.
    std::size_t spawn(Direction d, const Body& body) {
        if (!ready_) {
            ready_ = std::make_unique<Pipe>();
            go_ = std::make_unique<Pipe>();
        }
        Pipe result;
        const auto rank = static_cast<std::uint32_t>(std::count_if(
            children_.begin(), children_.end(), [d](const Child& c) { return c.dir == d; }));
        const pid_t pid = ::fork();
        if (pid < 0) IPCT_FAIL_ERRNO("fork");
        if (pid == 0) worker(d, body, result.w, endpoint_setup(children_.size(), d, rank));
        result.close_w();
        children_.push_back(Child{pid, std::exchange(result.r, -1), d, rank});
        return children_.size() - 1;
    }

    ChannelSetup endpoint_setup(std::size_t index, Direction d, std::uint32_t rank) const {
        ChannelSetup s = setup_;
        s.process = static_cast<std::uint32_t>(index);
        s.rank = rank;
        (void)d;
        return s;
    }

    // What the orchestrator does once every worker runs: after_spawn, then
    // the start barrier.  Fails (and kills the workers) if one ends first.
    void start() {
        backend_->after_spawn(state_);
        spawned_ = true;
        ready_->close_w();
        go_->close_r();
        std::size_t ready = 0;
        while (ready < children_.size()) {
            pollfd pfd{ready_->r, POLLIN, 0};
            const int n = ::poll(&pfd, 1, 10);
            if (n > 0) {
                char b[16];
                const ssize_t got = ::read(ready_->r, b, sizeof b);
                if (got > 0) ready += static_cast<std::size_t>(got);
            }
            if (ready == children_.size()) break;
            if (any_child_ended() || std::chrono::steady_clock::now() > deadline_) {
                const std::string who = describe_all();
                kill_all();
                FAIL() << "a worker did not reach the start barrier: " << who;
            }
        }
        ready_->close_r();
        go_->close_w();  // every worker starts now
    }

    // Bounded wait for the listed workers (all by default).  A worker still
    // running at the deadline is killed, and the test fails.
    void wait_for(std::vector<std::size_t> which = {}) {
        if (which.empty())
            for (std::size_t i = 0; i < children_.size(); ++i) which.push_back(i);
        for (;;) {
            bool all = true;
            for (std::size_t i : which) all = reap(children_[i], WNOHANG) && all;
            if (all) return;
            if (std::chrono::steady_clock::now() > deadline_) {
                const std::string who = describe_all();
                kill_all();
                FAIL() << "killed at the deadline: " << who;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    void kill_all() {
        for (Child& c : children_)
            if (!c.reaped) {
                ::kill(c.pid, SIGKILL);
                reap(c, 0);
            }
    }

    // The report of a worker that has ended; error says why there is none.
    Report report(std::size_t i) {
        Child& c = children_[i];
        Report rep;
        if (!c.reaped) {
            rep.fail("worker still running");
            return rep;
        }
        IoResult r = read_full(c.result_fd, &rep, sizeof rep);
        if (r.done != sizeof rep || rep.done != Report::kDone) {
            rep = Report{};
            rep.fail("no report; wait status " + std::to_string(c.status));
        }
        ::close(c.result_fd);
        c.result_fd = -1;
        return rep;
    }

    // A worker that ended normally with a report and no error.
    Report expect_clean(std::size_t i, const char* who) {
        const Child& c = children_[i];
        Report rep = report(i);
        EXPECT_STREQ(rep.error, "") << who;
        EXPECT_TRUE(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0)
            << who << ": wait status " << c.status;
        return rep;
    }

    void expect_run_dir_empty() {
        EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{})
            << "left in the run directory after cleanup()";
    }

    Backend* backend_ = nullptr;
    std::string run_dir_;
    ChannelSetup setup_;
    Contract contract_;
    json state_;
    bool created_ = false;
    bool spawned_ = false;
    std::vector<Child> children_;
    std::unique_ptr<Pipe> ready_, go_;
    std::vector<int> parent_only_fds_;  // closed in every worker after fork
    std::chrono::steady_clock::time_point deadline_;

  private:
    // In the forked worker: become what an exec'd worker would be, open,
    // pass the barrier, run, report, _exit.
    [[noreturn]] void worker(Direction d, const Body& body, int result_fd, const ChannelSetup& me) {
        Report rep;
        try {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::signal(SIGPIPE, SIG_IGN);  // EPIPE is a result, as in real workers
            ::close(ready_->r);
            ::close(go_->w);
            for (int fd : parent_only_fds_) ::close(fd);
            // Keep only this side's inherited descriptors: a reader that kept
            // a copy of the write end would never see end of file.
            std::set<int> mine, all;
            for (int fd : backend_->inherited_fds(state_, d)) mine.insert(fd);
            for (Direction x : {Direction::kRead, Direction::kWrite})
                for (int fd : backend_->inherited_fds(state_, x)) all.insert(fd);
            for (int fd : all)
                if (!mine.count(fd)) ::close(fd);
            auto ep = backend_->open(me, state_, d);
            char b = 'r';
            if (write_full(ready_->w, &b, 1).err) IPCT_FAIL_ERRNO("barrier: write ready");
            ::close(ready_->w);
            if (!read_full(go_->r, &b, 1).eof()) IPCT_FAIL("barrier: expected end of file");
            ::close(go_->r);
            body(*ep, rep);
            ep->close();
        } catch (const std::exception& e) {
            rep.fail(std::string("exception: ") + e.what());
        } catch (...) {
            rep.fail("unknown exception");
        }
        rep.done = Report::kDone;
        write_full(result_fd, &rep, sizeof rep);
        ::_exit(rep.error[0] ? 1 : 0);
    }

    bool any_child_ended() {
        bool ended = false;
        for (Child& c : children_) ended = reap(c, WNOHANG) || ended;
        return ended;
    }

    bool reap(Child& c, int flags) {
        if (c.reaped) return true;
        int st = 0;
        const pid_t r = ::waitpid(c.pid, &st, flags);
        if (r == c.pid) {
            c.status = st;
            c.reaped = true;
            // What the orchestrator does when a worker ends.
            const auto index = static_cast<std::size_t>(&c - children_.data());
            if (created_)
                backend_->process_gone(endpoint_setup(index, c.dir, c.rank), state_, c.dir);
        }
        return c.reaped;
    }

    // Call before killing anyone: says who was still running.
    std::string describe_all() {
        std::string s;
        for (std::size_t i = 0; i < children_.size(); ++i) {
            const Child& c = children_[i];
            s += "[worker " + std::to_string(i) + " pid " + std::to_string(c.pid) + ": ";
            if (!c.reaped) {
                s += "running] ";
                continue;
            }
            s += "ended, wait status " + std::to_string(c.status);
            if (c.result_fd >= 0) {
                const Report r = report(i);
                if (r.done == Report::kDone && r.error[0]) s += ", " + std::string(r.error);
            }
            s += "] ";
        }
        return s;
    }
};

TEST_P(Conformance, ContractIsSane) {
    EXPECT_EQ(backend_->name(), GetParam());
    EXPECT_EQ(find_backend(GetParam()), backend_) << "backends are singletons";
    EXPECT_FALSE(backend_->summary().empty());
    const Contract c = backend_->contract({});
    EXPECT_GE(c.max_message, kHeaderSize);
    ASSERT_NE(c.unit, nullptr);
    EXPECT_STRNE(c.unit, "");
    EXPECT_NO_THROW(backend_->validate({})) << "no options must be a valid configuration";
}

TEST_P(Conformance, ValidateNamesAnUnknownOption) {
    Options o{{"no_such_option", OptionValue{"true", SourceLoc{"scenario.yaml", 7, 12}}}};
    try {
        backend_->validate(o);
        FAIL() << "validate() accepted an unknown option";
    } catch (const ScenarioError& e) {
        EXPECT_NE(std::string(e.what()).find("no_such_option"), std::string::npos) << e.what();
        EXPECT_EQ(e.file(), "scenario.yaml");
        EXPECT_EQ(e.line(), 7);
        EXPECT_EQ(e.column(), 12);
    }
}

TEST_P(Conformance, OneWriterOneReaderGetsEveryMessageIntactAndInOrder) {
    constexpr std::uint64_t kMessages = 2000;
    create({});
    const Contract c = contract_;
    const std::size_t hi = std::min<std::size_t>(c.max_message, 64 * 1024);
    const std::size_t reader =
        spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) { receive_all(ep, c, rep); });
    const std::size_t writer = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, c, 0, kMessages, kHeaderSize, hi, rep);
    });
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    const Report w = expect_clean(writer, "writer");
    const Report r = expect_clean(reader, "reader");
    EXPECT_EQ(w.sent, kMessages);
    EXPECT_EQ(r.corrupt, 0u);
    EXPECT_EQ(r.garbage_bytes, 0u);
    EXPECT_EQ(r.duplicates, 0u);
    EXPECT_EQ(r.total_received(), r.received[0]) << "messages of an origin nobody used";
    if (c.lossless) {
        EXPECT_EQ(r.received[0], kMessages);
    }
    if (c.fifo) {
        EXPECT_EQ(r.out_of_order, 0u);
    }
    EXPECT_EQ(r.eofs, 2u) << "end of file, then end of file again";
}

TEST_P(Conformance, EndOfFileOnceTheWriterCloses) {
    create({});
    const Contract c = contract_;
    // The writer closes its endpoint but stays alive until released: the
    // reader's end of file must come from close(), not from the exit.
    Pipe release;
    parent_only_fds_ = {release.w};
    const std::size_t reader =
        spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) { receive_all(ep, c, rep); });
    const std::size_t writer = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        const std::size_t size = std::min<std::size_t>(100, c.max_message);
        send_messages(ep, c, 0, 3, size, size, rep);
        ep.close();
        char b;
        read_full(release.r, &b, 1);  // returns at end of file: released
    });
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for({reader}));
    const Report r = expect_clean(reader, "reader");
    if (c.lossless) {
        EXPECT_EQ(r.received[0], 3u);
    }
    EXPECT_EQ(r.eofs, 2u);
    EXPECT_EQ(r.corrupt + r.garbage_bytes, 0u);
    release.close_w();
    ASSERT_NO_FATAL_FAILURE(wait_for({writer}));
    EXPECT_EQ(expect_clean(writer, "writer").sent, 3u);
}

TEST_P(Conformance, LargestMessageArrivesWhole) {
    create({});
    const Contract c = contract_;
    const std::size_t max = c.max_message;
    const std::size_t reader =
        spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) { receive_all(ep, c, rep); });
    const std::size_t writer = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, c, 0, 5, max, max, rep);
    });
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    EXPECT_EQ(expect_clean(writer, "writer").sent, 5u);
    const Report r = expect_clean(reader, "reader");
    EXPECT_EQ(r.corrupt + r.garbage_bytes + r.duplicates, 0u);
    if (c.lossless) {
        EXPECT_EQ(r.received[0], 5u) << max << "-byte messages";
    }
}

// A writer killed in the middle of the run (it never closes its endpoint):
// once the orchestrator has seen it end (process_gone), its readers still
// reach the end of the channel, with everything it sent before.
TEST_P(Conformance, KilledWriterStillEndsTheChannel) {
    create({}, 2, 1);
    const Contract c = contract_;
    Pipe progress, release;
    parent_only_fds_ = {progress.r, release.w};
    const std::size_t reader =
        spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) { receive_all(ep, c, rep); });
    const std::size_t doomed = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, c, 0, 10, kHeaderSize, kHeaderSize, rep);
        char b = 'p';
        write_full(progress.w, &b, 1);
        read_full(release.r, &b, 1);  // never released: killed here
    });
    const std::size_t writer = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, c, 1, 10, kHeaderSize, kHeaderSize, rep);
    });
    progress.close_w();
    release.close_r();
    ASSERT_NO_FATAL_FAILURE(start());
    pollfd pfd{progress.r, POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, static_cast<int>(kDeadline.count() * 1000)), 1)
        << "the doomed writer never reported its sends";
    ::kill(children_[doomed].pid, SIGKILL);
    ASSERT_NO_FATAL_FAILURE(wait_for({doomed, writer}));
    ASSERT_NO_FATAL_FAILURE(wait_for({reader}));
    EXPECT_EQ(expect_clean(writer, "writer").sent, 10u);
    const Report r = expect_clean(reader, "reader");
    EXPECT_EQ(r.eofs, 2u) << "the reader reached the end of the channel";
    EXPECT_EQ(r.corrupt + r.garbage_bytes + r.duplicates, 0u);
    if (c.lossless) {
        EXPECT_EQ(r.received[0], 10u) << "what the killed writer sent before it died";
        EXPECT_EQ(r.received[1], 10u);
    }
}

// The backends with a write_lock option (instantiated below for those only).
class ConformanceWriteLock : public Conformance {};

TEST_P(ConformanceWriteLock, KeepsLargeMessagesWhole) {
    constexpr std::uint32_t kWriters = 3;
    constexpr std::uint64_t kMessages = 150;
    const Options o = options({{"write_lock", "true"}});
    ASSERT_TRUE(accepts(o)) << GetParam() << " has no write_lock option";
    create(o, kWriters);
    const Contract c = contract_;
    // Above PIPE_BUF: without the lock, writes of this size interleave.
    const std::size_t hi = std::min<std::size_t>(c.max_message, 64 * 1024);
    const std::size_t lo = std::min<std::size_t>(hi, 16 * 1024);
    const std::size_t reader =
        spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) { receive_all(ep, c, rep); });
    std::vector<std::size_t> writers;
    for (std::uint32_t w = 0; w < kWriters; ++w)
        writers.push_back(spawn(Direction::kWrite, [&, w](Endpoint& ep, Report& rep) {
            send_messages(ep, c, w, kMessages, lo, hi, rep);
        }));
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    for (std::size_t i : writers) EXPECT_EQ(expect_clean(i, "writer").sent, kMessages);
    const Report r = expect_clean(reader, "reader");
    EXPECT_EQ(r.corrupt, 0u);
    EXPECT_EQ(r.garbage_bytes, 0u);
    EXPECT_EQ(r.duplicates, 0u);
    if (c.fifo) {
        EXPECT_EQ(r.out_of_order, 0u);
    }
    if (c.lossless) {
        for (std::uint32_t w = 0; w < kWriters; ++w) EXPECT_EQ(r.received[w], kMessages) << w;
    }
}

TEST_P(Conformance, CleanupIsIdempotentAndLeavesNothingBehind) {
    const std::size_t fds = open_fd_count();
    create(busiest_options());
    const Contract c = contract_;
    const std::size_t hi = std::min<std::size_t>(c.max_message, 64 * 1024);
    const std::size_t reader =
        spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) { receive_all(ep, c, rep); });
    const std::size_t writer = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, c, 0, 50, kHeaderSize, hi, rep);
    });
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    expect_clean(writer, "writer");
    const Report r = expect_clean(reader, "reader");
    if (c.lossless) {
        EXPECT_EQ(r.received[0], 50u);
    }
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_));
    expect_run_dir_empty();
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_)) << "a second cleanup()";
    expect_run_dir_empty();
    // after_spawn() let go of everything the test process held for the channel.
    EXPECT_EQ(open_fd_count(), fds);
}

// Workers killed in the middle of an exchange: cleanup() still works from
// the state alone.
TEST_P(Conformance, CleanupWorksAfterWorkersAreKilled) {
    const std::size_t fds = open_fd_count();
    create(busiest_options());
    const Contract c = contract_;
    const std::size_t hi = std::min<std::size_t>(c.max_message, 64 * 1024);
    spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) { receive_all(ep, c, rep); });
    spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, c, 0, 1'000'000, kHeaderSize, hi, rep);
    });
    ASSERT_NO_FATAL_FAILURE(start());
    kill_all();  // wherever they are: opening, sending, receiving
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_));
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_));
    expect_run_dir_empty();
    for (std::size_t i = 0; i < children_.size(); ++i) report(i);  // closes the report pipes
    EXPECT_EQ(open_fd_count(), fds);
}

std::vector<std::string> all_backends() {
    std::vector<std::string> v;
    for (std::string_view n : backend_names()) v.emplace_back(n);
    return v;
}

// The registered backends that take write_lock: true.
std::vector<std::string> write_lock_backends() {
    std::vector<std::string> v;
    for (std::string_view n : backend_names()) {
        try {
            find_backend(n)->validate(options({{"write_lock", "true"}}));
            v.emplace_back(n);
        } catch (const ScenarioError&) {
        }
    }
    return v;
}

// The plugin IPCTORTURE_PLUGIN names, if any (a path, or a bare name looked
// for as a scenario's is).  One that cannot be loaded fails the program.
std::vector<std::string> environment_plugin() {
    const char* spec = std::getenv("IPCTORTURE_PLUGIN");
    if (!spec || !*spec) return {};
    return {plugin_backend_name(resolve_plugin(spec, fs::current_path().string()))};
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
    std::string s = is_plugin_backend(info.param) ? backend_label(info.param) : info.param;
    for (char& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return s;
}

INSTANTIATE_TEST_SUITE_P(Registry, Conformance, ::testing::ValuesIn(all_backends()), param_name);
INSTANTIATE_TEST_SUITE_P(Registry, ConformanceWriteLock, ::testing::ValuesIn(write_lock_backends()),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Plugin, Conformance, ::testing::ValuesIn(environment_plugin()),
                         param_name);

}  // namespace
}  // namespace ipct
