// End-to-end: backends from plugins (ipctorture/plugin.h), through the real
// binary.  The example plugin must pass, its build with a planted loss must
// be caught as `lost`, a plugin that cannot be used must be refused with
// exit status 2 at the `plugin:` key, and nothing the plugin made survives a
// killed worker or a killed harness.  Every wait is bounded; none is a pass
// condition.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "ipctorture/plugin.h"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace ipct::test;
using std::chrono::seconds;

namespace {

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
    const std::string p = dir + "/" + name;
    std::ofstream(p) << text;
    return p;
}

// A scenario whose channel's backend is the plugin `spec`; `extra` goes in
// the backend map after the plugin key.  The plugin value stands on line 5,
// column 23.
std::string plugin_scenario(
    const std::string& spec, const std::string& extra = "",
    const std::string& workload = "{messages: 3000, size: {min: 32, max: 2048}}", int producers = 2,
    int consumers = 2) {
    return "name: plugin-test\n"
           "timeout: 120s\n"
           "channels:\n"
           "  ring:\n"
           "    backend: {plugin: " +
           spec + extra +
           "}\n"
           "processes:\n"
           "  - {role: producer, count: " +
           std::to_string(producers) + ", channel: ring, workload: " + workload +
           "}\n"
           "  - {role: consumer, count: " +
           std::to_string(consumers) + ", channel: ring}\n";
}
constexpr const char* kPluginLoc = ":5:23: ";

nlohmann::json read_json(const std::string& p) {
    return nlohmann::json::parse(slurp(p));
}

std::multiset<std::string> finding_kinds(const nlohmann::json& report) {
    std::multiset<std::string> kinds;
    for (const auto& s : report["scenarios"])
        for (const auto& f : s["findings"]) kinds.insert(f["kind"].get<std::string>());
    return kinds;
}

// The example plugin's shm objects of one run ("/ipct-exring-<run id>-<n>").
std::vector<std::string> ring_objects(const std::string& run_id) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator("/dev/shm"))
        if (e.path().filename().string().starts_with("ipct-exring-" + run_id))
            out.push_back(e.path());
    return out;
}

// The run directories under root (a failed run keeps its own).
std::vector<fs::path> run_dirs(const std::string& root) {
    std::vector<fs::path> v;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root, ec))
        if (e.is_directory()) v.push_back(e.path());
    return v;
}

std::uint64_t log_records(const std::string& path) {
    try {
        return ipct::EventLogReader(path).size();
    } catch (const std::exception&) {
        return 0;
    }
}

// Waits (bounded) until the single run under root has n live workers and
// process `busy` has logged some records; returns the pids.
std::vector<int> wait_for_workers(const std::string& root, std::size_t n, int busy) {
    for (int i = 0; i < 3000; ++i) {
        for (const fs::path& d : run_dirs(root)) {
            std::ifstream in(d / "workers");
            std::vector<int> pids;
            for (int p; in >> p;) pids.push_back(p);
            bool alive = pids.size() == n;
            for (int p : pids) alive = alive && process_alive(p);
            const auto log = d / ("events." + std::to_string(busy) + ".log");
            if (alive && fs::exists(log) && log_records(log.string()) > 8) return pids;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
}

void expect_refused(const std::string& spec, const std::vector<std::string>& says) {
    TempDir root, scratch;
    const std::string f = write_file(scratch.path, "s.yaml", plugin_scenario(spec));
    for (const char* cmd : {"validate", "run"}) {
        auto r = run_binary({cmd, f}, root.path, scratch.path);
        ASSERT_FALSE(r.timed_out);
        EXPECT_EQ(r.status, 2) << cmd << ": " << r.out << r.err;
        EXPECT_NE(r.err.find(f + kPluginLoc), std::string::npos) << cmd << ": " << r.err;
        for (const std::string& s : says) EXPECT_NE(r.err.find(s), std::string::npos) << r.err;
    }
    EXPECT_TRUE(root.entries().empty()) << "a refused scenario must not leave a run directory";
}

TEST(Plugin, BundledScenarioFindsTheExamplePluginByNameAndPasses) {
    TempDir root, scratch;
    const std::string json = scratch.path + "/r.json";
    auto r = run_binary({"run", source("scenarios/plugins"), "--json", json, "--keep"}, root.path,
                        scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("example_ring"), std::string::npos) << r.out;
    const auto j = read_json(json);
    ASSERT_EQ(j["scenarios"].size(), 1u);
    const auto& s = j["scenarios"][0];
    EXPECT_EQ(s["verdict"], "PASS");
    EXPECT_EQ(s["channels"][0]["received"], s["channels"][0]["sent"]);
    EXPECT_GT(s["channels"][0]["sent"].get<long>(), 0);
    const auto dirs = run_dirs(root.path);
    ASSERT_EQ(dirs.size(), 1u);  // --keep
    EXPECT_TRUE(ring_objects(dirs[0].filename()).empty()) << "cleanup() removed the ring";
    // The plan names the library by its absolute path, for the workers.
    const auto plan = read_json((dirs[0] / "plan.json").string());
    const std::string backend = plan["channels"][0]["backend"];
    EXPECT_EQ(backend, std::string("plugin:") + IPCT_EXAMPLE_PLUGIN);
}

TEST(Plugin, RelativePathIsTakenFromTheScenarioDirectory) {
    TempDir root, scratch;
    fs::create_directories(scratch.path + "/a/b");
    const std::string rel = fs::relative(IPCT_EXAMPLE_PLUGIN, scratch.path + "/a/b").string();
    ASSERT_NE(rel.find('/'), std::string::npos);
    const std::string f = write_file(scratch.path + "/a/b", "s.yaml", plugin_scenario(rel));
    auto r = run_binary({"run", f}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
}

TEST(Plugin, BareNameIsLookedForInThePluginPath) {
    TempDir root, scratch;
    fs::create_directories(scratch.path + "/plugins");
    fs::copy_file(IPCT_EXAMPLE_PLUGIN, scratch.path + "/plugins/libmy_ring.so");
    const std::string f = write_file(scratch.path, "s.yaml", plugin_scenario("my_ring"));
    ::setenv("IPCTORTURE_PLUGIN_PATH", ("/nonexistent:" + scratch.path + "/plugins").c_str(), 1);
    auto r = run_binary({"run", f, "--keep"}, root.path, scratch.path);
    ::unsetenv("IPCTORTURE_PLUGIN_PATH");
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const auto dirs = run_dirs(root.path);
    ASSERT_EQ(dirs.size(), 1u);
    const auto plan = read_json((dirs[0] / "plan.json").string());
    EXPECT_EQ(plan["channels"][0]["backend"], "plugin:" + scratch.path + "/plugins/libmy_ring.so");

    auto missing = run_binary({"validate", f}, root.path, scratch.path);
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(missing.err.find(f + kPluginLoc + "no plugin library 'my_ring'"), std::string::npos)
        << missing.err;
    EXPECT_NE(missing.err.find("libmy_ring.so or my_ring.so"), std::string::npos) << missing.err;
}

TEST(Plugin, TheSameLibraryOnTwoChannelsIsLoadedOnce) {
    TempDir root, scratch;
    const std::string p = IPCT_EXAMPLE_PLUGIN;
    const std::string text = "name: two-rings\nchannels:\n  a: {backend: {plugin: " + p +
                             "}}\n  b: {backend: {plugin: " + p +
                             ", options: {slots: 4}}}\n"
                             "processes:\n"
                             "  - {role: producer, channel: a, workload: {messages: 2000}}\n"
                             "  - {role: relay, input: a, output: b}\n"
                             "  - {role: consumer, channel: b}\n";
    const std::string f = write_file(scratch.path, "s.yaml", text);
    auto r = run_binary({"run", f}, root.path, scratch.path);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
}

TEST(Plugin, PlantedLossIsCaughtAsLost) {
    TempDir root, scratch;
    const std::string f = write_file(scratch.path, "s.yaml", plugin_scenario(IPCT_LOSSY_PLUGIN));
    const std::string json = scratch.path + "/r.json";
    auto r = run_binary({"run", f, "--json", json}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    const auto kinds = finding_kinds(read_json(json));
    // Each producer's 8th, 1008th and 2008th message (3000 each).
    EXPECT_EQ(kinds.count("lost"), 6u) << r.out;
    EXPECT_EQ(kinds.size(), kinds.count("lost")) << r.out;
    EXPECT_NE(r.out.find("seq 1007 sent ok, never received"), std::string::npos) << r.out;
    const auto dirs = run_dirs(root.path);
    ASSERT_EQ(dirs.size(), 1u);  // kept after a failure
    EXPECT_TRUE(ring_objects(dirs[0].filename()).empty());
}

TEST(Plugin, MissingLibraryIsRefusedAtThePluginKey) {
    expect_refused("./no-such-plugin.so", {"no-such-plugin.so does not exist",
                                           "relative path is taken from the scenario's directory"});
}

TEST(Plugin, FileThatIsNoLibraryIsRefusedWithTheLoadersReason) {
    TempDir dir;
    const std::string p = write_file(dir.path, "libnot_elf.so", std::string(256, 'x'));
    expect_refused(p, {"cannot load plugin library " + p + ": ", "invalid ELF header"});
}

TEST(Plugin, OtherAbiVersionIsRefusedNamingBoth) {
    expect_refused(
        IPCT_BROKEN_PLUGIN_ABI_VERSION,
        {"was built for plugin ABI version 999",
         "this ipctorture speaks version " + std::to_string(IPCTORTURE_PLUGIN_ABI_VERSION)});
}

TEST(Plugin, MissingEntrySymbolIsRefused) {
    expect_refused(IPCT_BROKEN_PLUGIN_NO_ENTRY, {"does not export ipctorture_plugin_v1"});
}

TEST(Plugin, TableSmallerThanVersionOneIsRefused) {
    expect_refused(IPCT_BROKEN_PLUGIN_SMALL_TABLE,
                   {"its ipctorture_plugin table is", "smaller than the"});
}

TEST(Plugin, TableWithoutItsFunctionsIsRefused) {
    expect_refused(IPCT_BROKEN_PLUGIN_NULL_MEMBER,
                   {"the ipctorture_plugin table's 'validate' is NULL"});
}

TEST(Plugin, OptionThePluginRefusesIsReportedAtItsValue) {
    TempDir root, scratch;
    const std::string text =
        plugin_scenario(IPCT_EXAMPLE_PLUGIN, ", options: {slots: 16, max_message: 12}");
    const std::string f = write_file(scratch.path, "s.yaml", text);
    const std::size_t col = text.find("12}") - text.find("    backend:") + 1;
    auto r = run_binary({"validate", f}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find(f + ":5:" + std::to_string(col) + ": option 'max_message': plugin " +
                         "example_ring: expected a size in bytes in [32, 1048576], got '12'"),
              std::string::npos)
        << r.err;
}

TEST(Plugin, AnOptionGivenInBothPlacesIsRefused) {
    TempDir root, scratch;
    std::string text = plugin_scenario(IPCT_EXAMPLE_PLUGIN, ", options: {slots: 16}");
    text.insert(text.find("    backend:"), "    options: {slots: 8}\n");
    const std::string f = write_file(scratch.path, "s.yaml", text);
    auto r = run_binary({"validate", f}, root.path, scratch.path);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find(f + ":5:22: option 'slots' is also given in the backend's options"),
              std::string::npos)
        << r.err;
}

// A producer killed in the middle: process_gone() tells the plugin, so the
// consumers end (no hang) and the run reports the crash; cleanup() still
// removes the ring.
TEST(Plugin, KilledWriterEndsTheChannelAndTheRingIsRemoved) {
    TempDir root, scratch;
    const std::string f = write_file(
        scratch.path, "s.yaml",
        plugin_scenario(IPCT_EXAMPLE_PLUGIN, "", "{duration: 60s, rate: 2000, size: 256}", 1, 2));
    const std::string json = scratch.path + "/r.json";
    const pid_t h = spawn_binary({"run", f, "--json", json}, root.path, scratch.path + "/o",
                                 scratch.path + "/e");
    const std::vector<int> pids = wait_for_workers(root.path, 3, 1);
    ASSERT_EQ(pids.size(), 3u) << slurp(scratch.path + "/e");
    ::kill(pids[0], SIGKILL);  // plan order: the producer first
    EXPECT_EQ(wait_bounded(h, seconds(100)), 1) << slurp(scratch.path + "/e");
    const auto kinds = finding_kinds(read_json(json));
    EXPECT_EQ(kinds.count("crash"), 1u) << slurp(scratch.path + "/o");
    EXPECT_EQ(kinds.count("hang"), 0u) << slurp(scratch.path + "/o");
    EXPECT_EQ(kinds.count("lost"), 0u) << slurp(scratch.path + "/o");
    const auto dirs = run_dirs(root.path);
    ASSERT_EQ(dirs.size(), 1u);
    EXPECT_TRUE(ring_objects(dirs[0].filename()).empty());
    run_binary({"clean"}, root.path, scratch.path);
}

// The harness itself killed: the ring outlives it, and `ipctorture clean`
// loads the plugin from the plan and calls its cleanup().
TEST(Plugin, CleanRemovesTheRingAKilledHarnessLeft) {
    TempDir root, scratch;
    const std::string f = write_file(
        scratch.path, "s.yaml",
        plugin_scenario(IPCT_EXAMPLE_PLUGIN, "", "{duration: 60s, rate: 2000, size: 256}", 1, 1));
    const pid_t h = spawn_binary({"run", f}, root.path, scratch.path + "/o", scratch.path + "/e");
    const std::vector<int> pids = wait_for_workers(root.path, 2, 1);
    ASSERT_EQ(pids.size(), 2u) << slurp(scratch.path + "/e");
    const auto dirs = run_dirs(root.path);
    ASSERT_EQ(dirs.size(), 1u);
    const std::string run_id = dirs[0].filename();
    ::kill(h, SIGKILL);
    wait_bounded(h, seconds(30));
    for (int i = 0; i < 3000; ++i) {
        if (!process_alive(pids[0]) && !process_alive(pids[1])) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (int p : pids) EXPECT_FALSE(process_alive(p)) << p;
    EXPECT_EQ(ring_objects(run_id).size(), 1u);
    auto c = run_binary({"clean"}, root.path, scratch.path);
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_TRUE(ring_objects(run_id).empty());
    EXPECT_TRUE(root.entries().empty());
}

// The line of `list backends` that starts with `start`, empty if none.
std::string line_of(const std::string& out, const std::string& start) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(start, 0) == 0) return line;
    return "";
}

// `list backends` lists the plugins in the search directories after the
// built-in backends: the example plugin of the build tree's plugin directory
// with its description and contract.
TEST(Plugin, ListBackendsShowsTheExamplePlugin) {
    TempDir root, scratch;
    auto r = run_binary({"list", "backends"}, root.path, scratch.path);
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(line_of(r.out, "pipe "), "") << r.out;
    const std::string l = line_of(r.out, "plugin:example_ring ");
    EXPECT_NE(l.find(std::string("  ") + IPCT_EXAMPLE_PLUGIN + "  "), std::string::npos) << r.out;
    EXPECT_NE(l.find("plugin example_ring: a ring of messages in POSIX shared memory"),
              std::string::npos)
        << l;
    EXPECT_NE(l.find("(message, up to "), std::string::npos) << l;
    EXPECT_NE(l.find("FIFO, lossless)"), std::string::npos) << l;
    EXPECT_LT(r.out.find("pipe "), r.out.find("plugin:example_ring ")) << "built-ins first";

    // The name as listed is one `explain` takes.
    auto e = run_binary({"explain", "plugin:example_ring"}, root.path, scratch.path);
    EXPECT_EQ(e.status, 0) << e.out << e.err;
    EXPECT_NE(e.out.find(std::string("library: ") + IPCT_EXAMPLE_PLUGIN), std::string::npos)
        << e.out;
    auto missing = run_binary({"explain", "plugin:no_such_ring"}, root.path, scratch.path);
    EXPECT_EQ(missing.status, 2) << missing.out << missing.err;
    EXPECT_NE(missing.err.find("no plugin library 'no_such_ring'"), std::string::npos)
        << missing.err;
}

// Libraries that cannot be loaded are listed with the loader's reason, and
// the listing goes on: a file that is no library, one built for another ABI
// version; a good one under another name is listed from the directory of
// $IPCTORTURE_PLUGIN_PATH, and what is not a library file is skipped.
TEST(Plugin, ListBackendsNamesLibrariesThatCannotBeLoaded) {
    TempDir root, scratch, dir;
    write_file(dir.path, "libbogus.so", std::string(256, 'x'));
    fs::copy_file(IPCT_BROKEN_PLUGIN_ABI_VERSION, dir.path + "/libold_abi.so");
    fs::copy_file(IPCT_EXAMPLE_PLUGIN, dir.path + "/my_ring.so");
    fs::create_directories(dir.path + "/libdirectory.so");
    write_file(dir.path, "notes.txt", "not a plugin");
    ::setenv("IPCTORTURE_PLUGIN_PATH", ("/nonexistent:" + dir.path).c_str(), 1);
    auto r = run_binary({"list", "backends"}, root.path, scratch.path);
    auto e = run_binary({"explain", "plugin:my_ring"}, root.path, scratch.path);
    ::unsetenv("IPCTORTURE_PLUGIN_PATH");
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const std::string bogus = line_of(r.out, "plugin:bogus ");
    EXPECT_NE(bogus.find(dir.path + "/libbogus.so  cannot be used: cannot load plugin library " +
                         dir.path + "/libbogus.so: "),
              std::string::npos)
        << r.out;
    EXPECT_NE(bogus.find("invalid ELF header"), std::string::npos) << bogus;
    const std::string old = line_of(r.out, "plugin:old_abi ");
    EXPECT_NE(old.find("cannot be used: "), std::string::npos) << r.out;
    EXPECT_NE(old.find("was built for plugin ABI version 999"), std::string::npos) << old;
    const std::string mine = line_of(r.out, "plugin:my_ring ");
    EXPECT_NE(mine.find(dir.path + "/my_ring.so  plugin example_ring: "), std::string::npos)
        << r.out;
    EXPECT_NE(line_of(r.out, "plugin:example_ring "), "") << r.out;
    EXPECT_NE(line_of(r.out, "pipe "), "") << r.out;
    EXPECT_EQ(r.out.find("plugin:directory"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("plugin:notes"), std::string::npos) << r.out;
    EXPECT_EQ(e.status, 0) << e.out << e.err;
    EXPECT_NE(e.out.find("library: " + dir.path + "/my_ring.so"), std::string::npos) << e.out;
}

}  // namespace
