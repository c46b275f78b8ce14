// End-to-end: `run --shard I/N` and `run --list` through the real binary.
// The shards are compared with `--list` (nothing runs); one shard is run for
// real to show that it runs what it lists.  Every wait is bounded; none is a
// pass condition.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace ipct::test;

namespace {

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

// A listed cell without its directory prefix: `file<TAB>name` as the
// scenarios directory sees it.
std::string relative(const std::string& line) {
    const auto tab = line.find('\t');
    const std::string file =
        std::filesystem::path(line.substr(0, tab)).lexically_normal().generic_string();
    const auto p = file.rfind("scenarios/");
    return (p == std::string::npos ? file : file.substr(p)) + line.substr(tab);
}

TEST(Shard, ThreeShardsListEveryBundledCellExactlyOnceWhateverThePathSpelling) {
    TempDir root, scratch;
    auto all = run_binary({"run", source("scenarios"), "--list"}, root.path, scratch.path);
    ASSERT_EQ(all.status, 0) << all.err;
    std::vector<std::string> want;
    for (const auto& l : lines(all.out)) want.push_back(relative(l));
    ASSERT_GT(want.size(), 50u);
    // Each job spells the directory its own way.
    const std::vector<std::string> spelled{source("scenarios"), source("scenarios") + "/",
                                           source("harness") + "/../scenarios/."};
    std::vector<std::string> got;
    for (int k = 1; k <= 3; ++k) {
        auto r = run_binary({"run", spelled[k - 1], "--shard", std::to_string(k) + "/3", "--list"},
                            root.path, scratch.path);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("shard " + std::to_string(k) + "/3: "), std::string::npos) << r.err;
        for (const auto& l : lines(r.out)) got.push_back(relative(l));
    }
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
    EXPECT_TRUE(root.entries().empty()) << "--list runs nothing";
}

TEST(Shard, BadValuesAreUsageErrors) {
    TempDir root, scratch;
    for (const char* bad : {"0/3", "4/3", "x"}) {
        auto r =
            run_binary({"run", source("scenarios/smoke"), "--shard", bad}, root.path, scratch.path);
        EXPECT_EQ(r.status, 2) << bad;
        EXPECT_NE(r.err.find(std::string("--shard: '") + bad + "'"), std::string::npos) << r.err;
    }
    EXPECT_TRUE(root.entries().empty());
}

TEST(Shard, AnEmptyShardPassesAndSaysSo) {
    TempDir root, scratch;
    const std::string x = scratch.path + "/r.xml";
    auto r = run_binary(
        {"run", source("scenarios/smoke/pipe-one-to-one.yaml"), "--shard", "2/2", "--junit", x},
        root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("shard 2/2 has nothing to run"), std::string::npos) << r.err;
    EXPECT_NE(slurp(x).find("<testsuites name=\"ipctorture\" tests=\"0\""), std::string::npos);
    EXPECT_TRUE(root.entries().empty());
}

// A shard runs exactly what it lists.
TEST(Shard, RunsWhatItLists) {
    TempDir root, scratch;
    const std::vector<std::string> base{"run", source("scenarios/smoke"), "--shard", "3/7"};
    std::vector<std::string> list = base;
    list.push_back("--list");
    auto l = run_binary(list, root.path, scratch.path);
    ASSERT_EQ(l.status, 0) << l.err;
    const auto listed = lines(l.out);
    ASSERT_EQ(listed.size(), 1u) << l.out;
    std::vector<std::string> run = base;
    run.insert(run.end(), {"--json", scratch.path + "/r.json"});
    auto r = run_binary(run, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(slurp(scratch.path + "/r.json"));
    ASSERT_EQ(j["scenarios"].size(), 1u);
    EXPECT_EQ(listed[0], j["scenarios"][0]["file"].get<std::string>() + "\t" +
                             j["scenarios"][0]["name"].get<std::string>());
}

}  // namespace

namespace {

// detect deals zoo entries and twins together: an entry and its twin, in two
// shards, each run by one of them.
TEST(Shard, DetectSplitsEntriesAndTwins) {
    TempDir root, scratch;
    const std::string zoo = source("scenarios/zoo/pipe-fan-in-interleave.yaml");
    std::vector<std::string> zoo_names, twin_names;
    for (int k = 1; k <= 2; ++k) {
        const std::string json = scratch.path + "/d" + std::to_string(k) + ".json";
        auto r =
            run_binary({"detect", zoo, "--runs", "1", "--off-runs", "0", "--twin-runs", "1",
                        "--min-rate", "0", "--shard", std::to_string(k) + "/2", "--json", json},
                       root.path, scratch.path);
        ASSERT_FALSE(r.timed_out);
        EXPECT_NE(r.err.find("shard " + std::to_string(k) + "/2: 1 of 2"), std::string::npos)
            << r.err;
        const auto j = nlohmann::json::parse(slurp(json));
        for (const auto& z : j["zoo"]) zoo_names.push_back(z["name"]);
        for (const auto& t : j["twins"]) twin_names.push_back(t["name"]);
    }
    EXPECT_EQ(zoo_names, std::vector<std::string>{"pipe-fan-in-interleave"});
    EXPECT_EQ(twin_names.size(), 1u);
    auto empty = run_binary({"detect", zoo, "--shard", "3/3"}, root.path, scratch.path);
    EXPECT_EQ(empty.status, 0) << empty.err;
    EXPECT_NE(empty.err.find("shard 3/3 has nothing to run"), std::string::npos) << empty.err;
    auto bad = run_binary({"detect", zoo, "--shard", "4/3"}, root.path, scratch.path);
    EXPECT_EQ(bad.status, 2) << bad.err;
    run_binary({"clean"}, root.path, scratch.path);
}

}  // namespace
