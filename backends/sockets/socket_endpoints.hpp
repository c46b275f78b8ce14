// Endpoints of the socket backends.  Readers are servers, writers clients.
//
// The orchestrator makes the server socket (bound, listening where the kind
// has connections) and every reader inherits it; several readers share it
// (fan-out) and several writers connect to it (fan-in).  The server socket
// is non-blocking (a property of the shared open file description, which is
// what readers sharing it want): a reader waits in poll() with a short
// timeout and looks at the channel control file between waits, since the
// kernel cannot tell a reader that no writer will ever connect again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/control.hpp"
#include "ipctorture/backend.hpp"
#include "ipctorture/message.hpp"

namespace ipct {

// How long a reader waits in poll() before it looks at the control file again.
inline constexpr int kSocketPollMs = 20;

// Shared words of the control file (ChannelControl::word).
inline constexpr unsigned kConnectedWord = 0;  // writers whose connect() returned
inline constexpr unsigned kAcceptedWord = 1;   // connections accepted by any reader

// A reader of a connected kind (unix_stream, unix_seqpacket, tcp): accepts
// connections from the shared listening socket and reads them all.
//
// framed (byte streams): one receive() returns exactly one whole frame of one
// connection, found by the message header, so two connections' bytes never
// mix.  Bytes that do not start a plausible header (checksum, size within
// [header, max_message]) are handed over on their own, up to the next
// plausible header, for the harness's decoder to report as garbage.
// Otherwise (seqpacket) one receive() is one recv() of one connection.
//
// End of channel: every writer has closed (writers_open() == 0, read first),
// no connection waits to be accepted, every connection a writer made has
// been accepted by some reader, and each of this reader's connections has
// reached end of file with nothing left buffered.
class ConnectionReader final : public Endpoint {
  public:
    // Takes ownership of listen_fd.
    ConnectionReader(int listen_fd, bool framed, ChannelControl ctl, std::uint64_t seed,
                     std::size_t max_message);
    ~ConnectionReader() override;
    IoResult send(std::span<const std::byte> msg) override;
    IoResult receive(std::span<std::byte> buf) override;
    void close() override;

  private:
    struct Conn {
        int fd = -1;  // -1 once its end of file (or an error) has been read
        std::vector<std::byte> buf;
        std::size_t head = 0, tail = 0;  // framed: bytes read, not yet handed over
        bool readable = false;           // unframed: poll() said so, until EAGAIN
        bool drained() const { return fd < 0 && head == tail; }
    };
    bool take(std::span<std::byte> buf, IoResult& out);
    bool take_frame(Conn& c, std::span<std::byte> buf, IoResult& out);
    bool take_packet(Conn& c, std::span<std::byte> buf, IoResult& out);
    std::size_t unit_size(const Conn& c) const;
    bool plausible(const std::byte* p) const;
    bool pump(int timeout_ms);
    bool accept_pending();
    void read_some(Conn& c);
    void end_conn(Conn& c);
    bool at_end();

    int listen_fd_;
    bool framed_;
    ChannelControl ctl_;
    Payload payload_;
    std::size_t max_message_;
    std::vector<Conn> conns_;
    std::size_t next_ = 0;  // where the next round-robin scan starts
    int pending_err_ = 0;   // a read error to hand over with the next receive()
    bool ended_ = false;
    std::uint64_t accept_grace_end_ = 0;
};

// A reader of a datagram kind (unix_dgram, udp): receives from the shared
// bound socket.  End of channel: every writer has closed and a non-blocking
// recv finds nothing.  With settle (udp), "nothing" must also hold for one
// whole poll period after the writers have gone: a loopback datagram whose
// send returned may still sit in the kernel's backlog for a moment.
class DatagramReader final : public Endpoint {
  public:
    DatagramReader(int fd, ChannelControl ctl, bool settle);
    ~DatagramReader() override;
    IoResult send(std::span<const std::byte> msg) override;
    IoResult receive(std::span<std::byte> buf) override;
    void close() override;

  private:
    int fd_;
    ChannelControl ctl_;
    bool settle_;
    bool quiet_ = false;  // a poll period passed with no writer and no datagram
    bool ended_ = false;
};

// A writer: a client socket connected to the server.  stream: send() writes
// the whole message, resuming short writes; otherwise one send() call is one
// message.  close() closes the socket, then marks the writer gone.
//
// reconnect (a stream behind a chaos proxy, socket_proxy.hpp): when a send
// finds the connection reset or broken, the writer connects again (counted
// in kConnectedWord) and sends the whole message again on the new
// connection, at most kMaxReconnects times for one message.  The message
// never arrived whole on the old connection: the reset came after the
// proxy's cut, which lies at or before this message's bytes.
class SocketWriter final : public Endpoint {
  public:
    using Reconnect = std::function<int()>;  // a new connected fd, or throws
    static constexpr int kMaxReconnects = 8;
    SocketWriter(int fd, bool stream, ChannelControl ctl, std::uint32_t rank,
                 Reconnect reconnect = {});
    ~SocketWriter() override;
    IoResult send(std::span<const std::byte> msg) override;
    IoResult receive(std::span<std::byte> buf) override;
    void close() override;

  private:
    bool connect_again();
    int fd_;
    bool stream_;
    ChannelControl ctl_;
    std::uint32_t rank_;
    Reconnect reconnect_;
};

}  // namespace ipct
