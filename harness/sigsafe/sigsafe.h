/* The signal-safety interposer's internals (libipctorture_sigsafe.so).
 *
 * Loaded with LD_PRELOAD into any dynamically linked program.  It wraps
 * sigaction() and the signal() family so that every caught signal runs
 * through one trampoline, which counts, per thread, the handlers running
 * (nested ones included).  While a handler runs, calls to functions that are
 * not async-signal-safe (signal-safety(7)) are reported, and so is a handler
 * that returns with errno changed.
 *
 * Everything that can run inside a handler is itself async-signal-safe:
 * thread-local counters, lock-free atomics, and only system calls to report
 * (open/write/close).  Backtraces are raw return addresses captured with
 * libgcc's unwinder (lock-free and allocation-free since GCC 12 and
 * glibc 2.35: it finds unwind tables through _dl_find_object) and written as
 * module+offset, which addr2line resolves later, outside the process.
 *
 * The environment variable IPCTORTURE_SIGSAFE_OUT names the file reports
 * are appended to; unset, they go to stderr.  One line per report:
 *
 *   ipctorture-sigsafe <TAB> v1 <TAB> ns=T <TAB> pid=P <TAB> tid=T <TAB> signal=S
 *     <TAB> depth=D <TAB> call=NAME <TAB> handler=MODULE+0xOFF
 *     <TAB> frame=MODULE+0xOFF ...
 *   ipctorture-sigsafe ... depth=D <TAB> errno=BEFORE>AFTER
 *     <TAB> handler=MODULE+0xOFF
 *
 * ns= is CLOCK_MONOTONIC in nanoseconds (the clock of the harness's event
 * logs); frame= entries are return addresses, innermost first, cut at the
 * trampoline (only the handler's own frames; none when the handler
 * tail-called the function); handler= is the running handler's entry
 * point.  Each call site (function and frames) and each handler that
 * clobbers errno is reported once per process, so a signal storm writes a
 * few lines, not gigabytes. */
#ifndef IPCT_SIGSAFE_H
#define IPCT_SIGSAFE_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Nothing but the wrapped functions is exported: the program's own symbols
 * must never meet ours. */
#pragma GCC visibility push(hidden)

/* The functions reported when called inside a handler. */
enum ss_fn {
    SS_MALLOC,
    SS_FREE,
    SS_CALLOC,
    SS_REALLOC,
    SS_POSIX_MEMALIGN,
    SS_ALIGNED_ALLOC,
    SS_MEMALIGN,
    SS_PRINTF,
    SS_FPRINTF,
    SS_VPRINTF,
    SS_VFPRINTF,
    SS_DPRINTF,
    SS_VDPRINTF,
    SS_SPRINTF,
    SS_SNPRINTF,
    SS_VSPRINTF,
    SS_VSNPRINTF,
    SS_PUTS,
    SS_FPUTS,
    SS_FPUTC,
    SS_PUTC,
    SS_PUTCHAR,
    SS_FWRITE,
    SS_FFLUSH,
    SS_FOPEN,
    SS_FCLOSE,
    SS_PERROR,
    SS_MUTEX_LOCK,
    SS_MUTEX_TRYLOCK,
    SS_MUTEX_TIMEDLOCK,
    SS_MUTEX_UNLOCK,
    SS_COND_WAIT,
    SS_COND_TIMEDWAIT,
    SS_COND_SIGNAL,
    SS_COND_BROADCAST,
    SS_SYSLOG,
    SS_VSYSLOG,
    SS_EXIT,
    SS_FN_COUNT
};
const char* ss_fn_name(enum ss_fn f);

/* The next definitions (the C library's, or an allocator linked into the
 * program), resolved with dlsym(RTLD_NEXT) before main. */
struct ss_real {
    int (*sigaction)(int, const struct sigaction*, struct sigaction*);
    int (*sigprocmask)(int, const sigset_t*, sigset_t*);
    void* (*malloc)(size_t);
    void (*free)(void*);
    void* (*calloc)(size_t, size_t);
    void* (*realloc)(void*, size_t);
    int (*posix_memalign)(void**, size_t, size_t);
    void* (*aligned_alloc)(size_t, size_t);
    void* (*memalign)(size_t, size_t);
    int (*vprintf)(const char*, va_list);
    int (*vfprintf)(FILE*, const char*, va_list);
    int (*vdprintf)(int, const char*, va_list);
    int (*vsprintf)(char*, const char*, va_list);
    int (*vsnprintf)(char*, size_t, const char*, va_list);
    int (*vprintf_chk)(int, const char*, va_list);
    int (*vfprintf_chk)(FILE*, int, const char*, va_list);
    int (*vdprintf_chk)(int, int, const char*, va_list);
    int (*vsprintf_chk)(char*, int, size_t, const char*, va_list);
    int (*vsnprintf_chk)(char*, size_t, int, size_t, const char*, va_list);
    int (*puts)(const char*);
    int (*fputs)(const char*, FILE*);
    int (*fputc)(int, FILE*);
    int (*putc)(int, FILE*);
    int (*putchar)(int);
    size_t (*fwrite)(const void*, size_t, size_t, FILE*);
    int (*fflush)(FILE*);
    FILE* (*fopen)(const char*, const char*);
    int (*fclose)(FILE*);
    void (*perror)(const char*);
    void* mutex_lock;  // int (*)(pthread_mutex_t*) and friends: see sigsafe_calls.c
    void* mutex_trylock;
    void* mutex_timedlock;
    void* mutex_unlock;
    void* cond_wait;
    void* cond_timedwait;
    void* cond_signal;
    void* cond_broadcast;
    void (*vsyslog)(int, const char*, va_list);
    void (*vsyslog_chk)(int, int, const char*, va_list);
    void (*exit)(int) __attribute__((noreturn));
};
extern struct ss_real ss_real;

/* Resolves ss_real (idempotent).  Allocations dlsym makes meanwhile are
 * served from a static arena (ss_bootstrap_alloc). */
void ss_resolve(void);
int ss_resolving(void);
void* ss_bootstrap_alloc(size_t size, size_t align);
int ss_bootstrap_owns(const void* p);
size_t ss_bootstrap_size(const void* p);

/* ---- per-thread handler state --------------------------------------------- */

#define SS_MAX_DEPTH 16

struct ss_level {
    uintptr_t frame;   /* the trampoline's frame address: frames above it are not the handler's */
    uintptr_t handler; /* the user's handler the trampoline runs */
    int signo;
    unsigned wrap; /* the wrap count interrupted by this handler */
};

struct ss_thread {
    unsigned depth; /* handlers running on this thread */
    unsigned wrap;  /* inside a reported function: what it calls is not reported again */
    unsigned reporting;
    struct ss_level level[SS_MAX_DEPTH];
};

/* initial-exec: a preloaded library's TLS is in the static block, so no
 * access ever calls __tls_get_addr (which may allocate). */
extern __thread struct ss_thread ss_tls __attribute__((tls_model("initial-exec")));

/* Whether the calling thread runs inside a handler, from a function whose
 * frame is at sp.  Levels a handler left with siglongjmp (its trampoline
 * frame lies below sp) are dropped first. */
int ss_in_handler(uintptr_t sp);

/* ---- reports ----------------------------------------------------------------- */

/* Called by a wrapper on entry: reports the call if the thread is in a
 * handler and not already inside another reported function.  Returns
 * nonzero when the wrapper must call ss_leave() after its real call (what
 * the real function calls in turn is not reported again).  Outside
 * handlers it costs one thread-local load. */
int ss_enter_slow(enum ss_fn f);
static inline int ss_enter(enum ss_fn f) {
    if (__builtin_expect(ss_tls.depth == 0, 1)) return 0;
    return ss_enter_slow(f);
}
static inline void ss_leave(void) {
    --ss_tls.wrap;
}

/* Reports f called from an allocator hook (sanitizer runtimes), with the
 * same rules as ss_enter. */
void ss_report_hooked(enum ss_fn f);
void ss_report_errno(int signo, unsigned depth, int before, int after, uintptr_t handler);

/* Outside any handler, before main: caches what reports need (the output
 * path, the executable's path, this library's address range) and runs the
 * unwinder once so that its one-time setup never happens in a handler. */
void ss_report_init(void);

/* Under a sanitizer runtime the program's malloc is the runtime's, which
 * our malloc never sees: its allocator hooks report instead.  Before main. */
void ss_install_sanitizer_hooks(void);

#pragma GCC visibility pop

#endif
