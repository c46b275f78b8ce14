// The checker: judges a run's history against each channel's contract.
//
// Input is one log per process (records in the order the process made them)
// plus the orchestrator's log.  Rules (DESIGN.md), all provable from the
// history alone because a message's dequeue lies inside [t_start, t_end] of
// the receive that returned it and its enqueue inside the send's:
//   lost        a send that completed ok, never received, and every consumer
//               of the channel drained it to the end (kDrained) without a
//               pending receive; otherwise the message is indeterminate;
//   lost, across killed readers  (checker_faults.cpp) some readers of a
//               posix_mq, sysv_msg, pipe or fifo channel were killed, the
//               others drained it: a missing message whose send began after
//               every killed reader had ended (the orchestrator saw it end)
//               is lost; on posix_mq and sysv_msg, where a reader holds at
//               most one message it has not logged, N missing messages sent
//               before that with K killed readers prove N - K lost (one
//               finding, no message named).  A send cut short by a kill
//               stays pending: indeterminate, never lost.  Signals a process
//               fault sent (Op::kFault) are the harness's: an end by one is
//               no crash;
//   duplicated  received more often than sent;
//   corrupted   received with a valid header but a damaged payload, or a
//               header whose checksum fails;
//   unexpected  bytes that no producer sent (garbage), or a message id that
//               no send on that channel produced;
//   fifo        the same sender sent a before b (its sends are sequential) and
//               the receive of b ended before the receive of a began;
//   priority /  (queue order) a receive returned m although a message n that
//   selective   the reader's request admits and that ranks before m (higher
//               priority, lower type, or the same class and sent before m's
//               send began) was queued when m was taken: n's send ended
//               before m's receive and m's send had both begun, and n's
//               receive began after m's ended.  Also: a receive returned a
//               type its request excludes;
//   lost_update a shared counter's final value is below the increments that
//               completed (above the increments made at all: duplicated);
//   last_delivery  (coalescing signals) every delivery on a drained channel
//               ended before the last send began;
//   hang        the watchdog killed a worker (the last operation it logged);
//   crash       a worker ended by a signal the harness did not send, or with
//               a non-zero status;
//   signal_safety  a worker under the signal-safety interposer called a
//               function that is not async-signal-safe inside a handler, or
//               a handler returned with errno changed (sigsafe.hpp).
//               a non-zero status, unless a sanitizer report in its output
//               explains that end (a non-zero status or SIGABRT);
//   sanitizer   a sanitizer report in a worker's output (sanitizer.hpp).
// Linear in the history (a k-way merge over the process logs, k = number of
// processes); memory bounded by the messages in flight plus the findings.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/sanitizer.hpp"
#include "ipctorture/sigsafe.hpp"
#include "ipctorture/syscall_faults.hpp"

namespace ipct {

enum class FindingKind : std::uint8_t {
    kLost,
    kDuplicated,
    kCorrupted,
    kUnexpected,
    kFifo,
    kHang,
    kCrash,
    kPriority,      // a queue-order violation on a priority channel (posix_mq, rt signals)
    kSelective,     // a queue-order or type violation on a selective channel (sysv_msg)
    kLostUpdate,    // a shared counter ended below the increments made
    kLastDelivery,  // coalescing signals: no delivery after the last send
    kSignalSafety,  // the interposer's report: an unsafe call in a handler, errno clobbered
    kSanitizer,     // a sanitizer report in a worker's output
};
inline constexpr int kFindingKinds = 13;
const char* finding_kind_name(FindingKind k);
// The kind named `name` (as finding_kind_name() spells it); nullopt if none.
std::optional<FindingKind> parse_finding_kind(std::string_view name);

// One record that a finding rests on, with who made it.
struct Evidence {
    std::uint32_t process = 0;  // plan index; 0xffffffff = orchestrator
    Record record{};
};

struct Finding {
    FindingKind kind{};
    std::uint32_t channel = kNoChannel;
    std::uint32_t origin = 0;  // message identity where there is one
    std::uint64_t seq = 0;
    std::string summary;  // one line a person can read
    std::vector<Evidence> evidence;
    std::optional<SignalSafetyReport> signal_safety;  // kSignalSafety: the report
    std::optional<SanitizerReport> sanitizer;         // kSanitizer: the report itself
};

// Latency (a message's send start -> its first intact receive's end) in
// fixed logarithmic buckets: values below 8 ns have a bucket each; above,
// every power of two is cut into 8 equal buckets, so a bucket spans at most
// 1/8 of its lower bound (12.5 % resolution) up to 2^64 ns.  Constant memory
// per channel (kBuckets counters, 4 KiB), so a run of any length costs the
// same, and adding costs a few instructions, with no branch on the size.
// count, min and max are exact; percentiles are bucket-resolution values
// (see percentile()).
class LatencyHistogram {
  public:
    static constexpr int kSubBits = 3;
    static constexpr int kSub = 1 << kSubBits;
    static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;  // 496

    void add(std::uint64_t ns) {
        ++counts_[static_cast<std::size_t>(bucket_of(ns))];
        ++count_;
        min_ = std::min(min_, ns);
        max_ = std::max(max_, ns);
    }
    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ != 0 ? min_ : 0; }  // 0 when empty
    std::uint64_t max() const { return max_; }
    // Counts by bucket index.
    const std::array<std::uint64_t, kBuckets>& counts() const { return counts_; }
    // The q-quantile (0 < q <= 1) at bucket resolution: the upper end of the
    // bucket holding the ceil(q * count)-th smallest latency, clamped to the
    // exact [min, max].  The true value lies in that bucket, so it is at most
    // 1/8 above it.  0 when empty.
    std::uint64_t percentile(double q) const;

    static int bucket_of(std::uint64_t ns);
    static std::uint64_t bucket_low(int i);   // smallest value of bucket i
    static std::uint64_t bucket_high(int i);  // largest value of bucket i

  private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t min_ = ~std::uint64_t{0};
    std::uint64_t max_ = 0;
};

// Below 2 * kSub the value is its own bucket; above, the value shifted right
// until it lies in [kSub, 2 * kSub) picks one of the kSub buckets of its
// power of two, the shift counting the powers below it.  No branch.
inline int LatencyHistogram::bucket_of(std::uint64_t ns) {
    const int shift =
        std::max(static_cast<int>(std::bit_width(ns | 1)), kSubBits + 1) - (kSubBits + 1);
    return (shift << kSubBits) + static_cast<int>(ns >> shift);
}

// Messages received per time bucket over the run: kBuckets buckets of a
// power-of-two width from `origin` (the history's first record).  The end of
// the run is not known while the checker streams, so the width starts at
// 1 us and doubles, merging neighbouring buckets, whenever a receive falls
// past the last bucket: the series always spans at least half its buckets.
class ThroughputSeries {
  public:
    static constexpr int kBuckets = 64;
    static constexpr int kInitialShift = 10;  // 1024 ns

    void start(std::uint64_t origin) { origin_ = origin; }
    void add(std::uint64_t t) {
        const std::uint64_t off = t > origin_ ? t - origin_ : 0;
        std::uint64_t i = off >> shift_;
        if (i >= kBuckets) i = widen(off);
        ++counts_[i];
    }
    std::uint64_t origin() const { return origin_; }
    std::uint64_t width_ns() const { return std::uint64_t{1} << shift_; }
    const std::array<std::uint64_t, kBuckets>& counts() const { return counts_; }

  private:
    std::uint64_t widen(std::uint64_t off);
    std::uint64_t origin_ = 0;
    int shift_ = kInitialShift;
    std::array<std::uint64_t, kBuckets> counts_{};
};

// What a channel's chaos proxy logged (socket_proxy.hpp), by action.
struct ProxyStats {
    bool present = false;  // the channel had a proxy and its log was read
    bool exited = false;   // it ended cleanly, having forwarded all it held
    std::uint64_t dropped = 0, duplicated = 0, reordered = 0, delayed = 0;
    // Reordered or delayed datagrams that a later one of their origin passed.
    std::uint64_t overtaken = 0;
    std::uint64_t split = 0, tcp_delayed = 0, cut = 0, resumed = 0;
    std::uint64_t excused = 0;  // receives and missing messages the cuts account for
};

// Measured on every channel, whatever its checks: a rule the channel does not
// list (udp's loss, say) is counted here but produces no finding.
struct ChannelStats {
    std::uint64_t sent = 0;            // sends that completed ok
    std::uint64_t send_unknown = 0;    // sends cut short (pending) or failed with an error
    std::uint64_t received = 0;        // distinct messages received intact
    std::uint64_t bytes_received = 0;  // every intact receive, duplicates included
    std::uint64_t lost = 0;            // provably lost, relays' drops included
    std::uint64_t duplicated = 0;
    std::uint64_t corrupted = 0;
    std::uint64_t unexpected = 0;
    std::uint64_t garbage_bytes = 0;
    std::uint64_t fifo_violations = 0;
    std::uint64_t order_violations = 0;  // priority / selective rule
    std::uint64_t counter_value = 0;     // counter channels: the final value observed
    bool counter_observed = false;
    std::uint64_t indeterminate = 0;  // sent (or maybe sent), not received, not provably lost
    std::uint64_t first_send_ns = 0;
    std::uint64_t last_recv_ns = 0;
    // Kept for the HTML report, since the run directory goes after a pass:
    // message channels only (not counters or snapshots), each message at its
    // first intact receive.
    LatencyHistogram latency;
    ThroughputSeries throughput;
    ProxyStats proxy;
};

// One planned process as its log and the orchestrator's log tell it, for
// the report's timeline.
struct ProcessStats {
    std::uint64_t records = 0;   // 0: it logged nothing (never started)
    std::uint64_t first_ns = 0;  // its first record's start
    std::uint64_t last_ns = 0;   // its last record's end (its start while pending)
    bool exit_logged = false;    // its role logged kExit
    std::uint32_t exit_code = 0;
    int status = -1;  // raw wait status from the orchestrator log; -1 = not reported
    bool killed_by_harness = false;
    bool hung = false;  // the watchdog stopped it
    // A signaler's kNote kSignalsSent: signals sent, which, targets reached.
    std::uint64_t signals_sent = 0;
    std::uint32_t signal = 0;
    std::uint32_t signal_targets = 0;
    std::uint64_t signals_note_ns = 0;  // 0: no such note
};

struct CheckResult {
    std::vector<Finding> findings;             // capped per kind, see max_findings_per_kind
    std::uint64_t counts[kFindingKinds] = {};  // exact counts, not capped
    std::vector<ChannelStats> channels;        // by plan channel index
    std::vector<ProcessStats> processes;       // by plan process index
    // Syscall faults the interposer injected, by plan process (filled by
    // add_syscall_faults from the run directory; empty: none read).
    std::vector<SyscallFaultStats> syscall_faults;
    std::uint64_t t_first_ns = 0;              // the earliest record's start; 0 = no records
    std::uint64_t t_last_ns = 0;               // the latest record time
    std::uint64_t records = 0;                 // records read
    std::uint64_t indeterminate = 0;
    bool interrupted = false;  // the run was stopped early
    bool pass() const;         // no findings of any kind
    std::uint64_t total_findings() const;
};

struct HistoryView {
    const Plan* plan = nullptr;
    std::vector<std::span<const Record>> logs;   // by plan process index (empty = no log)
    std::span<const Record> orchestrator;        // kWorkerStatus, kHang, kInterrupted
    std::span<const SanitizerReport> sanitizer;  // attributed (read_sanitizer_reports)
    // Chaos proxies' logs (Op::kProxyAction), by plan channel (empty = none).
    std::vector<std::span<const Record>> proxies;
};

// The most the checker held at once, per structure: evidence that its memory
// follows the messages in flight, not the messages sent.  For tests and
// benchmarks; filled when CheckOptions::memory is set.
struct CheckMemoryStats {
    std::uint64_t window_slots = 0;   // ring slots allocated over all (channel, origin) windows
    std::uint64_t side_entries = 0;   // stragglers and outliers kept beside the windows
    std::uint64_t fifo_entries = 0;   // receives kept to answer FIFO queries
    std::uint64_t relay_pending = 0;  // relay receives not yet matched by their forward
};

struct CheckOptions {
    // Findings kept per kind; CheckResult::counts stays exact.  Kinds found
    // while streaming (duplicated, corrupted, unexpected, fifo) keep the
    // first ones in time; lost keeps the smallest (channel, origin, seq);
    // hang and crash keep the orchestrator log's order.  The kept findings
    // are sorted by (kind, channel, origin, seq), ties in that same order.
    std::size_t max_findings_per_kind = 100;
    CheckMemoryStats* memory = nullptr;  // optional out: peak memory use
};

CheckResult check_history(const HistoryView& h, const CheckOptions& opt = {});

}  // namespace ipct
