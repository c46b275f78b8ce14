#include "common/sysinfo.hpp"

#include <linux/capability.h>

#include <fstream>
#include <sstream>

namespace ipct {

std::string proc_text(const char* path) {
    std::ifstream in(path);
    std::string s;
    if (!in || !std::getline(in, s)) return "?";
    for (char& c : s)
        if (c == '\t') c = ' ';
    return s;
}

std::uint64_t proc_uint(const char* path, std::uint64_t fallback) {
    std::ifstream in(path);
    std::uint64_t v = 0;
    return in >> v ? v : fallback;
}

bool has_cap_sys_resource() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("CapEff:", 0) != 0) continue;
        std::uint64_t caps = 0;
        std::istringstream(line.substr(7)) >> std::hex >> caps;
        return (caps >> CAP_SYS_RESOURCE) & 1;
    }
    return false;
}

}  // namespace ipct
