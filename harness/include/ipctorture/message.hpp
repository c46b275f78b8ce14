// Messages on the wire.
//
// Every message starts with a MsgHeader followed by a payload that is a pure
// function of (run seed, origin producer, seq).  A receiver verifies a message
// without asking the sender: the header checksum covers the header fields and
// the payload is regenerated and compared word by word.  A chunk of another
// message (an interleaved write) or bytes that no producer wrote cannot pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ipct {

inline constexpr std::uint32_t kMsgMagic = 0x54435049;  // "IPCT" little-endian

struct MsgHeader {
    std::uint32_t magic;
    std::uint32_t origin;    // global id of the producer that made the message
    std::uint64_t seq;       // per-origin sequence number, from 0
    std::uint32_t size;      // whole message, header included
    std::uint32_t prio;      // priority or type where the backend has one, else 0
    std::uint64_t checksum;  // of the fields above, keyed by the run seed
};
static_assert(sizeof(MsgHeader) == 32);

inline constexpr std::size_t kHeaderSize = sizeof(MsgHeader);

std::uint64_t mix64(std::uint64_t x);  // a bijective 64-bit finaliser

// Why a message failed verification.
enum class Verdict : std::uint8_t {
    kOk = 0,
    kBadMagic,
    kBadChecksum,
    kBadSize,     // size field below the header or above the channel maximum
    kBadPayload,  // header fine, payload differs from what (origin, seq) generates
};
const char* verdict_name(Verdict v);

// Generates and verifies payloads for one run seed.  Cheap per message: a
// precomputed random block, read at an offset chosen by (origin, seq) and
// xored with a key from (origin, seq).  Thread-compatible (const after
// construction).
class Payload {
  public:
    explicit Payload(std::uint64_t run_seed);

    std::uint64_t header_checksum(const MsgHeader& h) const;

    // Writes a whole message (header + payload) of `size` bytes into out.
    // size must be >= kHeaderSize.
    void fill(std::span<std::byte> out, std::uint32_t origin, std::uint64_t seq,
              std::uint32_t prio) const;

    // Header checks only (magic, checksum, size within [kHeaderSize, max_size]).
    Verdict check_header(const MsgHeader& h, std::size_t max_size) const;

    // Whole-message check.  On kBadPayload, *bad_offset gets the first byte
    // offset (from the message start) that differs.
    Verdict verify(std::span<const std::byte> msg, std::size_t max_size,
                   std::size_t* bad_offset = nullptr) const;
    // The payload check alone, for a caller that has already checked the
    // header h (check_header) and holds exactly h.size bytes in msg.
    Verdict verify_body(const MsgHeader& h, std::span<const std::byte> msg,
                        std::size_t* bad_offset = nullptr) const;

  private:
    std::uint64_t key(std::uint32_t origin, std::uint64_t seq) const;
    std::uint64_t seed_;
    std::vector<std::uint64_t> block_;  // power-of-two words
};

}  // namespace ipct
