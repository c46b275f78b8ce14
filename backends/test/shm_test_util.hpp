// Test helpers for the shm backend's multi-process tests: a channel with
// forked workers, each reporting into anonymous MAP_SHARED memory made
// before the fork (a report survives however the worker ends and needs no
// pipe to drain), and worker bodies that send and verify messages.  Every
// wait is bounded: a deadlock guard, never a pass condition.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ipctorture/backend.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/perturb.hpp"
#include "mp_test_util.hpp"

namespace ipct::shm_test {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uint64_t kSeed = 0x5eed5;
constexpr auto kDeadline = std::chrono::seconds(60);
constexpr std::size_t kMaxIds = 1 << 15;

// One worker's report, in shared memory.
struct Report {
    std::atomic<std::uint32_t> done;  // 1 once the body returned
    std::atomic<std::uint32_t> go;    // set by the test: a gated() body may start
    char error[240];
    std::uint64_t sent;
    std::uint64_t eofs;
    std::uint64_t corrupt;       // copies that fail verification
    std::uint64_t out_of_order;  // a producer's seq not above its last one here
    std::uint64_t value;         // counter: the value message's seq
    std::uint64_t values;        // counter: value messages received
    std::uint64_t count;         // intact messages; ids[] holds the first kMaxIds
    std::uint64_t ids[kMaxIds];  // origin << 40 | seq

    void fail(const std::string& what) {
        if (!error[0]) std::snprintf(error, sizeof error, "%s", what.c_str());
    }
};

using Body = std::function<void(Endpoint&, Report&)>;

inline Options options(std::initializer_list<std::pair<const char*, const char*>> kv) {
    return mptest::make_options(kv, "shm_test.yaml", 3);
}

inline std::vector<std::string> dev_shm_entries(const std::string& needle) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator("/dev/shm"))
        if (e.path().filename().string().find(needle) != std::string::npos)
            v.push_back(e.path().string());
    return v;
}

inline ChannelSetup make_setup(const std::string& run_dir, const std::string& run_id) {
    ChannelSetup s;
    s.run_dir = run_dir;
    s.run_id = run_id;
    s.name = "ch";
    s.seed = kSeed;
    return s;
}

// One channel and the workers on it.
class Channel {
  public:
    // mutant: one of the backend's planted bugs (ChannelSetup::mutant), or "".
    Channel(const Options& o, std::uint32_t writers, std::uint32_t readers,
            const std::string& mutant = "") {
        static int serial = 0;
        backend_ = find_backend("shm");
        const std::string dir = mptest::make_temp_dir("ipct-shmtest");
        setup_ = make_setup(
            dir, "shmtest-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
        setup_.options = o;
        setup_.writers = writers;
        setup_.readers = readers;
        setup_.mutant = mutant;
        contract_ = backend_->contract(o);
        state_ = backend_->create(setup_);
    }
    ~Channel() {
        kill_all();
        backend_->cleanup(setup_, state_);
        for (auto& c : children_) ::munmap(c.rep, sizeof(Report));
        std::error_code ec;
        fs::remove_all(setup_.run_dir, ec);
    }

    void spawn(Direction d, const Body& body) {
        if (ready_[0] < 0) {
            if (::pipe2(ready_, O_CLOEXEC) != 0 || ::pipe2(go_, O_CLOEXEC) != 0)
                IPCT_FAIL_ERRNO("pipe2");
        }
        void* m = ::mmap(nullptr, sizeof(Report), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) IPCT_FAIL_ERRNO("mmap");
        auto* rep = new (m) Report{};
        std::uint32_t rank = 0;
        for (const auto& c : children_) rank += c.dir == d;
        ChannelSetup me = setup_;
        me.process = static_cast<std::uint32_t>(children_.size());
        me.rank = rank;
        const pid_t pid = ::fork();
        if (pid < 0) IPCT_FAIL_ERRNO("fork");
        if (pid == 0) worker(me, d, body, rep);
        children_.push_back(Child{pid, d, rank, rep});
    }

    // The start barrier: every worker has opened its endpoint.
    bool start() {
        ::close(ready_[1]);
        ::close(go_[0]);
        std::size_t ready = 0;
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (ready < children_.size() && std::chrono::steady_clock::now() < deadline) {
            char b[16];
            const ssize_t n = ::read(ready_[0], b, sizeof b);
            if (n <= 0) break;  // a worker died before the barrier
            ready += static_cast<std::size_t>(n);
        }
        ::close(ready_[0]);
        ::close(go_[1]);
        return ready == children_.size();
    }

    // Bounded wait for every worker; calls process_gone as the orchestrator
    // does.  False (and the workers killed) at the deadline.
    bool wait(std::chrono::seconds limit = kDeadline) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            bool all = true;
            for (auto& c : children_) all = reap(c, WNOHANG) && all;
            if (all) return true;
            if (std::chrono::steady_clock::now() > deadline) {
                kill_all();
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    void kill(std::size_t i) {
        ::kill(children_[i].pid, SIGKILL);
        reap(children_[i], 0);
    }
    void kill_all() {
        for (std::size_t i = 0; i < children_.size(); ++i) kill(i);
    }

    const Report& report(std::size_t i) const { return *children_[i].rep; }
    // Lets worker i's gated() body start.
    void release(std::size_t i) { children_[i].rep->go.store(1); }
    std::size_t size() const { return children_.size(); }
    Direction dir(std::size_t i) const { return children_[i].dir; }
    bool exited_clean(std::size_t i) const {
        const int st = children_[i].status;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 && report(i).done.load() == 1 &&
               !report(i).error[0];
    }
    Backend* backend() const { return backend_; }
    const ChannelSetup& setup() const { return setup_; }
    const json& state() const { return state_; }
    const Contract& contract() const { return contract_; }

  private:
    struct Child {
        pid_t pid;
        Direction dir;
        std::uint32_t rank;
        Report* rep;
        bool reaped = false;
        int status = 0;
    };

    [[noreturn]] void worker(const ChannelSetup& me, Direction d, const Body& body, Report* rep) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        try {
            ::close(ready_[0]);
            ::close(go_[1]);
            // The noise a scenario gets by default, as a worker would have it.
            perturb_configure(PerturbConfig::builtin_default(), mix64(kSeed + me.process));
            auto ep = backend_->open(me, state_, d);
            char b = 'r';
            if (write_full(ready_[1], &b, 1).err) IPCT_FAIL_ERRNO("barrier");
            ::close(ready_[1]);
            if (!read_full(go_[0], &b, 1).eof()) IPCT_FAIL("barrier: expected end of file");
            body(*ep, *rep);
            ep->close();
        } catch (const std::exception& e) {
            rep->fail(std::string("exception: ") + e.what());
        }
        rep->done.store(1);
        ::_exit(rep->error[0] ? 1 : 0);
    }

    bool reap(Child& c, int flags) {
        if (c.reaped) return true;
        if (::waitpid(c.pid, &c.status, flags) != c.pid) return false;
        c.reaped = true;
        ChannelSetup me = setup_;
        me.rank = c.rank;
        me.process = static_cast<std::uint32_t>(&c - children_.data());
        backend_->process_gone(me, state_, c.dir);
        return true;
    }

    Backend* backend_;
    ChannelSetup setup_;
    Contract contract_;
    json state_;
    std::vector<Child> children_;
    int ready_[2] = {-1, -1};
    int go_[2] = {-1, -1};
};

// ---- worker bodies ---------------------------------------------------------

inline std::size_t size_for(std::uint32_t origin, std::uint64_t seq, std::size_t lo,
                            std::size_t hi) {
    return lo + mix64((std::uint64_t{origin} << 40) ^ seq) % (hi - lo + 1);
}

// Sends count messages of origin `origin`, sized in [lo, hi]; `gap` apart
// if not zero (gaps let snapshot readers in between writes).
inline Body sender(std::uint32_t origin, std::uint64_t count, std::size_t lo, std::size_t hi,
                   std::chrono::microseconds gap = {}) {
    return [=](Endpoint& ep, Report& rep) {
        const Payload payload(kSeed);
        std::vector<std::byte> buf(hi);
        for (std::uint64_t seq = 0; seq < count; ++seq) {
            if (gap.count() > 0) std::this_thread::sleep_for(gap);
            auto msg = std::span(buf).first(size_for(origin, seq, lo, hi));
            payload.fill(msg, origin, seq, 0);
            const IoResult r = ep.send(msg);
            if (!r.ok()) return rep.fail("send: " + errno_name(r.err));
            ++rep.sent;
        }
    };
}

// Runs body once the test releases the worker (bounded).
inline Body gated(Body body) {
    return [body](Endpoint& ep, Report& rep) {
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (rep.go.load() == 0) {
            if (std::chrono::steady_clock::now() > deadline) return rep.fail("never released");
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        body(ep, rep);
    };
}

// Receives until end of file, verifying each message; counter value
// messages (origin kCounterOrigin) go to value/values.
inline Body receiver(std::size_t max_message) {
    return [=](Endpoint& ep, Report& rep) {
        const Payload payload(kSeed);
        std::vector<std::byte> buf(max_message);
        std::map<std::uint32_t, std::uint64_t> next;
        for (;;) {
            const IoResult r = ep.receive(buf);
            if (r.eof()) break;
            if (!r.ok()) return rep.fail("receive: " + errno_name(r.err));
            auto msg = std::span(buf).first(r.done);
            if (payload.verify(msg, max_message) != Verdict::kOk) {
                ++rep.corrupt;
                continue;
            }
            MsgHeader h;
            std::memcpy(&h, msg.data(), kHeaderSize);
            if (h.origin == kCounterOrigin) {
                rep.value = h.seq;
                ++rep.values;
                continue;
            }
            auto [it, fresh] = next.try_emplace(h.origin, 0);
            if (!fresh && h.seq < it->second) ++rep.out_of_order;
            it->second = h.seq + 1;
            if (rep.count < kMaxIds) rep.ids[rep.count] = (std::uint64_t{h.origin} << 40) | h.seq;
            ++rep.count;
        }
        ++rep.eofs;
        std::byte more[64];
        if (!ep.receive(more).eof()) rep.fail("receive after end of file did not end");
    };
}

// What the readers of a message channel got, all together.
struct Tally {
    std::uint64_t lost = 0, duplicated = 0, corrupt = 0, out_of_order = 0, intact = 0;
    bool defect() const { return lost + duplicated + corrupt + out_of_order > 0; }
};

inline Tally tally(const Channel& ch, std::uint32_t producers, std::uint64_t per_producer) {
    Tally t;
    std::map<std::uint64_t, std::uint32_t> seen;
    for (std::size_t i = 0; i < ch.size(); ++i) {
        if (ch.dir(i) != Direction::kRead) continue;
        const Report& r = ch.report(i);
        t.corrupt += r.corrupt;
        t.out_of_order += r.out_of_order;
        t.intact += r.count;
        for (std::uint64_t k = 0; k < std::min<std::uint64_t>(r.count, kMaxIds); ++k)
            ++seen[r.ids[k]];
    }
    for (std::uint32_t o = 0; o < producers; ++o)
        for (std::uint64_t s = 0; s < per_producer; ++s) {
            auto it = seen.find((std::uint64_t{o} << 40) | s);
            if (it == seen.end())
                ++t.lost;
            else if (it->second > 1)
                t.duplicated += it->second - 1;
        }
    return t;
}

}  // namespace ipct::shm_test
