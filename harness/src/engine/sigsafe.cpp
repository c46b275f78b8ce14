#include "ipctorture/sigsafe.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "ipctorture/boost_process.hpp"
#include "ipctorture/checker.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/plan.hpp"

namespace ipct {

namespace fs = std::filesystem;
namespace bp = boost::process::v2;
namespace asio = boost::asio;

namespace {

constexpr std::string_view kMagic = "ipctorture-sigsafe";

std::vector<std::string_view> split_tabs(std::string_view line) {
    std::vector<std::string_view> out;
    for (std::size_t at = 0; at <= line.size();) {
        const std::size_t end = std::min(line.find('\t', at), line.size());
        out.push_back(line.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

bool parse_int(std::string_view s, int& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_uint(std::string_view s, std::uint64_t& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "BEFORE>AFTER"
bool parse_errno_change(std::string_view s, SignalSafetyReport& r) {
    const std::size_t gt = s.find('>');
    return gt != std::string_view::npos && parse_int(s.substr(0, gt), r.errno_before) &&
           parse_int(s.substr(gt + 1), r.errno_after);
}

std::string signal_text(int sig) {
    if (sig <= 0) return "an unknown signal";
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// ---- symbolization ----------------------------------------------------------

struct Location {
    std::string module;  // empty: a bare address
    std::uint64_t offset = 0;
};

std::optional<Location> split_frame(const std::string& raw) {
    const std::size_t plus = raw.rfind("+0x");
    Location loc;
    std::string_view hex;
    if (plus != std::string::npos) {
        loc.module = raw.substr(0, plus);
        hex = std::string_view(raw).substr(plus + 3);
    } else if (raw.rfind("0x", 0) == 0) {
        hex = std::string_view(raw).substr(2);
    } else {
        return std::nullopt;
    }
    const auto r = std::from_chars(hex.data(), hex.data() + hex.size(), loc.offset, 16);
    if (r.ec != std::errc() || r.ptr != hex.data() + hex.size()) return std::nullopt;
    return loc;
}

// Runs `addr2line -f -C -a -e module addr...` and returns its output lines.
std::vector<std::string> run_addr2line(const std::string& tool, const std::string& module,
                                       const std::vector<std::uint64_t>& addrs) {
    std::vector<std::string> args{"-f", "-C", "-a", "-e", module};
    for (std::uint64_t a : addrs) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, a, 16);
        args.push_back("0x" + std::string(buf, r.ptr));
    }
    asio::io_context ctx;
    asio::readable_pipe out(ctx);
    bp::process proc(ctx, tool, args, bp::process_stdio{nullptr, out, nullptr});
    std::string text;
    boost::system::error_code ec;
    asio::read(out, asio::dynamic_buffer(text), ec);  // to end of file
    proc.wait();
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        lines.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return lines;
}

// "handler (prog.c:12) in prog+0x11a0" from addr2line's function and
// file:line (the raw frame, with the module's full path, stays beside it).
std::string frame_text(const std::string& fn, std::string where, const Location& loc) {
    if (fn.empty() || fn == "??") return {};
    if (const std::size_t d = where.find(" (discriminator"); d != std::string::npos)
        where.resize(d);
    std::string s = fn;
    if (!where.empty() && where.rfind("??", 0) != 0)
        s += " (" + fs::path(where).filename().string() + ")";
    char off[24];
    const auto r = std::to_chars(off, off + sizeof off, loc.offset, 16);
    return s + " in " + fs::path(loc.module).filename().string() + "+0x" + std::string(off, r.ptr);
}

}  // namespace

std::optional<SignalSafetyReport> parse_sigsafe_line(std::string_view line) {
    const std::vector<std::string_view> f = split_tabs(line);
    if (f.size() < 2 || f[0] != kMagic || f[1] != "v1") return std::nullopt;
    SignalSafetyReport r;
    bool what = false;
    for (std::size_t i = 2; i < f.size(); ++i) {
        const std::size_t eq = f[i].find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        const std::string_view key = f[i].substr(0, eq), value = f[i].substr(eq + 1);
        bool ok = true;
        if (key == "ns")
            ok = parse_uint(value, r.t_ns);
        else if (key == "pid")
            ok = parse_int(value, r.pid);
        else if (key == "tid")
            ok = parse_int(value, r.tid);
        else if (key == "signal")
            ok = parse_int(value, r.signal);
        else if (key == "depth")
            ok = parse_int(value, r.depth);
        else if (key == "call")
            r.function = value, what = !value.empty();
        else if (key == "errno")
            ok = what = r.errno_clobbered = parse_errno_change(value, r);
        else if (key == "handler")
            r.raw_handler = value;
        else if (key == "frame")
            r.raw_frames.emplace_back(value);
        if (!ok) return std::nullopt;
    }
    if (!what) return std::nullopt;
    r.handler = r.raw_handler;
    r.frames = r.raw_frames;
    return r;
}

void symbolize_sigsafe_reports(std::vector<SignalSafetyReport>& reports) {
    const auto tool = bp::environment::find_executable("addr2line");
    if (tool.empty()) return;
    // Per module: the offsets to look up, and where each answer goes.
    struct Want {
        std::vector<std::uint64_t> addrs;
        std::vector<std::pair<std::string*, Location>> into;
    };
    std::map<std::string, Want> by_module;
    auto want = [&](const std::string& raw, std::string* into, bool return_address) {
        std::optional<Location> loc = split_frame(raw);
        if (!loc || loc->module.empty() || !fs::is_regular_file(loc->module)) return;
        Want& w = by_module[loc->module];
        // A return address points after the call: look up the call itself.
        w.addrs.push_back(return_address && loc->offset > 0 ? loc->offset - 1 : loc->offset);
        w.into.emplace_back(into, *loc);
    };
    for (SignalSafetyReport& r : reports) {
        want(r.raw_handler, &r.handler, false);
        for (std::size_t i = 0; i < r.raw_frames.size(); ++i)
            want(r.raw_frames[i], &r.frames[i], true);
    }
    for (auto& [module, want] : by_module) {
        std::vector<std::string> lines;
        try {
            lines = run_addr2line(tool.string(), module, want.addrs);
        } catch (const std::exception&) {
            continue;  // the raw module+offset stays
        }
        // Three lines per address: the address, the function, file:line.
        for (std::size_t i = 0; i < want.into.size() && 3 * i + 2 < lines.size(); ++i) {
            std::string text = frame_text(lines[3 * i + 1], lines[3 * i + 2], want.into[i].second);
            if (!text.empty()) *want.into[i].first = text;
        }
    }
}

std::string describe_sigsafe_report(const SignalSafetyReport& r) {
    const std::string handler =
        "the handler of " + signal_text(r.signal) + (r.handler.empty() ? "" : ", " + r.handler);
    std::string s;
    if (r.errno_clobbered)
        s = handler + ", returned with errno changed (" + errno_name(r.errno_before) + " -> " +
            errno_name(r.errno_after) + ")";
    else
        s = r.function + " (not async-signal-safe) called inside " + handler;
    if (r.depth > 1) s += ", nested " + std::to_string(r.depth) + " deep";
    if (!r.frames.empty()) s += "; at " + r.frames.front();
    return s;
}

void add_signal_safety_findings(CheckResult& res, const std::vector<SignalSafetyReport>& reports,
                                const Plan& plan, std::size_t max_findings) {
    std::size_t listed = 0;
    for (const SignalSafetyReport& r : reports) {
        ++res.counts[int(FindingKind::kSignalSafety)];
        if (listed++ >= max_findings) continue;
        Finding f;
        f.kind = FindingKind::kSignalSafety;
        if (r.process < plan.processes.size()) {
            const PlannedProcess& p = plan.processes[r.process];
            f.summary = p.name + " (" + role_name(p.role) + "): ";
        }
        f.summary += describe_sigsafe_report(r);
        f.signal_safety = r;
        res.findings.push_back(std::move(f));
    }
}

std::string sigsafe_report_path(const std::string& run_dir, std::uint32_t process) {
    return run_dir + "/sigsafe." + std::to_string(process) + ".log";
}

std::vector<SignalSafetyReport> read_sigsafe_reports(const std::string& run_dir, const Plan& plan) {
    std::vector<SignalSafetyReport> out;
    for (const PlannedProcess& p : plan.processes) {
        std::ifstream in(sigsafe_report_path(run_dir, p.index));
        for (std::string line; std::getline(in, line);) {
            if (std::optional<SignalSafetyReport> r = parse_sigsafe_line(line)) {
                r->process = p.index;
                out.push_back(std::move(*r));
            }
        }
    }
    symbolize_sigsafe_reports(out);
    return out;
}

std::vector<std::string> sigsafe_environment(const std::string& lib,
                                             const std::string& report_path) {
    std::vector<std::string> env;
    std::string preload = lib;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view var(*e);
        if (var.rfind("LD_PRELOAD=", 0) == 0) {
            const std::string_view was = var.substr(std::strlen("LD_PRELOAD="));
            if (!was.empty()) preload = std::string(was) + ":" + lib;
            continue;
        }
        if (var.rfind("IPCTORTURE_SIGSAFE_OUT=", 0) == 0) continue;
        env.emplace_back(var);
    }
    env.push_back("LD_PRELOAD=" + preload);
    env.push_back("IPCTORTURE_SIGSAFE_OUT=" + report_path);
    return env;
}

std::string sigsafe_library(const std::string& worker_exe) {
    const fs::path dir = fs::path(worker_exe).parent_path();
    const std::vector<fs::path> places{dir / IPCT_SIGSAFE_LIB,
                                       dir / IPCT_SIGSAFE_INSTALL_REL / IPCT_SIGSAFE_LIB};
    std::string looked;
    for (const fs::path& p : places) {
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) return fs::absolute(p).lexically_normal().string();
        looked += (looked.empty() ? "" : ", ") + p.lexically_normal().string();
    }
    throw EnvironmentError(
        "sigsafe: the signal-safety interposer " IPCT_SIGSAFE_LIB " is missing (looked in: " +
        looked + "); build the ipctorture_sigsafe target or install it next to ipctorture");
}

}  // namespace ipct
