/* Handler installation and the trampoline (see sigsafe.h).
 *
 * sigaction() installs the trampoline in place of any handler (SIG_DFL and
 * SIG_IGN pass through untouched) and keeps the user's handler in a
 * per-signal slot; the old action it returns names the user's handler, never
 * the trampoline.  The trampoline always asks for SA_SIGINFO and calls the
 * user's handler with (signo, info, ucontext): exactly the registers the
 * kernel sets up for any handler on Linux, so a one-argument handler sees no
 * difference.  Masks and the other flags are the user's.
 *
 * signal(), bsd_signal(), sysv_signal(), sigset() and siginterrupt() are
 * wrapped too: glibc implements them with internal calls that would bypass
 * the sigaction() wrapper. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "sigsafe.h"

struct ss_real ss_real;
__thread struct ss_thread ss_tls __attribute__((tls_model("initial-exec")));

/* ---- bootstrap ------------------------------------------------------------- */

/* dlsym may allocate (its error state), and the allocation reaches our own
 * malloc before the real one is known: it is served from here.  free() of
 * these blocks is a no-op. */
static _Alignas(64) unsigned char arena[64 * 1024];
static atomic_size_t arena_used;
static atomic_int resolving;
static atomic_int resolved;

void* ss_bootstrap_alloc(size_t size, size_t align) {
    if (align < 16) align = 16;
    /* A 16-byte header before each block keeps its size, for realloc. */
    const size_t need = ((size + 16 + align - 1) / align + 1) * align;
    const size_t at = atomic_fetch_add(&arena_used, need);
    if (at + need > sizeof arena) return NULL;
    uintptr_t p = (uintptr_t)(arena + at) + 16;
    p = (p + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t*)p)[-1] = size;
    return (void*)p;
}

int ss_bootstrap_owns(const void* p) {
    return (const unsigned char*)p >= arena && (const unsigned char*)p < arena + sizeof arena;
}

size_t ss_bootstrap_size(const void* p) {
    return ((const size_t*)p)[-1];
}

int ss_resolving(void) {
    return atomic_load(&resolving);
}

#define SS_NEXT(field, name) ss_real.field = (__typeof__(ss_real.field))dlsym(RTLD_NEXT, name)

static void resolve_alloc(void) {
    SS_NEXT(malloc, "malloc");
    SS_NEXT(free, "free");
    SS_NEXT(calloc, "calloc");
    SS_NEXT(realloc, "realloc");
    SS_NEXT(posix_memalign, "posix_memalign");
    SS_NEXT(aligned_alloc, "aligned_alloc");
    SS_NEXT(memalign, "memalign");
}

static void resolve_stdio(void) {
    SS_NEXT(vprintf, "vprintf");
    SS_NEXT(vfprintf, "vfprintf");
    SS_NEXT(vdprintf, "vdprintf");
    SS_NEXT(vsprintf, "vsprintf");
    SS_NEXT(vsnprintf, "vsnprintf");
    SS_NEXT(vprintf_chk, "__vprintf_chk");
    SS_NEXT(vfprintf_chk, "__vfprintf_chk");
    SS_NEXT(vdprintf_chk, "__vdprintf_chk");
    SS_NEXT(vsprintf_chk, "__vsprintf_chk");
    SS_NEXT(vsnprintf_chk, "__vsnprintf_chk");
    SS_NEXT(puts, "puts");
    SS_NEXT(fputs, "fputs");
    SS_NEXT(fputc, "fputc");
    SS_NEXT(putc, "putc");
    SS_NEXT(putchar, "putchar");
    SS_NEXT(fwrite, "fwrite");
    SS_NEXT(fflush, "fflush");
    SS_NEXT(fopen, "fopen");
    SS_NEXT(fclose, "fclose");
    SS_NEXT(perror, "perror");
}

static void resolve_rest(void) {
    SS_NEXT(sigaction, "sigaction");
    SS_NEXT(sigprocmask, "sigprocmask");
    SS_NEXT(mutex_lock, "pthread_mutex_lock");
    SS_NEXT(mutex_trylock, "pthread_mutex_trylock");
    SS_NEXT(mutex_timedlock, "pthread_mutex_timedlock");
    SS_NEXT(mutex_unlock, "pthread_mutex_unlock");
    SS_NEXT(cond_wait, "pthread_cond_wait");
    SS_NEXT(cond_timedwait, "pthread_cond_timedwait");
    SS_NEXT(cond_signal, "pthread_cond_signal");
    SS_NEXT(cond_broadcast, "pthread_cond_broadcast");
    SS_NEXT(vsyslog, "vsyslog");
    SS_NEXT(vsyslog_chk, "__vsyslog_chk");
    SS_NEXT(exit, "exit");
}

/* Runs before main (the constructor) or at the first wrapped call, whichever
 * comes first; both happen before any handler can be installed through us. */
void ss_resolve(void) {
    if (atomic_load(&resolved)) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&resolving, &expected, 1)) return;
    resolve_alloc();
    resolve_stdio();
    resolve_rest();
    atomic_store(&resolved, 1);
    atomic_store(&resolving, 0);
}

/* ---- the trampoline ---------------------------------------------------------- */

typedef void (*ss_handler3)(int, siginfo_t*, void*);

/* The user's handler per signal, and whether the user asked for SA_SIGINFO
 * (only to report the old action as it was set). */
struct ss_slot {
    _Atomic(uintptr_t) fn;
    atomic_int siginfo;
};
static struct ss_slot slots[_NSIG];

int ss_in_handler(uintptr_t sp) {
    struct ss_thread* t = &ss_tls;
    while (t->depth > 0) {
        const unsigned d = t->depth - 1;
        if (d >= SS_MAX_DEPTH || sp < t->level[d].frame) return 1;
        /* The handler's trampoline frame is below us: it was left with
         * siglongjmp and never returned. */
        t->wrap = t->level[d].wrap;
        t->depth = d;
    }
    return 0;
}

static void trampoline(int signo, siginfo_t* info, void* uc) {
    const int before = errno;
    struct ss_thread* t = &ss_tls;
    const uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    ss_in_handler(frame);
    const unsigned d = t->depth;
    const uintptr_t fn = atomic_load_explicit(&slots[signo].fn, memory_order_acquire);
    if (d < SS_MAX_DEPTH) {
        t->level[d].frame = frame;
        t->level[d].handler = fn;
        t->level[d].signo = signo;
        t->level[d].wrap = t->wrap;
    }
    const unsigned wrap = t->wrap;
    t->wrap = 0;
    t->depth = d + 1;
    if (fn != 0) ((ss_handler3)fn)(signo, info, uc);
    const int after = errno;
    t->wrap = wrap;
    t->depth = d;
    if (after != before) ss_report_errno(signo, d + 1, before, after, fn);
}

/* ---- sigaction and friends ------------------------------------------------------ */

static int special(void (*h)(int)) {
    return h == SIG_DFL || h == SIG_IGN;
}

static int ss_sigaction(int signo, const struct sigaction* act, struct sigaction* old) {
    if (ss_real.sigaction == NULL) ss_resolve();
    if (signo <= 0 || signo >= _NSIG) return ss_real.sigaction(signo, act, old);
    struct ss_slot* s = &slots[signo];
    const uintptr_t prev_fn = atomic_load(&s->fn);
    const int prev_info = atomic_load(&s->siginfo);
    struct sigaction mine;
    const struct sigaction* use = act;
    if (act != NULL && !special(act->sa_handler)) {
        mine = *act;
        mine.sa_sigaction = trampoline;
        mine.sa_flags |= SA_SIGINFO;
        atomic_store(&s->siginfo, (act->sa_flags & SA_SIGINFO) != 0);
        atomic_store_explicit(&s->fn, (uintptr_t)act->sa_sigaction, memory_order_release);
        use = &mine;
    }
    const int r = ss_real.sigaction(signo, use, old);
    if (r != 0) {
        const int e = errno;
        atomic_store(&s->siginfo, prev_info);
        atomic_store(&s->fn, prev_fn);
        errno = e;
        return r;
    }
    if (old != NULL && old->sa_sigaction == trampoline) {
        old->sa_sigaction = (ss_handler3)prev_fn;
        if (!prev_info) old->sa_flags &= ~SA_SIGINFO;
    }
    return r;
}

int sigaction(int signo, const struct sigaction* act, struct sigaction* old) {
    return ss_sigaction(signo, act, old);
}

/* Signals siginterrupt() made interrupting (glibc keeps its own set, which
 * our signal() cannot see). */
static sigset_t interrupting;

static sighandler_t install(int signo, sighandler_t h, int flags, int mask_self) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    sigemptyset(&act.sa_mask);
    if (mask_self && signo > 0 && signo < _NSIG) sigaddset(&act.sa_mask, signo);
    act.sa_flags = flags;
    if (ss_sigaction(signo, &act, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

/* BSD semantics, as glibc's signal(): restart, the signal blocked in its
 * handler. */
sighandler_t signal(int signo, sighandler_t h) {
    const int restart = signo > 0 && signo < _NSIG && !sigismember(&interrupting, signo);
    return install(signo, h, restart ? SA_RESTART : 0, 1);
}

sighandler_t bsd_signal(int signo, sighandler_t h) {
    return signal(signo, h);
}

/* System V semantics: reset to the default on delivery, not blocked.  Strict
 * standard modes (-std=c11 without _DEFAULT_SOURCE) map signal() to
 * __sysv_signal. */
sighandler_t sysv_signal(int signo, sighandler_t h) {
    return install(signo, h, SA_RESETHAND | SA_NODEFER, 0);
}

sighandler_t __sysv_signal(int signo, sighandler_t h) {
    return sysv_signal(signo, h);
}

int siginterrupt(int signo, int interrupt) {
    struct sigaction act;
    if (ss_sigaction(signo, NULL, &act) != 0) return -1;
    if (interrupt) {
        sigaddset(&interrupting, signo);
        act.sa_flags &= ~SA_RESTART;
    } else {
        sigdelset(&interrupting, signo);
        act.sa_flags |= SA_RESTART;
    }
    return ss_sigaction(signo, &act, NULL);
}

sighandler_t sigset(int signo, sighandler_t h) {
    if (ss_real.sigprocmask == NULL) ss_resolve();
    sigset_t one, was;
    if (sigemptyset(&one) != 0 || sigaddset(&one, signo) != 0) return SIG_ERR;
    struct sigaction old;
    if (h == SIG_HOLD) {
        if (ss_real.sigprocmask(SIG_BLOCK, &one, &was) != 0) return SIG_ERR;
        if (ss_sigaction(signo, NULL, &old) != 0) return SIG_ERR;
        return sigismember(&was, signo) ? SIG_HOLD : old.sa_handler;
    }
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    sigemptyset(&act.sa_mask);
    if (ss_sigaction(signo, &act, &old) != 0) return SIG_ERR;
    if (ss_real.sigprocmask(SIG_UNBLOCK, &one, &was) != 0) return SIG_ERR;
    return sigismember(&was, signo) ? SIG_HOLD : old.sa_handler;
}

__attribute__((constructor)) static void ss_init(void) {
    ss_resolve();
    ss_report_init();
    ss_install_sanitizer_hooks();
}
