// MUTANT reorder-buffer (posix_mq): a consumer that "restores FIFO order"
// in user space.
//
// The bug: its author saw messages of one sender come out of the queue out
// of order (the queue rightly hands out a later urgent message before an
// earlier ordinary one) and added a reorder buffer: take a message, drain up
// to a few more that are already queued, sort them by (sender, sequence
// number), and hand them to the application in that order.  The queue's
// promise -- the highest priority first -- is gone: a low-priority message
// sorted ahead of an urgent one from the same batch is handed over while the
// urgent one waits in the buffer.
//
// What the checker can prove: the recorded receive of a message is the
// receive() call that hands it over.  Say the buffer hands over m (lower
// priority) and then n (higher) from one batch: n's receive begins after m's
// ends.  If n's send had ended before m's hand-over began -- so whenever n
// was already queued when the batch was drained, and whenever m is handed
// over by a later call than the one that drained n -- an urgent message
// provably waited while a lesser one was taken (priority).  Where the history
// cannot show that (n's sender had not yet logged the end of its mq_send),
// nothing is reported.
#include "posix_mq/mutant_reorder_buffer.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <tuple>
#include <vector>

#include "ipctorture/message.hpp"

namespace ipct {

namespace {

// How many messages the buffer gathers before it sorts them.
constexpr std::size_t kBatch = 8;

class ReorderBufferReader final : public Endpoint {
  public:
    ReorderBufferReader(std::unique_ptr<Endpoint> inner, mqd_t q, std::size_t msgsize)
        : inner_(std::move(inner)), q_(q), msgsize_(msgsize) {}
    IoResult send(std::span<const std::byte>) override { return {0, EBADF, 0}; }
    IoResult receive(std::span<std::byte> buf) override;
    void close() override { inner_->close(); }

  private:
    using Message = std::vector<std::byte>;
    IoResult fill();
    static std::tuple<std::uint32_t, std::uint64_t> sender_order(const Message& m);

    std::unique_ptr<Endpoint> inner_;
    mqd_t q_;
    std::size_t msgsize_;
    std::deque<Message> ready_;  // sorted, handed over from the front
};

std::tuple<std::uint32_t, std::uint64_t> ReorderBufferReader::sender_order(const Message& m) {
    MsgHeader h{};
    std::memcpy(&h, m.data(), std::min(m.size(), sizeof h));
    return {h.origin, h.seq};
}

// One message as the correct reader gets it (waiting, and seeing the end of
// the channel), then whatever else is queued right now, up to a batch.
IoResult ReorderBufferReader::fill() {
    Message m(msgsize_);
    IoResult r = inner_->receive(m);
    if (!r.ok()) return r;
    m.resize(r.done);
    std::vector<Message> batch{std::move(m)};
    const timespec now{0, 0};  // an absolute time long past: do not wait
    while (batch.size() < kBatch) {
        Message more(msgsize_);
        ++r.calls;
        const ssize_t n = retry_eintr([&] {
            return ::mq_timedreceive(q_, reinterpret_cast<char*>(more.data()), msgsize_, nullptr,
                                     &now);
        });
        if (n < 0) break;  // ETIMEDOUT or EAGAIN: nothing more queued
        more.resize(static_cast<std::size_t>(n));
        batch.push_back(std::move(more));
    }
    // THE BUG: sender order replaces the queue's priority order.
    std::stable_sort(batch.begin(), batch.end(), [](const Message& a, const Message& b) {
        return sender_order(a) < sender_order(b);
    });
    for (Message& x : batch) ready_.push_back(std::move(x));
    return r;
}

IoResult ReorderBufferReader::receive(std::span<std::byte> buf) {
    IoResult r;
    if (ready_.empty()) {
        r = fill();
        if (!r.ok()) return r;
    }
    const Message& m = ready_.front();
    r.done = std::min(m.size(), buf.size());
    std::memcpy(buf.data(), m.data(), r.done);
    ready_.pop_front();
    return r;
}

}  // namespace

const MutantInfo& reorder_buffer_mutant() {
    static const MutantInfo m{
        "reorder-buffer",
        "the reader drains up to 8 queued messages and sorts them by (sender, seq) to "
        "\"restore FIFO\", handing a lower-priority message over while a higher one waits in "
        "its buffer (priority)"};
    return m;
}

std::unique_ptr<Endpoint> make_reorder_buffer_reader(std::unique_ptr<Endpoint> inner, mqd_t q,
                                                     std::size_t msgsize) {
    return std::make_unique<ReorderBufferReader>(std::move(inner), q, msgsize);
}

}  // namespace ipct
