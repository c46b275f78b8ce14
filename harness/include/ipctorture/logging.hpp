// Logging: one named spdlog logger per process kind, created after fork/exec
// at the top of each process's main.  Level from SPDLOG_LEVEL (default warn);
// the pid is in every line.  Never on hot paths; records for the checker go
// to the event log, never through logging.
#pragma once

#include <string>

namespace ipct {
void init_logging(const std::string& name);
}
