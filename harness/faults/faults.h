/* The syscall-fault interposer's internals (libipctorture_faults.so).
 *
 * Loaded with LD_PRELOAD into any dynamically linked program, configured by
 * the environment (ipct_faults_abi.h).  Each wrapped call first asks
 * faults_decide() whether to inject; the answer depends only on the seed,
 * the rule and how many calls that rule was eligible for so far, so one seed
 * makes the same decisions call for call.
 *
 * What is injected is what the kernel could have done, and nothing a
 * correct program cannot survive:
 *   EINTR    only on a call that would block (a blocking descriptor, no
 *            MSG_DONTWAIT / IPC_NOWAIT, a poll with a timeout, a semaphore
 *            wait); made instead of the call, so a retry loses nothing.
 *            connect() is the exception: a connect interrupted by a signal
 *            goes on in the background, so its EINTR comes after a call that
 *            succeeded (a correct program then waits for the connection, or
 *            retries and meets EISCONN);
 *   EAGAIN   only on a non-blocking send (a full queue or pipe), instead of
 *            it; never on a receive or an accept, whose EAGAIN a correct
 *            reader may take as proof that nothing is left once its writers
 *            have gone (the kernel never says it of a non-empty queue);
 *   ENOBUFS  only on a send to a socket, instead of it;
 *   short    only on byte streams (pipes, FIFOs, SOCK_STREAM sockets), with
 *            at least 2 bytes asked; a write to a pipe or FIFO only above
 *            PIPE_BUF (smaller ones are atomic, and programs with several
 *            writers rely on it).  The real call runs with a smaller count.
 * Only IPC descriptors are touched (fstat: a FIFO or a socket; message
 * queues and semaphores by their calls), never regular files or terminals.
 * Every injection is logged before the wrapper returns; a full log stops
 * injection. */
#ifndef IPCT_FAULTS_H
#define IPCT_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "ipct_faults_abi.h"

#pragma GCC visibility push(hidden)

/* What a wrapper knows about the call it is making. */
struct fault_site {
    enum ipct_fault_call call;
    uint32_t origin; /* logged: the descriptor or queue id */
    int blocking;    /* the call may wait */
    int socket;      /* on a socket */
    int stream;      /* on a byte stream (pipe, FIFO, SOCK_STREAM) */
    int pipe;        /* on a pipe or FIFO */
    int write;       /* moves bytes out */
    size_t count;    /* bytes asked for (transfers) */
};

/* The decision: fail with err (nonzero), or move at most `allow` bytes. */
struct fault_act {
    int err;
    size_t allow;
};

/* Whether any armed rule names `call`: the fast path of every wrapper. */
int faults_wanted(enum ipct_fault_call call);

/* Fills the descriptor's kind into s (returns 0 for a descriptor that is
 * not a FIFO or a socket: never touched). */
int faults_classify_fd(int fd, struct fault_site* s);

/* Decides for one call and logs an injection.  Returns nonzero and fills
 * *act when the call is to be changed. */
int faults_decide(const struct fault_site* s, struct fault_act* act);

#pragma GCC visibility pop

/* Arms injection in a program started with IPCTORTURE_FAULTS_ARMED=0 (the
 * harness's workers call it after their start barrier, found with dlsym). */
__attribute__((visibility("default"))) void ipctorture_faults_arm(void);

#endif
