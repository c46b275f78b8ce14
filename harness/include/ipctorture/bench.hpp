// `ipctorture bench`: every backend, the harness against a raw baseline in
// the same run.
//
// For each mechanism (a backend, and for shm each sync variant) and message
// size, three ways of moving the same messages, alternating within each
// repetition so that drift hits them all:
//   on   the whole harness: a producer -> consumer scenario with payload
//        generation, verification of every byte, event-log records and the
//        checker afterwards (its verdict is part of the figure);
//   off  the same scenario and backend code (orchestrator, endpoints, end of
//        channel) without payload generation, verification or per-message
//        records;
//   raw  a minimal loop over the mechanism's system calls, built here
//        (bench_raw.cpp), no harness code at all.
// Throughput is streaming producer -> consumer, from before the first send
// to after the last receive.  Latency is ping-pong (a pinger sends one
// message and waits for an echo relay's reply on a second channel): round
// trips from before the send to after the reply, as p50 / p99 / p99.9.
// Every figure carries its CPUs and the load average.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace ipct {

struct BenchArgs {
    std::vector<std::string> backends;  // empty = every mechanism
    std::vector<std::uint32_t> sizes = {64, 4096, 65536};
    std::uint64_t messages = 0;  // per throughput measurement; 0 = from --duration
    std::uint64_t pings = 0;     // round trips per latency measurement; 0 = from --duration
    double duration_s = 0.25;    // what one measurement should take when counts are not given
    int repeat = 3;
    std::string placement = "spread";  // spread | same | any
    bool throughput = true;
    bool latency = true;
    bool short_form = false;
    // A planted bug (a backend's mutant) on the measured channels, harness
    // on and off; its findings fail the bench.  Empty = the correct code.
    std::string mutant;
    std::string json;
    std::string html;       // --html FILE: the page bench_html.cpp draws from the JSON
    std::string from_json;  // --from-json FILE: measure nothing, write --html from it
};

void add_bench_options(CLI::App& cmd, BenchArgs& a);
// Exit status: 0 every harness-on run passed its checker, 1 one had
// findings (named on stderr and in the JSON), 2 usage, 3 environment.
int bench_main(const BenchArgs& a);

struct RoleContext;
// In a worker: whether `ipctorture bench` asked for the harness-off roles
// (bench_worker.cpp), and those roles.
bool bench_harness_off();
int run_bench_off_role(RoleContext& c);

}  // namespace ipct
