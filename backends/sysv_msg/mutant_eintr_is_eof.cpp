// MUTANT eintr-is-eof (sysv_msg): the classic receive loop of a queue that
// has no end of file,
//     while (msgrcv(id, &m, sizeof m.text, type, 0) >= 0)
//         handle(&m);
//     /* the queue was removed (EIDRM): we are done */
// which takes any failure for the end of the input.  A msgrcv that waits
// fails with EINTR when a signal whose handler was installed without
// SA_RESTART arrives (signal(7): msgrcv is never restarted after a handler
// anyway); the loop ends, and every message the writers send afterwards
// stays in the queue, unread.  The reader believes it has read everything,
// so the checker proves those messages lost.
//
// How the EINTR comes does not matter: a signaler's storm, or a fault
// interposer that makes msgrcv fail without any signal.  Without anything
// to interrupt it, a reader that waits when the last writer leaves waits
// forever, as the real loop would (the watchdog reports a hang).
//
// The look that ends the channel when no writer is left is the correct
// reader's (sysv_msg.cpp): the bug is only in how the wait ends.
#include "sysv_msg/mutant_eintr_is_eof.hpp"

#include <sys/msg.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace ipct {

namespace {

class EintrIsEofReader final : public Endpoint {
  public:
    EintrIsEofReader(int id, std::size_t max_message, long msgtyp, int flags, ChannelControl ctl)
        : id_(id),
          max_(max_message),
          msgtyp_(msgtyp),
          flags_(flags),
          ctl_(std::move(ctl)),
          buf_(sizeof(long) + max_message) {}
    IoResult send(std::span<const std::byte>) override { return {0, EBADF, 0}; }
    IoResult receive(std::span<std::byte> out) override;
    void close() override {}

  private:
    IoResult deliver(ssize_t n, std::span<std::byte> out, IoResult r) {
        r.done = std::min(static_cast<std::size_t>(n), out.size());
        std::memcpy(out.data(), buf_.data() + sizeof(long), r.done);
        return r;
    }
    int id_;
    std::size_t max_;
    long msgtyp_;
    int flags_;
    ChannelControl ctl_;
    std::vector<std::byte> buf_;  // struct msgbuf: a long mtype, then the text
    bool ended_ = false;
};

IoResult EintrIsEofReader::receive(std::span<std::byte> out) {
    IoResult r;
    if (ended_) {
        r.err = -1;
        return r;
    }
    // As the correct reader: read before looking, so that once no writer is
    // open, nothing for this reader means the end.
    const bool over = ctl_.writers_open() == 0;
    ++r.calls;
    ssize_t n =
        retry_eintr([&] { return ::msgrcv(id_, buf_.data(), max_, msgtyp_, flags_ | IPC_NOWAIT); });
    if (n >= 0) return deliver(n, out, r);
    if (errno != ENOMSG) {
        r.err = errno;
        return r;
    }
    if (!over) {
        ++r.calls;
        n = ::msgrcv(id_, buf_.data(), max_, msgtyp_, flags_);
        if (n >= 0) return deliver(n, out, r);
        // THE BUG: a wait that failed (EINTR) ends the input.
    }
    ended_ = true;
    r.err = -1;
    return r;
}

}  // namespace

const MutantInfo& eintr_is_eof_mutant() {
    static const MutantInfo m{
        "eintr-is-eof",
        "the reader loops while msgrcv() >= 0, so a wait interrupted by a signal (EINTR) ends "
        "its input: what the writers send afterwards stays in the queue (lost)"};
    return m;
}

std::unique_ptr<Endpoint> make_eintr_is_eof_reader(int id, std::size_t max_message, long msgtyp,
                                                   int flags, ChannelControl ctl) {
    return std::make_unique<EintrIsEofReader>(id, max_message, msgtyp, flags, std::move(ctl));
}

void validate_eintr_is_eof(const ChannelSpec& ch) {
    if (!option_bool(ch.options, "nonblocking", false)) return;
    throw ScenarioError(ch.mutant_loc.file, ch.mutant_loc.line, ch.mutant_loc.column,
                        "mutant 'eintr-is-eof' is a reader that waits in msgrcv, but channel '" +
                            ch.name + "' is nonblocking; expected nonblocking: false");
}

}  // namespace ipct
