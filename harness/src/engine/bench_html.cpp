#include "ipctorture/bench_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <vector>

#include "ipctorture/errors.hpp"
#include "ipctorture/html_report.hpp"
#include "ipctorture/svg.hpp"

namespace ipct {

namespace {

using nlohmann::json;
using svg::escape;

constexpr const char* kModes[] = {"raw", "off", "on"};
// Findings shown per failing run (the JSON keeps the checker's list).
constexpr std::size_t kFindingsShown = 20;
constexpr const char* kModeTitles[] = {"raw", "harness off", "harness on"};

// What the bench page adds to the report's stylesheet.
constexpr const char* kBenchStyle = R"(
th.group{text-align:center}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 1em;font-size:.9em}
dl.facts dt{font-weight:bold}dl.facts dd{margin:0}
svg .ref{fill:#b00020}svg .ratio-label{fill:#333}
#comparison td:nth-child(2),#comparison td:nth-child(3){white-space:nowrap}
)";

// ---- lenient reading: a missing member or a null is "not there" ----------

const json* member(const json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
}

const json& member_or_empty(const json& j, const char* key) {
    static const json kEmpty = json::object();
    const json* m = member(j, key);
    return m ? *m : kEmpty;
}

double number(const json& j, const char* key) {
    const json* m = member(j, key);
    return m && m->is_number() ? m->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

// A member as text: a string as it is, anything else as JSON.
std::string text(const json& j) {
    if (j.is_null()) return "";
    return j.is_string() ? j.get<std::string>() : j.dump();
}

std::string text(const json& j, const char* key) {
    const json* m = member(j, key);
    return m ? text(*m) : "";
}

std::vector<json> array(const json& j, const char* key) {
    const json* m = member(j, key);
    if (!m || !m->is_array()) return {};
    return std::vector<json>(m->begin(), m->end());
}

// ---- formatting -----------------------------------------------------------

std::string fixed(double v, int decimals) {
    if (!std::isfinite(v)) return "-";
    char b[48];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

std::string rate(double v) {
    return std::isfinite(v) ? svg::count_text(v) : "-";
}

std::string mb(double v) {
    return fixed(v, std::isfinite(v) && std::fabs(v) >= 100 ? 0 : 1);
}

std::string ns_text(double v) {
    return std::isfinite(v) ? svg::duration_text(v) : "-";
}

std::string size_text(const json& cell) {
    const double s = number(cell, "size");
    if (!std::isfinite(s) || s < 0) return text(cell, "size");
    const auto b = static_cast<std::uint64_t>(s);
    if (b >= 1024 && b % 1024 == 0) return std::to_string(b / 1024) + " KiB";
    return std::to_string(b) + " B";
}

std::string td(const std::string& s, bool numeric = false) {
    return std::string(numeric ? "<td class=\"n\">" : "<td>") + escape(s) + "</td>";
}

std::string th(const std::string& s) {
    return "<th>" + escape(s) + "</th>";
}

// "0,1" for a run's CPUs (-1: not pinned, "*").
std::string cpus_text(const json& run) {
    std::string s;
    for (const json& c : array(run, "cpus")) {
        const bool pinned = c.is_number() && c.get<double>() >= 0;
        s += (s.empty() ? "" : ",") + (pinned ? text(c) : std::string("*"));
    }
    return s;
}

// The distinct CPU sets of a mode's runs, in order ("0,1" or "0,1 / 1,0").
std::string mode_cpus(const json& mode) {
    std::vector<std::string> seen;
    for (const json& r : array(mode, "runs")) {
        const std::string c = cpus_text(r);
        if (!c.empty() && std::find(seen.begin(), seen.end(), c) == seen.end()) seen.push_back(c);
    }
    std::string s;
    for (const std::string& c : seen) s += (s.empty() ? "" : " / ") + c;
    return s;
}

// The one-minute load average over a mode's runs: "1.2" or "1.2-3.4".
std::string mode_load(const json& mode) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const json& r : array(mode, "runs")) {
        const std::vector<json> l = array(r, "load");
        if (l.empty() || !l[0].is_number()) continue;
        lo = std::min(lo, l[0].get<double>());
        hi = std::max(hi, l[0].get<double>());
    }
    if (!std::isfinite(lo)) return "";
    return fixed(lo, 1) == fixed(hi, 1) ? fixed(lo, 1) : fixed(lo, 1) + "-" + fixed(hi, 1);
}

std::string load_triple(const json& j, const char* key) {
    std::string s;
    for (const json& v : array(j, key))
        s += (s.empty() ? "" : " / ") + (v.is_number() ? fixed(v.get<double>(), 2) : text(v));
    return s.empty() ? "-" : s + " (1, 5, 15 min)";
}

// The checker's verdict on a cell: its harness-on runs' findings added up.
std::string check_cell(const json& cell) {
    const std::string c = text(cell, "checker");
    if (c.empty()) return "<td>-</td>";
    std::uint64_t findings = 0;
    for (const char* kind : {"throughput", "latency"})
        for (const json& r : array(member_or_empty(member_or_empty(cell, kind), "on"), "runs")) {
            const double f = number(r, "findings");
            if (std::isfinite(f) && f > 0) findings += static_cast<std::uint64_t>(f);
        }
    if (c == "pass") return "<td class=\"PASS\">pass</td>";
    return "<td class=\"FAIL\">" + escape(c == "fail" ? "FAIL" : c) +
           (findings ? " (" + std::to_string(findings) + ")" : "") + "</td>";
}

bool measured(const json& cell) {
    return text(cell, "status") == "measured";
}

std::string cell_name(const json& cell) {
    return text(cell, "mechanism") + " " + size_text(cell);
}

// ---- the sections ---------------------------------------------------------

std::string placement_text(const std::string& p) {
    if (p == "spread") return "spread: producer (pinger) and consumer (echo) on different CPUs";
    if (p == "same") return "same: both processes on one CPU";
    if (p == "any") return "any: not pinned";
    return p.empty() ? "-" : p;
}

// Every CPU a measured process ran on, over all runs ("*": not pinned).
std::string cpus_used(const json& bench) {
    std::set<long> pinned;
    bool unpinned = false;
    for (const json& cell : array(bench, "cells"))
        for (const char* kind : {"throughput", "latency"})
            for (const char* m : kModes)
                for (const json& r : array(member_or_empty(member_or_empty(cell, kind), m), "runs"))
                    for (const json& c : array(r, "cpus")) {
                        if (c.is_number() && c.get<double>() >= 0)
                            pinned.insert(c.get<long>());
                        else
                            unpinned = true;
                    }
    std::string s;
    for (long c : pinned) s += (s.empty() ? "" : ", ") + std::to_string(c);
    if (unpinned) s += std::string(s.empty() ? "" : "; ") + "some runs not pinned";
    return s.empty() ? "-" : s;
}

std::string machine_section(const json& bench) {
    const json& m = member_or_empty(bench, "machine");
    std::vector<std::pair<std::string, std::string>> facts = {
        {"kernel", text(m, "kernel")},
        {"machine", text(m, "machine")},
        {"CPUs online", text(m, "cpus_online")},
        {"CPU placement", placement_text(text(bench, "placement"))},
        {"CPUs used", cpus_used(bench)},
        {"load average at the start", load_triple(m, "load_at_start")},
        {"load average at the end", load_triple(bench, "load_at_end")},
        {"repetitions", text(bench, "repeat")},
        {"seconds per measurement (--duration)", text(bench, "duration_s")},
        {"planted bug (--mutant)", text(bench, "mutant")},
    };
    // Whatever else a newer bench records is shown as it is.
    static const std::set<std::string> kShownMachine = {"kernel", "machine", "cpus_online",
                                                        "load_at_start"};
    static const std::set<std::string> kShownTop = {"machine",  "placement",  "mutant",
                                                    "repeat",   "duration_s", "cells",
                                                    "failures", "verdict",    "load_at_end"};
    if (m.is_object())
        for (const auto& [k, v] : m.items())
            if (!kShownMachine.count(k)) facts.emplace_back(k, text(v));
    if (bench.is_object())
        for (const auto& [k, v] : bench.items())
            if (!kShownTop.count(k) && !v.is_structured()) facts.emplace_back(k, text(v));
    std::string s = "<h2>machine</h2><dl class=\"facts\" id=\"machine\">";
    for (const auto& [k, v] : facts) {
        std::string shown = v;
        if (k == "planted bug (--mutant)" && v.empty()) shown = "none";
        s += "<dt>" + escape(k) + "</dt><dd>" + escape(shown.empty() ? "-" : shown) + "</dd>";
    }
    return s + "</dl>";
}

std::string throughput_section(const std::vector<json>& cells, const json& bench) {
    std::string rows;
    for (const json& c : cells) {
        const json* t = member(c, "throughput");
        if (!measured(c) || !t) continue;
        rows += "<tr class=\"cell\">" + td(text(c, "mechanism")) + td(size_text(c), true) +
                td(text(*t, "messages"), true);
        for (const char* m : kModes) {
            const json& x = member_or_empty(*t, m);
            rows += td(rate(number(x, "msgs_per_s")), true) + td(mb(number(x, "mb_per_s")), true);
        }
        const json& on = member_or_empty(*t, "on");
        rows += td(fixed(number(*t, "ratio_on_raw"), 2), true) +
                td(fixed(number(*t, "ratio_off_raw"), 2), true) + check_cell(c) +
                td(mode_cpus(on)) + td(mode_load(on), true) + "</tr>";
    }
    std::string s =
        "<h2>throughput</h2><p class=\"note\">streaming producer &rarr; consumer; "
        "medians of " +
        escape(text(bench, "repeat")) +
        " repetition(s); the ratios are medians of the per-repetition ratios; "
        "CPUs and load (one-minute average) of the harness-on runs.</p>";
    if (rows.empty()) return s + "<p>not measured</p>";
    s += "<table id=\"throughput\"><tr><th rowspan=\"2\">mechanism</th><th rowspan=\"2\">size</th>"
         "<th rowspan=\"2\">messages</th>";
    for (const char* title : kModeTitles)
        s += "<th class=\"group\" colspan=\"2\">" + escape(title) + "</th>";
    s += "<th rowspan=\"2\">on/raw</th><th rowspan=\"2\">off/raw</th><th rowspan=\"2\">check</th>"
         "<th rowspan=\"2\">CPUs</th><th rowspan=\"2\">load</th></tr><tr>";
    for (std::size_t i = 0; i < std::size(kModes); ++i) s += th("msgs/s") + th("MB/s");
    return s + "</tr>" + rows + "</table>";
}

std::string latency_section(const std::vector<json>& cells, const json& bench) {
    std::string rows;
    for (const json& c : cells) {
        const json* l = member(c, "latency");
        if (!measured(c) || !l) continue;
        rows += "<tr class=\"cell\">" + td(text(c, "mechanism")) + td(size_text(c), true) +
                td(text(*l, "pings"), true);
        for (const char* m : kModes) {
            const json& x = member_or_empty(*l, m);
            for (const char* p : {"p50_ns", "p99_ns", "p999_ns"})
                rows += td(ns_text(number(x, p)), true);
        }
        const json& on = member_or_empty(*l, "on");
        rows += check_cell(c) + td(mode_cpus(on)) + td(mode_load(on), true) + "</tr>";
    }
    std::string s =
        "<h2>latency</h2><p class=\"note\">ping-pong round trips (a pinger sends, an "
        "echo relay replies on a second channel), p50 / p99 / p99.9; medians of " +
        escape(text(bench, "repeat")) + " repetition(s).</p>";
    if (rows.empty()) return s + "<p>not measured</p>";
    s += "<table id=\"latency\"><tr><th rowspan=\"2\">mechanism</th><th rowspan=\"2\">size</th>"
         "<th rowspan=\"2\">pings</th>";
    for (const char* title : kModeTitles)
        s += "<th class=\"group\" colspan=\"3\">" + escape(title) + "</th>";
    s += "<th rowspan=\"2\">check</th><th rowspan=\"2\">CPUs</th><th "
         "rowspan=\"2\">load</th></tr><tr>";
    for (std::size_t i = 0; i < std::size(kModes); ++i) s += th("p50") + th("p99") + th("p99.9");
    return s + "</tr>" + rows + "</table>";
}

// One row per mechanism: harness-on throughput at its largest measured size,
// latency p50 at its smallest, as the bench's own COMPARISON table.
std::string comparison_section(const std::vector<json>& cells) {
    std::vector<std::string> order;
    for (const json& c : cells) {
        const std::string m = text(c, "mechanism");
        if (std::find(order.begin(), order.end(), m) == order.end()) order.push_back(m);
    }
    std::string s =
        "<h2>comparison</h2><p class=\"note\">harness on; throughput at the largest measured "
        "size, latency p50 at the smallest.</p><table id=\"comparison\"><tr><th>mechanism</th>"
        "<th>throughput</th><th>latency p50</th><th>data size limit</th>"
        "<th>process relationship</th><th>raw baseline</th></tr>";
    for (const std::string& m : order) {
        const json *first = nullptr, *large = nullptr, *small = nullptr;
        for (const json& c : cells) {
            if (text(c, "mechanism") != m) continue;
            if (!first) first = &c;
            if (!measured(c)) continue;
            const double size = number(c, "size");
            if (member(c, "throughput") && (!large || size > number(*large, "size"))) large = &c;
            if (member(c, "latency") && (!small || size < number(*small, "size"))) small = &c;
        }
        std::string tp = "-", lat = "-";
        if (large) {
            const json& on = member_or_empty(member_or_empty(*large, "throughput"), "on");
            tp = mb(number(on, "mb_per_s")) + " MB/s (" + rate(number(on, "msgs_per_s")) +
                 " msgs/s) @ " + size_text(*large);
        }
        if (small) {
            const json& on = member_or_empty(member_or_empty(*small, "latency"), "on");
            lat = ns_text(number(on, "p50_ns")) + " @ " + size_text(*small);
        }
        s += "<tr class=\"mechanism\">" + td(m) + td(tp) + td(lat) +
             td(text(*first, "data_limit")) + td(text(*first, "relationship")) +
             td(text(*first, "raw_loop")) + "</tr>";
    }
    return s + "</table>";
}

std::string absent_section(const std::vector<json>& cells) {
    std::string rows;
    for (const json& c : cells)
        if (!measured(c))
            rows += "<tr>" + td(text(c, "mechanism")) + td(size_text(c), true) +
                    td(text(c, "reason")) + "</tr>";
    if (rows.empty()) return "";
    return "<h2>not measured</h2><table id=\"not-measured\"><tr><th>mechanism</th><th>size</th>"
           "<th>why</th></tr>" +
           rows + "</table>";
}

std::string failures_section(const json& bench) {
    const std::vector<json> failures = array(bench, "failures");
    std::string s = "<h2>failures (" + std::to_string(failures.size()) + ")</h2>";
    if (failures.empty()) return s + "<p>none: every harness-on run passed its checker</p>";
    s += "<div id=\"failures\">";
    for (const json& f : failures) {
        s += "<div class=\"finding\"><h3>" + escape(text(f, "cell")) +
             "</h3><p>the checker found " + escape(text(f, "total")) + " problem(s)";
        if (const std::string d = text(f, "run_dir"); !d.empty())
            s += "; run directory kept: <code>" + escape(d) + "</code>";
        s += "</p><ul>";
        const std::vector<json> listed = array(f, "findings");
        for (std::size_t i = 0; i < std::min(listed.size(), kFindingsShown); ++i)
            s += "<li>" + escape(text(listed[i])) + "</li>";
        s += "</ul>";
        if (listed.size() > kFindingsShown)
            s += "<p class=\"note\">" + std::to_string(listed.size() - kFindingsShown) +
                 " more listed in the JSON; <code>ipctorture check RUNDIR</code> shows them "
                 "all</p>";
        s += "</div>";
    }
    return s + "</div>";
}

std::string ratio_text(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2g", v);
    return b;
}

// Horizontal bars: one per measured cell, its harness-on / raw ratio, with
// a line at 1 (as fast as the raw loop).
std::string ratio_chart(const std::vector<json>& cells) {
    struct Bar {
        std::string name;
        double on, off;
    };
    std::vector<Bar> bars;
    double hi = 1;
    for (const json& c : cells) {
        const json* t = member(c, "throughput");
        if (!measured(c) || !t) continue;
        const double on = number(*t, "ratio_on_raw");
        if (!std::isfinite(on) || on < 0) continue;
        bars.push_back({cell_name(c), on, number(*t, "ratio_off_raw")});
        hi = std::max(hi, on);
    }
    std::string s =
        "<h2>harness on / raw throughput</h2><p class=\"note\">one bar per cell: the "
        "median ratio of the harness-on throughput to the raw loop's; the red line is "
        "1 (as fast as the raw loop).</p>";
    constexpr int kRow = 22;
    svg::Chart c("ratio-chart", 900, 10 + int(std::max<std::size_t>(bars.size(), 1)) * kRow + 45);
    c.margins(170, 60, 10, 45);
    c.x_axis(svg::nice_linear(0, hi), "harness-on throughput / raw throughput", ratio_text);
    if (bars.empty()) {
        c.label(c.left() + c.plot_width() / 2.0, c.top() + kRow / 2.0 + 4, "no throughput measured",
                "middle", "empty");
        return s + c.str();
    }
    for (std::size_t i = 0; i < bars.size(); ++i) {
        const Bar& b = bars[i];
        const double top = c.top() + double(i) * kRow;
        c.label(c.left() - 8, top + 15, b.name, "end");
        c.band(0, b.on, top + 4, kRow - 8, "bar",
               b.name + ": on/raw " + fixed(b.on, 2) + ", off/raw " + fixed(b.off, 2));
        c.label(c.px(b.on) + 6, top + 15, fixed(b.on, 2), "start", "ratio-label");
    }
    c.band(1, 1, c.top(), c.plot_height(), "ref", "1: the raw loop's throughput");
    return s + c.str();
}

}  // namespace

std::string bench_html(const json& bench, const std::string& source) {
    const std::vector<json> cells = array(bench, "cells");
    const std::string verdict = text(bench, "verdict") == "pass" ? "PASS" : "FAIL";
    std::string s =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>ipctorture bench</title><style>" +
        std::string(html_report_style()) + kBenchStyle +
        "</style></head><body><h1>ipctorture bench</h1>";
    s += "<p>verdict: <span class=\"" + verdict + "\" id=\"verdict\">" + verdict + "</span> (" +
         (verdict == "PASS" ? "every harness-on run passed its checker"
                            : "a harness-on run had findings, listed below") +
         ")";
    if (!source.empty()) s += "<br>figures read from <code>" + escape(source) + "</code>";
    s += "</p><p class=\"note\">on: the whole harness (payload generation, verification of every "
         "byte, event-log records, the checker); off: the same scenario and backend code without "
         "them; raw: a minimal loop over the mechanism's system calls.</p>";
    s += machine_section(bench);
    s += throughput_section(cells, bench);
    s += ratio_chart(cells);
    s += latency_section(cells, bench);
    s += comparison_section(cells);
    s += absent_section(cells);
    s += failures_section(bench);
    s += "</body></html>\n";
    return s;
}

void write_bench_html(const std::string& path, const json& bench, const std::string& source) {
    std::ofstream out(path);
    out << bench_html(bench, source);
    out.flush();
    if (!out) throw EnvironmentError("cannot write " + path);
}

int bench_html_from_json(const std::string& json_path, const std::string& html_path) {
    if (html_path.empty()) {
        std::cerr << "bench: --from-json needs --html FILE (the page to write)\n";
        return 2;
    }
    std::ifstream in(json_path);
    if (!in) {
        std::cerr << "bench: cannot read " << json_path << "\n";
        return 2;
    }
    json j;
    try {
        in >> j;
    } catch (const json::exception& e) {
        std::cerr << "bench: " << json_path << " is not JSON: " << e.what() << "\n";
        return 2;
    }
    if (!j.is_object() || !j.contains("cells") || !j["cells"].is_array()) {
        std::cerr << "bench: " << json_path << " is not a bench's JSON (no \"cells\" array)\n";
        return 2;
    }
    try {
        write_bench_html(html_path, j, json_path);
    } catch (const EnvironmentError& e) {
        std::cerr << "bench: " << e.what() << "\n";
        return 3;
    }
    return 0;
}

}  // namespace ipct
