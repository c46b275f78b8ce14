// Text and YAML forms of schedule perturbation and CPU placement, and their
// resolution into each process's setting.
#include "ipctorture/schedule.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "ipctorture/errors.hpp"
#include "scenario_schedule.hpp"

namespace ipct {

namespace {

constexpr std::pair<const char*, std::uint8_t> kKindNames[] = {{"yield", PerturbConfig::kYield},
                                                               {"spin", PerturbConfig::kSpin},
                                                               {"sleep", PerturbConfig::kSleep}};
constexpr std::pair<const char*, std::uint8_t> kSiteNames[] = {
    {"calls", PerturbConfig::kCalls}, {"windows", PerturbConfig::kWindows}};

template <typename Table>
std::string bits_text(std::uint8_t bits, const Table& t) {
    std::string out;
    for (const auto& [name, bit] : t)
        if (bits & bit) out += (out.empty() ? "" : "+") + std::string(name);
    return out;
}

template <typename Table>
std::uint8_t bit_of(const std::string& name, const Table& t) {
    for (const auto& [n, bit] : t)
        if (name == n) return bit;
    return 0;
}

std::string number_text(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

// The largest unit that states ns exactly.
std::string ns_text(std::uint64_t ns) {
    static constexpr std::pair<std::uint64_t, const char*> kUnits[] = {
        {1'000'000'000, "s"}, {1'000'000, "ms"}, {1'000, "us"}};
    for (const auto& [scale, unit] : kUnits)
        if (ns != 0 && ns % scale == 0) return std::to_string(ns / scale) + unit;
    return std::to_string(ns) + "ns";
}

std::optional<double> parse_probability(const std::string& s) {
    const std::optional<double> v = parse_decimal(s);
    if (!v || !(*v >= 0 && *v <= 1)) return std::nullopt;
    return v;
}

std::optional<std::uint64_t> parse_sleep_ns(const std::string& s) {
    const std::optional<double> d = parse_duration(s);
    if (!d || *d * 1e9 > double(kMaxPerturbSleepNs)) return std::nullopt;
    return static_cast<std::uint64_t>(std::llround(*d * 1e9));
}

std::optional<std::uint32_t> parse_spin(const std::string& s) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > kMaxPerturbSpin)
        return std::nullopt;
    return static_cast<std::uint32_t>(v);
}

// "yield+spin" -> bits; 0 with *why set for an unknown or repeated name.
template <typename Table>
std::uint8_t parse_bits(const std::string& s, const Table& t, const char* what, std::string* why) {
    std::uint8_t bits = 0;
    std::size_t at = 0;
    for (;;) {
        const std::size_t plus = s.find('+', at);
        const std::string name = s.substr(at, plus == std::string::npos ? plus : plus - at);
        const std::uint8_t b = bit_of(name, t);
        if (b == 0 || (bits & b)) {
            *why = std::string(b ? "repeated " : "unknown ") + what + " '" + name + "'; expected " +
                   bits_text(0xff, t) + " joined by '+', each once";
            return 0;
        }
        bits |= b;
        if (plus == std::string::npos) return bits;
        at = plus + 1;
    }
}

bool set_field(PerturbConfig& c, const std::string& key, const std::string& value,
               std::string* why) {
    if (key == "p" || key == "probability") {
        auto v = parse_probability(value);
        if (!v) *why = "expected a probability in [0, 1] for " + key + ", got '" + value + "'";
        if (v) c.probability = *v;
        return v.has_value();
    }
    if (key == "sleep" || key == "max_sleep") {
        auto v = parse_sleep_ns(value);
        if (!v) *why = "expected a duration of at most 1s for " + key + ", got '" + value + "'";
        if (v) c.max_sleep_ns = *v;
        return v.has_value();
    }
    if (key == "spin" || key == "max_spin") {
        auto v = parse_spin(value);
        if (!v)
            *why = "expected a count up to " + std::to_string(kMaxPerturbSpin) + " for " + key +
                   ", got '" + value + "'";
        if (v) c.max_spin = *v;
        return v.has_value();
    }
    if (key == "kinds") return (c.kinds = parse_bits(value, kKindNames, "kind", why)) != 0;
    if (key == "sites") return (c.sites = parse_bits(value, kSiteNames, "site", why)) != 0;
    *why = "unknown key '" + key + "'; expected p, sleep, spin, kinds, sites";
    return false;
}

// The canonical name of a key and its aliases, to refuse one given twice.
std::string canonical_key(const std::string& k) {
    if (k == "probability") return "p";
    if (k == "max_sleep") return "sleep";
    if (k == "max_spin") return "spin";
    return k;
}

}  // namespace

std::uint8_t perturb_kind_bit(const std::string& name) {
    return bit_of(name, kKindNames);
}

std::uint8_t perturb_site_bit(const std::string& name) {
    return bit_of(name, kSiteNames);
}

std::string perturb_text(const PerturbConfig& c) {
    if (c == PerturbConfig::off()) return "off";
    return "p=" + number_text(c.probability) + ",sleep=" + ns_text(c.max_sleep_ns) +
           ",spin=" + std::to_string(c.max_spin) + ",kinds=" + bits_text(c.kinds, kKindNames) +
           ",sites=" + bits_text(c.sites, kSiteNames);
}

std::optional<PerturbConfig> parse_perturb_text(const std::string& s, std::string* why) {
    std::string scratch;
    if (!why) why = &scratch;
    if (s == "off") return PerturbConfig::off();
    if (s == "default") return PerturbConfig::builtin_default();
    PerturbConfig c = PerturbConfig::map_defaults();
    if (auto p = parse_probability(s)) {
        c.probability = *p;
        return c;
    }
    if (s.find('=') == std::string::npos) {
        *why = "expected off, default, a probability in [0, 1] or key=value pairs, got '" + s + "'";
        return std::nullopt;
    }
    std::set<std::string> seen;
    std::size_t at = 0;
    for (;;) {
        const std::size_t comma = s.find(',', at);
        const std::string pair = s.substr(at, comma == std::string::npos ? comma : comma - at);
        const std::size_t eq = pair.find('=');
        if (eq == std::string::npos) {
            *why = "expected key=value, got '" + pair + "'";
            return std::nullopt;
        }
        const std::string key = pair.substr(0, eq);
        if (!seen.insert(canonical_key(key)).second) {
            *why = "'" + key + "' is given twice";
            return std::nullopt;
        }
        if (!set_field(c, key, pair.substr(eq + 1), why)) return std::nullopt;
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    if (std::string e = perturb_config_error(c); !e.empty()) {
        *why = e;
        return std::nullopt;
    }
    return c;
}

const char* placement_name(CpuPlacement::Kind k) {
    switch (k) {
        case CpuPlacement::Kind::kAny:
            return "any";
        case CpuPlacement::Kind::kSame:
            return "same";
        case CpuPlacement::Kind::kSpread:
            return "spread";
        case CpuPlacement::Kind::kList:
            return "list";
    }
    return "?";
}

PerturbConfig effective_perturb(const Scenario& s, const ProcessSpec& p) {
    if (p.perturb) return *p.perturb;
    if (s.perturb) return *s.perturb;
    return PerturbConfig::builtin_default();
}

CpuPlacement effective_placement(const Scenario& s, const ProcessSpec& p) {
    if (p.cpus) return *p.cpus;
    if (s.cpus) return *s.cpus;
    return {};
}

std::vector<int> CpuAssigner::next(const CpuPlacement& p) {
    switch (p.kind) {
        case CpuPlacement::Kind::kAny:
            return {};
        case CpuPlacement::Kind::kSame:
            if (allowed_.empty()) IPCT_FAIL("no CPU is available to place processes on");
            return {allowed_.front()};
        case CpuPlacement::Kind::kSpread:
            if (allowed_.empty()) IPCT_FAIL("no CPU is available to place processes on");
            return {allowed_[spread_++ % allowed_.size()]};
        case CpuPlacement::Kind::kList:
            return p.cpus;
    }
    return {};
}

// ---- YAML ------------------------------------------------------------------

namespace {

SourceLoc at(const std::string& file, const YAML::Node& n, const SourceLoc& fallback) {
    const YAML::Mark m = n.Mark();
    if (n.IsNull() || m.line < 0) return fallback;
    return {file, m.line + 1, m.column + 1};
}

[[noreturn]] void fail_at(const SourceLoc& l, const std::string& msg) {
    throw ScenarioError(l.file, l.line, l.column, msg);
}

std::string shown(const YAML::Node& n) {
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    if (n.IsMap()) return "a map";
    if (n.IsSequence()) return "a sequence";
    return "nothing";
}

// A sequence of names -> bits, each name known and given once.
template <typename Table>
std::uint8_t load_bits(const std::string& file, const YAML::Node& n, const SourceLoc& loc,
                       const Table& t, const char* key) {
    const std::string expected = bits_text(0xff, t);
    if (!n.IsSequence() || n.size() == 0)
        fail_at(loc, std::string("expected a non-empty sequence of ") + expected + " for '" + key +
                         "', got " + shown(n));
    std::uint8_t bits = 0;
    for (const YAML::Node& e : n) {
        const SourceLoc el = at(file, e, loc);
        const std::uint8_t b = e.IsScalar() ? bit_of(e.Scalar(), t) : 0;
        if (b == 0)
            fail_at(el, std::string("expected one of ") + expected + " in '" + key + "', got " +
                            shown(e));
        if (bits & b) fail_at(el, "'" + e.Scalar() + "' is listed twice in '" + key + "'");
        bits |= b;
    }
    return bits;
}

PerturbConfig load_perturb_map(const std::string& file, const YAML::Node& n, const SourceLoc& loc) {
    const std::vector<std::string>& keys = scenario_keys("perturb");
    PerturbConfig c = PerturbConfig::map_defaults();
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
        const YAML::Node k = it->first;
        const SourceLoc kl = at(file, k, loc);
        const std::string key = k.IsScalar() ? k.Scalar() : std::string();
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
            std::string expected;
            for (const std::string& e : keys) expected += (expected.empty() ? "" : ", ") + e;
            fail_at(kl, "unknown key " + shown(k) + " in 'perturb'; expected one of: " + expected);
        }
        if (!seen.insert(key).second) fail_at(kl, "duplicate key '" + key + "' in 'perturb'");
        const YAML::Node v = it->second;
        const SourceLoc vl = at(file, v, kl);
        if (key == "kinds") {
            c.kinds = load_bits(file, v, vl, kKindNames, "kinds");
            continue;
        }
        if (key == "sites") {
            c.sites = load_bits(file, v, vl, kSiteNames, "sites");
            continue;
        }
        std::string why;
        if (!v.IsScalar() || !set_field(c, key, v.Scalar(), &why))
            fail_at(vl,
                    v.IsScalar() ? why : "expected a scalar for '" + key + "', got " + shown(v));
    }
    if (std::string e = perturb_config_error(c); !e.empty())
        fail_at(loc, "invalid 'perturb': " + e);
    return c;
}

}  // namespace

PerturbConfig load_perturb(const std::string& file, const YAML::Node& n, const SourceLoc& loc) {
    if (n.IsMap()) return load_perturb_map(file, n, loc);
    if (!n.IsScalar())
        fail_at(loc,
                "expected off, default, a probability, a short form like "
                "'p=0.05,sleep=200us' or a map for 'perturb', got " +
                    shown(n));
    std::string why;
    std::optional<PerturbConfig> c = parse_perturb_text(n.Scalar(), &why);
    if (!c) fail_at(loc, "invalid 'perturb': " + why);
    return *c;
}

CpuPlacement load_cpus(const std::string& file, const YAML::Node& n, const SourceLoc& loc) {
    CpuPlacement p;
    p.loc = loc;
    if (n.IsScalar()) {
        const std::string& v = n.Scalar();
        if (v == "any") return p;
        if (v == "same" || v == "spread") {
            p.kind = v == "same" ? CpuPlacement::Kind::kSame : CpuPlacement::Kind::kSpread;
            if (allowed_cpus().empty()) fail_at(loc, "no CPU is available to this process");
            return p;
        }
    }
    if (!n.IsSequence() || n.size() == 0)
        fail_at(loc,
                "expected any, same, spread or a non-empty list of CPU numbers for 'cpus', "
                "got " +
                    shown(n));
    p.kind = CpuPlacement::Kind::kList;
    const std::vector<int> allowed = allowed_cpus();
    for (const YAML::Node& e : n) {
        const SourceLoc el = at(file, e, loc);
        int cpu = -1;
        if (e.IsScalar()) {
            const std::string& s = e.Scalar();
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), cpu);
            if (s.empty() || ec != std::errc() || end != s.data() + s.size()) cpu = -1;
        }
        if (cpu < 0) fail_at(el, "expected a CPU number in 'cpus', got " + shown(e));
        if (!std::binary_search(allowed.begin(), allowed.end(), cpu))
            fail_at(el, "CPU " + std::to_string(cpu) +
                            " is not one this process may run on; expected one of: " +
                            cpu_list_text(allowed));
        if (std::find(p.cpus.begin(), p.cpus.end(), cpu) != p.cpus.end())
            fail_at(el, "CPU " + std::to_string(cpu) + " is listed twice in 'cpus'");
        p.cpus.push_back(cpu);
    }
    std::sort(p.cpus.begin(), p.cpus.end());
    return p;
}

}  // namespace ipct
