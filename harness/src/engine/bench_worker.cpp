// The harness-off roles of `ipctorture bench`: the same orchestrator, the
// same backends' endpoints (open, send, receive, end of channel, close),
// but no payload generation or verification and no event-log record per
// message.  The producer sends one message built once; the consumer counts
// what arrives; a pinger waits for each reply; a relay echoes what it reads.
// Each writes its figures to <run dir>/bench.<process>.json.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench_detail.hpp"
#include "ipctorture/bench.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/event_log.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/page_buffer.hpp"
#include "ipctorture/roles.hpp"

namespace ipct {

namespace bench {

std::string bench_result_path(const std::string& run_dir, std::uint32_t process) {
    return run_dir + "/bench." + std::to_string(process) + ".json";
}

}  // namespace bench

namespace {

void write_result(const RoleContext& c, const nlohmann::json& j) {
    const std::string path = bench::bench_result_path(c.plan->run_dir, c.self->index);
    std::ofstream out(path);
    out << j.dump() << "\n";
    if (!out) IPCT_FAIL_ERRNO("cannot write " + path);
}

// Receives one whole message: one receive on a message backend, `size`
// bytes on a byte stream.  false at end of channel or on an error.
bool receive_message(Endpoint& in, std::span<std::byte> buf, std::size_t size, bool boundaries) {
    std::size_t got = 0;
    do {
        const IoResult r = in.receive(buf.subspan(got));
        if (!r.ok() || r.done == 0) return false;
        got += r.done;
    } while (!boundaries && got < size);
    return true;
}

// The priority (or type) the plan gives the producer's messages: a System V
// message needs a type above 0.
std::uint32_t priority(const PlannedProcess& p) {
    return p.workload.priority ? p.workload.priority->min : 0;
}

int off_producer(RoleContext& c) {
    const PlannedProcess& p = *c.self;
    const std::uint32_t size = p.workload.size.min;
    PageBytes msg(size);
    c.payload->fill(msg, p.origin, 0, priority(p));
    std::uint64_t sent = 0;
    int err = 0;
    const std::uint64_t t0 = now_ns();
    while (sent < p.workload.messages) {
        const IoResult r = c.out->send(msg);
        if (!r.ok()) {
            err = r.err;
            break;
        }
        ++sent;
    }
    c.out->close();
    write_result(c, {{"t_first_send", t0}, {"sent", sent}, {"err", err}});
    return 0;
}

int off_pinger(RoleContext& c) {
    const PlannedProcess& p = *c.self;
    const std::uint32_t size = p.workload.size.min;
    const bool boundaries = c.plan->channels[p.in_channel].boundaries;
    PageBytes msg(size), reply(std::max<std::size_t>(size, 64 * 1024));
    c.payload->fill(msg, p.origin, 0, priority(p));
    std::vector<std::uint64_t> rtt;
    rtt.reserve(p.workload.messages);
    for (std::uint64_t i = 0; i < p.workload.messages; ++i) {
        const std::uint64_t ts = now_ns();
        if (!c.out->send(msg).ok()) break;
        if (!receive_message(*c.in, std::span(reply).first(std::max<std::size_t>(size, 1)), size,
                             boundaries))
            break;
        rtt.push_back(now_ns() - ts);
    }
    c.out->close();
    while (c.in->receive(reply).ok()) {
    }
    c.in->close();
    write_result(c, {{"rtt_ns", rtt}});
    return 0;
}

int off_consumer(RoleContext& c) {
    const PlannedChannel& ch = c.plan->channels[c.self->in_channel];
    // A byte stream is read in the harness consumer's chunks; a message
    // backend needs room for its largest message.
    PageBytes buf(ch.boundaries ? std::max<std::size_t>(ch.max_message, kHeaderSize)
                                : kStreamReadChunk);
    std::uint64_t receives = 0, bytes = 0, t_last = 0;
    for (;;) {
        const IoResult r = c.in->receive(buf);
        if (!r.ok()) break;
        t_last = now_ns();
        ++receives;
        bytes += r.done;
    }
    c.in->close();
    write_result(c, {{"t_last_recv", t_last}, {"receives", receives}, {"bytes", bytes}});
    return 0;
}

// Echoes what it reads, as it reads it (a byte stream's pieces go back as
// they came: the bytes are the same).
int off_relay(RoleContext& c) {
    const PlannedChannel& ch = c.plan->channels[c.self->in_channel];
    PageBytes buf(ch.boundaries ? std::max<std::size_t>(ch.max_message, kHeaderSize)
                                : kStreamReadChunk);
    for (;;) {
        const IoResult r = c.in->receive(buf);
        if (!r.ok()) break;
        if (!c.out->send(std::span(buf).first(r.done)).ok()) break;
    }
    c.in->close();
    c.out->close();
    write_result(c, nlohmann::json::object());
    return 0;
}

}  // namespace

bool bench_harness_off() {
    const char* m = std::getenv(bench::kModeEnv);
    return m && std::string(m) == "off";
}

int run_bench_off_role(RoleContext& c) {
    switch (c.self->role) {
        case Role::kProducer:
            return c.in ? off_pinger(c) : off_producer(c);
        case Role::kConsumer:
            return off_consumer(c);
        case Role::kRelay:
            return off_relay(c);
        default:
            return run_role(c);
    }
}

}  // namespace ipct
