/* The wrapped functions that are not async-signal-safe (signal-safety(7)):
 * each reports itself when called inside a handler (ss_enter) and then does
 * exactly what the next definition does.  The _chk variants are what
 * printf and friends become under _FORTIFY_SOURCE; they are reported under
 * the name the program wrote.
 *
 * Allocation may happen before ss_resolve() has found the real functions
 * (dlsym allocates while it resolves them): those blocks come from a static
 * arena and are never given back. */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sigsafe.h"

const char* ss_fn_name(enum ss_fn f) {
    static const char* const names[SS_FN_COUNT] = {
        "malloc",
        "free",
        "calloc",
        "realloc",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "printf",
        "fprintf",
        "vprintf",
        "vfprintf",
        "dprintf",
        "vdprintf",
        "sprintf",
        "snprintf",
        "vsprintf",
        "vsnprintf",
        "puts",
        "fputs",
        "fputc",
        "putc",
        "putchar",
        "fwrite",
        "fflush",
        "fopen",
        "fclose",
        "perror",
        "pthread_mutex_lock",
        "pthread_mutex_trylock",
        "pthread_mutex_timedlock",
        "pthread_mutex_unlock",
        "pthread_cond_wait",
        "pthread_cond_timedwait",
        "pthread_cond_signal",
        "pthread_cond_broadcast",
        "syslog",
        "vsyslog",
        "exit",
    };
    return f < SS_FN_COUNT ? names[f] : "?";
}

/* The real function, resolving first if nothing has yet. */
#define REAL(field) (ss_real.field != NULL ? ss_real.field : (ss_resolve(), ss_real.field))

/* Report, call, leave: for the functions that return a value. */
#define WRAP(fn_id, type, call)         \
    do {                                \
        const int w_ = ss_enter(fn_id); \
        type const r_ = call;           \
        if (w_) ss_leave();             \
        return r_;                      \
    } while (0)

/* ---- memory ------------------------------------------------------------------------ */

static int bootstrapping(void) {
    return ss_real.malloc == NULL && (ss_resolving() || (ss_resolve(), ss_real.malloc == NULL));
}

void* malloc(size_t n) {
    if (__builtin_expect(ss_real.malloc == NULL, 0) && bootstrapping())
        return ss_bootstrap_alloc(n, 16);
    WRAP(SS_MALLOC, void*, ss_real.malloc(n));
}

void free(void* p) {
    if (p == NULL || ss_bootstrap_owns(p)) return;
    const int w = ss_enter(SS_FREE);
    ss_real.free(p);
    if (w) ss_leave();
}

void* calloc(size_t n, size_t size) {
    if (__builtin_expect(ss_real.calloc == NULL, 0) && bootstrapping()) {
        if (size != 0 && n > (size_t)-1 / size) return NULL;
        return ss_bootstrap_alloc(n * size, 16); /* the arena is zeroed and never reused */
    }
    WRAP(SS_CALLOC, void*, ss_real.calloc(n, size));
}

void* realloc(void* p, size_t n) {
    if (p != NULL && ss_bootstrap_owns(p)) {
        void* q = malloc(n);
        const size_t old = ss_bootstrap_size(p);
        if (q != NULL) memcpy(q, p, old < n ? old : n);
        return q;
    }
    if (__builtin_expect(ss_real.realloc == NULL, 0) && bootstrapping())
        return ss_bootstrap_alloc(n, 16);
    WRAP(SS_REALLOC, void*, ss_real.realloc(p, n));
}

int posix_memalign(void** out, size_t align, size_t n) {
    if (__builtin_expect(ss_real.posix_memalign == NULL, 0) && bootstrapping()) {
        *out = ss_bootstrap_alloc(n, align);
        return *out != NULL ? 0 : ENOMEM;
    }
    WRAP(SS_POSIX_MEMALIGN, int, ss_real.posix_memalign(out, align, n));
}

void* aligned_alloc(size_t align, size_t n) {
    if (__builtin_expect(ss_real.aligned_alloc == NULL, 0) && bootstrapping())
        return ss_bootstrap_alloc(n, align);
    WRAP(SS_ALIGNED_ALLOC, void*, ss_real.aligned_alloc(align, n));
}

void* memalign(size_t align, size_t n) {
    if (__builtin_expect(ss_real.memalign == NULL, 0) && bootstrapping())
        return ss_bootstrap_alloc(n, align);
    WRAP(SS_MEMALIGN, void*, ss_real.memalign(align, n));
}

/* ---- stdio -------------------------------------------------------------------------- */

/* A variadic function forwarded to its va_list twin. */
#define VA_WRAP(fn_id, last, call)      \
    do {                                \
        va_list ap;                     \
        va_start(ap, last);             \
        const int w_ = ss_enter(fn_id); \
        const int r_ = call;            \
        if (w_) ss_leave();             \
        va_end(ap);                     \
        return r_;                      \
    } while (0)

int printf(const char* fmt, ...) {
    VA_WRAP(SS_PRINTF, fmt, REAL(vprintf)(fmt, ap));
}
int fprintf(FILE* f, const char* fmt, ...) {
    VA_WRAP(SS_FPRINTF, fmt, REAL(vfprintf)(f, fmt, ap));
}
int dprintf(int fd, const char* fmt, ...) {
    VA_WRAP(SS_DPRINTF, fmt, REAL(vdprintf)(fd, fmt, ap));
}
int sprintf(char* s, const char* fmt, ...) {
    VA_WRAP(SS_SPRINTF, fmt, REAL(vsprintf)(s, fmt, ap));
}
int snprintf(char* s, size_t n, const char* fmt, ...) {
    VA_WRAP(SS_SNPRINTF, fmt, REAL(vsnprintf)(s, n, fmt, ap));
}
int vprintf(const char* fmt, va_list ap) {
    WRAP(SS_VPRINTF, int, REAL(vprintf)(fmt, ap));
}
int vfprintf(FILE* f, const char* fmt, va_list ap) {
    WRAP(SS_VFPRINTF, int, REAL(vfprintf)(f, fmt, ap));
}
int vdprintf(int fd, const char* fmt, va_list ap) {
    WRAP(SS_VDPRINTF, int, REAL(vdprintf)(fd, fmt, ap));
}
int vsprintf(char* s, const char* fmt, va_list ap) {
    WRAP(SS_VSPRINTF, int, REAL(vsprintf)(s, fmt, ap));
}
int vsnprintf(char* s, size_t n, const char* fmt, va_list ap) {
    WRAP(SS_VSNPRINTF, int, REAL(vsnprintf)(s, n, fmt, ap));
}

int __printf_chk(int flag, const char* fmt, ...) {
    VA_WRAP(SS_PRINTF, fmt, REAL(vprintf_chk)(flag, fmt, ap));
}
int __fprintf_chk(FILE* f, int flag, const char* fmt, ...) {
    VA_WRAP(SS_FPRINTF, fmt, REAL(vfprintf_chk)(f, flag, fmt, ap));
}
int __dprintf_chk(int fd, int flag, const char* fmt, ...) {
    VA_WRAP(SS_DPRINTF, fmt, REAL(vdprintf_chk)(fd, flag, fmt, ap));
}
int __sprintf_chk(char* s, int flag, size_t len, const char* fmt, ...) {
    VA_WRAP(SS_SPRINTF, fmt, REAL(vsprintf_chk)(s, flag, len, fmt, ap));
}
int __snprintf_chk(char* s, size_t n, int flag, size_t len, const char* fmt, ...) {
    VA_WRAP(SS_SNPRINTF, fmt, REAL(vsnprintf_chk)(s, n, flag, len, fmt, ap));
}
int __vprintf_chk(int flag, const char* fmt, va_list ap) {
    WRAP(SS_VPRINTF, int, REAL(vprintf_chk)(flag, fmt, ap));
}
int __vfprintf_chk(FILE* f, int flag, const char* fmt, va_list ap) {
    WRAP(SS_VFPRINTF, int, REAL(vfprintf_chk)(f, flag, fmt, ap));
}
int __vdprintf_chk(int fd, int flag, const char* fmt, va_list ap) {
    WRAP(SS_VDPRINTF, int, REAL(vdprintf_chk)(fd, flag, fmt, ap));
}
int __vsprintf_chk(char* s, int flag, size_t len, const char* fmt, va_list ap) {
    WRAP(SS_VSPRINTF, int, REAL(vsprintf_chk)(s, flag, len, fmt, ap));
}
int __vsnprintf_chk(char* s, size_t n, int flag, size_t len, const char* fmt, va_list ap) {
    WRAP(SS_VSNPRINTF, int, REAL(vsnprintf_chk)(s, n, flag, len, fmt, ap));
}

int puts(const char* s) {
    WRAP(SS_PUTS, int, REAL(puts)(s));
}
int fputs(const char* s, FILE* f) {
    WRAP(SS_FPUTS, int, REAL(fputs)(s, f));
}
int fputc(int c, FILE* f) {
    WRAP(SS_FPUTC, int, REAL(fputc)(c, f));
}
int putc(int c, FILE* f) {
    WRAP(SS_PUTC, int, REAL(putc)(c, f));
}
int putchar(int c) {
    WRAP(SS_PUTCHAR, int, REAL(putchar)(c));
}
size_t fwrite(const void* p, size_t size, size_t n, FILE* f) {
    WRAP(SS_FWRITE, size_t, REAL(fwrite)(p, size, n, f));
}
int fflush(FILE* f) {
    WRAP(SS_FFLUSH, int, REAL(fflush)(f));
}
FILE* fopen(const char* path, const char* mode) {
    WRAP(SS_FOPEN, FILE*, REAL(fopen)(path, mode));
}
int fclose(FILE* f) {
    WRAP(SS_FCLOSE, int, REAL(fclose)(f));
}
void perror(const char* s) {
    const int w = ss_enter(SS_PERROR);
    REAL(perror)(s);
    if (w) ss_leave();
}

/* ---- locks ---------------------------------------------------------------------------- */

typedef int (*mutex_fn)(pthread_mutex_t*);
typedef int (*cond_fn)(pthread_cond_t*);

int pthread_mutex_lock(pthread_mutex_t* m) {
    WRAP(SS_MUTEX_LOCK, int, ((mutex_fn)REAL(mutex_lock))(m));
}
int pthread_mutex_trylock(pthread_mutex_t* m) {
    WRAP(SS_MUTEX_TRYLOCK, int, ((mutex_fn)REAL(mutex_trylock))(m));
}
int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* t) {
    typedef int (*timed_fn)(pthread_mutex_t*, const struct timespec*);
    WRAP(SS_MUTEX_TIMEDLOCK, int, ((timed_fn)REAL(mutex_timedlock))(m, t));
}
int pthread_mutex_unlock(pthread_mutex_t* m) {
    WRAP(SS_MUTEX_UNLOCK, int, ((mutex_fn)REAL(mutex_unlock))(m));
}
int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
    typedef int (*wait_fn)(pthread_cond_t*, pthread_mutex_t*);
    WRAP(SS_COND_WAIT, int, ((wait_fn)REAL(cond_wait))(c, m));
}
int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t) {
    typedef int (*wait_fn)(pthread_cond_t*, pthread_mutex_t*, const struct timespec*);
    WRAP(SS_COND_TIMEDWAIT, int, ((wait_fn)REAL(cond_timedwait))(c, m, t));
}
int pthread_cond_signal(pthread_cond_t* c) {
    WRAP(SS_COND_SIGNAL, int, ((cond_fn)REAL(cond_signal))(c));
}
int pthread_cond_broadcast(pthread_cond_t* c) {
    WRAP(SS_COND_BROADCAST, int, ((cond_fn)REAL(cond_broadcast))(c));
}

/* ---- syslog, exit ------------------------------------------------------------------------ */

void syslog(int pri, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int w = ss_enter(SS_SYSLOG);
    REAL(vsyslog)(pri, fmt, ap);
    if (w) ss_leave();
    va_end(ap);
}
void vsyslog(int pri, const char* fmt, va_list ap) {
    const int w = ss_enter(SS_VSYSLOG);
    REAL(vsyslog)(pri, fmt, ap);
    if (w) ss_leave();
}
void __syslog_chk(int pri, int flag, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int w = ss_enter(SS_SYSLOG);
    REAL(vsyslog_chk)(pri, flag, fmt, ap);
    if (w) ss_leave();
    va_end(ap);
}
void __vsyslog_chk(int pri, int flag, const char* fmt, va_list ap) {
    const int w = ss_enter(SS_VSYSLOG);
    REAL(vsyslog_chk)(pri, flag, fmt, ap);
    if (w) ss_leave();
}

/* exit() runs atexit handlers and flushes stdio: _exit() is the safe one. */
void exit(int status) {
    ss_enter(SS_EXIT);
    REAL(exit)(status);
}

/* ---- sanitizer runtimes ---------------------------------------------------------------- */

static void on_sanitizer_malloc(const volatile void* p, size_t n) {
    (void)p, (void)n;
    ss_report_hooked(SS_MALLOC);
}

static void on_sanitizer_free(const volatile void* p) {
    (void)p;
    ss_report_hooked(SS_FREE);
}

void ss_install_sanitizer_hooks(void) {
    typedef int (*install_fn)(void (*)(const volatile void*, size_t),
                              void (*)(const volatile void*));
    install_fn install =
        (install_fn)dlsym(RTLD_DEFAULT, "__sanitizer_install_malloc_and_free_hooks");
    if (install != NULL) install(on_sanitizer_malloc, on_sanitizer_free);
}
