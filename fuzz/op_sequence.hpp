// The op-sequence fuzz driver: one channel of one backend, both ends open in
// this process, driven by a sequence of operations the fuzz input spells out
// (send, receive into a full or a short buffer, close a writer, open another,
// let go of the orchestrator's copies), with the backend's contract asserted
// after every step against a model of what is in flight.
//
// libFuzzer's rules, kept on every input: any input is fine; the channel is
// created in a fresh run directory and cleanup() removes it, with every
// endpoint closed (no IPC object, fd or file survives: the fd count is
// checked); one thread; nothing logged.
//
// Everything runs in one thread, so the driver never issues a call that could
// block: it sends only while the backend's capacity is sure to take the
// message (Capacity, kept well below the kernel's buffers) and receives only
// when the model knows a unit is there or the channel has ended.
//
// A contract violation prints one line, "op_sequence: <backend>: <what
// broke>", on stderr and traps.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "ipctorture/backend.hpp"

namespace ipct::opseq {

// How much the driver keeps in flight.  A message of `size` bytes costs
// round_up(size, page) + overhead; sends stop at any bound (0 = none).
struct Capacity {
    std::size_t max_message = 0;   // largest message sent (also <= the contract's)
    std::size_t messages = 0;      // in flight, all writers together
    std::size_t bytes = 0;         // cost in flight, all writers together
    std::size_t writer_bytes = 0;  // cost in flight of one writer
    std::size_t page = 1;
    std::size_t overhead = 0;
};

struct Target {
    std::string backend;        // a name in the registry (backends/registry.cpp)
    Options channel;            // the channel's options, as in a scenario
    Options reader;             // the reader's per-process options (sysv_msg: msgtyp, except)
    std::uint32_t writers = 3;  // writer slots: at most this many writers open over the input
    // What the sequence may keep in flight.  Built-in backends have a table
    // (capacity_for); another backend gets a small default unless it says.
    Capacity capacity{};
    bool has_capacity = false;
};

// The driver's capacity table for a built-in backend and its options, or a
// conservative default (8 messages of at most 1 KiB).
Capacity capacity_for(std::string_view backend, const Options& channel);

// Runs the rest of `in` as operations on a fresh channel of t.  Returns 0.
int run(const Target& t, FuzzedDataProvider& in);

// The whole input as operations on a channel of `backend` with these options.
int run_op_sequence(std::string_view backend, const Options& channel_options,
                    const std::uint8_t* data, std::size_t size);

// Options as a scenario would give them (source "op_sequence").
Options options(std::initializer_list<std::pair<const char*, std::string>> kv);

}  // namespace ipct::opseq
