// Planted bug for the zoo (see mutant_standard.cpp): real-time payloads
// sent and received with a standard signal.
#pragma once

#include "ipctorture/backend.hpp"

namespace ipct {

const MutantInfo& standard_signal_mutant();

// The channel options the buggy code really runs with, for the options the
// channel declares (kind: realtime).
Options standard_signal_options(const Options& declared);

// The channel must be declared kind: realtime with one signal: otherwise a
// ScenarioError at the mutant.
void validate_standard_signal(const ChannelSpec& ch);

}  // namespace ipct
