#include "ipctorture/framing.hpp"

#include <algorithm>
#include <cstring>

namespace ipct {

namespace {
constexpr std::size_t kNone = static_cast<std::size_t>(-1);
}

FrameDecoder::FrameDecoder(const Payload& payload, std::size_t max_message, std::size_t capacity)
    : payload_(payload), max_message_(std::max(max_message, kHeaderSize)) {
    if (capacity == 0) capacity = std::max<std::size_t>(256 * 1024, 2 * max_message_);
    buf_.resize(std::max(capacity, 2 * max_message_));
}

std::span<std::byte> FrameDecoder::space() {
    // Keep the bytes near the start of the buffer: reads then land in memory
    // that is still in cache.  Compacting moves at most one partial frame and
    // happens only after at least as many bytes were decoded.
    constexpr std::size_t kHot = 64 * 1024;
    const std::size_t free = buf_.size() - tail_;
    if (head_ > 0 && (head_ == tail_ || head_ >= kHot || free < buf_.size() / 4)) compact();
    return {buf_.data() + tail_, buf_.size() - tail_};
}

void FrameDecoder::commit(std::size_t n, std::uint64_t t_start, std::uint64_t t_end,
                          const Sink& sink) {
    n = std::min(n, buf_.size() - tail_);
    if (n == 0) return;
    marks_.push_back({base_ + tail_, t_start, t_end});
    tail_ += n;
    decode(t_end, sink);
}

void FrameDecoder::commit_message(std::size_t n, std::uint64_t t_start, std::uint64_t t_end,
                                  const Sink& sink) {
    n = std::min(n, buf_.size() - tail_);
    MsgHeader h;
    if (head_ == tail_ && garbage_ == 0 && n >= kHeaderSize) {
        std::memcpy(&h, buf_.data() + tail_, kHeaderSize);
        if (h.size == n && payload_.check_header(h, max_message_) == Verdict::kOk) {
            Frame f;
            f.header = h;
            f.size = n;
            f.bytes = {buf_.data() + tail_, n};
            f.t_start = t_start;
            f.t_end = t_end;
            f.verdict = payload_.verify_body(h, f.bytes, &f.bad_offset);
            if (f.verdict == Verdict::kOk) {
                // Consumed in place: the stream offset moves on, the buffer
                // stays empty.
                base_ += n;
                sink(f);
                return;
            }
        }
    }
    commit(n, t_start, t_end, sink);
    finish(t_end, sink);
}

void FrameDecoder::feed(std::span<const std::byte> data, std::uint64_t t_start, std::uint64_t t_end,
                        const Sink& sink) {
    while (!data.empty()) {
        auto room = space();
        const std::size_t n = std::min(room.size(), data.size());
        std::memcpy(room.data(), data.data(), n);
        commit(n, t_start, t_end, sink);
        data = data.subspan(n);
    }
}

bool FrameDecoder::header_valid_at(std::size_t pos, MsgHeader* h) const {
    if (tail_ - pos < kHeaderSize) return false;
    std::memcpy(h, buf_.data() + pos, kHeaderSize);
    return payload_.check_header(*h, max_message_) == Verdict::kOk;
}

// First position p in [from, to) where a valid header starts, or kNone.
std::size_t FrameDecoder::find_header(std::size_t from, std::size_t to) const {
    const std::size_t last = tail_ >= kHeaderSize ? tail_ - kHeaderSize : 0;
    to = std::min(to, last + 1);
    MsgHeader h;
    for (std::size_t p = from; p < to; ++p) {
        std::uint32_t magic;
        std::memcpy(&magic, buf_.data() + p, 4);
        if (magic == kMsgMagic && header_valid_at(p, &h)) return p;
    }
    return kNone;
}

std::uint64_t FrameDecoder::t_start_of(std::uint64_t offset) const {
    auto it = std::upper_bound(marks_.begin(), marks_.end(), offset,
                               [](std::uint64_t off, const Mark& m) { return off < m.offset; });
    return it == marks_.begin() ? (marks_.empty() ? 0 : marks_.front().t_start)
                                : std::prev(it)->t_start;
}

// t_end of the read that delivered the byte at offset.
std::uint64_t FrameDecoder::t_end_of(std::uint64_t offset) const {
    auto it = std::upper_bound(marks_.begin(), marks_.end(), offset,
                               [](std::uint64_t off, const Mark& m) { return off < m.offset; });
    return it == marks_.begin() ? (marks_.empty() ? 0 : marks_.front().t_end)
                                : std::prev(it)->t_end;
}

void FrameDecoder::add_garbage(std::size_t n, std::uint64_t t_end) {
    if (n == 0) return;
    if (garbage_ == 0) garbage_t_start_ = t_start_of(base_ + head_);
    garbage_ += n;
    garbage_t_end_ = t_end;
    head_ += n;
}

void FrameDecoder::flush_garbage(const Sink& sink) {
    if (garbage_ == 0) return;
    Frame f;
    f.kind = Frame::Kind::kGarbage;
    f.size = garbage_;
    f.t_start = garbage_t_start_;
    f.t_end = garbage_t_end_;
    garbage_ = 0;
    sink(f);
}

void FrameDecoder::decode(std::uint64_t t_end, const Sink& sink, bool at_end) {
    MsgHeader h;
    while (tail_ - head_ >= kHeaderSize) {
        if (!header_valid_at(head_, &h)) {
            std::size_t k = find_header(head_ + 1, tail_);
            // Without a header in sight, keep the last bytes that could still
            // be the beginning of one.
            if (k == kNone) k = tail_ - kHeaderSize + 1;
            add_garbage(k - head_, t_end);
            if (tail_ - head_ < kHeaderSize || !header_valid_at(head_, &h)) continue;
        }
        flush_garbage(sink);
        if (tail_ - head_ < h.size) break;  // wait for the rest of the frame
        Frame f;
        f.header = h;
        f.size = h.size;
        f.bytes = {buf_.data() + head_, h.size};
        f.t_start = t_start_of(base_ + head_);
        // A frame found inside a corrupt one was read before this read.
        f.t_end = t_end_of(base_ + head_ + h.size - 1);
        f.verdict = payload_.verify_body(h, f.bytes, &f.bad_offset);  // header checked above
        if (f.verdict == Verdict::kOk) {
            f.kind = Frame::Kind::kMessage;
            sink(f);
            head_ += h.size;
            continue;
        }
        // The interleaved message's header may start in the frame's last
        // kHeaderSize - 1 bytes: it can be found only once all of it is here,
        // or the outcome would depend on how the stream was cut into reads.
        if (!at_end && tail_ - head_ < std::size_t{h.size} + kHeaderSize - 1) break;
        f.kind = Frame::Kind::kCorrupt;
        sink(f);
        // Another message may have been written into this one: resume at its
        // header if there is one inside the frame.
        const std::size_t k = find_header(head_ + 1, head_ + h.size);
        head_ = (k == kNone) ? head_ + h.size : k;
    }
}

void FrameDecoder::finish(std::uint64_t t_end, const Sink& sink) {
    decode(t_end, sink, true);  // a corrupt frame still waiting for the bytes after it
    MsgHeader h;
    if (tail_ - head_ >= kHeaderSize && header_valid_at(head_, &h)) {
        flush_garbage(sink);
        Frame f;
        f.kind = Frame::Kind::kCorrupt;
        f.header = h;
        f.size = tail_ - head_;
        f.bytes = {buf_.data() + head_, tail_ - head_};
        f.verdict = Verdict::kBadSize;
        f.bad_offset = tail_ - head_;
        f.truncated = true;
        f.t_start = t_start_of(base_ + head_);
        f.t_end = t_end;
        sink(f);
        head_ = tail_;
    } else {
        add_garbage(tail_ - head_, t_end);
    }
    flush_garbage(sink);
}

void FrameDecoder::compact() {
    const std::size_t live = tail_ - head_;
    std::memmove(buf_.data(), buf_.data() + head_, live);
    base_ += head_;
    tail_ = live;
    head_ = 0;
    // Keep the last mark at or before the new base and every later one.
    auto it = std::upper_bound(marks_.begin(), marks_.end(), base_,
                               [](std::uint64_t off, const Mark& m) { return off < m.offset; });
    if (it != marks_.begin()) marks_.erase(marks_.begin(), std::prev(it));
}

}  // namespace ipct
