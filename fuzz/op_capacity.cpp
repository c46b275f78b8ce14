// How much the op-sequence driver may keep in flight on each built-in
// backend without a send ever blocking (everything runs in one thread).
// Kernel facts behind the numbers (Linux):
//   pipe, fifo   the buffer is `capacity` / 4096 page slots (default 16); a
//                write takes whole pages unless it merges into the last one,
//                and a message spans at most ceil(size / 4096) + 1 pages.
//   unix_stream  a writer blocks once its queued skbs pass SO_SNDBUF
//                (wmem_default, 208 KiB here); each write costs an skb.
//   tcp          loopback: the receiver's window (~64 KiB at first) plus the
//                send buffer (tcp_wmem default 16 KiB); small writes cost
//                far more than their bytes (skb truesize).
//   unix_dgram,  a sender blocks while the receiver queues more than
//   seqpacket    net.unix.max_dgram_qlen datagrams (per connection for
//                seqpacket) or its SO_SNDBUF is used up.
//   udp          never blocks on loopback; kept small so that little is lost.
//   posix_mq     `depth` messages (mq_maxmsg) of at most `msgsize` bytes.
//   sysv_msg     `bytes` (msg_qbytes) of message text, and as many messages.
//   shm          ring: `slots` messages of at most `slot_size` bytes;
//                counter and snapshot never fill.
#include <fstream>
#include <string>

#include "op_sequence.hpp"

namespace ipct::opseq {

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kSocketMessage = 16 * 1024;  // largest message on sockets: keeps inputs fast

std::uint64_t proc_value(const char* path, std::uint64_t def) {
    std::ifstream in(path);
    std::uint64_t v = def;
    in >> v;
    return in ? v : def;
}

std::uint64_t opt(const Options& o, const char* key, std::uint64_t def) {
    auto it = o.find(key);
    if (it == o.end()) return def;
    try {
        return std::stoull(it->second.text);
    } catch (const std::exception&) {
        return def;
    }
}

bool opt_true(const Options& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->second.text == "true";
}

Capacity pipe_capacity(const Options& o) {
    Capacity c;
    const std::size_t pages = std::max<std::size_t>(opt(o, "capacity", 16 * kPage) / kPage, 2);
    c.page = kPage;
    c.overhead = kPage;
    c.bytes = (pages - 1) * kPage;
    c.max_message =
        opt_true(o, "packet") ? kPage : std::min<std::size_t>(16 * 1024, c.bytes - kPage);
    return c;
}

Capacity datagram_capacity(const Options& o) {
    Capacity c;
    const std::uint64_t qlen = proc_value("/proc/sys/net/unix/max_dgram_qlen", 10);
    c.messages = qlen > 1 ? qlen - 1 : 1;
    c.writer_bytes = 96 * 1024;
    c.overhead = 1024;
    c.max_message = std::min<std::size_t>(kSocketMessage, opt(o, "max_message", 64 * 1024));
    return c;
}

}  // namespace

Capacity capacity_for(std::string_view backend, const Options& o) {
    Capacity c;
    if (backend == "pipe" || backend == "fifo") return pipe_capacity(o);
    if (backend == "unix_dgram" || backend == "unix_seqpacket") return datagram_capacity(o);
    if (backend == "unix_stream" || backend == "tcp") {
        c.messages = 64;
        c.writer_bytes = backend == "tcp" ? 32 * 1024 : 48 * 1024;
        c.overhead = backend == "tcp" ? 2048 : 1024;
        c.max_message = kSocketMessage;
    } else if (backend == "udp") {
        c.messages = 8;
        c.bytes = 64 * 1024;
        c.overhead = 1024;
        c.max_message = kSocketMessage;
    } else if (backend == "posix_mq") {
        c.messages = opt(
            o, "depth", std::min<std::uint64_t>(10, proc_value("/proc/sys/fs/mqueue/msg_max", 10)));
        c.max_message =
            opt(o, "msgsize",
                std::min<std::uint64_t>(8192, proc_value("/proc/sys/fs/mqueue/msgsize_max", 8192)));
    } else if (backend == "sysv_msg") {
        c.bytes = opt(o, "bytes", proc_value("/proc/sys/kernel/msgmnb", 16384));
        c.messages = c.bytes;
        c.max_message =
            std::min<std::uint64_t>(c.bytes, proc_value("/proc/sys/kernel/msgmax", 8192));
    } else if (backend == "shm") {
        const bool ring = !o.count("layout") || o.at("layout").text == "ring";
        c.messages = ring ? opt(o, "slots", 64) : 0;
        c.max_message = opt(o, "slot_size", 4096);
    } else {
        c.messages = 8;
        c.max_message = 1024;
    }
    return c;
}

}  // namespace ipct::opseq
