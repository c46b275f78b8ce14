// The raw baselines of `ipctorture bench`: for each mechanism the smallest
// loop that moves the same number of messages of the same size with plain
// system calls (no payload generation, verification, event log, backend or
// orchestrator code).  A forked child is the producer (or, ping-pong, the
// pinger); the parent is the consumer (the echo).  Both are pinned like the
// harness's workers and timed the same way.  Every object is private to the
// run and removed before it returns (queues and FIFOs are unlinked as soon
// as both sides have them open).
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_detail.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/page_buffer.hpp"

namespace ipct::bench {

namespace {

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0) {
        for (long c = 0; c < ::sysconf(_SC_NPROCESSORS_ONLN); ++c) CPU_SET(c, &set);
    } else {
        CPU_SET(cpu, &set);
    }
    ::sched_setaffinity(0, sizeof set, &set);
}

[[noreturn]] void die(const char* what) {
    ::perror(what);
    ::_exit(1);
}

// One direction of a link: send one message, receive one message (a byte
// stream reads exactly `size` bytes).
class Dir {
  public:
    virtual ~Dir() = default;
    virtual void send(const char* p, std::size_t n) = 0;
    // Returns the bytes received, 0 when a UDP receive timed out.
    virtual std::size_t recv(char* p, std::size_t n) = 0;
};

class FdStream final : public Dir {
  public:
    FdStream(int wfd, int rfd) : w_(wfd), r_(rfd) {}
    void send(const char* p, std::size_t n) override {
        while (n > 0) {
            const ssize_t k = ::write(w_, p, n);
            if (k < 0) {
                if (errno == EINTR) continue;
                die("raw write");
            }
            p += k;
            n -= static_cast<std::size_t>(k);
        }
    }
    std::size_t recv(char* p, std::size_t n) override {
        std::size_t got = 0;
        while (got < n) {
            const ssize_t k = ::read(r_, p + got, n - got);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) die("raw read");
            got += static_cast<std::size_t>(k);
        }
        return got;
    }

  private:
    int w_, r_;
};

class FdPacket final : public Dir {
  public:
    FdPacket(int wfd, int rfd, bool udp) : w_(wfd), r_(rfd), udp_(udp) {}
    void send(const char* p, std::size_t n) override {
        for (;;) {
            const ssize_t k = ::send(w_, p, n, 0);
            if (k >= 0) return;
            if (errno == EINTR) continue;
            if (udp_ && (errno == ENOBUFS || errno == ECONNREFUSED)) return;  // a datagram lost
            die("raw send");
        }
    }
    std::size_t recv(char* p, std::size_t n) override {
        for (;;) {
            const ssize_t k = ::recv(r_, p, n, 0);
            if (k >= 0) return static_cast<std::size_t>(k);
            if (errno == EINTR) continue;
            if (udp_ && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
            die("raw recv");
        }
    }

  private:
    int w_, r_;
    bool udp_;
};

class PosixMq final : public Dir {
  public:
    explicit PosixMq(mqd_t q) : q_(q) {}
    void send(const char* p, std::size_t n) override {
        while (::mq_send(q_, p, n, 0) != 0)
            if (errno != EINTR) die("raw mq_send");
    }
    std::size_t recv(char* p, std::size_t n) override {
        for (;;) {
            const ssize_t k = ::mq_receive(q_, p, n, nullptr);
            if (k >= 0) return static_cast<std::size_t>(k);
            if (errno != EINTR) die("raw mq_receive");
        }
    }

  private:
    mqd_t q_;
};

class SysvMsg final : public Dir {
  public:
    SysvMsg(int id, std::size_t size) : id_(id), buf_(sizeof(long) + size) {}
    void send(const char* p, std::size_t n) override {
        long type = 1;
        std::memcpy(buf_.data(), &type, sizeof type);
        std::memcpy(buf_.data() + sizeof type, p, n);
        while (::msgsnd(id_, buf_.data(), n, 0) != 0)
            if (errno != EINTR) die("raw msgsnd");
    }
    std::size_t recv(char* p, std::size_t n) override {
        for (;;) {
            const ssize_t k = ::msgrcv(id_, buf_.data(), n, 0, 0);
            if (k >= 0) {
                std::memcpy(p, buf_.data() + sizeof(long), static_cast<std::size_t>(k));
                return static_cast<std::size_t>(k);
            }
            if (errno != EINTR) die("raw msgrcv");
        }
    }

  private:
    int id_;
    PageChars buf_;
};

// A shared ring of `slots` slots of `size` bytes, single producer and single
// consumer, in an anonymous MAP_SHARED mapping made before the fork.
struct alignas(64) RingHead {
    alignas(64) std::atomic<std::uint64_t> head;
    alignas(64) std::atomic<std::uint64_t> tail;
    alignas(64) pthread_mutex_t mutex;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    sem_t free_slots;
    sem_t used_slots;
};
constexpr std::uint64_t kSlots = 64;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    asm volatile("" ::: "memory");
#endif
}

// Spins, then yields, then sleeps briefly: what a ring without a kernel
// wait can do (the harness's shm ring waits the same way).
class Spin {
  public:
    void pause() {
        if (n_ < 4) {
            for (unsigned i = 0; i < (64u << n_); ++i) cpu_relax();
        } else if (n_ < 12) {
            ::sched_yield();
        } else {
            const timespec ts{0, std::min(20'000L << std::min(n_ - 12, 6u), 1'000'000L)};
            ::nanosleep(&ts, nullptr);
        }
        if (n_ < 64) ++n_;
    }

  private:
    unsigned n_ = 0;
};

class ShmRing final : public Dir {
  public:
    ShmRing(RawMech m, std::size_t size) : m_(m), size_(size) {
        bytes_ = sizeof(RingHead) + kSlots * (size + sizeof(std::uint64_t));
        void* p =
            ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) IPCT_FAIL_ERRNO("raw mmap");
        h_ = new (p) RingHead{};
        slots_ = static_cast<char*>(p) + sizeof(RingHead);
        pthread_mutexattr_t ma;
        pthread_mutexattr_init(&ma);
        pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        pthread_mutex_init(&h_->mutex, &ma);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
        pthread_cond_init(&h_->not_empty, &ca);
        pthread_cond_init(&h_->not_full, &ca);
        sem_init(&h_->free_slots, 1, kSlots);
        sem_init(&h_->used_slots, 1, 0);
    }
    ~ShmRing() override { ::munmap(h_, bytes_); }

    void send(const char* p, std::size_t n) override {
        switch (m_) {
            case RawMech::kShmMutex: {
                pthread_mutex_lock(&h_->mutex);
                std::uint64_t head;
                while ((head = h_->head.load(std::memory_order_relaxed)) -
                           h_->tail.load(std::memory_order_relaxed) >=
                       kSlots)
                    pthread_cond_wait(&h_->not_full, &h_->mutex);
                put(head, p, n);
                h_->head.store(head + 1, std::memory_order_relaxed);
                pthread_cond_signal(&h_->not_empty);
                pthread_mutex_unlock(&h_->mutex);
                return;
            }
            case RawMech::kShmSemaphore: {
                while (sem_wait(&h_->free_slots) != 0) {
                }
                const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
                put(head, p, n);
                h_->head.store(head + 1, std::memory_order_relaxed);
                sem_post(&h_->used_slots);
                return;
            }
            default: {
                Spin s;
                const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
                while (head - h_->tail.load(std::memory_order_acquire) >= kSlots) s.pause();
                put(head, p, n);
                h_->head.store(head + 1, std::memory_order_release);
                return;
            }
        }
    }

    std::size_t recv(char* p, std::size_t n) override {
        switch (m_) {
            case RawMech::kShmMutex: {
                pthread_mutex_lock(&h_->mutex);
                std::uint64_t tail;
                while ((tail = h_->tail.load(std::memory_order_relaxed)) ==
                       h_->head.load(std::memory_order_relaxed))
                    pthread_cond_wait(&h_->not_empty, &h_->mutex);
                const std::size_t k = take(tail, p, n);
                h_->tail.store(tail + 1, std::memory_order_relaxed);
                pthread_cond_signal(&h_->not_full);
                pthread_mutex_unlock(&h_->mutex);
                return k;
            }
            case RawMech::kShmSemaphore: {
                while (sem_wait(&h_->used_slots) != 0) {
                }
                const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
                const std::size_t k = take(tail, p, n);
                h_->tail.store(tail + 1, std::memory_order_relaxed);
                sem_post(&h_->free_slots);
                return k;
            }
            default: {
                Spin s;
                const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
                while (h_->head.load(std::memory_order_acquire) == tail) s.pause();
                const std::size_t k = take(tail, p, n);
                h_->tail.store(tail + 1, std::memory_order_release);
                return k;
            }
        }
    }

  private:
    char* slot(std::uint64_t pos) {
        return slots_ + (pos % kSlots) * (size_ + sizeof(std::uint64_t));
    }
    void put(std::uint64_t pos, const char* p, std::size_t n) {
        char* s = slot(pos);
        const std::uint64_t len = n;
        std::memcpy(s, &len, sizeof len);
        std::memcpy(s + sizeof len, p, n);
    }
    std::size_t take(std::uint64_t pos, char* p, std::size_t n) {
        const char* s = slot(pos);
        std::uint64_t len;
        std::memcpy(&len, s, sizeof len);
        len = std::min<std::uint64_t>(len, n);
        std::memcpy(p, s + sizeof len, len);
        return len;
    }

    RawMech m_;
    std::size_t size_;
    std::size_t bytes_ = 0;
    RingHead* h_ = nullptr;
    char* slots_ = nullptr;
};

// Real-time signals: the value carries the sequence number.  The sender
// backs off while the receiver's pending queue is full (EAGAIN), as the
// harness's signal backend does with retry_full.
class Signal final : public Dir {
  public:
    Signal(int sig) : sig_(sig) {}
    void set_peer(pid_t p) { peer_ = p; }
    void send(const char* p, std::size_t n) override {
        (void)n;
        sigval v{};
        std::memcpy(&v.sival_int, p, sizeof v.sival_int);
        long backoff = 10'000;
        while (::sigqueue(peer_, sig_, v) != 0) {
            if (errno != EAGAIN) die("raw sigqueue");
            const timespec ts{0, backoff};
            ::nanosleep(&ts, nullptr);
            backoff = std::min(backoff * 2, 10'000'000L);
        }
    }
    std::size_t recv(char* p, std::size_t n) override {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig_);
        siginfo_t info;
        while (::sigwaitinfo(&set, &info) < 0)
            if (errno != EINTR) die("raw sigwaitinfo");
        std::memcpy(p, &info.si_value.sival_int, std::min(n, sizeof info.si_value.sival_int));
        return n;
    }

  private:
    int sig_;
    pid_t peer_ = 0;
};

// A link between the two processes: `ab` from the producer (pinger) to the
// consumer (echo), `ba` back (ping-pong only).  Built before the fork;
// attach() finishes what must happen after it, in each process.
struct Link {
    std::unique_ptr<Dir> ab, ba;
    std::vector<int> fds;
    std::string fifo_dir;
    std::vector<std::string> fifos;
    int sysv[2] = {-1, -1};
    bool fifo = false;
    std::size_t size = 0;
    bool pingpong = false;

    ~Link() {
        for (int fd : fds) ::close(fd);
        for (const auto& f : fifos) ::unlink(f.c_str());
        if (!fifo_dir.empty()) ::rmdir(fifo_dir.c_str());
        for (int id : sysv)
            if (id >= 0) ::msgctl(id, IPC_RMID, nullptr);
    }
};

int must(int fd, const char* what) {
    if (fd < 0) IPCT_FAIL_ERRNO(what);
    return fd;
}

void set_sndbuf(int fd, std::size_t size) {
    const int want = static_cast<int>(std::max<std::size_t>(4 * size + 8192, 212992));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
}

sockaddr_in loopback(int fd) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) IPCT_FAIL_ERRNO("raw bind");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return a;
}

// Builds the link in the parent.  FIFOs are opened after the fork (open
// blocks until the other side opens), in attach_fifo().
std::unique_ptr<Link> make_link(RawMech m, std::size_t size, bool pingpong) {
    auto l = std::make_unique<Link>();
    l->size = size;
    l->pingpong = pingpong;
    const int ndirs = pingpong ? 2 : 1;
    switch (m) {
        case RawMech::kPipe: {
            int a[2], b[2] = {-1, -1};
            if (::pipe(a) != 0) IPCT_FAIL_ERRNO("raw pipe");
            if (pingpong && ::pipe(b) != 0) IPCT_FAIL_ERRNO("raw pipe");
            l->fds = {a[0], a[1]};
            if (pingpong) l->fds.insert(l->fds.end(), {b[0], b[1]});
            l->ab = std::make_unique<FdStream>(a[1], a[0]);
            if (pingpong) l->ba = std::make_unique<FdStream>(b[1], b[0]);
            break;
        }
        case RawMech::kFifo: {
            char tmpl[] = "/tmp/ipct-rawbench.XXXXXX";
            if (!::mkdtemp(tmpl)) IPCT_FAIL_ERRNO("raw mkdtemp");
            l->fifo_dir = tmpl;
            for (int k = 0; k < ndirs; ++k) {
                l->fifos.push_back(l->fifo_dir + "/f" + std::to_string(k));
                if (::mkfifo(l->fifos.back().c_str(), 0600) != 0) IPCT_FAIL_ERRNO("raw mkfifo");
            }
            l->fifo = true;
            break;
        }
        case RawMech::kPosixMq: {
            for (int k = 0; k < ndirs; ++k) {
                const std::string name =
                    "/ipct-rawbench-" + std::to_string(::getpid()) + "-" + std::to_string(k);
                mq_attr attr{};
                attr.mq_maxmsg = 10;
                attr.mq_msgsize = static_cast<long>(size);
                const mqd_t q = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
                if (q == static_cast<mqd_t>(-1)) IPCT_FAIL_ERRNO("raw mq_open " + name);
                ::mq_unlink(name.c_str());
                l->fds.push_back(q);
                (k == 0 ? l->ab : l->ba) = std::make_unique<PosixMq>(q);
            }
            break;
        }
        case RawMech::kSysvMsg:
            for (int k = 0; k < ndirs; ++k) {
                l->sysv[k] = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
                if (l->sysv[k] < 0) IPCT_FAIL_ERRNO("raw msgget");
                (k == 0 ? l->ab : l->ba) = std::make_unique<SysvMsg>(l->sysv[k], size);
            }
            break;
        case RawMech::kUnixStream:
        case RawMech::kUnixDgram:
        case RawMech::kUnixSeqpacket: {
            const int type = m == RawMech::kUnixStream  ? SOCK_STREAM
                             : m == RawMech::kUnixDgram ? SOCK_DGRAM
                                                        : SOCK_SEQPACKET;
            int sv[2];
            if (::socketpair(AF_UNIX, type, 0, sv) != 0) IPCT_FAIL_ERRNO("raw socketpair");
            set_sndbuf(sv[0], size);
            set_sndbuf(sv[1], size);
            l->fds = {sv[0], sv[1]};
            if (m == RawMech::kUnixStream) {
                l->ab = std::make_unique<FdStream>(sv[0], sv[1]);
                l->ba = std::make_unique<FdStream>(sv[1], sv[0]);
            } else {
                l->ab = std::make_unique<FdPacket>(sv[0], sv[1], false);
                l->ba = std::make_unique<FdPacket>(sv[1], sv[0], false);
            }
            break;
        }
        case RawMech::kTcp: {
            const int ls = must(::socket(AF_INET, SOCK_STREAM, 0), "raw socket");
            l->fds.push_back(ls);
            const sockaddr_in a = loopback(ls);
            if (::listen(ls, 1) != 0) IPCT_FAIL_ERRNO("raw listen");
            const int c = must(::socket(AF_INET, SOCK_STREAM, 0), "raw socket");
            l->fds.push_back(c);
            if (::connect(c, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
                IPCT_FAIL_ERRNO("raw connect");
            const int s = must(::accept(ls, nullptr, nullptr), "raw accept");
            l->fds.push_back(s);
            const int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            l->ab = std::make_unique<FdStream>(c, s);
            l->ba = std::make_unique<FdStream>(s, c);
            break;
        }
        case RawMech::kUdp: {
            const int x = must(::socket(AF_INET, SOCK_DGRAM, 0), "raw socket");
            const int y = must(::socket(AF_INET, SOCK_DGRAM, 0), "raw socket");
            l->fds = {x, y};
            const sockaddr_in ax = loopback(x), ay = loopback(y);
            if (::connect(x, reinterpret_cast<const sockaddr*>(&ay), sizeof ay) != 0 ||
                ::connect(y, reinterpret_cast<const sockaddr*>(&ax), sizeof ax) != 0)
                IPCT_FAIL_ERRNO("raw connect");
            const timeval tv{0, 200'000};
            ::setsockopt(x, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(y, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            l->ab = std::make_unique<FdPacket>(x, y, true);
            l->ba = std::make_unique<FdPacket>(y, x, true);
            break;
        }
        case RawMech::kShmSpsc:
        case RawMech::kShmMutex:
        case RawMech::kShmSemaphore:
            l->ab = std::make_unique<ShmRing>(m, size);
            if (pingpong) l->ba = std::make_unique<ShmRing>(m, size);
            break;
        case RawMech::kSignal:
            l->ab = std::make_unique<Signal>(SIGRTMIN);
            l->ba = std::make_unique<Signal>(SIGRTMIN + 1);
            break;
    }
    return l;
}

// FIFOs: the producer opens `ab` for writing and `ba` for reading, the
// consumer the other way round, in the same order (no deadlock).
void attach_fifo(Link& l, bool producer) {
    if (!l.fifo) return;
    const int ab = ::open(l.fifos[0].c_str(), producer ? O_WRONLY : O_RDONLY);
    if (ab < 0) die("raw open fifo");
    int ba = -1;
    if (l.pingpong) {
        ba = ::open(l.fifos[1].c_str(), producer ? O_RDONLY : O_WRONLY);
        if (ba < 0) die("raw open fifo");
    }
    l.ab = std::make_unique<FdStream>(producer ? ab : -1, producer ? -1 : ab);
    if (l.pingpong) l.ba = std::make_unique<FdStream>(producer ? -1 : ba, producer ? ba : -1);
}

void block_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGRTMIN + 1);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

void unblock_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGRTMIN + 1);
    // Anything still pending from a cut-short run is discarded first.
    const timespec zero{0, 0};
    while (::sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

// Runs `child` in a forked producer and `parent` here; the child sends its
// result words back through a pipe.  Returns what the child wrote.
template <typename Child, typename Parent>
std::vector<std::uint64_t> fork_run(RawMech m, Link& l, int cpu_a, int cpu_b, Child child,
                                    Parent parent, std::size_t words) {
    int t[2];
    if (::pipe(t) != 0) IPCT_FAIL_ERRNO("raw pipe");
    const bool sig = m == RawMech::kSignal;
    if (sig) block_signals();
    const pid_t parent_pid = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) IPCT_FAIL_ERRNO("fork");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent_pid) ::_exit(1);
        ::close(t[0]);
        pin(cpu_a);
        attach_fifo(l, true);
        if (sig) {
            static_cast<Signal*>(l.ab.get())->set_peer(parent_pid);
        }
        std::vector<std::uint64_t> out = child();
        out.push_back(static_cast<std::uint64_t>(::sched_getcpu()));
        FdStream(t[1], -1).send(reinterpret_cast<const char*>(out.data()), out.size() * 8);
        ::_exit(0);
    }
    ::close(t[1]);
    pin(cpu_b);
    if (sig) static_cast<Signal*>(l.ba.get())->set_peer(pid);
    attach_fifo(l, false);
    for (const auto& f : l.fifos) ::unlink(f.c_str());
    parent();
    std::vector<std::uint64_t> out(words + 1);
    FdStream(-1, t[0]).recv(reinterpret_cast<char*>(out.data()), out.size() * 8);
    ::close(t[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    pin(-1);
    if (sig) unblock_signals();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) IPCT_FAIL("raw baseline: the producer failed");
    return out;
}

}  // namespace

RawResult raw_stream(RawMech m, std::uint32_t size, std::uint64_t n, int cpu_a, int cpu_b) {
    auto l = make_link(m, size, false);
    RawResult r;
    std::uint64_t t1 = 0;
    const bool udp = m == RawMech::kUdp;
    auto child = [&] {
        PageChars buf(size, 'x');
        const std::uint64_t t0 = now_ns();
        for (std::uint64_t i = 0; i < n; ++i) {
            std::memcpy(buf.data(), &i, std::min<std::size_t>(size, sizeof i));
            l->ab->send(buf.data(), size);
        }
        return std::vector<std::uint64_t>{t0};
    };
    auto parent = [&] {
        PageChars buf(size);
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::size_t k = l->ab->recv(buf.data(), size);
            if (k == 0 && udp) break;  // the rest was dropped
            t1 = now_ns();
            ++r.messages;
            r.bytes += k;
        }
    };
    const auto out = fork_run(m, *l, cpu_a, cpu_b, child, parent, 1);
    if (r.messages == 0) IPCT_FAIL("raw baseline: nothing arrived");
    r.secs = double(t1 - out[0]) / 1e9;
    r.cpu_a = static_cast<int>(out[1]);
    r.cpu_b = ::sched_getcpu();
    return r;
}

RawResult raw_pingpong(RawMech m, std::uint32_t size, std::uint64_t n, int cpu_a, int cpu_b) {
    auto l = make_link(m, size, true);
    RawResult r;
    // The pinger is the child: it keeps its round trips in a shared mapping.
    const std::size_t bytes = std::max<std::size_t>(n, 1) * sizeof(std::uint64_t);
    void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) IPCT_FAIL_ERRNO("raw mmap");
    auto* rtt = static_cast<std::uint64_t*>(map);
    const bool udp = m == RawMech::kUdp;
    auto child = [&] {
        PageChars out(size, 'x'), in(size);
        std::uint64_t done = 0;
        const std::uint64_t t0 = now_ns();
        for (std::uint64_t i = 0; i < n; ++i) {
            std::memcpy(out.data(), &i, std::min<std::size_t>(size, sizeof i));
            const std::uint64_t ts = now_ns();
            l->ab->send(out.data(), size);
            if (l->ba->recv(in.data(), size) == 0 && udp) continue;  // lost: no sample
            rtt[done++] = now_ns() - ts;
        }
        return std::vector<std::uint64_t>{now_ns() - t0, done};
    };
    auto parent = [&] {
        PageChars buf(size);
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::size_t k = l->ab->recv(buf.data(), size);
            if (k == 0 && udp) continue;
            l->ba->send(buf.data(), k);
        }
    };
    const auto out = fork_run(m, *l, cpu_a, cpu_b, child, parent, 2);
    r.secs = double(out[0]) / 1e9;
    r.messages = out[1];
    r.bytes = r.messages * size;
    r.rtt_ns.assign(rtt, rtt + r.messages);
    ::munmap(map, bytes);
    r.cpu_a = static_cast<int>(out[2]);
    r.cpu_b = ::sched_getcpu();
    return r;
}

}  // namespace ipct::bench
