#include "ipctorture/bench.hpp"

#include <sched.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vector>

#include "bench_detail.hpp"
#include "ipctorture/backend.hpp"
#include "ipctorture/bench_html.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/perturb.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/report.hpp"

namespace ipct {

namespace {

using bench::RawMech;
using bench::RawResult;
using nlohmann::json;

std::uint64_t proc_value(const char* path, std::uint64_t def) {
    std::ifstream in(path);
    std::uint64_t v = def;
    if (!(in >> v)) return def;
    return v;
}

// One row of the comparison: a backend with the options that pick a
// variant, and the raw loop it is held against.
struct Mechanism {
    std::string name;     // as --backends names it
    std::string backend;  // registry name
    std::vector<std::pair<std::string, std::string>> options;
    RawMech raw;
    std::string raw_what;      // what the raw loop does
    std::string relationship;  // which processes can use it
    bool header_only = false;  // every message is the header (signals)
};

std::vector<Mechanism> mechanisms() {
    const std::string local = "same host";
    return {
        {"pipe", "pipe", {}, RawMech::kPipe, "pipe(), write()/read()", "related (inherited fd)"},
        {"fifo",
         "fifo",
         {},
         RawMech::kFifo,
         "mkfifo(), write()/read()",
         "unrelated (a path), " + local},
        {"posix_mq",
         "posix_mq",
         {},
         RawMech::kPosixMq,
         "mq_send()/mq_receive(), 10 messages deep",
         "unrelated (a name), " + local},
        {"sysv_msg",
         "sysv_msg",
         {},
         RawMech::kSysvMsg,
         "msgsnd()/msgrcv()",
         "unrelated (a key or id), " + local},
        {"unix_stream",
         "unix_stream",
         {},
         RawMech::kUnixStream,
         "socketpair(SOCK_STREAM)",
         "unrelated (a socket path), " + local},
        {"unix_dgram",
         "unix_dgram",
         {},
         RawMech::kUnixDgram,
         "socketpair(SOCK_DGRAM)",
         "unrelated (a socket path), " + local},
        {"unix_seqpacket",
         "unix_seqpacket",
         {},
         RawMech::kUnixSeqpacket,
         "socketpair(SOCK_SEQPACKET)",
         "unrelated (a socket path), " + local},
        {"tcp",
         "tcp",
         {{"nodelay", "true"}},
         RawMech::kTcp,
         "loopback TCP, TCP_NODELAY",
         "unrelated, any host (loopback here)"},
        {"udp",
         "udp",
         {},
         RawMech::kUdp,
         "loopback UDP, connected sockets",
         "unrelated, any host (loopback here)"},
        {"shm:atomic",
         "shm",
         {{"sync", "atomic"}},
         RawMech::kShmSpsc,
         "lock-free SPSC ring in a shared mapping, spin/yield/sleep waits",
         "unrelated (a name), " + local},
        {"shm:none",
         "shm",
         {{"sync", "none"}},
         RawMech::kShmSpsc,
         "lock-free SPSC ring in a shared mapping, spin/yield/sleep waits",
         "unrelated (a name), " + local + "; correct for 1 producer, 1 consumer only"},
        {"shm:mutex",
         "shm",
         {{"sync", "mutex"}},
         RawMech::kShmMutex,
         "ring under a process-shared mutex + condition variables",
         "unrelated (a name), " + local},
        {"shm:semaphore",
         "shm",
         {{"sync", "semaphore"}},
         RawMech::kShmSemaphore,
         "ring counted by two process-shared semaphores",
         "unrelated (a name), " + local},
        {"signal",
         "signal",
         {{"retry_full", "true"}},
         RawMech::kSignal,
         "sigqueue()/sigwaitinfo(), one real-time signal",
         "unrelated (a pid), " + local + ", same user",
         true},
    };
}

// The largest message, as the live kernel limits and the bench's options
// allow it.
std::string data_limit(const Mechanism& m) {
    auto kib = [](std::uint64_t b) { return std::to_string(b) + " B"; };
    if (m.backend == "pipe" || m.backend == "fifo")
        return "byte stream; writes up to PIPE_BUF (4096 B) atomic; 64 KiB buffered";
    if (m.backend == "posix_mq")
        return "msgsize_max " + kib(proc_value("/proc/sys/fs/mqueue/msgsize_max", 8192)) +
               ", msg_max " + std::to_string(proc_value("/proc/sys/fs/mqueue/msg_max", 10));
    if (m.backend == "sysv_msg")
        return "msgmax " + kib(proc_value("/proc/sys/kernel/msgmax", 8192)) + ", msgmnb " +
               kib(proc_value("/proc/sys/kernel/msgmnb", 16384)) + " per queue";
    if (m.backend == "unix_stream" || m.backend == "tcp") return "byte stream, no limit";
    if (m.backend == "unix_dgram" || m.backend == "unix_seqpacket")
        return "datagram up to SO_SNDBUF (wmem_max " +
               kib(proc_value("/proc/sys/net/core/wmem_max", 212992)) + ")";
    if (m.backend == "udp") return "65507 B per datagram; loss allowed";
    if (m.backend == "shm") return "slot size (set to the message size), 64 slots";
    if (m.backend == "signal")
        return "one sigval: the " + std::to_string(kHeaderSize) + "-byte header";
    return "";
}

Options make_options(const Mechanism& m, std::uint32_t size) {
    Options o;
    for (const auto& [k, v] : m.options) o[k] = OptionValue{v, {}};
    if (m.backend == "posix_mq") o["msgsize"] = OptionValue{std::to_string(size), {}};
    if (m.backend == "shm") o["slot_size"] = OptionValue{std::to_string(size), {}};
    return o;
}

Workload fixed(std::uint64_t n, std::uint32_t size) {
    Workload w;
    w.messages = n;
    w.size.kind = SizeDist::Kind::kFixed;
    w.size.min = w.size.max = size;
    return w;
}

Scenario base_scenario(const std::string& name, const std::string& placement) {
    Scenario s;
    s.file = "<bench>";
    s.name = name;
    s.seed = 7;
    s.timeout_s = 300;
    s.perturb = PerturbConfig::off();  // throughput, not races
    CpuPlacement c;
    c.kind = placement == "same"     ? CpuPlacement::Kind::kSame
             : placement == "spread" ? CpuPlacement::Kind::kSpread
                                     : CpuPlacement::Kind::kAny;
    s.cpus = c;
    return s;
}

Scenario stream_scenario(const Mechanism& m, std::uint32_t size, std::uint64_t n,
                         const std::string& placement, const std::string& mutant) {
    Scenario s = base_scenario("bench-" + m.name + "-" + std::to_string(size), placement);
    s.channels.push_back(ChannelSpec{"data", m.backend, make_options(m, size), {}, mutant});
    ProcessSpec prod;
    prod.role = Role::kProducer;
    prod.name = "producer";
    prod.channel = "data";
    prod.workload = fixed(n, size);
    ProcessSpec cons;
    cons.role = Role::kConsumer;
    cons.name = "consumer";
    cons.channel = "data";
    s.processes = {prod, cons};
    return s;
}

// A pinger (a producer that reads replies) and an echo relay.
Scenario pingpong_scenario(const Mechanism& m, std::uint32_t size, std::uint64_t n,
                           const std::string& placement, const std::string& mutant) {
    Scenario s = base_scenario("bench-pingpong-" + m.name + "-" + std::to_string(size), placement);
    s.channels.push_back(ChannelSpec{"ping", m.backend, make_options(m, size), {}, mutant});
    s.channels.push_back(ChannelSpec{"pong", m.backend, make_options(m, size), {}, mutant});
    ProcessSpec pinger;
    pinger.role = Role::kProducer;
    pinger.name = "pinger";
    pinger.channel = "ping";
    pinger.input = "pong";
    pinger.workload = fixed(n, size);
    ProcessSpec echo;
    echo.role = Role::kRelay;
    echo.name = "echo";
    echo.input = "ping";
    echo.output = "pong";
    s.processes = {pinger, echo};
    return s;
}

std::vector<double> load_average() {
    double l[3] = {0, 0, 0};
    if (::getloadavg(l, 3) != 3) return {};
    return {l[0], l[1], l[2]};
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(const std::vector<std::uint64_t>& sorted, double q) {
    if (sorted.empty()) return 0;
    const auto k = static_cast<std::size_t>(std::ceil(q * double(sorted.size())));
    return double(sorted[std::min(sorted.size() - 1, k == 0 ? 0 : k - 1)]);
}

// One measurement of one mode.
struct Run {
    double msgs_per_s = 0, mb_per_s = 0, secs = 0;
    std::uint64_t messages = 0, bytes = 0;
    std::vector<std::uint64_t> rtt;  // sorted
    std::vector<int> cpus;           // producer (pinger), consumer (echo)
    std::vector<double> load;
    std::string verdict;  // harness on: "pass" or "fail"
    std::uint64_t findings = 0;
    double check_s = 0;

    json to_json(bool latency) const {
        json j{{"secs", secs}, {"messages", messages}, {"cpus", cpus}, {"load", load}};
        if (latency) {
            j["p50_ns"] = percentile(rtt, 0.5);
            j["p99_ns"] = percentile(rtt, 0.99);
            j["p999_ns"] = percentile(rtt, 0.999);
            j["samples"] = rtt.size();
        } else {
            j["msgs_per_s"] = msgs_per_s;
            j["mb_per_s"] = mb_per_s;
            j["bytes"] = bytes;
        }
        if (!verdict.empty()) {
            j["verdict"] = verdict;
            j["findings"] = findings;
            j["check_s"] = check_s;
        }
        return j;
    }
};

Run from_raw(const RawResult& r) {
    Run x;
    x.secs = r.secs;
    x.messages = r.messages;
    x.bytes = r.bytes;
    x.msgs_per_s = double(r.messages) / r.secs;
    x.mb_per_s = double(r.bytes) / r.secs / 1e6;
    x.rtt = r.rtt_ns;
    std::sort(x.rtt.begin(), x.rtt.end());
    x.cpus = {r.cpu_a, r.cpu_b};
    return x;
}

std::vector<int> plan_cpus(const Plan& p) {
    std::vector<int> v;
    for (const auto& q : p.processes) v.push_back(q.cpus.empty() ? -1 : q.cpus.front());
    return v;
}

json read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) IPCT_FAIL("bench: the harness-off worker wrote no figures (" + path + ")");
    json j;
    in >> j;
    return j;
}

void remove_dir(const std::string& d) {
    std::error_code ec;
    if (!d.empty()) std::filesystem::remove_all(d, ec);
}

// Sets the harness-off variable for the workers this process starts.
struct OffMode {
    explicit OffMode(bool on) : on_(on) {
        if (on_) ::setenv(bench::kModeEnv, "off", 1);
    }
    ~OffMode() {
        if (on_) ::unsetenv(bench::kModeEnv);
    }
    bool on_;
};

// SIGINT/SIGTERM stopped a run: the bench stops with 128 + N.
struct Interrupted {
    int sig;
};

// What a failing harness-on run looked like, for stderr and the JSON.
struct Failure {
    std::string cell;
    std::string run_dir;
    std::vector<std::string> findings;  // as listed by the checker (capped per kind)
    std::uint64_t total = 0;
};

RunOutcome run_checked(const Scenario& s, bool off, bool keep, std::vector<Failure>& failures,
                       const std::string& cell) {
    OffMode mode(off);
    RunOptions o;
    o.keep = keep;
    RunOutcome out = run_scenario(s, o);
    if (out.interrupted) throw Interrupted{out.interrupt_signal};
    if (!out.result.pass()) {
        Failure f{
            cell + (off ? " (harness off)" : ""), out.run_dir, {}, out.result.total_findings()};
        for (const auto& x : out.result.findings)
            f.findings.push_back(std::string(finding_kind_name(x.kind)) + ": " + x.summary);
        if (f.findings.empty()) f.findings.push_back("a worker failed");
        failures.push_back(std::move(f));
    }
    return out;
}

Run harness_stream(const Mechanism& m, std::uint32_t size, std::uint64_t n, const BenchArgs& a,
                   bool off, std::vector<Failure>& failures, const std::string& cell) {
    const Scenario s = stream_scenario(m, size, n, a.placement, a.mutant);
    Run r;
    r.load = load_average();
    RunOutcome o = run_checked(s, off, off, failures, cell);
    r.cpus = plan_cpus(o.plan);
    std::uint64_t t0 = 0, t1 = 0;
    if (off) {
        const json p = read_json(bench::bench_result_path(o.run_dir, 0));
        const json c = read_json(bench::bench_result_path(o.run_dir, 1));
        if (p.at("err").get<int>() != 0)
            IPCT_FAIL("bench " + cell + " (harness off): a send failed with " +
                      errno_name(p.at("err").get<int>()));
        t0 = p.at("t_first_send").get<std::uint64_t>();
        t1 = c.at("t_last_recv").get<std::uint64_t>();
        r.bytes = c.at("bytes").get<std::uint64_t>();
        const bool boundaries = o.plan.channels.at(0).boundaries;
        r.messages = boundaries ? c.at("receives").get<std::uint64_t>() : r.bytes / size;
        if (o.result.pass()) remove_dir(o.run_dir);
    } else {
        const ChannelStats& c = o.result.channels.at(0);
        t0 = c.first_send_ns;
        t1 = c.last_recv_ns;
        r.messages = c.received;
        r.bytes = c.bytes_received;
        r.verdict = o.result.pass() ? "pass" : "fail";
        r.findings = o.result.total_findings();
        r.check_s = o.check_s;
    }
    if (r.messages == 0 || t1 <= t0) {
        if (!o.result.pass()) return r;  // the failure is reported as such
        IPCT_FAIL("bench " + cell + ": nothing was received");
    }
    r.secs = double(t1 - t0) / 1e9;
    r.msgs_per_s = double(r.messages) / r.secs;
    r.mb_per_s = double(r.bytes) / r.secs / 1e6;
    return r;
}

// Round trips from the pinger's own history: each send's start to the end
// of the receive that completed its reply.
std::vector<std::uint64_t> rtts_from_log(const std::string& run_dir, std::uint64_t n) {
    EventLogReader log(event_log_path(run_dir, 0));
    std::vector<std::uint64_t> sent(n, 0), rtt;
    rtt.reserve(n);
    for (std::uint64_t i = 0; i < log.size(); ++i) {
        const Record& r = log[i];
        if (r.status != Status::kOk || r.seq >= n) continue;
        if (r.op == Op::kSend && r.channel == 0) sent[r.seq] = r.t_start;
        if (r.op == Op::kRecv && r.channel == 1 && sent[r.seq] && r.t_end > sent[r.seq])
            rtt.push_back(r.t_end - sent[r.seq]);
    }
    return rtt;
}

Run harness_pingpong(const Mechanism& m, std::uint32_t size, std::uint64_t n, const BenchArgs& a,
                     bool off, std::vector<Failure>& failures, const std::string& cell) {
    const Scenario s = pingpong_scenario(m, size, n, a.placement, a.mutant);
    Run r;
    r.load = load_average();
    RunOutcome o = run_checked(s, off, true, failures, cell + " ping-pong");
    r.cpus = plan_cpus(o.plan);
    if (off) {
        r.rtt = read_json(bench::bench_result_path(o.run_dir, 0))
                    .at("rtt_ns")
                    .get<std::vector<std::uint64_t>>();
    } else {
        r.rtt = rtts_from_log(o.run_dir, n);
        r.verdict = o.result.pass() ? "pass" : "fail";
        r.findings = o.result.total_findings();
        r.check_s = o.check_s;
    }
    if (o.result.pass()) remove_dir(o.run_dir);
    std::sort(r.rtt.begin(), r.rtt.end());
    r.messages = r.rtt.size();
    r.bytes = r.messages * size;
    if (r.rtt.empty() && o.result.pass())
        IPCT_FAIL("bench " + cell + " ping-pong: no round trip completed");
    return r;
}

// The CPUs the harness places the two processes on, for the raw loops.
std::pair<int, int> raw_cpus(const std::string& placement) {
    const std::vector<int> cpus = allowed_cpus();
    if (placement == "any" || cpus.empty()) return {-1, -1};
    if (placement == "same") return {cpus[0], cpus[0]};
    return {cpus[0], cpus[cpus.size() > 1 ? 1 : 0]};
}

struct Cell {
    const Mechanism* mech = nullptr;
    std::uint32_t size = 0;
    std::string absent;  // why the cell is not measured; empty = measured
    std::uint64_t messages = 0, pings = 0;
    std::map<std::string, std::vector<Run>> tput, lat;  // by mode: raw, off, on

    std::string label() const { return mech->name + "/" + std::to_string(size); }
};

const char* const kModes[] = {"raw", "off", "on"};

std::string why_absent(const Mechanism& m, std::uint32_t size, const BenchArgs& a) {
    if (m.header_only && size != kHeaderSize)
        return "a real-time signal carries one sigval: every message is the " +
               std::to_string(kHeaderSize) + "-byte header (measured at " +
               std::to_string(kHeaderSize) + " B)";
    if (!a.mutant.empty()) {
        bool known = false;
        for (const MutantInfo& mi : find_backend(m.backend)->mutants())
            known |= mi.name == a.mutant;
        if (!known)
            return "backend " + m.backend + " has no mutant '" + a.mutant +
                   "' (ipctorture explain " + m.backend + " lists its mutants)";
    }
    if (size < kHeaderSize)
        return "below the " + std::to_string(kHeaderSize) + "-byte message header";
    try {
        validate_scenario(stream_scenario(m, size, 1, a.placement, a.mutant));
    } catch (const ScenarioError& e) {
        // The bench's own scenario has no file: keep the message only.
        std::string w = e.what();
        if (w.rfind(":0:0: ", 0) == 0) w.erase(0, 6);
        return w;
    }
    return "";
}

// Counts from --duration: a short raw probe gives the rate.
void calibrate(Cell& c, const BenchArgs& a, std::pair<int, int> cpus) {
    const std::uint32_t size = c.size;
    c.messages = a.messages;
    c.pings = a.pings;
    if (a.throughput && c.messages == 0) {
        const std::uint64_t probe = size >= 65536 ? 300 : 2000;
        const RawResult r = bench::raw_stream(c.mech->raw, size, probe, cpus.first, cpus.second);
        const double rate = double(r.messages) / std::max(r.secs, 1e-6);
        c.messages = std::clamp<std::uint64_t>(std::uint64_t(rate * a.duration_s), 200, 5'000'000);
    }
    if (a.latency && c.pings == 0) {
        const RawResult r = bench::raw_pingpong(c.mech->raw, size, 200, cpus.first, cpus.second);
        const double per = std::max(r.secs / std::max<double>(double(r.messages), 1), 1e-7);
        c.pings = std::clamp<std::uint64_t>(std::uint64_t(a.duration_s / per / 2), 100, 500'000);
    }
}

void measure(Cell& c, const BenchArgs& a, std::pair<int, int> cpus, int rep,
             std::vector<Failure>& failures) {
    const Mechanism& m = *c.mech;
    // Rotate the order of the modes from one repetition to the next.
    for (int k = 0; k < 3; ++k) {
        const std::string mode = kModes[(k + rep) % 3];
        if (a.throughput) {
            Run r;
            if (mode == "raw") {
                r.load = load_average();
                const std::vector<double> load = r.load;
                r = from_raw(bench::raw_stream(m.raw, c.size, c.messages, cpus.first, cpus.second));
                r.load = load;
            } else {
                r = harness_stream(m, c.size, c.messages, a, mode == "off", failures, c.label());
            }
            c.tput[mode].push_back(std::move(r));
        }
        if (a.latency) {
            Run r;
            if (mode == "raw") {
                const std::vector<double> load = load_average();
                r = from_raw(bench::raw_pingpong(m.raw, c.size, c.pings, cpus.first, cpus.second));
                r.load = load;
            } else {
                r = harness_pingpong(m, c.size, c.pings, a, mode == "off", failures, c.label());
            }
            c.lat[mode].push_back(std::move(r));
        }
    }
}

double med_of(const std::vector<Run>& runs, double Run::*f) {
    std::vector<double> v;
    for (const Run& r : runs) v.push_back(r.*f);
    return median(v);
}

double med_pct(const std::vector<Run>& runs, double q) {
    std::vector<double> v;
    for (const Run& r : runs) v.push_back(percentile(r.rtt, q));
    return median(v);
}

// The median of the per-repetition ratios (each pair measured side by side).
double ratio(const std::vector<Run>& num, const std::vector<Run>& den) {
    std::vector<double> v;
    for (std::size_t i = 0; i < std::min(num.size(), den.size()); ++i)
        if (den[i].msgs_per_s > 0) v.push_back(num[i].msgs_per_s / den[i].msgs_per_s);
    return median(v);
}

std::string rate_text(double msgs, double mb) {
    char b[64];
    if (msgs >= 1e6)
        std::snprintf(b, sizeof b, "%.2fM/s %6.0fMB/s", msgs / 1e6, mb);
    else
        std::snprintf(b, sizeof b, "%5.0fk/s %6.0fMB/s", msgs / 1e3, mb);
    return b;
}

std::string us(double ns) {
    char b[32];
    std::snprintf(b, sizeof b, ns >= 1e5 ? "%.0f" : "%.1f", ns / 1e3);
    return b;
}

std::string cpus_text(const std::vector<Run>& runs) {
    if (runs.empty()) return "";
    std::string s;
    for (int c : runs.back().cpus) s += (s.empty() ? "" : ",") + (c < 0 ? "*" : std::to_string(c));
    return s;
}

std::string load_text(const std::vector<Run>& runs) {
    std::vector<double> v;
    for (const Run& r : runs)
        if (!r.load.empty()) v.push_back(r.load[0]);
    if (v.empty()) return "";
    char b[32];
    std::snprintf(b, sizeof b, "%.1f-%.1f", *std::min_element(v.begin(), v.end()),
                  *std::max_element(v.begin(), v.end()));
    return b;
}

std::string verdict_text(const Cell& c) {
    std::uint64_t f = 0;
    bool any = false;
    for (const auto* m : {&c.tput, &c.lat})
        if (auto it = m->find("on"); it != m->end())
            for (const Run& r : it->second) {
                any = true;
                f += r.findings;
            }
    if (!any) return "";
    return f ? "FAIL(" + std::to_string(f) + ")" : "pass";
}

std::string size_text(std::uint32_t s) {
    if (s >= 1024 && s % 1024 == 0) return std::to_string(s / 1024) + "K";
    return std::to_string(s);
}

void print_tables(const std::vector<Cell>& cells, const BenchArgs& a) {
    if (a.short_form) {
        for (const Cell& c : cells) {
            if (!c.absent.empty()) continue;
            std::printf("%-15s %5s", c.mech->name.c_str(), size_text(c.size).c_str());
            if (a.throughput)
                std::printf("  on/raw %.2f off/raw %.2f", ratio(c.tput.at("on"), c.tput.at("raw")),
                            ratio(c.tput.at("off"), c.tput.at("raw")));
            if (a.latency)
                std::printf("  p50 us raw %s off %s on %s",
                            us(med_pct(c.lat.at("raw"), 0.5)).c_str(),
                            us(med_pct(c.lat.at("off"), 0.5)).c_str(),
                            us(med_pct(c.lat.at("on"), 0.5)).c_str());
            std::printf("  %s\n", verdict_text(c).c_str());
        }
        return;
    }
    if (a.throughput) {
        std::printf(
            "\nTHROUGHPUT (streaming producer -> consumer; median of %d; ratios: median of the "
            "per-repetition ratios)\n",
            a.repeat);
        std::printf("%-15s %5s %9s %21s %21s %21s %7s %7s %7s %-5s %s\n", "MECHANISM", "SIZE",
                    "MESSAGES", "RAW", "HARNESS OFF", "HARNESS ON", "ON/RAW", "OFF/RAW", "CHECK",
                    "CPUS", "LOAD");
        for (const Cell& c : cells) {
            if (!c.absent.empty()) continue;
            const auto &raw = c.tput.at("raw"), &off = c.tput.at("off"), &on = c.tput.at("on");
            std::printf(
                "%-15s %5s %9llu %21s %21s %21s %7.2f %7.2f %7s %-5s %s\n", c.mech->name.c_str(),
                size_text(c.size).c_str(), static_cast<unsigned long long>(c.messages),
                rate_text(med_of(raw, &Run::msgs_per_s), med_of(raw, &Run::mb_per_s)).c_str(),
                rate_text(med_of(off, &Run::msgs_per_s), med_of(off, &Run::mb_per_s)).c_str(),
                rate_text(med_of(on, &Run::msgs_per_s), med_of(on, &Run::mb_per_s)).c_str(),
                ratio(on, raw), ratio(off, raw), verdict_text(c).c_str(), cpus_text(on).c_str(),
                load_text(on).c_str());
        }
    }
    if (a.latency) {
        std::printf(
            "\nLATENCY (ping-pong round trip, microseconds, p50 / p99 / p99.9; median of %d)\n",
            a.repeat);
        std::printf("%-15s %5s %7s %24s %24s %24s %7s %-5s %s\n", "MECHANISM", "SIZE", "PINGS",
                    "RAW", "HARNESS OFF", "HARNESS ON", "CHECK", "CPUS", "LOAD");
        for (const Cell& c : cells) {
            if (!c.absent.empty()) continue;
            auto trip = [](const std::vector<Run>& r) {
                return us(med_pct(r, 0.5)) + " / " + us(med_pct(r, 0.99)) + " / " +
                       us(med_pct(r, 0.999));
            };
            std::printf("%-15s %5s %7llu %24s %24s %24s %7s %-5s %s\n", c.mech->name.c_str(),
                        size_text(c.size).c_str(), static_cast<unsigned long long>(c.pings),
                        trip(c.lat.at("raw")).c_str(), trip(c.lat.at("off")).c_str(),
                        trip(c.lat.at("on")).c_str(), verdict_text(c).c_str(),
                        cpus_text(c.lat.at("on")).c_str(), load_text(c.lat.at("on")).c_str());
        }
    }
    // The classic comparison: one line per mechanism.
    std::printf(
        "\nCOMPARISON (harness on; throughput at the largest measured size, latency p50 at "
        "the smallest)\n");
    std::printf("%-15s %-24s %-12s %-66s %s\n", "MECHANISM", "THROUGHPUT", "LATENCY p50",
                "DATA SIZE LIMIT", "PROCESS RELATIONSHIP");
    std::vector<std::string> seen;
    for (const Cell& c : cells) {
        if (std::find(seen.begin(), seen.end(), c.mech->name) != seen.end()) continue;
        seen.push_back(c.mech->name);
        const Cell *small = nullptr, *large = nullptr;
        for (const Cell& d : cells)
            if (d.mech == c.mech && d.absent.empty()) {
                if (!small || d.size < small->size) small = &d;
                if (!large || d.size > large->size) large = &d;
            }
        std::string tp = "-", lat = "-";
        if (large && a.throughput)
            tp = std::to_string(static_cast<long>(med_of(large->tput.at("on"), &Run::mb_per_s))) +
                 " MB/s @" + size_text(large->size);
        if (small && a.latency) lat = us(med_pct(small->lat.at("on"), 0.5)) + " us";
        std::printf("%-15s %-24s %-12s %-66s %s\n", c.mech->name.c_str(), tp.c_str(), lat.c_str(),
                    data_limit(*c.mech).c_str(), c.mech->relationship.c_str());
    }
    bool absent = false;
    for (const Cell& c : cells)
        if (!c.absent.empty()) {
            if (!absent) std::printf("\nNOT MEASURED\n");
            absent = true;
            std::printf("%-15s %5s  %s\n", c.mech->name.c_str(), size_text(c.size).c_str(),
                        c.absent.c_str());
        }
}

json cell_json(const Cell& c, const BenchArgs& a) {
    json j{{"mechanism", c.mech->name},
           {"backend", c.mech->backend},
           {"size", c.size},
           {"relationship", c.mech->relationship},
           {"data_limit", data_limit(*c.mech)},
           {"raw_loop", c.mech->raw_what}};
    json opts = json::object();
    for (const auto& [k, v] : make_options(*c.mech, c.size)) opts[k] = v.text;
    j["options"] = opts;
    if (!c.absent.empty()) {
        j["status"] = "absent";
        j["reason"] = c.absent;
        return j;
    }
    j["status"] = "measured";
    if (a.throughput) {
        json t{{"messages", c.messages}};
        for (const char* m : kModes) {
            const auto& runs = c.tput.at(m);
            json runs_j = json::array();
            for (const Run& r : runs) runs_j.push_back(r.to_json(false));
            t[m] = {{"msgs_per_s", med_of(runs, &Run::msgs_per_s)},
                    {"mb_per_s", med_of(runs, &Run::mb_per_s)},
                    {"runs", runs_j}};
        }
        t["ratio_on_raw"] = ratio(c.tput.at("on"), c.tput.at("raw"));
        t["ratio_off_raw"] = ratio(c.tput.at("off"), c.tput.at("raw"));
        j["throughput"] = t;
    }
    if (a.latency) {
        json l{{"pings", c.pings}};
        for (const char* m : kModes) {
            const auto& runs = c.lat.at(m);
            json runs_j = json::array();
            for (const Run& r : runs) runs_j.push_back(r.to_json(true));
            l[m] = {{"p50_ns", med_pct(runs, 0.5)},
                    {"p99_ns", med_pct(runs, 0.99)},
                    {"p999_ns", med_pct(runs, 0.999)},
                    {"runs", runs_j}};
        }
        j["latency"] = l;
    }
    const std::string v = verdict_text(c);
    j["checker"] = v == "pass" ? "pass" : "fail";
    return j;
}

json machine_json() {
    utsname u{};
    ::uname(&u);
    return {{"cpus_online", ::sysconf(_SC_NPROCESSORS_ONLN)},
            {"kernel", std::string(u.release)},
            {"machine", std::string(u.machine)},
            {"load_at_start", load_average()}};
}

}  // namespace

void add_bench_options(CLI::App& cmd, BenchArgs& a) {
    std::vector<std::string> names;
    for (const Mechanism& m : mechanisms()) names.push_back(m.name);
    names.push_back("shm");
    cmd.add_option("--backends", a.backends,
                   "mechanisms to measure (comma-separated; shm = every shm sync variant); "
                   "default all")
        ->delimiter(',')
        ->check(CLI::IsMember(names));
    cmd.add_option("--sizes,--size", a.sizes, "message sizes in bytes, header included")
        ->delimiter(',')
        ->check(CLI::Range(32u, 1u << 20));
    cmd.add_option("--messages", a.messages,
                   "messages per throughput measurement (default: what --duration takes)");
    cmd.add_option("--pings", a.pings,
                   "round trips per latency measurement (default: what --duration takes)");
    cmd.add_option("--duration", a.duration_s,
                   "seconds one raw measurement should take, for the counts not given")
        ->check(CLI::Range(0.001, 600.0));
    cmd.add_option("--repeat", a.repeat, "measurements of each; medians are reported")
        ->check(CLI::Range(1, 50));
    cmd.add_option("--placement", a.placement,
                   "spread (producer and consumer on different CPUs), same (both on one CPU) or "
                   "any (not pinned)")
        ->transform(CLI::Transformer({{"none", "any"}}))
        ->check(CLI::IsMember({"spread", "same", "any"}));
    cmd.add_flag("!--no-throughput", a.throughput, "skip the streaming measurements");
    cmd.add_flag("!--no-latency", a.latency, "skip the ping-pong measurements");
    cmd.add_flag("--short", a.short_form, "one line per cell");
    cmd.add_option("--mutant", a.mutant,
                   "run a backend's planted bug (ipctorture explain BACKEND) on the measured "
                   "channels; the checker's findings fail the bench");
    cmd.add_option("--json", a.json, "write every figure here");
    cmd.add_option("--html", a.html,
                   "write an HTML page of the figures here (one self-contained file: the "
                   "machine, the tables, a chart of the on/raw ratios, the failures)");
    cmd.add_option("--from-json", a.from_json,
                   "measure nothing: write --html from a JSON an earlier bench --json wrote");
}

int bench_main(const BenchArgs& a) {
    if (!a.from_json.empty()) return bench_html_from_json(a.from_json, a.html);
    if (!a.throughput && !a.latency) {
        std::fprintf(stderr, "bench: --no-throughput and --no-latency leave nothing to measure\n");
        return 2;
    }
    const std::vector<Mechanism> all = mechanisms();
    std::vector<const Mechanism*> chosen;
    for (const Mechanism& m : all) {
        bool want = a.backends.empty();
        for (const std::string& b : a.backends)
            want = want || b == m.name || (b == "shm" && m.backend == "shm");
        if (want) chosen.push_back(&m);
    }
    std::vector<std::uint32_t> sizes = a.sizes;
    std::sort(sizes.begin(), sizes.end());
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());

    const std::string root = default_run_root();
    const bool root_existed = std::filesystem::exists(root);
    const auto cpus = raw_cpus(a.placement);
    std::vector<Cell> cells;
    for (const Mechanism* m : chosen) {
        for (std::uint32_t size : sizes) {
            Cell c;
            c.mech = m;
            c.size = size;
            c.absent = why_absent(*m, size, a);
            cells.push_back(std::move(c));
        }
        if (m->header_only && !std::count(sizes.begin(), sizes.end(), kHeaderSize)) {
            Cell c;
            c.mech = m;
            c.size = static_cast<std::uint32_t>(kHeaderSize);
            c.absent = why_absent(*m, c.size, a);
            cells.push_back(std::move(c));
        }
    }
    if (std::none_of(cells.begin(), cells.end(), [](const Cell& c) { return c.absent.empty(); })) {
        std::fprintf(stderr, "bench: no cell can be measured:\n");
        for (const Cell& c : cells)
            std::fprintf(stderr, "  %s: %s\n", c.label().c_str(), c.absent.c_str());
        return 2;
    }
    std::vector<Failure> failures;
    const std::vector<double> load0 = load_average();
    std::fprintf(stderr, "bench: %zu cells, placement %s, repeat %d, load average %.2f\n",
                 cells.size(), a.placement.c_str(), a.repeat, load0.empty() ? 0.0 : load0[0]);
    for (Cell& c : cells) {
        if (!c.absent.empty()) continue;
        calibrate(c, a, cpus);
        try {
            for (int rep = 0; rep < a.repeat; ++rep) measure(c, a, cpus, rep, failures);
        } catch (const Interrupted& i) {
            std::fprintf(stderr, "bench: interrupted by signal %d\n", i.sig);
            return 128 + i.sig;
        }
        std::fprintf(stderr, "bench: %s done (%llu messages, %llu pings)\n", c.label().c_str(),
                     static_cast<unsigned long long>(c.messages),
                     static_cast<unsigned long long>(c.pings));
    }
    if (!root_existed) {
        std::error_code ec;
        std::filesystem::remove(root, ec);  // only if empty
    }
    print_tables(cells, a);
    for (const Failure& f : failures) {
        std::fprintf(stderr,
                     "\nbench: %s: the checker found %llu problem(s) with the harness on; run "
                     "directory kept: %s\n",
                     f.cell.c_str(), static_cast<unsigned long long>(f.total), f.run_dir.c_str());
        for (std::size_t k = 0; k < std::min<std::size_t>(f.findings.size(), 5); ++k)
            std::fprintf(stderr, "  %s\n", f.findings[k].c_str());
        if (f.total > 5)
            std::fprintf(stderr, "  ... and %llu more (ipctorture check %s)\n",
                         static_cast<unsigned long long>(f.total - 5), f.run_dir.c_str());
    }
    if (!a.json.empty() || !a.html.empty()) {
        json cj = json::array();
        for (const Cell& c : cells) cj.push_back(cell_json(c, a));
        json fj = json::array();
        for (const Failure& f : failures)
            fj.push_back({{"cell", f.cell},
                          {"run_dir", f.run_dir},
                          {"total", f.total},
                          {"findings", f.findings}});
        json j{{"machine", machine_json()},
               {"placement", a.placement},
               {"mutant", a.mutant},
               {"repeat", a.repeat},
               {"duration_s", a.duration_s},
               {"load_at_end", load_average()},
               {"cells", cj},
               {"failures", fj},
               {"verdict", failures.empty() ? "pass" : "fail"}};
        if (!a.json.empty()) {
            std::ofstream out(a.json);
            out << json_text(j) << "\n";
            if (!out) {
                std::fprintf(stderr, "bench: cannot write %s\n", a.json.c_str());
                return 3;
            }
        }
        if (!a.html.empty()) write_bench_html(a.html, j);
    }
    return failures.empty() ? 0 : 1;
}

}  // namespace ipct
