// PLANTED BUGS (the zoo), see mutant_handler.hpp.  Each is a mistake seen in
// real handlers: a debugging trace printed from the handler, a heap copy of
// the last siginfo kept for later, and children reaped without saving errno.
#include "mutant_handler.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace ipct {

namespace {

SignalHandlerFn g_correct = nullptr;

// handler-printf: stdio takes the stream's lock and may allocate; a handler
// that interrupts another stdio call on the same stream deadlocks or
// corrupts its buffer.
extern "C" void mutant_printf_handler(int signo, siginfo_t* info, void* uc) {
    g_correct(signo, info, uc);
    std::printf("signal %d, value %#llx\n", signo,
                static_cast<unsigned long long>(
                    reinterpret_cast<std::uintptr_t>(info->si_value.sival_ptr)));
}

// handler-malloc: the allocator's locks are not reentrant; a signal that
// lands inside malloc() deadlocks here or corrupts the heap.
siginfo_t* g_last = nullptr;

extern "C" void mutant_malloc_handler(int signo, siginfo_t* info, void* uc) {
    g_correct(signo, info, uc);
    delete g_last;
    g_last = new siginfo_t(*info);
}

// handler-errno: waitpid() fails with ECHILD (this process has no children)
// and the handler returns with errno changed under the code it interrupted,
// which may be between a failed call and its errno check.
extern "C" void mutant_errno_handler(int signo, siginfo_t* info, void* uc) {
    g_correct(signo, info, uc);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

struct HandlerMutant {
    const char* name;
    const char* summary;
    SignalHandlerFn handler;
};

const HandlerMutant kMutants[] = {
    {"handler-printf",
     "the receive handler prints each signal with printf (stdio is not async-signal-safe); needs "
     "receive: handler; expect signal_safety under the interposer (sigsafe: true)",
     mutant_printf_handler},
    {"handler-malloc",
     "the receive handler keeps a heap copy of the last siginfo (new/delete in a handler); needs "
     "receive: handler; expect signal_safety under the interposer (sigsafe: true)",
     mutant_malloc_handler},
    {"handler-errno",
     "the receive handler reaps children with waitpid and does not restore errno (ECHILD); "
     "needs receive: handler; expect signal_safety under the interposer (sigsafe: true)",
     mutant_errno_handler},
};

}  // namespace

std::vector<MutantInfo> handler_mutants() {
    std::vector<MutantInfo> v;
    for (const HandlerMutant& m : kMutants) v.push_back({m.name, m.summary});
    return v;
}

bool is_handler_mutant(const std::string& name) {
    return std::any_of(std::begin(kMutants), std::end(kMutants),
                       [&](const HandlerMutant& m) { return name == m.name; });
}

SignalHandlerFn handler_for_mutant(const std::string& name, SignalHandlerFn correct) {
    for (const HandlerMutant& m : kMutants) {
        if (name != m.name) continue;
        g_correct = correct;
        return m.handler;
    }
    return correct;
}

}  // namespace ipct
