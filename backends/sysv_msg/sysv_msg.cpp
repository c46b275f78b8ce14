// System V message queue (msgop(2), svipc(7)): one private queue per channel,
// created by the orchestrator with msgget(IPC_PRIVATE); workers use its id.
//
// Contract: each receive returns one whole message.  A message's type
// (mtype, >= 1) is its header's `prio` field.  The queue keeps messages in
// arrival order; a reader asks with msgtyp (msgrcv(2)):
//   0            the first message;
//   n > 0        the first message of type n (with except: of any other type);
//   -n           the first message of the lowest type <= n.
// So messages of one type leave in the order they came, whichever reader
// takes them, and none is lost.
//
// End of channel: the queue has none, so writers say they have gone in the
// channel's control file (common/control.hpp).  msgrcv has no timeout, and
// a reader blocked in it must still notice that the last writer went.  We
// keep the blocking call (its sleep/wake-up path is worth exercising) and
// arm, for the duration of each blocking msgrcv only, a per-thread timer
// (timer_create with SIGEV_THREAD_ID) that sends kWakeSignal every 20 ms.
// The handler does nothing and is installed without SA_RESTART, so msgrcv
// fails with EINTR and the reader looks at the control file again; a tick
// that lands just before the call only delays the check to the next tick.
// The signal reaches only the receiving thread, only while it waits, so it
// does not disturb the rest of the worker.  (Polling with IPC_NOWAIT would
// also work but would never block in the kernel; that is what `nonblocking`
// does.)  Once no writer is open, an IPC_NOWAIT receive with the reader's
// msgtyp that finds nothing (ENOMSG) is the end.
//
// Cleanup: the id is written to <channel>.msqid in the run directory right
// after msgget, so a harness that dies before it recorded the state still
// leaves a way to remove the queue.  An id is removed only while it still
// names a private 0600 queue of ours (ids are reused once freed).
#include <fcntl.h>
#include <signal.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <optional>
#include <utility>

#include "common/backoff.hpp"
#include "common/control.hpp"
#include "common/sysinfo.hpp"
#include "ipctorture/message.hpp"
#include "sysv_msg/mutant_eintr_is_eof.hpp"
#include "sysv_msg/mutant_msgtyp_sign.hpp"

namespace ipct {

namespace {

constexpr std::int64_t kMaxType = INT32_MAX;
constexpr long kWakeNs = 20'000'000;

struct Limits {
    std::uint64_t msgmax, msgmnb, msgmni;
    bool privileged;
};

Limits live_limits() {
    return {proc_uint("/proc/sys/kernel/msgmax", 8192), proc_uint("/proc/sys/kernel/msgmnb", 16384),
            proc_uint("/proc/sys/kernel/msgmni", 32000), has_cap_sys_resource()};
}

struct MsgOptions {
    std::uint64_t bytes;  // msg_qbytes
    bool nonblocking;
};

MsgOptions parse_options(const Options& o, const Limits& l) {
    option_reject_unknown(o, {"bytes", "nonblocking"});
    MsgOptions m;
    m.bytes = option_uint(o, "bytes", l.msgmnb, kHeaderSize, INT_MAX);
    m.nonblocking = option_bool(o, "nonblocking", false);
    return m;
}

[[noreturn]] void fail_at(const SourceLoc& at, const std::string& what) {
    throw ScenarioError(at.file, at.line, at.column, what);
}

struct ReaderOptions {
    std::int64_t msgtyp = 0;
    bool except = false;
};

ReaderOptions parse_reader(const Options& e) {
    ReaderOptions r;
    r.msgtyp = option_int(e, "msgtyp", 0, -kMaxType, kMaxType);
    r.except = option_bool(e, "except", false);
    if (r.except && r.msgtyp <= 0)
        fail_at(e.at("except").loc,
                "option 'except': MSG_EXCEPT needs msgtyp > 0 (the one type to skip), got msgtyp " +
                    std::to_string(r.msgtyp));
    return r;
}

std::string id_path(const ChannelSetup& ch) {
    return ch.run_dir + "/" + ch.name + ".msqid";
}

// The wake-up signal of blocked readers (see the top of this file).  The
// highest real-time signal: glibc keeps the lowest ones for itself.
int wake_signal() {
    return SIGRTMAX;
}

void on_wake(int) {}

void install_wake_handler() {
    struct sigaction old {};
    if (::sigaction(wake_signal(), nullptr, &old) != 0) IPCT_FAIL_ERRNO("sigaction");
    if (old.sa_handler == on_wake) return;
    if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
        throw EnvironmentError(
            "sysv_msg readers wake from msgrcv with signal SIGRTMAX, which already has a "
            "handler in this process");
    struct sigaction sa {};
    sa.sa_handler = on_wake;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the wait must end with EINTR
    if (::sigaction(wake_signal(), &sa, nullptr) != 0) IPCT_FAIL_ERRNO("sigaction");
}

// A periodic timer that signals the thread that armed it.
class WakeTimer {
  public:
    WakeTimer() = default;
    WakeTimer(const WakeTimer&) = delete;
    WakeTimer& operator=(const WakeTimer&) = delete;
    ~WakeTimer() { release(); }

    void arm() {
        const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
        if (tid != tid_) make(tid);
        set(kWakeNs);
    }
    void disarm() { set(0); }  // a tick already sent is handled on the way out
    void release() {
        if (tid_ != 0) ::timer_delete(timer_);
        tid_ = 0;
    }

  private:
    void make(pid_t tid) {
        release();
        install_wake_handler();
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, wake_signal());
        ::pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
        sigevent ev{};
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = wake_signal();
        ev._sigev_un._tid = tid;
        if (::timer_create(CLOCK_MONOTONIC, &ev, &timer_) != 0) IPCT_FAIL_ERRNO("timer_create");
        tid_ = tid;
    }
    void set(long ns) {
        const itimerspec t{{0, ns}, {0, ns}};
        if (::timer_settime(timer_, 0, &t, nullptr) != 0) IPCT_FAIL_ERRNO("timer_settime");
    }
    timer_t timer_{};
    pid_t tid_ = 0;
};

class MsgEndpoint final : public Endpoint {
  public:
    MsgEndpoint(int id, Direction d, bool nonblocking, std::size_t max_message,
                const ReaderOptions& ro, ChannelControl ctl, std::uint32_t rank)
        : id_(id),
          reader_(d == Direction::kRead),
          nonblocking_(nonblocking),
          max_(max_message),
          msgtyp_(ro.msgtyp),
          flags_(ro.except ? MSG_EXCEPT : 0),
          ctl_(std::move(ctl)),
          rank_(rank),
          buf_(sizeof(long) + max_message) {}
    ~MsgEndpoint() override { close(); }

    IoResult send(std::span<const std::byte> msg) override;
    IoResult receive(std::span<std::byte> buf) override;
    void close() override {
        if (id_ < 0) return;
        // After the last send returned: readers may now take "none" as the end.
        if (!reader_) ctl_.writer_gone(rank_);
        timer_.release();
        id_ = -1;
    }

  private:
    IoResult deliver(ssize_t n, std::span<std::byte> out, IoResult r);
    int id_;
    bool reader_;
    bool nonblocking_;
    std::size_t max_;
    long msgtyp_;
    int flags_;
    ChannelControl ctl_;
    std::uint32_t rank_;
    std::vector<std::byte> buf_;  // struct msgbuf: a long mtype, then the text
    WakeTimer timer_;
    bool eof_ = false;
};

IoResult MsgEndpoint::send(std::span<const std::byte> msg) {
    MsgHeader h{};
    if (msg.size() >= kHeaderSize) std::memcpy(&h, msg.data(), kHeaderSize);
    const long type = h.prio;  // 0 is refused by the kernel (EINVAL): recorded
    if (buf_.size() < sizeof(long) + msg.size()) buf_.resize(sizeof(long) + msg.size());
    std::memcpy(buf_.data(), &type, sizeof type);
    std::memcpy(buf_.data() + sizeof type, msg.data(), msg.size());
    const int flags = nonblocking_ ? IPC_NOWAIT : 0;
    IoResult r;
    Backoff backoff;
    for (;;) {
        ++r.calls;
        if (retry_eintr([&] { return ::msgsnd(id_, buf_.data(), msg.size(), flags); }) == 0) {
            r.done = msg.size();
            return r;
        }
        if (errno != EAGAIN || !nonblocking_) {
            r.err = errno;
            return r;
        }
        backoff.pause();
    }
}

IoResult MsgEndpoint::deliver(ssize_t n, std::span<std::byte> out, IoResult r) {
    r.done = std::min(static_cast<std::size_t>(n), out.size());
    std::memcpy(out.data(), buf_.data() + sizeof(long), r.done);
    return r;
}

IoResult MsgEndpoint::receive(std::span<std::byte> out) {
    IoResult r;
    if (eof_) {
        r.err = -1;
        return r;
    }
    if (buf_.size() < sizeof(long) + max_) buf_.resize(sizeof(long) + max_);
    Backoff backoff;
    for (;;) {
        // Read before the attempt (control.hpp): once no writer is open,
        // every send that will complete has, so "none for me" is the end.
        const bool over = ctl_.writers_open() == 0;
        ++r.calls;
        ssize_t n = retry_eintr(
            [&] { return ::msgrcv(id_, buf_.data(), max_, msgtyp_, flags_ | IPC_NOWAIT); });
        if (n >= 0) return deliver(n, out, r);
        if (errno != ENOMSG) {
            r.err = errno;
            return r;
        }
        if (over) {
            eof_ = true;
            r.err = -1;
            return r;
        }
        if (nonblocking_) {
            backoff.pause();
            continue;
        }
        ++r.calls;
        timer_.arm();
        n = ::msgrcv(id_, buf_.data(), max_, msgtyp_, flags_);
        const int e = errno;
        timer_.disarm();
        if (n >= 0) return deliver(n, out, r);
        if (e != EINTR) {
            r.err = e;
            return r;
        }
    }
}

// The id file: "<msqid>\n", then "<msg_ctime>\n" once the queue is set up.
struct IdFile {
    std::optional<int> id;
    std::optional<std::int64_t> ctime;
};

IdFile read_id_file(const std::string& path) {
    IdFile f;
    std::ifstream in(path);
    int id = 0;
    std::int64_t ct = 0;
    if (in >> id) f.id = id;
    if (in >> ct) f.ctime = ct;
    return f;
}

// Ours: still a private 0600 queue of this user, and (when known) the one
// made at ctime rather than a later queue that got the same id.
bool still_ours(int id, std::optional<std::int64_t> ctime) {
    msqid_ds ds{};
    if (::msgctl(id, IPC_STAT, &ds) != 0) return false;
    return ds.msg_perm.__key == IPC_PRIVATE && ds.msg_perm.cuid == ::geteuid() &&
           (ds.msg_perm.mode & 0777) == 0600 && (!ctime || ds.msg_ctime == *ctime);
}

class SysvMsgBackend final : public Backend {
  public:
    std::string_view name() const override { return "sysv_msg"; }
    bool reopenable() const override { return true; }
    std::string_view summary() const override {
        return "System V message queue (msgget IPC_PRIVATE), types from the header, selective "
               "receive by msgtyp";
    }
    Contract contract(const Options& o) const override;
    void validate(const Options& o) const override;
    std::vector<std::string> endpoint_keys(Direction d) const override {
        if (d == Direction::kRead) return {"msgtyp", "except"};
        return {};
    }
    void validate_endpoint(const Options&, const Options& e, Direction d) const override {
        if (d == Direction::kRead) parse_reader(e);
    }
    ReceiveRequest receive_request(const Options&, const Options& e) const override;
    std::vector<MutantInfo> mutants() const override {
        return {msgtyp_sign_mutant(), eintr_is_eof_mutant()};
    }
    void validate_mutant(const ChannelSpec& ch, const ProcessSpec& p, Direction d) const override {
        if (ch.mutant == msgtyp_sign_mutant().name) validate_msgtyp_sign(ch, p, d);
        if (ch.mutant == eintr_is_eof_mutant().name) validate_eintr_is_eof(ch);
    }
    void validate_usage(const std::vector<const ChannelSpec*>& channels,
                        const std::vector<std::uint32_t>&) const override;

    nlohmann::json create(const ChannelSetup& ch) override;
    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json& st,
                                   Direction d) override;
    // The program uses the queue by its id and receives with msgtyp 0 (an
    // exec process takes no reader options); it sends each message with its
    // header's priority field as the type (always >= 1: validation holds
    // every producer feeding a sysv_msg channel to the types it takes).  The
    // input ends as on posix_mq: the control file's count of open writers,
    // read before an IPC_NOWAIT receive that then finds nothing.
    bool external() const override { return true; }
    ExternalEndpoint external_endpoint(const ChannelSetup& ch, const nlohmann::json& st,
                                       Direction d) override;
    void cleanup(const ChannelSetup& ch, const nlohmann::json& st) override;
    std::string explain() const override;
};

Contract SysvMsgBackend::contract(const Options& o) const {
    const Limits l = live_limits();
    const MsgOptions m = parse_options(o, l);
    Contract c;
    c.unit = "message";
    c.boundaries = true;
    c.fifo = true;
    c.lossless = true;
    c.selective = true;
    c.has_priority = true;
    c.min_priority = 1;  // mtype must be positive
    c.max_priority = static_cast<std::uint32_t>(kMaxType);
    c.max_message = std::min(l.msgmax, m.bytes);
    c.notes =
        "arrival order within a type; readers select with msgtyp (0 any, n type n, -n lowest "
        "type <= n, except: any type but n); a full queue (msg_qbytes) blocks the sender; "
        "end of channel from the control file";
    return c;
}

void SysvMsgBackend::validate(const Options& o) const {
    const Limits l = live_limits();
    const MsgOptions m = parse_options(o, l);
    if (m.bytes > l.msgmnb && !l.privileged)
        fail_at(o.at("bytes").loc,
                "option 'bytes': " + std::to_string(m.bytes) +
                    " is above the kernel limit kernel.msgmnb = " + std::to_string(l.msgmnb) +
                    " (/proc/sys/kernel/msgmnb); raising msg_qbytes above it needs "
                    "CAP_SYS_RESOURCE, which this process lacks; raise it with `sysctl "
                    "kernel.msgmnb=" +
                    std::to_string(m.bytes) + "` or lower bytes");
}

ReceiveRequest SysvMsgBackend::receive_request(const Options&, const Options& e) const {
    using R = ReceiveRequest;
    const ReaderOptions r = parse_reader(e);
    if (r.msgtyp == 0) return {R::Order::kQueue, R::Match::kAny, 0};
    if (r.msgtyp < 0)
        return {R::Order::kLowestFirst, R::Match::kAtMost, static_cast<std::uint32_t>(-r.msgtyp)};
    return {R::Order::kQueue, r.except ? R::Match::kNotEqual : R::Match::kEqual,
            static_cast<std::uint32_t>(r.msgtyp)};
}

void SysvMsgBackend::validate_usage(const std::vector<const ChannelSpec*>& channels,
                                    const std::vector<std::uint32_t>&) const {
    const Limits l = live_limits();
    if (channels.size() > l.msgmni)
        fail_at(channels[l.msgmni]->loc,
                "channel '" + channels[l.msgmni]->name + "': the scenario needs " +
                    std::to_string(channels.size()) +
                    " System V queues, above the kernel limit kernel.msgmni = " +
                    std::to_string(l.msgmni) +
                    " (/proc/sys/kernel/msgmni); raise it with `sysctl kernel.msgmni=N`");
}

nlohmann::json SysvMsgBackend::create(const ChannelSetup& ch) {
    const Limits l = live_limits();
    const MsgOptions m = parse_options(ch.options, l);
    const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (id < 0) {
        if (errno == ENOSPC)
            throw EnvironmentError("channel '" + ch.name + "': msgget: kernel.msgmni (" +
                                   std::to_string(l.msgmni) + ") System V queues exist already");
        IPCT_FAIL_ERRNO("channel '" + ch.name + "': msgget");
    }
    // Before anything else can fail: the file is how cleanup finds the queue
    // if the harness dies before it records the state.
    const std::string path = id_path(ch);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    const std::string idl = std::to_string(id) + "\n";
    if (fd < 0 || write_full(fd, idl.data(), idl.size()).err != 0) {
        const int e = errno;
        ::msgctl(id, IPC_RMID, nullptr);
        if (fd >= 0) ::close(fd);
        errno = e;
        IPCT_FAIL_ERRNO("cannot write " + path);
    }
    try {
        msqid_ds ds{};
        if (::msgctl(id, IPC_STAT, &ds) != 0) IPCT_FAIL_ERRNO("msgctl IPC_STAT");
        if (ds.msg_qbytes != m.bytes) {
            ds.msg_qbytes = m.bytes;
            if (::msgctl(id, IPC_SET, &ds) != 0)
                IPCT_FAIL_ERRNO("msgctl IPC_SET msg_qbytes " + std::to_string(m.bytes));
            if (::msgctl(id, IPC_STAT, &ds) != 0) IPCT_FAIL_ERRNO("msgctl IPC_STAT");
        }
        const std::string ct = std::to_string(std::int64_t(ds.msg_ctime)) + "\n";
        if (write_full(fd, ct.data(), ct.size()).err != 0) IPCT_FAIL_ERRNO("write " + path);
        ::close(std::exchange(fd, -1));
        ChannelControl::create(control_path(ch), ch.writers);
        return {{"msqid", id}, {"ctime", std::int64_t(ds.msg_ctime)}};
    } catch (...) {
        if (fd >= 0) ::close(fd);
        cleanup(ch, nullptr);
        throw;
    }
}

namespace {

// The channel's queue id (from the run's state, else the id file) and the
// most one receive asks for: msgmax, or the queue's byte limit if lower.
struct ChannelQueue {
    int id;
    std::size_t max;
};
ChannelQueue channel_queue(const ChannelSetup& ch, const nlohmann::json& st, const Limits& l) {
    std::optional<int> id;
    if (st.is_object() && st.contains("msqid")) id = st["msqid"].get<int>();
    if (!id) id = read_id_file(id_path(ch)).id;
    if (!id)
        throw EnvironmentError("channel '" + ch.name + "': no queue id in the state or " +
                               id_path(ch));
    msqid_ds ds{};
    if (::msgctl(*id, IPC_STAT, &ds) != 0)
        IPCT_FAIL_ERRNO("System V queue " + std::to_string(*id) + " of channel '" + ch.name + "'");
    return {*id, static_cast<std::size_t>(std::min<std::uint64_t>(l.msgmax, ds.msg_qbytes))};
}

}  // namespace

std::unique_ptr<Endpoint> SysvMsgBackend::open(const ChannelSetup& ch, const nlohmann::json& st,
                                               Direction d) {
    const Limits l = live_limits();
    const MsgOptions m = parse_options(ch.options, l);
    ReaderOptions ro = d == Direction::kRead ? parse_reader(ch.endpoint) : ReaderOptions{};
    if (d == Direction::kRead && ch.mutant == msgtyp_sign_mutant().name)
        ro.msgtyp = msgtyp_sign_passed(static_cast<long>(ro.msgtyp));
    const auto [id, max] = channel_queue(ch, st, l);
    if (d == Direction::kRead && ch.mutant == eintr_is_eof_mutant().name)
        return make_eintr_is_eof_reader(id, max, static_cast<long>(ro.msgtyp),
                                        ro.except ? MSG_EXCEPT : 0,
                                        ChannelControl(control_path(ch)));
    return std::make_unique<MsgEndpoint>(id, d, m.nonblocking, max, ro,
                                         ChannelControl(control_path(ch)), ch.rank);
}

ExternalEndpoint SysvMsgBackend::external_endpoint(const ChannelSetup& ch, const nlohmann::json& st,
                                                   Direction d) {
    // What a harness reader's msgrcv asks for at most (open()).
    const auto [id, max] = channel_queue(ch, st, live_limits());
    ExternalEndpoint ep;
    ep.vars = {{"ID", std::to_string(id)}, {"MSGSIZE", std::to_string(max)}};
    if (d == Direction::kRead) {
        ep.vars.emplace_back("MSGTYP", "0");
        ep.vars.emplace_back("END_FILE", control_path(ch));
        ep.vars.emplace_back("END_OFFSET", std::to_string(ChannelControl::open_count_offset()));
    }
    return ep;
}

void SysvMsgBackend::cleanup(const ChannelSetup& ch, const nlohmann::json& st) {
    const IdFile f = read_id_file(id_path(ch));
    if (st.is_object() && st.contains("msqid")) {
        const int id = st["msqid"].get<int>();
        std::optional<std::int64_t> ct;
        if (st.contains("ctime")) ct = st["ctime"].get<std::int64_t>();
        if (still_ours(id, ct)) ::msgctl(id, IPC_RMID, nullptr);
    }
    if (f.id && still_ours(*f.id, f.ctime)) ::msgctl(*f.id, IPC_RMID, nullptr);
    ::unlink(id_path(ch).c_str());
    ::unlink(control_path(ch).c_str());
}

std::string SysvMsgBackend::explain() const {
    const Limits l = live_limits();
    return "kernel.msgmax = " + std::to_string(l.msgmax) +
           " (largest message; /proc/sys/kernel/msgmax)\n"
           "kernel.msgmnb = " +
           std::to_string(l.msgmnb) +
           " (default and largest bytes per queue, msg_qbytes; /proc/sys/kernel/msgmnb)\n"
           "kernel.msgmni = " +
           std::to_string(l.msgmni) +
           " (queues in this IPC namespace; /proc/sys/kernel/msgmni)\n"
           "CAP_SYS_RESOURCE: " +
           (l.privileged ? "yes (bytes may exceed msgmnb)" : "no (bytes is capped at msgmnb)") +
           "\n\n"
           "Contract: one message per receive, of at most min(msgmax, bytes) bytes; a "
           "message's type (mtype, 1..2147483647) is its header's prio field.  The queue keeps "
           "arrival order and each reader takes, by its msgtyp option, the first message "
           "(0), the first of type n (n), the first of any other type (n with except: true), or "
           "the first of the lowest type <= n (-n); so messages of one type leave in order and "
           "none is lost.  A full queue (bytes) blocks the sender; with nonblocking: true "
           "IPC_NOWAIT is used and EAGAIN/ENOMSG are retried with a backoff.  Readers learn "
           "that every writer has gone from the channel's control file; a blocked msgrcv is "
           "woken every 20 ms by a per-thread timer signal (SIGRTMAX).  Channel options: bytes "
           "(msg_qbytes, default msgmnb), nonblocking (default false); reader options: msgtyp "
           "(default 0), except (default false).\n";
}

}  // namespace

Backend* sysv_msg_backend() {
    static SysvMsgBackend b;
    return &b;
}

}  // namespace ipct
