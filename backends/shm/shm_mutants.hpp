// The shm backend's planted bugs (the zoo): deliberately wrong ring
// protocols, selected per channel with `mutant: NAME` (layout ring only).
// Each lives in its own file, mutant_<name>.cpp; the correct code reaches
// them through one dispatch, make_mutant_endpoint().  A mutant is a ring
// protocol of its own: it replaces the channel's `sync` (which a mutant
// channel must not set), and the channel keeps the ring's contract (lossless,
// FIFO per producer), which is exactly what the mutant breaks.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "shm/shm_endpoint.hpp"

namespace ipct::shm {

// Name and one-line summary of every ring mutant, for Backend::mutants().
std::vector<MutantInfo> ring_mutants();
// Whether the mutant `name` is a single-producer single-consumer ring (the
// scenario then needs exactly that topology).
bool ring_mutant_is_spsc(const std::string& name);

// The endpoint of mutant ch.mutant.  Throws HarnessError for a name that is
// not a ring mutant or a layout other than ring (the scenario validator
// rejects both first).
std::unique_ptr<Endpoint> make_mutant_endpoint(const ChannelSetup& ch, const nlohmann::json& state,
                                               const Config& c, Direction d);

// What the mutants share: the argument checks of send() and receive(), the
// end of channel, and a copy out of a slot that survives any size word.
class MutantRing : public ShmEndpoint {
  public:
    using ShmEndpoint::ShmEndpoint;
    IoResult send(std::span<const std::byte> msg) final;
    IoResult receive(std::span<std::byte> buf) final;

  protected:
    // msg fits a slot; the endpoint writes and is open.
    virtual IoResult send_ring(std::span<const std::byte> msg) = 0;
    // The endpoint reads, is open, and has not returned end of file.
    virtual IoResult receive_ring(std::span<std::byte> buf) = 0;

    IoResult end() {
        ended_ = true;
        return eof();
    }
    // Copies the message in s out.  A racing ring may show a size word that
    // does not belong to the bytes (or 0, before the slot's first use): it is
    // clamped to [kHeaderSize, what a slot and buf hold], so the bytes go to
    // the checker, which finds them damaged, and nothing is read out of
    // bounds.
    IoResult copy_out(SlotHead* s, std::span<std::byte> buf) const;
};

std::unique_ptr<Endpoint> make_spsc_plain_store(const ChannelSetup& ch, const nlohmann::json& state,
                                                const Config& c, Direction d);
std::unique_ptr<Endpoint> make_spsc_read_before_check(const ChannelSetup& ch,
                                                      const nlohmann::json& state, const Config& c,
                                                      Direction d);
std::unique_ptr<Endpoint> make_mpmc_check_then_act(const ChannelSetup& ch,
                                                   const nlohmann::json& state, const Config& c,
                                                   Direction d);

}  // namespace ipct::shm
