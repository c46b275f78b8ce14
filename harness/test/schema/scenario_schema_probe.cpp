// What the scenario schema's test (scenario_schema_test.py) compares the
// schema with, taken from the loader itself:
//
//   scenario_schema_probe keys          the keys the loader accepts per kind
//                                       of map, the names it accepts in each
//                                       enumerated field, and per backend its
//                                       channel options, process options and
//                                       mutants (JSON on stdout)
//   scenario_schema_probe json FILE     FILE's YAML as JSON, each plain scalar
//                                       typed as a YAML 1.2 editor types it
//                                       (what the schema is applied to)
//   scenario_schema_probe load FILE     exit 0 if the loader accepts FILE, 2
//                                       with its message if it refuses it
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "ipctorture/backend.hpp"
#include "ipctorture/checker.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/scenario.hpp"
#include "ipctorture/syscall_faults.hpp"

namespace ipct {
namespace {

using nlohmann::json;

// The option names a backend's validate() accepts: it refuses an unknown
// one with "unknown option 'X'; expected one of: a, b" (option_reject_unknown).
json channel_options(const Backend& b) {
    Options o{{"schema-probe-no-such-option", OptionValue{"1", {"probe", 1, 1}}}};
    try {
        b.validate(o);
    } catch (const ScenarioError& e) {
        const std::string what = e.what();
        const std::string marker = "expected one of: ";
        const std::size_t at = what.find(marker);
        if (what.find("unknown option") == std::string::npos || at == std::string::npos)
            throw std::runtime_error("unexpected refusal: " + what);
        json names = json::array();
        std::string rest = what.substr(at + marker.size());
        for (std::size_t start = 0; start <= rest.size();) {
            std::size_t comma = rest.find(", ", start);
            if (comma == std::string::npos) comma = rest.size();
            names.push_back(rest.substr(start, comma - start));
            start = comma + 2;
        }
        return names;
    }
    throw std::runtime_error(std::string(b.name()) + " accepted an unknown option");
}

json backends_json() {
    json out = json::object();
    for (std::string_view name : backend_names()) {
        const Backend& b = *find_backend(name);
        json endpoint = json::array();
        for (Direction d : {Direction::kRead, Direction::kWrite})
            for (const std::string& k : b.endpoint_keys(d)) endpoint.push_back(k);
        json mutants = json::array();
        for (const MutantInfo& m : b.mutants()) mutants.push_back(m.name);
        out[std::string(name)] = {
            {"options", channel_options(b)}, {"endpoint_keys", endpoint}, {"mutants", mutants}};
    }
    return out;
}

template <typename Name>
json names_until(Name name) {
    json out = json::array();
    for (int i = 0;; ++i) {
        const std::string n = name(i);
        if (n == "?") return out;
        out.push_back(n);
    }
}

json keys_json() {
    json kinds = json::object();
    for (const ScenarioKeys& k : scenario_known_keys()) kinds[k.kind] = k.keys;
    json findings = json::array();
    for (int k = 0; k < kFindingKinds; ++k)
        findings.push_back(finding_kind_name(static_cast<FindingKind>(k)));
    json signals = json::array();
    for (int s = 1; s < NSIG; ++s)
        if (std::string(signal_name(s)) != "?") signals.push_back(signal_name(s));
    return {{"kinds", kinds},
            {"roles", names_until([](int i) { return role_name(static_cast<Role>(i)); })},
            {"checks", names_until([](int i) { return check_name(static_cast<Check>(i)); })},
            {"findings", findings},
            {"signals", signals},
            {"perturb_kinds", {"yield", "spin", "sleep"}},
            {"syscall_fault_calls", syscall_fault_calls()},
            {"backends", backends_json()}};
}

// A plain scalar typed by the YAML 1.2 core schema, as yaml-language-server
// and most editors read it; a quoted one stays a string.
json scalar_json(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    if (n.Tag() != "?") return s;
    static const std::regex kNull("~|null|Null|NULL");
    static const std::regex kTrue("true|True|TRUE"), kFalse("false|False|FALSE");
    static const std::regex kInt("[-+]?[0-9]+");
    static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    if (std::regex_match(s, kNull)) return nullptr;
    if (std::regex_match(s, kTrue)) return true;
    if (std::regex_match(s, kFalse)) return false;
    try {
        if (std::regex_match(s, kInt))
            return s[0] == '-' ? json(std::stoll(s))
                               : json(std::stoull(s[0] == '+' ? s.substr(1) : s));
        if (std::regex_match(s, kFloat)) return std::stod(s);
    } catch (const std::out_of_range&) {
        return s;  // beyond 64 bits: an editor would show a big number; keep the text
    }
    return s;
}

json to_json(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: {
            json out = json::object();
            for (auto it = n.begin(); it != n.end(); ++it)
                out[it->first.Scalar()] = to_json(it->second);
            return out;
        }
        case YAML::NodeType::Sequence: {
            json out = json::array();
            for (const YAML::Node& e : n) out.push_back(to_json(e));
            return out;
        }
        case YAML::NodeType::Scalar:
            return scalar_json(n);
        default:
            return nullptr;
    }
}

int usage() {
    std::fprintf(stderr, "usage: scenario_schema_probe keys | json FILE | load FILE\n");
    return 2;
}

}  // namespace
}  // namespace ipct

int main(int argc, char** argv) {
    using namespace ipct;
    if (argc < 2) return usage();
    const std::string cmd = argv[1];
    try {
        if (cmd == "keys" && argc == 2) {
            std::cout << keys_json().dump(2) << "\n";
            return 0;
        }
        if (cmd == "json" && argc == 3) {
            std::cout << to_json(YAML::LoadFile(argv[2])).dump() << "\n";
            return 0;
        }
        if (cmd == "load" && argc == 3) {
            load_scenarios(argv[2]);
            return 0;
        }
    } catch (const ScenarioError& e) {
        std::cout << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "scenario_schema_probe: " << e.what() << "\n";
        return 3;
    }
    return usage();
}
