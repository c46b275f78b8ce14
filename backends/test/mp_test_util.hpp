// Free helpers shared by the backend tests that fork workers: a close-on-exec
// pipe, fresh run directories, scenario options with a source location, and
// the looks at the process and the run directory that leak checks need.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "ipctorture/backend.hpp"

namespace ipct::mptest {

// Both ends close-on-exec; either end may be closed early, the rest closes
// with the object.
struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) IPCT_FAIL_ERRNO("pipe2");
        r = fds[0];
        w = fds[1];
    }
    ~Pipe() {
        close_r();
        close_w();
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void close_r() {
        if (r >= 0) ::close(r);
        r = -1;
    }
    void close_w() {
        if (w >= 0) ::close(w);
        w = -1;
    }
};

// A fresh directory $TMPDIR/<prefix>-XXXXXX (/tmp without TMPDIR).
inline std::string make_temp_dir(const std::string& prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) IPCT_FAIL_ERRNO("mkdtemp " + tmpl);
    return tmpl;
}

// Options as a scenario file would give them: the n-th key on line n of
// `file`, at `column`, so errors can be checked for where they point.
template <typename Value>
Options make_options(std::initializer_list<std::pair<const char*, Value>> kv,
                     const std::string& file, int column) {
    Options o;
    int line = 1;
    for (const auto& [k, v] : kv) o[k] = OptionValue{v, SourceLoc{file, line++, column}};
    return o;
}

// The names in a directory, sorted.
inline std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

// How many fds this process has open.
inline std::size_t open_fd_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

}  // namespace ipct::mptest
