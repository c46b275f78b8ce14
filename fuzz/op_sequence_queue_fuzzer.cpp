// Fuzz target: operation sequences on the message queues (posix_mq,
// sysv_msg), one queue per input, both ends in this process.  The input's
// first bytes pick the backend, its channel options (depth, msgsize, bytes,
// nonblocking) and, for sysv_msg, the reader's msgtyp and except; the rest is
// the sequence (op_sequence.hpp).  Asserted on every input: one receive is
// one message, the one the queue's rule picks (posix_mq: highest priority
// first, oldest first within one; sysv_msg: msgtyp 0 the first, n the first
// of type n, n with except the first of another type, -n the first of the
// lowest type <= n); a short buffer gets the message's first bytes and the
// message is consumed; nothing lost, duplicated or corrupted; end of file
// once every writer has gone and nothing the reader asks for is left.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "op_sequence.hpp"

namespace {

using ipct::Options;
using ipct::opseq::options;

ipct::opseq::Target posix_mq(FuzzedDataProvider& in) {
    static const std::vector<Options> channel{
        {},
        options({{"nonblocking", "true"}}),
        options({{"depth", "3"}, {"msgsize", "256"}}),
        options({{"depth", "1"}, {"msgsize", "64"}, {"nonblocking", "true"}}),
    };
    return {"posix_mq", channel[in.ConsumeIntegralInRange<std::size_t>(0, channel.size() - 1)]};
}

ipct::opseq::Target sysv_msg(FuzzedDataProvider& in) {
    static const std::vector<Options> channel{
        {},
        options({{"nonblocking", "true"}}),
        options({{"bytes", "1024"}}),
    };
    static const std::vector<Options> reader{
        {},
        options({{"msgtyp", "1"}}),
        options({{"msgtyp", "2"}}),
        options({{"msgtyp", "2"}, {"except", "true"}}),
        options({{"msgtyp", "-1"}}),
        options({{"msgtyp", "-3"}}),
    };
    ipct::opseq::Target t{"sysv_msg",
                          channel[in.ConsumeIntegralInRange<std::size_t>(0, channel.size() - 1)]};
    t.reader = reader[in.ConsumeIntegralInRange<std::size_t>(0, reader.size() - 1)];
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const ipct::opseq::Target t = in.ConsumeBool() ? sysv_msg(in) : posix_mq(in);
    return ipct::opseq::run(t, in);
}
