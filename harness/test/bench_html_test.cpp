// The bench's HTML page, from handmade bench JSON: the rows and ratios of
// every table, escaping of every name, a single document with nothing
// fetched, and a JSON with holes (nulls, missing members, nothing measured)
// drawn without a crash or a nan.
#include "ipctorture/bench_html.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "test_util.hpp"

namespace ipct {
namespace {

using nlohmann::json;

std::size_t occurrences(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}

json run(double rate, std::vector<int> cpus, double load, const char* verdict = nullptr,
         int findings = 0) {
    json r{{"secs", 0.01},       {"messages", 1000},
           {"cpus", cpus},       {"load", {load, 1.0, 0.5}},
           {"msgs_per_s", rate}, {"mb_per_s", rate * 64 / 1e6},
           {"bytes", 64000}};
    if (verdict) {
        r["verdict"] = verdict;
        r["findings"] = findings;
        r["check_s"] = 0.1;
    }
    return r;
}

json lat_run(double p50, std::vector<int> cpus, double load) {
    return {{"secs", 0.01},  {"messages", 200},   {"cpus", cpus},       {"load", {load, 1.0, 0.5}},
            {"p50_ns", p50}, {"p99_ns", p50 * 2}, {"p999_ns", p50 * 3}, {"samples", 200}};
}

json mode(double rate, double load, const char* verdict = nullptr, int findings = 0) {
    return {{"msgs_per_s", rate},
            {"mb_per_s", rate * 64 / 1e6},
            {"runs", json::array({run(rate, {0, 1}, load, verdict, findings)})}};
}

json lat_mode(double p50, double load) {
    return {{"p50_ns", p50},
            {"p99_ns", p50 * 2},
            {"p999_ns", p50 * 3},
            {"runs", json::array({lat_run(p50, {0, 1}, load)})}};
}

// A small bench JSON as `bench --json` writes it: pipe measured at 64 B and
// 4 KiB, a mechanism whose name needs escaping, an absent cell, a failure.
json sample() {
    json pipe64{{"mechanism", "pipe"},
                {"backend", "pipe"},
                {"size", 64},
                {"relationship", "related (inherited fd)"},
                {"data_limit", "byte stream; writes up to PIPE_BUF (4096 B) atomic"},
                {"raw_loop", "pipe(), write()/read()"},
                {"options", json::object()},
                {"status", "measured"},
                {"throughput",
                 {{"messages", 12345},
                  {"raw", mode(400000, 0.25)},
                  {"off", mode(300000, 0.25)},
                  {"on", mode(250000, 0.75, "pass")},
                  {"ratio_on_raw", 0.6251},
                  {"ratio_off_raw", 0.75}}},
                {"latency",
                 {{"pings", 321},
                  {"raw", lat_mode(8000, 0.25)},
                  {"off", lat_mode(9000, 0.25)},
                  {"on", lat_mode(12000, 0.5)}}},
                {"checker", "pass"}};
    json pipe4k = pipe64;
    pipe4k["size"] = 4096;
    pipe4k["throughput"]["ratio_on_raw"] = 0.4125;
    pipe4k["throughput"]["on"]["mb_per_s"] = 456.0;
    json odd = pipe64;
    odd["mechanism"] = "<b>odd&\"mech'</b>";
    odd["relationship"] = "<script>alert(1)</script>";
    odd["throughput"]["ratio_on_raw"] = 1.5;
    odd["throughput"]["on"] = mode(250000, 0.75, "fail", 7);
    odd["checker"] = "fail";
    json absent{{"mechanism", "signal"},
                {"backend", "signal"},
                {"size", 4096},
                {"relationship", "unrelated (a pid)"},
                {"data_limit", "one sigval"},
                {"raw_loop", "sigqueue()"},
                {"status", "absent"},
                {"reason", "every message is the <header>"}};
    return {{"machine",
             {{"cpus_online", 2},
              {"kernel", "6.1.0-test"},
              {"machine", "x86_64"},
              {"load_at_start", {0.5, 0.25, 0.125}},
              {"cpu_model", "Handmade CPU <v2>"}}},
            {"placement", "spread"},
            {"mutant", ""},
            {"repeat", 1},
            {"duration_s", 0.25},
            {"load_at_end", {0.75, 0.5, 0.25}},
            {"cells", {pipe64, pipe4k, odd, absent}},
            {"failures",
             {{{"cell", "<b>odd&\"mech'</b>/64"},
               {"run_dir", "/tmp/ipct/run-<1>"},
               {"total", 7},
               {"findings", {"lost: seq 5 <never> received"}}}}},
            {"verdict", "fail"}};
}

// The table element with the given id, up to its end.
std::string table(const std::string& page, const std::string& id) {
    const auto a = page.find("<table id=\"" + id + "\"");
    if (a == std::string::npos) return "";
    return page.substr(a, page.find("</table>", a) - a);
}

TEST(BenchHtml, TablesHaveEveryMeasuredCellWithItsFigures) {
    const std::string page = bench_html(sample());
    const std::string tp = table(page, "throughput");
    ASSERT_FALSE(tp.empty()) << page;
    EXPECT_EQ(occurrences(tp, "<tr class=\"cell\">"), 3u);
    EXPECT_NE(tp.find("<td>pipe</td><td class=\"n\">64 B</td><td class=\"n\">12345</td>"),
              std::string::npos)
        << tp;
    EXPECT_NE(tp.find("<td>pipe</td><td class=\"n\">4 KiB</td>"), std::string::npos) << tp;
    for (const char* figure : {"400k", "300k", "250k", "0.63", "0.75", "0.41", "1.50", "456"})
        EXPECT_NE(tp.find(std::string(">") + figure + "<"), std::string::npos) << figure;
    EXPECT_NE(tp.find("<td class=\"PASS\">pass</td>"), std::string::npos);
    EXPECT_NE(tp.find("<td class=\"FAIL\">FAIL (7)</td>"), std::string::npos) << tp;
    EXPECT_NE(tp.find("<td>0,1</td>"), std::string::npos) << "CPUs";
    EXPECT_NE(tp.find(">0.8<"), std::string::npos) << "load of the harness-on run";
    EXPECT_EQ(tp.find("signal"), std::string::npos) << "an absent cell has no row";

    const std::string lat = table(page, "latency");
    ASSERT_FALSE(lat.empty());
    EXPECT_EQ(occurrences(lat, "<tr class=\"cell\">"), 3u);
    EXPECT_NE(lat.find("<td class=\"n\">321</td>"), std::string::npos);
    for (const char* us : {"8 \xC2\xB5s", "16 \xC2\xB5s", "24 \xC2\xB5s", "9 \xC2\xB5s",
                           "12 \xC2\xB5s", "36 \xC2\xB5s"})
        EXPECT_NE(lat.find(std::string(">") + us + "<"), std::string::npos) << us;

    const std::string cmp = table(page, "comparison");
    ASSERT_FALSE(cmp.empty());
    EXPECT_EQ(occurrences(cmp, "<tr class=\"mechanism\">"), 3u);
    EXPECT_NE(cmp.find("456 MB/s (250k msgs/s) @ 4 KiB"), std::string::npos) << cmp;
    EXPECT_NE(cmp.find("12 \xC2\xB5s @ 64 B"), std::string::npos) << cmp;
    EXPECT_NE(cmp.find("byte stream; writes up to PIPE_BUF (4096 B) atomic"), std::string::npos);
    EXPECT_NE(cmp.find("related (inherited fd)"), std::string::npos);

    const std::string absent = table(page, "not-measured");
    EXPECT_NE(absent.find("<td>signal</td><td class=\"n\">4 KiB</td>"), std::string::npos)
        << absent;
    EXPECT_NE(absent.find("every message is the &lt;header&gt;"), std::string::npos);
}

TEST(BenchHtml, MachineFactsFailuresAndChart) {
    const std::string page = bench_html(sample(), "saved/bench.json");
    const auto m = page.find("<dl class=\"facts\" id=\"machine\">");
    ASSERT_NE(m, std::string::npos);
    const std::string facts = page.substr(m, page.find("</dl>", m) - m);
    for (const char* f : {"6.1.0-test", "x86_64", "<dd>2</dd>", "spread: producer", "<dd>0, 1</dd>",
                          "0.50 / 0.25 / 0.12", "0.75 / 0.50 / 0.25",
                          "<dt>cpu_model</dt><dd>Handmade CPU &lt;v2&gt;</dd>", "<dd>none</dd>"})
        EXPECT_NE(facts.find(f), std::string::npos) << f << "\n" << facts;
    EXPECT_NE(page.find("<span class=\"FAIL\" id=\"verdict\">FAIL</span>"), std::string::npos);
    EXPECT_NE(page.find("figures read from <code>saved/bench.json</code>"), std::string::npos);

    const auto f = page.find("<div id=\"failures\">");
    ASSERT_NE(f, std::string::npos);
    EXPECT_NE(page.find("failures (1)"), std::string::npos);
    EXPECT_NE(page.find("/tmp/ipct/run-&lt;1&gt;", f), std::string::npos);
    EXPECT_NE(page.find("<li>lost: seq 5 &lt;never&gt; received</li>", f), std::string::npos);

    // One bar per measured throughput cell, its value beside it, and the line at 1.
    const auto svg_at = page.find("<svg");
    ASSERT_NE(svg_at, std::string::npos);
    const std::string chart = page.substr(svg_at, page.find("</svg>", svg_at) - svg_at);
    EXPECT_NE(chart.find("id=\"ratio-chart\""), std::string::npos);
    EXPECT_EQ(occurrences(chart, "<rect class=\"bar\""), 3u);
    EXPECT_EQ(occurrences(chart, "<rect class=\"ref\""), 1u);
    EXPECT_NE(chart.find("<title>pipe 64 B: on/raw 0.63, off/raw 0.75</title>"), std::string::npos)
        << chart;
    EXPECT_NE(chart.find(">0.41</text>"), std::string::npos);
    EXPECT_NE(chart.find(">1.50</text>"), std::string::npos);
}

TEST(BenchHtml, ALongListOfFindingsIsCut) {
    json j = sample();
    json many = json::array();
    for (int i = 0; i < 35; ++i) many.push_back("lost: seq " + std::to_string(i));
    j["failures"][0]["findings"] = many;
    const std::string page = bench_html(j);
    EXPECT_EQ(occurrences(page, "<li>lost: seq "), 20u);
    EXPECT_NE(page.find("<li>lost: seq 19</li>"), std::string::npos);
    EXPECT_EQ(page.find("<li>lost: seq 20</li>"), std::string::npos);
    EXPECT_NE(page.find("15 more listed in the JSON"), std::string::npos);
}

TEST(BenchHtml, NamesAreEscapedEverywhere) {
    const std::string page = bench_html(sample());
    EXPECT_EQ(page.find("<b>"), std::string::npos);
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_EQ(page.find("odd&\""), std::string::npos);
    EXPECT_NE(page.find("&lt;b&gt;odd&amp;&quot;mech&#39;&lt;/b&gt;"), std::string::npos);
    EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

TEST(BenchHtml, OneSelfContainedDocument) {
    const std::string page = bench_html(sample());
    EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_EQ(occurrences(page, "<html"), 1u);
    EXPECT_EQ(occurrences(page, "</html>"), 1u);
    EXPECT_EQ(occurrences(page, "<body>"), 1u);
    EXPECT_EQ(occurrences(page, "<style>"), 1u);
    EXPECT_EQ(page.substr(page.size() - 8), "</html>\n");
    for (const char* fetch : {"<script", "<link", "<img", "<iframe", "src=", "href=", "url(",
                              "@import", "http://", "https://"}) {
        // The only URL allowed is the SVG namespace, which is never fetched.
        std::string rest = page;
        for (std::size_t p;
             (p = rest.find("xmlns=\"http://www.w3.org/2000/svg\"")) != std::string::npos;)
            rest.erase(p, 34);
        EXPECT_EQ(rest.find(fetch), std::string::npos) << fetch;
    }
    std::smatch bad;
    EXPECT_FALSE(
        std::regex_search(page, bad, std::regex(R"(="[^"]*(nan|inf)[^"]*")", std::regex::icase)))
        << bad.str();
}

TEST(BenchHtml, HolesInTheJsonShowAsDashes) {
    json j = sample();
    j["cells"][0]["throughput"]["ratio_on_raw"] = nullptr;  // a NaN written by nlohmann
    j["cells"][0]["throughput"]["raw"].erase("msgs_per_s");
    j["cells"][1].erase("latency");
    j.erase("machine");
    const std::string page = bench_html(j);
    const std::string tp = table(page, "throughput");
    EXPECT_EQ(occurrences(tp, "<tr class=\"cell\">"), 3u);
    EXPECT_NE(tp.find("<td class=\"n\">-</td>"), std::string::npos);
    EXPECT_EQ(occurrences(table(page, "latency"), "<tr class=\"cell\">"), 2u);
    EXPECT_NE(page.find("<dt>kernel</dt><dd>-</dd>"), std::string::npos);
    // The cell without a ratio has no bar.
    EXPECT_EQ(occurrences(page, "<rect class=\"bar\""), 2u);

    const std::string empty = bench_html(json::object());
    EXPECT_NE(empty.find("</html>"), std::string::npos);
    EXPECT_NE(empty.find("no throughput measured"), std::string::npos);
    EXPECT_EQ(empty.find("<table id=\"throughput\""), std::string::npos);
    EXPECT_EQ(bench_html(json::array()).find("nan"), std::string::npos);
}

TEST(BenchHtml, FromJsonWritesThePageOrRefuses) {
    test::TempDir d;
    const std::string in = d.path + "/bench.json", out = d.path + "/bench.html";
    std::ofstream(in) << sample().dump(2);
    EXPECT_EQ(bench_html_from_json(in, out), 0);
    EXPECT_EQ(test::slurp(out), bench_html(sample(), in));

    EXPECT_EQ(bench_html_from_json(in, ""), 2);
    EXPECT_EQ(bench_html_from_json(d.path + "/missing.json", out), 2);
    std::ofstream(d.path + "/bad.json") << "{not json";
    EXPECT_EQ(bench_html_from_json(d.path + "/bad.json", out), 2);
    std::ofstream(d.path + "/other.json") << R"({"scenarios": []})";
    EXPECT_EQ(bench_html_from_json(d.path + "/other.json", out), 2);
    EXPECT_EQ(bench_html_from_json(in, d.path + "/no/such/dir/x.html"), 3);
}

}  // namespace
}  // namespace ipct
