// The signals a signaler may send.  A target installs a counting handler
// for the signal, so the signal must be one that can be caught and whose
// delivery has no effect beyond the handler; the harness's own signals are
// refused.
#include <signal.h>

#include <string>
#include <string_view>

#include "ipctorture/scenario.hpp"

namespace ipct {
namespace {

struct Named {
    std::string_view name;
    int sig;
};

// Sendable: catchable, not used by the harness, no side effect once caught.
constexpr Named kAllowed[] = {
    {"SIGUSR1", SIGUSR1},     {"SIGUSR2", SIGUSR2}, {"SIGHUP", SIGHUP},   {"SIGALRM", SIGALRM},
    {"SIGWINCH", SIGWINCH},   {"SIGURG", SIGURG},   {"SIGIO", SIGIO},     {"SIGPROF", SIGPROF},
    {"SIGVTALRM", SIGVTALRM}, {"SIGTTIN", SIGTTIN}, {"SIGTTOU", SIGTTOU}, {"SIGTSTP", SIGTSTP},
    {"SIGQUIT", SIGQUIT},     {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ}, {"SIGPWR", SIGPWR},
};

struct Refused {
    std::string_view name;
    const char* why;
};

constexpr Refused kRefused[] = {
    {"SIGKILL", "it cannot be caught"},
    {"SIGSTOP", "it cannot be caught"},
    {"SIGCONT", "it resumes a stopped process even when caught"},
    {"SIGPIPE", "workers ignore it (a broken pipe is a recorded EPIPE), so it interrupts nothing"},
    {"SIGINT", "the harness stops a run on it"},
    {"SIGTERM", "the harness stops a run on it"},
    {"SIGCHLD", "the harness waits for its workers with it"},
    {"SIGSEGV", "it reports a crash (and sanitizers use it)"},
    {"SIGBUS", "it reports a crash"},
    {"SIGFPE", "it reports a crash"},
    {"SIGILL", "it reports a crash"},
    {"SIGABRT", "it reports a crash (abort, failed assertions, sanitizers)"},
    {"SIGTRAP", "debuggers use it"},
    {"SIGSYS", "seccomp reports with it"},
};

std::string allowed_list() {
    std::string s;
    for (const Named& n : kAllowed) s += (s.empty() ? "" : ", ") + std::string(n.name);
    return s;
}

}  // namespace

std::optional<int> signaler_signal(const std::string& name, std::string* why) {
    const std::string full = name.rfind("SIG", 0) == 0 ? name : "SIG" + name;
    for (const Named& n : kAllowed)
        if (n.name == full) return n.sig;
    std::string reason = "expected a signal name (one of: " + allowed_list() + ")";
    for (const Refused& r : kRefused)
        if (r.name == full) reason = "a signaler cannot send " + full + ": " + r.why;
    if (full.rfind("SIGRT", 0) == 0)
        reason =
            "a signaler cannot send real-time signals: the signal backend and the C library "
            "use them";
    if (why) *why = reason + "; got '" + name + "'";
    return std::nullopt;
}

const char* signal_name(int sig) {
    for (const Named& n : kAllowed)
        if (n.sig == sig) return n.name.data();
    return "?";
}

}  // namespace ipct
