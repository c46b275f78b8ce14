// Fuzz target: the scenario loader and the plan.
//
// Input: the bytes of a scenario file.  Contract: any text either loads or
// throws ScenarioError (any other exception escaping is a bug and crashes the
// target); a scenario that loads expands into a plan, and the plan survives
// both its JSON round trips: the object one (plan_from_json(plan_to_json(p)))
// and the text one the run directory uses (dump, then parse).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "ipctorture/errors.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/scenario.hpp"

namespace {

void check_plan(const ipct::Scenario& s) {
    const ipct::Plan p = ipct::make_plan(s, s.seed, "fuzz", "/nonexistent");
    const nlohmann::json j = ipct::plan_to_json(p);
    if (!(ipct::plan_from_json(j) == p)) __builtin_trap();
    // run_dir.cpp writes plan.json with dump(1); workers parse it back.
    if (!(ipct::plan_from_json(nlohmann::json::parse(j.dump(1))) == p)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const ipct::Scenario s = ipct::load_scenario_text(text, "fuzz.yaml");
        check_plan(s);
    } catch (const ipct::ScenarioError&) {
        // The expected outcome for a malformed scenario.
    }
    return 0;
}
