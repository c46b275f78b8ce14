// The worker side: `ipctorture worker ...` (hidden subcommand) runs one
// planned process.  Contract with the orchestrator:
//  - it dies with the orchestrator (PR_SET_PDEATHSIG, checked against the
//    parent pid it was given, so a parent that died before the prctl is seen);
//  - it opens its endpoints, writes one byte to the ready fd, then waits for
//    end-of-file on the go fd: closing the go pipe starts every worker at once;
//  - it writes only its own event log; diagnostics go to stderr (a file in the
//    run directory).  Exit 0 = role finished, 3 = harness error in the worker.
#pragma once

#include <string>

namespace ipct {

struct WorkerArgs {
    std::string run_dir;
    unsigned process = 0;
    long parent = 0;
    int ready_fd = -1;
    int go_fd = -1;
};

int worker_main(const WorkerArgs& a);

}  // namespace ipct
