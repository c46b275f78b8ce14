// Fuzz target: operation sequences on the shm backend with each correct
// synchronisation (mutex, semaphore, atomic), one object per input, both
// ends in this process.  The input's first bytes pick the layout, the sync
// and the ring's shape; the rest is the sequence (op_sequence.hpp).
// Asserted on every input: ring — one message per receive, FIFO (one
// thread: the ring's order is send order, which the per-writer rule
// checks), a short buffer gets the message's first bytes and the message is
// consumed, nothing lost, duplicated or corrupted, end of file once every
// writer has gone; counter — the one value after the writers have gone is
// the number of sends; snapshot — a receive returns the last write, whole,
// only when one happened since the last receive.  Not sync none (racy on
// purpose; one thread cannot race it) and no mutants.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "op_sequence.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const char* const kSyncs[] = {"mutex", "semaphore", "atomic"};
    static const char* const kLayouts[] = {"ring", "ring", "counter", "snapshot"};
    static const char* const kSlots[] = {"1", "4", "64", "3"};  // 3: not a power of two
    static const char* const kSlotSizes[] = {"64", "4096"};
    FuzzedDataProvider in(data, size);
    const std::string layout = kLayouts[in.ConsumeIntegralInRange(0, 3)];
    ipct::opseq::Target t{
        "shm", ipct::opseq::options({{"layout", layout},
                                     {"sync", kSyncs[in.ConsumeIntegralInRange(0, 2)]},
                                     {"slot_size", kSlotSizes[in.ConsumeIntegralInRange(0, 1)]}})};
    if (layout == "ring")
        t.channel["slots"] = {kSlots[in.ConsumeIntegralInRange(0, 3)], {"op_sequence", 9, 1}};
    return ipct::opseq::run(t, in);
}
