/* A relay program for the exec role's tests: not part of the harness, it
 * uses only what an exec program is given (README, "Black-box programs").
 * It forwards the harness's messages from its input to its output, reading
 * a byte stream from stdin frame by frame (the header's size field) or a
 * POSIX queue named by IPCTORTURE_INPUT_NAME until its end, and writing to
 * stdout or to the queue IPCTORTURE_OUTPUT_NAME with the same priority.
 *
 *   --drop-every N     do not forward every N-th message (a planted loss)
 *   --exit-after N     after forwarding N messages, wait until more input
 *                      is there, then exit with --status S (default 0)
 *   --hang-after N     after N messages, stop forever
 *   --garbage-after N  after N messages, write 100 bytes no producer sent
 *   --unsafe-handler   a SIGUSR2 handler that calls malloc and free; the
 *                      program starts relaying once it has run once
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { kHeader = 32, kSizeOffset = 16, kPrioOffset = 20 };

static unsigned long opt_drop, opt_exit_after, opt_hang_after, opt_garbage_after;
static int opt_status, opt_unsafe;

static mqd_t in_q = (mqd_t)-1, out_q = (mqd_t)-1;
static const volatile uint32_t* in_open_writers;
static unsigned char* buf;
static size_t buf_size;

static void die(const char* what) {
    fprintf(stderr, "exec_relay: %s: %s\n", what, strerror(errno));
    exit(70);
}

static const char* need_env(const char* name) {
    const char* v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "exec_relay: %s is not set\n", name);
        exit(64);
    }
    return v;
}

static int read_full(int fd, unsigned char* p, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, p + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read");
        if (r == 0) return done == 0 ? 0 : -1;
        done += (size_t)r;
    }
    return 1;
}

static void write_full(int fd, const unsigned char* p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* The next message into buf; its length, 0 at the end of the input. */
static size_t next_from_stream(void) {
    int r = read_full(0, buf, kHeader);
    if (r == 0) return 0;
    if (r < 0) return 0; /* a cut frame at the end: nothing whole to forward */
    uint32_t size;
    memcpy(&size, buf + kSizeOffset, sizeof size);
    if (size < kHeader || size > buf_size) {
        fprintf(stderr, "exec_relay: bad frame size %u\n", size);
        exit(65);
    }
    if (read_full(0, buf + kHeader, size - kHeader) != 1) return 0;
    return size;
}

static size_t next_from_queue(unsigned* prio) {
    for (;;) {
        /* Read before the attempt: if no writer was left then, an empty
         * queue afterwards means every message has been taken. */
        uint32_t open = __atomic_load_n(in_open_writers, __ATOMIC_ACQUIRE);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        ssize_t n = mq_timedreceive(in_q, (char*)buf, buf_size, prio, &until);
        if (n >= 0) return (size_t)n;
        if (errno == EINTR) continue;
        if (errno != ETIMEDOUT) die("mq_timedreceive");
        if (open == 0) return 0;
    }
}

static void forward(size_t n, unsigned prio) {
    if (out_q != (mqd_t)-1) {
        while (mq_send(out_q, (const char*)buf, n, prio) != 0)
            if (errno != EINTR) die("mq_send");
        return;
    }
    write_full(1, buf, n);
}

static void* volatile handler_block; /* volatile: the calls stay in */
static volatile sig_atomic_t handler_ran;

static void unsafe_handler(int sig) {
    (void)sig;
    handler_block = malloc(64);
    free(handler_block);
    handler_ran = 1;
}

static void open_queues(void) {
    const char* in = need_env("IPCTORTURE_INPUT");
    const char* out = need_env("IPCTORTURE_OUTPUT");
    buf_size = strtoul(need_env("IPCTORTURE_INPUT_MAX_MESSAGE"), NULL, 10);
    if (strcmp(in, "posix_mq") == 0) {
        in_q = mq_open(need_env("IPCTORTURE_INPUT_NAME"), O_RDONLY);
        if (in_q == (mqd_t)-1) die("mq_open input");
        int fd = open(need_env("IPCTORTURE_INPUT_END_FILE"), O_RDONLY);
        if (fd < 0) die("open end file");
        long off = strtol(need_env("IPCTORTURE_INPUT_END_OFFSET"), NULL, 10);
        void* m = mmap(NULL, (size_t)off + 4, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) die("mmap end file");
        in_open_writers = (const volatile uint32_t*)((const char*)m + off);
        long msgsize = strtol(need_env("IPCTORTURE_INPUT_MSGSIZE"), NULL, 10);
        if ((size_t)msgsize > buf_size) buf_size = (size_t)msgsize;
    }
    if (strcmp(out, "posix_mq") == 0) {
        out_q = mq_open(need_env("IPCTORTURE_OUTPUT_NAME"), O_WRONLY);
        if (out_q == (mqd_t)-1) die("mq_open output");
    }
}

static void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], NULL, 10) : 0;
        if (strcmp(a, "--unsafe-handler") == 0) {
            opt_unsafe = 1;
            continue;
        }
        if (strcmp(a, "--drop-every") == 0)
            opt_drop = v;
        else if (strcmp(a, "--exit-after") == 0)
            opt_exit_after = v;
        else if (strcmp(a, "--hang-after") == 0)
            opt_hang_after = v;
        else if (strcmp(a, "--garbage-after") == 0)
            opt_garbage_after = v;
        else if (strcmp(a, "--status") == 0)
            opt_status = (int)v;
        else {
            fprintf(stderr, "exec_relay: unknown argument %s\n", a);
            exit(64);
        }
        ++i;
    }
}

int main(int argc, char** argv) {
    parse(argc, argv);
    open_queues();
    if (opt_unsafe) {
        sigset_t usr2, old;
        sigemptyset(&usr2);
        sigaddset(&usr2, SIGUSR2);
        sigprocmask(SIG_BLOCK, &usr2, &old);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = unsafe_handler;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR2, &sa, NULL);
        while (!handler_ran) sigsuspend(&old);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    buf = malloc(buf_size);
    if (buf == NULL) die("malloc");
    for (unsigned long k = 1;; ++k) {
        unsigned prio = 0;
        size_t n = in_q != (mqd_t)-1 ? next_from_queue(&prio) : next_from_stream();
        if (n == 0) break;
        if (in_q == (mqd_t)-1) memcpy(&prio, buf + kPrioOffset, sizeof prio);
        if (!(opt_drop && k % opt_drop == 0)) forward(n, prio);
        if (opt_garbage_after && k == opt_garbage_after) {
            unsigned char junk[100];
            memset(junk, 0xa5, sizeof junk);
            write_full(1, junk, sizeof junk);
        }
        if (opt_hang_after && k == opt_hang_after)
            for (;;) pause();
        if (opt_exit_after && k == opt_exit_after) {
            struct pollfd p = {.fd = 0, .events = POLLIN};
            while (poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
            exit(opt_status);
        }
    }
    return 0;
}
