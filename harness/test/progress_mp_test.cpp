// End-to-end: progress on stderr through the real binary, not on a terminal
// (plain lines) and on one (a pseudo-terminal made by script(1): one line
// rewritten in place).  Live progress lines depend on timing, so the tests
// check the form of every line there is, and the lines that are always
// there; none waits for a progress line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace ipct::test;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l, sep);) v.push_back(l);
    return v;
}

// "[1/2] NAME  3.2s/10.0s  sent 123 (45/s)" and its other forms.
const std::regex kLive(
    R"(\[[0-9]+/[0-9]+\] [a-z0-9-]+  (starting [0-9.]+s|[0-9.]+s/[0-9.]+s|[0-9.]+s \(timeout [0-9]+s\))  sent [0-9]+(/[0-9]+)?( \([0-9.]+[kM]?/s\))?(  findings so far [0-9]+ in [0-9]+ runs?)?)");

TEST(Progress, PlainLinesWhenStderrIsNotATerminal) {
    TempDir root, scratch;
    const std::string a = source("scenarios/smoke/pipe-one-to-one.yaml"),
                      b = source("scenarios/zoo/pipe-fan-in-interleave.yaml");
    auto r = run_binary({"run", a, b}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    ASSERT_LE(r.status, 1) << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos);
    EXPECT_EQ(r.err.find('\033'), std::string::npos);
    std::vector<std::string> fixed;  // the lines that are always there
    for (const std::string& l : split(r.err, '\n')) {
        if (std::regex_match(l, kLive)) continue;
        fixed.push_back(l);
    }
    ASSERT_EQ(fixed.size(), 4u) << r.err;
    EXPECT_EQ(fixed[0], "running [1/2] pipe-one-to-one (" + a + ")");
    EXPECT_TRUE(std::regex_match(fixed[1], std::regex(R"(\[1/2\] pipe-one-to-one: PASS [0-9.]+s)")))
        << fixed[1];
    EXPECT_EQ(fixed[2], "running [2/2] pipe-fan-in-interleave (" + b + ")");
    EXPECT_TRUE(std::regex_match(
        fixed[3],
        std::regex(R"(\[2/2\] pipe-fan-in-interleave: (PASS|FAIL) [0-9.]+s(, [0-9]+ findings?)?)")))
        << fixed[3];
    run_binary({"clean"}, root.path, scratch.path);
}

TEST(Progress, QuietPrintsNothing) {
    TempDir root, scratch;
    auto r = run_binary(
        {"run", source("scenarios/smoke/pipe-one-to-one.yaml"), "--repeat", "2", "--quiet"},
        root.path, scratch.path);
    ASSERT_EQ(r.status, 0);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out, "");
}

// On a terminal: no plain start line; every segment between carriage
// returns is a live line or the run's end line.
TEST(Progress, OneLineRewrittenOnATerminal) {
    TempDir root, scratch;
    const std::string log = scratch.path + "/typescript";
    const std::string cmd = std::string("IPCTORTURE_RUN_ROOT='") + root.path + "' TERM=xterm '" +
                            IPCT_BINARY + "' run '" +
                            source("scenarios/smoke/pipe-one-to-one.yaml") + "' >/dev/null";
    const int st = std::system(
        ("timeout 120 script -qfec \"" + cmd + "\" '" + log + "' </dev/null >/dev/null 2>&1")
            .c_str());
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
    std::string out = slurp(log);
    // script(1) writes its own first and last lines around the session.
    const auto begin = out.find('\n'), end = out.rfind("\nScript done");
    ASSERT_NE(begin, std::string::npos) << out;
    out = out.substr(begin + 1, end == std::string::npos ? std::string::npos : end - begin - 1);
    EXPECT_EQ(out.find("running "), std::string::npos) << out;
    ASSERT_NE(out.find("\r\033[K[1/1] pipe-one-to-one: PASS "), std::string::npos) << out;
    for (std::string seg : split(out, '\r')) {
        if (seg.empty() || seg == "\033[K" || seg == "\n") continue;
        if (seg.ends_with("\033[K")) seg.resize(seg.size() - 3);
        if (seg.starts_with("\033[K")) seg = seg.substr(3);
        if (seg.ends_with("\n")) seg.pop_back();
        EXPECT_TRUE(std::regex_match(seg, kLive) ||
                    std::regex_match(seg, std::regex(R"(\[1/1\] pipe-one-to-one: PASS [0-9.]+s)")))
            << "[" << seg << "]";
    }
}

}  // namespace
