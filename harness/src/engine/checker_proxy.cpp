// What a channel's chaos proxy did, from its log (socket_proxy.hpp), and
// what the checker may conclude because of it:
//   - a datagram the proxy duplicated is received twice: measured
//     (ChannelStats::duplicated, judged against the bounds), not a finding;
//   - a cut tcp connection: the frames of its writer from the cut frame up
//     to the first frame of the writer's next connection were in flight (in
//     the writer's socket or the proxy's buffer) and may be gone, so they
//     are indeterminate when missing; the frame the cut fell in arrives
//     truncated (or, cut inside its header, as a few bytes no header
//     explains): indeterminate, not corrupted or unexpected;
//   - a proxy that did not end cleanly (killed, crashed) may have held
//     datagrams or bytes: nothing missing on its channel is provably lost.
//   - order is not compared between a writer's frames on a connection a cut
//     ended and those on its next connection (TCP orders each connection).
// Loss, reordering and delay need nothing here: a dropped datagram is
// missing (lost on a drained channel), a reordered one is counted by the
// FIFO measure.
#include "checker_detail.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/socket_proxy.hpp"

namespace ipct::check_detail {

void Checker::read_proxies() {
    proxies_.resize(nchannels_);
    for (std::uint32_t c = 0; c < nchannels_ && c < h_.proxies.size(); ++c) {
        // No log (the proxy never started, or the log is gone): nothing is
        // known of what it did, so nothing is excused.
        if (!h_.plan->channels[c].proxy || h_.proxies[c].empty()) continue;
        ProxyState& ps = proxies_[c];
        ProxyStats& st = res_.channels[c].proxy;
        ps.present = st.present = true;
        for (const Record& r : h_.proxies[c]) {
            if (r.op == Op::kExit) ps.exited = st.exited = r.aux == 0;
            if (r.op != Op::kProxyAction || r.channel != c) continue;
            switch (static_cast<ProxyAction>(r.aux)) {
                case ProxyAction::kDrop:
                    ++st.dropped;
                    break;
                case ProxyAction::kDuplicate:
                    ++st.duplicated;
                    ++ps.duplicates[{r.origin, r.seq}];
                    break;
                case ProxyAction::kReorder:
                    ++st.reordered;
                    st.overtaken += r.extra != 0;
                    break;
                case ProxyAction::kDelay:
                    ++st.delayed;
                    st.overtaken += r.extra != 0;
                    break;
                case ProxyAction::kSplit:
                    ++st.split;
                    break;
                case ProxyAction::kTcpDelay:
                    ++st.tcp_delayed;
                    break;
                case ProxyAction::kCut:
                    ++st.cut;
                    ps.cuts.push_back(ProxyCut{r.origin, r.seq, r.size});
                    break;
                case ProxyAction::kResume:
                    ++st.resumed;
                    // It ends the in-flight range of its origin's latest open cut.
                    for (auto it = ps.cuts.rbegin(); it != ps.cuts.rend(); ++it) {
                        if (it->origin != r.origin) continue;
                        if (it->resume == ~std::uint64_t{0} && it->seq <= r.seq) it->resume = r.seq;
                        break;
                    }
                    break;
            }
        }
    }
}

bool Checker::proxy_excuses_missing(std::uint32_t c, std::uint32_t origin,
                                    std::uint64_t seq) const {
    if (c >= proxies_.size() || !proxies_[c].present) return false;
    const ProxyState& ps = proxies_[c];
    if (!ps.exited) return true;
    for (const ProxyCut& k : ps.cuts)
        if (k.origin == origin && seq >= k.seq && seq < k.resume) return true;
    return false;
}

// A truncated frame whose identity is a cut's frame.
bool Checker::proxy_excuses_corrupt(const Record& r) {
    if (r.channel >= proxies_.size() || (r.extra & 0x80000000u) == 0) return false;
    for (ProxyCut& k : proxies_[r.channel].cuts) {
        if (k.tail_seen || k.origin != r.origin || k.seq != r.seq || r.size > k.partial) continue;
        k.tail_seen = true;
        ++res_.channels[r.channel].proxy.excused;
        return true;
    }
    return false;
}

// The bytes of a cut that fell inside its frame's header: too few to name a
// message, exactly as many as the proxy let through.
bool Checker::proxy_excuses_garbage(const Record& r) {
    if (r.channel >= proxies_.size()) return false;
    for (ProxyCut& k : proxies_[r.channel].cuts) {
        if (k.tail_seen || k.partial == 0 || k.partial >= kHeaderSize || r.size != k.partial)
            continue;
        k.tail_seen = true;
        ++res_.channels[r.channel].proxy.excused;
        return true;
    }
    return false;
}

// Message r went over a writer's connection that a cut ended and the later
// one over the connection it made next: TCP orders bytes per connection
// only, and the reader reads its connections side by side.
bool Checker::proxy_excuses_order(const Record& r, std::uint32_t sender, std::uint64_t later_send) {
    if (r.channel >= proxies_.size() || sender >= h_.logs.size() ||
        later_send >= h_.logs[sender].size())
        return false;
    const std::uint64_t later = h_.logs[sender][later_send].seq;
    for (const ProxyCut& k : proxies_[r.channel].cuts)
        if (k.origin == r.origin && r.seq < k.resume && later >= k.resume) return true;
    return false;
}

bool Checker::proxy_excuses_duplicate(const Record& r) {
    if (r.channel >= proxies_.size()) return false;
    auto& d = proxies_[r.channel].duplicates;
    const auto it = d.find({r.origin, r.seq});
    if (it == d.end() || it->second == 0) return false;
    --it->second;
    return true;
}

}  // namespace ipct::check_detail
