/* Reports: backtraces, de-duplication, the record line (see sigsafe.h).
 *
 * Everything below ss_report_init() may run inside a handler: no locks, no
 * allocation, no stdio; text is formatted by hand into a buffer taken from a
 * small static pool and written with one write(2), so records from several
 * threads or processes never interleave in the file (O_APPEND). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include "sigsafe.h"

#define SS_FRAMES 24     /* return addresses kept per report */
#define SS_SEEN 4096     /* distinct reports per process (a power of two) */
#define SS_BUF 8192      /* one record */
#define SS_POOL 8        /* records being formatted at once (threads, nested handlers) */
#define SS_PATH_MAX 1024 /* longest module path written; longer ones are cut */

static char out_path[4096]; /* empty: stderr */
static char exe_path[SS_PATH_MAX];
static uintptr_t self_start, self_end; /* this library's mapping: its frames are skipped */

#if defined(DLFO_STRUCT_HAS_EH_DBASE)
/* glibc >= 2.35; looked up at run time so that the library still loads on
 * an older one (frames are then written as bare addresses). */
static int (*find_object)(void*, struct dl_find_object*);
#endif

/* ---- formatting ----------------------------------------------------------------- */

struct buf {
    char* p;
    size_t n, cap;
};

static void put(struct buf* b, const char* s, size_t len) {
    if (len > b->cap - 1 - b->n) len = b->cap - 1 - b->n; /* the last byte is the newline */
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

static void puts_(struct buf* b, const char* s) {
    put(b, s, strlen(s));
}

static void put_uint(struct buf* b, uint64_t v, unsigned base) {
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0);
    put(b, tmp + i, sizeof tmp - i);
}

static void put_int(struct buf* b, int64_t v) {
    if (v < 0) put(b, "-", 1);
    put_uint(b, v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v, 10);
}

/* A path, with the two bytes that would break the line format replaced. */
static void put_path(struct buf* b, const char* s) {
    for (size_t i = 0; s[i] != '\0' && i < SS_PATH_MAX; ++i) {
        const char c = s[i] == '\t' || s[i] == '\n' ? '?' : s[i];
        put(b, &c, 1);
    }
}

static void put_field(struct buf* b, const char* key, int64_t v) {
    put(b, "\t", 1);
    puts_(b, key);
    put_int(b, v);
}

/* MODULE+0xOFFSET, the offset as addr2line takes it (the address minus the
 * object's load bias); a bare 0xADDRESS when the module is unknown. */
static void put_location(struct buf* b, uintptr_t pc) {
#if defined(DLFO_STRUCT_HAS_EH_DBASE)
    struct dl_find_object found;
    if (find_object != NULL && find_object((void*)pc, &found) == 0 && found.dlfo_link_map != NULL) {
        const struct link_map* lm = found.dlfo_link_map;
        const char* name = lm->l_name != NULL && lm->l_name[0] != '\0' ? lm->l_name : exe_path;
        put_path(b, name);
        put(b, "+0x", 3);
        put_uint(b, pc - lm->l_addr, 16);
        return;
    }
#endif
    put(b, "0x", 2);
    put_uint(b, pc, 16);
}

/* ---- output ---------------------------------------------------------------------- */

static char pool[SS_POOL][SS_BUF];
static atomic_flag pool_busy[SS_POOL];

static int take_buffer(struct buf* b) {
    for (int i = 0; i < SS_POOL; ++i) {
        if (!atomic_flag_test_and_set(&pool_busy[i])) {
            b->p = pool[i];
            b->n = 0;
            b->cap = SS_BUF;
            return i;
        }
    }
    return -1;
}

static void emit(struct buf* b, int slot) {
    b->p[b->n++] = '\n';
    int fd = 2;
    if (out_path[0] != '\0') {
        do fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        while (fd < 0 && errno == EINTR);
    }
    if (fd >= 0) {
        for (size_t at = 0; at < b->n;) {
            const ssize_t w = write(fd, b->p + at, b->n - at);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            at += (size_t)w;
        }
        if (fd != 2) close(fd);
    }
    atomic_flag_clear(&pool_busy[slot]);
}

static void put_header(struct buf* b, int signo, unsigned depth) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    puts_(b, "ipctorture-sigsafe\tv1");
    put_field(b, "ns=", (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    put_field(b, "pid=", getpid());
    put_field(b, "tid=", syscall(SYS_gettid));
    put_field(b, "signal=", signo);
    put_field(b, "depth=", depth);
}

/* ---- de-duplication ---------------------------------------------------------------- */

static _Atomic uint64_t seen[SS_SEEN];
static atomic_int table_full_said;

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 31;
    return h * 0xbf58476d1ce4e5b9ull;
}

/* 1 the first time key is seen, 0 after; -1 once the table is full. */
static int first_time(uint64_t key) {
    if (key == 0) key = 1;
    for (size_t i = 0; i < SS_SEEN; ++i) {
        _Atomic uint64_t* slot = &seen[(key + i) & (SS_SEEN - 1)];
        uint64_t cur = atomic_load(slot);
        if (cur == key) return 0;
        if (cur == 0) {
            if (atomic_compare_exchange_strong(slot, &cur, key)) return 1;
            if (cur == key) return 0;
        }
    }
    return -1;
}

static void say_table_full(void) {
    if (atomic_exchange(&table_full_said, 1)) return;
    struct buf b;
    const int slot = take_buffer(&b);
    if (slot < 0) return;
    puts_(&b, "ipctorture-sigsafe\tv1");
    put_field(&b, "pid=", getpid());
    puts_(&b, "\tdropped=more than 4096 distinct reports; later ones are not written");
    emit(&b, slot);
}

/* ---- backtraces ---------------------------------------------------------------------- */

struct walk {
    uintptr_t* pcs;
    int n, max;
    uintptr_t limit; /* the innermost trampoline's frame: the handler ends there; 0 = none */
    int started;
};

/* The walk starts in this library (the report, the wrapper), skips it, and
 * ends where it comes back to it: the trampoline.  (_Unwind_GetCFA gives the
 * callee's CFA, one frame late, so the trampoline's own frame does not pass
 * the limit; the limit stops walks that miss the trampoline, such as one
 * from a frame without unwind tables.) */
static _Unwind_Reason_Code on_frame(struct _Unwind_Context* ctx, void* arg) {
    struct walk* w = arg;
    if (w->limit != 0 && _Unwind_GetCFA(ctx) > w->limit) return _URC_END_OF_STACK;
    int before_insn = 0;
    const uintptr_t pc = _Unwind_GetIPInfo(ctx, &before_insn);
    if (pc == 0) return _URC_END_OF_STACK;
    const int ours = pc >= self_start && pc < self_end;
    if (!w->started && ours) return _URC_NO_REASON;
    if (w->started && ours && w->limit != 0) return _URC_END_OF_STACK;
    w->started = 1;
    w->pcs[w->n++] = pc;
    return w->n < w->max ? _URC_NO_REASON : _URC_END_OF_STACK;
}

static int capture(uintptr_t* pcs, int max) {
    const struct ss_thread* t = &ss_tls;
    struct walk w = {pcs, 0, max, 0, 0};
    if (t->depth > 0 && t->depth <= SS_MAX_DEPTH) w.limit = t->level[t->depth - 1].frame;
    _Unwind_Backtrace(on_frame, &w);
    return w.n;
}

static void report_call(enum ss_fn f) {
    struct ss_thread* t = &ss_tls;
    const unsigned d = t->depth;
    const struct ss_level* level = d <= SS_MAX_DEPTH ? &t->level[d - 1] : NULL;
    uintptr_t pcs[SS_FRAMES];
    const int n = capture(pcs, SS_FRAMES);
    uint64_t key = mix(mix(0, (uint64_t)f + 1), level != NULL ? level->handler : 0);
    for (int i = 0; i < n; ++i) key = mix(key, pcs[i]);
    const int first = first_time(key);
    if (first < 0) say_table_full();
    if (first <= 0) return;
    struct buf b;
    const int slot = take_buffer(&b);
    if (slot < 0) return;
    put_header(&b, level != NULL ? level->signo : 0, d);
    puts_(&b, "\tcall=");
    puts_(&b, ss_fn_name(f));
    /* The handler itself: the only clue when it tail-called f. */
    if (level != NULL && level->handler != 0) {
        puts_(&b, "\thandler=");
        put_location(&b, level->handler);
    }
    for (int i = 0; i < n; ++i) {
        puts_(&b, "\tframe=");
        put_location(&b, pcs[i]);
    }
    emit(&b, slot);
}

int ss_enter_slow(enum ss_fn f) {
    struct ss_thread* t = &ss_tls;
    char here;
    if (!ss_in_handler((uintptr_t)&here)) return 0;
    if (t->wrap == 0 && t->reporting == 0) {
        const int saved = errno;
        ++t->reporting;
        report_call(f);
        --t->reporting;
        errno = saved;
    }
    ++t->wrap;
    return 1;
}

void ss_report_hooked(enum ss_fn f) {
    struct ss_thread* t = &ss_tls;
    char here;
    if (t->depth == 0 || !ss_in_handler((uintptr_t)&here)) return;
    if (t->wrap != 0 || t->reporting != 0) return;
    const int saved = errno;
    ++t->reporting;
    report_call(f);
    --t->reporting;
    errno = saved;
}

void ss_report_errno(int signo, unsigned depth, int before, int after, uintptr_t handler) {
    const int saved = errno;
    const int first = first_time(mix(mix(0, SS_FN_COUNT + 1), handler));
    if (first < 0) say_table_full();
    struct buf b;
    const int slot = first > 0 ? take_buffer(&b) : -1;
    if (slot >= 0) {
        put_header(&b, signo, depth);
        put_field(&b, "errno=", before);
        put(&b, ">", 1);
        put_int(&b, after);
        puts_(&b, "\thandler=");
        put_location(&b, handler);
        emit(&b, slot);
    }
    errno = saved;
}

/* ---- set-up, before main ------------------------------------------------------------- */

static int find_self(struct dl_phdr_info* info, size_t size, void* arg) {
    (void)size;
    const uintptr_t probe = (uintptr_t)arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        const uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (start < lo) lo = start;
        if (start + ph->p_memsz > hi) hi = start + ph->p_memsz;
    }
    if (probe < lo || probe >= hi) return 0;
    self_start = lo;
    self_end = hi;
    return 1;
}

void ss_report_init(void) {
    const char* out = getenv("IPCTORTURE_SIGSAFE_OUT");
    if (out != NULL && strlen(out) < sizeof out_path) strcpy(out_path, out);
    const ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[n > 0 ? n : 0] = '\0';
#if defined(DLFO_STRUCT_HAS_EH_DBASE)
    find_object = (int (*)(void*, struct dl_find_object*))dlsym(RTLD_DEFAULT, "_dl_find_object");
#endif
    dl_iterate_phdr(find_self, (void*)(uintptr_t)&ss_report_init);
    /* The unwinder's one-time set-up (a pthread_once) happens here, not in
     * a handler. */
    uintptr_t pcs[4];
    capture(pcs, 4);
}
