#include "ipctorture/bench.hpp"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "ipctorture/errors.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/orchestrator.hpp"
#include "ipctorture/report.hpp"

namespace ipct {

namespace {

constexpr const char* kPlacementEnv = "IPCTORTURE_BENCH_PLACEMENT";

// CPU for the k-th process of a pair under a placement, or -1 for none.
int cpu_for(const std::string& placement, unsigned k) {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (placement == "same") return 0;
    if (placement == "spread") return static_cast<int>(k % std::max(1L, n));
    return -1;
}

void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
}

struct Figure {
    double msgs_per_s = 0;
    double mb_per_s = 0;
    double check_s = 0;
    int cpu_a = -1, cpu_b = -1;  // CPUs seen at the end (producer, consumer)
};

// The baseline: a child writes n messages of `size` bytes from one buffer;
// the parent reads them back whole.  Timed from the first write to the last
// read, both stamped with CLOCK_MONOTONIC as the harness does.
Figure raw_pipe(std::uint64_t n, std::uint32_t size, const std::string& placement) {
    int p[2], t[2];
    if (::pipe(p) != 0 || ::pipe(t) != 0) IPCT_FAIL_ERRNO("pipe");
    pid_t child = ::fork();
    if (child < 0) IPCT_FAIL_ERRNO("fork");
    if (child == 0) {
        pin(cpu_for(placement, 0));
        ::close(p[0]);
        std::vector<char> buf(size, 'x');
        const std::uint64_t t0 = now_ns();
        for (std::uint64_t i = 0; i < n; ++i)
            if (!write_full(p[1], buf.data(), size).ok()) ::_exit(1);
        int cpu = ::sched_getcpu();
        (void)write_full(t[1], &t0, sizeof t0);
        (void)write_full(t[1], &cpu, sizeof cpu);
        ::_exit(0);
    }
    pin(cpu_for(placement, 1));
    ::close(p[1]);
    ::close(t[1]);
    std::vector<char> buf(size);
    for (std::uint64_t i = 0; i < n; ++i)
        if (!read_full(p[0], buf.data(), size).ok()) IPCT_FAIL("raw pipe: short stream");
    const std::uint64_t t1 = now_ns();
    Figure f;
    f.cpu_b = ::sched_getcpu();
    std::uint64_t t0 = 0;
    (void)read_full(t[0], &t0, sizeof t0);
    (void)read_full(t[0], &f.cpu_a, sizeof f.cpu_a);
    ::close(p[0]);
    ::close(t[0]);
    int st;
    ::waitpid(child, &st, 0);
    pin(-1);
    cpu_set_t all;
    CPU_ZERO(&all);
    for (long c = 0; c < ::sysconf(_SC_NPROCESSORS_ONLN); ++c) CPU_SET(c, &all);
    ::sched_setaffinity(0, sizeof all, &all);
    const double secs = double(t1 - t0) / 1e9;
    f.msgs_per_s = double(n) / secs;
    f.mb_per_s = double(n) * size / secs / 1e6;
    return f;
}

Scenario pipe_scenario(std::uint64_t n, std::uint32_t size) {
    Scenario s;
    s.file = "<bench>";
    s.name = "bench-pipe-" + std::to_string(size);
    s.seed = 7;
    s.timeout_s = 600;
    s.perturb = PerturbConfig::off();  // throughput, not races
    s.channels.push_back(ChannelSpec{"data", "pipe", {}, {}});
    ProcessSpec prod;
    prod.role = Role::kProducer;
    prod.channel = "data";
    prod.workload.messages = n;
    prod.workload.size.min = prod.workload.size.max = size;
    ProcessSpec cons;
    cons.role = Role::kConsumer;
    cons.channel = "data";
    s.processes = {prod, cons};
    return s;
}

Figure harness_pipe(std::uint64_t n, std::uint32_t size, const std::string& placement) {
    ::setenv(kPlacementEnv, placement.c_str(), 1);
    RunOutcome o = run_scenario(pipe_scenario(n, size), RunOptions{});
    ::unsetenv(kPlacementEnv);
    if (!o.result.pass()) IPCT_FAIL("bench scenario did not pass: the harness is broken");
    const ChannelStats& c = o.result.channels.at(0);
    const double secs = double(c.last_recv_ns - c.first_send_ns) / 1e9;
    Figure f;
    f.msgs_per_s = double(c.received) / secs;
    f.mb_per_s = double(c.bytes_received) / secs / 1e6;
    f.check_s = o.check_s;
    f.cpu_a = cpu_for(placement, 0);
    f.cpu_b = cpu_for(placement, 1);
    return f;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

void apply_bench_placement(unsigned index) {
    const char* p = std::getenv(kPlacementEnv);
    if (p) pin(cpu_for(p, index));
}

void add_bench_options(CLI::App& cmd, BenchArgs& a) {
    cmd.add_option("--messages", a.messages, "messages per measurement")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--size", a.size, "message size in bytes (header included)")
        ->check(CLI::Range(32u, 1u << 20));
    cmd.add_option("--repeat", a.repeat, "measurements of each; the median is reported")
        ->check(CLI::Range(1, 50));
    cmd.add_option("--placement", a.placement,
                   "spread (producer and consumer on different "
                   "CPUs), same (both on CPU 0) or none")
        ->check(CLI::IsMember({"spread", "same", "none"}));
    cmd.add_option("--json", a.json, "write the figures here");
}

int bench_main(const BenchArgs& a) {
    std::vector<double> raw, har, raw_mb, har_mb, chk;
    Figure last_raw, last_har;
    for (int i = 0; i < a.repeat; ++i) {
        last_raw = raw_pipe(a.messages, a.size, a.placement);
        last_har = harness_pipe(a.messages, a.size, a.placement);
        raw.push_back(last_raw.msgs_per_s);
        raw_mb.push_back(last_raw.mb_per_s);
        har.push_back(last_har.msgs_per_s);
        har_mb.push_back(last_har.mb_per_s);
        chk.push_back(last_har.check_s);
    }
    const double ratio = median(har) / median(raw);
    std::printf(
        "pipe, %u-byte messages, %llu messages, median of %d, placement %s "
        "(producer CPU %d, consumer CPU %d)\n",
        a.size, static_cast<unsigned long long>(a.messages), a.repeat, a.placement.c_str(),
        last_raw.cpu_a, last_raw.cpu_b);
    std::printf("  %-28s %12.0f msgs/s %9.1f MB/s\n", "raw write/read loop", median(raw),
                median(raw_mb));
    std::printf("  %-28s %12.0f msgs/s %9.1f MB/s\n", "harness (log + verify)", median(har),
                median(har_mb));
    std::printf("  ratio harness/raw: %.3f (goal >= 0.9); checker %.3f s for %llu messages\n",
                ratio, median(chk), static_cast<unsigned long long>(a.messages));
    if (!a.json.empty()) {
        nlohmann::json j{{"backend", "pipe"},
                         {"size", a.size},
                         {"messages", a.messages},
                         {"placement", a.placement},
                         {"raw_msgs_per_s", median(raw)},
                         {"raw_mb_per_s", median(raw_mb)},
                         {"harness_msgs_per_s", median(har)},
                         {"harness_mb_per_s", median(har_mb)},
                         {"ratio", ratio},
                         {"checker_s", median(chk)}};
        std::ofstream(a.json) << json_text(j) << "\n";
    }
    return 0;
}

}  // namespace ipct
