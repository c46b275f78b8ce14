// MUTANT standard-signal (signal): a channel declared real-time -- every
// payload queued, none lost -- whose code sends and waits for SIGUSR1.
//
// The bug: sigqueue(pid, SIGUSR1, value) in place of
// sigqueue(pid, SIGRTMIN, value).  sigqueue() accepts a value with any
// signal, and the receiver gets it in si_value, so nothing fails; but a
// standard signal does not queue (signal(7)): while one instance is
// pending, the next is dropped although its sigqueue() succeeded.  The
// channel's contract is the declared one (real-time: lossless), so every
// payload dropped that way is lost once the reader has drained: it saw no
// writer left and no signal pending.
//
// The code that runs is the backend's own standard-signal path: the bug is
// only which signal it was given.
#include "signal/mutant_standard.hpp"

#include <string>

namespace ipct {

const MutantInfo& standard_signal_mutant() {
    static const MutantInfo m{
        "standard-signal",
        "a channel declared kind: realtime sends and waits for SIGUSR1 instead: a send while one "
        "is pending is dropped, so payloads are lost"};
    return m;
}

Options standard_signal_options(const Options& declared) {
    Options o = declared;
    o.erase("signals");
    o["kind"].text = "standard";  // THE BUG
    o["signal"].text = "SIGUSR1";
    return o;
}

void validate_standard_signal(const ChannelSpec& ch) {
    auto fail = [&](const std::string& what) {
        throw ScenarioError(ch.mutant_loc.file, ch.mutant_loc.line, ch.mutant_loc.column,
                            "mutant 'standard-signal' sends real-time payloads with a standard "
                            "signal; channel '" +
                                ch.name + "' " + what);
    };
    if (option_string(ch.options, "kind", "realtime") != "realtime")
        fail("is not declared kind: realtime; expected kind: realtime");
    if (option_uint(ch.options, "signals", 1, 1, 1024) != 1)
        fail(
            "uses several real-time signals; expected signals: 1 (one standard signal cannot "
            "stand for several)");
}

}  // namespace ipct
