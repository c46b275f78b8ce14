// Planted bug for the zoo (see mutant_reorder_buffer.cpp): a POSIX queue
// consumer whose user-space reorder buffer breaks priority order.
#pragma once

#include <mqueue.h>

#include <cstddef>
#include <memory>

#include "ipctorture/backend.hpp"

namespace ipct {

const MutantInfo& reorder_buffer_mutant();

// Wraps the correct reader `inner` of queue q (which inner owns): messages
// come from inner, and more are drained from q without waiting.
std::unique_ptr<Endpoint> make_reorder_buffer_reader(std::unique_ptr<Endpoint> inner, mqd_t q,
                                                     std::size_t msgsize);

}  // namespace ipct
