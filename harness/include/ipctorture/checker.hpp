// The checker: judges a run's history against each channel's contract.
//
// Input is one log per process (records in the order the process made them)
// plus the orchestrator's log.  Rules (DESIGN.md), all provable from the
// history alone because a message's dequeue lies inside [t_start, t_end] of
// the receive that returned it and its enqueue inside the send's:
//   lost        a send that completed ok, never received, and every consumer
//               of the channel drained it to the end (kDrained) without a
//               pending receive; otherwise the message is indeterminate;
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
};

struct CheckResult {
    std::vector<Finding> findings;             // capped per kind, see max_findings_per_kind
    std::uint64_t counts[kFindingKinds] = {};  // exact counts, not capped
    std::vector<ChannelStats> channels;        // by plan channel index
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
