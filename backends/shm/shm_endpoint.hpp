// The endpoints of the shm backend: one class per layout (ring, counter,
// snapshot), each with the four syncs.  See shm.cpp for the contracts.
#pragma once

#include <memory>

#include "common/control.hpp"
#include "shm/shm_layout.hpp"
#include "shm/shm_sync.hpp"

namespace ipct::shm {

// What every layout shares: the mapping, the control file (end of channel),
// the process's schedule noise, and close().
class ShmEndpoint : public Endpoint {
  public:
    ShmEndpoint(const ChannelSetup& ch, const nlohmann::json& state, const Config& c, Direction d);
    // A writer marks itself gone (readers then drain and end); idempotent.
    void close() override;

  protected:
    static IoResult eof() { return IoResult{0, -1, 0}; }
    static IoResult done(std::size_t n) { return IoResult{n, 0, 1}; }
    static IoResult error(int err) { return IoResult{0, err, 1}; }

    Config cfg_;
    Mapping map_;
    Header* h_;
    ChannelControl ctl_;
    Direction dir_;
    std::uint32_t rank_;
    Perturb perturb_;
    bool closed_ = false;
    bool ended_ = false;  // end of file returned once: stays so
};

std::unique_ptr<Endpoint> make_ring_endpoint(const ChannelSetup& ch, const nlohmann::json& state,
                                             const Config& c, Direction d);
std::unique_ptr<Endpoint> make_counter_endpoint(const ChannelSetup& ch, const nlohmann::json& state,
                                                const Config& c, Direction d);
std::unique_ptr<Endpoint> make_snapshot_endpoint(const ChannelSetup& ch,
                                                 const nlohmann::json& state, const Config& c,
                                                 Direction d);

}  // namespace ipct::shm
