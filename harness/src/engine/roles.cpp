#include "ipctorture/roles.hpp"

#include <time.h>

#include <cerrno>
#include <vector>

#include "ipctorture/framing.hpp"
#include "ipctorture/page_buffer.hpp"
#include "ipctorture/perturb.hpp"

namespace ipct {

std::uint64_t Rng::next() {
    return mix64(s_++);
}
std::uint64_t Rng::below(std::uint64_t n) {
    return n ? next() % n : 0;
}
double Rng::unit() {
    return double(next() >> 11) * 0x1.0p-53;
}

std::uint32_t draw_size(const SizeDist& d, Rng& rng) {
    switch (d.kind) {
        case SizeDist::Kind::kFixed:
            return d.min;
        case SizeDist::Kind::kUniform:
            return d.min + static_cast<std::uint32_t>(rng.below(std::uint64_t(d.max) - d.min + 1));
        case SizeDist::Kind::kChoice: {
            double total = 0;
            for (double w : d.weights) total += w;
            double x = rng.unit() * total;
            for (std::size_t i = 0; i < d.choices.size(); ++i) {
                if (i < d.weights.size() && x < d.weights[i]) return d.choices[i];
                if (i < d.weights.size()) x -= d.weights[i];
            }
            return d.choices.empty() ? d.min : d.choices.back();
        }
    }
    return d.min;
}

void sleep_until_ns(std::uint64_t t) {
    timespec ts{static_cast<time_t>(t / 1000000000ull), static_cast<long>(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

namespace {

std::uint16_t ch16(std::uint32_t c) {
    return static_cast<std::uint16_t>(c);
}

// Paces a role at `rate` operations per second from `t0`; no-op for rate 0.
void pace(double rate, std::uint64_t t0, std::uint64_t n) {
    if (rate <= 0) return;
    sleep_until_ns(t0 + static_cast<std::uint64_t>(double(n) * 1e9 / rate));
}

void start_delay(const Workload& w) {
    if (w.start_delay_s > 0) sleep_until_ns(now_ns() + std::uint64_t(w.start_delay_s * 1e9));
}

int run_pinger(RoleContext& c);

// One send on the process's output channel, recorded around the call
// (the record begins before it and ends after it), between the two
// perturbation points.
IoResult logged_send(RoleContext& c, std::span<const std::byte> msg, std::uint32_t origin,
                     std::uint64_t seq, std::uint32_t size, std::uint32_t prio) {
    perturb_point(Site::kBeforeSend);
    Record* r = c.log->begin(Op::kSend, ch16(c.self->out_channel));
    r->origin = origin;
    r->seq = seq;
    r->size = size;
    r->aux = prio;
    IoResult res = c.out->send(msg);
    r->extra = static_cast<std::uint32_t>(res.calls);
    EventLogWriter::end(r, res.ok() ? Status::kOk : Status::kError, res.ok() ? 0 : res.err);
    perturb_point(Site::kAfterSend);
    return res;
}

// A producer's workload, one message at a time: when the next one is due,
// and its bytes, with sizes and priorities drawn from the process's seed.
class MessageSource {
  public:
    explicit MessageSource(RoleContext& c)
        : c_(c),
          w_(c.self->workload),
          max_(c.plan->channels[c.self->out_channel].max_message),
          buf_(std::max<std::uint32_t>(w_.size.largest(), kHeaderSize)),
          rng_(c.self->seed),
          prio_rng_(derive_seed(c.self->seed, 1)) {}  // its own stream: sizes stay as without

    // Waits out the start delay; pace and duration count from then.  A
    // later incarnation keeps the first one's timeline.
    void start() {
        if (c_.t0_ns != 0) {
            t0_ = c_.t0_ns + std::uint64_t(w_.start_delay_s * 1e9);
            sleep_until_ns(t0_);
        } else {
            start_delay(w_);
            t0_ = now_ns();
        }
        stop_at_ = w_.duration_s > 0 ? t0_ + std::uint64_t(w_.duration_s * 1e9) : 0;
    }
    // Draws message seq's size and priority without sending it: what an
    // earlier incarnation sent (or began to).
    void skip() {
        (void)draw_size(w_.size, rng_);
        if (w_.priority) (void)draw_size(*w_.priority, prio_rng_);
    }
    // Whether message seq is due (count or duration not reached yet); under
    // a rate, returns at its time.
    bool due(std::uint64_t seq) {
        if (w_.messages > 0 && seq >= w_.messages) return false;
        if (stop_at_ && now_ns() >= stop_at_) return false;
        pace(w_.rate, t0_, seq);
        return true;
    }
    // Draws message seq and sends it, recorded.
    IoResult send(std::uint64_t seq) {
        const std::uint32_t size = std::min(draw_size(w_.size, rng_), max_);
        std::span<std::byte> msg(buf_.data(), size);
        const std::uint32_t prio = w_.priority ? draw_size(*w_.priority, prio_rng_) : 0;
        c_.payload->fill(msg, c_.self->origin, seq, prio);
        return logged_send(c_, msg, c_.self->origin, seq, size, prio);
    }

  private:
    RoleContext& c_;
    const Workload& w_;
    std::uint32_t max_;
    PageBytes buf_;  // page-aligned: see page_buffer.hpp
    Rng rng_, prio_rng_;
    std::uint64_t t0_ = 0, stop_at_ = 0;
};

int run_producer(RoleContext& c) {
    if (c.in) return run_pinger(c);
    MessageSource src(c);
    src.start();
    const std::uint64_t first = c.self->workload.messages > 0
                                    ? std::min(c.first_seq, c.self->workload.messages)
                                    : c.first_seq;
    for (std::uint64_t seq = 0; seq < first; ++seq) src.skip();
    for (std::uint64_t seq = first; src.due(seq); ++seq)
        if (!src.send(seq).ok()) break;  // the error is in the history; the checker judges it
    c.out->close();
    c.log->mark(Op::kClose, ch16(c.self->out_channel));
    return 0;
}

// Reads c.in one receive at a time, handing each decoded frame to a sink.
// Byte streams go through the frame decoder; message backends hand over one
// message per receive.
class Receiver {
  public:
    enum class Step { kMore, kEnd, kError };

    explicit Receiver(RoleContext& c)
        : c_(c),
          ch_(c.plan->channels[c.self->in_channel]),
          dec_(*c.payload, ch_.max_message),
          channel_(ch16(c.self->in_channel)) {}

    // One receive.  kEnd: the channel ended (logged as drained); kError: the
    // receive failed (logged; what was not read is indeterminate).
    Step step(const FrameDecoder::Sink& sink) {
        auto space = dec_.space();
        if (!ch_.boundaries && space.size() > kStreamReadChunk)
            space = space.first(kStreamReadChunk);
        perturb_point(Site::kBeforeReceive);
        const std::uint64_t ts = now_ns();
        IoResult r = c_.in->receive(space);
        const std::uint64_t te = now_ns();
        perturb_point(Site::kAfterReceive);
        if (r.eof()) {
            dec_.finish(te, sink);
            c_.log->mark(Op::kDrained, channel_);
            return Step::kEnd;
        }
        if (!r.ok()) {
            Record* rec = c_.log->begin_at(Op::kRecv, channel_, ts);
            EventLogWriter::end(rec, Status::kError, r.err);
            dec_.finish(te, sink);
            return Step::kError;
        }
        if (ch_.boundaries)
            dec_.commit_message(r.done, ts, te, sink);  // never carries a frame over
        else
            dec_.commit(r.done, ts, te, sink);
        return Step::kMore;
    }

  private:
    RoleContext& c_;
    const PlannedChannel& ch_;
    FrameDecoder dec_;
    std::uint16_t channel_;
};

// Receives from c.in until end of channel, handing each decoded frame to
// `on_frame`.
template <typename OnFrame>
void receive_all(RoleContext& c, OnFrame&& on_frame) {
    const Workload& w = c.self->workload;
    Receiver rx(c);
    std::uint64_t frames = 0;
    const std::uint64_t t0 = now_ns();
    // Made a FrameDecoder::Sink once: converting the lambda at every
    // receive allocated (its captures do not fit std::function's small
    // buffer), twice per message on a message backend.
    const FrameDecoder::Sink sink = [&](const Frame& f) {
        on_frame(f);
        if (f.kind != Frame::Kind::kGarbage) pace(w.rate, t0, ++frames);
    };
    while (rx.step(sink) == Receiver::Step::kMore) {
    }
}

Record frame_record(const Frame& f, std::uint32_t channel) {
    Record r{};
    r.t_start = f.t_start;
    r.t_end = f.t_end;
    r.channel = ch16(channel);
    r.size = static_cast<std::uint32_t>(std::min<std::uint64_t>(f.size, 0xffffffffu));
    if (f.kind == Frame::Kind::kGarbage) {
        r.op = Op::kGarbage;
        r.status = Status::kOk;
        return r;
    }
    r.op = Op::kRecv;
    r.origin = f.header.origin;
    r.seq = f.header.seq;
    r.status = f.kind == Frame::Kind::kMessage ? Status::kOk : Status::kCorrupt;
    r.aux = f.kind == Frame::Kind::kMessage ? f.header.prio : static_cast<std::uint32_t>(f.verdict);
    r.extra = static_cast<std::uint32_t>(f.bad_offset) | (f.truncated ? 0x80000000u : 0);
    return r;
}

int run_consumer(RoleContext& c) {
    if (c.t0_ns != 0)
        sleep_until_ns(c.t0_ns + std::uint64_t(c.self->workload.start_delay_s * 1e9));
    else
        start_delay(c.self->workload);
    receive_all(c, [&](const Frame& f) { c.log->append(frame_record(f, c.self->in_channel)); });
    c.in->close();
    return 0;
}

// A producer that also reads a channel (the plan's in_channel) is a pinger:
// it sends one message, then receives until a reply comes back (any frame
// that is not garbage: an echo relay's copy of the message, intact or not),
// then sends the next: request and response, one message in flight.  Its
// receives are logged as a consumer's; after the last send it closes its
// output and reads its input to the end.
int run_pinger(RoleContext& c) {
    const PlannedProcess& p = *c.self;
    MessageSource src(c);
    Receiver rx(c);
    std::uint64_t replies = 0;
    const FrameDecoder::Sink sink = [&](const Frame& f) {
        c.log->append(frame_record(f, p.in_channel));
        if (f.kind != Frame::Kind::kGarbage) ++replies;
    };
    Receiver::Step st = Receiver::Step::kMore;
    src.start();
    for (std::uint64_t seq = 0; st == Receiver::Step::kMore && src.due(seq); ++seq) {
        if (!src.send(seq).ok()) break;  // the error is in the history; the checker judges it
        while (replies <= seq && st == Receiver::Step::kMore) st = rx.step(sink);
    }
    c.out->close();
    c.log->mark(Op::kClose, ch16(p.out_channel));
    while (st == Receiver::Step::kMore) st = rx.step(sink);
    c.in->close();
    return 0;
}

// Forwards every intact message unchanged (same origin and seq); damaged
// input is recorded on the input channel and not passed on.
int run_relay(RoleContext& c) {
    start_delay(c.self->workload);
    bool out_ok = true;
    receive_all(c, [&](const Frame& f) {
        c.log->append(frame_record(f, c.self->in_channel));
        if (f.kind != Frame::Kind::kMessage || !out_ok) return;
        out_ok =
            logged_send(c, f.bytes, f.header.origin, f.header.seq, f.header.size, f.header.prio)
                .ok();
    });
    c.in->close();
    c.out->close();
    c.log->mark(Op::kClose, ch16(c.self->out_channel));
    return 0;
}

}  // namespace

int run_role(RoleContext& c) {
    switch (c.self->role) {
        case Role::kProducer:
            return run_producer(c);
        case Role::kConsumer:
            return run_consumer(c);
        case Role::kRelay:
            return run_relay(c);
        case Role::kSignaler:
            return run_signaler(c);
        case Role::kExec:
            break;  // its worker becomes the program instead (exec.hpp)
    }
    return 3;
}

}  // namespace ipct
