// The backend registry: one explicit table.  Adding a backend = one line here
// plus its folder, its conformance instantiation and a bundled scenario.
#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "ipctorture/backend.hpp"
#include "ipctorture/plugin_loader.hpp"

namespace ipct {

Backend* pipe_backend();
Backend* fifo_backend();
Backend* posix_mq_backend();
Backend* sysv_msg_backend();
Backend* unix_stream_backend();
Backend* unix_dgram_backend();
Backend* unix_seqpacket_backend();
Backend* tcp_backend();
Backend* udp_backend();
Backend* signal_backend();
Backend* shm_backend();

namespace {
struct Entry {
    std::string_view name;
    Backend* (*factory)();
};
constexpr Entry kBackends[] = {
    {"pipe", pipe_backend},
    {"fifo", fifo_backend},
    {"posix_mq", posix_mq_backend},
    {"sysv_msg", sysv_msg_backend},
    {"unix_stream", unix_stream_backend},
    {"unix_dgram", unix_dgram_backend},
    {"unix_seqpacket", unix_seqpacket_backend},
    {"tcp", tcp_backend},
    {"udp", udp_backend},
    {"signal", signal_backend},
    {"shm", shm_backend},
};
}  // namespace

std::vector<std::string_view> backend_names() {
    std::vector<std::string_view> v;
    for (const auto& e : kBackends) v.push_back(e.name);
    return v;
}

Backend* find_backend(std::string_view name) {
    for (const auto& e : kBackends)
        if (e.name == name) return e.factory();
    // A plugin that loaded when the scenario was validated and no longer
    // does (the library was removed or replaced since) is an environment
    // problem, not an unknown name.
    if (is_plugin_backend(name)) {
        try {
            return load_plugin(plugin_path(name));
        } catch (const PluginError& e) {
            throw EnvironmentError(e.what());
        }
    }
    return nullptr;
}

namespace {
[[noreturn]] void bad_option(const OptionValue& v, const std::string& key,
                             const std::string& expected) {
    throw ScenarioError(v.loc.file, v.loc.line, v.loc.column,
                        "option '" + key + "': expected " + expected + ", got '" + v.text + "'");
}
}  // namespace

bool option_bool(const Options& o, const std::string& key, bool def) {
    auto it = o.find(key);
    if (it == o.end()) return def;
    const std::string& t = it->second.text;
    if (t == "true" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "no" || t == "off") return false;
    bad_option(it->second, key, "true or false");
}

std::uint64_t option_uint(const Options& o, const std::string& key, std::uint64_t def,
                          std::uint64_t min, std::uint64_t max) {
    auto it = o.find(key);
    if (it == o.end()) return def;
    const std::string& t = it->second.text;
    const std::string range =
        "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    if (t.empty() || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
        bad_option(it->second, key, range);
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(t.c_str(), &end, 10);
    if (errno == ERANGE || v < min || v > max) bad_option(it->second, key, range);
    return v;
}

std::int64_t option_int(const Options& o, const std::string& key, std::int64_t def,
                        std::int64_t min, std::int64_t max) {
    auto it = o.find(key);
    if (it == o.end()) return def;
    const std::string& t = it->second.text;
    const std::string range =
        "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    const std::size_t digits = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
    if (t.size() == digits ||
        !std::all_of(t.begin() + digits, t.end(), [](char c) { return c >= '0' && c <= '9'; }))
        bad_option(it->second, key, range);
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (errno == ERANGE || v < min || v > max) bad_option(it->second, key, range);
    return v;
}

std::string option_choice(const Options& o, const std::string& key, const std::string& def,
                          std::initializer_list<const char*> choices) {
    auto it = o.find(key);
    if (it == o.end()) return def;
    std::string list;
    for (const char* c : choices) {
        if (it->second.text == c) return it->second.text;
        list += (list.empty() ? "" : ", ") + std::string(c);
    }
    bad_option(it->second, key, "one of " + list);
}

std::string option_string(const Options& o, const std::string& key, const std::string& def) {
    auto it = o.find(key);
    return it == o.end() ? def : it->second.text;
}

void option_reject_unknown(const Options& o, std::initializer_list<const char*> known) {
    for (const auto& [k, v] : o) {
        // An init-capture: clang before 16 cannot capture a structured binding.
        bool ok =
            std::any_of(known.begin(), known.end(), [&key = k](const char* n) { return key == n; });
        if (ok) continue;
        std::string list;
        for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
        throw ScenarioError(v.loc.file, v.loc.line, v.loc.column,
                            "unknown option '" + k + "'; expected one of: " + list);
    }
}

}  // namespace ipct
