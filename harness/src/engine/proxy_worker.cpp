// `ipctorture worker --proxy C`: channel C's chaos proxy as a process of the
// run (worker.hpp, socket_proxy.hpp).
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ipctorture/logging.hpp"
#include "ipctorture/plan.hpp"
#include "ipctorture/socket_proxy.hpp"
#include "ipctorture/worker.hpp"
#include "worker_detail.hpp"

namespace ipct {

int proxy_main(const WorkerArgs& a) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (a.parent != 0 && ::getppid() != a.parent) return 3;  // orphaned before the prctl
    ::signal(SIGPIPE, SIG_IGN);
    init_logging("proxy");
    try {
        const Plan plan = worker_detail::read_plan(a.run_dir);
        const PlannedChannel& ch = plan.channels.at(a.proxy_channel);
        if (!ch.proxy) IPCT_FAIL("channel " + ch.name + " has no proxy in the plan");
        spdlog::set_pattern("[%H:%M:%S.%e] [%n] [pid %P] [proxy " + ch.name + "] %l: %v");
        EventLogWriter log(proxy_log_path(a.run_dir, ch.index), kProxyLogProcess, 1024);
        const int rc = run_socket_proxy(channel_setup(plan, ch.index), ch.state, *ch.proxy, log,
                                        [&] { worker_detail::barrier(a.ready_fd, a.go_fd); });
        // The checker reads this: the proxy forwarded all it held.
        log.mark(Op::kExit, static_cast<std::uint16_t>(ch.index), static_cast<std::uint32_t>(rc));
        return rc;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 3;
    }
}

}  // namespace ipct
