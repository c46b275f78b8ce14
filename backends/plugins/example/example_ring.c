/* example_ring: a ring of messages in POSIX shared memory, as a user of
 * ipctorture would write one, behind the plugin ABI (ipctorture/plugin.h).
 *
 * Contract: messages with boundaries, FIFO (one ring, one lock: the order of
 * the sends that took the lock is the order of the receives), lossless, any
 * number of writers and readers.
 *
 * Layout of the shm object "/ipct-exring-<run id>-<channel index>": a header
 * (a robust process-shared mutex, the head and tail counters, who is still
 * open) followed by `slots` slots
 * of a length word and `max_message` bytes.  A message is written into the
 * slot at `tail` and becomes visible when `tail` moves, both under the lock;
 * a process killed half-way through a copy leaves the counters as they were.
 *
 * End of channel: each writer marks itself gone when it closes, and the
 * orchestrator marks a writer gone when its process ends however it ended
 * (process_gone), so a reader that finds the ring empty and no writer open
 * knows it has everything.  Readers are tracked the same way: with no reader
 * left, a writer facing a full ring gets EPIPE instead of waiting forever.
 * A process that waits (ring full, or empty) drops the lock, sleeps a little
 * and looks again: there are no process-shared condition variables.  With
 * them, a process killed while it waited stays counted as a waiter in
 * glibc's condition variable, and the next broadcast can block for ever;
 * the orchestrator's process_gone() after that very kill would then hang
 * the harness.  Polling costs some latency and no correctness.
 *
 * Built with EXAMPLE_RING_PLANT_LOSS defined, send() drops every thousandth
 * message of each writer (the 8th, the 1008th, ...) and still reports
 * success: the planted bug the tests require the checker to catch as lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipctorture/plugin.h"

#define RING_MAGIC 0x52584549u /* "IEXR" */
#define RING_MAX_SIDE 1024u    /* writers, and readers, per channel */
/* The sleep between two looks at a full or empty ring: it starts short and
 * doubles up to the longest, so a busy ring answers quickly and an idle
 * one costs little. */
#define RING_WAIT_MIN_NS 2000L
#define RING_WAIT_MAX_NS 1000000L

struct ring_header {
    uint32_t magic;
    uint32_t slots;
    uint32_t max_message;
    uint32_t writers;
    uint32_t readers;
    uint32_t writers_open;
    uint32_t readers_open;
    uint32_t pad;
    uint64_t head; /* next message to read */
    uint64_t tail; /* next slot to write; tail - head messages are queued */
    pthread_mutex_t lock;
    uint8_t writer_gone[RING_MAX_SIDE];
    uint8_t reader_gone[RING_MAX_SIDE];
};

struct ring_options {
    uint32_t slots;
    uint32_t max_message;
};

struct ring_endpoint {
    struct ring_header* h;
    size_t map_size;
    int direction;
    uint32_t rank;
    uint64_t sent; /* by this writer */
};

/* ---- options ---------------------------------------------------------- */

static void say(ipctorture_plugin_error* err, int option, const char* fmt, const char* a,
                const char* b) {
    if (!err) return;
    snprintf(err->message, sizeof err->message, fmt, a, b);
    err->option = option;
}

static int parse_u32(const char* s, uint32_t lo, uint32_t hi, uint32_t* out) {
    char* end = NULL;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_options(const ipctorture_plugin_channel* ch, struct ring_options* o,
                         ipctorture_plugin_error* err) {
    o->slots = 64;
    o->max_message = 8192;
    for (size_t i = 0; i < ch->option_count; ++i) {
        const char* k = ch->options[i].key;
        const char* v = ch->options[i].value;
        if (strcmp(k, "slots") == 0) {
            if (parse_u32(v, 1, 65536, &o->slots)) {
                say(err, (int)i, "expected a slot count in [1, 65536], got '%s'%s", v, "");
                return IPCT_PLUGIN_ERROR;
            }
        } else if (strcmp(k, "max_message") == 0) {
            if (parse_u32(v, 32, 1u << 20, &o->max_message)) {
                say(err, (int)i, "expected a size in bytes in [32, 1048576], got '%s'%s", v, "");
                return IPCT_PLUGIN_ERROR;
            }
        } else {
            say(err, (int)i, "unknown option '%s'; expected one of: slots, max_message%s", k, "");
            return IPCT_PLUGIN_ERROR;
        }
    }
    if ((uint64_t)o->slots * (o->max_message + 8u) > (256ull << 20)) {
        say(err, -1, "slots x max_message is above 256 MiB; expected a smaller ring%s%s", "", "");
        return IPCT_PLUGIN_ERROR;
    }
    return IPCT_PLUGIN_OK;
}

/* ---- the shared object ------------------------------------------------ */

static uint64_t fnv1a(const char* s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; ++s) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Derived from the run id and channel index alone, so that cleanup() finds
 * the object even without a state. */
static void shm_name(const ipctorture_plugin_channel* ch, char* out, size_t size) {
    int n = snprintf(out, size, "/ipct-exring-%s-%u", ch->run_id, ch->index);
    if (n < 0 || (size_t)n >= size || n > 200)
        snprintf(out, size, "/ipct-exring-%016llx-%u", (unsigned long long)fnv1a(ch->run_id),
                 ch->index);
}

static size_t slot_stride(uint32_t max_message) {
    return ((size_t)max_message + 4u + 7u) & ~(size_t)7u;
}

static size_t header_stride(void) {
    return (sizeof(struct ring_header) + 63u) & ~(size_t)63u;
}

static size_t map_size(uint32_t slots, uint32_t max_message) {
    return header_stride() + (size_t)slots * slot_stride(max_message);
}

static uint8_t* slot_at(struct ring_header* h, uint64_t n) {
    return (uint8_t*)h + header_stride() + (size_t)(n % h->slots) * slot_stride(h->max_message);
}

static struct ring_header* map_existing(const char* name, size_t* size, int* err_no) {
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        *err_no = errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct ring_header)) {
        *err_no = errno ? errno : EINVAL;
        close(fd);
        return NULL;
    }
    void* p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    *err_no = errno;
    close(fd);
    if (p == MAP_FAILED) return NULL;
    struct ring_header* h = p;
    if (h->magic != RING_MAGIC || map_size(h->slots, h->max_message) != (size_t)st.st_size) {
        munmap(p, (size_t)st.st_size);
        *err_no = EINVAL;
        return NULL;
    }
    *size = (size_t)st.st_size;
    return h;
}

/* A holder that died leaves the mutex "owner dead": the counters are
 * consistent at every point a process can die, so the lock is taken over. */
static void ring_lock(struct ring_header* h) {
    if (pthread_mutex_lock(&h->lock) == EOWNERDEAD) pthread_mutex_consistent(&h->lock);
}

/* Drops the lock, sleeps *wait_ns (then doubles it, up to the longest) and
 * takes the lock again; the caller looks at the ring again. */
static void ring_wait(struct ring_header* h, long* wait_ns) {
    pthread_mutex_unlock(&h->lock);
    struct timespec t = {0, *wait_ns};
    nanosleep(&t, NULL);
    if (*wait_ns < RING_WAIT_MAX_NS) *wait_ns *= 2;
    ring_lock(h);
}

/* Marks one side's member gone, once. */
static void mark_gone(struct ring_header* h, int direction, uint32_t rank) {
    if (rank >= RING_MAX_SIDE) return;
    ring_lock(h);
    if (direction == IPCT_PLUGIN_WRITE && rank < h->writers && !h->writer_gone[rank]) {
        h->writer_gone[rank] = 1;
        h->writers_open--;
    } else if (direction == IPCT_PLUGIN_READ && rank < h->readers && !h->reader_gone[rank]) {
        h->reader_gone[rank] = 1;
        h->readers_open--;
    }
    pthread_mutex_unlock(&h->lock);
}

static int init_header(struct ring_header* h, const struct ring_options* o, uint32_t writers,
                       uint32_t readers) {
    pthread_mutexattr_t ma;
    int e = pthread_mutexattr_init(&ma);
    if (!e) e = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    if (!e) e = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (!e) e = pthread_mutex_init(&h->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    if (e) return e;
    h->slots = o->slots;
    h->max_message = o->max_message;
    h->writers = writers;
    h->readers = readers;
    h->writers_open = writers;
    h->readers_open = readers;
    h->head = h->tail = 0;
    h->magic = RING_MAGIC; /* last: open() refuses a ring without it */
    return 0;
}

/* ---- the ABI ---------------------------------------------------------- */

static int ring_validate(const ipctorture_plugin_channel* ch, ipctorture_plugin_error* err) {
    struct ring_options o;
    return parse_options(ch, &o, err);
}

static int ring_contract(const ipctorture_plugin_channel* ch, ipctorture_plugin_contract* out,
                         ipctorture_plugin_error* err) {
    struct ring_options o;
    if (parse_options(ch, &o, err) != IPCT_PLUGIN_OK) return IPCT_PLUGIN_ERROR;
    out->unit = IPCT_PLUGIN_UNIT_MESSAGE;
    out->fifo = 1;
    out->lossless = 1;
    out->max_message = o.max_message;
    out->notes =
        "one ring under a robust process-shared mutex: FIFO across writers, a full ring blocks "
        "the writer, EPIPE once every reader has gone";
    return IPCT_PLUGIN_OK;
}

static int ring_create(const ipctorture_plugin_channel* ch, char* state, size_t state_size,
                       ipctorture_plugin_error* err) {
    struct ring_options o;
    if (parse_options(ch, &o, err) != IPCT_PLUGIN_OK) return IPCT_PLUGIN_ERROR;
    if (ch->writers > RING_MAX_SIDE || ch->readers > RING_MAX_SIDE) {
        say(err, -1, "at most 1024 writers and 1024 readers per channel%s%s", "", "");
        return IPCT_PLUGIN_ERROR;
    }
    char name[256];
    shm_name(ch, name, sizeof name);
    if (strlen(name) + 1 > state_size) {
        say(err, -1, "state buffer too small for %s%s", name, "");
        return IPCT_PLUGIN_ERROR;
    }
    const size_t size = map_size(o.slots, o.max_message);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        say(err, -1, "shm_open %s: %s", name, strerror(errno));
        return IPCT_PLUGIN_ERROR;
    }
    void* p = MAP_FAILED;
    int e = ftruncate(fd, (off_t)size) == 0 ? 0 : errno;
    if (!e) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) e = errno;
    }
    close(fd);
    if (!e) e = init_header(p, &o, ch->writers, ch->readers);
    if (p != MAP_FAILED) munmap(p, size);
    if (e) {
        shm_unlink(name);
        say(err, -1, "creating %s: %s", name, strerror(e));
        return IPCT_PLUGIN_ERROR;
    }
    memcpy(state, name, strlen(name) + 1);
    return IPCT_PLUGIN_OK;
}

static void* ring_open(const ipctorture_plugin_channel* ch, const char* state, int direction,
                       uint32_t rank, ipctorture_plugin_error* err) {
    (void)ch;
    struct ring_endpoint* ep = calloc(1, sizeof *ep);
    if (!ep) {
        say(err, -1, "out of memory%s%s", "", "");
        return NULL;
    }
    int e = 0;
    ep->h = map_existing(state, &ep->map_size, &e);
    if (!ep->h) {
        say(err, -1, "cannot map %s: %s", state, strerror(e));
        free(ep);
        return NULL;
    }
    ep->direction = direction;
    ep->rank = rank;
    return ep;
}

static int ring_send(void* endpoint, const void* buf, size_t len, size_t* done, int* err_no) {
    struct ring_endpoint* ep = endpoint;
    struct ring_header* h = ep->h;
    *done = 0;
    if (len > h->max_message) {
        *err_no = EMSGSIZE;
        return IPCT_PLUGIN_ERROR;
    }
#ifdef EXAMPLE_RING_PLANT_LOSS
    if (ep->sent++ % 1000 == 7) { /* the planted bug: say it went, send nothing */
        *done = len;
        return IPCT_PLUGIN_OK;
    }
#endif
    long wait_ns = RING_WAIT_MIN_NS;
    ring_lock(h);
    while (h->tail - h->head == h->slots) {
        if (h->readers_open == 0) {
            pthread_mutex_unlock(&h->lock);
            *err_no = EPIPE;
            return IPCT_PLUGIN_ERROR;
        }
        ring_wait(h, &wait_ns);
    }
    uint8_t* slot = slot_at(h, h->tail);
    const uint32_t n = (uint32_t)len;
    memcpy(slot, &n, sizeof n);
    memcpy(slot + 4, buf, len);
    h->tail++;
    pthread_mutex_unlock(&h->lock);
    *done = len;
    return IPCT_PLUGIN_OK;
}

static int ring_receive(void* endpoint, void* buf, size_t capacity, size_t* got, int* err_no) {
    struct ring_endpoint* ep = endpoint;
    struct ring_header* h = ep->h;
    (void)err_no;
    *got = 0;
    long wait_ns = RING_WAIT_MIN_NS;
    ring_lock(h);
    while (h->tail == h->head) {
        if (h->writers_open == 0) {
            pthread_mutex_unlock(&h->lock);
            return IPCT_PLUGIN_EOF;
        }
        ring_wait(h, &wait_ns);
    }
    const uint8_t* slot = slot_at(h, h->head);
    uint32_t n;
    memcpy(&n, slot, sizeof n);
    if (n > h->max_message) n = h->max_message;
    const size_t take = n < capacity ? n : capacity;
    memcpy(buf, slot + 4, take);
    h->head++;
    pthread_mutex_unlock(&h->lock);
    *got = take;
    return IPCT_PLUGIN_OK;
}

static void ring_close(void* endpoint) {
    struct ring_endpoint* ep = endpoint;
    mark_gone(ep->h, ep->direction, ep->rank);
    munmap(ep->h, ep->map_size);
    free(ep);
}

static int ring_process_gone(const ipctorture_plugin_channel* ch, const char* state, int direction,
                             uint32_t rank, ipctorture_plugin_error* err) {
    (void)ch;
    size_t size = 0;
    int e = 0;
    struct ring_header* h = map_existing(state, &size, &e);
    if (!h) {
        if (e == ENOENT) return IPCT_PLUGIN_OK; /* already cleaned up */
        say(err, -1, "cannot map %s: %s", state, strerror(e));
        return IPCT_PLUGIN_ERROR;
    }
    mark_gone(h, direction, rank);
    munmap(h, size);
    return IPCT_PLUGIN_OK;
}

static int ring_cleanup(const ipctorture_plugin_channel* ch, const char* state,
                        ipctorture_plugin_error* err) {
    char name[256];
    if (state && state[0])
        snprintf(name, sizeof name, "%s", state);
    else
        shm_name(ch, name, sizeof name);
    if (shm_unlink(name) != 0 && errno != ENOENT) {
        say(err, -1, "shm_unlink %s: %s", name, strerror(errno));
        return IPCT_PLUGIN_ERROR;
    }
    return IPCT_PLUGIN_OK;
}

static const ipctorture_plugin kTable = {
    .abi_version = IPCTORTURE_PLUGIN_ABI_VERSION,
    .size = sizeof(ipctorture_plugin),
#ifdef EXAMPLE_RING_PLANT_LOSS
    .name = "example_ring_lossy",
    .summary = "example ring with a planted bug: drops every thousandth message",
#else
    .name = "example_ring",
    .summary = "a ring of messages in POSIX shared memory under a robust mutex",
#endif
    .validate = ring_validate,
    .contract = ring_contract,
    .create = ring_create,
    .open = ring_open,
    .send = ring_send,
    .receive = ring_receive,
    .close = ring_close,
    .cleanup = ring_cleanup,
    .process_gone = ring_process_gone,
};

IPCTORTURE_PLUGIN_EXPORT const ipctorture_plugin* ipctorture_plugin_v1(void) {
    return &kTable;
}
