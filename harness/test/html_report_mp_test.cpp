// The HTML report end to end: a failing zoo scenario run with --html (and
// --junit, validated against harness/test/data/junit.xsd by xmllint), the
// page loaded in headless Chromium (no console message, the charts and the
// finding's evidence in the rendered DOM, a screenshot kept under the build
// directory's test-artifacts/), and `check RUNDIR --html` on the kept run.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace ipct::test {
namespace {

namespace fs = std::filesystem;

const char* const kChromium = "/usr/bin/chromium";

struct BrowserRun {
    int status = -1;
    bool timed_out = false;
    std::string out, err;
    std::vector<int> survivors;  // processes of its group still alive afterwards
};

// The process group ids of every live process, by pid.
std::vector<int> members_of_group(pid_t pgid) {
    std::vector<int> pids;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return pids;
    while (dirent* e = ::readdir(d)) {
        const int pid = std::atoi(e->d_name);
        if (pid <= 0) continue;
        const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        // After ") ": state ppid pgrp ...
        std::istringstream rest(stat.substr(close + 2));
        char state = 0;
        int ppid = 0, pgrp = 0;
        rest >> state >> ppid >> pgrp;
        if (pgrp == pgid && state != 'Z') pids.push_back(pid);
    }
    ::closedir(d);
    return pids;
}

// Runs headless Chromium on url with extra flags, in its own process group
// and with a private profile directory (removed afterwards).  Bounded: on
// expiry the whole group is killed.  Whatever of the group is left after
// Chromium's own exit is killed too, and reported in `survivors` (checked
// before the kill).
BrowserRun run_chromium(const std::string& url, const std::vector<std::string>& flags,
                        const std::string& scratch) {
    BrowserRun r;
    TempDir profile;
    const std::string out = scratch + "/chromium.out", err = scratch + "/chromium.err";
    std::vector<std::string> args = {kChromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--user-data-dir=" + profile.path,
                                     "--enable-logging=stderr",
                                     "--v=0"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(url);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(o, 1);
        ::dup2(e, 2);
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(kChromium, argv.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // either side may win the race; both ask the same
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    int st = 0;
    for (;;) {
        if (::waitpid(pid, &st, WNOHANG) == pid) break;
        if (std::chrono::steady_clock::now() > deadline) {
            r.timed_out = true;
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &st, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    // Chromium's helpers leave with it; give them a moment, then record and
    // kill whatever has not.
    for (int i = 0; i < 100 && !members_of_group(pid).empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r.survivors = members_of_group(pid);
    if (!r.survivors.empty()) ::kill(-pid, SIGKILL);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

// Messages the page wrote to the console (uncaught errors included), as
// Chromium logs them with --enable-logging=stderr.
std::vector<std::string> console_lines(const std::string& err) {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);)
        if (line.find(":CONSOLE") != std::string::npos) lines.push_back(line);
    return lines;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
}

std::string artifact_dir() {
    const std::string d = IPCT_ARTIFACT_DIR;
    fs::create_directories(d);
    return d;
}

TEST(HtmlReportBrowser, ChromiumIsInstalled) {
    // ci/setup installs it; a missing browser is a failure, never a skip.
    ASSERT_EQ(::access(kChromium, X_OK), 0) << kChromium << " is missing: run ci/setup";
}

// The console capture works: a page that throws is caught, a quiet one is not.
TEST(HtmlReportBrowser, ConsoleCaptureSeesAnUncaughtError) {
    ASSERT_EQ(::access(kChromium, X_OK), 0);
    TempDir scratch;
    const std::string bad = scratch.path + "/throws.html", good = scratch.path + "/quiet.html";
    std::ofstream(bad) << "<!DOCTYPE html><html><body><svg id=\"s\"></svg>"
                          "<script>throw new Error('planted-page-error')</script></body></html>";
    std::ofstream(good) << "<!DOCTYPE html><html><body><svg id=\"s\"></svg></body></html>";
    const BrowserRun b = run_chromium("file://" + bad, {"--dump-dom"}, scratch.path);
    ASSERT_FALSE(b.timed_out);
    EXPECT_TRUE(b.survivors.empty());
    const std::vector<std::string> seen = console_lines(b.err);
    ASSERT_EQ(seen.size(), 1u) << b.err;
    EXPECT_NE(seen[0].find("planted-page-error"), std::string::npos) << seen[0];
    const BrowserRun g = run_chromium("file://" + good, {"--dump-dom"}, scratch.path);
    ASSERT_FALSE(g.timed_out);
    EXPECT_TRUE(console_lines(g.err).empty()) << g.err;
    EXPECT_NE(g.out.find("<svg id=\"s\">"), std::string::npos) << g.out;
}

TEST(HtmlReportBrowser, FailingZooRunRendersOffline) {
    ASSERT_EQ(::access(kChromium, X_OK), 0) << kChromium << " is missing: run ci/setup";
    TempDir root, scratch;
    const std::string name = "pipe-fan-in-interleave";
    const std::string page = scratch.path + "/report.html", json = scratch.path + "/report.json",
                      junit = scratch.path + "/junit.xml";
    auto run = run_binary({"run", source("scenarios/zoo/" + name + ".yaml"), "--html", page,
                           "--json", json, "--junit", junit},
                          root.path, scratch.path);
    ASSERT_EQ(run.status, 1) << run.err;
    // The same run's JUnit report is a valid document of its dialect.
    const std::string lint = scratch.path + "/xmllint.out";
    const int valid =
        std::system(("xmllint --noout --schema '" + source("harness/test/data/junit.xsd") + "' '" +
                     junit + "' >'" + lint + "' 2>&1")
                        .c_str());
    EXPECT_EQ(valid, 0) << slurp(lint);
    EXPECT_NE(slurp(junit).find("<failure"), std::string::npos);
    const nlohmann::json rep = nlohmann::json::parse(slurp(json))["scenarios"][0];
    ASSERT_FALSE(rep["findings"].empty());
    const nlohmann::json& finding = rep["findings"][0];
    const std::string text = slurp(page);
    ASSERT_FALSE(text.empty());
    // Self-contained: nothing to fetch.
    for (const char* ref : {"src=", "<link", "url(", "@import", "href=\"http", "<script"})
        EXPECT_EQ(text.find(ref), std::string::npos) << ref;

    const BrowserRun dom = run_chromium("file://" + page, {"--dump-dom"}, scratch.path);
    ASSERT_FALSE(dom.timed_out);
    EXPECT_EQ(dom.status, 0) << dom.err;
    EXPECT_TRUE(dom.survivors.empty());
    EXPECT_TRUE(console_lines(dom.err).empty()) << joined(console_lines(dom.err));
    for (const char* id :
         {"id=\"verdicts\"", "id=\"timeline-0\"", "id=\"latency-0-0\"", "id=\"throughput-0-0\"",
          "id=\"finding-0-0\"", "class=\"evidence\"", "class=\"finding-mark\""})
        EXPECT_NE(dom.out.find(id), std::string::npos) << id;
    // The first finding with its evidence records and reproduction command.
    const std::string kind = finding["kind"];
    EXPECT_NE(dom.out.find("1. " + kind), std::string::npos) << kind;
    for (const auto& e : finding["evidence"]) {
        EXPECT_NE(dom.out.find("<td>" + e["process"].get<std::string>()), std::string::npos);
        EXPECT_NE(dom.out.find("<td>" + e["op"].get<std::string>() + "</td>"), std::string::npos);
    }
    if (finding.contains("message")) {
        const std::string origin =
            std::to_string(finding["message"]["origin"].get<std::uint64_t>());
        EXPECT_NE(dom.out.find("<td class=\"n\">" + origin + "</td>"), std::string::npos);
    }
    EXPECT_NE(dom.out.find(rep["reproduce"].get<std::string>().substr(0, 20)), std::string::npos);

    const std::string png = artifact_dir() + "/report-" + name + ".png";
    fs::remove(png);
    const BrowserRun shot = run_chromium(
        "file://" + page, {"--screenshot=" + png, "--window-size=1300,2600"}, scratch.path);
    ASSERT_FALSE(shot.timed_out);
    EXPECT_TRUE(shot.survivors.empty());
    EXPECT_TRUE(console_lines(shot.err).empty()) << joined(console_lines(shot.err));
    ASSERT_TRUE(fs::exists(png)) << shot.err;
    EXPECT_GT(fs::file_size(png), 20000u);  // a blank page of this size is far smaller
    EXPECT_EQ(slurp(png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

    // The kept run directory judged again, into a page of its own.
    ASSERT_TRUE(rep["run_dir"].is_string());
    const std::string page2 = scratch.path + "/check.html";
    auto check = run_binary({"check", rep["run_dir"], "--html", page2}, root.path, scratch.path);
    EXPECT_EQ(check.status, 1) << check.err;
    const std::string text2 = slurp(page2);
    EXPECT_NE(text2.find("id=\"finding-0-0\""), std::string::npos);
    EXPECT_NE(text2.find("id=\"latency-0-0\""), std::string::npos);
    run_binary({"clean"}, root.path, scratch.path);
}

}  // namespace
}  // namespace ipct::test
