// The HTML report's writer: escaping, the SVG helper's axes, and pages for
// the awkward runs (empty channels, a run that never started, a run of no
// duration, a histogram of one sample).
#include "ipctorture/html_report.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "checker_history.hpp"
#include "ipctorture/svg.hpp"

namespace ipct {
namespace {

std::size_t occurrences(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}

// Every numeric attribute is a finite number: no nan or inf reached the SVG.
void expect_finite_attributes(const std::string& page) {
    const std::regex bad(R"(="[^"]*(nan|inf)[^"]*")", std::regex::icase);
    std::smatch m;
    EXPECT_FALSE(std::regex_search(page, m, bad)) << m.str();
}

TEST(HtmlEscape, MarkupBecomesEntities) {
    EXPECT_EQ(svg::escape("<a href='x'>&\"</a>"),
              "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    EXPECT_EQ(svg::escape("plain text 123"), "plain text 123");
    EXPECT_EQ(svg::escape("tab\tand\nnewline"), "tab\tand\nnewline");
}

TEST(HtmlEscape, InvalidUtf8IsReplaced) {
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(svg::escape("a\xFF"
                          "b"),
              "a" + fffd + "b");
    EXPECT_EQ(svg::escape("\xC0\xAF"), fffd + fffd);             // overlong '/'
    EXPECT_EQ(svg::escape("x\xE2\x82"), "x" + fffd + fffd);      // cut short at the end
    EXPECT_EQ(svg::escape("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate
    EXPECT_EQ(svg::escape("\x01\x7F"), fffd + fffd);             // control characters
    EXPECT_EQ(svg::escape("\xC2\xB5s \xE2\x82\xAC \xF0\x9F\x98\x80"),
              "\xC2\xB5s \xE2\x82\xAC \xF0\x9F\x98\x80");  // valid: kept
}

TEST(Svg, LinearAndLogTicks) {
    const auto lin = svg::linear_ticks(0, 10, 5, svg::count_text);
    ASSERT_EQ(lin.size(), 6u);
    EXPECT_EQ(lin.front().value, 0);
    EXPECT_EQ(lin.back().value, 10);
    EXPECT_EQ(lin[1].label, "2");
    const auto lg = svg::log_ticks(1, 1e4, svg::duration_text);
    ASSERT_EQ(lg.size(), 5u);
    EXPECT_EQ(lg[0].label, "1 ns");
    EXPECT_EQ(lg[3].label, "1 \xC2\xB5s");
    EXPECT_EQ(lg[4].label, "10 \xC2\xB5s");
    EXPECT_TRUE(svg::linear_ticks(3, 3, 5, svg::count_text).empty());
    const svg::Scale s = svg::nice_linear(5, 5);
    EXPECT_LT(s.lo, s.hi);
    const svg::Scale l = svg::nice_log(250, 250);
    EXPECT_EQ(l.lo, 100);
    EXPECT_EQ(l.hi, 1000);
    EXPECT_EQ(svg::duration_text(2.5e9), "2.5 s");
    EXPECT_EQ(svg::count_text(12300), "12.3k");
}

TEST(Svg, ChartHasAxesTicksAndTitles) {
    svg::Chart c("c1", 400, 200);
    c.x_axis(svg::nice_log(1, 1e6), "latency", svg::duration_text);
    c.y_axis(svg::nice_linear(0, 10), "messages", svg::count_text);
    c.bar(10, 20, 5, "bar", "<b>");
    const std::string s = c.str();
    EXPECT_NE(s.find("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"c1\""), std::string::npos);
    EXPECT_EQ(occurrences(s, "class=\"axis\""), 2u);
    EXPECT_EQ(occurrences(s, "class=\"axis-title\""), 2u);
    EXPECT_NE(s.find(">1 ms<"), std::string::npos);
    EXPECT_NE(s.find("<title>&lt;b&gt;</title>"), std::string::npos);
    expect_finite_attributes(s);
}

// A one-channel run built from a hand-made history.
ScenarioReport report_of(checker_test::Hist& h, const std::string& name) {
    ScenarioReport r;
    r.name = name;
    r.file = "scenarios/" + name + ".yaml";
    r.seed = 77;
    r.ran = true;
    r.reproduce = "ipctorture run " + r.file + " --seed 77";
    r.outcome.plan = h.plan;
    r.outcome.plan.scenario_name = name;
    r.outcome.result = h.check();
    return r;
}

TEST(HtmlReport, ScenarioTextIsEscapedEverywhere) {
    checker_test::OneToOne t(10, 4);
    t.h.plan.channels[0].name = "<script>alert(1)</script>";
    t.h.plan.processes[0].name = "p\"><img src=x onerror=alert(2)>";
    ScenarioReport r = report_of(t.h, "evil<script>alert(3)</script>\xFF");
    ASSERT_FALSE(r.outcome.result.findings.empty());
    r.reproduce = "ipctorture run '<script>'";
    const std::string page = html_report({r}, "ipctorture run x --html \xFE.html");
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_EQ(page.find("<img"), std::string::npos);
    EXPECT_NE(page.find("evil&lt;script&gt;alert(3)&lt;/script&gt;\xEF\xBF\xBD"),
              std::string::npos);
    EXPECT_NE(page.find("channel &lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_EQ(page.find('\xFE'), std::string::npos);
    EXPECT_EQ(page.find('\xFF'), std::string::npos);
    // Nothing fetched: no external reference of any kind (the injected
    // src= above is text now, between &lt; and &gt;).
    EXPECT_NE(page.find("&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
    EXPECT_EQ(page.find("<link"), std::string::npos);
    EXPECT_EQ(page.find("href=\"http"), std::string::npos);
    EXPECT_EQ(page.find("@import"), std::string::npos);
    EXPECT_EQ(page.find("url("), std::string::npos);
}

TEST(HtmlReport, FailingRunShowsChartsTimelineAndEvidence) {
    checker_test::OneToOne t(50, 20);
    ScenarioReport r = report_of(t.h, "one-lost");
    const std::string page = html_report({r}, "ipctorture run one-lost.yaml");
    EXPECT_NE(page.find("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline-0\""),
              std::string::npos);
    EXPECT_NE(page.find("id=\"latency-0-0\""), std::string::npos);
    EXPECT_NE(page.find("id=\"throughput-0-0\""), std::string::npos);
    EXPECT_NE(page.find("id=\"finding-0-0\""), std::string::npos);
    EXPECT_NE(page.find("origin 7 seq 20 sent ok, never received"), std::string::npos);
    EXPECT_NE(page.find("class=\"evidence\""), std::string::npos);
    EXPECT_EQ(occurrences(page, "class=\"finding-mark\""), 1u);  // the lost message's send
    EXPECT_NE(page.find("ipctorture run scenarios/one-lost.yaml --seed 77"), std::string::npos);
    EXPECT_NE(page.find("<td class=\"FAIL\">FAIL</td>"), std::string::npos);
    expect_finite_attributes(page);
}

TEST(HtmlReport, EmptyChannelHasEmptyCharts) {
    checker_test::Hist h;
    const std::uint32_t ch = h.channel("quiet");
    h.producer("producer0", ch, 1);
    const std::uint32_t c = h.consumer("consumer0", ch);
    h.rec(c, Op::kStart, 10, 10, kNoChannel);
    h.exit(c, 20);
    const std::string page = html_report({report_of(h, "quiet")}, "cmd");
    EXPECT_NE(page.find("id=\"latency-0-0\""), std::string::npos);
    EXPECT_NE(page.find("id=\"throughput-0-0\""), std::string::npos);
    EXPECT_EQ(occurrences(page, "no message received"), 2u);
    EXPECT_EQ(occurrences(page, "class=\"bar\""), 0u);
    EXPECT_NE(page.find("no records: never started"), std::string::npos);  // producer0
    expect_finite_attributes(page);
}

TEST(HtmlReport, RunThatNeverStarted) {
    ScenarioReport r;
    r.name = "broken";
    r.file = "broken.yaml";
    r.seed = 1;
    r.ran = false;
    r.error = "cannot create <channel>";
    r.reproduce = "ipctorture run broken.yaml --seed 1";
    const std::string page = html_report({r}, "cmd");
    EXPECT_NE(page.find("The run never started: cannot create &lt;channel&gt;"), std::string::npos);
    EXPECT_NE(page.find("id=\"never-started-0\""), std::string::npos);
    EXPECT_EQ(page.find("timeline-0"), std::string::npos);
    EXPECT_NE(page.find("<td class=\"ERROR\">ERROR</td>"), std::string::npos);
}

TEST(HtmlReport, ZeroDurationRun) {
    checker_test::Hist h;
    const std::uint32_t ch = h.channel("ch");
    const std::uint32_t p = h.producer("producer0", ch, 1);
    const std::uint32_t c = h.consumer("consumer0", ch);
    h.send(p, 1000, 1000, 0);
    h.recv(c, 1000, 1000, 1, 0);
    ScenarioReport r = report_of(h, "instant");
    r.outcome.t_start_ns = 1000;
    r.outcome.t_end_ns = 1000;
    const std::string page = html_report({r}, "cmd");
    EXPECT_NE(page.find("id=\"timeline-0\""), std::string::npos);
    EXPECT_EQ(occurrences(page, "class=\"bar\""), 1u);  // one latency of 0 ns
    EXPECT_EQ(occurrences(page, "class=\"tput\""), 1u);
    expect_finite_attributes(page);
}

TEST(HtmlReport, HistogramOfOneSample) {
    checker_test::Hist h;
    const std::uint32_t ch = h.channel("ch");
    const std::uint32_t p = h.producer("producer0", ch, 1);
    const std::uint32_t c = h.consumer("consumer0", ch);
    h.send(p, 100, 110, 0);
    h.recv(c, 120, 5100, 1, 0);
    const std::string page = html_report({report_of(h, "single")}, "cmd");
    EXPECT_EQ(occurrences(page, "class=\"bar\""), 1u);
    EXPECT_NE(page.find("5 \xC2\xB5s"), std::string::npos);  // min = max = 5000 ns
    expect_finite_attributes(page);
}

TEST(HtmlReport, RepetitionsGetRowsAndFailuresGetSections) {
    checker_test::OneToOne good(5);
    checker_test::OneToOne bad(5, 2);
    std::vector<ScenarioReport> reps;
    for (std::uint32_t i = 0; i < 4; ++i) {
        reps.push_back(report_of(i == 2 ? bad.h : good.h, "rep"));
        reps.back().repetition = i;
        reps.back().seed = 100 + i;
    }
    const std::string page = html_report(reps, "cmd");
    EXPECT_EQ(occurrences(page, "<tr class=\"run\">"), 4u);
    EXPECT_NE(page.find("id=\"run-2\""), std::string::npos);
    EXPECT_EQ(occurrences(page, "<section"), 1u);
    EXPECT_NE(page.find("rep, repetition 3"), std::string::npos);
}

}  // namespace
}  // namespace ipct
