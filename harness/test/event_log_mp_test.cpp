// The event log: records written by one process are read back by another,
// the file grows as needed, a writer killed in the middle of an operation
// leaves a pending record and everything before it intact, and a file that
// is not a log is refused with a HarnessError.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "ipctorture/errors.hpp"
#include "ipctorture/event_log.hpp"

namespace ipct {
namespace {

namespace fs = std::filesystem;

class EventLog : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ipct-evlog-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
        dir_ = tmpl;
    }
    void TearDown() override {
        if (child_ > 0) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
        }
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    std::string dir_;
    pid_t child_ = -1;
};

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::size_t open_fd_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

std::size_t mappings_of(const std::string& path) {
    std::ifstream maps("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(maps, line);)
        if (line.find(path) != std::string::npos) ++n;
    return n;
}

TEST_F(EventLog, WriterThenReaderRoundTrip) {
    const std::string p = path("events.0.log");
    const std::uint64_t before = now_ns();
    {
        EventLogWriter w(p, 5, 16);
        ASSERT_TRUE(w.is_open());
        Record* r = w.begin(Op::kSend, 2);
        r->origin = 3;
        r->seq = 9;
        r->size = 100;
        r->aux = 1;
        r->extra = 7;
        EventLogWriter::end(r, Status::kOk);
        r = w.begin(Op::kRecv, 4);
        EventLogWriter::end(r, Status::kError, EPIPE);
        Record done{};
        done.t_start = 10;
        done.t_end = 20;
        done.seq = 11;
        done.origin = 12;
        done.size = 13;
        done.aux = 14;
        done.channel = 15;
        done.op = Op::kRecv;
        done.status = Status::kCorrupt;
        done.err = 0;
        done.extra = 16;
        w.append(done);
        w.mark(Op::kStart, 1, 42);
        w.begin(Op::kSend, 2)->seq = 10;  // never completed
        EXPECT_EQ(w.count(), 5u);
    }
    EventLogReader rd(p);
    EXPECT_EQ(rd.process(), 5u);
    EXPECT_EQ(rd.pid(), static_cast<std::uint64_t>(::getpid()));
    ASSERT_EQ(rd.size(), 5u);

    const Record& send = rd[0];
    EXPECT_EQ(send.op, Op::kSend);
    EXPECT_EQ(send.channel, 2u);
    EXPECT_EQ(send.status, Status::kOk);
    EXPECT_EQ(send.origin, 3u);
    EXPECT_EQ(send.seq, 9u);
    EXPECT_EQ(send.size, 100u);
    EXPECT_EQ(send.aux, 1u);
    EXPECT_EQ(send.extra, 7u);
    EXPECT_EQ(send.err, 0);
    EXPECT_GE(send.t_start, before);
    EXPECT_GE(send.t_end, send.t_start);

    EXPECT_EQ(rd[1].op, Op::kRecv);
    EXPECT_EQ(rd[1].status, Status::kError);
    EXPECT_EQ(rd[1].err, EPIPE);
    EXPECT_EQ(rd[1].origin, 0u);  // begin() starts from a clean record
    EXPECT_GE(rd[1].t_start, send.t_end);

    const Record& done = rd[2];
    EXPECT_EQ(done.t_start, 10u);
    EXPECT_EQ(done.t_end, 20u);
    EXPECT_EQ(done.seq, 11u);
    EXPECT_EQ(done.origin, 12u);
    EXPECT_EQ(done.size, 13u);
    EXPECT_EQ(done.aux, 14u);
    EXPECT_EQ(done.channel, 15u);
    EXPECT_EQ(done.op, Op::kRecv);
    EXPECT_EQ(done.status, Status::kCorrupt);
    EXPECT_EQ(done.extra, 16u);

    EXPECT_EQ(rd[3].op, Op::kStart);
    EXPECT_EQ(rd[3].aux, 42u);
    EXPECT_EQ(rd[3].status, Status::kOk);
    EXPECT_EQ(rd[3].t_end, rd[3].t_start);

    EXPECT_EQ(rd[4].status, Status::kPending);
    EXPECT_EQ(rd[4].seq, 10u);
    EXPECT_EQ(rd[4].t_end, 0u);
    EXPECT_GT(rd[4].t_start, 0u);
    EXPECT_EQ(rd.data(), &rd[0]);
}

TEST_F(EventLog, GrowsPastItsInitialCapacity) {
    const std::string p = path("events.1.log");
    constexpr std::uint64_t kRecords = 5000;  // the smallest capacity is 1024
    {
        EventLogWriter first(p, 1, 1);
        EventLogWriter w = std::move(first);  // the log survives a move
        EXPECT_FALSE(first.is_open());
        for (std::uint64_t i = 0; i < kRecords; ++i) {
            Record* r = w.begin(Op::kSend, 0);
            r->seq = i;
            r->size = static_cast<std::uint32_t>(i * 3);
            EventLogWriter::end(r, Status::kOk);
        }
        EXPECT_EQ(w.count(), kRecords);
    }
    EXPECT_GE(fs::file_size(p), sizeof(LogFileHeader) + kRecords * sizeof(Record));
    EventLogReader rd(p);
    ASSERT_EQ(rd.size(), kRecords);
    for (std::uint64_t i = 0; i < kRecords; ++i) {
        ASSERT_EQ(rd[i].seq, i);
        ASSERT_EQ(rd[i].size, i * 3);
        ASSERT_EQ(rd[i].status, Status::kOk);
        if (i) {
            ASSERT_GE(rd[i].t_start, rd[i - 1].t_end);
        }
    }
}

// Waits up to `limit` for one byte on fd.  Only a guard against a child that
// never gets there: the test does not depend on how long it takes.
bool wait_byte(int fd, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{fd, POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        char b;
        return ::read(fd, &b, 1) == 1;
    }
}

// In the child: fill a log past its first capacity, begin one more record,
// say so, and wait to be killed.  Never returns into the test framework.
[[noreturn]] void crashing_writer(const std::string& p, int sync_fd, std::uint64_t completed) {
    try {
        EventLogWriter w(p, 3, 1024);
        for (std::uint64_t i = 0; i < completed; ++i) {
            Record* r = w.begin(Op::kSend, 1);
            r->origin = 2;
            r->seq = i;
            r->size = 64;
            EventLogWriter::end(r, Status::kOk);
        }
        Record* r = w.begin(Op::kSend, 1);
        r->origin = 2;
        r->seq = completed;
        r->size = 4096;
        const char b = 'x';
        if (write_full(sync_fd, &b, 1).err) ::_exit(3);
        for (;;) ::pause();
    } catch (...) {
        ::_exit(2);
    }
}

TEST_F(EventLog, KilledWriterLeavesAPendingRecordAndEverythingBefore) {
    const std::string p = path("events.3.log");
    constexpr std::uint64_t kCompleted = 3000;  // beyond the first capacity: the log grew
    int sync[2];
    ASSERT_EQ(::pipe2(sync, O_CLOEXEC), 0);
    const std::uint64_t before = now_ns();
    child_ = ::fork();
    ASSERT_GE(child_, 0) << std::strerror(errno);
    if (child_ == 0) {
        ::close(sync[0]);
        crashing_writer(p, sync[1], kCompleted);
    }
    ::close(sync[1]);
    const bool began = wait_byte(sync[0], std::chrono::seconds(60));
    ::close(sync[0]);
    ASSERT_EQ(::kill(child_, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child_, &status, 0), child_);
    const pid_t pid = child_;
    child_ = -1;
    ASSERT_TRUE(began) << "the child never began its last record; wait status " << status;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;

    EventLogReader rd(p);
    EXPECT_EQ(rd.process(), 3u);
    EXPECT_EQ(rd.pid(), static_cast<std::uint64_t>(pid));
    ASSERT_EQ(rd.size(), kCompleted + 1);
    for (std::uint64_t i = 0; i < kCompleted; ++i) {
        const Record& r = rd[i];
        ASSERT_EQ(r.op, Op::kSend) << i;
        ASSERT_EQ(r.status, Status::kOk) << i;
        ASSERT_EQ(r.seq, i);
        ASSERT_EQ(r.origin, 2u) << i;
        ASSERT_EQ(r.channel, 1u) << i;
        ASSERT_GE(r.t_start, before) << i;
        ASSERT_GE(r.t_end, r.t_start) << i;
    }
    const Record& cut = rd[kCompleted];
    EXPECT_EQ(cut.op, Op::kSend);
    EXPECT_EQ(cut.status, Status::kPending);
    EXPECT_EQ(cut.seq, kCompleted);
    EXPECT_EQ(cut.size, 4096u);
    EXPECT_GE(cut.t_start, rd[kCompleted - 1].t_end);
    EXPECT_EQ(cut.t_end, 0u);
}

TEST_F(EventLog, ReaderRefusesWhatIsNotALog) {
    std::mt19937_64 rng(7);
    std::string noise(4096, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    LogFileHeader h{};
    h.magic = kLogMagic;
    h.version = 2;  // a future format
    h.capacity = 1024;
    std::string future(reinterpret_cast<const char*>(&h), sizeof h);
    future.resize(sizeof h + 1024 * sizeof(Record));

    write_file(path("empty"), "");
    write_file(path("short"), std::string(sizeof(LogFileHeader) - 1, '\0'));
    write_file(path("noise"), noise);
    write_file(path("future"), future);
    fs::create_directory(path("directory"));

    const std::size_t fds = open_fd_count();
    for (const char* name : {"missing", "empty", "short", "noise", "future", "directory"}) {
        EXPECT_THROW(EventLogReader rd(path(name)), HarnessError) << name;
    }
    // A refused file is let go: no descriptor or mapping left behind.
    EXPECT_EQ(open_fd_count(), fds);
    EXPECT_EQ(mappings_of(dir_), 0u);
}

TEST_F(EventLog, TruncatedLogGivesOnlyWholeRecords) {
    const std::string p = path("events.4.log");
    {
        EventLogWriter w(p, 4, 1024);
        for (std::uint64_t i = 0; i < 100; ++i) w.mark(Op::kNote, 0, static_cast<std::uint32_t>(i));
    }
    // The count says 100, the file now holds 10 whole records and a part.
    fs::resize_file(p, sizeof(LogFileHeader) + 10 * sizeof(Record) + 20);
    {
        EventLogReader rd(p);
        ASSERT_EQ(rd.size(), 10u);
        for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(rd[i].aux, i);
    }
    fs::resize_file(p, sizeof(LogFileHeader));
    EventLogReader rd(p);
    EXPECT_EQ(rd.size(), 0u);
    EXPECT_EQ(rd.process(), 4u);
}

}  // namespace
}  // namespace ipct
