#include "ipctorture/junit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "ipctorture/errors.hpp"

namespace ipct {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] and its code point in
// *cp; 0 if the bytes there are not one (Unicode's table of well-formed
// byte sequences: no overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_at(std::string_view s, std::size_t i, char32_t* cp) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    if (b(1) < lo || b(1) > hi) return 0;
    char32_t v = c & (0xFF >> (n + 1));
    v = (v << 6) | (b(1) & 0x3F);
    for (std::size_t k = 2; k < n; ++k) {
        if (b(k) < 0x80 || b(k) > 0xBF) return 0;
        v = (v << 6) | (b(k) & 0x3F);
    }
    *cp = v;
    return n;
}

std::string escaped(std::string_view s, bool attribute) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    char buf[16];
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        const std::size_t n = utf8_at(s, i, &cp);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD for the one byte that starts no sequence
            ++i;
            continue;
        }
        switch (cp) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += attribute ? "&quot;" : "\"";
                break;
            case '\'':
                out += attribute ? "&apos;" : "'";
                break;
            case '\t':
                out += attribute ? "&#9;" : "\t";
                break;
            case '\n':
                out += attribute ? "&#10;" : "\n";
                break;
            case '\r':
                out += "&#13;";
                break;
            default:
                if (cp < 0x20) {
                    std::snprintf(buf, sizeof buf, "\\x%02X", unsigned(cp));
                    out += buf;
                } else if (cp == 0xFFFE || cp == 0xFFFF) {
                    std::snprintf(buf, sizeof buf, "\\u{%04X}", unsigned(cp));
                    out += buf;
                } else {
                    out.append(s.data() + i, n);
                }
        }
        i += n;
    }
    return out;
}

std::string fixed3(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", v);
    return b;
}

std::string attr(const char* name, std::string_view value) {
    return std::string(" ") + name + "=\"" + xml_attribute(value) + "\"";
}

std::string process_of(std::uint32_t p, const Plan& plan) {
    if (p >= plan.processes.size()) return "orchestrator";
    return plan.processes[p].name + " (" + role_name(plan.processes[p].role) + ")";
}

// One evidence record on one line: who, what, which message, when (from the
// start barrier's release).
std::string evidence_line(const Evidence& e, const RunOutcome& o) {
    const Record& r = e.record;
    std::string s =
        process_of(e.process, o.plan) + " " + op_name(r.op) + " " + status_name(r.status);
    if (r.channel < o.plan.channels.size() && r.op != Op::kWorkerStatus && r.op != Op::kHang)
        s += " channel=" + o.plan.channels[r.channel].name;
    s += " origin=" + std::to_string(r.origin) + " seq=" + std::to_string(r.seq) +
         " size=" + std::to_string(r.size);
    if (r.err) s += " errno=" + errno_name(r.err);
    if (o.t_start_ns && r.t_start >= o.t_start_ns)
        s += " at +" + fixed3(double(r.t_start - o.t_start_ns) / 1e6) + "ms";
    return s;
}

constexpr std::size_t kEvidenceLines = 6;
constexpr std::size_t kFrames = 6;

void finding_text(std::string& t, const Finding& f, const RunOutcome& o) {
    t += finding_kind_name(f.kind) + std::string(": ") + f.summary + "\n";
    for (std::size_t i = 0; i < f.evidence.size() && i < kEvidenceLines; ++i)
        t += "    evidence: " + evidence_line(f.evidence[i], o) + "\n";
    if (f.evidence.size() > kEvidenceLines)
        t += "    ... " + std::to_string(f.evidence.size() - kEvidenceLines) + " more records\n";
    if (f.signal_safety)
        for (std::size_t i = 1; i < f.signal_safety->frames.size() && i < kFrames; ++i)
            t += "      " + f.signal_safety->frames[i] + "\n";
    if (f.sanitizer)
        for (const SanitizerStack& st : f.sanitizer->stacks) {
            t += "    " + (st.title.empty() ? std::string("stack") : st.title) + ":\n";
            for (std::size_t i = 0; i < st.frames.size() && i < kFrames; ++i)
                t += "      " + st.frames[i] + "\n";
        }
}

// "3 findings: 2 lost, 1 duplicated" (exact counts).
std::string findings_message(const CheckResult& res) {
    std::string kinds;
    for (int k = 0; k < kFindingKinds; ++k)
        if (res.counts[k] > 0)
            kinds += (kinds.empty() ? "" : ", ") + std::to_string(res.counts[k]) + " " +
                     finding_kind_name(FindingKind(k));
    const std::uint64_t n = res.total_findings();
    return std::to_string(n) + (n == 1 ? " finding: " : " findings: ") + kinds;
}

// The findings a few per kind, as print_findings() lists them, with their
// evidence, then the reproduction command.
std::string findings_text(const ScenarioReport& r, std::size_t per_kind) {
    const CheckResult& res = r.outcome.result;
    std::string t;
    std::size_t shown[kFindingKinds] = {};
    for (const Finding& f : res.findings)
        if (shown[int(f.kind)]++ < per_kind) finding_text(t, f, r.outcome);
    for (int k = 0; k < kFindingKinds; ++k)
        if (res.counts[k] > per_kind && shown[k] >= per_kind)
            t += "... " + std::to_string(res.counts[k] - per_kind) + " more " +
                 finding_kind_name(FindingKind(k)) + "\n";
    t += "reproduce: " + r.reproduce + "\n";
    return t;
}

std::string interrupted_message(const RunOutcome& o) {
    const int sig = o.interrupt_signal ? o.interrupt_signal : 2;
    const char* abbrev = sigabbrev_np(sig);
    return std::string("interrupted by ") + (abbrev ? std::string("SIG") + abbrev : "a signal") +
           ": results cover what ran so far";
}

// The <failure>/<error> of one run; empty for a pass.
std::string outcome_element(const ScenarioReport& r, std::size_t per_kind) {
    switch (r.verdict()) {
        case ScenarioVerdict::kPass:
            return {};
        case ScenarioVerdict::kFail:
            return "      <failure" + attr("message", findings_message(r.outcome.result)) +
                   attr("type", "findings") + ">" + xml_text(findings_text(r, per_kind)) +
                   "</failure>\n";
        case ScenarioVerdict::kError:
            return "      <error" + attr("message", r.error) + attr("type", "harness") + ">" +
                   xml_text(r.error + "\nreproduce: " + r.reproduce + "\n") + "</error>\n";
        case ScenarioVerdict::kInterrupted: {
            const std::string text =
                r.outcome.result.pass()
                    ? "no findings so far\nreproduce: " + r.reproduce + "\n"
                    : findings_message(r.outcome.result) + "\n" + findings_text(r, per_kind);
            return "      <error" + attr("message", interrupted_message(r.outcome)) +
                   attr("type", "interrupted") + ">" + xml_text(text) + "</error>\n";
        }
    }
    return {};
}

std::string property(const char* indent, const char* name, const std::string& value) {
    return std::string(indent) + "<property" + attr("name", name) + attr("value", value) + "/>\n";
}

std::string testcase(const ScenarioReport& r, std::size_t per_kind) {
    const double t = r.ran ? r.outcome.wall_s : 0;
    std::string x = "    <testcase" + attr("classname", junit_classname(r.file)) +
                    attr("name", junit_case_name(r)) + attr("time", fixed3(t)) +
                    attr("file", r.file) + ">\n";
    x += "      <properties>\n";
    x += property("        ", "seed", std::to_string(r.seed));
    x += property("        ", "reproduce", r.reproduce);
    x += property("        ", "verdict", verdict_label(r.verdict()));
    x += "      </properties>\n";
    x += outcome_element(r, per_kind);
    std::string out = "seed: " + std::to_string(r.seed) + "\nreproduce: " + r.reproduce + "\n";
    if (r.ran && r.outcome.kept) out += "run directory kept: " + r.outcome.run_dir + "\n";
    x += "      <system-out>" + xml_text(out) + "</system-out>\n";
    return x + "    </testcase>\n";
}

std::string skipped_case(const NotRun& n) {
    return "    <testcase" + attr("classname", junit_classname(n.file)) + attr("name", n.name) +
           attr("time", "0.000") + attr("file", n.file) + ">\n      <skipped" +
           attr("message", n.reason) + "/>\n    </testcase>\n";
}

struct Suite {
    std::string file;
    std::string cases;
    std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
    double time = 0;
};

struct Counts {
    std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
    double time = 0;
    void add(const Suite& s) {
        tests += s.tests;
        failures += s.failures;
        errors += s.errors;
        skipped += s.skipped;
        time += s.time;
    }
};

std::string count_attrs(std::size_t tests, std::size_t failures, std::size_t errors,
                        std::size_t skipped, double time) {
    return attr("tests", std::to_string(tests)) + attr("failures", std::to_string(failures)) +
           attr("errors", std::to_string(errors)) + attr("skipped", std::to_string(skipped)) +
           attr("time", fixed3(time));
}

// One suite per scenario file, in the order the files first appear.
std::vector<Suite> suites_of(const std::vector<ScenarioReport>& reps,
                             const std::vector<NotRun>& not_run, std::size_t per_kind) {
    std::vector<Suite> suites;
    std::map<std::string, std::size_t> index;
    auto suite = [&](const std::string& file) -> Suite& {
        auto [it, fresh] = index.emplace(file, suites.size());
        if (fresh) suites.push_back(Suite{file, {}, 0, 0, 0, 0, 0});
        return suites[it->second];
    };
    for (const ScenarioReport& r : reps) {
        Suite& s = suite(r.file);
        s.cases += testcase(r, per_kind);
        ++s.tests;
        const ScenarioVerdict v = r.verdict();
        if (v == ScenarioVerdict::kFail) ++s.failures;
        if (v == ScenarioVerdict::kError || v == ScenarioVerdict::kInterrupted) ++s.errors;
        if (r.ran) s.time += r.outcome.wall_s;
    }
    for (const NotRun& n : not_run) {
        Suite& s = suite(n.file);
        s.cases += skipped_case(n);
        ++s.tests;
        ++s.skipped;
    }
    return suites;
}

}  // namespace

std::string xml_text(std::string_view s) {
    return escaped(s, false);
}
std::string xml_attribute(std::string_view s) {
    return escaped(s, true);
}

std::string junit_classname(const std::string& file) {
    namespace fs = std::filesystem;
    fs::path f = fs::path(file).lexically_normal();
    std::error_code ec;
    if (f.is_absolute()) {  // under the working directory: as a relative path
        const fs::path rel = f.lexically_relative(fs::current_path(ec));
        if (!ec && !rel.empty() && *rel.begin() != "..") f = rel;
    }
    std::string p = f.replace_extension().string();
    while (p.starts_with("/") || p.starts_with("./")) p.erase(0, p.starts_with("/") ? 1 : 2);
    for (char& c : p)
        if (c == '/') c = '.';
    return p.empty() ? "scenario" : p;
}

std::string junit_case_name(const ScenarioReport& r) {
    if (!r.repetition) return r.name;
    return r.name + " (repetition " + std::to_string(*r.repetition + 1) + ")";
}

std::string junit_xml(const std::vector<ScenarioReport>& reps, const std::vector<NotRun>& not_run,
                      const std::string& command, std::size_t per_kind) {
    const std::vector<Suite> suites = suites_of(reps, not_run, per_kind);
    Counts all;
    for (const Suite& s : suites) all.add(s);
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
    std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    x += "<testsuites" + attr("name", "ipctorture") +
         count_attrs(all.tests, all.failures, all.errors, all.skipped, all.time) + ">\n";
    for (std::size_t i = 0; i < suites.size(); ++i) {
        const Suite& s = suites[i];
        x += "  <testsuite" + attr("name", s.file) +
             count_attrs(s.tests, s.failures, s.errors, s.skipped, s.time) +
             attr("id", std::to_string(i)) + attr("hostname", host) + ">\n";
        x += "    <properties>\n" + property("      ", "command", command) + "    </properties>\n";
        x += s.cases + "  </testsuite>\n";
    }
    return x + "</testsuites>\n";
}

namespace {

std::string directory_of(const std::string& path) {
    const std::filesystem::path p(path);
    return p.has_parent_path() ? p.parent_path().string() : ".";
}

std::string reason(int err) {
    return std::strerror(err);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text) {
    std::string tmp = path + ".XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) throw EnvironmentError("cannot write " + path + ": " + reason(errno));
    const mode_t mask = ::umask(0);  // the mode a plain create would give the file
    ::umask(mask);
    int err = 0;
    const IoResult w = write_full(fd, text.data(), text.size());
    if (!w.ok())
        err = w.err > 0 ? w.err : EIO;
    else if (::fchmod(fd, 0666 & ~mask) != 0)
        err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) {
        ::unlink(tmp.c_str());
        throw EnvironmentError("cannot write " + path + ": " + reason(err));
    }
}

void check_writable(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw EnvironmentError("cannot write " + path + ": it is a directory");
    std::string tmp = directory_of(path) + "/.ipctorture-write-test.XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) throw EnvironmentError("cannot write " + path + ": " + reason(errno));
    ::close(fd);
    ::unlink(tmp.c_str());
}

}  // namespace ipct
