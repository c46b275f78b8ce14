// Signals as a channel: each message is one queued signal whose value
// carries (origin, seq); the receiver rebuilds the 32-byte message from the
// run seed, so the harness verifies it like any other.
//
// Kernel facts the contract rests on (signal(7), sigqueue(3)):
//  - real-time signals queue: every sigqueue() is one delivery, until the
//    user's RLIMIT_SIGPENDING (counted against the *receiver's* limit, over
//    every signal pending for the real user id) refuses more with EAGAIN;
//  - among pending signals the lowest number is dequeued first, and the
//    instances of one real-time signal in the order they were queued;
//  - a standard signal does not queue: while one instance is pending, a
//    second is dropped (its sigqueue() still succeeds), so the receiver gets
//    the first pending instance's value and never an older one later.
//
// Readers publish (pid, start time) in <channel>.pids at open(); writers map
// them to pidfds at their first send and check the start time, so a reader
// that died and whose pid was recycled can never receive (or be killed by)
// a signal meant for it.  Each writer sends everything to one reader,
// writer rank % readers: every reader has a queue of its own, so spreading
// one writer's messages over several readers would break FIFO per sender
// (the contract) and lowest-number-first holds per reader only.
//
// Value packing: sival_ptr = origin << 48 | seq.  Origins above 65535 or
// sequence numbers at or above 2^48 cannot be represented: send() returns
// EOVERFLOW for them (a scenario would need 2^48 messages from one producer).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "common/control.hpp"
#include "ipctorture/message.hpp"
#include "signal/mutant_handler.hpp"
#include "signal/mutant_standard.hpp"

namespace ipct {

namespace {

constexpr unsigned kSeqBits = 48;
constexpr std::uint64_t kSeqLimit = std::uint64_t{1} << kSeqBits;
constexpr std::uint64_t kOriginLimit = std::uint64_t{1} << (64 - kSeqBits);
// How long a blocked reader waits before it re-checks for writers gone.
constexpr long kWaitNs = 20'000'000;

struct SignalOptions {
    bool realtime = true;
    std::uint32_t signals = 1;  // realtime: SIGRTMIN .. SIGRTMIN + signals - 1
    int standard = SIGUSR1;     // standard: the one signal
    bool handler = false;       // receive: handler (else wait)
    bool retry_full = false;
};

// SIGRTMIN is a run-time value: the C library keeps the first real-time
// signals for itself (glibc: 32 and 33 for threads).
int rt_signals_available() {
    return SIGRTMAX - SIGRTMIN + 1;
}

SignalOptions parse_options(const Options& o) {
    option_reject_unknown(o, {"kind", "signals", "signal", "receive", "retry_full"});
    SignalOptions s;
    s.realtime = option_choice(o, "kind", "realtime", {"realtime", "standard"}) == "realtime";
    const char* other = s.realtime ? "signal" : "signals";
    if (auto it = o.find(other); it != o.end())
        throw ScenarioError(
            it->second.loc.file, it->second.loc.line, it->second.loc.column,
            std::string("option '") + other + "' is not for kind: " +
                (s.realtime ? "realtime (it takes 'signals')" : "standard (it takes 'signal')"));
    s.signals = static_cast<std::uint32_t>(option_uint(o, "signals", 1, 1, rt_signals_available()));
    s.standard = option_choice(o, "signal", "SIGUSR1", {"SIGUSR1", "SIGUSR2"}) == "SIGUSR1"
                     ? SIGUSR1
                     : SIGUSR2;
    s.handler = option_choice(o, "receive", "wait", {"wait", "handler"}) == "handler";
    s.retry_full = option_bool(o, "retry_full", false);
    return s;
}

// The options the code `mutant` names really runs with: the
// standard-signal mutant sends on a standard signal whatever the channel
// declares.
SignalOptions running_options(const Options& o, const std::string& mutant) {
    const bool standard = mutant == standard_signal_mutant().name;
    return parse_options(standard ? standard_signal_options(o) : o);
}

sigset_t channel_set(const SignalOptions& s) {
    sigset_t set;
    sigemptyset(&set);
    if (!s.realtime) sigaddset(&set, s.standard);
    for (std::uint32_t i = 0; s.realtime && i < s.signals; ++i) sigaddset(&set, SIGRTMIN + int(i));
    return set;
}

std::string pids_path(const ChannelSetup& ch) {
    return ch.run_dir + "/" + ch.name + ".pids";
}

// A reader's slot in the pids file.
struct PidSlot {
    std::uint32_t pid;
    std::uint32_t pad;
    std::uint64_t start_time;  // /proc/<pid>/stat field 22: tells a recycled pid apart
};

// Start time of a process in clock ticks since boot; 0 if it is gone.
std::uint64_t start_time(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t paren = stat.rfind(')');  // the command name may hold spaces
    if (paren == std::string::npos) return 0;
    std::istringstream fields(stat.substr(paren + 2));
    std::string f;
    // Fields 3..21 come before the start time (field 22).
    for (int i = 3; i <= 21 && fields >> f; ++i) {
    }
    std::uint64_t t = 0;
    fields >> t;
    return t;
}

std::uint64_t pack(std::uint32_t origin, std::uint64_t seq) {
    return (std::uint64_t{origin} << kSeqBits) | seq;
}

// ---- the handler ring -------------------------------------------------------
//
// receive: handler.  The channel's signals stay blocked except inside
// ppoll(), which unblocks them and waits in one step (no lost wake-up).  The
// handler runs with every signal blocked (sa_mask), so handlers never nest
// and the ring has one producer (the handler) and one consumer (the
// interrupted receive()).  One ring per process: a process reads at most one
// channel in handler mode.
//
// One channel signal per ppoll(): its handler frame restores, on return, the
// mask ppoll() replaced (channel signals blocked), so each message is taken
// from the kernel inside the receive() that returns it.  (A signaler's
// counting handler also blocks every signal while it runs, or a channel
// signal could be delivered inside it.)

struct RingEntry {
    int signo;
    bool queued;  // si_code == SI_QUEUE: the value is a sender's, not garbage
    std::uint64_t value;
};

struct Ring {
    static constexpr std::uint32_t kSize = 256;
    std::atomic<std::uint32_t> head{0};  // next to pop (consumer)
    std::atomic<std::uint32_t> tail{0};  // next to fill (handler)
    std::atomic<std::uint64_t> overflow{0};
    std::array<RingEntry, kSize> e{};
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

Ring g_ring;
std::atomic<bool> g_ring_taken{false};

extern "C" void on_channel_signal(int signo, siginfo_t* info, void*) {
    const int saved = errno;
    const std::uint32_t t = g_ring.tail.load(std::memory_order_relaxed);
    if (t - g_ring.head.load(std::memory_order_acquire) >= Ring::kSize) {
        g_ring.overflow.fetch_add(1, std::memory_order_relaxed);
    } else {
        RingEntry& slot = g_ring.e[t % Ring::kSize];
        slot.signo = signo;
        slot.queued = info->si_code == SI_QUEUE;
        slot.value = reinterpret_cast<std::uintptr_t>(info->si_value.sival_ptr);
        g_ring.tail.store(t + 1, std::memory_order_release);
    }
    errno = saved;
}

std::optional<RingEntry> ring_pop() {
    const std::uint32_t h = g_ring.head.load(std::memory_order_relaxed);
    if (h == g_ring.tail.load(std::memory_order_acquire)) return std::nullopt;
    RingEntry e = g_ring.e[h % Ring::kSize];
    g_ring.head.store(h + 1, std::memory_order_release);
    return e;
}

// ---- endpoints --------------------------------------------------------------

class SignalReader final : public Endpoint {
  public:
    SignalReader(const ChannelSetup& ch, const SignalOptions& s)
        : opt_(s), ctl_(control_path(ch)), payload_(ch.seed), set_(channel_set(s)) {
        // Blocked before the start barrier: nothing can be delivered (and
        // kill us by its default action) before we wait for it.
        if (::sigprocmask(SIG_BLOCK, &set_, &waiting_mask_) != 0) IPCT_FAIL_ERRNO("sigprocmask");
        for (int sig = 1; sig < NSIG; ++sig)
            if (sigismember(&set_, sig)) sigdelset(&waiting_mask_, sig);
        if (opt_.handler) install_handler(ch.mutant);
        publish(ch);
    }
    IoResult send(std::span<const std::byte>) override { return {0, EBADF, 0}; }
    IoResult receive(std::span<std::byte> buf) override;
    // The signals stay blocked: one still in flight must not kill the process.
    void close() override {}

  private:
    void install_handler(const std::string& mutant) {
        if (g_ring_taken.exchange(true))
            IPCT_FAIL("a process can read only one signal channel with receive: handler");
        struct sigaction sa {};
        sa.sa_sigaction = handler_for_mutant(mutant, on_channel_signal);
        sa.sa_flags = SA_SIGINFO;
        sigfillset(&sa.sa_mask);
        for (int sig = 1; sig < NSIG; ++sig)
            if (sigismember(&set_, sig) && ::sigaction(sig, &sa, nullptr) != 0)
                IPCT_FAIL_ERRNO("sigaction");
    }
    void publish(const ChannelSetup& ch) {
        PidSlot slot{static_cast<std::uint32_t>(::getpid()), 0, start_time(::getpid())};
        const int fd = ::open(pids_path(ch).c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) IPCT_FAIL_ERRNO("cannot open " + pids_path(ch));
        const ssize_t n = ::pwrite(fd, &slot, sizeof slot, off_t(ch.rank) * sizeof slot);
        ::close(fd);
        if (n != static_cast<ssize_t>(sizeof slot)) IPCT_FAIL_ERRNO("write " + pids_path(ch));
    }
    IoResult deliver(std::span<std::byte> buf, int signo, bool queued, std::uint64_t value,
                     std::size_t calls);
    IoResult receive_wait(std::span<std::byte> buf);
    IoResult receive_handler(std::span<std::byte> buf);
    bool channel_signal_pending() const;

    SignalOptions opt_;
    ChannelControl ctl_;
    Payload payload_;
    sigset_t set_;
    sigset_t waiting_mask_;  // the mask with the channel's signals unblocked
};

IoResult SignalReader::receive(std::span<std::byte> buf) {
    if (buf.size() < kHeaderSize) return {0, EMSGSIZE, 0};
    return opt_.handler ? receive_handler(buf) : receive_wait(buf);
}

// A signal without a queued value (someone's kill()) rebuilds nothing: its
// bytes are zeros, which the harness records as a damaged message.
IoResult SignalReader::deliver(std::span<std::byte> buf, int signo, bool queued,
                               std::uint64_t value, std::size_t calls) {
    auto msg = buf.first(kHeaderSize);
    if (!queued) {
        std::memset(msg.data(), 0, msg.size());
    } else {
        const std::uint32_t prio = opt_.realtime ? std::uint32_t(signo - SIGRTMIN) : 0;
        payload_.fill(msg, static_cast<std::uint32_t>(value >> kSeqBits), value & (kSeqLimit - 1),
                      prio);
    }
    return {kHeaderSize, 0, calls};
}

// End of channel: read writers_open() *before* looking for a signal.  A
// writer marks itself gone after its last sigqueue() returned, and a
// returned sigqueue() has made the signal pending, so when the count was 0
// and then nothing is pending, nothing more will come.
// An EINTR goes round the loop, not through retry_eintr: a restarted
// sigtimedwait starts its timeout afresh, so under a storm of other signals
// (a signaler at 50/s or more) a reader that no writer will ever reach never
// looked at writers_open() again, and it and the signaler, which storms
// until its targets end, waited on each other (found by scenario_fuzzer).
IoResult SignalReader::receive_wait(std::span<std::byte> buf) {
    const timespec wait{0, kWaitNs}, now{0, 0};
    std::size_t calls = 0;
    for (;;) {
        const bool last = ctl_.writers_open() == 0;
        siginfo_t info;
        const int sig = ::sigtimedwait(&set_, &info, last ? &now : &wait);
        ++calls;
        if (sig > 0)
            return deliver(buf, sig, info.si_code == SI_QUEUE,
                           reinterpret_cast<std::uintptr_t>(info.si_value.sival_ptr), calls);
        if (errno == EINTR) {
            count_eintr_retry();
            continue;
        }
        if (errno != EAGAIN) return {0, errno, calls};
        if (last) return {0, -1, calls};
    }
}

bool SignalReader::channel_signal_pending() const {
    sigset_t pending;
    if (::sigpending(&pending) != 0) IPCT_FAIL_ERRNO("sigpending");
    for (int sig = 1; sig < NSIG; ++sig)
        if (sigismember(&set_, sig) && sigismember(&pending, sig)) return true;
    return false;
}

IoResult SignalReader::receive_handler(std::span<std::byte> buf) {
    const timespec wait{0, kWaitNs}, now{0, 0};
    std::size_t calls = 0;
    for (;;) {
        if (g_ring.overflow.exchange(0) != 0) return {0, ENOBUFS, calls};
        if (auto e = ring_pop()) return deliver(buf, e->signo, e->queued, e->value, calls);
        const bool last = ctl_.writers_open() == 0;
        if (last && !channel_signal_pending()) {
            if (auto e = ring_pop()) return deliver(buf, e->signo, e->queued, e->value, calls);
            return {0, -1, calls};
        }
        // Unblocks the channel's signals and waits, atomically: a signal
        // pending now runs its handler before ppoll returns (EINTR).
        ++calls;
        const int r = ::ppoll(nullptr, 0, last ? &now : &wait, &waiting_mask_);
        if (r < 0 && errno != EINTR) return {0, errno, calls};
    }
}

class SignalWriter final : public Endpoint {
  public:
    SignalWriter(const ChannelSetup& ch, const SignalOptions& s)
        : opt_(s),
          ctl_(control_path(ch)),
          rank_(ch.rank),
          readers_(ch.readers),
          pids_(pids_path(ch)) {}
    ~SignalWriter() override { close(); }
    IoResult send(std::span<const std::byte> msg) override;
    IoResult receive(std::span<std::byte>) override { return {0, EBADF, 0}; }
    void close() override {
        for (int& fd : pidfds_)
            if (fd >= 0) ::close(std::exchange(fd, -1));
        if (!closed_) ctl_.writer_gone(rank_);
        closed_ = true;
    }

  private:
    void load_readers();
    int signal_for(std::uint32_t prio) const;

    SignalOptions opt_;
    ChannelControl ctl_;
    std::uint32_t rank_;
    std::uint32_t readers_;
    std::string pids_;
    bool loaded_ = false;
    bool closed_ = false;
    std::vector<int> pidfds_;  // per reader; -1 = gone
};

// Each reader's published pid becomes a pidfd, kept only if the process
// behind it is still the one that published it.
void SignalWriter::load_readers() {
    loaded_ = true;
    pidfds_.assign(readers_, -1);
    const int fd = ::open(pids_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) IPCT_FAIL_ERRNO("cannot open " + pids_);
    std::vector<PidSlot> slots(readers_);
    const ssize_t n = ::pread(fd, slots.data(), slots.size() * sizeof(PidSlot), 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(slots.size() * sizeof(PidSlot))) IPCT_FAIL_ERRNO("read " + pids_);
    for (std::uint32_t r = 0; r < readers_; ++r) {
        if (slots[r].pid == 0) continue;  // never opened: every send to it fails
        const int pfd = ::pidfd_open(static_cast<pid_t>(slots[r].pid), 0);
        if (pfd < 0 && errno != ESRCH) IPCT_FAIL_ERRNO("pidfd_open");
        if (pfd < 0) continue;
        if (start_time(static_cast<pid_t>(slots[r].pid)) != slots[r].start_time) {
            ::close(pfd);  // the reader died and its pid went to someone else
            continue;
        }
        pidfds_[r] = pfd;
    }
}

int SignalWriter::signal_for(std::uint32_t prio) const {
    if (!opt_.realtime) return prio == 0 ? opt_.standard : -1;
    return prio < opt_.signals ? SIGRTMIN + int(prio) : -1;
}

IoResult SignalWriter::send(std::span<const std::byte> msg) {
    if (msg.size() != kHeaderSize) return {0, EMSGSIZE, 0};
    MsgHeader h;
    std::memcpy(&h, msg.data(), sizeof h);
    if (h.origin >= kOriginLimit || h.seq >= kSeqLimit) return {0, EOVERFLOW, 0};
    const int signo = signal_for(h.prio);
    if (signo < 0) return {0, EINVAL, 0};
    if (!loaded_) load_readers();
    if (readers_ == 0) return {0, ESRCH, 0};
    const int pfd = pidfds_[rank_ % readers_];
    if (pfd < 0) return {0, ESRCH, 0};
    // What sigqueue() sends, through the pidfd.
    siginfo_t info{};
    info.si_signo = signo;
    info.si_code = SI_QUEUE;
    info.si_pid = ::getpid();
    info.si_uid = ::getuid();
    info.si_value.sival_ptr =
        reinterpret_cast<void*>(static_cast<std::uintptr_t>(pack(h.origin, h.seq)));
    long backoff_ns = 10'000;
    for (std::size_t calls = 1;; ++calls) {
        const int r = retry_eintr([&] { return ::pidfd_send_signal(pfd, signo, &info, 0); });
        if (r == 0) return {kHeaderSize, 0, calls};
        if (errno != EAGAIN || !opt_.retry_full) return {0, errno, calls};
        // The receiver's pending limit: wait for it to drain.
        const timespec ts{0, backoff_ns};
        ::nanosleep(&ts, nullptr);
        backoff_ns = std::min(backoff_ns * 2, 10'000'000L);
    }
}

// ---- the backend ------------------------------------------------------------

std::string limit_text(rlim_t v) {
    return v == RLIM_INFINITY ? "unlimited" : std::to_string(v);
}

class SignalBackend final : public Backend {
  public:
    std::string_view name() const override { return "signal"; }
    std::string_view summary() const override {
        return "signals sent with sigqueue (real-time: queued, or standard: coalescing); one "
               "signal per message, its value carries origin and seq";
    }
    Contract contract(const Options& o) const override { return contract_of(parse_options(o)); }
    void validate(const Options& o) const override { parse_options(o); }
    std::vector<MutantInfo> mutants() const override {
        std::vector<MutantInfo> v = handler_mutants();
        v.push_back(standard_signal_mutant());
        return v;
    }
    void validate_mutant(const ChannelSpec& ch, const ProcessSpec&, Direction) const override {
        if (ch.mutant == standard_signal_mutant().name) validate_standard_signal(ch);
    }
    void validate_topology(const ChannelSpec& ch, std::uint32_t readers,
                           std::uint32_t) const override {
        if (is_handler_mutant(ch.mutant) && !parse_options(ch.options).handler)
            throw ScenarioError(ch.mutant_loc.file, ch.mutant_loc.line, ch.mutant_loc.column,
                                "mutant '" + ch.mutant +
                                    "' plants its bug in the receive handler; expected option "
                                    "receive: handler on channel '" +
                                    ch.name + "'");
        if (parse_options(ch.options).realtime || readers <= 1) return;
        throw ScenarioError(ch.loc.file, ch.loc.line, ch.loc.column,
                            "channel '" + ch.name + "' (signal, kind: standard) has " +
                                std::to_string(readers) +
                                " readers; expected exactly one: a standard signal coalesces "
                                "per receiving process, so its contract is per receiver");
    }
    std::vector<int> signals_used(const Options& o, const std::string& mutant) const override {
        const SignalOptions s = running_options(o, mutant);
        std::vector<int> v;
        for (int sig = 1; sig < NSIG; ++sig) {
            const sigset_t set = channel_set(s);
            if (sigismember(&set, sig)) v.push_back(sig);
        }
        return v;
    }
    ReceiveRequest receive_request(const Options& o, const Options&) const override {
        if (!parse_options(o).realtime) return {};
        ReceiveRequest r;
        r.order = ReceiveRequest::Order::kLowestFirst;
        r.per_reader = true;  // each reader is a queue of its own
        r.match = ReceiveRequest::Match::kAny;
        return r;
    }

    nlohmann::json create(const ChannelSetup& ch) override {
        ChannelControl::create(control_path(ch), ch.writers);
        const std::string pids = pids_path(ch);
        const int fd = ::open(pids.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) IPCT_FAIL_ERRNO("cannot create " + pids);
        const int r = ::ftruncate(fd, off_t(ch.readers) * sizeof(PidSlot));
        const int e = errno;
        ::close(fd);
        errno = e;
        if (r != 0) IPCT_FAIL_ERRNO("ftruncate " + pids);
        return {{"control", control_path(ch)}, {"pids", pids}};
    }
    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json&,
                                   Direction d) override {
        const SignalOptions s = running_options(ch.options, ch.mutant);
        if (d == Direction::kRead) return std::make_unique<SignalReader>(ch, s);
        return std::make_unique<SignalWriter>(ch, s);
    }
    void cleanup(const ChannelSetup& ch, const nlohmann::json&) override {
        ::unlink(control_path(ch).c_str());
        ::unlink(pids_path(ch).c_str());
    }
    std::string explain() const override;
    std::string_view external_refusal() const override {
        return "signals carry a value of origin and sequence, not a message's bytes: they are "
               "no channel a program could relay";
    }

  private:
    static Contract contract_of(const SignalOptions& s);
};

Contract SignalBackend::contract_of(const SignalOptions& s) {
    Contract c;
    c.boundaries = true;
    c.max_message = kHeaderSize;
    if (s.realtime) {
        c.unit = "signal";
        c.fifo = true;
        c.lossless = true;
        c.priority = true;
        c.has_priority = true;
        c.min_priority = 0;
        c.max_priority = s.signals - 1;
        c.notes =
            "one real-time signal per message (SIGRTMIN + priority), queued; the lowest "
            "number is delivered first, FIFO within one number; sends beyond "
            "RLIMIT_SIGPENDING fail with EAGAIN unless retry_full is set";
    } else {
        c.unit = "signal (coalescing)";
        c.fifo = true;
        c.lossless = false;
        c.last_delivery = true;
        c.notes =
            "a standard signal does not queue: a send while one is pending is dropped, so "
            "the receiver sees fewer messages, never an older one after a newer, and at "
            "least one delivery after a sender's last send";
    }
    c.notes += "; messages are header-only (" + std::to_string(kHeaderSize) +
               " bytes); the value packs origin < 65536 and seq < 2^48";
    return c;
}

std::string SignalBackend::explain() const {
    std::ostringstream out;
    rlimit rl{};
    ::getrlimit(RLIMIT_SIGPENDING, &rl);
    out << "SIGRTMIN = " << SIGRTMIN << ", SIGRTMAX = " << SIGRTMAX << " ("
        << rt_signals_available() << " real-time signals; option 'signals' takes 1 to "
        << rt_signals_available() << ")\n"
        << "RLIMIT_SIGPENDING: soft " << limit_text(rl.rlim_cur) << ", hard "
        << limit_text(rl.rlim_max)
        << " (signals queued for the real user id, checked against the receiver's limit)\n";
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("SigQ:", 0) != 0) continue;
        const std::size_t at = line.find_first_not_of(" \t", 5);
        out << "queued now for this user / limit: " << line.substr(at) << "\n";
    }
    auto yes = [](bool b) { return b ? "yes" : "no"; };
    for (const char* kind : {"realtime", "standard"}) {
        const Contract c = contract_of(parse_options({{"kind", OptionValue{kind, {}}}}));
        out << "kind " << kind << ": unit '" << c.unit << "', lossless " << yes(c.lossless)
            << ", FIFO per sender " << yes(c.fifo) << ", lowest number first " << yes(c.priority)
            << ", a delivery after the last send " << yes(c.last_delivery) << "\n";
    }
    return out.str();
}

}  // namespace

Backend* signal_backend() {
    static SignalBackend b;
    return &b;
}

}  // namespace ipct
