#include "ipctorture/event_log.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "ipctorture/atomic_access.hpp"
#include "ipctorture/errors.hpp"

namespace ipct {

std::uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1000000000ull + std::uint64_t(ts.tv_nsec);
}

const char* op_name(Op op) {
    switch (op) {
        case Op::kNone:
            return "none";
        case Op::kSend:
            return "send";
        case Op::kRecv:
            return "recv";
        case Op::kGarbage:
            return "garbage";
        case Op::kDrained:
            return "drained";
        case Op::kStart:
            return "start";
        case Op::kExit:
            return "exit";
        case Op::kOpen:
            return "open";
        case Op::kClose:
            return "close";
        case Op::kNote:
            return "note";
        case Op::kWorkerStatus:
            return "worker-status";
        case Op::kHang:
            return "hang";
        case Op::kFault:
            return "fault";
        case Op::kSyscallFault:
            return "syscall-fault";
        case Op::kProxyAction:
            return "proxy-action";
        case Op::kInterrupted:
            return "interrupted";
    }
    return "unknown";
}

const char* status_name(Status s) {
    switch (s) {
        case Status::kPending:
            return "pending";
        case Status::kOk:
            return "ok";
        case Status::kError:
            return "error";
        case Status::kCorrupt:
            return "corrupt";
        case Status::kTimeout:
            return "timeout";
    }
    return "unknown";
}

namespace {
std::size_t bytes_for(std::uint64_t records) {
    return sizeof(LogFileHeader) + records * sizeof(Record);
}

// Maps every page of [p + from, p + len) writable now, before the first
// record lands there.  A record that is the first on its page otherwise
// takes a page fault (a page-cache allocation and, on a disk file system, a
// page_mkwrite) in the middle of the operation it records: measured on a
// 4 KiB pipe stream, those faults cost the producer a quarter of its
// throughput.  One madvise call fills the page tables in bulk; a kernel
// without MADV_POPULATE_WRITE (before 5.14) gets each page touched instead.
void prefault(void* p, std::size_t from, std::size_t len) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    from = from / page * page;
    if (from >= len) return;
    auto* base = static_cast<unsigned char*>(p);
#ifdef MADV_POPULATE_WRITE
    if (::madvise(base + from, len - from, MADV_POPULATE_WRITE) == 0) return;
#endif
    // Past the records written so far: nobody reads these bytes yet, and
    // they are zero (a new file, or the part ftruncate just added).
    for (std::size_t off = from; off < len; off += page)
        reinterpret_cast<volatile unsigned char*>(base)[off] = 0;
}
}  // namespace

EventLogWriter::EventLogWriter(const std::string& path, std::uint32_t process,
                               std::uint64_t initial_capacity) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) IPCT_FAIL_ERRNO("cannot create event log " + path);
    if (initial_capacity < 1024) initial_capacity = 1024;
    map_len_ = bytes_for(initial_capacity);
    void* p = MAP_FAILED;
    if (::ftruncate(fd_, static_cast<off_t>(map_len_)) == 0)
        p = ::mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd_);  // a throwing constructor gets no destructor
        fd_ = -1;
        errno = err;
        IPCT_FAIL_ERRNO("cannot size or map event log " + path);
    }
    prefault(p, 0, map_len_);  // before the header: the fallback writes zeros
    hdr_ = static_cast<LogFileHeader*>(p);
    recs_ = reinterpret_cast<Record*>(hdr_ + 1);
    hdr_->magic = kLogMagic;
    hdr_->version = 1;
    hdr_->process = process;
    hdr_->pid = static_cast<std::uint64_t>(::getpid());
    hdr_->capacity = initial_capacity;
    hdr_->count.store(0, std::memory_order_release);
}

EventLogWriter::~EventLogWriter() {
    close();
}

EventLogWriter::EventLogWriter(EventLogWriter&& o) noexcept {
    *this = std::move(o);
}

EventLogWriter& EventLogWriter::operator=(EventLogWriter&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = std::exchange(o.fd_, -1);
        hdr_ = std::exchange(o.hdr_, nullptr);
        recs_ = std::exchange(o.recs_, nullptr);
        map_len_ = std::exchange(o.map_len_, 0);
    }
    return *this;
}

void EventLogWriter::close() {
    if (hdr_) ::munmap(hdr_, map_len_);
    if (fd_ >= 0) ::close(fd_);
    hdr_ = nullptr;
    recs_ = nullptr;
    fd_ = -1;
}

void EventLogWriter::grow() {
    const std::uint64_t cap = hdr_->capacity * 2;
    const std::size_t len = bytes_for(cap);
    if (::ftruncate(fd_, static_cast<off_t>(len)) != 0) IPCT_FAIL_ERRNO("cannot grow event log");
    // A new mapping and munmap, not mremap: ThreadSanitizer does not see
    // mremap, so in threads mode the range a log moved away from kept its
    // accesses, and another thread's log mapped there later looked like a
    // race between the two threads.
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) IPCT_FAIL_ERRNO("cannot remap event log");
    prefault(p, map_len_, len);
    ::munmap(hdr_, map_len_);
    hdr_ = static_cast<LogFileHeader*>(p);
    recs_ = reinterpret_cast<Record*>(hdr_ + 1);
    map_len_ = len;
    hdr_->capacity = cap;
}

Record* EventLogWriter::begin(Op op, std::uint16_t channel) {
    return begin_at(op, channel, now_ns());
}

Record* EventLogWriter::begin_at(Op op, std::uint16_t channel, std::uint64_t t_start) {
    std::uint64_t n = hdr_->count.load(std::memory_order_relaxed);
    if (n == hdr_->capacity) grow();
    Record* r = recs_ + n;
    std::memset(static_cast<void*>(r), 0, sizeof(Record));
    r->op = op;
    r->channel = channel;
    r->status = Status::kPending;
    r->t_start = t_start;
    hdr_->count.store(n + 1, std::memory_order_release);
    return r;
}

void EventLogWriter::end(Record* r, Status s, int err) {
    r->t_end = now_ns();
    r->err = err;
    // The status is written last: a reader that sees a final status also
    // sees the fields the caller filled before end().
    atomic_store(r->status, s, std::memory_order_release);
}

void EventLogWriter::append(const Record& rec) {
    std::uint64_t n = hdr_->count.load(std::memory_order_relaxed);
    if (n == hdr_->capacity) grow();
    recs_[n] = rec;
    hdr_->count.store(n + 1, std::memory_order_release);
}

Record* EventLogWriter::mark(Op op, std::uint16_t channel, std::uint32_t aux) {
    Record* r = begin(op, channel);
    r->aux = aux;
    r->t_end = r->t_start;
    atomic_store(r->status, Status::kOk, std::memory_order_release);
    return r;
}

std::uint64_t EventLogWriter::count() const {
    return hdr_ ? hdr_->count.load(std::memory_order_relaxed) : 0;
}

EventLogReader::EventLogReader(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) IPCT_FAIL_ERRNO("cannot open event log " + path);
    try {
        struct stat st;
        if (::fstat(fd_, &st) != 0) IPCT_FAIL_ERRNO("cannot stat event log " + path);
        map_len_ = static_cast<std::size_t>(st.st_size);
        if (map_len_ < sizeof(LogFileHeader)) IPCT_FAIL("event log too short: " + path);
        void* p = ::mmap(nullptr, map_len_, PROT_READ, MAP_SHARED, fd_, 0);
        if (p == MAP_FAILED) IPCT_FAIL_ERRNO("cannot map event log " + path);
        hdr_ = static_cast<const LogFileHeader*>(p);
        recs_ = reinterpret_cast<const Record*>(hdr_ + 1);
        if (hdr_->magic != kLogMagic || hdr_->version != 1)
            IPCT_FAIL("not an ipctorture event log: " + path);
    } catch (...) {
        // A constructor that throws gets no destructor: let go of the file here.
        if (hdr_) ::munmap(const_cast<LogFileHeader*>(hdr_), map_len_);
        ::close(fd_);
        throw;
    }
    const std::uint64_t room = (map_len_ - sizeof(LogFileHeader)) / sizeof(Record);
    count_ = std::min<std::uint64_t>(hdr_->count.load(std::memory_order_acquire), room);
}

EventLogReader::~EventLogReader() {
    if (hdr_) ::munmap(const_cast<LogFileHeader*>(hdr_), map_len_);
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace ipct
