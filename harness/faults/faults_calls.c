/* The wrapped calls (see faults.h).  Each one: the fast path when no armed
 * rule names it, else the call's site (descriptor kind, blocking or not,
 * bytes asked), the decision, and the real call, unchanged, shortened, or
 * not made at all. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <semaphore.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"

/* The next definition of a wrapped function (the C library's, or a
 * sanitizer runtime's), looked up at its first call. */
#define REAL(ret, name, params)                                                        \
    static ret(*real_##name) params;                                                   \
    static ret(*next_##name(void)) params {                                            \
        if (real_##name == NULL) real_##name = (ret(*) params)dlsym(RTLD_NEXT, #name); \
        return real_##name;                                                            \
    }

REAL(ssize_t, read, (int, void*, size_t))
REAL(ssize_t, write, (int, const void*, size_t))
REAL(ssize_t, readv, (int, const struct iovec*, int))
REAL(ssize_t, writev, (int, const struct iovec*, int))
REAL(ssize_t, send, (int, const void*, size_t, int))
REAL(ssize_t, recv, (int, void*, size_t, int))
REAL(ssize_t, sendto, (int, const void*, size_t, int, const struct sockaddr*, socklen_t))
REAL(ssize_t, recvfrom, (int, void*, size_t, int, struct sockaddr*, socklen_t*))
REAL(ssize_t, sendmsg, (int, const struct msghdr*, int))
REAL(ssize_t, recvmsg, (int, struct msghdr*, int))
REAL(int, accept, (int, struct sockaddr*, socklen_t*))
REAL(int, accept4, (int, struct sockaddr*, socklen_t*, int))
REAL(int, connect, (int, const struct sockaddr*, socklen_t))
REAL(int, poll, (struct pollfd*, nfds_t, int))
REAL(int, mq_send, (mqd_t, const char*, size_t, unsigned))
REAL(ssize_t, mq_receive, (mqd_t, char*, size_t, unsigned*))
REAL(int, mq_timedsend, (mqd_t, const char*, size_t, unsigned, const struct timespec*))
REAL(ssize_t, mq_timedreceive, (mqd_t, char*, size_t, unsigned*, const struct timespec*))
REAL(int, msgsnd, (int, const void*, size_t, int))
REAL(ssize_t, msgrcv, (int, void*, size_t, long, int))
REAL(int, sem_wait, (sem_t*))
REAL(int, sem_timedwait, (sem_t*, const struct timespec*))
REAL(int, sem_clockwait, (sem_t*, clockid_t, const struct timespec*))

/* An injected error: the call is not made. */
static long fail(int err) {
    errno = err;
    return -1;
}

/* Decides for a transfer on fd moving `count` bytes; returns 1 with *act
 * filled when the call is to change. */
static int decide_fd(enum ipct_fault_call call, int fd, size_t count, int write, int flags,
                     struct fault_act* act) {
    struct fault_site s;
    memset(&s, 0, sizeof s);
    s.call = call;
    if (!faults_classify_fd(fd, &s)) return 0;
    if (flags & MSG_DONTWAIT) s.blocking = 0;
    s.write = write;
    s.count = count;
    return faults_decide(&s, act);
}

#define MAX_IOV 64

static size_t iov_total(const struct iovec* iov, int n) {
    size_t t = 0;
    for (int i = 0; i < n; ++i) t += iov[i].iov_len;
    return t;
}

/* Copies the first `allow` bytes' worth of iov into out; returns its count. */
static int iov_cut(const struct iovec* iov, int n, size_t allow, struct iovec* out) {
    int k = 0;
    for (int i = 0; i < n && allow > 0; ++i) {
        out[k] = iov[i];
        if (out[k].iov_len > allow) out[k].iov_len = allow;
        allow -= out[k].iov_len;
        ++k;
    }
    return k;
}

/* ---- byte transfers ---------------------------------------------------------- */

#define SCALAR_TRANSFER(call, fd, count, write, flags, expr)                    \
    do {                                                                        \
        struct fault_act act;                                                   \
        if (faults_wanted(IPCT_FAULT_CALL_##call) &&                            \
            decide_fd(IPCT_FAULT_CALL_##call, fd, count, write, flags, &act)) { \
            if (act.err) return fail(act.err);                                  \
            count = act.allow;                                                  \
        }                                                                       \
        return expr;                                                            \
    } while (0)

ssize_t read(int fd, void* buf, size_t count) {
    SCALAR_TRANSFER(read, fd, count, 0, 0, next_read()(fd, buf, count));
}

ssize_t write(int fd, const void* buf, size_t count) {
    SCALAR_TRANSFER(write, fd, count, 1, 0, next_write()(fd, buf, count));
}

ssize_t send(int fd, const void* buf, size_t count, int flags) {
    SCALAR_TRANSFER(send, fd, count, 1, flags, next_send()(fd, buf, count, flags));
}

ssize_t recv(int fd, void* buf, size_t count, int flags) {
    SCALAR_TRANSFER(recv, fd, count, 0, flags, next_recv()(fd, buf, count, flags));
}

ssize_t sendto(int fd, const void* buf, size_t count, int flags, const struct sockaddr* to,
               socklen_t len) {
    SCALAR_TRANSFER(sendto, fd, count, 1, flags, next_sendto()(fd, buf, count, flags, to, len));
}

ssize_t recvfrom(int fd, void* buf, size_t count, int flags, struct sockaddr* from,
                 socklen_t* len) {
    SCALAR_TRANSFER(recvfrom, fd, count, 0, flags,
                    next_recvfrom()(fd, buf, count, flags, from, len));
}

/* Fortified programs (_FORTIFY_SOURCE) call these when the buffer's size is
 * known; the check is theirs, the transfer ours. */
ssize_t __read_chk(int fd, void* buf, size_t count, size_t buflen) {
    if (count > buflen) return fail(EINVAL);
    return read(fd, buf, count);
}

ssize_t __recv_chk(int fd, void* buf, size_t count, size_t buflen, int flags) {
    if (count > buflen) return fail(EINVAL);
    return recv(fd, buf, count, flags);
}

ssize_t __recvfrom_chk(int fd, void* buf, size_t count, size_t buflen, int flags,
                       struct sockaddr* from, socklen_t* len) {
    if (count > buflen) return fail(EINVAL);
    return recvfrom(fd, buf, count, flags, from, len);
}

/* readv, writev, sendmsg, recvmsg: a short transfer cuts the vector. */
#define VECTOR_TRANSFER(call, fd, iov, n, write, flags, real_call, cut_call)    \
    do {                                                                        \
        struct fault_act act;                                                   \
        const size_t total = (n) > 0 && (n) <= MAX_IOV ? iov_total(iov, n) : 0; \
        if (faults_wanted(IPCT_FAULT_CALL_##call) &&                            \
            decide_fd(IPCT_FAULT_CALL_##call, fd, total, write, flags, &act)) { \
            if (act.err) return fail(act.err);                                  \
            struct iovec cut[MAX_IOV];                                          \
            const int k = iov_cut(iov, n, act.allow, cut);                      \
            return cut_call;                                                    \
        }                                                                       \
        return real_call;                                                       \
    } while (0)

ssize_t readv(int fd, const struct iovec* iov, int n) {
    VECTOR_TRANSFER(readv, fd, iov, n, 0, 0, next_readv()(fd, iov, n), next_readv()(fd, cut, k));
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
    VECTOR_TRANSFER(writev, fd, iov, n, 1, 0, next_writev()(fd, iov, n), next_writev()(fd, cut, k));
}

static ssize_t msg_cut(ssize_t (*fn)(int, struct msghdr*, int), int fd, const struct msghdr* m,
                       struct iovec* cut, int k, int flags) {
    struct msghdr copy = *m;
    copy.msg_iov = cut;
    copy.msg_iovlen = (size_t)k;
    const ssize_t r = fn(fd, &copy, flags);
    /* recvmsg reports back through the header. */
    ((struct msghdr*)m)->msg_flags = copy.msg_flags;
    ((struct msghdr*)m)->msg_namelen = copy.msg_namelen;
    ((struct msghdr*)m)->msg_controllen = copy.msg_controllen;
    return r;
}

static ssize_t sendmsg_as_mutable(int fd, struct msghdr* m, int flags) {
    return next_sendmsg()(fd, m, flags);
}

ssize_t sendmsg(int fd, const struct msghdr* m, int flags) {
    const int n = m->msg_iovlen <= MAX_IOV ? (int)m->msg_iovlen : 0;
    VECTOR_TRANSFER(sendmsg, fd, m->msg_iov, n, 1, flags, next_sendmsg()(fd, m, flags),
                    msg_cut(sendmsg_as_mutable, fd, m, cut, k, flags));
}

ssize_t recvmsg(int fd, struct msghdr* m, int flags) {
    const int n = m->msg_iovlen <= MAX_IOV ? (int)m->msg_iovlen : 0;
    VECTOR_TRANSFER(recvmsg, fd, m->msg_iov, n, 0, flags, next_recvmsg()(fd, m, flags),
                    msg_cut(next_recvmsg(), fd, m, cut, k, flags));
}

/* ---- connections, poll ---------------------------------------------------------- */

static int decide_plain(enum ipct_fault_call call, int fd, struct fault_act* act) {
    return decide_fd(call, fd, 0, 0, 0, act);
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
    struct fault_act act;
    if (faults_wanted(IPCT_FAULT_CALL_accept) && decide_plain(IPCT_FAULT_CALL_accept, fd, &act))
        return (int)fail(act.err);
    return next_accept()(fd, addr, len);
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
    struct fault_act act;
    if (faults_wanted(IPCT_FAULT_CALL_accept4) && decide_plain(IPCT_FAULT_CALL_accept4, fd, &act))
        return (int)fail(act.err);
    return next_accept4()(fd, addr, len, flags);
}

/* The EINTR of an interrupted connect comes after a connection that was
 * made: it goes on in the background (faults.h). */
int connect(int fd, const struct sockaddr* addr, socklen_t len) {
    if (!faults_wanted(IPCT_FAULT_CALL_connect)) return next_connect()(fd, addr, len);
    const int r = next_connect()(fd, addr, len);
    struct fault_act act;
    if (r != 0 || !decide_plain(IPCT_FAULT_CALL_connect, fd, &act)) return r;
    return (int)fail(act.err);
}

int poll(struct pollfd* fds, nfds_t n, int timeout) {
    if (timeout != 0 && faults_wanted(IPCT_FAULT_CALL_poll)) {
        /* A poll is an IPC call when it waits on at least one FIFO or socket. */
        struct fault_site s;
        memset(&s, 0, sizeof s);
        int ipc = 0;
        for (nfds_t i = 0; i < n && !ipc; ++i) ipc = faults_classify_fd(fds[i].fd, &s);
        memset(&s, 0, sizeof s);
        s.call = IPCT_FAULT_CALL_poll;
        s.blocking = 1;
        s.origin = n > 0 ? (uint32_t)fds[0].fd : 0xffffffffu;
        struct fault_act act;
        if (ipc && faults_decide(&s, &act)) return (int)fail(act.err);
    }
    return next_poll()(fds, n, timeout);
}

int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen) {
    if (fdslen / sizeof *fds < n) return (int)fail(EINVAL);
    return poll(fds, n, timeout);
}

/* ---- message queues ----------------------------------------------------------- */

static int decide_queue(enum ipct_fault_call call, uint32_t origin, int blocking, int write,
                        struct fault_act* act) {
    struct fault_site s;
    memset(&s, 0, sizeof s);
    s.call = call;
    s.origin = origin;
    s.blocking = blocking;
    s.write = write;
    return faults_decide(&s, act);
}

static int mq_blocking(mqd_t q) {
    const int saved = errno;
    struct mq_attr a;
    const int blocking = mq_getattr(q, &a) == 0 && !(a.mq_flags & O_NONBLOCK);
    errno = saved;
    return blocking;
}

#define QUEUE_CALL(call, origin, blocking, write, expr)                                      \
    do {                                                                                     \
        struct fault_act act;                                                                \
        if (faults_wanted(IPCT_FAULT_CALL_##call) &&                                         \
            decide_queue(IPCT_FAULT_CALL_##call, (uint32_t)(origin), blocking, write, &act)) \
            return fail(act.err);                                                            \
        return expr;                                                                         \
    } while (0)

int mq_send(mqd_t q, const char* msg, size_t len, unsigned prio) {
    QUEUE_CALL(mq_send, q, mq_blocking(q), 1, next_mq_send()(q, msg, len, prio));
}

ssize_t mq_receive(mqd_t q, char* msg, size_t len, unsigned* prio) {
    QUEUE_CALL(mq_receive, q, mq_blocking(q), 0, next_mq_receive()(q, msg, len, prio));
}

int mq_timedsend(mqd_t q, const char* msg, size_t len, unsigned prio, const struct timespec* t) {
    QUEUE_CALL(mq_timedsend, q, mq_blocking(q), 1, next_mq_timedsend()(q, msg, len, prio, t));
}

ssize_t mq_timedreceive(mqd_t q, char* msg, size_t len, unsigned* prio, const struct timespec* t) {
    QUEUE_CALL(mq_timedreceive, q, mq_blocking(q), 0, next_mq_timedreceive()(q, msg, len, prio, t));
}

int msgsnd(int id, const void* msg, size_t len, int flags) {
    QUEUE_CALL(msgsnd, id, !(flags & IPC_NOWAIT), 1, next_msgsnd()(id, msg, len, flags));
}

ssize_t msgrcv(int id, void* msg, size_t len, long type, int flags) {
    QUEUE_CALL(msgrcv, id, !(flags & IPC_NOWAIT), 0, next_msgrcv()(id, msg, len, type, flags));
}

/* ---- semaphores: always a wait ------------------------------------------------- */

int sem_wait(sem_t* s) {
    QUEUE_CALL(sem_wait, 0xffffffffu, 1, 0, next_sem_wait()(s));
}

int sem_timedwait(sem_t* s, const struct timespec* t) {
    QUEUE_CALL(sem_timedwait, 0xffffffffu, 1, 0, next_sem_timedwait()(s, t));
}

int sem_clockwait(sem_t* s, clockid_t clock, const struct timespec* t) {
    QUEUE_CALL(sem_clockwait, 0xffffffffu, 1, 0, next_sem_clockwait()(s, clock, t));
}
