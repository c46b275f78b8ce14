// Fuzz target: operation sequences on the datagram and record sockets
// (unix_dgram, unix_seqpacket, udp), one channel per input, both ends in
// this process.  The input's first byte picks the backend and its options;
// the rest is the sequence (op_sequence.hpp).  Asserted on every input:
// unix_dgram and unix_seqpacket hand over one whole message per receive
// (a short buffer: its first bytes, the message consumed), FIFO per writer,
// nothing lost, duplicated or corrupted, end of file once every writer has
// gone; udp promises integrity only: every datagram received is one a writer
// sent, intact, and the channel ends.  udp is received only after every
// writer has gone: with loss allowed, a receive could wait for a datagram
// the kernel dropped.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "op_sequence.hpp"

namespace {

using ipct::opseq::options;

// Immutable after construction: no state is carried between inputs.
const std::vector<ipct::opseq::Target>& targets() {
    static const std::vector<ipct::opseq::Target> v{
        {"unix_dgram", {}},
        {"unix_dgram", options({{"max_message", "4096"}})},
        {"unix_seqpacket", {}},
        {"unix_seqpacket", options({{"max_message", "8192"}})},
        {"udp", {}},
        {"udp", options({{"rcvbuf", "65536"}})},
    };
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const auto& t = targets();
    return ipct::opseq::run(t[in.ConsumeIntegralInRange<std::size_t>(0, t.size() - 1)], in);
}
