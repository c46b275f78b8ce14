// Planted bug for the zoo (see mutant_whole_read.cpp): a stream-socket
// reader that takes one recv() for one whole message.
#pragma once

#include <cstddef>
#include <memory>

#include "common/control.hpp"
#include "ipctorture/backend.hpp"

namespace ipct {

const MutantInfo& whole_read_mutant();

// Takes ownership of listen_fd (the shared listening socket, non-blocking).
std::unique_ptr<Endpoint> make_whole_read_reader(int listen_fd, ChannelControl ctl,
                                                 std::size_t max_message);

}  // namespace ipct
