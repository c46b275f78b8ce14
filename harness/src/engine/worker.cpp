#include "ipctorture/worker.hpp"

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>

#include "ipctorture/backend.hpp"
#include "ipctorture/bench.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/exec.hpp"
#include "ipctorture/logging.hpp"
#include "ipctorture/perturb.hpp"
#include "ipctorture/perturb_log.hpp"
#include "ipctorture/roles.hpp"
#include "ipctorture/syscall_faults.hpp"
#include "worker_detail.hpp"

namespace ipct {

namespace worker_detail {

Plan read_plan(const std::string& run_dir) {
    std::ifstream in(run_dir + "/plan.json");
    if (!in) IPCT_FAIL_ERRNO("cannot read " + run_dir + "/plan.json");
    nlohmann::json j;
    try {
        in >> j;
    } catch (const nlohmann::json::exception& e) {
        IPCT_FAIL(std::string("bad plan.json: ") + e.what());
    }
    return plan_from_json(j);
}

std::unique_ptr<Endpoint> open_endpoint(const Plan& plan, std::uint32_t self, std::uint32_t c,
                                        Direction d, const nlohmann::json& state,
                                        EventLogWriter& log) {
    const PlannedChannel& ch = plan.channels.at(c);
    Backend* b = find_backend(ch.backend);
    if (!b) IPCT_FAIL("unknown backend in plan: " + ch.backend);
    Record* r = log.begin(Op::kOpen, static_cast<std::uint16_t>(c));
    r->aux = d == Direction::kRead ? 0 : 1;
    auto ep = b->open(channel_setup(plan, c, self, d), state, d);
    EventLogWriter::end(r, Status::kOk);
    return ep;
}

// Start barrier: announce readiness, then block until the orchestrator
// closes the go pipe (read returns 0).  A dead orchestrator also closes it,
// but PR_SET_PDEATHSIG has killed us by then.
void barrier(int ready_fd, int go_fd) {
    char b = 'r';
    if (write_full(ready_fd, &b, 1).err) IPCT_FAIL_ERRNO("barrier: write ready");
    ::close(ready_fd);
    IoResult r = read_full(go_fd, &b, 1);
    if (!r.eof()) IPCT_FAIL("barrier: expected end-of-file on the go pipe");
    ::close(go_fd);
}

// Room for the records a process will most likely write, so that the log
// rarely grows (and remaps) mid-run.  Consumers and relays cannot know their
// share up front: they start with room for every message any producer plans
// to send.
std::uint64_t expected_records(const Plan& plan, const PlannedProcess& p) {
    if (p.role == Role::kExec) return 16;  // opens, start, exec: the program logs nothing
    // One record per send or receive, plus a few markers: the log is
    // prefaulted to this size before the start barrier (event_log.cpp), so
    // it should be close.  A longer history grows the file.
    std::uint64_t n = p.workload.messages;
    if (p.role == Role::kConsumer || p.role == Role::kRelay)
        for (const auto& q : plan.processes)
            if (q.role == Role::kProducer) n += q.workload.messages;
    if (p.role == Role::kRelay || (p.role == Role::kProducer && p.in_channel != kNoChannel))
        n *= 2;  // a relay sends what it receives; a pinger receives what it sends
    return std::min<std::uint64_t>(n + 1024, std::uint64_t{1} << 22);
}

// Before the start barrier, so that the first operation already runs where
// and how the plan says.
void place_and_perturb(const PlannedProcess& self) {
    if (!self.cpus.empty()) {
        if (int e = pin_to_cpus(self.cpus))
            throw EnvironmentError("cannot pin " + self.name + " to CPUs " +
                                   cpu_list_text(self.cpus) + ": " + errno_name(e));
    }
    perturb_configure(self.perturb, perturb_seed(self));
}

Record perturbations_note() {
    const PerturbStats st = perturb_stats();
    Record r = note_record(Note::kPerturbations, st.yields + st.spins + st.sleeps);
    r.origin = static_cast<std::uint32_t>(std::min<std::uint64_t>(st.yields, 0xffffffffu));
    r.size = static_cast<std::uint32_t>(std::min<std::uint64_t>(st.spins, 0xffffffffu));
    r.extra = static_cast<std::uint32_t>(std::min<std::uint64_t>(st.sleeps, 0xffffffffu));
    return r;
}

int run_started(const Plan& plan, const PlannedProcess& self, EventLogWriter& log, Endpoint* in,
                Endpoint* out, bool targeted, const Incarnation& inc) {
    log.mark(Op::kStart, 0);
    Payload payload(plan.seed);
    RoleContext ctx{&plan, &self, &log, &payload, in, out};
    ctx.t0_ns = inc.t0_ns;
    ctx.first_seq = inc.first_seq;
    const int rc = bench_harness_off() ? run_bench_off_role(ctx) : run_role(ctx);
    if (targeted) log.append(note_record(Note::kSignalsCaught, target_signals_caught()));
    if (targeted || eintr_retries() > 0)
        log.append(note_record(Note::kEintrRetries, eintr_retries()));
    if (self.perturb.on()) {
        log.append(perturbations_note());
        // A later incarnation's decisions go beside the first one's.
        write_perturb_log(inc.number == 0
                              ? perturb_log_path(plan.run_dir, self.index)
                              : plan.run_dir + "/perturb." + std::to_string(self.index) + "." +
                                    std::to_string(inc.number) + ".json",
                          self, perturb_trace());
    }
    log.mark(Op::kExit, 0, static_cast<std::uint32_t>(rc));
    return rc;
}

// A later incarnation's producer starts after the highest seq any earlier
// incarnation logged a send of, complete or not: one whose send was cut
// short may have been delivered, and sending it again could duplicate it.
Incarnation resume_point(const std::string& run_dir, const PlannedProcess& self, unsigned number,
                         std::uint64_t t0_ns) {
    Incarnation inc{number, t0_ns, 0};
    if (number == 0 || self.role != Role::kProducer) return inc;
    for (unsigned k = 0; k < number; ++k) {
        const std::string path = event_log_path(run_dir, self.index, k);
        if (!std::filesystem::exists(path)) continue;
        const EventLogReader prev(path);
        for (const Record& r : std::span<const Record>(prev.data(), prev.size()))
            if (r.op == Op::kSend && r.channel == self.out_channel)
                inc.first_seq = std::max(inc.first_seq, r.seq + 1);
    }
    return inc;
}

}  // namespace worker_detail

using namespace worker_detail;

int worker_main(const WorkerArgs& a) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (a.parent != 0 && ::getppid() != a.parent) return 3;  // orphaned before the prctl
    ::signal(SIGPIPE, SIG_IGN);  // EPIPE is an outcome to record, not a way to die
    init_logging("worker");
    try {
        const Plan plan = read_plan(a.run_dir);
        const PlannedProcess& self = plan.processes.at(a.process);
        spdlog::set_pattern("[%H:%M:%S.%e] [%n] [pid %P] [" + self.name + "] %l: %v");
        const Incarnation inc = resume_point(a.run_dir, self, a.incarnation, a.t0_ns);
        EventLogWriter log(event_log_path(a.run_dir, a.process, a.incarnation), a.process,
                           expected_records(plan, self));
        if (self.role == Role::kExec) return exec_program(plan, self, log, a.ready_fd, a.go_fd);
        std::unique_ptr<Endpoint> in, out;
        if (self.in_channel != kNoChannel)
            in = open_endpoint(plan, self.index, self.in_channel, Direction::kRead,
                               plan.channels.at(self.in_channel).state, log);
        if (self.out_channel != kNoChannel)
            out = open_endpoint(plan, self.index, self.out_channel, Direction::kWrite,
                                plan.channels.at(self.out_channel).state, log);
        const bool targeted = install_target_handlers(plan, self.index);
        place_and_perturb(self);
        if (inc.number == 0) barrier(a.ready_fd, a.go_fd);       // a restart comes after it
        if (!self.syscall_faults.empty()) arm_syscall_faults();  // nothing before this point
        return run_started(plan, self, log, in.get(), out.get(), targeted, inc);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 3;
    }
}

}  // namespace ipct
