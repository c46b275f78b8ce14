// Reading sanitizer reports back from workers' output (see sanitizer.hpp).
//
// What the runtimes print, as far as the parser relies on it (compiler-rt):
//   TSan  "WARNING: ThreadSanitizer: <kind> (pid=N)", stacks titled with two
//         spaces of indent and a colon ("  Write of size 8 at 0x.. by thread
//         T2:"), "  Thread T2 'name' (tid=.., running) created by main
//         thread at:", "SUMMARY: ThreadSanitizer: ...", a "=====" rule;
//   ASan  "==N==ERROR: AddressSanitizer: <kind> on address ..." (LSan and
//         ASan-reported SEGVs alike), "READ of size 4 at 0x.. thread T1",
//         "freed by thread T1 (name) here:", "Thread T1 (name) created by
//         T0 here:", "SUMMARY: AddressSanitizer: ...", then a shadow map;
//   UBSan "file:line:col: runtime error: <message>", frames when
//         print_stacktrace=1, "SUMMARY: UndefinedBehaviorSanitizer: ...".
// Frames: "#n 0xPC in func file:line:col" (ASan, UBSan) or "#n func
// file:line:col (module+0xoff)" (TSan); both become "#n func file:line:col".
#include "ipctorture/sanitizer.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>

namespace ipct {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}

bool ends_with(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Terminal colour sequences (ESC '[' ... letter): a runtime colours its
// output when it thinks stderr is a terminal.
std::string strip_ansi(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
            i += 2;
            while (i < s.size() && !std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
            continue;
        }
        out += s[i];
    }
    return out;
}

int parse_int(std::string_view s) {
    int v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

std::size_t digits_at(std::string_view s, std::size_t at) {
    std::size_t n = 0;
    while (at + n < s.size() && std::isdigit(static_cast<unsigned char>(s[at + n]))) ++n;
    return n;
}

struct Start {
    std::string tool, kind, location;
    int pid = 0;
};

// "(pid=N)" at the end of a TSan headline.
std::string_view cut_pid(std::string_view rest, int& pid) {
    const std::size_t at = rest.rfind(" (pid=");
    if (at == std::string_view::npos) return rest;
    pid = parse_int(rest.substr(at + 6));
    return rest.substr(0, at);
}

// The kind in an ASan-family headline: the words before the address.
std::string asan_kind(std::string_view rest) {
    for (std::string_view cut :
         {" on address", " on unknown address", " on 0x", " at pc", " (pid=", ": ", " (", " 0x"}) {
        if (const std::size_t at = rest.find(cut); at != std::string_view::npos)
            rest = rest.substr(0, at);
    }
    return std::string(trim(rest));
}

std::optional<Start> tsan_start(std::string_view line) {
    constexpr std::string_view kTag = "WARNING: ThreadSanitizer: ";
    const std::size_t at = line.find(kTag);
    if (at == std::string_view::npos) return std::nullopt;
    Start s;
    s.tool = "ThreadSanitizer";
    s.kind = std::string(trim(cut_pid(line.substr(at + kTag.size()), s.pid)));
    return s;
}

// "==1234==ERROR: AddressSanitizer: heap-use-after-free on address ...".
std::optional<Start> asan_start(std::string_view line) {
    const std::size_t at = line.find("==");
    if (at == std::string_view::npos) return std::nullopt;
    const std::size_t nd = digits_at(line, at + 2);
    if (nd == 0) return std::nullopt;
    std::string_view rest = line.substr(at + 2 + nd);
    if (!starts_with(rest, "==ERROR: ")) return std::nullopt;
    rest.remove_prefix(9);
    const std::size_t colon = rest.find(": ");
    if (colon == std::string_view::npos || !ends_with(rest.substr(0, colon), "Sanitizer"))
        return std::nullopt;
    Start s;
    s.tool = std::string(rest.substr(0, colon));
    s.kind = asan_kind(rest.substr(colon + 2));
    s.pid = parse_int(line.substr(at + 2, nd));
    return s;
}

// "file.cpp:12:5: runtime error: signed integer overflow: 2147483647 + 1 ...".
std::optional<Start> ubsan_start(std::string_view line) {
    constexpr std::string_view kTag = ": runtime error: ";
    const std::size_t at = line.find(kTag);
    if (at == std::string_view::npos) return std::nullopt;
    const std::string_view where = trim(line.substr(0, at));
    // The harness's own log lines are "[time] [name] ..."; a location is not.
    if (where.empty() || where.front() == '[') return std::nullopt;
    std::string_view msg = trim(line.substr(at + kTag.size()));
    if (const std::size_t c = msg.find(':'); c != std::string_view::npos) msg = msg.substr(0, c);
    Start s;
    s.tool = "UndefinedBehaviorSanitizer";
    s.kind = "runtime error: " + std::string(trim(msg));
    s.location = std::string(where);
    return s;
}

std::optional<Start> report_start(std::string_view line) {
    if (auto s = tsan_start(line)) return s;
    if (auto s = asan_start(line)) return s;
    return ubsan_start(line);
}

// TSan closes a report with a rule of 18 '=' (ASan opens one with 65).
bool report_end(std::string_view line, const std::string& tool) {
    const std::string_view t = trim(line);
    if (tool == "ThreadSanitizer" && t == "==================") return true;
    return starts_with(t, "SUMMARY: ") && t.find("Sanitizer") != std::string_view::npos;
}

// "/src/build/tsan/../../a.cpp" -> "/src/a.cpp": the runtimes print paths as
// the compiler saw them.
std::string collapse_dots(std::string f) {
    for (std::size_t at; (at = f.find("/../")) != std::string::npos;) {
        const std::size_t prev = at == 0 ? std::string::npos : f.rfind('/', at - 1);
        const std::size_t from = prev == std::string::npos ? 0 : prev;
        const std::string_view part(f.data() + from, at - from);
        if (prev == std::string::npos || part == "/.." || part.find(' ') != std::string_view::npos)
            break;
        f.erase(from, at + 3 - from);
    }
    return f;
}

// Whether the last word of a frame is a source location ("a.cpp:12").
bool has_line(std::string_view f) {
    const std::size_t sp = f.rfind(' ');
    const std::string_view last = sp == std::string_view::npos ? f : f.substr(sp + 1);
    for (std::size_t i = 0; i + 1 < last.size(); ++i)
        if (last[i] == ':' && std::isdigit(static_cast<unsigned char>(last[i + 1]))) return true;
    return false;
}

// "#3 0x55d0 in foo() a.cpp:1:2" / "#3 foo() a.cpp:1:2 (bin+0x12)" ->
// "#3 foo() a.cpp:1:2"; nullopt if the line is not a frame.
std::optional<std::string> frame_of(std::string_view line) {
    std::string_view t = trim(line);
    if (t.size() < 2 || t[0] != '#') return std::nullopt;
    const std::size_t nd = digits_at(t, 1);
    if (nd == 0 || (t.size() > 1 + nd && t[1 + nd] != ' ')) return std::nullopt;
    const std::string_view num = t.substr(0, 1 + nd);
    std::string_view rest = trim(t.substr(1 + nd));
    if (starts_with(rest, "0x")) {
        const std::size_t in = rest.find(" in ");
        const std::size_t sp = rest.find(' ');
        if (in != std::string_view::npos && in == sp) rest = rest.substr(in + 4);
    }
    if (const std::size_t b = rest.find(" (BuildId: "); b != std::string_view::npos)
        rest = trim(rest.substr(0, b));
    // The module and offset after a frame with a source line; one without
    // ("start_thread (libc.so.6+0x29d8f)", "<null> <null> (...)") keeps them.
    if (ends_with(rest, ")")) {
        const std::size_t open = rest.rfind(" (");
        if (open != std::string_view::npos && rest.find("+0x", open) != std::string_view::npos &&
            has_line(rest.substr(0, open)))
            rest = trim(rest.substr(0, open));
    }
    std::string f = std::string(num) + " " + std::string(rest);
    // "memcpy <null>": no source line known.
    for (std::size_t at; (at = f.find(" <null>")) != std::string::npos && at > num.size();)
        f.erase(at, 7);
    return collapse_dots(std::move(f));
}

// Whether a line inside a report titles the stack that follows.
bool is_title(std::string_view line) {
    if (line.empty() || trim(line).empty()) return false;
    const std::string_view t = trim(line);
    if (starts_with(line, "  ") && line.size() > 2 && line[2] != ' ' && ends_with(t, ":"))
        return true;  // TSan
    if (line.front() == ' ') return false;
    return starts_with(t, "READ of size") || starts_with(t, "WRITE of size") ||
           ends_with(t, " here:") ||
           ((starts_with(t, "Direct leak of") || starts_with(t, "Indirect leak of")) &&
            ends_with(t, ":"));
}

// After "T<n>" at `at` in s: a name given as " 'name'" (TSan) or " (name)"
// (ASan; TSan's " (tid=...)" is not a name).
std::string name_after(std::string_view s, std::size_t at) {
    std::string_view rest = s.substr(at);
    if (starts_with(rest, " '")) {
        const std::size_t e = rest.find('\'', 2);
        if (e != std::string_view::npos) return std::string(rest.substr(2, e - 2));
    }
    if (starts_with(rest, " (")) {
        const std::size_t e = rest.find(')', 2);
        const std::string_view name =
            e != std::string_view::npos ? rest.substr(2, e - 2) : std::string_view{};
        // TSan puts "(tid=.., running)" and "(mutexes: write M1)" there.
        if (name.find('=') == std::string_view::npos && name.find(':') == std::string_view::npos)
            return std::string(name);
    }
    return {};
}

// The first thread id named after `from` in s ("T3"; "main thread" is T0),
// with the name printed beside it, if any.
std::pair<std::string, std::string> thread_in(std::string_view s, std::size_t from = 0) {
    for (std::size_t at = s.find('T', from); at != std::string_view::npos;
         at = s.find('T', at + 1)) {
        const bool word = at == 0 || s[at - 1] == ' ';
        const std::size_t nd = digits_at(s, at + 1);
        if (!word || nd == 0) continue;
        return {std::string(s.substr(at, 1 + nd)), name_after(s, at + 1 + nd)};
    }
    if (s.find("main thread", from) != std::string_view::npos) return {"T0", {}};
    return {};
}

class Parser {
  public:
    std::vector<SanitizerReport> run(std::string_view text) {
        std::size_t at = 0;
        while (at < text.size() && out_.size() < kSanitizerMaxReports) {
            std::size_t nl = text.find('\n', at);
            if (nl == std::string_view::npos) nl = text.size();
            line(strip_ansi(text.substr(at, nl - at)));
            at = nl + 1;
        }
        if (open_) close(true);
        return std::move(out_);
    }

  private:
    void line(const std::string& l) {
        if (auto s = report_start(l)) {
            if (open_) close(true);
            start(*s, l);
            return;
        }
        if (!open_) return;
        if (report_end(l, cur_.tool)) {
            close(false);
            return;
        }
        if (auto f = frame_of(l)) {
            frame(std::move(*f));
        } else if (is_title(l)) {
            title(std::string(trim(l)));
        }
        // Anything else inside a report (a blank line, "Location is global
        // ...", another thread's log line) is skipped.
    }

    void start(const Start& s, const std::string& l) {
        cur_ = SanitizerReport{};
        cur_.tool = s.tool;
        cur_.kind = s.kind;
        cur_.location = s.location;
        cur_.pid = s.pid;
        cur_.headline = std::string(trim(l));
        open_ = true;
        sink_ = false;
        // ASan's access line may carry a thread; TSan's headline does not.
    }

    void close(bool truncated) {
        cur_.truncated = truncated;
        out_.push_back(std::move(cur_));
        cur_ = SanitizerReport{};
        open_ = false;
    }

    void note_thread(const std::string& id, const std::string& name) {
        if (id.empty() || name.empty()) return;
        for (auto& [i, n] : cur_.threads)
            if (i == id) return;
        cur_.threads.emplace_back(id, name);
    }

    void title(std::string t) {
        if (starts_with(t, "Thread T")) {
            // A thread's creation stack: only its name matters.
            auto [id, name] = thread_in(t, 0);
            note_thread(id, name);
            sink_ = true;
            return;
        }
        sink_ = cur_.stacks.size() >= kSanitizerMaxStacks;
        if (sink_) return;
        SanitizerStack st;
        // "by thread T1" in TSan, "thread T1 (name)" in ASan.
        const std::size_t by = t.find("thread ");
        auto [id, name] =
            by != std::string::npos ? thread_in(t, by) : std::pair<std::string, std::string>{};
        if (id.empty() && t.find("main thread") != std::string::npos) id = "T0";
        note_thread(id, name);
        st.thread = id;
        if (ends_with(t, ":")) t.pop_back();
        st.title = std::move(t);
        cur_.stacks.push_back(std::move(st));
    }

    void frame(std::string f) {
        if (sink_) return;
        // A stack with no title (UBSan's, TSan's signal-unsafe call), or a
        // new one after the last: "#0" starts it.
        if (cur_.stacks.empty() || (starts_with(f, "#0 ") && !cur_.stacks.back().frames.empty())) {
            if (cur_.stacks.size() >= kSanitizerMaxStacks) {
                sink_ = true;
                return;
            }
            cur_.stacks.emplace_back();
        }
        auto& frames = cur_.stacks.back().frames;
        if (frames.size() < kSanitizerMaxFrames) frames.push_back(std::move(f));
    }

    std::vector<SanitizerReport> out_;
    SanitizerReport cur_;
    bool open_ = false;
    bool sink_ = false;  // frames that follow are not kept
};

constexpr std::string_view kThreadPrefix = "ipct-p";

std::string read_capped(const std::string& path) {
    // A worker that logs without end should not exhaust the checker.
    constexpr std::uintmax_t kMax = std::uintmax_t{64} << 20;
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec || size == 0) return {};
    std::ifstream in(path, std::ios::binary);
    std::string s(static_cast<std::size_t>(std::min(size, kMax)), '\0');
    in.read(s.data(), static_cast<std::streamsize>(s.size()));
    s.resize(static_cast<std::size_t>(in.gcount()));
    return s;
}

}  // namespace

std::vector<SanitizerReport> parse_sanitizer_output(std::string_view text) {
    return Parser().run(text);
}

std::string sanitizer_thread_name(std::uint32_t process) {
    return std::string(kThreadPrefix) + std::to_string(process);
}

std::uint32_t process_of_thread_name(std::string_view name) {
    if (!starts_with(name, kThreadPrefix)) return kNoSanitizerProcess;
    const std::string_view num = name.substr(kThreadPrefix.size());
    if (num.empty() || digits_at(num, 0) != num.size() || num.size() > 9)
        return kNoSanitizerProcess;
    return static_cast<std::uint32_t>(parse_int(num));
}

void attribute_sanitizer_reports(std::vector<SanitizerReport>& reports, std::uint32_t process,
                                 std::uint32_t nprocs) {
    for (SanitizerReport& r : reports) {
        r.output_of.clear();
        r.processes.clear();
        if (process != kNoSanitizerProcess) {
            r.output_of.push_back(process);
        } else {
            for (std::uint32_t p = 0; p < nprocs; ++p) r.output_of.push_back(p);
        }
        auto add = [&](std::uint32_t p) {
            if (std::find(r.processes.begin(), r.processes.end(), p) == r.processes.end())
                r.processes.push_back(p);
        };
        for (SanitizerStack& st : r.stacks) {
            st.process = process;
            if (process == kNoSanitizerProcess) {
                for (const auto& [id, name] : r.threads)
                    if (id == st.thread) st.process = process_of_thread_name(name);
                if (st.process >= nprocs) st.process = kNoSanitizerProcess;
            }
            if (st.process != kNoSanitizerProcess) add(st.process);
        }
        if (process != kNoSanitizerProcess) add(process);
    }
}

std::vector<SanitizerReport> read_sanitizer_reports(const std::string& run_dir,
                                                    std::uint32_t nprocs) {
    std::vector<SanitizerReport> all;
    auto take = [&](const std::string& path, std::uint32_t process) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) return;
        std::vector<SanitizerReport> v = parse_sanitizer_output(read_capped(path));
        attribute_sanitizer_reports(v, process, nprocs);
        for (auto& r : v) all.push_back(std::move(r));
    };
    for (std::uint32_t p = 0; p < nprocs; ++p)
        take(run_dir + "/worker." + std::to_string(p) + ".log", p);
    take(run_dir + "/" + kThreadsWorkerLog, kNoSanitizerProcess);
    return all;
}

}  // namespace ipct
