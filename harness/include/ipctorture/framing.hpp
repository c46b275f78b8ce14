// Framing on byte streams: recovers messages from a stream of bytes that
// arrive in arbitrary chunks, and says what it could not recover.
//
// A frame is a MsgHeader followed by its payload (header.size bytes in all).
// The decoder reads straight into its own buffer (space() / commit()), so a
// message that arrives whole costs no copy.  Damage is reported, never
// thrown:
//   kMessage  a frame that verifies;
//   kCorrupt  a frame whose header verifies but whose payload does not (an
//             interleaved or torn write); the header's identity is trusted;
//   kGarbage  a run of bytes that starts no valid header (consecutive runs
//             are merged into one event).
// After a corrupt frame the decoder looks for a valid header inside it (the
// start of the message that was interleaved into it) and resumes there, so
// both victims of an interleaving are reported.
//
// Each event carries t_start of the read that delivered its first byte and
// t_end of the read that delivered its last, so the receive of a message lies
// inside [t_start, t_end] as the checker's rules require.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "ipctorture/message.hpp"
#include "ipctorture/page_buffer.hpp"

namespace ipct {

struct Frame {
    enum class Kind { kMessage, kCorrupt, kGarbage };
    Kind kind = Kind::kMessage;
    std::span<const std::byte> bytes;  // the frame, or the garbage run (may be empty
                                       // for a merged garbage run: see size)
    std::uint64_t size = 0;            // bytes in the frame or garbage run
    MsgHeader header{};                // kMessage, kCorrupt
    Verdict verdict = Verdict::kOk;    // kCorrupt: why
    std::size_t bad_offset = 0;        // kCorrupt: first differing byte
    bool truncated = false;            // kCorrupt: the stream ended inside the frame
    std::uint64_t t_start = 0;
    std::uint64_t t_end = 0;
};

class FrameDecoder {
  public:
    using Sink = std::function<void(const Frame&)>;

    // max_message bounds the size a header may announce; capacity 0 picks
    // max(256 KiB, 2 * max_message).
    FrameDecoder(const Payload& payload, std::size_t max_message, std::size_t capacity = 0);

    // Free room at the end of the buffer to read into; never empty.
    std::span<std::byte> space();
    // n bytes were read into space() by a call that ran [t_start, t_end].
    void commit(std::size_t n, std::uint64_t t_start, std::uint64_t t_end, const Sink& sink);
    // The same for a backend that keeps message boundaries: the n bytes are
    // one whole message, and nothing is carried over to the next receive
    // (commit, then finish).  A receive that is exactly one intact message
    // with nothing buffered before it (the common case) is handed to the
    // sink straight from the buffer, without the stream bookkeeping; the
    // frame is the one commit + finish would make.
    void commit_message(std::size_t n, std::uint64_t t_start, std::uint64_t t_end,
                        const Sink& sink);
    // Convenience for tests and fuzzing: copies data in (in pieces if large).
    void feed(std::span<const std::byte> data, std::uint64_t t_start, std::uint64_t t_end,
              const Sink& sink);
    // End of stream: a partial frame is reported as truncated (kCorrupt when
    // its header verified, kGarbage otherwise).
    void finish(std::uint64_t t_end, const Sink& sink);

    std::uint64_t stream_offset() const { return base_ + head_; }
    std::size_t buffered() const { return tail_ - head_; }

  private:
    struct Mark {
        std::uint64_t offset;  // stream offset of the first byte of a read
        std::uint64_t t_start;
        std::uint64_t t_end;
    };
    // at_end: the stream has ended, decide without waiting for more bytes.
    void decode(std::uint64_t t_end, const Sink& sink, bool at_end = false);
    bool header_valid_at(std::size_t pos, MsgHeader* h) const;
    std::size_t find_header(std::size_t from, std::size_t to) const;
    void add_garbage(std::size_t n, std::uint64_t t_end);
    void flush_garbage(const Sink& sink);
    std::uint64_t t_start_of(std::uint64_t offset) const;
    std::uint64_t t_end_of(std::uint64_t offset) const;
    void compact();

    const Payload& payload_;
    std::size_t max_message_;
    PageBytes buf_;           // page-aligned: see page_buffer.hpp
    std::size_t head_ = 0;    // first undecoded byte
    std::size_t tail_ = 0;    // one past the last byte read
    std::uint64_t base_ = 0;  // stream offset of buf_[0]
    std::vector<Mark> marks_;
    std::uint64_t garbage_ = 0;  // pending merged garbage run
    std::uint64_t garbage_t_start_ = 0;
    std::uint64_t garbage_t_end_ = 0;
};

}  // namespace ipct
