// The plan: expansion of a scenario into processes, names, origins, seeds and
// checks; and its JSON form, which must round-trip and must refuse a bad plan
// with a HarnessError (never another exception, never a crash).
#include "ipctorture/plan.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <set>

#include "ipctorture/backend.hpp"
#include "ipctorture/errors.hpp"

namespace ipct {
namespace {

using nlohmann::json;

const char* const kTopology = R"(name: topo
seed: 7
timeout: 12s
channels:
  in: {backend: pipe, options: {write_lock: true, packet: true}}
  out: {backend: fifo, options: {read_lock: true}}
processes:
  - role: producer
    count: 2
    channel: in
    workload: {messages: 100, size: {min: 40, max: 400}, rate: 5.5}
  - role: consumer
    name: tap
    channel: in
  - role: producer
    name: writer
    count: 3
    channel: in
    workload: {duration: 1.25s, size: {choices: [32, 64, 4096], weights: [1, 2.5, 0.25]}}
  - role: relay
    input: in
    output: out
    workload: {start_delay: 10ms}
  - role: consumer
    count: 2
    channel: out
  - role: producer
    channel: out
    workload: {messages: 1}
)";

Plan topology_plan(std::uint64_t seed = 99) {
    return make_plan(load_scenario_text(kTopology, "topo.yaml"), seed, "run-1", "/tmp/run-1");
}

TEST(MakePlan, ExpandsProcessesInOrder) {
    Plan p = topology_plan();
    std::vector<std::string> names;
    for (const PlannedProcess& q : p.processes) names.push_back(q.name);
    EXPECT_EQ(names, (std::vector<std::string>{"producer0", "producer1", "tap", "writer0",
                                               "writer1", "writer2", "relay0", "consumer0",
                                               "consumer1", "producer2"}));
    for (std::size_t i = 0; i < p.processes.size(); ++i) EXPECT_EQ(p.processes[i].index, i);
    EXPECT_EQ(p.processes[2].role, Role::kConsumer);
    EXPECT_EQ(p.processes[6].role, Role::kRelay);
    EXPECT_EQ(p.processes[3].workload.size.kind, SizeDist::Kind::kChoice);
    EXPECT_DOUBLE_EQ(p.processes[3].workload.duration_s, 1.25);
    EXPECT_DOUBLE_EQ(p.processes[6].workload.start_delay_s, 0.01);
}

TEST(MakePlan, ChannelsOfEachRole) {
    Plan p = topology_plan();
    auto in_out = [&](std::size_t i) {
        return std::pair{p.processes[i].in_channel, p.processes[i].out_channel};
    };
    EXPECT_EQ(in_out(0), (std::pair{kNoChannel, 0u}));  // producer -> in
    EXPECT_EQ(in_out(2), (std::pair{0u, kNoChannel}));  // consumer <- in
    EXPECT_EQ(in_out(6), (std::pair{0u, 1u}));          // relay in -> out
    EXPECT_EQ(in_out(8), (std::pair{1u, kNoChannel}));  // consumer <- out
    EXPECT_EQ(in_out(9), (std::pair{kNoChannel, 1u}));  // producer -> out
}

TEST(MakePlan, OriginsNumberProducersOnly) {
    Plan p = topology_plan();
    std::vector<std::uint32_t> origins;
    for (const PlannedProcess& q : p.processes)
        if (q.role == Role::kProducer) origins.push_back(q.origin);
    EXPECT_EQ(origins, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(p.processes[9].origin, 5u);
    EXPECT_EQ(p.processes[2].origin, 0u);
}

TEST(MakePlan, SeedsAreDerivedDistinctAndDeterministic) {
    Plan a = topology_plan(99), b = topology_plan(99), c = topology_plan(100);
    EXPECT_EQ(a.seed, 99u);
    std::set<std::uint64_t> seen;
    for (std::size_t i = 0; i < a.processes.size(); ++i) {
        EXPECT_EQ(a.processes[i].seed, derive_seed(99, i + 1));
        EXPECT_EQ(a.processes[i].seed, b.processes[i].seed);
        EXPECT_NE(a.processes[i].seed, c.processes[i].seed);
        seen.insert(a.processes[i].seed);
        seen.insert(c.processes[i].seed);
    }
    EXPECT_EQ(seen.size(), 2 * a.processes.size());
}

TEST(MakePlan, HeaderFields) {
    Plan p = topology_plan(5);
    EXPECT_EQ(p.version, kPlanVersion);
    EXPECT_EQ(p.scenario_name, "topo");
    EXPECT_EQ(p.scenario_file, "topo.yaml");
    EXPECT_EQ(p.scenario_text, kTopology);
    EXPECT_EQ(p.seed, 5u);
    EXPECT_DOUBLE_EQ(p.timeout_s, 12);
    EXPECT_EQ(p.run_id, "run-1");
    EXPECT_EQ(p.run_dir, "/tmp/run-1");
}

TEST(MakePlan, ChannelsFollowTheirContract) {
    Plan p = topology_plan();
    ASSERT_EQ(p.channels.size(), 2u);
    const PlannedChannel& in = p.channels[0];
    EXPECT_EQ(in.index, 0u);
    EXPECT_EQ(in.name, "in");
    EXPECT_EQ(in.backend, "pipe");
    EXPECT_EQ(in.options.at("write_lock").text, "true");
    EXPECT_EQ(in.options.at("write_lock").loc, (SourceLoc{"topo.yaml", 5, 45}));
    EXPECT_EQ(in.options.at("packet").text, "true");
    EXPECT_EQ(in.max_message, 4096u);  // pipe in packet mode
    EXPECT_FALSE(in.boundaries);
    EXPECT_TRUE(in.state.is_null());
    const std::vector<Check> all = {Check::kLost, Check::kDuplicated, Check::kCorrupted,
                                    Check::kFifo};
    EXPECT_EQ(in.checks, all);  // pipe: lossless and FIFO
    EXPECT_EQ(p.channels[1].index, 1u);
    EXPECT_EQ(p.channels[1].max_message, 1048576u);
    EXPECT_EQ(p.channels[1].checks, all);
}

TEST(MakePlan, ScenarioChecksReplaceTheContract) {
    std::string text = std::string(kTopology) + "checks: [fifo, corrupted]\n";
    Plan p = make_plan(load_scenario_text(text, "t.yaml"), 1, "r", "/r");
    for (const PlannedChannel& c : p.channels)
        EXPECT_EQ(c.checks, (std::vector<Check>{Check::kFifo, Check::kCorrupted}));
}

TEST(DefaultChecks, FollowTheContract) {
    Contract c;
    c.lossless = c.fifo = true;
    EXPECT_EQ(default_checks(c), (std::vector<Check>{Check::kLost, Check::kDuplicated,
                                                     Check::kCorrupted, Check::kFifo}));
    c.lossless = false;
    EXPECT_EQ(default_checks(c),
              (std::vector<Check>{Check::kDuplicated, Check::kCorrupted, Check::kFifo}));
    c.fifo = false;
    EXPECT_EQ(default_checks(c), (std::vector<Check>{Check::kDuplicated, Check::kCorrupted}));
    c.lossless = true;
    EXPECT_EQ(default_checks(c),
              (std::vector<Check>{Check::kLost, Check::kDuplicated, Check::kCorrupted}));
}

TEST(MakePlan, RejectsAnInvalidModel) {
    Scenario s = load_scenario_text(kTopology, "t.yaml");
    s.processes[1].name = "producer1";
    EXPECT_THROW(make_plan(s, 1, "r", "/r"), ScenarioError);
}

TEST(DeriveSeed, MixesWell) {
    std::set<std::uint64_t> seen;
    for (std::uint64_t run : {0ull, 1ull, 2ull, 0x9e3779b97f4a7c15ull})
        for (std::uint64_t stream = 0; stream < 1000; ++stream) {
            std::uint64_t s = derive_seed(run, stream);
            EXPECT_EQ(s, derive_seed(run, stream));
            seen.insert(s);
        }
    EXPECT_EQ(seen.size(), 4000u);
    // Neighbouring inputs differ in about half of the bits.
    int bits = 0;
    for (std::uint64_t i = 1; i <= 64; ++i)
        bits += __builtin_popcountll(derive_seed(1, i) ^ derive_seed(1, i + 1));
    EXPECT_GT(bits, 64 * 24);
    EXPECT_LT(bits, 64 * 40);
    EXPECT_NE(derive_seed(1, 2), derive_seed(2, 1));
}

TEST(Paths, EventLogs) {
    EXPECT_EQ(event_log_path("/r/x", 3), "/r/x/events.3.log");
    EXPECT_EQ(event_log_path("/r/x/", 0), "/r/x/events.0.log");
    EXPECT_EQ(orchestrator_log_path("/r/x"), "/r/x/events.orchestrator.log");
}

Plan rich_plan() {
    Plan p = topology_plan();
    p.channels[0].state = {{"read_fd", 5}, {"write_fd", 6}, {"path", "/tmp/x"}};
    p.channels[1].state = json::array({1, "two", nullptr});
    p.processes[0].workload.rate = 0.1;  // not exact in binary: must still round-trip
    p.processes[1].seed = ~0ull;
    p.channels[1].mutant = "torn-read";
    p.processes[2].sigsafe = true;
    return p;
}

TEST(PlanJson, RoundTripsInMemory) {
    Plan p = rich_plan();
    Plan q = plan_from_json(plan_to_json(p));
    EXPECT_TRUE(q == p);
    EXPECT_EQ(q.channels[0].options, p.channels[0].options);
    EXPECT_EQ(q.processes[3].workload, p.processes[3].workload);
    EXPECT_EQ(q.processes[1].seed, ~0ull);
    EXPECT_EQ(q.channels[1].state, p.channels[1].state);
    EXPECT_EQ(q.channels[1].mutant, "torn-read");
    EXPECT_EQ(channel_setup(q, 1).mutant, "torn-read") << "the backend sees the mutant";
    EXPECT_EQ(channel_setup(q, 0).mutant, "");
    EXPECT_TRUE(q.processes[2].sigsafe);
    EXPECT_FALSE(q.processes[1].sigsafe);
}

TEST(PlanJson, RoundTripsThroughText) {
    Plan p = rich_plan();
    Plan q = plan_from_json(json::parse(plan_to_json(p).dump(2)));
    EXPECT_TRUE(q == p);
    EXPECT_EQ(plan_to_json(q), plan_to_json(p));
}

TEST(PlanJson, NoChannelIsNull) {
    json j = plan_to_json(topology_plan());
    EXPECT_TRUE(j["processes"][0]["in_channel"].is_null());
    EXPECT_EQ(j["processes"][0]["out_channel"], 0);
    EXPECT_EQ(j["processes"][0]["role"], "producer");
    EXPECT_EQ(j["channels"][0]["checks"], json({"lost", "duplicated", "corrupted", "fifo"}));
}

void expect_rejected(const json& j, const std::string& what) {
    try {
        plan_from_json(j);
        ADD_FAILURE() << "accepted: " << what;
    } catch (const HarnessError&) {
    } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": not a HarnessError: " << e.what();
    }
}

TEST(PlanJson, RejectsSpecificDefects) {
    const json good = plan_to_json(topology_plan());
    EXPECT_NO_THROW(plan_from_json(good));
    auto with = [&](const std::string& ptr, const json& v) {
        json j = good;
        j[json::json_pointer(ptr)] = v;
        return j;
    };
    expect_rejected(json::array(), "not an object");
    expect_rejected(with("/version", 2), "future version");
    expect_rejected(with("/processes/0/out_channel", 2), "channel out of range");
    expect_rejected(with("/processes/0/out_channel", nullptr), "producer without an output");
    // A producer with an input is a pinger (ipctorture bench): it reads replies there.
    EXPECT_NO_THROW(plan_from_json(with("/processes/0/in_channel", 1)));
    expect_rejected(with("/processes/6/in_channel", nullptr), "relay without an input");
    expect_rejected(with("/processes/0/role", "sink"), "unknown role");
    expect_rejected(with("/processes/1/index", 0), "wrong process index");
    expect_rejected(with("/channels/1/index", 0), "wrong channel index");
    expect_rejected(with("/channels/0/checks/0", "ordered"), "unknown check");
    expect_rejected(with("/processes/0/seed", -1), "negative seed");
    expect_rejected(with("/processes/0/origin", 1ull << 32), "origin above 32 bits");
    expect_rejected(with("/processes/0/workload/size/kind", "normal"), "unknown size kind");
    expect_rejected(with("/processes/0/workload/size/min", 4000), "min above max");
    expect_rejected(with("/processes/3/workload/size/weights", json::array({1})), "weights short");
    expect_rejected(with("/processes/3/workload/size/weights/0", 0), "zero weight");
    expect_rejected(with("/processes/0/workload/size/min", 8), "below the header");
}

// Every pointer below root, except inside opaque channel state.
void collect(const json& j, const std::string& at, std::vector<std::string>& out) {
    if (at.size() > 1 && at.find("/state") != std::string::npos) return;
    if (j.is_object())
        for (const auto& [k, v] : j.items()) {
            out.push_back(at + "/" + k);
            collect(v, at + "/" + k, out);
        }
    if (j.is_array())
        for (std::size_t i = 0; i < j.size(); ++i) {
            out.push_back(at + "/" + std::to_string(i));
            collect(j[i], at + "/" + std::to_string(i), out);
        }
}

// Removing any required field, or giving any field a value of the wrong
// type, is refused with a HarnessError.  Option names are free and arrays may
// be shorter, so only their members' fields count as required.
void expect_every_field_checked(const json& good) {
    std::vector<std::string> ptrs;
    collect(good, "", ptrs);
    ASSERT_GT(ptrs.size(), 100u);
    for (const std::string& ptr : ptrs) {
        if (ptr.ends_with("/state")) continue;
        json::json_pointer jp(ptr);
        const std::string parent = jp.parent_pointer().to_string();
        const json& parent_value = good[jp.parent_pointer()];
        const bool optional = parent.ends_with("/options") || parent_value.is_array();
        if (!optional) {
            json j = good;
            j[jp.parent_pointer()].erase(jp.back());
            expect_rejected(j, "without " + ptr);
        }
        json j = good;
        j[jp] = good[jp].is_string() ? json(7) : json("x");
        expect_rejected(j, "wrong type at " + ptr);
    }
}

TEST(PlanJson, EveryFieldIsChecked) {
    expect_every_field_checked(plan_to_json(topology_plan()));
}

// Two signalers around a counted producer and a consumer.
const char* const kStorm = R"(name: storm
channels:
  a: {backend: pipe}
processes:
  - role: producer
    name: w
    count: 2
    channel: a
    workload: {messages: 10}
  - role: signaler
    targets: [w, consumer]
    workload: {rate: 100, duration: 2s}
  - role: consumer
    channel: a
  - role: signaler
    name: hup
    signal: SIGHUP
    targets: w1
)";

Plan storm_plan() {
    return make_plan(load_scenario_text(kStorm, "storm.yaml"), 3, "run-2", "/tmp/run-2");
}

TEST(MakePlan, SignalersListTheirTargets) {
    const Plan p = storm_plan();
    ASSERT_EQ(p.processes.size(), 5u);
    const PlannedProcess& s = p.processes[2];
    EXPECT_EQ(s.name, "signaler0");
    EXPECT_EQ(s.role, Role::kSignaler);
    EXPECT_EQ(s.in_channel, kNoChannel);
    EXPECT_EQ(s.out_channel, kNoChannel);
    EXPECT_EQ(s.targets, (std::vector<std::uint32_t>{0, 1, 3}));
    EXPECT_EQ(s.signal, SIGUSR2);
    EXPECT_DOUBLE_EQ(s.workload.duration_s, 2);
    EXPECT_EQ(p.processes[4].targets, (std::vector<std::uint32_t>{1}));
    EXPECT_EQ(p.processes[4].signal, SIGHUP);
    EXPECT_EQ(p.processes[3].origin, 0u) << "only producers get origins";
    EXPECT_EQ(signals_for(p, 0), (std::vector<int>{SIGUSR2}));
    EXPECT_EQ(signals_for(p, 1), (std::vector<int>{SIGHUP, SIGUSR2}));
    EXPECT_EQ(signals_for(p, 2), (std::vector<int>{}));
    EXPECT_EQ(signals_for(p, 3), (std::vector<int>{SIGUSR2}));
}

TEST(PlanJson, SignalersRoundTrip) {
    const Plan p = storm_plan();
    const json j = plan_to_json(p);
    EXPECT_EQ(j["processes"][2]["signal"], "SIGUSR2");
    EXPECT_EQ(j["processes"][2]["targets"], json({0, 1, 3}));
    EXPECT_TRUE(j["processes"][0]["signal"].is_null());
    EXPECT_EQ(j["processes"][0]["targets"], json::array());
    EXPECT_TRUE(plan_from_json(j) == p);
    EXPECT_TRUE(plan_from_json(json::parse(j.dump(2))) == p);
    expect_every_field_checked(j);
}

TEST(PlanJson, RejectsBadSignalers) {
    const json good = plan_to_json(storm_plan());
    auto with = [&](const std::string& ptr, const json& v) {
        json j = good;
        j[json::json_pointer(ptr)] = v;
        return j;
    };
    expect_rejected(with("/processes/2/targets", json::array()), "a signaler without targets");
    expect_rejected(with("/processes/2/targets/0", 5), "a target out of range");
    expect_rejected(with("/processes/2/targets/0", 4), "a target that is a signaler");
    expect_rejected(with("/processes/2/signal", nullptr), "a signaler without a signal");
    expect_rejected(with("/processes/2/signal", "SIGKILL"), "a signal no signaler may send");
    expect_rejected(with("/processes/2/in_channel", 0), "a signaler that reads a channel");
    expect_rejected(with("/processes/2/out_channel", 0), "a signaler that writes a channel");
    expect_rejected(with("/processes/0/targets", json({3})), "a producer with targets");
    expect_rejected(with("/processes/3/signal", "SIGUSR1"), "a consumer with a signal");
}

}  // namespace
}  // namespace ipct
