/* What the syscall-fault interposer (libipctorture_faults.so) and the
 * harness agree on: the calls it wraps, the errors it injects, the
 * environment that configures it and the records it logs.  Plain C, read by
 * both the library and the harness (harness/src/engine/syscall_faults.cpp).
 *
 * Environment (the harness sets it; by hand it works on any dynamically
 * linked program):
 *   IPCTORTURE_FAULTS        the rules, separated by ';', each a list of
 *                            key=value separated by ',':
 *                              error=EINTR|EAGAIN|ENOBUFS|short
 *                              calls=all | NAME+NAME...   (names below)
 *                              p=PROBABILITY  or  nth=N   (exactly one)
 *                            e.g. "error=EINTR,calls=msgrcv,p=0.05;error=short,calls=all,nth=3"
 *   IPCTORTURE_FAULTS_SEED   decimal seed of the decisions (default 1)
 *   IPCTORTURE_FAULTS_LOG    the log file (below); without it nothing is
 *                            injected: an injection nobody can see is not made
 *   IPCTORTURE_FAULTS_PROCESS  the process index written in the log's header
 *   IPCTORTURE_FAULTS_ARMED  "0": inject nothing until the program calls
 *                            ipctorture_faults_arm() (the harness's workers,
 *                            after their start barrier); otherwise armed from
 *                            the start (exec programs, programs run by hand)
 *
 * Log: the harness's event log format (event_log.hpp): a 64-byte header
 * (magic "IPCTLOG1", version 1, process, pid, capacity, published count)
 * then 48-byte records, in a MAP_SHARED file, so that it survives a SIGKILL.
 * One record per injection, published after it is complete and before the
 * call returns:
 *   op = 14 (kSyscallFault), status = 1 (ok), channel = 0xffff,
 *   t_start = t_end = CLOCK_MONOTONIC ns,
 *   aux = call id (IPCT_FAULT_CALL_*) | rule index << 16,
 *   seq = the index (from 1) of this call among the calls that rule was
 *         eligible for: the decision is a function of (seed, rule, seq),
 *   origin = the descriptor (fd, mq descriptor, SysV queue id; 0xffffffff
 *         for a semaphore),
 *   err = the errno injected, 0 for a short transfer,
 *   size = the bytes the call asked for, extra = the bytes a short transfer
 *         was allowed (0 for an error).
 * An existing log (a program that a worker became with execve) is appended
 * to.  A full log stops injection. */
#ifndef IPCT_FAULTS_ABI_H
#define IPCT_FAULTS_ABI_H

/* X(name): every wrapped call, in id order.  Ids are stable: append only. */
#define IPCT_FAULT_CALLS(X) \
    X(read)                 \
    X(write)                \
    X(readv)                \
    X(writev)               \
    X(send)                 \
    X(recv)                 \
    X(sendto)               \
    X(recvfrom)             \
    X(sendmsg)              \
    X(recvmsg)              \
    X(accept)               \
    X(connect)              \
    X(poll)                 \
    X(mq_send)              \
    X(mq_receive)           \
    X(mq_timedsend)         \
    X(mq_timedreceive)      \
    X(msgsnd)               \
    X(msgrcv)               \
    X(sem_wait)             \
    X(sem_timedwait)        \
    X(sem_clockwait)        \
    X(accept4)

#define IPCT_FAULT_CALL_ENUM(name) IPCT_FAULT_CALL_##name,
enum ipct_fault_call { IPCT_FAULT_CALLS(IPCT_FAULT_CALL_ENUM) IPCT_FAULT_CALL_COUNT };
#undef IPCT_FAULT_CALL_ENUM

/* What a rule injects. */
enum ipct_fault_error {
    IPCT_FAULT_EINTR,   /* instead of a call that would block */
    IPCT_FAULT_EAGAIN,  /* instead of a non-blocking send */
    IPCT_FAULT_ENOBUFS, /* instead of a send on a socket */
    IPCT_FAULT_SHORT,   /* a read or write of a byte stream moves fewer bytes */
    IPCT_FAULT_ERROR_COUNT
};

/* Which calls each error applies to (as a bit per call id); the descriptor
 * and flags at the call decide the rest (blocking or not, a byte stream, a
 * socket, a pipe write above PIPE_BUF). */
#define IPCT_FAULT_BIT(name) (1ull << IPCT_FAULT_CALL_##name)
#define IPCT_FAULT_TRANSFERS                                                       \
    (IPCT_FAULT_BIT(read) | IPCT_FAULT_BIT(write) | IPCT_FAULT_BIT(readv) |        \
     IPCT_FAULT_BIT(writev) | IPCT_FAULT_BIT(send) | IPCT_FAULT_BIT(recv) |        \
     IPCT_FAULT_BIT(sendto) | IPCT_FAULT_BIT(recvfrom) | IPCT_FAULT_BIT(sendmsg) | \
     IPCT_FAULT_BIT(recvmsg))
#define IPCT_FAULT_SENDS                                                     \
    (IPCT_FAULT_BIT(write) | IPCT_FAULT_BIT(writev) | IPCT_FAULT_BIT(send) | \
     IPCT_FAULT_BIT(sendto) | IPCT_FAULT_BIT(sendmsg))
#define IPCT_FAULT_QUEUES                                                                  \
    (IPCT_FAULT_BIT(mq_send) | IPCT_FAULT_BIT(mq_receive) | IPCT_FAULT_BIT(mq_timedsend) | \
     IPCT_FAULT_BIT(mq_timedreceive) | IPCT_FAULT_BIT(msgsnd) | IPCT_FAULT_BIT(msgrcv))
#define IPCT_FAULT_SEMS \
    (IPCT_FAULT_BIT(sem_wait) | IPCT_FAULT_BIT(sem_timedwait) | IPCT_FAULT_BIT(sem_clockwait))
#define IPCT_FAULT_ACCEPTS (IPCT_FAULT_BIT(accept) | IPCT_FAULT_BIT(accept4))

#define IPCT_FAULT_EINTR_CALLS                                                         \
    (IPCT_FAULT_TRANSFERS | IPCT_FAULT_QUEUES | IPCT_FAULT_SEMS | IPCT_FAULT_ACCEPTS | \
     IPCT_FAULT_BIT(connect) | IPCT_FAULT_BIT(poll))
/* EAGAIN only where a send would have to wait: a receive's EAGAIN (ENOMSG,
 * an accept's EAGAIN) says that nothing is there, which a correct reader may
 * take as proof once every writer has gone, and which the kernel never says
 * of a queue that holds something. */
#define IPCT_FAULT_EAGAIN_CALLS                                                  \
    (IPCT_FAULT_SENDS | IPCT_FAULT_BIT(mq_send) | IPCT_FAULT_BIT(mq_timedsend) | \
     IPCT_FAULT_BIT(msgsnd))
#define IPCT_FAULT_ENOBUFS_CALLS IPCT_FAULT_SENDS
#define IPCT_FAULT_SHORT_CALLS IPCT_FAULT_TRANSFERS

/* Records a full log holds; injection stops when it is full. */
#define IPCT_FAULT_LOG_CAPACITY (1u << 18)

#endif
