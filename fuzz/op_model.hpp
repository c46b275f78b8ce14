// The op-sequence driver's model of one channel: what is in flight, what a
// receive may return, and whether a send or a receive could block.  It knows
// the contract's rules (Contract, ReceiveRequest) and nothing of any backend.
//
// Modes, from the contract:
//   kByteStream  no boundaries (pipe, fifo): one byte FIFO in send order (one
//                thread: sends never overlap); a receive returns at least one
//                byte and at most what the buffer takes; FrameDecoder rebuilds
//                the messages, in send order.
//   kFramed      boundaries over a byte stream per writer (unix_stream, tcp):
//                a receive returns a whole frame of one writer, or the first
//                bytes of one (a short buffer), whose rest comes in later
//                receives before anything else of that writer.
//   kQueue       one message per receive: the one the ReceiveRequest picks
//                (queue order, priority, type), or for Order::kNone the
//                oldest of some writer.  A short buffer gets the message's
//                first bytes and the message is consumed.
//   kLossy       udp: every datagram received is one that was sent, intact
//                (or its first bytes, for a short buffer); loss, duplication
//                and reordering are allowed.
//   kCounter     each send one increment; the one receive after every writer
//                has gone is the count.
//   kSnapshot    each send overwrites one record; a receive returns the last
//                one written if it changed since the last receive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ipctorture/backend.hpp"
#include "ipctorture/framing.hpp"
#include "ipctorture/message.hpp"
#include "op_sequence.hpp"

namespace ipct::opseq {

// Prints "op_sequence: <backend>: <what>" on stderr and traps.
[[noreturn]] void violation(const std::string& backend, const std::string& what);

enum class Mode { kByteStream, kFramed, kQueue, kLossy, kCounter, kSnapshot };
Mode mode_for(const Contract& c);

struct Msg {
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
    std::uint32_t size = 0;
    std::uint32_t prio = 0;
    std::size_t taken = 0;  // bytes received so far (byte streams)
};

class Model {
  public:
    Model(std::string backend, const Contract& c, const ReceiveRequest& req, const Capacity& cap,
          std::uint64_t seed);

    Mode mode() const { return mode_; }
    const Payload& payload() const { return payload_; }

    // Send side.  fits(): a send of `size` bytes from `origin` cannot block.
    bool fits(std::uint32_t origin, std::size_t size) const;
    void sent(const Msg& m);
    void writer_closed(std::uint32_t origin) { closed_[origin] = true; }
    // Every writer has gone (closed, and none can come any more).
    void all_gone() { all_gone_ = true; }

    // Receive side.  can_receive(): a receive returns at once (a unit is
    // there or on its way, or the channel has ended).  smallest_buffer():
    // the least a short buffer may be here.
    bool can_receive() const;
    std::size_t smallest_buffer() const;
    bool short_buffer_ok() const;
    // Judges one receive into a buffer of buf_size bytes that returned r
    // with the bytes `got`.
    void received(const IoResult& r, std::span<const std::byte> got, std::size_t buf_size);
    // The end: nothing the contract promises is still in flight.
    void finish();

  private:
    void check_stream(std::span<const std::byte> got, std::size_t buf_size);
    void check_framed(std::span<const std::byte> got, std::size_t buf_size);
    void check_queue(std::span<const std::byte> got, std::size_t buf_size);
    void check_lossy(std::span<const std::byte> got, std::size_t buf_size);
    void check_counter(std::span<const std::byte> got);
    void check_snapshot(std::span<const std::byte> got);
    void check_end(const IoResult& r);
    void expect_prefix(const Msg& m, std::size_t from, std::span<const std::byte> got,
                       const char* what);
    std::optional<std::size_t> predicted() const;  // index in flight_ (kQueue with an order)
    bool admitted(const Msg& m) const;
    std::size_t front_of(std::uint32_t origin) const;  // index in flight_, or npos
    std::size_t cost(std::size_t size) const;
    void release(std::size_t index);  // a message fully received
    void on_frame(const Frame& f);
    std::string describe(const Msg& m) const;

    std::string backend_;
    Mode mode_;
    Contract contract_;
    ReceiveRequest req_;
    Capacity cap_;
    Payload payload_;
    std::deque<Msg> flight_;  // in send order
    std::map<std::uint32_t, std::size_t> writer_cost_;
    std::map<std::uint32_t, bool> closed_;
    std::size_t total_cost_ = 0;
    std::size_t stream_bytes_ = 0;      // kByteStream: bytes sent, not yet received
    std::optional<std::uint32_t> mid_;  // kFramed: the writer whose frame is half received
    bool all_gone_ = false;
    bool ended_ = false;
    // kByteStream: the decoder, and the messages whose last byte it has
    // been given but not yet reported.
    std::optional<FrameDecoder> decoder_;
    std::deque<Msg> completed_;
    // kLossy: everything sent, by (origin, seq).
    std::map<std::pair<std::uint32_t, std::uint64_t>, Msg> sent_;
    // kCounter, kSnapshot.
    std::uint64_t sends_ = 0;
    std::optional<Msg> last_written_;
    bool unread_ = false;
    bool counter_read_ = false;
    std::vector<std::byte> scratch_;
};

}  // namespace ipct::opseq
