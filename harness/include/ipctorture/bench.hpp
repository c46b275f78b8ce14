// `ipctorture bench`: the harness against a raw baseline in the same run.
//
// pipe: a producer -> consumer scenario over an anonymous pipe, with event
// logging, payload generation and verification on and the checker run after,
// against a minimal two-process write()/read() loop over a pipe with the same
// message size.  Rates are taken from the first send to the last receive in
// both, so process start-up is outside both figures.  The checker's own time
// is reported separately.  CPU placement is set (same core / spread) and the
// CPUs actually used are printed beside every figure.
#pragma once

#include <CLI/App.hpp>
#include <string>

namespace ipct {

struct BenchArgs {
    std::uint64_t messages = 200000;
    std::uint32_t size = 4096;
    int repeat = 3;
    std::string placement = "spread";  // spread | same | none
    std::string json;
};

void add_bench_options(CLI::App& cmd, BenchArgs& a);
int bench_main(const BenchArgs& a);

// Pins the calling process to the CPU chosen for worker `index` by the
// IPCTORTURE_BENCH_PLACEMENT environment variable (set by bench_main for the
// workers it starts); does nothing when it is unset.
void apply_bench_placement(unsigned index);

}  // namespace ipct
