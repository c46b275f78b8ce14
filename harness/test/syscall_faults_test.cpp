// `syscall_faults:` in the model: the loader's forms, the top-level default
// and `off`, what the plan carries to the worker (and back from plan.json),
// the text the interposer reads, and the counts read back from its records.
#include "ipctorture/syscall_faults.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "ipctorture/errors.hpp"
#include "ipctorture/plan.hpp"

using namespace ipct;

namespace {

const char* kScenario = R"(name: faults-model
syscall_faults: {error: EINTR, calls: msgrcv, probability: 0.05}
channels:
  q: {backend: sysv_msg}
processes:
  - role: producer
    channel: q
    workload: {messages: 10}
    syscall_faults:
      - {error: short, calls: [write], nth: 3}
      - {error: ENOBUFS, probability: 1}
  - role: consumer
    channel: q
  - role: consumer
    name: quiet
    channel: q
    syscall_faults: off
  - role: signaler
    targets: [consumer]
)";

Record fault_record(std::uint32_t call, std::int32_t err) {
    Record r{};
    r.op = Op::kSyscallFault;
    r.status = Status::kOk;
    r.aux = call;
    r.err = err;
    r.t_start = r.t_end = 100 + call;
    return r;
}

}  // namespace

TEST(SyscallFaultsModel, FormsDefaultsAndOff) {
    const Scenario s = load_scenario_text(kScenario, "model.yaml");
    ASSERT_EQ(s.syscall_faults.size(), 1u);
    EXPECT_EQ(s.syscall_faults[0].error, SyscallFaultRule::Error::kEintr);
    EXPECT_EQ(s.syscall_faults[0].calls, std::vector<std::string>{"msgrcv"});
    EXPECT_EQ(s.syscall_faults[0].loc.line, 2);
    const Plan plan = make_plan(s, 3, "run", "/tmp/run");
    ASSERT_EQ(plan.processes.size(), 4u);
    const auto& producer = plan.processes[0].syscall_faults;
    ASSERT_EQ(producer.size(), 2u);
    EXPECT_EQ(producer[0].error, SyscallFaultRule::Error::kShort);
    EXPECT_EQ(producer[0].nth, 3u);
    EXPECT_TRUE(producer[1].calls.empty());
    EXPECT_EQ(plan.processes[1].syscall_faults, s.syscall_faults);  // the default
    EXPECT_TRUE(plan.processes[2].syscall_faults.empty());          // off
    EXPECT_TRUE(plan.processes[3].syscall_faults.empty());          // a signaler: never
    EXPECT_EQ(syscall_faults_spec(producer),
              "error=short,calls=write,nth=3;error=ENOBUFS,calls=all,p=1");
    EXPECT_EQ(syscall_faults_spec(plan.processes[1].syscall_faults),
              "error=EINTR,calls=msgrcv,p=0.05");
    EXPECT_EQ(syscall_faults_text(producer), "short on write, nth=3; ENOBUFS on all, p=1");
}

TEST(SyscallFaultsModel, ThePlanCarriesTheRules) {
    const Plan plan = make_plan(load_scenario_text(kScenario, "model.yaml"), 3, "run", "/tmp/r");
    const Plan back = plan_from_json(plan_to_json(plan));
    EXPECT_EQ(back, plan);
    nlohmann::json j = plan_to_json(plan);
    j["processes"][0]["syscall_faults"][0]["error"] = "EIO";
    EXPECT_THROW(plan_from_json(j), HarnessError);
}

TEST(SyscallFaultsModel, EachErrorAppliesToItsCalls) {
    using E = SyscallFaultRule::Error;
    auto has = [](E e, const std::string& call) {
        const auto v = syscall_fault_calls_for(e);
        return std::find(v.begin(), v.end(), call) != v.end();
    };
    EXPECT_TRUE(has(E::kEintr, "msgrcv"));
    EXPECT_TRUE(has(E::kEintr, "sem_wait"));
    EXPECT_TRUE(has(E::kEagain, "mq_send"));
    EXPECT_FALSE(has(E::kEagain, "mq_receive"));  // a receive's EAGAIN proves emptiness
    EXPECT_FALSE(has(E::kEagain, "accept"));
    EXPECT_TRUE(has(E::kEnobufs, "sendto"));
    EXPECT_FALSE(has(E::kEnobufs, "recv"));
    EXPECT_TRUE(has(E::kShort, "readv"));
    EXPECT_FALSE(has(E::kShort, "msgsnd"));  // message boundaries are kept
    EXPECT_EQ(syscall_fault_calls().front(), "read");
}

TEST(SyscallFaultsModel, RecordsAreCountedByCallAndErrno) {
    const auto& calls = syscall_fault_calls();
    const auto id = [&](const char* name) {
        return static_cast<std::uint32_t>(std::find(calls.begin(), calls.end(), name) -
                                          calls.begin());
    };
    std::vector<Record> recs{fault_record(id("msgrcv"), EINTR), fault_record(id("read"), 0),
                             fault_record(id("msgrcv"), EINTR),
                             fault_record(id("read") | 1u << 16, 0)};
    recs.push_back(Record{});  // not an injection
    const SyscallFaultStats st = count_syscall_faults(recs.data(), recs.size());
    EXPECT_EQ(st.total, 4u);
    EXPECT_EQ(syscall_fault_counts_text(st), "read short x2, msgrcv EINTR x2");
}
