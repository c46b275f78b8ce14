/* Configuration, decisions and the injection log (see faults.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"

#define MAX_RULES 16

struct rule {
    enum ipct_fault_error error;
    uint64_t calls;                /* bit per call id, already cut to what the error applies to */
    double probability;            /* 0 with nth */
    uint64_t nth;                  /* 0 with probability */
    atomic_uint_fast64_t eligible; /* calls this rule was eligible for */
};

/* The harness's event log layout (event_log.hpp). */
struct log_header {
    uint64_t magic;
    uint32_t version;
    uint32_t process;
    uint64_t pid;
    uint64_t capacity;
    uint64_t count; /* published with release stores */
    /* In the header's padding, which the harness's writer leaves at 0: the
     * lock of the appenders.  In the shared mapping, because the processes
     * a program forks (and the programs they run) inherit its environment
     * and log into the same file. */
    uint32_t lock; /* the holder's pid, 0 = free */
    uint8_t pad[20];
};
struct log_record {
    uint64_t t_start, t_end, seq;
    uint32_t origin, size, aux;
    uint16_t channel;
    uint8_t op, status;
    int32_t err;
    uint32_t extra;
};
_Static_assert(sizeof(struct log_header) == 64, "event log header layout");
_Static_assert(sizeof(struct log_record) == 48, "event log record layout");

#define LOG_MAGIC 0x31474f4c54435049ull /* "IPCTLOG1" */
#define OP_SYSCALL_FAULT 14
#define STATUS_OK 1

static struct rule rules[MAX_RULES];
static int nrules;
static uint64_t wanted_calls; /* union of the rules' calls */
static uint64_t seed = 1;
static atomic_int armed;
static struct log_header* log_hdr;
static struct log_record* log_recs;

static const char* const call_names[] = {
#define IPCT_FAULT_CALL_NAME(name) #name,
    IPCT_FAULT_CALLS(IPCT_FAULT_CALL_NAME)
#undef IPCT_FAULT_CALL_NAME
};

/* ---- configuration ---------------------------------------------------------- */

static void config_error(const char* text, const char* what, size_t len) {
    fprintf(stderr, "ipctorture-faults: IPCTORTURE_FAULTS: %s: '%.*s'\n", text, (int)len, what);
    _exit(2);
}

static uint64_t applicable(enum ipct_fault_error e) {
    switch (e) {
        case IPCT_FAULT_EINTR:
            return IPCT_FAULT_EINTR_CALLS;
        case IPCT_FAULT_EAGAIN:
            return IPCT_FAULT_EAGAIN_CALLS;
        case IPCT_FAULT_ENOBUFS:
            return IPCT_FAULT_ENOBUFS_CALLS;
        default:
            return IPCT_FAULT_SHORT_CALLS;
    }
}

static int word_is(const char* w, size_t len, const char* name) {
    return strlen(name) == len && memcmp(w, name, len) == 0;
}

static uint64_t parse_calls(const char* v, size_t len) {
    if (word_is(v, len, "all")) return ~0ull;
    uint64_t bits = 0;
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && v[end] != '+') ++end;
        int found = 0;
        for (int c = 0; c < IPCT_FAULT_CALL_COUNT; ++c)
            if (word_is(v + at, end - at, call_names[c])) bits |= 1ull << c, found = 1;
        if (!found) config_error("unknown call", v + at, end - at);
        at = end + 1;
    }
    return bits;
}

static void parse_field(struct rule* r, const char* f, size_t len, int* has_error, int* has_when) {
    const char* eq = memchr(f, '=', len);
    if (eq == NULL) config_error("expected key=value", f, len);
    const size_t klen = (size_t)(eq - f), vlen = len - klen - 1;
    const char* v = eq + 1;
    char num[64];
    if (word_is(f, klen, "error")) {
        static const char* const names[] = {"EINTR", "EAGAIN", "ENOBUFS", "short"};
        *has_error = 0;
        for (int e = 0; e < IPCT_FAULT_ERROR_COUNT; ++e)
            if (word_is(v, vlen, names[e])) r->error = (enum ipct_fault_error)e, *has_error = 1;
        if (!*has_error) config_error("unknown error (EINTR, EAGAIN, ENOBUFS, short)", v, vlen);
    } else if (word_is(f, klen, "calls")) {
        r->calls = parse_calls(v, vlen);
    } else if (word_is(f, klen, "p") || word_is(f, klen, "nth")) {
        if (vlen == 0 || vlen >= sizeof num) config_error("bad number", f, len);
        memcpy(num, v, vlen);
        num[vlen] = '\0';
        char* end = NULL;
        if (f[0] == 'p')
            r->probability = strtod(num, &end);
        else
            r->nth = strtoull(num, &end, 10);
        if (*end != '\0' || (f[0] == 'p' && !(r->probability > 0 && r->probability <= 1)) ||
            (f[0] == 'n' && r->nth == 0))
            config_error("expected p in (0, 1] or nth >= 1", f, len);
        ++*has_when;
    } else {
        config_error("unknown key (error, calls, p, nth)", f, klen);
    }
}

static void parse_rule(const char* s, size_t len) {
    if (nrules == MAX_RULES) config_error("too many rules", s, len);
    struct rule* r = &rules[nrules];
    r->calls = ~0ull;
    int has_error = 0, has_when = 0;
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && s[end] != ',') ++end;
        if (end > at) parse_field(r, s + at, end - at, &has_error, &has_when);
        at = end + 1;
    }
    if (!has_error) config_error("a rule needs error=", s, len);
    if (has_when != 1) config_error("a rule needs exactly one of p= and nth=", s, len);
    r->calls &= applicable(r->error);
    if (r->calls == 0) config_error("the error applies to none of the rule's calls", s, len);
    wanted_calls |= r->calls;
    ++nrules;
}

static void parse_rules(const char* text) {
    const size_t len = strlen(text);
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && text[end] != ';') ++end;
        if (end > at) parse_rule(text + at, end - at);
        at = end + 1;
    }
}

/* ---- the log ------------------------------------------------------------------ */

static size_t log_bytes(uint64_t capacity) {
    return sizeof(struct log_header) + capacity * sizeof(struct log_record);
}

/* Opens (or continues, after execve) the log; 0 on success. */
static int open_log(const char* path, uint32_t process) {
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    struct stat st;
    int err = 0;
    const int fresh = fstat(fd, &st) == 0 && st.st_size == 0;
    uint64_t capacity = IPCT_FAULT_LOG_CAPACITY;
    if (fresh && ftruncate(fd, (off_t)log_bytes(capacity)) != 0) err = errno;
    if (!fresh && (size_t)st.st_size < sizeof(struct log_header)) err = EINVAL;
    void* p = MAP_FAILED;
    if (err == 0) {
        const size_t len = fresh ? log_bytes(capacity) : (size_t)st.st_size;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) err = errno;
        if (p != MAP_FAILED && !fresh) {
            const struct log_header* h = p;
            if (h->magic != LOG_MAGIC || h->version != 1 || log_bytes(h->capacity) > len)
                err = EINVAL;
        }
        if (err != 0 && p != MAP_FAILED) munmap(p, len);
    }
    close(fd);
    if (err != 0) return err;
    log_hdr = p;
    log_recs = (struct log_record*)(log_hdr + 1);
    if (fresh) {
        log_hdr->version = 1;
        log_hdr->process = process;
        log_hdr->capacity = capacity;
        __atomic_store_n(&log_hdr->count, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&log_hdr->magic, LOG_MAGIC, __ATOMIC_RELEASE);
    }
    log_hdr->pid = (uint64_t)getpid();
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Takes the appenders' lock.  A holder killed with the lock (between two
 * of its stores) would leave it taken for ever: a dead holder's lock is
 * taken over, and the record it was writing, never published, rewritten. */
static void lock_log(void) {
    const uint32_t self = (uint32_t)getpid();
    for (;;) {
        uint32_t holder = 0;
        if (__atomic_compare_exchange_n(&log_hdr->lock, &holder, self, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        if (kill((pid_t)holder, 0) != 0 && errno == ESRCH &&
            __atomic_compare_exchange_n(&log_hdr->lock, &holder, self, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        sched_yield();
    }
}

/* Appends one record; 0 if the log is full (then nothing is injected).
 * Signals are blocked meanwhile: a handler that makes a wrapped call must
 * not wait for the lock its own thread holds. */
static int log_append(const struct log_record* rec) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    lock_log();
    const uint64_t n = __atomic_load_n(&log_hdr->count, __ATOMIC_RELAXED);
    const int room = n < log_hdr->capacity;
    if (room) {
        log_recs[n] = *rec;
        __atomic_store_n(&log_hdr->count, n + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&log_hdr->lock, 0, __ATOMIC_RELEASE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return room;
}

/* ---- decisions ---------------------------------------------------------------- */

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A uniform draw in [0, 1) and a second word, both from (seed, rule, index). */
static uint64_t draw(int rule, uint64_t index, uint64_t salt) {
    return mix(mix(mix(seed ^ salt) + (uint64_t)rule) + index);
}

static int eligible(const struct rule* r, const struct fault_site* s) {
    if (!(r->calls & (1ull << s->call))) return 0;
    switch (r->error) {
        case IPCT_FAULT_EINTR:
            return s->blocking;
        case IPCT_FAULT_EAGAIN:
            return !s->blocking;
        case IPCT_FAULT_ENOBUFS:
            return s->socket && s->write;
        default:
            return s->stream && s->count >= 2 && !(s->pipe && s->write && s->count <= PIPE_BUF);
    }
}

int faults_wanted(enum ipct_fault_call call) {
    return atomic_load_explicit(&armed, memory_order_relaxed) && (wanted_calls & (1ull << call));
}

static int classify(int fd, struct fault_site* s) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return 0;
    s->origin = (uint32_t)fd;
    s->pipe = S_ISFIFO(st.st_mode);
    s->socket = S_ISSOCK(st.st_mode);
    if (!s->pipe && !s->socket) return 0;
    s->stream = s->pipe;
    if (s->socket) {
        int type = 0;
        socklen_t len = sizeof type;
        s->stream = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
    }
    const int fl = fcntl(fd, F_GETFL);
    s->blocking = fl >= 0 && !(fl & O_NONBLOCK);
    return 1;
}

static int decide(const struct fault_site* s, struct fault_act* act) {
    int fire = -1;
    uint64_t index = 0;
    for (int i = 0; i < nrules; ++i) {
        struct rule* r = &rules[i];
        if (!eligible(r, s)) continue;
        const uint64_t k = atomic_fetch_add(&r->eligible, 1) + 1;
        if (fire >= 0) continue;
        const int hit =
            r->nth ? k == r->nth : (double)(draw(i, k, 1) >> 11) * 0x1.0p-53 < r->probability;
        if (hit) fire = i, index = k;
    }
    if (fire < 0) return 0;
    static const int errs[] = {EINTR, EAGAIN, ENOBUFS, 0};
    act->err = errs[rules[fire].error];
    act->allow = act->err ? 0 : 1 + (size_t)(draw(fire, index, 2) % (s->count - 1));
    struct log_record rec;
    memset(&rec, 0, sizeof rec);
    rec.t_start = rec.t_end = now_ns();
    rec.seq = index;
    rec.origin = s->origin;
    rec.size = s->count > UINT32_MAX ? UINT32_MAX : (uint32_t)s->count;
    rec.aux = (uint32_t)s->call | (uint32_t)fire << 16;
    rec.channel = 0xffff;
    rec.op = OP_SYSCALL_FAULT;
    rec.status = STATUS_OK;
    rec.err = act->err;
    rec.extra = act->allow > UINT32_MAX ? UINT32_MAX : (uint32_t)act->allow;
    return log_append(&rec);
}

/* Neither changes errno: a call that is not injected must see the errno the
 * program left, and an injected error sets its own. */
int faults_classify_fd(int fd, struct fault_site* s) {
    const int saved = errno;
    const int r = classify(fd, s);
    errno = saved;
    return r;
}

int faults_decide(const struct fault_site* s, struct fault_act* act) {
    const int saved = errno;
    const int r = decide(s, act);
    errno = saved;
    return r;
}

void ipctorture_faults_arm(void) {
    if (log_hdr != NULL && nrules > 0) atomic_store(&armed, 1);
}

__attribute__((constructor)) static void faults_init(void) {
    const char* text = getenv("IPCTORTURE_FAULTS");
    if (text == NULL || *text == '\0') return;
    parse_rules(text);
    const char* s = getenv("IPCTORTURE_FAULTS_SEED");
    if (s != NULL) seed = strtoull(s, NULL, 10);
    const char* proc = getenv("IPCTORTURE_FAULTS_PROCESS");
    const char* path = getenv("IPCTORTURE_FAULTS_LOG");
    if (path == NULL || *path == '\0') {
        fprintf(stderr, "ipctorture-faults: IPCTORTURE_FAULTS_LOG is not set: nothing injected\n");
        return;
    }
    const int err = open_log(path, proc ? (uint32_t)strtoul(proc, NULL, 10) : 0xffffffffu);
    if (err != 0) {
        fprintf(stderr,
                "ipctorture-faults: cannot use %s as the injection log (%s): nothing "
                "injected\n",
                path, strerror(err));
        return;
    }
    const char* arm = getenv("IPCTORTURE_FAULTS_ARMED");
    if (arm == NULL || strcmp(arm, "0") != 0) ipctorture_faults_arm();
}
