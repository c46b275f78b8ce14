#include "ipctorture/shard.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <numeric>

namespace ipct {

namespace fs = std::filesystem;

namespace {

std::optional<std::uint32_t> number(const std::string& s) {
    std::uint32_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// An absolute, normal path without a trailing separator.
fs::path normal(const std::string& p) {
    fs::path a = fs::absolute(p).lexically_normal();
    if (a.filename().empty() && a.has_parent_path()) a = a.parent_path();
    return a;
}

}  // namespace

std::optional<Shard> parse_shard(const std::string& text, std::string* why) {
    const auto slash = text.find('/');
    const auto i = slash == std::string::npos ? std::nullopt : number(text.substr(0, slash));
    const auto n = slash == std::string::npos ? std::nullopt : number(text.substr(slash + 1));
    if (!i || !n) {
        *why = "'" + text + "' is not I/N (shard I of N, as in 1/3)";
        return std::nullopt;
    }
    if (*n == 0 || *i == 0 || *i > *n) {
        *why = "'" + text + "': the shard index must be from 1 to N (" + std::to_string(*n) + ")";
        if (*n == 0) *why = "'" + text + "': the number of shards must be at least 1";
        return std::nullopt;
    }
    return Shard{*i, *n};
}

void add_shard_option(CLI::App& cmd, std::string& spec) {
    cmd.add_option("--shard", spec,
                   "run only shard I of N (as in 2/3): N jobs running the same command with "
                   "I = 1..N run every scenario file and matrix cell exactly once between them")
        ->check([](const std::string& s) {
            std::string why;
            return parse_shard(s, &why) ? std::string() : why;
        });
}

std::string shard_key(const std::string& arg, const std::string& file, const std::string& cell) {
    const fs::path a = normal(arg), f = normal(file);
    std::string key;
    if (a == f) {
        key = f.filename().generic_string();
    } else {
        const fs::path rel = f.lexically_relative(a);
        key = (a.filename() / rel).generic_string();
    }
    return key + '\n' + cell;  // a separator below every printable character
}

std::vector<std::size_t> shard_select(const std::vector<std::string>& keys, Shard s) {
    std::vector<std::size_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return keys[x] < keys[y]; });
    std::vector<std::size_t> mine;
    for (std::size_t p = s.index - 1; p < order.size(); p += s.count) mine.push_back(order[p]);
    std::sort(mine.begin(), mine.end());
    return mine;
}

}  // namespace ipct
