// The event log: one file per process in the run directory, holding
// fixed-size records in a MAP_SHARED mapping.
//
// Crash safety: a record is claimed and its start filled in *before* the
// operation (status kPending), and completed in place after it.  The writer
// publishes the record count with a release store after the start fields are
// written, so a reader that loads the count with acquire sees whole starts.
// Because the mapping is MAP_SHARED on a regular file, everything stored before
// a SIGKILL is in the page cache and survives the writer.  A record still
// kPending after the run is an operation cut short: its outcome is unknown.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ipct {

enum class Op : std::uint8_t {
    kNone = 0,
    kSend = 1,           // origin/seq/size/prio: the message sent
    kRecv = 2,           // origin/seq/size/prio: the message received (status kOk)
                         // or received damaged (status kCorrupt, aux = Verdict,
                         // extra = first bad offset)
    kGarbage = 3,        // bytes that could not be attributed to any message; size = count
    kDrained = 4,        // consumer saw the end of the channel: nothing more will come
    kStart = 5,          // role passed the start barrier
    kExit = 6,           // role finished; aux = exit code the worker will return
    kOpen = 7,           // channel endpoint opened (status, err)
    kClose = 8,          // channel endpoint closed
    kNote = 9,           // free marker for a role (aux says what)
    kWorkerStatus = 10,  // orchestrator log: a worker ended; aux = wait status, seq = process index
    kHang = 11,          // orchestrator log: watchdog killed a worker; seq = process index
    kInterrupted = 12,   // orchestrator log: the run was stopped by SIGINT/SIGTERM
    // Orchestrator log: a process fault of the scenario's `faults:` was
    // carried out (or failed: status error, err).  seq = target process
    // index, aux = what was done (faults.hpp), extra = the signal sent,
    // origin = the fault's index in the plan's fault schedule.
    kFault = 13,
    // A syscall fault the injection interposer made (its log of the process):
    // the call's result was replaced; see the interposer's header.
    kSyscallFault = 14,
    // The chaos proxy of a tcp/udp channel acted on the traffic (its log):
    // dropped, duplicated, reordered, delayed, split or cut.
    kProxyAction = 15,
};
const char* op_name(Op op);

// What a kNote record says (its aux).
enum class Note : std::uint32_t {
    // A signaler, at its end: seq = signals sent, extra = the signal, origin =
    // targets it reached, size = sends that failed (err = the last errno).
    kSignalsSent = 1,
    kSignalsCaught = 2,  // a signaler's target, at its end: seq = signals its handler counted
    kEintrRetries = 3,   // at a worker's end: seq = EINTR retries of the harness's helpers
    // At the end of a worker whose perturbation was on: seq = perturbations
    // made, origin = yields, size = spins, extra = sleeps.
    kPerturbations = 4,
    // An exec process (exec.hpp), just before execve: status ok.  If execve
    // fails, a second one with status error and err = its errno.
    kExec = 5,
    // Never written by a process: the checker's reader puts one between two
    // incarnations of a restarted process (faults.hpp) when it joins their
    // logs into one history.  seq = the incarnation that begins, t_start =
    // t_end = a bound on the previous one's death (when the orchestrator saw
    // it end; else the new one's first record).
    kIncarnation = 6,
};

enum class Status : std::uint8_t {
    kPending = 0,  // started, never completed: outcome unknown
    kOk = 1,
    kError = 2,    // err holds the errno
    kCorrupt = 3,  // kRecv of a damaged message
    kTimeout = 4,  // the call returned because its own deadline passed
};
const char* status_name(Status s);

struct Record {
    std::uint64_t t_start;  // CLOCK_MONOTONIC ns, before the call
    std::uint64_t t_end;    // after the call; 0 while pending
    std::uint64_t seq;
    std::uint32_t origin;
    std::uint32_t size;
    std::uint32_t aux;      // priority/type, verdict, exit status ... by op
    std::uint16_t channel;  // index into the plan's channels
    Op op;
    Status status;
    std::int32_t err;     // errno for kError
    std::uint32_t extra;  // op-specific
};
static_assert(sizeof(Record) == 48);

inline constexpr std::uint64_t kLogMagic = 0x31474f4c54435049ull;  // "IPCTLOG1"

struct LogFileHeader {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t process;  // process index in the plan; 0xffffffff = orchestrator
    std::uint64_t pid;
    std::uint64_t capacity;            // records the file has room for
    std::atomic<std::uint64_t> count;  // records published
    std::uint8_t pad[24];
};
static_assert(sizeof(LogFileHeader) == 64);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

std::uint64_t now_ns();  // CLOCK_MONOTONIC, shared by every process on the machine

// Appends records to a log file.  One writer per file, single-threaded.
class EventLogWriter {
  public:
    EventLogWriter() = default;
    EventLogWriter(const std::string& path, std::uint32_t process, std::uint64_t initial_capacity);
    ~EventLogWriter();
    EventLogWriter(const EventLogWriter&) = delete;
    EventLogWriter& operator=(const EventLogWriter&) = delete;
    EventLogWriter(EventLogWriter&& o) noexcept;
    EventLogWriter& operator=(EventLogWriter&& o) noexcept;

    // Claims a record, stamps t_start and publishes it as pending.  The
    // returned pointer stays valid until the next begin() (the file may grow).
    Record* begin(Op op, std::uint16_t channel);
    // The same with a t_start the caller took before the operation began.
    Record* begin_at(Op op, std::uint16_t channel, std::uint64_t t_start);
    // Stamps t_end and status.  Fields other than t_start may be set by the
    // caller before calling end().
    static void end(Record* r, Status s, int err = 0);
    // Appends a completed record whose times the caller measured (a receive
    // decoded from a buffered read).  Published with its final status.
    void append(const Record& r);
    // begin + end at one instant (markers).
    Record* mark(Op op, std::uint16_t channel, std::uint32_t aux = 0);

    std::uint64_t count() const;
    bool is_open() const { return hdr_ != nullptr; }

  private:
    void grow();
    void close();
    int fd_ = -1;
    LogFileHeader* hdr_ = nullptr;
    Record* recs_ = nullptr;
    std::size_t map_len_ = 0;
};

// Reads a log file, possibly one whose writer died.  Records beyond the
// published count are ignored.
class EventLogReader {
  public:
    explicit EventLogReader(const std::string& path);
    ~EventLogReader();
    EventLogReader(const EventLogReader&) = delete;
    EventLogReader& operator=(const EventLogReader&) = delete;

    std::uint32_t process() const { return hdr_->process; }
    std::uint64_t pid() const { return hdr_->pid; }
    std::uint64_t size() const { return count_; }
    const Record& operator[](std::uint64_t i) const { return recs_[i]; }
    const Record* data() const { return recs_; }

  private:
    int fd_ = -1;
    const LogFileHeader* hdr_ = nullptr;
    const Record* recs_ = nullptr;
    std::size_t map_len_ = 0;
    std::uint64_t count_ = 0;
};

}  // namespace ipct
