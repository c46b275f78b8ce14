// `ipctorture bench` internals: the raw baselines (bench_raw.cpp), the
// harness-off roles run by workers (bench_worker.cpp) and what they share
// with bench.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ipct::bench {

// The raw baselines: one per mechanism, plain system calls, no harness code.
enum class RawMech {
    kPipe,
    kFifo,
    kPosixMq,
    kSysvMsg,
    kUnixStream,
    kUnixDgram,
    kUnixSeqpacket,
    kTcp,
    kUdp,
    kShmSpsc,       // a lock-free single-producer single-consumer ring
    kShmMutex,      // a ring under a process-shared mutex and condition variables
    kShmSemaphore,  // a ring counted by two process-shared semaphores
    kSignal,        // sigqueue() / sigwaitinfo() with one real-time signal
};

// One measurement.  Streaming: messages and bytes that arrived and the time
// from before the first send to after the last receive.  Ping-pong: one
// round-trip time per message, from before the send to after the reply.
struct RawResult {
    double secs = 0;
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    std::vector<std::uint64_t> rtt_ns;
    int cpu_a = -1, cpu_b = -1;  // where the producer (pinger) and consumer (echo) ran at the end
};

// cpu_a: the producer's (pinger's) CPU, cpu_b the consumer's (echo's); -1 = not pinned.
// Throws HarnessError / EnvironmentError.
RawResult raw_stream(RawMech m, std::uint32_t size, std::uint64_t n, int cpu_a, int cpu_b);
RawResult raw_pingpong(RawMech m, std::uint32_t size, std::uint64_t n, int cpu_a, int cpu_b);

// Harness off: workers started with this variable set to "off" run the
// same backends' endpoints without payload generation, verification or
// event-log records per message, and write their figures to
// bench_result_path(run_dir, process).
inline constexpr const char* kModeEnv = "IPCTORTURE_BENCH_MODE";
std::string bench_result_path(const std::string& run_dir, std::uint32_t process);

}  // namespace ipct::bench
