// Helpers the loaders of scenario sections share (faults, syscall faults,
// proxies): where a YAML node stands, how to name what was found, and a map
// checked against the keys scenario_keys() lists for its kind.  Every error
// is a ScenarioError at the node.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ipctorture/errors.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct::scenario_yaml {

[[noreturn]] inline void fail_at(const SourceLoc& l, const std::string& msg) {
    throw ScenarioError(l.file, l.line, l.column, msg);
}

// Where n stands in `file`; `fallback` for a node without a position.
inline SourceLoc at(const std::string& file, const YAML::Node& n, const SourceLoc& fallback) {
    const YAML::Mark m = n.Mark();
    if (m.line < 0) return fallback;
    return {file, m.line + 1, m.column + 1};
}

// What an error message calls the node found: "a map", "'text'" ...
inline std::string shown(const YAML::Node& n) {
    if (n.IsMap()) return "a map";
    if (n.IsSequence()) return "a sequence";
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    return "nothing";
}

inline std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& e : v) s += (s.empty() ? "" : ", ") + e;
    return s;
}

struct Field {
    YAML::Node node;
    SourceLoc loc;
};

// A map's fields, checked: plain keys from scenario_keys(kind), each once.
// `what` names the map in errors ("a 'syscall_faults' rule").
inline std::map<std::string, Field> fields(const std::string& file, const YAML::Node& n,
                                           const SourceLoc& loc, const std::string& kind,
                                           const std::string& what) {
    if (!n.IsMap()) fail_at(loc, "expected a map for " + what + ", got " + shown(n));
    const std::vector<std::string>& keys = scenario_keys(kind);
    std::map<std::string, Field> out;
    for (auto it = n.begin(); it != n.end(); ++it) {
        const SourceLoc kl = at(file, it->first, loc);
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
        if (std::find(keys.begin(), keys.end(), key) == keys.end())
            fail_at(kl, "unknown key " + shown(it->first) + " in " + what +
                            "; expected one of: " + joined(keys));
        const SourceLoc vl = it->second.IsNull() ? kl : at(file, it->second, kl);
        if (!out.emplace(key, Field{it->second, vl}).second)
            fail_at(kl, "duplicate key '" + key + "' in " + what);
    }
    return out;
}

// A field's scalar text; `expected` says what it should have been.
inline const std::string& text(const Field& f, const std::string& key,
                               const std::string& expected) {
    if (!f.node.IsScalar())
        fail_at(f.loc, "expected " + expected + " for '" + key + "', got " + shown(f.node));
    return f.node.Scalar();
}

}  // namespace ipct::scenario_yaml
