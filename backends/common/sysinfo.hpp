// The kernel's live limits and the process's privileges, as backends read
// them when validating a scenario or explaining themselves.
#pragma once

#include <cstdint>
#include <string>

namespace ipct {

// The first line of a /proc or /sys file as text, tabs turned into spaces;
// "?" if it cannot be read.
std::string proc_text(const char* path);

// The number at the start of a /proc or /sys file; fallback if there is none.
std::uint64_t proc_uint(const char* path, std::uint64_t fallback);

// Whether CAP_SYS_RESOURCE is in the effective set (/proc/self/status
// CapEff): the kernel waives several IPC limits for it.
bool has_cap_sys_resource();

}  // namespace ipct
