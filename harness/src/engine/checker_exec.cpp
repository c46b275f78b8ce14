// Black boxes: exec processes (a user's program run as a relay) log nothing,
// so the checker cannot see what they received or forwarded.  It judges the
// path instead: a message sent on an exec process's input is expected on its
// output, with the same identity (the program forwards the bytes), so every
// receive on the output is judged against the sends on the input, as if the
// two channels were one (the route).  Validation makes that sound: only exec
// processes with the same input and output read the one or write the other.
//
// What follows for the rules:
//   lost        needs every consumer at the route's end drained, and every
//               program on the route ended by exiting 0 (not killed, not
//               hung): a program that exited 0 declared it had forwarded all
//               it would ever get, so a message sent ok on its input and
//               never delivered was dropped by it.  A program killed, hung or
//               crashed may have held the message: indeterminate;
//   duplicated, corrupted, unexpected  as on one channel: a receive is
//               matched against what was sent at the route's start;
//   fifo        only where one program serves the segment (two programs
//               reading one input may forward in either order) and every
//               channel on the route promises FIFO;
//   priority, selective  not across a black box: the program chooses when
//               to take a message off its input, which the history cannot
//               see.
// Any rule applies only if every channel on the route has it.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>

#include "checker_detail.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/exec.hpp"

namespace ipct::check_detail {

void Checker::plan_black_boxes() {
    for (std::uint32_t c = 0; c < nchannels_; ++c) chans_[c].route = c;
    if (h_.plan == nullptr) return;
    const Plan& plan = *h_.plan;
    std::vector<std::uint32_t> per_input(nchannels_, 0);
    for (const PlannedProcess& p : plan.processes) {
        if (p.role != Role::kExec || p.in_channel >= nchannels_ || p.out_channel >= nchannels_)
            continue;
        chans_[p.out_channel].route = p.in_channel;
        ++per_input[p.in_channel];
    }
    // Follow each route to its start; validation rules out cycles, and a
    // damaged plan's cycle stops after as many steps as there are channels.
    for (std::uint32_t c = 0; c < nchannels_; ++c) {
        std::uint32_t r = c;
        for (std::size_t step = 0; step < nchannels_ && chans_[r].route != r; ++step)
            r = chans_[r].route;
        chans_[c].route = r;
    }
    for (std::uint32_t c = 0; c < nchannels_; ++c) {
        ChannelState& root = chans_[chans_[c].route];
        root.stream_on_route = root.stream_on_route || !plan.channels[c].boundaries;
        if (chans_[c].route == c) continue;
        for (std::size_t k = 0; k < kChecks; ++k)
            root.checks[k] = root.checks[k] && chans_[c].checks[k];
    }
    for (const PlannedProcess& p : plan.processes) {
        if (p.role != Role::kExec || p.in_channel >= nchannels_ || p.out_channel >= nchannels_)
            continue;
        ChannelState& root = chans_[chans_[p.in_channel].route];
        root.black_boxes.push_back(p.index);
        root.via += " -> exec " + p.name + " -> channel " + plan.channels[p.out_channel].name;
        if (per_input[p.in_channel] > 1)
            root.checks[static_cast<std::size_t>(Check::kFifo)] = false;
        root.checks[static_cast<std::size_t>(Check::kPriority)] = false;
        root.checks[static_cast<std::size_t>(Check::kSelective)] = false;
    }
}

// Every program on c's route exited 0 by itself.
bool Checker::black_boxes_clean(std::uint32_t c) const {
    const std::vector<std::uint32_t>& boxes = chans_[c].black_boxes;
    return std::all_of(boxes.begin(), boxes.end(), [&](std::uint32_t p) {
        const ProcState& ps = procs_[p];
        return ps.status_seen && ps.status_zero && !ps.killed && !ps.hung;
    });
}

// How an exec process ended, for a crash finding: its program, and the exec
// error if the program never ran (the worker logged a failed Note::kExec).
std::string Checker::exec_end(std::uint32_t p, const std::string& how) const {
    const std::string prog = h_.plan != nullptr && p < h_.plan->processes.size()
                                 ? program_text(h_.plan->processes[p])
                                 : std::string("?");
    if (p < h_.logs.size()) {
        for (const Record& r : h_.logs[p]) {
            if (r.op == Op::kNote && r.aux == static_cast<std::uint32_t>(Note::kExec) &&
                r.status == Status::kError)
                return "exec " + proc_name(p) + ": program '" + prog + "' could not be executed (" +
                       errno_name(r.err) + ")";
        }
    }
    return "exec " + proc_name(p) + ": program '" + prog + "' " + how;
}

}  // namespace ipct::check_detail
