// The example CI configurations (ci/github/scenarios-sharded.yml,
// ci/gitlab/scenarios-sharded.gitlab-ci.yml) are not run by our CI; this
// keeps them correct: each parses as YAML, has the shape its CI system
// needs (a matrix over three shards; parallel: 3 with a JUnit report), and
// its ipctorture command, with the shard variables filled in, is one the
// real binary accepts (run with --list, so that nothing runs).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace ipct::test;

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
}

// The words of an example's command after the binary's path, quotes removed.
std::vector<std::string> ipctorture_args(std::string cmd) {
    replace_all(cmd, "\"", "");
    std::istringstream in(cmd);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    EXPECT_FALSE(words.empty());
    if (!words.empty()) {
        EXPECT_EQ(words[0], "build/default/harness/ipctorture");
        words.erase(words.begin());
    }
    return words;
}

// Runs the command from the source tree with --list; the cells it lists.
std::size_t listed(std::vector<std::string> args) {
    for (std::string& a : args)
        if (a == "scenarios") a = source("scenarios");
    args.push_back("--list");
    TempDir root, scratch;
    auto r = run_binary(args, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.err;
    std::size_t n = 0;
    for (char c : r.out) n += c == '\n';
    return n;
}

std::size_t all_cells() {
    TempDir root, scratch;
    auto r = run_binary({"run", source("scenarios"), "--list"}, root.path, scratch.path);
    std::size_t n = 0;
    for (char c : r.out) n += c == '\n';
    return n;
}

TEST(CiExamples, GithubActionsRunsThreeShardsAndUploadsTheirReports) {
    const YAML::Node y = YAML::LoadFile(source("ci/github/scenarios-sharded.yml"));
    const YAML::Node job = y["jobs"]["scenarios"];
    ASSERT_TRUE(job.IsMap());
    const YAML::Node shards = job["strategy"]["matrix"]["shard"];
    ASSERT_TRUE(shards.IsSequence());
    ASSERT_EQ(shards.size(), 3u);
    std::string run;
    bool uploads = false;
    for (const YAML::Node& step : job["steps"]) {
        if (step["run"] && step["run"].as<std::string>().find("--shard") != std::string::npos)
            run = step["run"].as<std::string>();
        if (step["uses"] && step["uses"].as<std::string>().starts_with("actions/upload-artifact")) {
            uploads = step["if"].as<std::string>() == "always()" &&
                      step["with"]["path"].as<std::string>().find(
                          "junit-${{ matrix.shard }}.xml") != std::string::npos;
        }
    }
    EXPECT_TRUE(uploads);
    ASSERT_NE(run.find("--junit junit-${{ matrix.shard }}.xml"), std::string::npos) << run;
    std::size_t total = 0;
    for (const YAML::Node& s : shards) {
        std::string cmd = run;
        replace_all(cmd, "${{ matrix.shard }}", s.as<std::string>());
        total += listed(ipctorture_args(cmd));
    }
    EXPECT_EQ(total, all_cells());
}

TEST(CiExamples, GitlabRunsParallelShardsWithAJunitReport) {
    const YAML::Node job =
        YAML::LoadFile(source("ci/gitlab/scenarios-sharded.gitlab-ci.yml"))["scenarios"];
    ASSERT_TRUE(job.IsMap());
    const int n = job["parallel"].as<int>();
    EXPECT_EQ(n, 3);
    EXPECT_EQ(job["artifacts"]["when"].as<std::string>(), "always");
    EXPECT_EQ(job["artifacts"]["reports"]["junit"].as<std::string>(), "junit-*.xml");
    ASSERT_EQ(job["script"].size(), 1u);
    const std::string run = job["script"][0].as<std::string>();
    ASSERT_NE(run.find("--junit \"junit-${CI_NODE_INDEX}.xml\""), std::string::npos) << run;
    std::size_t total = 0;
    for (int i = 1; i <= n; ++i) {
        std::string cmd = run;
        replace_all(cmd, "${CI_NODE_INDEX}", std::to_string(i));
        replace_all(cmd, "${CI_NODE_TOTAL}", std::to_string(n));
        total += listed(ipctorture_args(cmd));
    }
    EXPECT_EQ(total, all_cells());
}

}  // namespace
