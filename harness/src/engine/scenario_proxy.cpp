// `proxy:` on a channel: a chaos proxy between its writers and readers.
//
//   proxy:                 # udp
//     drop: 0.05           # probability per datagram
//     duplicate: 0.02
//     reorder: 0.05        # held until the next datagram has gone
//     delay: 0.1           # held for a time drawn in [0, max_delay]
//     max_delay: 2ms
//   proxy:                 # tcp
//     max_segment: 64      # every frame forwarded in writes of at most 64 bytes
//     delay: 0.1           # a frame (and its connection) waits
//     max_delay: 2ms
//     cut: 0.01            # probability per frame that its connection is cut inside it
//     cut_after: 100000    # every connection cut once it carried this many bytes
#include "scenario_proxy.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "ipctorture/errors.hpp"
#include "scenario_yaml.hpp"

namespace ipct {
namespace {

using namespace scenario_yaml;

// The keys each backend takes; scenario_keys("proxy") is their union.
const std::vector<std::string> kUdpKeys = {"drop", "duplicate", "reorder", "delay", "max_delay"};
const std::vector<std::string> kTcpKeys = {"max_segment", "delay", "max_delay", "cut", "cut_after"};

constexpr double kMaxDelayLimit = 10;  // seconds
constexpr std::uint64_t kMaxSegmentLimit = std::uint64_t{1} << 20;

double probability(const std::string& key, const YAML::Node& v, const SourceLoc& l) {
    const std::optional<double> p = v.IsScalar() ? parse_decimal(v.Scalar()) : std::nullopt;
    if (!p || !(*p >= 0 && *p <= 1))
        fail_at(l, "expected a probability in [0, 1] for '" + key + "', got " + shown(v));
    return *p;
}

std::uint64_t count(const std::string& key, const YAML::Node& v, const SourceLoc& l,
                    std::uint64_t max) {
    std::uint64_t n = 0;
    const std::string s = v.IsScalar() ? v.Scalar() : std::string();
    const auto r = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || n == 0 || n > max)
        fail_at(l, "expected a whole number in [1, " + std::to_string(max) + "] for '" + key +
                       "', got " + shown(v));
    return n;
}

void set_field(ProxySpec& p, const std::string& key, const YAML::Node& v, const SourceLoc& l) {
    if (key == "drop") p.drop = probability(key, v, l);
    if (key == "duplicate") p.duplicate = probability(key, v, l);
    if (key == "reorder") p.reorder = probability(key, v, l);
    if (key == "delay") p.delay = probability(key, v, l);
    if (key == "cut") p.cut = probability(key, v, l);
    if (key == "max_segment")
        p.max_segment = static_cast<std::uint32_t>(count(key, v, l, kMaxSegmentLimit));
    if (key == "cut_after") p.cut_after = count(key, v, l, ~std::uint64_t{0});
    if (key == "max_delay") {
        const std::optional<double> d = v.IsScalar() ? parse_duration(v.Scalar()) : std::nullopt;
        if (!d || *d > kMaxDelayLimit)
            fail_at(l,
                    "expected a duration of at most 10s for 'max_delay' (like 500us, 2ms), got " +
                        shown(v));
        p.max_delay_s = *d;
    }
}

}  // namespace

ProxySpec load_proxy(const std::string& file, const YAML::Node& n, const SourceLoc& loc,
                     const SourceLoc& key_loc, const std::string& backend) {
    if (backend != "tcp" && backend != "udp")
        fail_at(key_loc, "'proxy' is for tcp and udp channels; expected no 'proxy' on backend '" +
                             backend + "'");
    if (!n.IsMap()) fail_at(loc, "expected a map for 'proxy', got " + shown(n));
    const std::vector<std::string>& mine = backend == "udp" ? kUdpKeys : kTcpKeys;
    const std::vector<std::string>& all = scenario_keys("proxy");
    ProxySpec p;
    p.loc = loc;
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
        const SourceLoc kl = at(file, it->first, loc);
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
        if (std::find(mine.begin(), mine.end(), key) == mine.end()) {
            const bool other = std::find(all.begin(), all.end(), key) != all.end();
            fail_at(kl, (other ? "'" + key + "' does not apply to a " + backend + " channel"
                               : "unknown key " + shown(it->first) + " in 'proxy'") +
                            "; expected one of: " + joined(mine));
        }
        if (!seen.insert(key).second) fail_at(kl, "duplicate key '" + key + "' in 'proxy'");
        set_field(p, key, it->second, it->second.IsNull() ? kl : at(file, it->second, kl));
    }
    return p;
}

}  // namespace ipct
