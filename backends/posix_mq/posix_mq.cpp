// POSIX message queue (mq_overview(7)): one queue per channel, created by the
// orchestrator under a name derived from the run id and the channel, opened
// by name in each worker.
//
// Contract: each receive returns one whole message; the queue hands out the
// oldest message of the highest priority present, so messages of one sender
// and one priority stay in order and nothing is lost.  A message's priority
// is its header's `prio` field (0 .. MQ_PRIO_MAX-1).
//
// End of channel: the kernel has none for a queue, so writers say they have
// gone in the channel's control file (common/control.hpp) and readers wait in
// mq_timedreceive with a short deadline, re-checking it in between.
//
// Limits (mq_overview(7), getrlimit(2)): mq_maxmsg <= fs.mqueue.msg_max,
// mq_msgsize <= fs.mqueue.msgsize_max, at most fs.mqueue.queues_max queues,
// and the bytes of a user's queues <= RLIMIT_MSGQUEUE.  The first three are
// waived for CAP_SYS_RESOURCE (up to the kernel's hard caps); the rlimit is
// not.  Root in this project's containers lacks CAP_SYS_RESOURCE, so they
// bind root too.  All are checked when the scenario is validated.
#include <fcntl.h>
#include <mqueue.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>

#include "common/backoff.hpp"
#include "common/control.hpp"
#include "common/sysinfo.hpp"
#include "ipctorture/message.hpp"
#include "posix_mq/mutant_reorder_buffer.hpp"

namespace ipct {

namespace {

// The kernel's RLIMIT_MSGQUEUE charge for one queue (getrlimit(2), since
// Linux 3.5):
//   maxmsg * sizeof(struct msg_msg)
//   + min(maxmsg, MQ_PRIO_MAX) * sizeof(struct posix_msg_tree_node)
//   + maxmsg * msgsize.
// Both structures are 48 bytes on 64-bit kernels: measured here (6.18) by
// filling the limit with queues of known shape and finding the largest
// queue that still fits (96 bytes of overhead per message slot).
constexpr std::uint64_t kMsgMsgBytes = 48;
constexpr std::uint64_t kTreeNodeBytes = 48;
// Kernel caps that hold even with CAP_SYS_RESOURCE (ipc/mqueue.c).
constexpr std::uint64_t kHardMsgMax = 65536;
constexpr std::uint64_t kHardMsgSizeMax = 16 * 1024 * 1024;
// How long a blocked reader waits before it looks at the control file again.
constexpr long kWaitSliceNs = 20'000'000;

struct Limits {
    std::uint64_t msg_max, msgsize_max, queues_max;
    rlimit rlim{};
    long prio_max;
    bool privileged;
};

Limits live_limits() {
    Limits l{};
    l.msg_max = proc_uint("/proc/sys/fs/mqueue/msg_max", 10);
    l.msgsize_max = proc_uint("/proc/sys/fs/mqueue/msgsize_max", 8192);
    l.queues_max = proc_uint("/proc/sys/fs/mqueue/queues_max", 256);
    if (::getrlimit(RLIMIT_MSGQUEUE, &l.rlim) != 0) IPCT_FAIL_ERRNO("getrlimit RLIMIT_MSGQUEUE");
    l.prio_max = ::sysconf(_SC_MQ_PRIO_MAX);
    if (l.prio_max <= 0) l.prio_max = 32768;  // Linux's MQ_PRIO_MAX
    l.privileged = has_cap_sys_resource();
    return l;
}

struct MqOptions {
    std::uint64_t depth;    // mq_maxmsg
    std::uint64_t msgsize;  // mq_msgsize
    bool nonblocking;
};

// Parses the channel options; defaults follow the live limits.  Values are
// range-checked only against the kernel's hard caps: check_limits() holds
// them to the live sysctls.
MqOptions parse_options(const Options& o, const Limits& l) {
    option_reject_unknown(o, {"depth", "msgsize", "nonblocking"});
    MqOptions m;
    m.depth = option_uint(o, "depth", std::min<std::uint64_t>(10, l.msg_max), 1, kHardMsgMax);
    m.msgsize = option_uint(o, "msgsize", std::min<std::uint64_t>(8192, l.msgsize_max), kHeaderSize,
                            kHardMsgSizeMax);
    m.nonblocking = option_bool(o, "nonblocking", false);
    return m;
}

[[noreturn]] void fail_at(const SourceLoc& at, const std::string& what) {
    throw ScenarioError(at.file, at.line, at.column, what);
}

// Where a channel's size is set: its depth option, else msgsize, else the
// channel itself.
SourceLoc sizing_loc(const ChannelSpec& c) {
    for (const char* key : {"depth", "msgsize"})
        if (auto it = c.options.find(key); it != c.options.end()) return it->second.loc;
    return c.loc;
}

void check_limits(const Options& o, const MqOptions& m, const Limits& l) {
    if (l.privileged) return;  // parse_options() already held them to the hard caps
    if (m.depth > l.msg_max)
        fail_at(o.at("depth").loc,
                "option 'depth': " + std::to_string(m.depth) +
                    " is above the kernel limit fs.mqueue.msg_max = " + std::to_string(l.msg_max) +
                    " (/proc/sys/fs/mqueue/msg_max); raise it with `sysctl fs.mqueue.msg_max=" +
                    std::to_string(m.depth) + "` or lower depth");
    if (m.msgsize > l.msgsize_max)
        fail_at(o.at("msgsize").loc,
                "option 'msgsize': " + std::to_string(m.msgsize) +
                    " is above the kernel limit fs.mqueue.msgsize_max = " +
                    std::to_string(l.msgsize_max) +
                    " (/proc/sys/fs/mqueue/msgsize_max); raise it with `sysctl "
                    "fs.mqueue.msgsize_max=" +
                    std::to_string(m.msgsize) + "` or lower msgsize");
}

std::uint64_t queue_bytes(const MqOptions& m, const Limits& l) {
    const std::uint64_t nodes = std::min<std::uint64_t>(m.depth, std::uint64_t(l.prio_max));
    return m.depth * kMsgMsgBytes + nodes * kTreeNodeBytes + m.depth * m.msgsize;
}

// "/ipct-<run id>-<channel>".  The part after the slash may hold NAME_MAX
// bytes; a longer one keeps its start and ends in a hash of the whole, so it
// is still unique and still derived from the setup alone (cleanup needs that).
std::string queue_name(const ChannelSetup& ch) {
    std::string base = "ipct-" + ch.run_id + "-" + ch.name;
    std::replace(base.begin(), base.end(), '/', '_');
    if (base.size() > NAME_MAX) {
        std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a finaliser
        for (unsigned char c : base) h = (h ^ c) * 0x100000001b3ull;
        char tail[18];
        std::snprintf(tail, sizeof tail, "-%016llx", static_cast<unsigned long long>(mix64(h)));
        base = base.substr(0, NAME_MAX - 17) + tail;
    }
    return "/" + base;
}

timespec deadline_in(long ns) {
    timespec t{};
    ::clock_gettime(CLOCK_REALTIME, &t);  // mq_timedreceive's clock
    t.tv_nsec += ns;
    t.tv_sec += t.tv_nsec / 1'000'000'000;
    t.tv_nsec %= 1'000'000'000;
    return t;
}

class MqEndpoint final : public Endpoint {
  public:
    MqEndpoint(mqd_t q, Direction d, bool nonblocking, std::size_t msgsize, ChannelControl ctl,
               std::uint32_t rank)
        : q_(q),
          reader_(d == Direction::kRead),
          nonblocking_(nonblocking),
          msgsize_(msgsize),
          ctl_(std::move(ctl)),
          rank_(rank) {}
    ~MqEndpoint() override { close(); }

    IoResult send(std::span<const std::byte> msg) override;
    IoResult receive(std::span<std::byte> buf) override;
    void close() override {
        if (q_ == mqd_t(-1)) return;
        // After the last send returned: readers may now take "empty" as the end.
        if (!reader_) ctl_.writer_gone(rank_);
        ::mq_close(q_);
        q_ = mqd_t(-1);
    }

  private:
    ssize_t take(char* dst, bool final_look);
    mqd_t q_;
    bool reader_;
    bool nonblocking_;
    std::size_t msgsize_;
    ChannelControl ctl_;
    std::uint32_t rank_;
    std::vector<char> bounce_;  // for a caller's buffer below mq_msgsize
    bool eof_ = false;
};

// Blocking mode: one blocking mq_send.  Non-blocking: the queue is opened
// O_NONBLOCK and a full queue (EAGAIN) is retried here, each attempt counted.
IoResult MqEndpoint::send(std::span<const std::byte> msg) {
    MsgHeader h{};
    if (msg.size() >= kHeaderSize) std::memcpy(&h, msg.data(), kHeaderSize);
    const auto* p = reinterpret_cast<const char*>(msg.data());
    IoResult r;
    Backoff backoff;
    for (;;) {
        ++r.calls;
        if (retry_eintr([&] { return ::mq_send(q_, p, msg.size(), h.prio); }) == 0) {
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

// One attempt.  In blocking mode it waits at most a slice, or not at all on
// the final look; ETIMEDOUT or EAGAIN means nothing came.
ssize_t MqEndpoint::take(char* dst, bool final_look) {
    if (nonblocking_) return retry_eintr([&] { return ::mq_receive(q_, dst, msgsize_, nullptr); });
    const timespec until = final_look ? timespec{0, 0} : deadline_in(kWaitSliceNs);
    return retry_eintr([&] { return ::mq_timedreceive(q_, dst, msgsize_, nullptr, &until); });
}

IoResult MqEndpoint::receive(std::span<std::byte> buf) {
    IoResult r;
    if (eof_) {
        r.err = -1;
        return r;
    }
    // mq_receive refuses a buffer below mq_msgsize (EMSGSIZE) even for a
    // short message.
    const bool direct = buf.size() >= msgsize_;
    if (!direct) bounce_.resize(msgsize_);
    char* dst = direct ? reinterpret_cast<char*>(buf.data()) : bounce_.data();
    Backoff backoff;
    for (;;) {
        // Read before the attempt (control.hpp): once no writer is open,
        // every send that will complete has, so an empty queue is the end.
        const bool over = ctl_.writers_open() == 0;
        ++r.calls;
        const ssize_t n = take(dst, over);
        if (n >= 0) {
            r.done = std::min(static_cast<std::size_t>(n), buf.size());
            if (!direct) std::memcpy(buf.data(), dst, r.done);
            return r;
        }
        if (errno != ETIMEDOUT && errno != EAGAIN) {
            r.err = errno;
            return r;
        }
        if (over) {
            eof_ = true;
            r.err = -1;
            return r;
        }
        if (nonblocking_) backoff.pause();
    }
}

class PosixMqBackend final : public Backend {
  public:
    std::string_view name() const override { return "posix_mq"; }
    bool reopenable() const override { return true; }
    std::string_view summary() const override {
        return "POSIX message queue (mq_open), named after the run, priorities 0..MQ_PRIO_MAX-1";
    }
    Contract contract(const Options& o) const override {
        const Limits l = live_limits();
        return make_contract(parse_options(o, l), l);
    }
    void validate(const Options& o) const override {
        const Limits l = live_limits();
        check_limits(o, parse_options(o, l), l);
    }
    ReceiveRequest receive_request(const Options&, const Options&) const override {
        return {ReceiveRequest::Order::kHighestFirst, ReceiveRequest::Match::kAny, 0};
    }
    void validate_usage(const std::vector<const ChannelSpec*>& channels,
                        const std::vector<std::uint32_t>&) const override;
    std::vector<MutantInfo> mutants() const override { return {reorder_buffer_mutant()}; }

    nlohmann::json create(const ChannelSetup& ch) override;
    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json& st,
                                   Direction d) override;
    // The program opens the queue by name; the input ends once the control
    // file's count of open writers reads 0 and the queue is then empty.
    bool external() const override { return true; }
    ExternalEndpoint external_endpoint(const ChannelSetup& ch, const nlohmann::json& st,
                                       Direction) override {
        const MqOptions m = parse_options(ch.options, live_limits());
        const std::string name =
            st.is_object() && st.contains("name") ? st["name"].get<std::string>() : queue_name(ch);
        return {-1,
                {{"NAME", name},
                 {"MSGSIZE", std::to_string(m.msgsize)},
                 {"END_FILE", control_path(ch)},
                 {"END_OFFSET", std::to_string(ChannelControl::open_count_offset())}}};
    }
    void cleanup(const ChannelSetup& ch, const nlohmann::json&) override {
        // By the derived name: the state may be null (a harness killed
        // before it recorded it).  ENOENT: already gone.
        ::mq_unlink(queue_name(ch).c_str());
        ::unlink(control_path(ch).c_str());
    }
    std::string explain() const override;

  private:
    static Contract make_contract(const MqOptions& m, const Limits& l) {
        Contract c;
        c.unit = "message";
        c.boundaries = true;
        c.fifo = true;
        c.lossless = true;
        c.priority = true;
        c.has_priority = true;
        c.min_priority = 0;
        c.max_priority = static_cast<std::uint32_t>(l.prio_max - 1);
        c.max_message = m.msgsize;
        c.notes =
            "highest priority first, oldest first within a priority; a full queue blocks the "
            "sender (nonblocking: EAGAIN, retried by the sender); end of channel from the "
            "control file";
        return c;
    }
};

void PosixMqBackend::validate_usage(const std::vector<const ChannelSpec*>& channels,
                                    const std::vector<std::uint32_t>&) const {
    const Limits l = live_limits();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < channels.size(); ++i) {
        const ChannelSpec& c = *channels[i];
        const MqOptions m = parse_options(c.options, l);
        total += queue_bytes(m, l);
        if (total > l.rlim.rlim_cur)
            fail_at(sizing_loc(c),
                    "channel '" + c.name + "': the scenario's POSIX queues need " +
                        std::to_string(total) +
                        " bytes of queue memory by the kernel's accounting (depth * (msgsize + " +
                        std::to_string(kMsgMsgBytes + kTreeNodeBytes) +
                        ") per queue), above RLIMIT_MSGQUEUE = " + std::to_string(l.rlim.rlim_cur) +
                        " bytes for this user (ulimit -q; hard limit " +
                        std::to_string(l.rlim.rlim_max) +
                        "); lower depth or msgsize, or raise it (`ulimit -q`, 'msgqueue' in "
                        "/etc/security/limits.conf)");
        if (!l.privileged && i + 1 > l.queues_max)
            fail_at(c.loc, "channel '" + c.name + "': the scenario needs " +
                               std::to_string(channels.size()) +
                               " POSIX queues, above the kernel limit fs.mqueue.queues_max = " +
                               std::to_string(l.queues_max) +
                               " (/proc/sys/fs/mqueue/queues_max); raise it with `sysctl "
                               "fs.mqueue.queues_max=N`");
    }
}

nlohmann::json PosixMqBackend::create(const ChannelSetup& ch) {
    const Limits l = live_limits();
    const MqOptions m = parse_options(ch.options, l);
    const std::string name = queue_name(ch);
    mq_attr attr{};
    attr.mq_maxmsg = static_cast<long>(m.depth);
    attr.mq_msgsize = static_cast<long>(m.msgsize);
    // Linux queue descriptors are always close-on-exec.
    const mqd_t q = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (q == mqd_t(-1)) {
        const int e = errno;
        const std::string what = "channel '" + ch.name + "': mq_open " + name + ": ";
        if (e == EMFILE)
            throw EnvironmentError(what + "RLIMIT_MSGQUEUE (" + std::to_string(l.rlim.rlim_cur) +
                                   " bytes, ulimit -q) is used up by this user's queues");
        if (e == EEXIST)
            throw EnvironmentError(what +
                                   "a queue of this name exists (a run with the same id, or one "
                                   "a killed run left: `ipctorture clean`)");
        if (e == ENOSPC)
            throw EnvironmentError(what + "fs.mqueue.queues_max (" + std::to_string(l.queues_max) +
                                   ") queues exist already");
        if (e == ENFILE || e == ENOMEM || e == EINVAL)
            throw EnvironmentError(what + errno_name(e) + " (" + std::strerror(e) + ")");
        errno = e;
        IPCT_FAIL_ERRNO(what + "cannot create the queue");
    }
    ::mq_close(q);
    try {
        ChannelControl::create(control_path(ch), ch.writers);
    } catch (...) {
        cleanup(ch, nullptr);
        throw;
    }
    return {{"name", name}};
}

std::unique_ptr<Endpoint> PosixMqBackend::open(const ChannelSetup& ch, const nlohmann::json& st,
                                               Direction d) {
    const MqOptions m = parse_options(ch.options, live_limits());
    const std::string name =
        st.is_object() && st.contains("name") ? st["name"].get<std::string>() : queue_name(ch);
    ChannelControl ctl(control_path(ch));
    const int flags =
        (d == Direction::kRead ? O_RDONLY : O_WRONLY) | (m.nonblocking ? O_NONBLOCK : 0);
    const mqd_t q = retry_eintr([&] { return ::mq_open(name.c_str(), flags); });
    if (q == mqd_t(-1)) IPCT_FAIL_ERRNO("cannot open POSIX queue " + name);
    mq_attr attr{};
    if (::mq_getattr(q, &attr) != 0) {
        const int e = errno;
        ::mq_close(q);
        errno = e;
        IPCT_FAIL_ERRNO("mq_getattr " + name);
    }
    const auto msgsize = static_cast<std::size_t>(attr.mq_msgsize);
    auto ep = std::make_unique<MqEndpoint>(q, d, m.nonblocking, msgsize, std::move(ctl), ch.rank);
    if (d == Direction::kRead && ch.mutant == reorder_buffer_mutant().name)
        return make_reorder_buffer_reader(std::move(ep), q, msgsize);
    return ep;
}

std::string PosixMqBackend::explain() const {
    const Limits l = live_limits();
    auto lim = [](rlim_t v) {
        return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v) + " bytes";
    };
    return "fs.mqueue.msg_max = " + std::to_string(l.msg_max) +
           " (largest depth; /proc/sys/fs/mqueue/msg_max)\n"
           "fs.mqueue.msgsize_max = " +
           std::to_string(l.msgsize_max) +
           " (largest msgsize; /proc/sys/fs/mqueue/msgsize_max)\n"
           "fs.mqueue.queues_max = " +
           std::to_string(l.queues_max) +
           " (queues in this IPC namespace; /proc/sys/fs/mqueue/queues_max)\n"
           "RLIMIT_MSGQUEUE = " +
           lim(l.rlim.rlim_cur) + " soft, " + lim(l.rlim.rlim_max) +
           " hard (ulimit -q; per user; a queue costs depth * (msgsize + " +
           std::to_string(kMsgMsgBytes + kTreeNodeBytes) +
           ") bytes)\n"
           "MQ_PRIO_MAX = " +
           std::to_string(l.prio_max) + " (priorities 0.." + std::to_string(l.prio_max - 1) +
           ")\n"
           "CAP_SYS_RESOURCE: " +
           (l.privileged ? "yes (the fs.mqueue limits are waived)" : "no (every limit binds)") +
           "\n\n"
           "Contract: one message per receive, of at most msgsize bytes (default 8192, "
           "at most msgsize_max); the queue hands out the oldest message of the highest "
           "priority present, so messages of one sender and one priority keep their "
           "order and none is lost.  A message's priority is its header's prio field.  A "
           "full queue blocks the sender; with nonblocking: true both sides open the "
           "queue O_NONBLOCK and retry EAGAIN themselves, with a backoff.  Readers learn "
           "that every writer has gone from the channel's control file, waiting at most "
           "20 ms at a time in mq_timedreceive.  Options: depth (mq_maxmsg, default "
           "min(10, msg_max)), msgsize (mq_msgsize, default min(8192, msgsize_max)), "
           "nonblocking (default false).\n";
}

}  // namespace

Backend* posix_mq_backend() {
    static PosixMqBackend b;
    return &b;
}

}  // namespace ipct
