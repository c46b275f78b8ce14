// The orchestrator's fault injector: carries out the plan's process faults
// (faults.hpp) from the orchestrator's asio loop and logs each step as an
// Op::kFault record.
//
// Time triggers are timers from the start barrier's release.  Message-count
// triggers poll the counted process's event log (every kPollMs), so a fault
// "after 500 messages" happens at the first look that finds at least 500:
// a few more may have gone by then; the kFault record's time says when.
// A target that has already ended (reaped, or a zombie not yet reaped) is
// not signalled: the record says ESRCH, which is no finding.  Faults still
// due when every worker has ended are logged the same way by finish(), so
// every planned fault leaves one first-step record.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ipctorture/event_log.hpp"
#include "ipctorture/plan.hpp"

namespace ipct {

class FaultInjector {
  public:
    struct Hooks {
        // The pid of a plan process while it has not been reaped, else 0.
        std::function<pid_t(std::uint32_t)> pid;
        // A stop began: the watchdog must allow this much longer.
        std::function<void(double)> paused;
        // A restart's SIGKILL was sent to plan process p: once it has been
        // reaped, start its next incarnation (fault f) after the delay.
        std::function<void(std::uint32_t p, std::size_t f)> restart;
    };
    static constexpr int kPollMs = 2;

    FaultInjector(boost::asio::io_context& ctx, const Plan& plan, std::string run_dir,
                  EventLogWriter& olog, Hooks hooks);
    ~FaultInjector();
    FaultInjector(const FaultInjector&) = delete;
    FaultInjector& operator=(const FaultInjector&) = delete;

    // The start barrier was released: arm the triggers.
    void start();
    // Every worker has ended: cancel what is armed, log what never came due.
    void finish();
    // The signals carried out on plan process p that may have ended it.
    bool sent(std::uint32_t p, int sig) const;

  private:
    struct Counter;
    void fire(std::size_t f);
    bool step(std::size_t f, FaultStep s, int sig);
    void poll();
    void resume(std::size_t f);

    boost::asio::io_context& ctx_;
    const Plan& plan_;
    std::string dir_;
    EventLogWriter& olog_;
    Hooks hooks_;
    std::vector<bool> fired_;
    std::vector<std::unique_ptr<boost::asio::steady_timer>> timers_;
    boost::asio::steady_timer poll_timer_;
    std::vector<std::unique_ptr<Counter>> counters_;  // by plan process, for count triggers
    std::vector<std::vector<int>> sent_;              // by plan process
    bool done_ = false;
};

}  // namespace ipct
