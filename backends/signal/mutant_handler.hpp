// Planted bugs in the signal backend's receive handler (receive: handler),
// for the zoo: handlers that do what a signal handler must not.  Each one
// runs the correct handler first, so the messages still arrive intact; only
// the signal-safety interposer can tell (a `signal_safety` finding).
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "ipctorture/backend.hpp"

namespace ipct {

using SignalHandlerFn = void (*)(int, siginfo_t*, void*);

// handler-printf, handler-malloc, handler-errno.
std::vector<MutantInfo> handler_mutants();
bool is_handler_mutant(const std::string& name);

// The handler to install for mutant `name`, which calls `correct` and then
// misbehaves; `correct` itself when name is not a handler mutant.
SignalHandlerFn handler_for_mutant(const std::string& name, SignalHandlerFn correct);

}  // namespace ipct
