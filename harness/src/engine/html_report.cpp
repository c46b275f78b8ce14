#include "ipctorture/html_report.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "ipctorture/errors.hpp"
#include "ipctorture/plugin_loader.hpp"
#include "ipctorture/svg.hpp"

namespace ipct {

namespace {

using svg::escape;

constexpr const char* kStyle = R"(
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1300px}
h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
h3{font-size:1.05em;margin-bottom:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:monospace;font-size:.9em;background:#f4f4f4}
pre{padding:.4em;white-space:pre-wrap;word-break:break-all}
.PASS{color:#11772d;font-weight:bold}.FAIL{color:#b00020;font-weight:bold}
.ERROR,.INTERRUPTED{color:#a35200;font-weight:bold}
.chan{display:flex;flex-wrap:wrap;gap:1em}
.finding{border-left:4px solid #b00020;padding:.2em .8em;margin:1em 0;background:#fff8f8}
.note{color:#555;font-size:.85em}
svg{background:#fff;border:1px solid #ddd;font-size:11px}
svg .axis{stroke:#333}svg .tick{stroke:#333}svg .grid{stroke:#eee}
svg .tick-label{fill:#333}svg .axis-title{fill:#222;font-size:12px}
svg .bar{fill:#3b6fb6}svg .tput{fill:#2f9a6a}
svg .proc-ok{fill:#8cc79a}svg .proc-failed{fill:#e2817f}svg .proc-killed{fill:#c9c9c9}
svg .proc-hung{fill:#f0b35a}svg .finding-mark{fill:#b00020;stroke:#fff}
svg .signal-mark{fill:#6a3fb5;stroke:#fff}svg .empty{fill:#777}
)";

std::string td(const std::string& text, bool numeric = false) {
    return std::string(numeric ? "<td class=\"n\">" : "<td>") + escape(text) + "</td>";
}

std::string u64(std::uint64_t v) {
    return std::to_string(v);
}

std::string secs(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2fs", s);
    return b;
}

std::string signal_text(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The run's time zero: the start barrier's release, else the first record.
std::uint64_t time_zero(const RunOutcome& o) {
    return o.t_start_ns != 0 ? o.t_start_ns : o.result.t_first_ns;
}

double rel_ns(std::uint64_t t, std::uint64_t t0) {
    return t >= t0 ? double(t - t0) : -double(t0 - t);
}

std::string rel_text(std::uint64_t t, std::uint64_t t0) {
    if (t == 0) return "-";
    const double d = rel_ns(t, t0);
    return (d >= 0 ? "+" : "") + svg::duration_text(d);
}

std::string process_name(std::uint32_t p, const Plan& plan) {
    if (p < plan.processes.size()) return plan.processes[p].name;
    return p == 0xffffffffu ? "orchestrator" : "process " + std::to_string(p);
}

std::string channel_name(std::uint32_t c, const Plan& plan) {
    return c < plan.channels.size() ? plan.channels[c].name : "-";
}

std::string end_text(const ProcessStats& ps) {
    if (ps.hung) return "hung: stopped by the watchdog";
    const int st = ps.status;
    if (st < 0)
        return ps.exit_logged ? "exit code " + std::to_string(ps.exit_code) + " (end not reported)"
                              : "end not reported";
    if (WIFSIGNALED(st))
        return "killed by " + signal_text(WTERMSIG(st)) +
               (ps.killed_by_harness ? " (sent by the harness)" : "");
    if (WIFEXITED(st))
        return "exited " + std::to_string(WEXITSTATUS(st)) +
               (ps.killed_by_harness ? " (stopped by the harness)" : "");
    return "status " + std::to_string(st);
}

const char* end_class(const ProcessStats& ps) {
    if (ps.hung) return "proc-hung";
    if (ps.killed_by_harness) return "proc-killed";
    if (ps.status < 0) return ps.exit_logged && ps.exit_code == 0 ? "proc-ok" : "proc-killed";
    return WIFEXITED(ps.status) && WEXITSTATUS(ps.status) == 0 ? "proc-ok" : "proc-failed";
}

std::string signals_text(const ProcessStats& ps) {
    return "sent " + u64(ps.signals_sent) + " x " + signal_text(int(ps.signal)) + " to " +
           u64(ps.signal_targets) + " target(s) (counted at its end)";
}

// Where a piece of evidence sits on the timeline: its process's row and the
// record's end (its start while pending).
struct Mark {
    std::uint32_t process;
    std::uint64_t t;
};

Mark mark_of(const Evidence& e) {
    const Record& r = e.record;
    std::uint32_t p = e.process;
    if (p == 0xffffffffu && (r.op == Op::kWorkerStatus || r.op == Op::kHang))
        p = static_cast<std::uint32_t>(r.seq);
    return Mark{p, r.t_end != 0 ? r.t_end : r.t_start};
}

std::string timeline(const ScenarioReport& rep, std::size_t k) {
    const RunOutcome& o = rep.outcome;
    const CheckResult& res = o.result;
    const std::uint64_t t0 = time_zero(o);
    const std::size_t n = o.plan.processes.size();
    constexpr int kRow = 26;
    svg::Chart c("timeline-" + std::to_string(k), 1200,
                 10 + int(std::max<std::size_t>(n, 1)) * kRow + 45);
    c.margins(190, 330, 10, 45);
    double lo = 0, hi = 0;
    auto widen = [&](std::uint64_t t) {
        if (t == 0) return;
        lo = std::min(lo, rel_ns(t, t0));
        hi = std::max(hi, rel_ns(t, t0));
    };
    widen(res.t_first_ns);
    widen(res.t_last_ns);
    widen(o.t_end_ns);
    c.x_axis(svg::nice_linear(lo, hi), "time since the run's start", svg::duration_text);
    for (std::size_t p = 0; p < n; ++p) {
        const PlannedProcess& pp = o.plan.processes[p];
        const ProcessStats ps = p < res.processes.size() ? res.processes[p] : ProcessStats{};
        const double top = 10 + double(p) * kRow;
        c.label(c.left() - 8, top + 17, pp.name + " (" + role_name(pp.role) + ")", "end");
        std::string end = end_text(ps);
        if (ps.records == 0) {
            c.label(c.left() + 6, top + 17, "no records: never started", "start", "empty");
        } else {
            c.band(rel_ns(ps.first_ns, t0), rel_ns(ps.last_ns, t0), top + 4, kRow - 8,
                   end_class(ps),
                   pp.name + ": " + rel_text(ps.first_ns, t0) + " to " + rel_text(ps.last_ns, t0) +
                       ", " + u64(ps.records) + " records, " + end);
        }
        if (ps.signals_note_ns != 0) {
            c.marker(rel_ns(ps.signals_note_ns, t0), top + kRow / 2.0, "signal-mark",
                     pp.name + " " + signals_text(ps));
            end += "; sent " + u64(ps.signals_sent) + " x " + signal_text(int(ps.signal));
        }
        c.label(c.left() + c.plot_width() + 8, top + 17, end);
    }
    for (std::size_t i = 0; i < res.findings.size(); ++i) {
        const Finding& f = res.findings[i];
        for (const Evidence& e : f.evidence) {
            const Mark m = mark_of(e);
            if (m.process >= n || m.t == 0) continue;
            c.marker(rel_ns(m.t, t0), 10 + double(m.process) * kRow + kRow / 2.0, "finding-mark",
                     "finding " + std::to_string(i + 1) + " (" + finding_kind_name(f.kind) +
                         "): " + f.summary);
        }
    }
    return c.str();
}

std::string latency_chart(const ChannelStats& st, const std::string& id) {
    const LatencyHistogram& h = st.latency;
    svg::Chart c(id, 560, 260);
    if (h.count() == 0) {
        c.x_axis(svg::nice_log(1, 1e9), "latency: send start to receive end (log scale)",
                 svg::duration_text);
        c.y_axis(svg::nice_linear(0, 1), "messages", svg::count_text);
        c.label(c.left() + c.plot_width() / 2.0, c.top() + c.plot_height() / 2.0,
                "no message received", "middle", "empty");
        return c.str();
    }
    const auto& counts = h.counts();
    int first = -1, last = -1;
    std::uint64_t peak = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] == 0) continue;
        if (first < 0) first = int(i);
        last = int(i);
        peak = std::max(peak, counts[i]);
    }
    const svg::Scale xs =
        svg::nice_log(double(std::max<std::uint64_t>(LatencyHistogram::bucket_low(first), 1)),
                      double(LatencyHistogram::bucket_high(last)) + 1);
    c.x_axis(xs, "latency: send start to receive end (log scale)", svg::duration_text);
    c.y_axis(svg::nice_linear(0, double(peak)), "messages per bucket", svg::count_text);
    for (int i = first; i <= last; ++i) {
        if (counts[std::size_t(i)] == 0) continue;
        const double a = std::max(double(LatencyHistogram::bucket_low(i)), xs.lo);
        const double b = double(LatencyHistogram::bucket_high(i)) + 1;
        c.bar(a, b, double(counts[std::size_t(i)]), "bar",
              svg::duration_text(double(LatencyHistogram::bucket_low(i))) + " to " +
                  svg::duration_text(double(LatencyHistogram::bucket_high(i))) + ": " +
                  u64(counts[std::size_t(i)]) + " messages");
    }
    return c.str();
}

std::string throughput_chart(const ChannelStats& st, const RunOutcome& o, const std::string& id) {
    const ThroughputSeries& s = st.throughput;
    const std::uint64_t t0 = time_zero(o);
    svg::Chart c(id, 560, 260);
    std::size_t used = 0;
    std::uint64_t peak = 0;
    for (std::size_t i = 0; i < s.counts().size(); ++i)
        if (s.counts()[i] != 0) {
            used = i + 1;
            peak = std::max(peak, s.counts()[i]);
        }
    const double w = double(s.width_ns());
    const double start = s.origin() != 0 ? rel_ns(s.origin(), t0) : 0;
    double hi = std::max(start + double(used) * w, 0.0);
    if (o.t_end_ns != 0) hi = std::max(hi, rel_ns(o.t_end_ns, t0));
    c.x_axis(svg::nice_linear(std::min(0.0, start), hi), "time since the run's start",
             svg::duration_text);
    const double per_s = 1e9 / w;
    c.y_axis(svg::nice_linear(0, std::max(1.0, double(peak) * per_s)),
             "messages received per second", svg::count_text);
    if (used == 0) {
        c.label(c.left() + c.plot_width() / 2.0, c.top() + c.plot_height() / 2.0,
                "no message received", "middle", "empty");
        return c.str();
    }
    for (std::size_t i = 0; i < used; ++i) {
        const double a = start + double(i) * w;
        const std::uint64_t n = s.counts()[i];
        c.bar(a, a + w, double(n) * per_s, "tput",
              svg::duration_text(a) + " to " + svg::duration_text(a + w) + ": " + u64(n) +
                  " messages");
    }
    return c.str();
}

std::string channel_section(const RunOutcome& o, std::size_t k, std::size_t ci) {
    const PlannedChannel& ch = o.plan.channels[ci];
    static const ChannelStats kNone;
    const ChannelStats& st = ci < o.result.channels.size() ? o.result.channels[ci] : kNone;
    std::string s = "<h3>channel " + escape(ch.name) + " <span class=\"note\">(" +
                    escape(backend_label(ch.backend)) + ", " + escape(shape_name(ch.shape)) +
                    ")</span></h3>";
    s += "<p class=\"note\">sent " + u64(st.sent) + ", received " + u64(st.received) + ", lost " +
         u64(st.lost) + ", duplicated " + u64(st.duplicated) + ", corrupted " + u64(st.corrupted) +
         ", unexpected " + u64(st.unexpected) + ", out of order " +
         u64(st.fifo_violations + st.order_violations) + ", indeterminate " +
         u64(st.indeterminate) + "</p>";
    const LatencyHistogram& h = st.latency;
    s += "<table><tr><th>latencies</th><th>min</th><th>p50 &le;</th><th>p90 &le;</th>"
         "<th>p99 &le;</th><th>p99.9 &le;</th><th>max</th></tr><tr>" +
         td(u64(h.count()), true);
    if (h.count() == 0) {
        s += "<td colspan=\"6\">-</td>";
    } else {
        for (std::uint64_t v : {h.min(), h.percentile(0.5), h.percentile(0.9), h.percentile(0.99),
                                h.percentile(0.999), h.max()})
            s += td(svg::duration_text(double(v)), true);
    }
    s += "</tr></table><p class=\"note\">min and max are exact; the percentiles are the upper "
         "ends of histogram buckets (each spans at most 1/8 of its lower end), so the true value "
         "is at most that, and less than 12.5% below it.  Throughput buckets are " +
         escape(svg::duration_text(double(st.throughput.width_ns()))) + " wide.</p>";
    const std::string tag = std::to_string(k) + "-" + std::to_string(ci);
    s += "<div class=\"chan\">" + latency_chart(st, "latency-" + tag) +
         throughput_chart(st, o, "throughput-" + tag) + "</div>";
    return s;
}

std::string evidence_table(const Finding& f, const RunOutcome& o) {
    const std::uint64_t t0 = time_zero(o);
    std::string s =
        "<table class=\"evidence\"><tr><th>process</th><th>operation</th><th>channel</th>"
        "<th>origin</th><th>seq</th><th>status</th><th>start</th><th>end</th><th>size</th>"
        "<th>detail</th></tr>";
    for (const Evidence& e : f.evidence) {
        const Record& r = e.record;
        std::string who = process_name(e.process, o.plan);
        if (e.process < o.plan.processes.size())
            who += std::string(" (") + role_name(o.plan.processes[e.process].role) + ")";
        const bool orch = r.op == Op::kWorkerStatus || r.op == Op::kHang;
        std::string detail;
        if (r.op == Op::kWorkerStatus) {
            const ProcessStats ps{.status = int(r.aux), .killed_by_harness = r.extra != 0};
            detail = process_name(std::uint32_t(r.seq), o.plan) + " " + end_text(ps);
        } else if (r.op == Op::kHang) {
            detail = process_name(std::uint32_t(r.seq), o.plan) + " stopped by the watchdog";
        } else if (r.err != 0) {
            detail = errno_name(r.err);
        }
        s += "<tr>" + td(who) + td(op_name(r.op)) +
             td(orch ? "-" : channel_name(r.channel, o.plan)) +
             td(orch ? "-" : u64(r.origin), true) + td(orch ? "-" : u64(r.seq), true) +
             td(status_name(r.status)) + td(rel_text(r.t_start, t0), true) +
             td(rel_text(r.t_end, t0), true) + td(u64(r.size), true) + td(detail) + "</tr>";
    }
    return s + "</table>";
}

std::string finding_section(const Finding& f, const ScenarioReport& rep, std::size_t k,
                            std::size_t i) {
    const RunOutcome& o = rep.outcome;
    std::string s = "<div class=\"finding\" id=\"finding-" + std::to_string(k) + "-" +
                    std::to_string(i) + "\"><h3>" + std::to_string(i + 1) + ". " +
                    escape(finding_kind_name(f.kind));
    if (f.channel < o.plan.channels.size())
        s += " on channel " + escape(o.plan.channels[f.channel].name);
    s += "</h3><p class=\"summary\">" + escape(f.summary) + "</p>";
    if (f.evidence.empty())
        s += "<p class=\"note\">no event-log records: the finding rests on the report below</p>";
    else
        s += evidence_table(f, o);
    if (f.signal_safety) {
        std::string frames;
        for (const std::string& fr : f.signal_safety->frames) frames += fr + "\n";
        s += "<pre>" + escape(f.signal_safety->handler) + "\n" + escape(frames) + "</pre>";
    }
    if (f.sanitizer) {
        std::string text = f.sanitizer->headline + "\n";
        for (const SanitizerStack& st : f.sanitizer->stacks) {
            text += (st.title.empty() ? std::string("stack") : st.title) + ":\n";
            for (const std::string& fr : st.frames) text += "  " + fr + "\n";
        }
        s += "<pre>" + escape(text) + "</pre>";
    }
    s += "<p>reproduce: <code>" + escape(rep.reproduce) + "</code></p></div>";
    return s;
}

std::string run_title(const ScenarioReport& r) {
    std::string t = r.name;
    if (r.repetition) t += ", repetition " + std::to_string(*r.repetition + 1);
    return t;
}

std::string run_section(const ScenarioReport& r, std::size_t k) {
    const std::string v = verdict_label(r.verdict());
    std::string s = "<section id=\"run-" + std::to_string(k) + "\"><h2>" + escape(run_title(r)) +
                    ": <span class=\"" + v + "\">" + v + "</span></h2>";
    s += "<p>file <code>" + escape(r.file) + "</code>, seed " + u64(r.seed) +
         "<br>reproduce: <code>" + escape(r.reproduce) + "</code></p>";
    if (!r.ran) {
        s += "<p class=\"note\">The run never started: " + escape(r.error) +
             "</p><div id=\"never-started-" + std::to_string(k) + "\"></div></section>";
        return s;
    }
    const RunOutcome& o = r.outcome;
    s += "<p class=\"note\">wall " + secs(o.wall_s) + ", active " + secs(o.active_s) + ", check " +
         secs(o.check_s) + ", " + u64(o.result.records) + " records" +
         (o.as_threads ? ", processes as threads" : "") +
         (o.interrupted ? ", interrupted: results cover what ran so far" : "") +
         (o.kept ? ", run directory kept: <code>" + escape(o.run_dir) + "</code>" : "") + "</p>";
    s += "<h3>timeline</h3><p class=\"note\">one row per process, from its first record to its "
         "last; red diamonds: the records a finding rests on; violet: a signaler's count of the "
         "signals it sent.</p>" +
         timeline(r, k);
    for (std::size_t c = 0; c < o.plan.channels.size(); ++c) s += channel_section(o, k, c);
    const CheckResult& res = o.result;
    s += "<h3>findings (" + u64(res.total_findings()) + ")</h3>";
    if (res.findings.empty()) s += "<p>none</p>";
    for (std::size_t i = 0; i < res.findings.size(); ++i)
        s += finding_section(res.findings[i], r, k, i);
    if (res.findings.size() < res.total_findings())
        s += "<p class=\"note\">" + u64(res.total_findings() - res.findings.size()) +
             " more not listed (--max-findings caps the findings kept per kind; counts are "
             "exact)</p>";
    return s + "</section>";
}

std::string verdict_table(const std::vector<ScenarioReport>& reps,
                          const std::vector<bool>& detailed) {
    std::string s =
        "<table id=\"verdicts\"><tr><th>scenario</th><th>backend</th><th>procs</th><th>sent</th>"
        "<th>recv</th><th>lost</th><th>dup</th><th>corrupt</th><th>order</th><th>other</th>"
        "<th>indet</th><th>time</th><th>verdict</th><th>seed</th><th>reproduce</th></tr>";
    for (std::size_t k = 0; k < reps.size(); ++k) {
        const ScenarioReport& r = reps[k];
        const std::string v = verdict_label(r.verdict());
        const std::string name = detailed[k] ? "<a href=\"#run-" + std::to_string(k) + "\">" +
                                                   escape(run_title(r)) + "</a>"
                                             : escape(run_title(r));
        s += "<tr class=\"run\"><td>" + name + "</td>";
        if (!r.ran) {
            s += "<td colspan=\"11\">" + escape(r.error) + "</td>";
        } else {
            const TableCounts t = table_counts(r.outcome);
            s += td(t.backends) + td(u64(r.outcome.plan.processes.size()), true) +
                 td(u64(t.sent), true) + td(u64(t.received), true) + td(u64(t.lost), true) +
                 td(u64(t.duplicated), true) + td(u64(t.corrupted), true) + td(u64(t.order), true) +
                 td(u64(t.other), true) + td(u64(t.indeterminate), true) +
                 td(secs(r.outcome.wall_s), true);
        }
        s += "<td class=\"" + v + "\">" + v + "</td>" + td(u64(r.seed), true) + "<td><code>" +
             escape(r.reproduce) + "</code></td></tr>";
    }
    return s + "</table>";
}

}  // namespace

const char* html_report_style() {
    return kStyle;
}

std::string html_report(const std::vector<ScenarioReport>& reps, const std::string& command) {
    std::vector<bool> detailed(reps.size(), false);
    const bool repeated = std::any_of(
        reps.begin(), reps.end(), [](const ScenarioReport& r) { return r.repetition.has_value(); });
    std::size_t shown = 0;
    for (std::size_t k = 0; k < reps.size(); ++k) {
        if (repeated && reps[k].verdict() == ScenarioVerdict::kPass) continue;
        if (shown++ < kHtmlDetailedRuns) detailed[k] = true;
    }
    if (shown == 0 && !reps.empty()) detailed.back() = true;
    std::string s =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>ipctorture report</title><style>" +
        std::string(kStyle) + "</style></head><body><h1>ipctorture report</h1>";
    s += "<p>command: <code>" + escape(command) + "</code><br>exit status " +
         std::to_string(exit_status(reps)) + "</p>";
    s += verdict_table(reps, detailed);
    if (repeated && shown > kHtmlDetailedRuns)
        s += "<p class=\"note\">" + std::to_string(shown - kHtmlDetailedRuns) +
             " more runs that did not pass have no section here (the first " +
             std::to_string(kHtmlDetailedRuns) + " do)</p>";
    for (std::size_t k = 0; k < reps.size(); ++k)
        if (detailed[k]) s += run_section(reps[k], k);
    s += "</body></html>\n";
    return s;
}

void write_html_report(const std::string& path, const std::vector<ScenarioReport>& reps,
                       const std::string& command) {
    std::ofstream out(path);
    out << html_report(reps, command);
    out.flush();
    if (!out) throw EnvironmentError("cannot write " + path);
}

}  // namespace ipct
