// Planted bug for the zoo (see mutant_msgtyp_sign.cpp): a System V reader
// that passes msgrcv the wrong sign of its msgtyp.
#pragma once

#include "ipctorture/backend.hpp"

namespace ipct {

const MutantInfo& msgtyp_sign_mutant();

// The msgtyp the buggy reader passes to msgrcv for the one it declares.
long msgtyp_sign_passed(long declared);

// Every reader of the channel must declare msgtyp > 0 without except:
// otherwise a ScenarioError at the mutant, naming the process.
void validate_msgtyp_sign(const ChannelSpec& ch, const ProcessSpec& p, Direction d);

}  // namespace ipct
