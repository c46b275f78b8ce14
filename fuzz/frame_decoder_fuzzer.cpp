// Fuzz target: the stream frame decoder.
//
// The input picks a largest message size and cuts a byte stream into chunks
// of random lengths, fed through FrameDecoder::feed() and finish().  With a
// flag, the stream is valid messages (Payload::fill) with fuzz bytes spliced
// between them.  Invariants (trap on violation):
//   - the events tile the stream: each starts where the previous one ended,
//     except that after a corrupt frame decoding may resume at a header
//     inside it (both victims of an interleaving are reported), and the last
//     one ends at the total number of bytes fed.  Without corrupt frames this
//     is "the sizes of the events add up to the bytes fed";
//   - every kMessage verifies with Payload::verify;
//   - t_start <= t_end for every event;
//   - when valid messages were fed with nothing spliced between them, they
//     all come out as kMessage, in order, and nothing else does.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ipctorture/framing.hpp"
#include "ipctorture/message.hpp"

namespace {

constexpr std::uint64_t kSeed = 1;
constexpr std::size_t kMaxStream = 1 << 20;  // keeps one input fast
constexpr int kMaxMessages = 16;

// Immutable after construction: no state is carried between inputs.
const ipct::Payload& payload() {
    static const ipct::Payload p(kSeed);
    return p;
}

struct Expected {
    std::uint32_t origin;
    std::uint64_t seq;
    std::uint32_t size;
};

// Builds the stream: fuzz bytes only, or valid messages with fuzz bytes
// spliced between them.  *clean is set when no byte was spliced.
std::vector<std::byte> make_stream(FuzzedDataProvider& in, std::size_t max_message,
                                   std::vector<Expected>* msgs, bool* clean) {
    std::vector<std::byte> s;
    *clean = false;
    if (!in.ConsumeBool()) {
        auto raw = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 65536));
        for (std::uint8_t b : raw) s.push_back(static_cast<std::byte>(b));
        return s;
    }
    *clean = true;
    const int n = in.ConsumeIntegralInRange(1, kMaxMessages);
    for (int i = 0; i < n && s.size() < kMaxStream; ++i) {
        const auto size = in.ConsumeIntegralInRange<std::uint32_t>(
            ipct::kHeaderSize, static_cast<std::uint32_t>(max_message));
        const auto origin = in.ConsumeIntegralInRange<std::uint32_t>(0, 3);
        const std::size_t at = s.size();
        s.resize(at + size);
        payload().fill({s.data() + at, size}, origin, static_cast<std::uint64_t>(i), 0);
        msgs->push_back({origin, static_cast<std::uint64_t>(i), size});
        auto junk = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 64));
        if (!junk.empty()) *clean = false;
        for (std::uint8_t b : junk) s.push_back(static_cast<std::byte>(b));
    }
    return s;
}

struct Observer {
    const ipct::FrameDecoder* dec = nullptr;
    std::size_t max_message = 0;
    std::uint64_t covered = 0;       // end of the stream covered by events so far
    std::uint64_t corrupt_from = 0;  // last corrupt frame [from, to): resumption allowed
    std::uint64_t corrupt_to = 0;
    std::vector<ipct::Frame> messages;
    bool other = false;  // saw kCorrupt or kGarbage

    void operator()(const ipct::Frame& f) {
        if (f.t_start > f.t_end) __builtin_trap();
        // Frames are reported before the decoder moves past them, a garbage
        // run after: stream_offset() gives the start of one, the end of the other.
        const std::uint64_t off = dec->stream_offset();
        const bool garbage = f.kind == ipct::Frame::Kind::kGarbage;
        const std::uint64_t begin = garbage ? off - f.size : off;
        const bool resumed = begin > corrupt_from && begin < corrupt_to;
        if (f.size == 0 || (begin != covered && !resumed)) __builtin_trap();
        covered = begin + f.size;
        if (f.kind == ipct::Frame::Kind::kMessage) {
            if (payload().verify(f.bytes, max_message) != ipct::Verdict::kOk) __builtin_trap();
            if (f.bytes.size() != f.size) __builtin_trap();
            messages.push_back(f);
        } else {
            other = true;
        }
        if (f.kind == ipct::Frame::Kind::kCorrupt) {
            corrupt_from = begin;
            corrupt_to = begin + f.size;
        }
    }
};

void check_in_order(const Observer& obs, const std::vector<Expected>& msgs) {
    if (obs.other || obs.messages.size() != msgs.size()) __builtin_trap();
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        const ipct::MsgHeader& h = obs.messages[i].header;
        if (h.origin != msgs[i].origin || h.seq != msgs[i].seq || h.size != msgs[i].size) {
            __builtin_trap();
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const auto max_message = in.ConsumeIntegralInRange<std::size_t>(32, 70000);
    std::vector<Expected> msgs;
    bool clean = false;
    const std::vector<std::byte> stream = make_stream(in, max_message, &msgs, &clean);

    // Capacity 0 is what receivers use (256 KiB at least); the smallest one
    // (2 * max_message) makes the decoder compact its buffer often.
    ipct::FrameDecoder dec(payload(), max_message, in.ConsumeBool() ? 0 : 1);
    Observer obs;
    obs.dec = &dec;
    obs.max_message = max_message;
    const ipct::FrameDecoder::Sink sink = [&obs](const ipct::Frame& f) { obs(f); };
    std::span<const std::byte> rest(stream);
    std::uint64_t t = 0;
    while (!rest.empty()) {
        std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, 70000);
        if (in.remaining_bytes() == 0) n = rest.size();
        n = std::min(n, rest.size());
        dec.feed(rest.first(n), t + 1, t + 5, sink);
        rest = rest.subspan(n);
        t += 10;
    }
    dec.finish(t + 1, sink);
    if (obs.covered != stream.size() || dec.buffered() != 0) __builtin_trap();
    if (clean) check_in_order(obs, msgs);
    return 0;
}
