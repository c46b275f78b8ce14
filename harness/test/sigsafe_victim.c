/* A small program that is not ipctorture, for the signal-safety interposer's
 * tests (sigsafe_mp_test.cpp): it installs a handler, raises the signal and
 * exits 0, or exits with a status > 1 naming what went wrong.  The first
 * argument says what the handler does.  Plain C, none of the harness. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught;
static void* volatile kept;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sigjmp_buf escape;

static void on_usr1_printf(int signo) {
    printf("caught signal %d\n", signo);
    caught = caught + 1;
}

/* Only write(2) and a sig_atomic_t, errno saved: what a handler may do. */
static void on_usr1_safe(int signo) {
    const int saved = errno;
    (void)signo;
    caught = caught + 1;
    if (write(STDOUT_FILENO, "caught\n", 7) < 0) caught = -1;
    errno = saved;
}

/* close(-1) fails with EBADF, and errno is not restored. */
static void on_usr1_errno(int signo) {
    (void)signo;
    close(-1);
    caught = caught + 1;
}

static void on_usr1_malloc(int signo, siginfo_t* info, void* uc) {
    (void)info, (void)uc;
    kept = malloc(64 + (size_t)signo);
    free(kept);
    caught = caught + 1;
}

static void on_usr1_lock(int signo) {
    (void)signo;
    pthread_mutex_lock(&lock);
    caught = caught + 1;
    pthread_mutex_unlock(&lock);
}

/* SIGUSR1's handler raises SIGUSR2, whose handler allocates: depth 2. */
static void on_usr2_malloc(int signo) {
    kept = malloc(32 + (size_t)signo);
    free(kept);
}
static void on_usr1_nest(int signo) {
    (void)signo;
    raise(SIGUSR2);
    caught = caught + 1;
}

static void on_usr1_jump(int signo) {
    (void)signo;
    caught = caught + 1;
    siglongjmp(escape, 1);
}

/* Installed with System V's sigset(). */
static void on_usr1_puts(int signo) {
    (void)signo;
    puts("caught");
    caught = caught + 1;
}

/* Allocates and prints while the main thread's safe handler runs: nothing
 * of this thread's may be reported. */
static volatile int stop;
static void* busy(void* arg) {
    (void)arg;
    FILE* null = fopen("/dev/null", "w");
    while (!stop) {
        kept = malloc(128);
        fprintf(null, "%p\n", kept);
        free(kept);
    }
    fclose(null);
    return NULL;
}

static int install(int signo, void (*h)(int), int siginfo) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    if (siginfo)
        sa.sa_sigaction = (void (*)(int, siginfo_t*, void*))(void*)h;
    else
        sa.sa_handler = h;
    sa.sa_flags = siginfo ? SA_SIGINFO : 0;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0) return 0;
    /* The old action must name the program's own handler and flags. */
    if (sigaction(signo, NULL, &old) != 0 || (void*)old.sa_handler != (void*)h) return 0;
    return ((old.sa_flags & SA_SIGINFO) != 0) == (siginfo != 0);
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
    const int times = argc > 2 ? atoi(argv[2]) : 3;
    void (*h)(int) = NULL;
    int siginfo = 0;
    if (strcmp(mode, "printf") == 0) h = on_usr1_printf;
    if (strcmp(mode, "safe") == 0) h = on_usr1_safe;
    if (strcmp(mode, "errno") == 0) h = on_usr1_errno;
    if (strcmp(mode, "malloc") == 0) h = (void (*)(int))(void*)on_usr1_malloc, siginfo = 1;
    if (strcmp(mode, "lock") == 0) h = on_usr1_lock;
    if (strcmp(mode, "nest") == 0) h = on_usr1_nest;
    if (strcmp(mode, "jump") == 0) h = on_usr1_jump;
    if (strcmp(mode, "threads") == 0) h = on_usr1_safe;
    if (strcmp(mode, "sigset") == 0) {
/* Deprecated, and still what old programs call. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        if (sigset(SIGUSR1, on_usr1_puts) != SIG_DFL ||
            sigset(SIGUSR1, on_usr1_puts) != on_usr1_puts)
            return 3; /* sigset() must return the old disposition */
#pragma GCC diagnostic pop
    } else if (h == NULL) {
        return 2;
    } else if (!install(SIGUSR1, h, siginfo)) {
        return 3;
    }
    pthread_t thread;
    if (strcmp(mode, "threads") == 0 && pthread_create(&thread, NULL, busy, NULL) != 0) return 7;
    if (strcmp(mode, "nest") == 0 && signal(SIGUSR2, on_usr2_malloc) == SIG_ERR) return 4;
    if (signal(SIGUSR2, SIG_DFL) != (strcmp(mode, "nest") == 0 ? on_usr2_malloc : SIG_DFL))
        return 5; /* signal() must return the old handler too */
    if (strcmp(mode, "nest") == 0) signal(SIGUSR2, on_usr2_malloc);
    for (volatile int i = 0; i < times; ++i) {
        if (strcmp(mode, "jump") == 0 && sigsetjmp(escape, 1) != 0) continue;
        raise(SIGUSR1);
    }
    if (strcmp(mode, "threads") == 0) {
        stop = 1;
        pthread_join(thread, NULL);
    }
    /* Outside any handler now: none of this may be reported. */
    kept = malloc(100);
    free(kept);
    printf("done, %d caught\n", (int)caught);
    fflush(stdout);
    return caught == times ? 0 : 6;
}
