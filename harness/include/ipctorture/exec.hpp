// Exec processes (`role: exec`): a user's program run as a relay between
// its input and output channels, judged by the checker as a black box.
//
// The worker of an exec process logs its kOpen records, passes the start
// barrier, logs kStart and a Note::kExec record, and replaces itself with the
// program (execve).  The program therefore keeps the worker's pid, process
// group, CPU placement, output file and death signal (PR_SET_PDEATHSIG
// survives execve), and the orchestrator's watchdog, interrupt handling and
// process_gone() treat it as any worker.  What the program gets:
//   stdin   the input channel's descriptor when its backend hands one over
//           (Backend::external_endpoint: pipe, fifo; on the socket
//           backends the readers' shared socket, bound, non-blocking, and
//           listening where the kind has connections), else /dev/null;
//   stdout  the output channel's descriptor likewise (pipe, fifo), else
//           the worker's log;
//   stderr  the worker's log (worker.N.log in the run directory);
//   no other descriptor; an empty signal mask; every signal at its default
//   action except those a signaler sends it, which are ignored (a program
//   that installs its own handler receives them);
//   the harness's environment plus, for side S in INPUT and OUTPUT:
//     IPCTORTURE_S            the backend's name;
//     IPCTORTURE_S_FRAMING    "stream" (messages back to back in a byte
//                             stream) or "message" (one per IPC message);
//     IPCTORTURE_S_MAX_MESSAGE  the largest message, header included;
//     IPCTORTURE_S_FD         0 or 1 when the channel is stdin / stdout;
//     IPCTORTURE_S_<NAME>     whatever else the backend exports (it may
//                             replace FRAMING: a tcp connection is a
//                             stream although the channel hands over
//                             frames).  posix_mq: NAME, MSGSIZE; sysv_msg:
//                             ID, MSGSIZE, MSGTYP; sockets: PATH (unix) or
//                             HOST and PORT (tcp, udp), SOCKET (listen,
//                             bound, connect), SNDBUF and NODELAY (output),
//                             CONNECTED_OFFSET and ACCEPTED_OFFSET
//                             (listening input), QUIET_MS (udp input);
//                             queue and socket inputs: END_FILE and
//                             END_OFFSET, the control file's count of open
//                             writers (README, "Black-box programs", says
//                             how each input ends);
//   backends that cannot be described to a program (shm, signal) are
//   refused at load time with Backend::external_refusal();
//   and IPCTORTURE_HEADER_SIZE, then the scenario's `env:` (which wins),
//   then IPCTORTURE_RUN_DIR and IPCTORTURE_PROCESS (the plan index): how
//   signalers and `ipctorture clean` recognise the program as the run's.
// A failed execve logs a second Note::kExec with status error and err =
// errno, and the worker exits 127: a crash finding that names the error.
#pragma once

#include <optional>
#include <string>

#include "ipctorture/event_log.hpp"
#include "ipctorture/plan.hpp"

namespace ipct {

// The file a program's first word names: a word with a '/' is a path,
// relative ones taken from the scenario file's directory; a bare name is
// looked for in that directory, then in each directory of $PATH.  The file
// must be a regular file the harness may execute.  nullopt with the reason
// in *why (what was looked for, and where).
std::optional<std::string> resolve_program(const std::string& word,
                                           const std::string& scenario_file, std::string* why);

// Worker side: everything from the endpoints to execve.  Returns only if
// the exec failed (127) or the setup did (throws).
int exec_program(const Plan& plan, const PlannedProcess& self, EventLogWriter& log, int ready_fd,
                 int go_fd);

// The text of an exec process's command line, for reports.
std::string program_text(const PlannedProcess& p);

}  // namespace ipct
