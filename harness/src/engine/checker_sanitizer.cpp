// Sanitizer reports as findings.  Each report read from a worker's output
// (sanitizer.hpp) is one `sanitizer` finding, attributed to the processes
// its stacks ran in; and every process whose output held a report is marked,
// so that the end the runtime gives it (its exit code, an abort) is not
// reported a second time as an unexplained crash.
#include <string>
#include <string_view>

#include "checker_detail.hpp"

namespace ipct::check_detail {

namespace {

// Frames of the runtime's own interceptors say where, not who: the summary
// line names the first frame past them.
bool interceptor(std::string_view frame) {
    const std::size_t sp = frame.find(' ');
    const std::string_view fn = sp == std::string_view::npos ? frame : frame.substr(sp + 1);
    for (std::string_view p : {"__tsan", "__asan", "__interceptor", "__sanitizer", "__ubsan",
                               "memcpy", "memmove", "memset", "__memcpy", "__memmove"})
        if (fn.substr(0, p.size()) == p) return true;
    return false;
}

// The last two parts of a qualified name, "::" inside <> or () ignored.
std::string_view last_parts(std::string_view fn) {
    int depth = 0;
    std::size_t cuts[2] = {0, 0};
    for (std::size_t i = 0; i + 1 < fn.size(); ++i) {
        const char c = fn[i];
        if (c == '<' || c == '(') ++depth;
        if ((c == '>' || c == ')') && depth > 0) --depth;
        if (depth == 0 && c == ':' && fn[i + 1] == ':') {
            cuts[0] = cuts[1];
            cuts[1] = i + 2;
        }
    }
    return fn.substr(cuts[0]);
}

// "#1 ipct::shm::(anonymous namespace)::RingEndpoint::put(SlotHead*, ...)
// /src/backends/shm/shm_ring.cpp:65:9" -> "RingEndpoint::put (shm_ring.cpp:65:9)".
std::string short_frame(std::string_view f) {
    if (const std::size_t sp = f.find(' '); sp != std::string_view::npos) f = f.substr(sp + 1);
    std::string_view fn = f, loc;
    if (const std::size_t sp = f.rfind(' ');
        sp != std::string_view::npos && f.find(':', sp) != std::string_view::npos) {
        fn = f.substr(0, sp);
        loc = f.substr(sp + 1);
        if (const std::size_t slash = loc.rfind('/'); slash != std::string_view::npos)
            loc = loc.substr(slash + 1);
    }
    if (fn.ends_with(" const")) fn.remove_suffix(6);
    if (fn.ends_with(")")) {
        int depth = 0;
        for (std::size_t i = fn.size(); i-- > 0;) {
            if (fn[i] == ')') ++depth;
            if (fn[i] == '(' && --depth == 0) {
                fn = fn.substr(0, i);
                break;
            }
        }
    }
    std::string out(last_parts(fn));
    if (!loc.empty()) out += " (" + std::string(loc) + ")";
    return out;
}

std::string where(const SanitizerStack& st) {
    for (const std::string& f : st.frames)
        if (!interceptor(f)) return short_frame(f);
    return st.frames.empty() ? std::string() : short_frame(st.frames.front());
}

}  // namespace

void Checker::judge_sanitizer() {
    for (std::size_t i = 0; i < h_.sanitizer.size(); ++i) {
        const SanitizerReport& r = h_.sanitizer[i];
        for (std::uint32_t p : r.output_of)
            if (p < procs_.size()) procs_[p].sanitized = true;
        if (!keep(FindingKind::kSanitizer)) continue;
        auto who = [&](std::uint32_t p) {
            const std::string role =
                h_.plan != nullptr && p < h_.plan->processes.size()
                    ? std::string(" (") + role_name(h_.plan->processes[p].role) + ")"
                    : std::string();
            return proc_name(p) + role;
        };
        std::string s = r.tool + ": " + r.kind;
        for (std::size_t k = 0; k < r.processes.size(); ++k)
            s += (k == 0 ? " in " : " and ") + who(r.processes[k]);
        if (!r.location.empty()) s += " at " + r.location;
        for (std::size_t k = 0; k < r.stacks.size() && k < 2; ++k) {
            const SanitizerStack& st = r.stacks[k];
            s += k == 0 ? ": " : "; ";
            s += st.title.empty() ? "stack" : st.title;
            if (st.process != kNoSanitizerProcess) s += " [" + proc_name(st.process) + "]";
            if (!st.frames.empty()) s += " at " + where(st);
        }
        if (r.truncated) s += " (report cut short)";
        const std::uint32_t first = r.processes.empty() ? kNoProc : r.processes.front();
        Finding& f = add(FindingKind::kSanitizer, kNoChannel, first, i, std::move(s));
        f.sanitizer = r;
    }
}

}  // namespace ipct::check_detail
