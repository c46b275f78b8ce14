/* A relay program for the exec role's tests: not part of the harness, it
 * uses only what an exec program is given (README, "Black-box programs").
 * It forwards the harness's messages from its input to its output, reading
 * a byte stream from stdin frame by frame (the header's size field), a
 * POSIX queue named by IPCTORTURE_INPUT_NAME, a System V queue
 * (IPCTORTURE_INPUT_ID), the connections it accepts on the listening socket
 * it gets as stdin (unix_stream, unix_seqpacket, tcp) or the datagrams of
 * the bound socket it gets as stdin (unix_dgram, udp), each until its end;
 * and writing to stdout, to the POSIX queue IPCTORTURE_OUTPUT_NAME with the
 * same priority, to the System V queue IPCTORTURE_OUTPUT_ID with the header's
 * priority as the type, or to a socket it connects to IPCTORTURE_OUTPUT_PATH
 * (or _HOST and _PORT).
 *
 *   --drop-every N     do not forward every N-th message (a planted loss)
 *   --duplicate-every N  forward every N-th message twice
 *   --swap-every N     forward every N-th message after the one that follows
 *   --corrupt-every N  flip the last byte of every N-th message that has a
 *                      payload
 *   --exit-after N     after forwarding N messages, wait until more input
 *                      is there, then exit with --status S (default 0)
 *   --hang-after N     after N messages, stop forever
 *   --garbage-after N  after N messages, write 100 bytes no producer sent
 *   --unsafe-handler   a SIGUSR2 handler that calls malloc and free; the
 *                      program starts relaying once it has run once
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { kHeader = 32, kSizeOffset = 16, kPrioOffset = 20 };

static unsigned long opt_drop, opt_exit_after, opt_hang_after, opt_garbage_after;
static unsigned long opt_duplicate, opt_swap, opt_corrupt;
static int opt_status, opt_unsafe;

static mqd_t in_q = (mqd_t)-1, out_q = (mqd_t)-1;
static int in_msq = -1, out_msq = -1; /* System V queue ids */
static int in_listen, in_bound;       /* stdin is a listening / bound socket */
static int in_framed;                 /* connections carry byte streams */
static long in_quiet_ms = -1;         /* udp: the quiet poll that ends the input */
static int out_sock = -1;             /* a socket connected to the output */
static int out_stream;
static const volatile uint32_t* in_open_writers;
static volatile uint64_t* in_connected; /* control-file words, 64 bits */
static volatile uint64_t* in_accepted;
static unsigned char* buf;
static size_t buf_size;
static struct msgbuf_hdr { long mtype; } * msg_buf; /* a long, then the text */
static size_t msg_max;

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

/* System V input: an IPC_NOWAIT receive first; when there is nothing, a
 * blocking msgrcv that a 20 ms interval timer interrupts (SIGALRM, no
 * SA_RESTART), so that the end can be seen. */
static void on_alarm(int sig) {
    (void)sig;
}

static void alarm_every(long ms) {
    struct itimerval t;
    memset(&t, 0, sizeof t);
    t.it_interval.tv_usec = ms * 1000;
    t.it_value.tv_usec = ms * 1000;
    setitimer(ITIMER_REAL, &t, NULL);
}

static size_t next_from_sysv(void) {
    for (;;) {
        uint32_t open = __atomic_load_n(in_open_writers, __ATOMIC_ACQUIRE);
        ssize_t n = msgrcv(in_msq, msg_buf, msg_max, 0, IPC_NOWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != ENOMSG) die("msgrcv");
        if (n < 0 && open == 0) return 0;
        if (n < 0) {
            alarm_every(20);
            n = msgrcv(in_msq, msg_buf, msg_max, 0, 0);
            int e = errno;
            alarm_every(0);
            if (n < 0 && e != EINTR) {
                errno = e;
                die("msgrcv");
            }
        }
        if (n >= 0) {
            memcpy(buf, msg_buf + 1, (size_t)n);
            return (size_t)n;
        }
    }
}

/* Connected sockets: every connection accepted from stdin, read to its end
 * of file; a stream connection's bytes kept until a whole frame is there. */
struct conn {
    int fd; /* -1 once at end of file */
    unsigned char* data;
    size_t have;
};
static struct conn* conns;
static size_t nconns, next_conn;

static int accept_all(void) {
    int any = 0;
    for (;;) {
        int fd = accept4(0, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && errno == EINTR) continue;
        if (fd < 0 && errno != ECONNABORTED) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) die("accept");
            return any;
        }
        __atomic_add_fetch(in_accepted, 1, __ATOMIC_ACQ_REL);
        any = 1;
        if (fd < 0) continue;
        conns = realloc(conns, (nconns + 1) * sizeof *conns);
        if (conns == NULL) die("realloc");
        conns[nconns].fd = fd;
        conns[nconns].data = malloc(buf_size);
        if (conns[nconns].data == NULL) die("malloc");
        conns[nconns].have = 0;
        ++nconns;
    }
}

/* A whole frame at the head of c's bytes, moved to buf: its length, or 0. */
static size_t take_frame(struct conn* c) {
    if (c->have < kHeader) return 0;
    uint32_t size;
    memcpy(&size, c->data + kSizeOffset, sizeof size);
    if (size < kHeader || size > buf_size) {
        fprintf(stderr, "exec_relay: bad frame size %u\n", size);
        exit(65);
    }
    if (c->have < size) return 0;
    memcpy(buf, c->data, size);
    memmove(c->data, c->data + size, c->have - size);
    c->have -= size;
    return size;
}

/* Reads what c has; for a packet connection, one record into buf (its
 * length).  0 when nothing whole came. */
static size_t read_conn(struct conn* c) {
    if (c->fd < 0) return 0;
    if (!in_framed) {
        ssize_t n = recv(c->fd, buf, buf_size, MSG_DONTWAIT);
        if (n > 0) return (size_t)n;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
        if (n < 0) die("recv");
        close(c->fd);
        c->fd = -1;
        return 0;
    }
    if (c->have == buf_size) return 0; /* a whole frame waits to be taken */
    ssize_t n = recv(c->fd, c->data + c->have, buf_size - c->have, MSG_DONTWAIT);
    if (n > 0) c->have += (size_t)n;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) die("recv");
    if (n == 0) {
        close(c->fd);
        c->fd = -1;
    }
    return 0;
}

static size_t next_from_connections(void) {
    for (;;) {
        /* A whole frame already read, connections taken in turn. */
        for (size_t k = 0; k < nconns; ++k) {
            struct conn* c = &conns[(next_conn + k) % nconns];
            size_t n = in_framed ? take_frame(c) : read_conn(c);
            if (n > 0) {
                next_conn = (next_conn + k + 1) % nconns;
                return n;
            }
        }
        /* The end: no writer open (read first), nothing left to accept,
         * every connection at its end (what is left of one is a frame cut
         * short, which was never sent whole), and every connection a
         * writer made accepted by some reader. */
        uint32_t open = __atomic_load_n(in_open_writers, __ATOMIC_ACQUIRE);
        if (open == 0 && !accept_all()) {
            int done = 1;
            for (size_t i = 0; i < nconns; ++i)
                if (conns[i].fd >= 0) done = 0;
            uint64_t made = __atomic_load_n(in_connected, __ATOMIC_ACQUIRE);
            uint64_t taken = __atomic_load_n(in_accepted, __ATOMIC_ACQUIRE);
            if (done && taken >= made) return 0;
        }
        struct pollfd* p = calloc(nconns + 1, sizeof *p);
        if (p == NULL) die("calloc");
        p[0].fd = 0;
        p[0].events = POLLIN;
        for (size_t i = 0; i < nconns; ++i) {
            p[i + 1].fd = conns[i].fd; /* -1: ignored */
            p[i + 1].events = POLLIN;
        }
        int r = poll(p, nconns + 1, 20);
        if (r < 0 && errno != EINTR) die("poll");
        if (r > 0 && p[0].revents) accept_all();
        for (size_t i = 0; r > 0 && i < nconns; ++i) {
            if (!p[i + 1].revents) continue;
            size_t n = read_conn(&conns[i]);
            if (n > 0) { /* a record: hand it over now */
                free(p);
                return n;
            }
        }
        free(p);
    }
}

/* Datagrams from the bound socket on stdin. */
static size_t next_datagram(void) {
    int quiet = 0;
    for (;;) {
        uint32_t open = __atomic_load_n(in_open_writers, __ATOMIC_ACQUIRE);
        ssize_t n = recv(0, buf, buf_size, MSG_DONTWAIT);
        if (n >= 0) return (size_t)n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) die("recv");
        if (open == 0 && (in_quiet_ms < 0 || quiet)) return 0;
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int r = poll(&p, 1, in_quiet_ms > 0 ? (int)in_quiet_ms : 20);
        quiet = r == 0 && open == 0;
    }
}

static void send_datagram(const unsigned char* p, size_t n) {
    for (;;) {
        ssize_t w = send(out_sock, p, n, MSG_NOSIGNAL);
        if (w >= 0) return;
        if (errno == ENOBUFS) {
            usleep(100);
            continue;
        }
        if (errno != EINTR) die("send");
    }
}

static void forward(size_t n, unsigned prio) {
    if (out_q != (mqd_t)-1) {
        while (mq_send(out_q, (const char*)buf, n, prio) != 0)
            if (errno != EINTR) die("mq_send");
        return;
    }
    if (out_msq >= 0) {
        msg_buf->mtype = (long)prio;
        memcpy(msg_buf + 1, buf, n);
        while (msgsnd(out_msq, msg_buf, n, 0) != 0)
            if (errno != EINTR) die("msgsnd");
        return;
    }
    if (out_sock >= 0 && !out_stream) {
        send_datagram(buf, n);
        return;
    }
    write_full(out_sock >= 0 ? out_sock : 1, buf, n);
}

static void* volatile handler_block; /* volatile: the calls stay in */
static volatile sig_atomic_t handler_ran;

static void unsafe_handler(int sig) {
    (void)sig;
    handler_block = malloc(64);
    free(handler_block);
    handler_ran = 1;
}

static long env_long(const char* name) {
    return strtol(need_env(name), NULL, 10);
}

/* The input's control file, mapped shared (read-write: a listening input
 * counts its accepted connections there). */
static void map_end_file(void) {
    int fd = open(need_env("IPCTORTURE_INPUT_END_FILE"), O_RDWR);
    if (fd < 0) die("open end file");
    long off = env_long("IPCTORTURE_INPUT_END_OFFSET");
    long end = off + 4;
    if (in_listen) {
        long c = env_long("IPCTORTURE_INPUT_CONNECTED_OFFSET") + 8;
        long a = env_long("IPCTORTURE_INPUT_ACCEPTED_OFFSET") + 8;
        if (c > end) end = c;
        if (a > end) end = a;
    }
    char* m = mmap(NULL, (size_t)end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) die("mmap end file");
    close(fd);
    in_open_writers = (const volatile uint32_t*)(m + off);
    if (in_listen) {
        in_connected = (volatile uint64_t*)(m + env_long("IPCTORTURE_INPUT_CONNECTED_OFFSET"));
        in_accepted = (volatile uint64_t*)(m + env_long("IPCTORTURE_INPUT_ACCEPTED_OFFSET"));
    }
}

/* A socket connected to the output, as the environment describes it. */
static void connect_output(const char* backend) {
    int unix_family = strncmp(backend, "unix_", 5) == 0;
    int type = SOCK_DGRAM;
    if (strcmp(backend, "unix_stream") == 0 || strcmp(backend, "tcp") == 0) type = SOCK_STREAM;
    if (strcmp(backend, "unix_seqpacket") == 0) type = SOCK_SEQPACKET;
    out_stream = type == SOCK_STREAM;
    out_sock = socket(unix_family ? AF_UNIX : AF_INET, type | SOCK_CLOEXEC, 0);
    if (out_sock < 0) die("socket");
    const char* sndbuf = getenv("IPCTORTURE_OUTPUT_SNDBUF");
    if (sndbuf != NULL) {
        int v = atoi(sndbuf);
        if (setsockopt(out_sock, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) != 0) die("SO_SNDBUF");
    }
    if (getenv("IPCTORTURE_OUTPUT_NODELAY") != NULL) {
        int one = 1;
        if (setsockopt(out_sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            die("TCP_NODELAY");
    }
    int r;
    if (unix_family) {
        struct sockaddr_un a;
        memset(&a, 0, sizeof a);
        a.sun_family = AF_UNIX;
        const char* path = need_env("IPCTORTURE_OUTPUT_PATH");
        if (strlen(path) >= sizeof a.sun_path) {
            fprintf(stderr, "exec_relay: socket path too long\n");
            exit(64);
        }
        strcpy(a.sun_path, path);
        r = connect(out_sock, (struct sockaddr*)&a, sizeof a);
    } else {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)env_long("IPCTORTURE_OUTPUT_PORT"));
        if (inet_pton(AF_INET, need_env("IPCTORTURE_OUTPUT_HOST"), &a.sin_addr) != 1) {
            fprintf(stderr, "exec_relay: bad IPCTORTURE_OUTPUT_HOST\n");
            exit(64);
        }
        r = connect(out_sock, (struct sockaddr*)&a, sizeof a);
    }
    if (r != 0) die("connect");
}

static void open_channels(void) {
    const char* in = need_env("IPCTORTURE_INPUT");
    const char* out = need_env("IPCTORTURE_OUTPUT");
    buf_size = strtoul(need_env("IPCTORTURE_INPUT_MAX_MESSAGE"), NULL, 10);
    const char* sock = getenv("IPCTORTURE_INPUT_SOCKET");
    if (strcmp(in, "posix_mq") == 0) {
        in_q = mq_open(need_env("IPCTORTURE_INPUT_NAME"), O_RDONLY);
        if (in_q == (mqd_t)-1) die("mq_open input");
        map_end_file();
        long msgsize = env_long("IPCTORTURE_INPUT_MSGSIZE");
        if ((size_t)msgsize > buf_size) buf_size = (size_t)msgsize;
    } else if (strcmp(in, "sysv_msg") == 0) {
        in_msq = (int)env_long("IPCTORTURE_INPUT_ID");
        map_end_file();
        if (env_long("IPCTORTURE_INPUT_MSGTYP") != 0) {
            fprintf(stderr, "exec_relay: only msgtyp 0 is supported\n");
            exit(64);
        }
        size_t msgsize = (size_t)env_long("IPCTORTURE_INPUT_MSGSIZE");
        if (msgsize > msg_max) msg_max = msgsize;
        if (msgsize > buf_size) buf_size = msgsize;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm; /* no SA_RESTART: msgrcv ends with EINTR */
        sigaction(SIGALRM, &sa, NULL);
    } else if (sock != NULL) {
        in_listen = strcmp(sock, "listen") == 0;
        in_bound = strcmp(sock, "bound") == 0;
        if (!in_listen && !in_bound) {
            fprintf(stderr, "exec_relay: unknown IPCTORTURE_INPUT_SOCKET %s\n", sock);
            exit(64);
        }
        in_framed = strcmp(need_env("IPCTORTURE_INPUT_FRAMING"), "stream") == 0;
        const char* quiet = getenv("IPCTORTURE_INPUT_QUIET_MS");
        if (quiet != NULL) in_quiet_ms = atol(quiet);
        map_end_file();
    }
    if (strcmp(out, "posix_mq") == 0) {
        out_q = mq_open(need_env("IPCTORTURE_OUTPUT_NAME"), O_WRONLY);
        if (out_q == (mqd_t)-1) die("mq_open output");
    } else if (strcmp(out, "sysv_msg") == 0) {
        out_msq = (int)env_long("IPCTORTURE_OUTPUT_ID");
        size_t msgsize = (size_t)env_long("IPCTORTURE_OUTPUT_MSGSIZE");
        if (msgsize > msg_max) msg_max = msgsize;
    } else if (getenv("IPCTORTURE_OUTPUT_SOCKET") != NULL) {
        connect_output(out);
    }
    if (msg_max < buf_size) msg_max = buf_size;
    msg_buf = malloc(sizeof(long) + msg_max);
    if (msg_buf == NULL) die("malloc");
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
        else if (strcmp(a, "--duplicate-every") == 0)
            opt_duplicate = v;
        else if (strcmp(a, "--swap-every") == 0)
            opt_swap = v;
        else if (strcmp(a, "--corrupt-every") == 0)
            opt_corrupt = v;
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
    open_channels();
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
    unsigned char* held = malloc(buf_size); /* --swap-every: the message held back */
    size_t held_n = 0;
    unsigned held_prio = 0;
    if (buf == NULL || held == NULL) die("malloc");
    for (unsigned long k = 1;; ++k) {
        unsigned prio = 0;
        size_t n = in_q != (mqd_t)-1 ? next_from_queue(&prio)
                   : in_msq >= 0     ? next_from_sysv()
                   : in_listen       ? next_from_connections()
                   : in_bound        ? next_datagram()
                                     : next_from_stream();
        if (n == 0) break;
        if (in_q == (mqd_t)-1) memcpy(&prio, buf + kPrioOffset, sizeof prio);
        if (opt_corrupt && k % opt_corrupt == 0 && n > kHeader) buf[n - 1] ^= 0x5a;
        if (opt_swap && k % opt_swap == 0) {
            memcpy(held, buf, n);
            held_n = n;
            held_prio = prio;
            continue;
        }
        if (!(opt_drop && k % opt_drop == 0)) forward(n, prio);
        if (opt_duplicate && k % opt_duplicate == 0) forward(n, prio);
        if (held_n > 0) {
            memcpy(buf, held, held_n);
            forward(held_n, held_prio);
            held_n = 0;
        }
        if (opt_garbage_after && k == opt_garbage_after) {
            memset(buf, 0xa5, 100);
            forward(100, 1);
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
    if (held_n > 0) { /* the last message was held: it goes last */
        memcpy(buf, held, held_n);
        forward(held_n, held_prio);
    }
    return 0;
}
