// The worker side: `ipctorture worker ...` (hidden subcommand) runs one
// planned process.  Contract with the orchestrator:
//  - it dies with the orchestrator (PR_SET_PDEATHSIG, checked against the
//    parent pid it was given, so a parent that died before the prctl is seen);
//  - it opens its endpoints, writes one byte to the ready fd, then waits for
//    end-of-file on the go fd: closing the go pipe starts every worker at once;
//  - it writes only its own event log; diagnostics go to stderr (a file in the
//    run directory).  Exit 0 = role finished, 3 = harness error in the worker.
//
// Threads mode (`worker --threads`, worker_threads.cpp): one worker process
// runs every planned process, each in a thread of its own that does exactly
// what a worker process does: its own event log, its own endpoints (each
// thread opens them as a process would, with its own duplicates of the
// inherited fds, so closing one closes only that thread's copy), the same
// role code.  The threads open their endpoints, then the process passes the
// start barrier once (one ready byte) and releases them all.  A thread is
// named "ipct-p<index>" (prctl PR_SET_NAME, sanitizer.hpp) so that sanitizer reports name the
// process behind each stack.  Each thread's end is written to
// <run dir>/threads.status.  Process-wide state stays process-wide and is
// set once: PR_SET_PDEATHSIG, SIGPIPE ignored, the logger (its pattern
// names the thread's process through a thread-local).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ipct {

struct WorkerArgs {
    std::string run_dir;
    unsigned process = 0;
    bool threads = false;  // threads mode: every planned process, `process` unused
    unsigned proxy_channel = 0;  // proxy mode (`--proxy C`): channel C's chaos proxy
    long parent = 0;
    int ready_fd = -1;
    int go_fd = -1;
    // A restarted process's later incarnation (`--incarnation K --t0-ns T`,
    // faults.hpp): no start barrier (the run has long started; the fds are
    // -1), its own event log, and T, the barrier's release, to keep the
    // first incarnation's timeline.
    unsigned incarnation = 0;
    unsigned long long t0_ns = 0;
};

int worker_main(const WorkerArgs& a);
// `<binary> worker --run-dir ... (--process P | --threads | --proxy C) ...`:
// parses the worker's command line (argv[1] is "worker") and runs it.
int worker_command(int argc, char** argv);
// A channel's chaos proxy (socket_proxy.hpp) as a process of the run: the
// same contract as a worker (death signal, start barrier, its own event
// log, proxy_log_path), exit 0 once it has forwarded all it will.
int proxy_main(const WorkerArgs& a);
int worker_threads_main(const WorkerArgs& a);

// threads.status: one 32-bit slot per planned process, -1 while its thread
// runs (or if it never started), else the exit code its body returned.  The
// orchestrator creates it before spawning; each thread writes its own slot
// once (a single aligned pwrite, so a reader sees the old or the new value).
void create_thread_status(const std::string& run_dir, std::size_t processes);
std::vector<int> read_thread_status(const std::string& run_dir, std::size_t processes);

}  // namespace ipct
