// Planted bug for the zoo (see mutant_eintr_is_eof.cpp): a System V reader
// that takes a failed msgrcv() -- EINTR above all -- for the end of input.
#pragma once

#include <cstddef>
#include <memory>

#include "common/control.hpp"
#include "ipctorture/backend.hpp"

namespace ipct {

const MutantInfo& eintr_is_eof_mutant();

// A reader of queue `id` asking msgrcv for (msgtyp, flags).
std::unique_ptr<Endpoint> make_eintr_is_eof_reader(int id, std::size_t max_message, long msgtyp,
                                                   int flags, ChannelControl ctl);

// The mutant is the blocking reader loop: a channel with nonblocking: true
// is refused, at the mutant.
void validate_eintr_is_eof(const ChannelSpec& ch);

}  // namespace ipct
