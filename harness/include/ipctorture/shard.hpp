// Sharding (`run --shard I/N`, `detect --shard I/N`): N CI jobs running the
// same command with I = 1..N run every (scenario file, matrix cell) exactly
// once between them.
//
// Each cell gets a key that does not depend on how the command spelled its
// paths nor on the machine: the name of the directory argument it was found
// under (after making the argument absolute and normal, so "scenarios",
// "./scenarios/" and "/ci/build/scenarios" all give "scenarios"), the file's
// path below that directory, and the cell's label; a file named directly
// keys by its file name.  The cells are sorted by key (ties keep command
// order, so a file named twice runs twice, in two places) and dealt round
// robin: position p goes to shard p mod N + 1.  Every shard then gets
// within one cell of the same number, and the cells of one matrix file,
// which cost about the same, are spread over the shards rather than
// landing on one.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ipct {

struct Shard {
    std::uint32_t index = 1;  // from 1
    std::uint32_t count = 1;
};

// --shard I/N, as `run` and `detect` take it (checked when parsed: a bad
// value is a usage error, exit status 2).
void add_shard_option(CLI::App& cmd, std::string& spec);

// "I/N" with 1 <= I <= N; nullopt with the reason in *why otherwise.
std::optional<Shard> parse_shard(const std::string& text, std::string* why);

// The key of `file` found under the command line argument `arg` (a
// directory, or the file itself), for a cell labelled `cell` ("" if none).
std::string shard_key(const std::string& arg, const std::string& file, const std::string& cell);

// Indexes (into keys, ascending) of the cells shard s runs.
std::vector<std::size_t> shard_select(const std::vector<std::string>& keys, Shard s);

}  // namespace ipct
