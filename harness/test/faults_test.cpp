// `faults:` in a scenario: every refusal at the offending node's line and
// column next to a close scenario that loads, and the plan's schedule (the
// same seed draws the same random faults; plan.json keeps it).
#include "ipctorture/faults.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "ipctorture/errors.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct {
namespace {

// Lines 1-10; the faults follow from line 11.
const std::string kHead =
    "name: t\n"                                                    // 1
    "channels:\n"                                                  // 2
    "  q: {backend: posix_mq}\n"                                   // 3
    "processes:\n"                                                 // 4
    "  - role: producer\n"                                         // 5
    "    channel: q\n"                                             // 6
    "    workload: {messages: 10}\n"                               // 7
    "  - {role: consumer, channel: q, count: 2}\n"                 // 8
    "  - {role: signaler, targets: consumer0, signal: SIGUSR1}\n"  // 9
    "faults:\n";                                                   // 10

Scenario load(const std::string& faults) {
    return load_scenario_text(kHead + faults, "t.yaml");
}

struct Case {
    std::string bad;
    int line, column;
    std::string message;
    std::string good;
};

class BadFault : public testing::TestWithParam<Case> {};

TEST_P(BadFault, FailsAtTheOffendingNode) {
    const Case& c = GetParam();
    try {
        load(c.bad);
        ADD_FAILURE() << "loaded:\n" << c.bad;
    } catch (const ScenarioError& e) {
        EXPECT_EQ(e.line(), c.line) << e.what();
        EXPECT_EQ(e.column(), c.column) << e.what();
        EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos)
            << e.what() << "\nexpected: " << c.message;
    }
}

TEST_P(BadFault, CloseGoodScenarioLoads) {
    try {
        load(GetParam().good);
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, BadFault,
    testing::Values(
        Case{"  - {action: explode, target: consumer0, at: 1s}\n", 11, 14,
             "unknown fault action 'explode'; expected kill, stop, signal or restart",
             "  - {action: kill, target: consumer0, at: 1s}\n"},
        Case{"  - {action: kill, target: consumer7, at: 1s}\n", 11, 28,
             "unknown target 'consumer7'", "  - {action: kill, target: consumer, at: 1s}\n"},
        Case{"  - {action: kill, target: signaler0, at: 1s}\n", 11, 28, "is a signaler",
             "  - {action: kill, target: producer0, at: 1s}\n"},
        Case{"  - {action: kill, target: relay, at: 1s}\n", 11, 28, "the scenario has no relay",
             "  - {action: kill, target: producer, at: 1s}\n"},
        Case{"  - {action: kill, target: consumer0}\n", 11, 5, "needs a trigger",
             "  - {action: kill, target: consumer0, at: 0}\n"},
        Case{"  - {action: kill, target: consumer0, at: 1s, after: {process: producer0, "
             "messages: 3}}\n",
             11, 5, "one trigger",
             "  - {action: kill, target: consumer0, after: {process: producer0, messages: 3}}\n"},
        Case{"  - {action: kill, target: consumer0, at: soon}\n", 11, 43,
             "expected a duration for 'at'", "  - {action: kill, target: consumer0, at: 20ms}\n"},
        Case{"  - {action: stop, target: consumer0, at: 1s}\n", 11, 5, "needs 'pause'",
             "  - {action: stop, target: consumer0, at: 1s, pause: 10ms}\n"},
        Case{"  - {action: kill, target: consumer0, at: 1s, pause: 10ms}\n", 11, 54,
             "'pause' is only for a stop fault", "  - {action: kill, target: consumer0, at: 1s}\n"},
        Case{"  - {action: stop, target: consumer0, at: 1s, pause: 0}\n", 11, 54,
             "'pause' must be greater than zero",
             "  - {action: stop, target: consumer0, at: 1s, pause: 1us}\n"},
        Case{"  - {action: signal, target: consumer0, at: 1s}\n", 11, 5, "needs 'signal'",
             "  - {action: signal, target: consumer0, at: 1s, signal: TERM}\n"},
        Case{"  - {action: signal, target: consumer0, at: 1s, signal: SIGNOPE}\n", 11, 57,
             "expected a signal name",
             "  - {action: signal, target: consumer0, at: 1s, signal: SIGRTMIN+2}\n"},
        Case{"  - {action: kill, target: consumer0, at: 1s, signal: SIGTERM}\n", 11, 55,
             "'signal' is only for a signal fault",
             "  - {action: signal, target: consumer0, at: 1s, signal: SIGTERM}\n"},
        Case{"  - {action: kill, target: consumer0, after: {process: consumer, messages: 3}}\n", 11,
             56, "unknown process 'consumer' in 'after'",
             "  - {action: kill, target: consumer0, after: {process: consumer1, messages: 3}}\n"},
        Case{"  - {action: kill, target: consumer0, after: {process: signaler0, messages: 3}}\n",
             11, 56, "logs no messages",
             "  - {action: kill, target: consumer0, after: {process: producer0, messages: 3}}\n"},
        Case{"  - {action: kill, target: consumer0, after: {process: producer0, messages: 0}}\n",
             11, 77, "expected a positive integer for 'messages'",
             "  - {action: kill, target: consumer0, after: {process: producer0, messages: 1}}\n"},
        Case{"  - {action: kill, target: consumer0, after: {process: producer0}}\n", 11, 46,
             "missing key 'messages'",
             "  - {action: kill, target: consumer0, after: {process: producer0, messages: 9}}\n"},
        Case{"  - {action: kill, target: consumer, random: {rate: 2, from: 1s, until: 1s}}\n", 11,
             73, "'until' must be later than 'from'",
             "  - {action: kill, target: consumer, random: {rate: 2, from: 1s, until: 2s}}\n"},
        Case{"  - {action: kill, target: consumer, random: {rate: 1000, until: 1s}}\n", 11, 53,
             "would draw about 1000 faults",
             "  - {action: kill, target: consumer, random: {rate: 100, until: 1s}}\n"},
        Case{"  - {action: kill, target: consumer, random: {rate: 2, until: 1s, every: 1}}\n", 11,
             67, "unknown key 'every' in a fault's 'random'",
             "  - {action: kill, target: consumer, random: {rate: 2, until: 1s}}\n"},
        Case{"  - {action: kill, target: consumer0, at: 1s, when: now}\n", 11, 47,
             "unknown key 'when' in a fault; expected one of: action, target",
             "  - {action: kill, target: consumer0, at: 1s}\n"},
        Case{"  - {action: kill, target: consumer0, at: 1s, delay: 10ms}\n", 11, 54,
             "'delay' is only for a restart fault",
             "  - {action: restart, target: consumer0, at: 1s, delay: 10ms}\n"},
        Case{"  - {action: restart, target: consumer0, at: 1s, delay: soon}\n", 11, 57,
             "expected a duration for 'delay'",
             "  - {action: restart, target: consumer0, at: 1s, delay: 0}\n"},
        Case{"  - {action: restart, target: signaler0, at: 1s}\n", 11, 31, "is a signaler",
             "  - {action: restart, target: producer0, at: 1s}\n"},
        Case{"  kill: consumer0\n", 11, 3, "expected a sequence of faults",
             "  - {action: kill, target: consumer0, at: 1s}\n"}));

TEST(Faults, PlanExpandsTargetsAndKeepsTheTrigger) {
    const Scenario s = load(
        "  - {action: stop, target: consumer, pause: 5ms, after: {process: producer0, "
        "messages: 4}}\n"
        "  - {action: signal, target: consumer1, at: 30ms, signal: TERM}\n");
    const Plan p = make_plan(s, 1, "id", "/nonexistent");
    ASSERT_EQ(p.faults.size(), 3u);
    EXPECT_EQ(p.faults[0].target, 1u);
    EXPECT_EQ(p.faults[1].target, 2u);
    EXPECT_TRUE(p.faults[0].by_count);
    EXPECT_EQ(p.faults[0].after_process, 0u);
    EXPECT_EQ(p.faults[0].after_messages, 4u);
    EXPECT_DOUBLE_EQ(p.faults[0].pause_s, 0.005);
    EXPECT_EQ(fault_signal(p.faults[0]), SIGSTOP);
    EXPECT_EQ(p.faults[2].action, FaultAction::kSignal);
    EXPECT_EQ(fault_signal(p.faults[2]), SIGTERM);
    EXPECT_DOUBLE_EQ(p.faults[2].at_s, 0.03);
    EXPECT_EQ(p.faults[2].entry, 1u);
    EXPECT_EQ(plan_from_json(plan_to_json(p)), p);
}

// Restarts: producers and consumers on channels a new incarnation can open
// again; the rest refused at the target.
TEST(Faults, RestartTargetsAreCheckedAgainstRolesAndBackends) {
    const std::string head =
        "name: t\n"                                                   // 1
        "channels:\n"                                                 // 2
        "  q: {backend: sysv_msg}\n"                                  // 3
        "  p: {backend: pipe}\n"                                      // 4
        "processes:\n"                                                // 5
        "  - {role: producer, channel: q, workload: {messages: 10}}\n"  // 6
        "  - {role: relay, input: q, output: p}\n"                    // 7
        "  - {role: consumer, channel: p}\n"                          // 8
        "faults:\n";                                                  // 9
    auto refused = [&](const std::string& fault, const std::string& message) {
        try {
            load_scenario_text(head + fault, "t.yaml");
            ADD_FAILURE() << "loaded: " << fault;
        } catch (const ScenarioError& e) {
            EXPECT_EQ(e.line(), 10) << e.what();
            EXPECT_EQ(e.column(), 31) << e.what();
            EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
        }
    };
    refused("  - {action: restart, target: relay0, at: 1s}\n",
            "a restart's target must be a producer or a consumer; 'relay0' is a relay");
    refused("  - {action: restart, target: consumer0, at: 1s}\n",
            "'consumer0' uses channel 'p' (pipe)");
    // The same faults as kills, and a restart of the producer, load.
    const Scenario s = load_scenario_text(
        head + "  - {action: kill, target: relay0, at: 1s}\n"
               "  - {action: kill, target: consumer0, at: 1s}\n"
               "  - {action: restart, target: producer0, at: 1s, delay: 20ms}\n",
        "t.yaml");
    const Plan p = make_plan(s, 1, "id", "/nonexistent");
    ASSERT_EQ(p.faults.size(), 3u);
    EXPECT_EQ(p.faults[2].action, FaultAction::kRestart);
    EXPECT_DOUBLE_EQ(p.faults[2].delay_s, 0.02);
    EXPECT_EQ(fault_signal(p.faults[2]), SIGKILL);
    EXPECT_EQ(plan_from_json(plan_to_json(p)), p);
}

TEST(Faults, TheSameSeedDrawsTheSameRandomSchedule) {
    const Scenario s =
        load("  - {action: kill, target: consumer, random: {rate: 40, from: 100ms, until: 2s}}\n");
    const Plan a = make_plan(s, 42, "a", "/nonexistent");
    const Plan b = make_plan(s, 42, "b", "/nonexistent");
    const Plan c = make_plan(s, 43, "c", "/nonexistent");
    ASSERT_GT(a.faults.size(), 10u);
    EXPECT_EQ(a.faults, b.faults);
    EXPECT_NE(a.faults, c.faults);
    bool both = false;
    for (const PlannedFault& f : a.faults) {
        EXPECT_GE(f.at_s, 0.1);
        EXPECT_LT(f.at_s, 2.0);
        EXPECT_TRUE(f.target == 1 || f.target == 2);
        both |= f.target != a.faults.front().target;
    }
    EXPECT_TRUE(both) << "each draw picks one of the target's processes";
    EXPECT_EQ(plan_from_json(plan_to_json(a)), a);
}

TEST(Faults, SignalNames) {
    EXPECT_EQ(any_signal("SIGTERM"), SIGTERM);
    EXPECT_EQ(any_signal("KILL"), SIGKILL);
    EXPECT_EQ(any_signal("SIGRTMIN"), SIGRTMIN);
    EXPECT_EQ(any_signal("RTMIN+3"), SIGRTMIN + 3);
    EXPECT_EQ(any_signal("SIGRTMAX-1"), SIGRTMAX - 1);
    EXPECT_EQ(any_signal("SIGRTMAX+1"), std::nullopt);
    EXPECT_EQ(any_signal("SIGRTMIN+"), std::nullopt);
    EXPECT_EQ(any_signal("sigterm"), std::nullopt);
    EXPECT_EQ(any_signal(""), std::nullopt);
    EXPECT_EQ(any_signal_name(SIGTERM), "SIGTERM");
    EXPECT_EQ(any_signal_name(SIGRTMIN + 2), "SIGRTMIN+2");
    EXPECT_EQ(any_signal(any_signal_name(SIGRTMIN + 2)), SIGRTMIN + 2);
}

TEST(Faults, ABadPlanEntryIsAHarnessError) {
    const Scenario s = load("  - {action: kill, target: consumer0, at: 1s}\n");
    nlohmann::json j = plan_to_json(make_plan(s, 1, "id", "/nonexistent"));
    j["faults"][0]["target"] = 9;
    EXPECT_THROW(plan_from_json(j), HarnessError);
    j["faults"][0]["target"] = 1;
    j["faults"][0]["action"] = "explode";
    EXPECT_THROW(plan_from_json(j), HarnessError);
}

}  // namespace
}  // namespace ipct
