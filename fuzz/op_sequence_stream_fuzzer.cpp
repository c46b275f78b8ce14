// Fuzz target: operation sequences on the byte-stream backends (pipe, fifo,
// unix_stream, tcp), one channel per input, both ends in this process.  The
// input's first byte picks the backend and its options; the rest is the
// sequence (op_sequence.hpp).  Asserted on every input: pipe and fifo
// deliver the bytes sent, in send order, and FrameDecoder rebuilds every
// message from them; unix_stream and tcp hand over whole frames of one
// writer at a time (or, into a short buffer, a frame's first bytes and then
// its rest), FIFO per writer; nothing lost, duplicated or corrupted; end of
// file once every writer has gone, and only then.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "op_sequence.hpp"

namespace {

using ipct::opseq::options;

// Immutable after construction: no state is carried between inputs.
const std::vector<ipct::opseq::Target>& targets() {
    static const std::vector<ipct::opseq::Target> v{
        {"pipe", {}},
        {"pipe", options({{"write_lock", "true"}})},
        {"pipe", options({{"packet", "true"}})},
        {"pipe", options({{"capacity", "16384"}})},
        {"fifo", {}},
        {"fifo", options({{"read_lock", "true"}, {"write_lock", "true"}})},
        {"fifo", options({{"packet", "true"}})},
        {"unix_stream", {}},
        {"tcp", {}},
        {"tcp", options({{"nodelay", "true"}})},
    };
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const auto& t = targets();
    return ipct::opseq::run(t[in.ConsumeIntegralInRange<std::size_t>(0, t.size() - 1)], in);
}
