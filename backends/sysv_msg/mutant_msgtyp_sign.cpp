// MUTANT msgtyp-sign (sysv_msg): a reader that wants only messages of type N
// and calls msgrcv(id, buf, size, -N, 0).
//
// msgrcv(2): msgtyp N > 0 takes the first message of type N; -N takes the
// first message of the lowest type <= N.  With the sign flipped the reader
// also takes every message of a type below N -- messages meant for other
// readers -- and the lowest type first.  The reader is declared (msgtyp: N)
// as taking type N only, so the checker judges its receives against that
// request: a receive that returned another type is a selective-receive
// violation.
#include "sysv_msg/mutant_msgtyp_sign.hpp"

#include <climits>
#include <string>

namespace ipct {

const MutantInfo& msgtyp_sign_mutant() {
    static const MutantInfo m{
        "msgtyp-sign",
        "a reader declared with msgtyp: N (type N only) passes -N to msgrcv, so it also takes "
        "lower types, lowest first, meant for other readers (selective)"};
    return m;
}

long msgtyp_sign_passed(long declared) {
    return -declared;  // THE BUG
}

void validate_msgtyp_sign(const ChannelSpec& ch, const ProcessSpec& p, Direction d) {
    if (d != Direction::kRead) return;
    const std::int64_t t = option_int(p.options, "msgtyp", 0, INT_MIN, INT_MAX);
    const bool except = option_bool(p.options, "except", false);
    if (t > 0 && !except) return;
    // (role_name() lives in the engine, which backends do not link.)
    const std::string who = std::string(p.role == Role::kRelay ? "relay" : "consumer") +
                            (p.name.empty() ? "" : " '" + p.name + "'") + " at line " +
                            std::to_string(p.loc.line);
    throw ScenarioError(ch.mutant_loc.file, ch.mutant_loc.line, ch.mutant_loc.column,
                        "mutant 'msgtyp-sign' flips the sign of a reader's msgtyp N > 0; the " +
                            who + " reading channel '" + ch.name + "' has " +
                            (except ? std::string("except: true") : "msgtyp " + std::to_string(t)) +
                            "; expected every reader to set msgtyp > 0 without except");
}

}  // namespace ipct
