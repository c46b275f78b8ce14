// Sharding: parsing I/N, keys that do not depend on how a path is spelled,
// and a selection that covers every cell exactly once, balanced.
#include "ipctorture/shard.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "ipctorture/scenario.hpp"

using namespace ipct;

namespace {

const std::string kSource = IPCT_SOURCE_DIR;

TEST(ShardParse, AcceptsIOfN) {
    std::string why;
    const auto s = parse_shard("2/3", &why);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->index, 2u);
    EXPECT_EQ(s->count, 3u);
    EXPECT_TRUE(parse_shard("1/1", &why));
}

TEST(ShardParse, RefusesWhatIsNotIOfN) {
    for (const char* bad : {"0/3", "4/3", "x", "1/0", "0/0", "", "/3", "1/", "1/3x", "-1/3", " 1/3",
                            "1/3/3", "99999999999/3"}) {
        std::string why;
        EXPECT_FALSE(parse_shard(bad, &why)) << bad;
        EXPECT_NE(why.find(std::string("'") + bad + "'"), std::string::npos) << why;
    }
}

TEST(ShardKey, SameWhateverTheSpellingOfTheArgument) {
    namespace fs = std::filesystem;
    const std::string f = kSource + "/scenarios/smoke/pipe-one-to-one.yaml";
    const std::string key = shard_key(kSource + "/scenarios", f, "");
    EXPECT_EQ(key, "scenarios/smoke/pipe-one-to-one.yaml\n");
    EXPECT_EQ(
        shard_key(kSource + "/scenarios/", kSource + "/scenarios//smoke/pipe-one-to-one.yaml", ""),
        key);
    EXPECT_EQ(shard_key(kSource + "/harness/../scenarios/.", f, ""), key);
    const fs::path rel = fs::path(f).lexically_relative(fs::current_path());
    const fs::path rel_dir =
        fs::path(kSource + "/scenarios").lexically_relative(fs::current_path());
    EXPECT_EQ(shard_key(rel_dir.string(), rel.string(), ""), key);
    // A file named directly keys by its name; a cell's label follows.
    EXPECT_EQ(shard_key(f, f, "backend=tcp"), "pipe-one-to-one.yaml\nbackend=tcp");
}

TEST(ShardSelect, EveryIndexExactlyOnceAndBalanced) {
    std::vector<std::string> keys;
    for (int i = 0; i < 23; ++i) keys.push_back("k" + std::to_string((i * 7) % 23));
    for (std::uint32_t n : {1u, 2u, 3u, 5u, 23u, 40u}) {
        std::vector<int> seen(keys.size(), 0);
        for (std::uint32_t i = 1; i <= n; ++i) {
            const auto mine = shard_select(keys, Shard{i, n});
            EXPECT_LE(mine.size(), keys.size() / n + 1);
            EXPECT_GE(mine.size(), keys.size() / n);
            for (std::size_t k : mine) ++seen[k];
        }
        for (int c : seen) EXPECT_EQ(c, 1) << "n=" << n;
    }
}

// The assignment follows the keys, not the order the cells came in.
TEST(ShardSelect, DependsOnKeysNotOnInputOrder) {
    const std::vector<std::string> a{"a", "b", "c", "d", "e"}, b{"e", "c", "a", "d", "b"};
    for (std::uint32_t i = 1; i <= 2; ++i) {
        std::vector<std::string> ka, kb;
        for (std::size_t k : shard_select(a, Shard{i, 2})) ka.push_back(a[k]);
        for (std::size_t k : shard_select(b, Shard{i, 2})) kb.push_back(b[k]);
        std::sort(kb.begin(), kb.end());
        EXPECT_EQ(ka, kb);
    }
}

// The bundled scenarios, as `run scenarios/smoke scenarios/backends
// scenarios/zoo scenarios/twins --shard k/3` would load them: every (file,
// cell) in exactly one of the three shards, and the shards within one cell
// of each other.
TEST(ShardSelect, BundledScenariosSplitInThreeCoverEveryCellOnce) {
    std::vector<std::string> keys, ids;
    for (const char* dir : {"smoke", "backends", "zoo", "twins"}) {
        const std::string arg = kSource + "/scenarios/" + dir;
        for (const std::string& f : scenario_files(arg))
            for (const Scenario& s : load_scenarios(f)) {
                keys.push_back(shard_key(arg, f, s.cell));
                ids.push_back(f + "|" + s.name);
            }
    }
    ASSERT_GT(keys.size(), 50u);
    std::map<std::string, int> seen;
    std::size_t least = keys.size(), most = 0;
    for (std::uint32_t k = 1; k <= 3; ++k) {
        const auto mine = shard_select(keys, Shard{k, 3});
        least = std::min(least, mine.size());
        most = std::max(most, mine.size());
        for (std::size_t i : mine) ++seen[ids[i]];
    }
    EXPECT_EQ(seen.size(), ids.size());
    for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
    EXPECT_LE(most - least, 1u);
}

}  // namespace
