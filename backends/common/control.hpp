// A channel's control file: how readers learn that every writer has gone on
// mechanisms that have no end-of-file of their own (message queues, datagram
// sockets, shared memory).
//
// The file lives in the run directory (so it goes with it) and is mapped
// MAP_SHARED by everyone.  Each writer has a flag; a writer sets its own when
// it closes the channel, after its last send returned, and the orchestrator
// sets it when the writer's process ends however it ended (process_gone), so
// a killed writer does not leave its readers waiting forever.  Setting a flag
// is idempotent; the count of writers still open drops once per writer.
//
// A reader that sees writers_open() == 0 knows every send that will ever
// complete has completed (release/acquire on the count): whatever the
// channel still holds is all there is, so "empty now" means end of channel.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "ipctorture/backend.hpp"

namespace ipct {

class ChannelControl {
  public:
    static constexpr std::uint32_t kMaxWriters = 1024;

    // The orchestrator, in Backend::create().  Throws EnvironmentError.
    static void create(const std::string& path, std::uint32_t writers);
    // Maps an existing control file.  Throws EnvironmentError.
    explicit ChannelControl(const std::string& path);
    ~ChannelControl();
    ChannelControl(ChannelControl&& o) noexcept;
    ChannelControl& operator=(ChannelControl&&) = delete;
    ChannelControl(const ChannelControl&) = delete;

    // The byte offset of the count of writers still open (a 32-bit word,
    // native byte order): what a program outside the harness reads to see
    // the end of a channel (role: exec).
    static std::size_t open_count_offset();
    // The byte offset of shared word i (a 64-bit word, native byte order).
    static std::size_t word_offset(unsigned i);

    // Marks writer `rank` (its index among the channel's writers) gone.
    void writer_gone(std::uint32_t rank);
    std::uint32_t writers_open() const;
    std::uint32_t writers() const;

    // Shared words a backend may use as it likes (a reader count, a
    // sequence), initialised to zero.
    std::atomic<std::uint64_t>& word(unsigned i);
    static constexpr unsigned kWords = 8;

  private:
    struct Block;
    Block* b_ = nullptr;
};

// The path of channel ch's control file.
std::string control_path(const ChannelSetup& ch);

// Marks the writer that ch describes (process_gone's setup) gone, if the
// control file is there.  What Backend::process_gone does by default.
void control_writer_gone(const ChannelSetup& ch);

}  // namespace ipct
