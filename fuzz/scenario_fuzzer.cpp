// Fuzz target: small whole scenarios, run end to end.
//
// Input: bytes that a grammar (FuzzedDataProvider) turns into the YAML text
// of a small scenario over the *correct* backends only: 1-3 producers, 1-2
// consumers, maybe a relay into a second channel, tens of messages, sizes
// within every channel's largest message, options that keep each channel
// within its contract (write_lock for several writers of large messages on a
// byte stream, read_lock for several readers, sysv readers that drain every
// type, ...), schedule perturbation, CPU placement, signalers, the seed and
// process or threads mode.  The text is loaded by the real loader and run
// by run_scenario().
//
// Contract (the oracle): since every channel is used within its contract,
// the run must pass.  A finding of any kind, a ScenarioError (the generator
// only writes valid scenarios: an error is a generator or loader bug), any
// other exception but EnvironmentError (a limit of this machine: the input
// is skipped), a worker that did not exit 0, a run directory, IPC object,
// file descriptor or worker process that outlives the input: each prints
// the scenario text and what went wrong to stderr and traps.  The printed
// text, saved to a file, reproduces the run with `ipctorture run FILE`
// (plus `--as-threads` when the report says so).
//
// Workers: the orchestrator starts workers by executing this binary with the
// hidden `worker` subcommand; LLVMFuzzerInitialize sees that argv and hands
// it to worker_command() before libFuzzer parses anything, so the target
// needs no other binary.  Workers run without LeakSanitizer (see Initialize).
// $IPCT_FUZZ_PRINT: print each input's scenario and timings first.
// Process faults (issue 5) are not generated yet.
#include <fcntl.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <mqueue.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ipctorture/checker.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/scenario.hpp"
#include "ipctorture/worker.hpp"

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- grammar

constexpr std::uint32_t kHeader = 32;  // every size counts the message header

enum class Kind : std::uint8_t {
    kPipe,
    kFifo,
    kPosixMq,
    kSysvMsg,
    kUnixStream,
    kUnixDgram,
    kUnixSeqpacket,
    kTcp,
    kShmRing,
    kShmCounter,
    kShmSnapshot,
    kSignalRt,  // the last: draw_kind() picks from kPipe .. kSignalRt
};

// Channels that may sit on either side of a relay (the others carry a
// counter, a snapshot or signals to one process).
bool relayable(Kind k) {
    return k != Kind::kShmCounter && k != Kind::kShmSnapshot && k != Kind::kSignalRt;
}

// A message class: posix_mq priority, sysv_msg type, real-time signal number.
struct Classes {
    bool on = false;
    std::uint32_t lo = 0, hi = 0;  // producers draw from [lo, hi]
};

struct Channel {
    Kind kind{};
    std::string yaml;  // the channel's body: backend and options
    std::uint32_t max_size = 0;
    Classes classes;
};

struct Topology {
    std::uint32_t producers = 1;
    std::uint32_t consumers = 1;
    bool relay = false;
    bool signaler = false;
    bool threads = false;
};

class Grammar {
  public:
    explicit Grammar(FuzzedDataProvider& in) : in_(in) {}
    std::string scenario();
    bool threads() const { return topo_.threads; }

  private:
    std::uint32_t pick(std::uint32_t lo, std::uint32_t hi) {
        return in_.ConsumeIntegralInRange<std::uint32_t>(lo, hi);
    }
    bool coin() { return in_.ConsumeBool(); }
    template <class T, std::size_t N>
    T one_of(const T (&v)[N]) {
        return v[pick(0, N - 1)];
    }

    Kind draw_kind(bool for_relay);
    Channel channel(Kind k, std::uint32_t writers, std::uint32_t readers);
    void stream_options(Channel& c, bool pipe, std::uint32_t writers, std::uint32_t readers);
    void socket_options(Channel& c);
    void shm_options(Channel& c);
    std::string size_text(std::uint32_t max);
    std::string class_text(const Classes& c);
    std::string perturb_text();
    std::string cpus_text();
    std::string producers(const Channel& c, std::uint32_t limit, const Classes& cls);
    std::string consumers(const Channel& c, const std::string& channel, const Classes& cls);

    FuzzedDataProvider& in_;
    Topology topo_;
};

Kind Grammar::draw_kind(bool for_relay) {
    for (;;) {
        const Kind k = static_cast<Kind>(pick(0, static_cast<std::uint32_t>(Kind::kSignalRt)));
        if (for_relay && !relayable(k)) continue;
        if (topo_.threads && k == Kind::kSignalRt) continue;  // a signal goes to a process
        return k;
    }
}

// pipe and fifo: a byte stream keeps messages whole only under the locks.
void Grammar::stream_options(Channel& c, bool pipe, std::uint32_t writers, std::uint32_t readers) {
    std::vector<std::string> opts;
    c.max_size = 16384;
    if (pipe && coin()) {  // O_DIRECT: one write of at most PIPE_BUF is one packet
        opts.push_back("packet: true");
        c.max_size = 4096;
    } else {
        if ((writers > 1 && coin()) || coin())
            opts.push_back("write_lock: true");
        else if (writers > 1)
            c.max_size = 4096;  // PIPE_BUF: such writes are atomic
        if (readers > 1 || coin()) opts.push_back("read_lock: true");
    }
    if (coin()) opts.push_back("capacity: " + std::to_string(4096u << pick(0, 4)));
    if (opts.empty()) return;
    c.yaml += "    options: {";
    for (std::size_t i = 0; i < opts.size(); ++i) c.yaml += (i ? ", " : "") + opts[i];
    c.yaml += "}\n";
}

void Grammar::socket_options(Channel& c) {
    std::vector<std::string> opts;
    const bool message = c.kind == Kind::kUnixDgram || c.kind == Kind::kUnixSeqpacket;
    c.max_size = 16384;
    if (message && coin()) {
        const std::uint32_t m = 4096u << pick(0, 4);
        opts.push_back("max_message: " + std::to_string(m));
        c.max_size = std::min(c.max_size, m);
    }
    if (!message && coin()) opts.push_back("sndbuf: " + std::to_string(4096u << pick(0, 4)));
    if (c.kind == Kind::kTcp && coin())
        opts.push_back("rcvbuf: " + std::to_string(4096u << pick(0, 4)));
    if (c.kind == Kind::kTcp && coin()) opts.push_back(coin() ? "nodelay: true" : "nodelay: false");
    if (opts.empty()) return;
    c.yaml += "    options: {";
    for (std::size_t i = 0; i < opts.size(); ++i) c.yaml += (i ? ", " : "") + opts[i];
    c.yaml += "}\n";
}

void Grammar::shm_options(Channel& c) {
    const char* syncs[] = {"mutex", "semaphore", "atomic"};
    const std::string sync = one_of(syncs);
    const std::uint32_t slot = c.kind == Kind::kShmCounter ? 64 : kHeader + pick(0, 8192 - kHeader);
    c.max_size = slot;
    if (c.kind == Kind::kShmRing)
        c.yaml += "    options: {layout: ring, sync: " + sync +
                  ", slots: " + std::to_string(pick(1, 16)) +
                  ", slot_size: " + std::to_string(slot) + "}\n";
    else if (c.kind == Kind::kShmCounter)
        c.yaml += "    options: {layout: counter, sync: " + sync + "}\n";
    else
        c.yaml += "    options: {layout: snapshot, sync: " + sync +
                  ", slot_size: " + std::to_string(slot) + "}\n";
}

// A channel of kind k that `writers` processes write and `readers` read,
// with options that keep it inside its contract.
Channel Grammar::channel(Kind k, std::uint32_t writers, std::uint32_t readers) {
    Channel c;
    c.kind = k;
    switch (k) {
        case Kind::kPipe:
        case Kind::kFifo:
            c.yaml = k == Kind::kPipe ? "    backend: pipe\n" : "    backend: fifo\n";
            stream_options(c, k == Kind::kPipe, writers, readers);
            break;
        case Kind::kPosixMq: {
            const std::uint32_t msgsize = pick(kHeader, 8192);
            c.yaml = "    backend: posix_mq\n    options: {depth: " + std::to_string(pick(1, 10)) +
                     ", msgsize: " + std::to_string(msgsize) +
                     (coin() ? ", nonblocking: true" : "") + "}\n";
            c.max_size = msgsize;
            c.classes = {true, 0, 31};
            break;
        }
        case Kind::kSysvMsg: {
            const std::uint32_t bytes = pick(8192, 16384);
            c.yaml = "    backend: sysv_msg\n    options: {bytes: " + std::to_string(bytes) +
                     (coin() ? ", nonblocking: true" : "") + "}\n";
            c.max_size = 8192;
            c.classes = {true, 1, 5};
            break;
        }
        case Kind::kUnixStream:
        case Kind::kUnixDgram:
        case Kind::kUnixSeqpacket:
        case Kind::kTcp: {
            const char* names[] = {"unix_stream", "unix_dgram", "unix_seqpacket", "tcp"};
            c.yaml = std::string("    backend: ") +
                     names[static_cast<int>(k) - static_cast<int>(Kind::kUnixStream)] + "\n";
            socket_options(c);
            break;
        }
        case Kind::kShmRing:
        case Kind::kShmCounter:
        case Kind::kShmSnapshot:
            c.yaml = "    backend: shm\n";
            shm_options(c);
            break;
        case Kind::kSignalRt: {
            const std::uint32_t n = pick(1, 4);
            c.yaml =
                "    backend: signal\n    options: {kind: realtime, signals: " + std::to_string(n) +
                ", retry_full: true" + (coin() ? ", receive: handler" : "") + "}\n";
            c.max_size = kHeader;
            c.classes = {true, 0, n - 1};
            break;
        }
    }
    return c;
}

// A size distribution within [32, max].
std::string Grammar::size_text(std::uint32_t max) {
    switch (pick(0, 2)) {
        case 0:
            return std::to_string(pick(kHeader, max));
        case 1: {
            const std::uint32_t lo = pick(kHeader, max);
            return "{min: " + std::to_string(lo) + ", max: " + std::to_string(pick(lo, max)) + "}";
        }
        default:
            return "{choices: [" + std::to_string(pick(kHeader, max)) + ", " +
                   std::to_string(pick(kHeader, max)) + "], weights: [" +
                   std::to_string(pick(1, 4)) + ", " + std::to_string(pick(1, 4)) + "]}";
    }
}

std::string Grammar::class_text(const Classes& c) {
    if (coin()) return std::to_string(pick(c.lo, c.hi));
    const std::uint32_t lo = pick(c.lo, c.hi);
    return "{min: " + std::to_string(lo) + ", max: " + std::to_string(pick(lo, c.hi)) + "}";
}

// Short sleeps only: an input must stay well under 50 ms.
std::string Grammar::perturb_text() {
    switch (pick(0, 3)) {
        case 0:
            return "off";
        case 1:
            return "0." + std::to_string(pick(0, 99));
        case 2: {
            const char* kinds[] = {"yield",      "spin",       "sleep",
                                   "yield+spin", "spin+sleep", "yield+spin+sleep"};
            const char* sites[] = {"calls", "windows", "calls+windows"};
            return "\"p=0." + std::to_string(pick(0, 99)) +
                   ",sleep=" + std::to_string(pick(1, 50)) +
                   "us,spin=" + std::to_string(pick(1, 2000)) + ",kinds=" + one_of(kinds) +
                   ",sites=" + one_of(sites) + "\"";
        }
        default:
            return "{probability: 0." + std::to_string(pick(0, 99)) +
                   ", max_spin: " + std::to_string(pick(1, 2000)) + ", kinds: [yield, spin]}";
    }
}

std::string Grammar::cpus_text() {
    const char* cpus[] = {"any", "same", "spread"};
    return one_of(cpus);
}

// Producers of channel `c` (named "a"): the count as one group or separate
// entries, each with its own workload.
std::string Grammar::producers(const Channel& c, std::uint32_t limit, const Classes& cls) {
    std::string y;
    const bool group = topo_.producers > 1 && coin();
    const std::uint32_t entries = group ? 1 : topo_.producers;
    for (std::uint32_t i = 0; i < entries; ++i) {
        y += "  - role: producer\n    channel: a\n";
        if (group) y += "    count: " + std::to_string(topo_.producers) + "\n";
        y += "    workload:\n";
        // An input that has run out of bytes draws the lowest values; here
        // that is the busiest workload (40 messages), not a near-idle one:
        // short inputs are most of what libFuzzer tries.
        if (!coin() || c.kind == Kind::kShmCounter)
            y += "      messages: " + std::to_string(40 - pick(0, 39)) + "\n";
        else
            y += "      duration: " + std::to_string(pick(1, 5)) +
                 "ms\n      rate: " + std::to_string(pick(2000, 20000)) + "\n";
        y += "      size: " + size_text(limit) + "\n";
        if (cls.on) y += "      priority: " + class_text(cls) + "\n";
        if (coin()) y += "      start_delay: " + std::to_string(pick(0, 2000)) + "us\n";
        if (coin()) y += "    perturb: " + perturb_text() + "\n";
        if (coin()) y += "    cpus: " + cpus_text() + "\n";
    }
    return y;
}

// Consumers of `channel`.  On a sysv_msg channel the first reader takes
// every type (msgtyp 0, or the lowest type up to at least the highest one
// sent), so the queue always drains; the second may select.
std::string Grammar::consumers(const Channel& c, const std::string& channel, const Classes& cls) {
    std::string y;
    for (std::uint32_t i = 0; i < topo_.consumers; ++i) {
        y += "  - role: consumer\n    channel: " + channel + "\n";
        if (c.kind == Kind::kSysvMsg) {
            if (i == 0)
                y += coin() ? "    options: {msgtyp: 0}\n"
                            : "    options: {msgtyp: -" + std::to_string(pick(cls.hi, 40)) + "}\n";
            else if (coin())
                y += "    options: {msgtyp: " + std::to_string(pick(1, 6)) +
                     (coin() ? ", except: true" : "") + "}\n";
            else
                y += "    options: {msgtyp: -" + std::to_string(pick(1, 6)) + "}\n";
        }
        if (coin())
            y += "    workload: {start_delay: " + std::to_string(pick(0, 2000)) +
                 "us, rate: " + std::to_string(coin() ? 0 : pick(5000, 50000)) + "}\n";
        if (coin()) y += "    perturb: " + perturb_text() + "\n";
        if (coin()) y += "    cpus: " + cpus_text() + "\n";
    }
    return y;
}

// The message classes producers may use: the first channel's, narrowed when
// a relay forwards into a sysv_msg channel (types >= 1 only).
Classes producer_classes(const Channel& a, const Channel* b) {
    Classes c = a.classes;
    if (b && b->kind == Kind::kSysvMsg && c.on) c.lo = std::max<std::uint32_t>(c.lo, 1);
    return c;
}

std::string Grammar::scenario() {
    topo_.threads = coin();
    topo_.producers = pick(1, 3);
    topo_.consumers = pick(1, 2);
    const Kind ka = draw_kind(false);
    topo_.relay = relayable(ka) && coin();
    Kind kb = ka;
    if (topo_.relay) {
        kb = draw_kind(true);
        // A message reaching sysv_msg through a relay must carry a type >= 1:
        // only a classed channel in front of it can give one.
        if (kb == Kind::kSysvMsg && ka != Kind::kSysvMsg && ka != Kind::kPosixMq)
            kb = Kind::kUnixSeqpacket;
    }
    topo_.signaler = !topo_.threads && coin() && coin();
    const Channel a = channel(ka, topo_.producers, topo_.relay ? 1 : topo_.consumers);
    const Channel b = topo_.relay ? channel(kb, 1, topo_.consumers) : a;
    const std::uint32_t limit = std::min(a.max_size, b.max_size);
    Classes cls = producer_classes(a, topo_.relay ? &b : nullptr);

    std::string y = "name: fuzz\nseed: " + std::to_string(in_.ConsumeIntegral<std::uint32_t>()) +
                    "\ntimeout: 10s\n";
    if (coin()) y += "perturb: " + perturb_text() + "\n";
    if (coin()) y += "cpus: " + cpus_text() + "\n";
    y += "channels:\n  a:\n" + a.yaml;
    if (topo_.relay) y += "  b:\n" + b.yaml;
    y += "processes:\n" + producers(a, limit, cls);
    if (topo_.relay) {
        y += "  - role: relay\n    input: a\n    output: b\n";
        if (coin()) y += "    perturb: " + perturb_text() + "\n";
    }
    // A sysv_msg channel behind a relay carries the types (or priorities) sent.
    y += consumers(b, topo_.relay ? "b" : "a", cls);
    if (topo_.signaler)
        y += "  - role: signaler\n    workload: {rate: " +
             std::to_string(coin() ? 0 : pick(1000, 20000)) + "}\n";
    return y;
}

}  // namespace

namespace {

// ----------------------------------------------------------------- oracle

std::string g_run_root;  // private to this process, made by LLVMFuzzerInitialize
bool g_print = false;    // $IPCT_FUZZ_PRINT set: print each input's scenario first

void remove_run_root() {
    std::error_code ec;
    fs::remove_all(g_run_root, ec);
}

std::size_t open_fds() {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc/self/fd", ec); !ec && it != fs::end(it);
         it.increment(ec))
        ++n;
    return n;
}

// Prints the workers' output files of a kept run directory (their errors
// and sanitizer reports), at most 4 KiB of each.
void print_run_dir(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().filename().string().rfind("worker.", 0) != 0) continue;
        std::ifstream in(e.path());
        std::string text(4096, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        if (!text.empty())
            std::cerr << "--- " << e.path().filename().string() << "\n" << text << "\n";
    }
}

[[noreturn]] void fail(const std::string& yaml, bool threads, const std::string& what,
                       const std::string& run_dir = {}) {
    std::cerr << "scenario_fuzzer: FAIL: " << what << "\n--- scenario ("
              << (threads ? "ipctorture run FILE --as-threads" : "ipctorture run FILE") << ")\n"
              << yaml << "---\n";
    if (!run_dir.empty()) print_run_dir(run_dir);
    remove_run_root();
    __builtin_trap();
}

std::string findings_text(const ipct::RunOutcome& out) {
    std::ostringstream s;
    for (int k = 0; k < ipct::kFindingKinds; ++k)
        if (out.result.counts[k])
            s << " " << ipct::finding_kind_name(static_cast<ipct::FindingKind>(k)) << "="
              << out.result.counts[k];
    s << "\n";
    for (const ipct::Finding& f : out.result.findings)
        s << "  " << ipct::finding_kind_name(f.kind) << ": " << f.summary << "\n";
    for (std::size_t i = 0; i < out.workers.size(); ++i)
        s << "  worker " << i << " (" << out.plan.processes.at(i).name << "): wait status "
          << out.workers[i].status << "\n";
    return s.str();
}

// What a channel left behind: its named kernel object, if it still exists.
std::string leftover(const ipct::PlannedChannel& ch) {
    const nlohmann::json& st = ch.state;
    if (!st.is_object()) return {};
    if (ch.backend == "shm" && st.contains("object")) {
        const std::string name = st["object"].get<std::string>();
        const int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
        if (fd >= 0) {
            ::close(fd);
            return "shared memory object " + name;
        }
    }
    if (ch.backend == "posix_mq" && st.contains("name")) {
        const std::string name = st["name"].get<std::string>();
        const mqd_t q = ::mq_open(name.c_str(), O_RDONLY);
        if (q != mqd_t(-1)) {
            ::mq_close(q);
            return "message queue " + name;
        }
    }
    if (ch.backend == "sysv_msg" && st.contains("msqid")) {
        msqid_ds ds{};
        if (::msgctl(st["msqid"].get<int>(), IPC_STAT, &ds) == 0)
            return "System V queue " + std::to_string(st["msqid"].get<int>());
    }
    return {};
}

// Everything the oracle demands of one finished run; empty = all is well.
std::string judge(const ipct::RunOutcome& out) {
    std::string why;
    if (!out.result.pass() || out.barrier_failed || out.interrupted)
        why += "the run failed:" + findings_text(out);
    for (const ipct::WorkerEnd& w : out.workers)
        if (w.status != 0) {
            why += "a worker did not exit 0:" + findings_text(out);
            break;
        }
    for (const ipct::PlannedChannel& ch : out.plan.channels)
        if (std::string l = leftover(ch); !l.empty()) why += "left behind: " + l + "\n";
    if (!out.workers.empty() && ::kill(-out.workers[0].pid, 0) == 0)
        why += "a worker process outlived the run\n";
    return why;
}

void run_one(const std::string& yaml, bool threads) {
    ipct::Scenario s;
    try {
        s = ipct::load_scenario_text(yaml, "fuzz.yaml");
    } catch (const ipct::ScenarioError& e) {
        fail(yaml, threads, std::string("the generator wrote an invalid scenario: ") + e.what());
    }
    ipct::RunOptions o;
    o.run_root = g_run_root;
    o.as_threads = threads;
    // Not the resolved path (the default): /proc/self/exe in the forked
    // child is this process's own image, even after the file was relinked
    // under a running fuzzer (exec of the half-written file: EACCES).
    o.worker_exe = "/proc/self/exe";
    o.keep = false;
    o.keep_failed = true;  // printed, then removed, by fail()
    const std::size_t fds = open_fds();
    ipct::RunOutcome out;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        out = ipct::run_scenario(s, o);
    } catch (const ipct::EnvironmentError& e) {
        // This machine cannot run the scenario (a kernel limit, a missing
        // facility): not a finding.  Said once, so that a run that never
        // exercises a backend does not pass for one that does.
        static bool said = false;
        if (!said) std::cerr << "scenario_fuzzer: skipped (environment): " << e.what() << "\n";
        said = true;
        return;
    } catch (const std::exception& e) {
        fail(yaml, threads, std::string("the harness threw: ") + e.what());
    }
    if (g_print)
        std::cerr << "--- ran: run_scenario "
                  << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                               t0)
                         .count()
                  << " ms, check " << out.check_s * 1e3 << " ms, spawn to end " << out.wall_s * 1e3
                  << " ms, start barrier to end " << out.active_s * 1e3 << " ms\n";
    if (out.interrupted) {
        // SIGINT or SIGTERM reached the orchestrator mid-run (it handles
        // them while a run is live): a request to stop, not a finding.
        std::cerr << "scenario_fuzzer: interrupted by signal " << out.interrupt_signal << "\n";
        remove_run_root();
        std::_Exit(128 + out.interrupt_signal);
    }
    const std::string why = judge(out);
    if (!why.empty()) fail(yaml, threads, why, out.kept ? out.run_dir : std::string());
    if (fs::exists(out.run_dir)) fail(yaml, threads, "the run directory outlived a pass");
    if (open_fds() != fds) fail(yaml, threads, "file descriptors leaked by the run");
}

}  // namespace

// A worker invocation (`<this binary> worker --run-dir ...`, from the
// orchestrator) runs the worker and exits here, before libFuzzer sees argv.
// Otherwise: logging off, and a private run root removed at exit.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    if (*argc > 1 && std::strcmp((*argv)[1], "worker") == 0)
        std::exit(ipct::worker_command(*argc, *argv));
    spdlog::set_level(spdlog::level::off);
    // Workers inherit the environment.  LeakSanitizer's check at each
    // worker's exit costs ~30 ms per process (measured), more than the rest
    // of a small run; this process's own ASan options are already parsed.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string worker_asan =
        std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "detect_leaks=0";
    ::setenv("ASAN_OPTIONS", worker_asan.c_str(), 1);
    char tmpl[] = "/tmp/ipct-scenario-fuzzer-XXXXXX";
    if (!::mkdtemp(tmpl)) {
        std::perror("scenario_fuzzer: mkdtemp");
        std::abort();
    }
    g_run_root = tmpl;
    g_print = std::getenv("IPCT_FUZZ_PRINT") != nullptr;
    std::atexit(remove_run_root);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Grammar g(in);
    const std::string yaml = g.scenario();
    if (g_print)
        std::cerr << "--- scenario" << (g.threads() ? " (--as-threads)" : "") << "\n" << yaml;
    run_one(yaml, g.threads());
    return 0;
}
