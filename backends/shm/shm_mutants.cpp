// The table of the shm backend's mutants, and what they share.
#include "shm/shm_mutants.hpp"

#include <algorithm>
#include <cstring>

#include "ipctorture/errors.hpp"
#include "ipctorture/message.hpp"

namespace ipct::shm {

namespace {

using Factory = std::unique_ptr<Endpoint> (*)(const ChannelSetup&, const nlohmann::json&,
                                              const Config&, Direction);

struct Entry {
    const char* name;
    const char* summary;
    bool spsc;  // one producer and one consumer only
    Factory make;
};

const Entry kMutants[] = {
    {"spsc-plain-store",
     "SPSC ring that publishes its index with a plain store, before the slot's last bytes "
     "(corrupted)",
     true, make_spsc_plain_store},
    {"spsc-read-before-check",
     "SPSC ring whose consumer copies the slot before it checks the index (lost, duplicated, "
     "corrupted)",
     true, make_spsc_read_before_check},
    {"mpmc-check-then-act",
     "MPMC ring that claims a position with a load and a separate store, not a CAS (lost, "
     "duplicated, corrupted)",
     false, make_mpmc_check_then_act},
};

}  // namespace

std::vector<MutantInfo> ring_mutants() {
    std::vector<MutantInfo> out;
    for (const Entry& e : kMutants) out.push_back({e.name, e.summary});
    return out;
}

bool ring_mutant_is_spsc(const std::string& name) {
    for (const Entry& e : kMutants)
        if (name == e.name) return e.spsc;
    return false;
}

std::unique_ptr<Endpoint> make_mutant_endpoint(const ChannelSetup& ch, const nlohmann::json& state,
                                               const Config& c, Direction d) {
    if (c.layout != Layout::kRing)
        IPCT_FAIL("shm mutant '" + ch.mutant + "' on layout " + layout_name(c.layout));
    for (const Entry& e : kMutants)
        if (ch.mutant == e.name) return e.make(ch, state, c, d);
    IPCT_FAIL("unknown shm mutant '" + ch.mutant + "'");
}

IoResult MutantRing::send(std::span<const std::byte> msg) {
    if (dir_ != Direction::kWrite || closed_) return error(EBADF);
    if (msg.size() > cfg_.slot_size) return error(EMSGSIZE);
    return send_ring(msg);
}

IoResult MutantRing::receive(std::span<std::byte> buf) {
    if (dir_ != Direction::kRead || closed_) return error(EBADF);
    if (ended_) return eof();
    return receive_ring(buf);
}

IoResult MutantRing::copy_out(SlotHead* s, std::span<std::byte> buf) const {
    if (buf.size() < kHeaderSize) return error(EMSGSIZE);
    std::size_t n = s->size.load(std::memory_order_relaxed);
    n = std::clamp<std::size_t>(n, kHeaderSize, std::min<std::size_t>(cfg_.slot_size, buf.size()));
    std::memcpy(buf.data(), map_.data(s), n);
    return done(n);
}

}  // namespace ipct::shm
