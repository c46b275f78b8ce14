#include "op_model.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

namespace ipct::opseq {

namespace {
constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
}  // namespace

void violation(const std::string& backend, const std::string& what) {
    std::fprintf(stderr, "op_sequence: %s: %s\n", backend.c_str(), what.c_str());
    std::fflush(stderr);
    __builtin_trap();
}

Mode mode_for(const Contract& c) {
    if (c.shape == ChannelShape::kCounter) return Mode::kCounter;
    if (c.shape == ChannelShape::kSnapshot) return Mode::kSnapshot;
    if (!c.boundaries) return Mode::kByteStream;
    if (!c.lossless) return Mode::kLossy;
    if (std::string_view(c.unit) == "byte stream") return Mode::kFramed;
    return Mode::kQueue;
}

Model::Model(std::string backend, const Contract& c, const ReceiveRequest& req, const Capacity& cap,
             std::uint64_t seed)
    : backend_(std::move(backend)),
      mode_(mode_for(c)),
      contract_(c),
      req_(req),
      cap_(cap),
      payload_(seed) {
    // The smallest buffer (2 * max_message): the decoder compacts often.
    if (mode_ == Mode::kByteStream) decoder_.emplace(payload_, cap_.max_message, 1);
}

std::string Model::describe(const Msg& m) const {
    return std::to_string(m.origin) + ":" + std::to_string(m.seq) + " (" + std::to_string(m.size) +
           " bytes, prio " + std::to_string(m.prio) + ")";
}

std::size_t Model::cost(std::size_t size) const {
    const std::size_t page = std::max<std::size_t>(cap_.page, 1);
    return (size + page - 1) / page * page + cap_.overhead;
}

bool Model::fits(std::uint32_t origin, std::size_t size) const {
    if (mode_ == Mode::kCounter || mode_ == Mode::kSnapshot) return true;
    const std::size_t in_flight = mode_ == Mode::kLossy ? sent_.size() : flight_.size();
    if (cap_.messages != 0 && in_flight + 1 > cap_.messages) return false;
    const std::size_t c = cost(size);
    if (cap_.bytes != 0 && total_cost_ + c > cap_.bytes) return false;
    auto it = writer_cost_.find(origin);
    const std::size_t mine = it == writer_cost_.end() ? 0 : it->second;
    return cap_.writer_bytes == 0 || mine + c <= cap_.writer_bytes;
}

void Model::sent(const Msg& m) {
    ++sends_;
    if (mode_ == Mode::kCounter) return;
    if (mode_ == Mode::kSnapshot) {
        last_written_ = m;
        unread_ = true;
        return;
    }
    flight_.push_back(m);
    stream_bytes_ += m.size;
    total_cost_ += cost(m.size);
    writer_cost_[m.origin] += cost(m.size);
    if (mode_ == Mode::kLossy) sent_[{m.origin, m.seq}] = m;
}

void Model::release(std::size_t index) {
    const Msg m = flight_[index];
    flight_.erase(flight_.begin() + static_cast<std::ptrdiff_t>(index));
    if (mode_ == Mode::kLossy) return;  // capacity: every send counts to the end
    total_cost_ -= cost(m.size);
    writer_cost_[m.origin] -= cost(m.size);
}

std::size_t Model::front_of(std::uint32_t origin) const {
    for (std::size_t i = 0; i < flight_.size(); ++i)
        if (flight_[i].origin == origin) return i;
    return npos;
}

bool Model::admitted(const Msg& m) const {
    return req_.admits(m.prio);
}

std::optional<std::size_t> Model::predicted() const {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < flight_.size(); ++i) {
        const Msg& m = flight_[i];
        if (!admitted(m)) continue;
        if (!best) {
            best = i;
            if (req_.order == ReceiveRequest::Order::kQueue) return best;
            continue;
        }
        const std::uint32_t p = flight_[*best].prio;
        if (req_.order == ReceiveRequest::Order::kHighestFirst && m.prio > p) best = i;
        if (req_.order == ReceiveRequest::Order::kLowestFirst && m.prio < p) best = i;
    }
    return best;
}

bool Model::can_receive() const {
    if (ended_) return true;
    switch (mode_) {
        case Mode::kByteStream:
            return stream_bytes_ > 0 || all_gone_;
        case Mode::kFramed: {
            if (all_gone_) return true;
            for (const Msg& m : flight_)
                if (m.taken == 0 && (!mid_ || m.origin != *mid_)) return true;
            if (!mid_) return false;
            // The reader hands over the rest of a frame once the next
            // header has come, the connection has ended, or (keeping back
            // 31 bytes that may start a header) when 32 or more are left.
            const Msg& m = flight_[front_of(*mid_)];
            const auto n = std::count_if(flight_.begin(), flight_.end(),
                                         [&](const Msg& x) { return x.origin == *mid_; });
            return m.size - m.taken >= kHeaderSize || n >= 2 || closed_.count(*mid_) != 0;
        }
        case Mode::kQueue:
            if (all_gone_) return true;
            if (req_.order == ReceiveRequest::Order::kNone) return !flight_.empty();
            return predicted().has_value();
        case Mode::kLossy:
        case Mode::kCounter:
            return all_gone_;
        case Mode::kSnapshot:
            return unread_ || all_gone_;
    }
    return false;
}

std::size_t Model::smallest_buffer() const {
    const bool ordered = mode_ == Mode::kQueue && req_.order != ReceiveRequest::Order::kNone;
    return mode_ == Mode::kByteStream || ordered ? 1 : kHeaderSize;
}

bool Model::short_buffer_ok() const {
    if (mode_ == Mode::kCounter || mode_ == Mode::kSnapshot) return false;
    // Two frames cut at once could not be told apart by their rests.
    return mode_ != Mode::kFramed || !mid_;
}

void Model::expect_prefix(const Msg& m, std::size_t from, std::span<const std::byte> got,
                          const char* what) {
    scratch_.resize(m.size);
    payload_.fill(scratch_, m.origin, m.seq, m.prio);
    if (from + got.size() > m.size)
        violation(backend_, std::string(what) + ": " + std::to_string(got.size()) +
                                " bytes at offset " + std::to_string(from) + " of message " +
                                describe(m) + " run past its end");
    for (std::size_t i = 0; i < got.size(); ++i)
        if (got[i] != scratch_[from + i])
            violation(backend_, std::string(what) + ": message " + describe(m) +
                                    " differs at byte " + std::to_string(from + i) +
                                    " (corrupted, or not the message the contract picks)");
}

void Model::received(const IoResult& r, std::span<const std::byte> got, std::size_t buf_size) {
    if (r.eof()) {
        check_end(r);
        return;
    }
    if (ended_) violation(backend_, "a receive returned data after end of file");
    if (!r.ok()) violation(backend_, "receive failed with " + errno_name(r.err));
    if (r.done > buf_size)
        violation(backend_, "receive says " + std::to_string(r.done) + " bytes into a " +
                                std::to_string(buf_size) + "-byte buffer");
    switch (mode_) {
        case Mode::kByteStream:
            return check_stream(got, buf_size);
        case Mode::kFramed:
            return check_framed(got, buf_size);
        case Mode::kQueue:
            return check_queue(got, buf_size);
        case Mode::kLossy:
            return check_lossy(got, buf_size);
        case Mode::kCounter:
            return check_counter(got);
        case Mode::kSnapshot:
            return check_snapshot(got);
    }
}

void Model::check_end(const IoResult& r) {
    (void)r;
    if (ended_) return;  // end of file stays end of file
    if (!all_gone_) violation(backend_, "end of file while a writer may still send");
    std::size_t owed = 0;
    for (const Msg& m : flight_) owed += mode_ != Mode::kQueue || admitted(m) ? 1 : 0;
    if (mode_ == Mode::kLossy) owed = 0;  // loss is allowed
    if (mode_ == Mode::kSnapshot && unread_) owed = 1;
    if (mode_ == Mode::kCounter && !counter_read_)
        violation(backend_, "end of file before the counter's value");
    if (owed != 0)
        violation(backend_, "end of file with " + std::to_string(owed) +
                                " message(s) still owed to the reader (lost), first " +
                                describe(flight_.empty() ? *last_written_ : flight_.front()));
    ended_ = true;
}

void Model::check_stream(std::span<const std::byte> got, std::size_t buf_size) {
    (void)buf_size;
    if (got.empty()) violation(backend_, "a byte-stream receive returned 0 bytes, not end of file");
    if (got.size() > stream_bytes_)
        violation(backend_, "a receive returned " + std::to_string(got.size()) +
                                " bytes, but only " + std::to_string(stream_bytes_) +
                                " are in flight (duplicated or invented bytes)");
    std::size_t pos = 0;
    while (pos < got.size()) {
        Msg& m = flight_.front();
        const std::size_t n = std::min(m.size - m.taken, got.size() - pos);
        expect_prefix(m, m.taken, got.subspan(pos, n), "byte stream out of order");
        m.taken += n;
        pos += n;
        if (m.taken == m.size) {
            completed_.push_back(m);
            release(0);
        }
    }
    stream_bytes_ -= got.size();
    decoder_->feed(got, sends_, sends_, [this](const Frame& f) { on_frame(f); });
}

void Model::on_frame(const Frame& f) {
    if (f.kind != Frame::Kind::kMessage)
        violation(backend_, std::string("FrameDecoder found ") +
                                (f.kind == Frame::Kind::kCorrupt ? "a corrupt frame" : "garbage") +
                                " in a stream of whole messages");
    if (completed_.empty())
        violation(backend_, "FrameDecoder reported a message whose bytes were not all received");
    const Msg m = completed_.front();
    completed_.pop_front();
    if (f.header.origin != m.origin || f.header.seq != m.seq || f.size != m.size)
        violation(backend_, "FrameDecoder reported " + std::to_string(f.header.origin) + ":" +
                                std::to_string(f.header.seq) + ", expected " + describe(m));
}

void Model::check_framed(std::span<const std::byte> got, std::size_t buf_size) {
    if (got.empty()) violation(backend_, "a receive returned 0 bytes, not end of file");
    if (mid_) {  // the rest of a frame cut by a short buffer?
        const std::size_t i = front_of(*mid_);
        Msg& m = flight_[i];
        scratch_.resize(m.size);
        payload_.fill(scratch_, m.origin, m.seq, m.prio);
        if (got.size() <= m.size - m.taken &&
            std::memcmp(got.data(), scratch_.data() + m.taken, got.size()) == 0) {
            m.taken += got.size();
            if (m.taken == m.size) {
                release(i);
                mid_.reset();
            }
            return;
        }
    }
    if (got.size() < kHeaderSize)
        violation(backend_, "a receive returned " + std::to_string(got.size()) +
                                " bytes that are neither a frame's rest nor a frame's start");
    MsgHeader h;
    std::memcpy(&h, got.data(), kHeaderSize);
    const std::size_t i = front_of(h.origin);
    if (i == npos)
        violation(backend_, "a frame from writer " + std::to_string(h.origin) +
                                ", which has nothing in flight (duplicated or invented)");
    Msg& m = flight_[i];
    if (m.taken != 0)
        violation(backend_, "writer " + std::to_string(m.origin) +
                                ": a frame started before the rest of " + describe(m));
    if (h.seq != m.seq)
        violation(backend_, "writer " + std::to_string(m.origin) + ": frame seq " +
                                std::to_string(h.seq) + " where " + describe(m) +
                                " is next (FIFO per writer: lost or reordered)");
    if (got.size() != std::min<std::size_t>(m.size, buf_size))
        violation(backend_, "frame " + describe(m) + " handed over as " +
                                std::to_string(got.size()) + " bytes into a " +
                                std::to_string(buf_size) + "-byte buffer (not whole)");
    expect_prefix(m, 0, got, "frame");
    if (got.size() == m.size) {
        release(i);
    } else {
        m.taken = got.size();
        mid_ = m.origin;
    }
}

void Model::check_queue(std::span<const std::byte> got, std::size_t buf_size) {
    std::size_t i = npos;
    if (req_.order != ReceiveRequest::Order::kNone) {
        const std::optional<std::size_t> p = predicted();
        if (!p) violation(backend_, "a message although none the reader asks for is in flight");
        i = *p;
        MsgHeader h{};
        if (got.size() >= kHeaderSize) std::memcpy(&h, got.data(), kHeaderSize);
        if (got.size() >= kHeaderSize && (h.origin != flight_[i].origin || h.seq != flight_[i].seq))
            violation(backend_, "received " + std::to_string(h.origin) + ":" +
                                    std::to_string(h.seq) + " (prio/type " +
                                    std::to_string(h.prio) + "), but the queue's rule picks " +
                                    describe(flight_[i]));
    } else {
        if (got.size() < kHeaderSize)
            violation(backend_, "a message of " + std::to_string(got.size()) +
                                    " bytes, shorter than its header");
        MsgHeader h;
        std::memcpy(&h, got.data(), kHeaderSize);
        i = front_of(h.origin);
        if (i == npos)
            violation(backend_, "a message from writer " + std::to_string(h.origin) +
                                    ", which has nothing in flight (duplicated or invented)");
        if (h.seq != flight_[i].seq)
            violation(backend_, "writer " + std::to_string(h.origin) + ": received seq " +
                                    std::to_string(h.seq) + " where " + describe(flight_[i]) +
                                    " is next (FIFO per writer: lost or reordered)");
    }
    const Msg m = flight_[i];
    // A short buffer: the message's first bytes, and the message is consumed.
    if (got.size() != std::min<std::size_t>(m.size, buf_size))
        violation(backend_, "message " + describe(m) + " came as " + std::to_string(got.size()) +
                                " bytes into a " + std::to_string(buf_size) +
                                "-byte buffer (one receive, one whole message)");
    expect_prefix(m, 0, got, "message");
    release(i);
}

void Model::check_lossy(std::span<const std::byte> got, std::size_t buf_size) {
    if (got.size() < kHeaderSize)
        violation(backend_, "a datagram of " + std::to_string(got.size()) +
                                " bytes, shorter than its header");
    MsgHeader h;
    std::memcpy(&h, got.data(), kHeaderSize);
    auto it = sent_.find({h.origin, h.seq});
    if (it == sent_.end())
        violation(backend_, "datagram " + std::to_string(h.origin) + ":" + std::to_string(h.seq) +
                                " was never sent (invented or corrupted)");
    const Msg m = it->second;
    if (got.size() != std::min<std::size_t>(m.size, buf_size))
        violation(backend_,
                  "datagram " + describe(m) + " came as " + std::to_string(got.size()) + " bytes");
    expect_prefix(m, 0, got, "datagram");
    for (std::size_t i = 0; i < flight_.size(); ++i)
        if (flight_[i].origin == m.origin && flight_[i].seq == m.seq) {
            release(i);
            break;
        }
}

void Model::check_counter(std::span<const std::byte> got) {
    if (counter_read_) violation(backend_, "a second counter value");
    if (got.size() != kHeaderSize)
        violation(backend_, "the counter's value came as " + std::to_string(got.size()) +
                                " bytes, not a header");
    MsgHeader h;
    std::memcpy(&h, got.data(), kHeaderSize);
    if (payload_.check_header(h, kHeaderSize) != Verdict::kOk || h.origin != kCounterOrigin)
        violation(backend_, "the counter's value is not a valid counter header");
    if (h.seq != sends_)
        violation(backend_, "the counter says " + std::to_string(h.seq) + " after " +
                                std::to_string(sends_) + " sends (lost or invented updates)");
    counter_read_ = true;
}

void Model::check_snapshot(std::span<const std::byte> got) {
    if (!unread_ || !last_written_)
        violation(backend_, "a snapshot copy although nothing was written since the last one");
    const Msg m = *last_written_;
    if (got.size() != m.size)
        violation(backend_, "snapshot copy of " + std::to_string(got.size()) +
                                " bytes; the last write " + describe(m));
    expect_prefix(m, 0, got, "snapshot (not the last write, or torn)");
    unread_ = false;
}

void Model::finish() {
    if (decoder_) {
        decoder_->finish(sends_, [this](const Frame& f) { on_frame(f); });
        if (!completed_.empty())
            violation(backend_, "FrameDecoder never reported " + describe(completed_.front()));
    }
}

}  // namespace ipct::opseq
