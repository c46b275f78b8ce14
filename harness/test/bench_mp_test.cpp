// `ipctorture bench` with tiny counts over every mechanism and size: the
// JSON has every cell, each measured cell has sane figures and a passing
// checker, and nothing is left behind.  Speed is never asserted.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace ipct::test;
using nlohmann::json;

namespace {

const std::vector<std::string> kMechanisms = {
    "pipe", "fifo", "posix_mq",   "sysv_msg", "unix_stream", "unix_dgram",    "unix_seqpacket",
    "tcp",  "udp",  "shm:atomic", "shm:none", "shm:mutex",   "shm:semaphore", "signal"};
const std::vector<std::uint32_t> kSizes = {64, 4096, 65536};

std::vector<std::string> named(const std::string& dir, const std::string& part) {
    std::vector<std::string> v;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec))
        if (e.path().filename().string().find(part) != std::string::npos)
            v.push_back(e.path().string());
    return v;
}

void expect_ordered_latency(const json& l, const std::string& where) {
    for (const char* mode : {"raw", "off", "on"}) {
        SCOPED_TRACE(where + " latency " + mode);
        const json& m = l.at(mode);
        EXPECT_GT(m.at("p50_ns").get<double>(), 0);
        EXPECT_LE(m.at("p50_ns").get<double>(), m.at("p99_ns").get<double>());
        EXPECT_LE(m.at("p99_ns").get<double>(), m.at("p999_ns").get<double>());
        ASSERT_FALSE(m.at("runs").empty());
        for (const json& r : m.at("runs")) {
            EXPECT_GT(r.at("samples").get<std::uint64_t>(), 0u);
            EXPECT_LE(r.at("p50_ns").get<double>(), r.at("p99_ns").get<double>());
            EXPECT_LE(r.at("p99_ns").get<double>(), r.at("p999_ns").get<double>());
            EXPECT_EQ(r.at("cpus").size(), 2u);
            EXPECT_EQ(r.at("load").size(), 3u);
            if (std::string(mode) == "on") {
                EXPECT_EQ(r.at("verdict"), "pass");
            }
        }
    }
}

void expect_sane_throughput(const json& t, const std::string& where) {
    EXPECT_GT(t.at("messages").get<std::uint64_t>(), 0u);
    for (const char* mode : {"raw", "off", "on"}) {
        SCOPED_TRACE(where + " throughput " + mode);
        const json& m = t.at(mode);
        EXPECT_GT(m.at("msgs_per_s").get<double>(), 0);
        EXPECT_GT(m.at("mb_per_s").get<double>(), 0);
        ASSERT_FALSE(m.at("runs").empty());
        for (const json& r : m.at("runs")) {
            EXPECT_GT(r.at("messages").get<std::uint64_t>(), 0u);
            EXPECT_GT(r.at("bytes").get<std::uint64_t>(), 0u);
            EXPECT_GT(r.at("secs").get<double>(), 0);
            EXPECT_EQ(r.at("cpus").size(), 2u);
            EXPECT_EQ(r.at("load").size(), 3u);
            if (std::string(mode) == "on") {
                EXPECT_EQ(r.at("verdict"), "pass");
            }
        }
    }
    EXPECT_GT(t.at("ratio_on_raw").get<double>(), 0);
    EXPECT_GT(t.at("ratio_off_raw").get<double>(), 0);
}

}  // namespace

TEST(Bench, EveryMechanismAndSizeHasSaneFiguresAndNothingIsLeft) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/bench.json";
    const auto mq_before = named("/dev/mqueue", "ipct-rawbench");
    const auto tmp_before = named("/tmp", "ipct-rawbench");
    auto r = run_binary({"bench", "--messages", "60", "--pings", "20", "--repeat", "1",
                         "--placement", "any", "--json", out},
                        root.path, scratch.path, std::chrono::seconds(280));
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    for (const char* table : {"THROUGHPUT", "LATENCY", "COMPARISON"})
        EXPECT_NE(r.out.find(table), std::string::npos) << r.out;

    const json j = json::parse(slurp(out));
    EXPECT_EQ(j.at("verdict"), "pass");
    EXPECT_TRUE(j.at("failures").empty());
    std::set<std::pair<std::string, std::uint32_t>> seen;
    for (const json& c : j.at("cells")) {
        const std::string mech = c.at("mechanism");
        const std::uint32_t size = c.at("size");
        const std::string where = mech + "/" + std::to_string(size);
        EXPECT_TRUE(seen.emplace(mech, size).second) << "cell twice: " << where;
        EXPECT_FALSE(c.at("relationship").get<std::string>().empty()) << where;
        EXPECT_FALSE(c.at("data_limit").get<std::string>().empty()) << where;
        if (c.at("status") == "absent") {
            EXPECT_FALSE(c.at("reason").get<std::string>().empty()) << where;
            continue;
        }
        ASSERT_EQ(c.at("status"), "measured") << where;
        EXPECT_EQ(c.at("checker"), "pass") << where;
        expect_sane_throughput(c.at("throughput"), where);
        expect_ordered_latency(c.at("latency"), where);
    }
    for (const std::string& m : kMechanisms)
        for (std::uint32_t s : kSizes)
            EXPECT_TRUE(seen.count({m, s})) << "no cell for " << m << "/" << s;
    // Every mechanism but the header-only signal carries 64 B and 4 KiB on
    // any kernel's defaults; the signal is measured at its header size.
    for (const json& c : j.at("cells")) {
        const std::string mech = c.at("mechanism");
        const std::uint32_t size = c.at("size");
        if (mech != "signal" && size <= 4096) {
            EXPECT_EQ(c.at("status"), "measured") << mech << size;
        }
        if (mech == "signal") {
            EXPECT_EQ(c.at("status"), size == 32 ? "measured" : "absent") << size;
        }
    }
    EXPECT_TRUE(seen.count({"signal", 32}));

    EXPECT_TRUE(root.entries().empty()) << "the bench left run directories behind";
    EXPECT_EQ(named("/dev/mqueue", "ipct-rawbench"), mq_before);
    EXPECT_EQ(named("/tmp", "ipct-rawbench"), tmp_before);
}

TEST(Bench, RejectsUnknownMechanismsAndEmptyWork) {
    TempDir root, scratch;
    auto r = run_binary({"bench", "--backends", "carrier_pigeon"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    r = run_binary({"bench", "--no-throughput", "--no-latency"}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_TRUE(root.entries().empty());
}

// A planted bug under the bench: the harness-on runs' checker finds it and
// the bench fails (exit 1, verdict fail, the findings named), instead of
// reporting a rate.  The mutant sends a standard signal, which coalesces
// while one is pending: thousands of back-to-back sends lose some (the zoo's
// signal-standard-signal); three repetitions give it three chances.
TEST(Bench, APlantedBugFailsTheBench) {
    TempDir root, scratch;
    const std::string out = scratch.path + "/bench.json";
    auto r = run_binary({"bench", "--backends", "signal", "--mutant", "standard-signal",
                         "--messages", "3000", "--pings", "10", "--repeat", "3", "--json", out},
                        root.path, scratch.path, std::chrono::seconds(200));
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("lost:"), std::string::npos) << r.err;
    const json j = json::parse(slurp(out));
    EXPECT_EQ(j.at("verdict"), "fail");
    EXPECT_EQ(j.at("mutant"), "standard-signal");
    ASSERT_FALSE(j.at("failures").empty());
    for (const json& f : j.at("failures")) {
        EXPECT_GT(f.at("total").get<std::uint64_t>(), 0u);
        EXPECT_EQ(f.at("findings").at(0).get<std::string>().rfind("lost:", 0), 0u) << f;
    }
    // The failing runs' directories are kept for `check`, as a failing run's
    // are; `clean` removes them.
    EXPECT_FALSE(root.entries().empty());
    auto c = run_binary({"clean"}, root.path, scratch.path);
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_TRUE(root.entries().empty());
}

TEST(Bench, AMutantNoCellCanRunIsAUsageError) {
    TempDir root, scratch;
    auto r = run_binary({"bench", "--backends", "pipe", "--mutant", "no-such-bug", "--repeat", "1"},
                        root.path, scratch.path);
    EXPECT_EQ(r.status, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("no cell can be measured"), std::string::npos) << r.err;
    EXPECT_TRUE(root.entries().empty());
}

// `--html` next to `--json`: the page holds the pipe row with the figures the
// JSON has (both are drawn from one object), and `--from-json` gives the same
// page again from the saved JSON without measuring anything.
TEST(Bench, HtmlPageHasTheMeasuredRowAndMatchesTheJson) {
    TempDir root, scratch;
    const std::string json_out = scratch.path + "/bench.json";
    const std::string html_out = scratch.path + "/bench.html";
    auto r = run_binary({"bench", "--backends", "pipe", "--sizes", "64", "--messages", "2000",
                         "--pings", "200", "--repeat", "1", "--json", json_out, "--html", html_out},
                        root.path, scratch.path, std::chrono::seconds(120));
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    ASSERT_TRUE(fs::exists(html_out));
    const std::string page = slurp(html_out);
    EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(page.find("</html>"), std::string::npos);
    EXPECT_NE(page.find("<td>pipe</td><td class=\"n\">64 B</td><td class=\"n\">2000</td>"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find("<td>pipe</td><td class=\"n\">64 B</td><td class=\"n\">200</td>"),
              std::string::npos)
        << "the latency row";
    EXPECT_NE(page.find("<span class=\"PASS\" id=\"verdict\">PASS</span>"), std::string::npos);
    EXPECT_NE(page.find("id=\"ratio-chart\""), std::string::npos);
    const json j = json::parse(slurp(json_out));
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f",
                  j.at("cells").at(0).at("throughput").at("ratio_on_raw").get<double>());
    EXPECT_NE(page.find(std::string("<td class=\"n\">") + ratio + "</td>"), std::string::npos)
        << ratio;
    EXPECT_NE(page.find(j.at("machine").at("kernel").get<std::string>()), std::string::npos);
    EXPECT_TRUE(root.entries().empty()) << "the bench left run directories behind";

    const std::string again = scratch.path + "/again.html";
    auto g =
        run_binary({"bench", "--from-json", json_out, "--html", again}, root.path, scratch.path);
    EXPECT_EQ(g.status, 0) << g.out << g.err;
    std::string regenerated = slurp(again);
    const std::string note = "<br>figures read from <code>" + json_out + "</code>";
    const auto at = regenerated.find(note);
    ASSERT_NE(at, std::string::npos) << regenerated.substr(0, 2000);
    regenerated.erase(at, note.size());
    EXPECT_EQ(regenerated, page);
    auto bad = run_binary({"bench", "--from-json", json_out}, root.path, scratch.path);
    EXPECT_EQ(bad.status, 2) << bad.err;
    EXPECT_NE(bad.err.find("--from-json needs --html"), std::string::npos) << bad.err;
}
