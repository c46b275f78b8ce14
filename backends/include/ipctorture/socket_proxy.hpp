// The chaos proxy of a tcp or udp channel (`proxy:` in the scenario): a
// seeded userspace relay, in a process of its own, between the channel's
// writers and its readers.  (The kernel here has no netem; this needs no
// root either.)
//
// Wiring (sockets.cpp, create()): with a proxy the channel has two sockets
// and two control files.  Writers connect to the proxy's socket (the state's
// "port") and mark themselves gone in the front control file; the readers'
// server socket ("server_port") and control file see one writer, the proxy.
// The proxy inherits its socket ("proxy_fd"), relays, and once every writer
// has gone and it has forwarded all it will forward, marks itself gone in
// the readers' control file (the orchestrator does it too when the proxy's
// process ends, however it ends), so readers see the end of the channel
// only after the proxy's last datagram or byte.
//
// Decisions are drawn from the run seed, the channel and the message's
// (origin, seq), which the proxy reads from each datagram or frame header,
// never from timing: one seed makes the same decisions for the same
// messages.  Every action is a Op::kProxyAction record in the proxy's event
// log (plan.hpp proxy_log_path), described by ProxyAction below.
//
// TCP: the proxy reads each writer's connection, cuts it into frames (the
// message header gives the size) and writes each frame to a connection of
// its own to the server: split into writes of at most max_segment bytes
// (TCP_NODELAY, so each is a segment of its own), after a delay (the
// connection pauses; TCP keeps order), or cut: the frames before the cut
// point are forwarded whole, then at most part of the frame the cut falls in,
// then the server side is closed (FIN: everything forwarded arrives) and the
// writer's side reset (RST).  A writer whose connection was reset connects
// again and sends the message again whole (SocketWriter), so what is sent
// after the cut is still checked.  What was in flight at the cut (sent ok but
// behind the cut point) and the part of the frame cut in two are
// indeterminate: the checker reads the proxy's log (kCut, kResume).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "ipctorture/backend.hpp"
#include "ipctorture/event_log.hpp"

namespace ipct {

// What a kProxyAction record did (its aux).  origin/seq name the message;
// t_start is when the proxy took it, t_end when the action was complete.
enum class ProxyAction : std::uint32_t {
    kDrop = 1,       // udp: not forwarded.  size = datagram bytes
    kDuplicate = 2,  // udp: forwarded twice.  size = datagram bytes
    // udp: held until the next datagram had been forwarded (kReorder) or
    // for a drawn time (kDelay, size = the delay in microseconds).  extra =
    // 1 if a later datagram of the same origin went before it, else 0.
    kReorder = 3,
    kDelay = 4,
    // tcp: a frame forwarded in `extra` writes of at most size bytes.
    kSplit = 5,
    // tcp: a frame and what followed it on its connection waited; size =
    // the delay in microseconds.
    kTcpDelay = 6,
    // tcp: the connection was cut inside frame (origin, seq): size = bytes
    // of it forwarded (0: none), extra = bytes the connection had carried.
    // Every frame before it on the connection was forwarded whole.
    kCut = 7,
    // tcp: a writer whose connection was cut came back: the first frame of
    // its new connection is (origin, seq).
    kResume = 8,
};
const char* proxy_action_name(ProxyAction a);

// The log header's process id of a proxy's log (plan.hpp proxy_log_path).
inline constexpr std::uint32_t kProxyLogProcess = 0xfffffffe;

// The fd a proxy process inherits (from the channel's state).
int proxy_inherited_fd(const nlohmann::json& state);

// Runs channel ch's proxy until every writer has gone and everything it
// holds has been forwarded; calls ready() once its sockets are set up (the
// start barrier).  Returns the process's exit code.  Throws HarnessError or
// EnvironmentError.
int run_socket_proxy(const ChannelSetup& ch, const nlohmann::json& state, const ProxySpec& spec,
                     EventLogWriter& log, const std::function<void()>& ready);

// The orchestrator saw the proxy's process end: the readers must not wait
// for it.  Idempotent.
void socket_proxy_gone(const ChannelSetup& ch);

// The writers' control file of a proxied channel.
std::string proxy_front_control_path(const ChannelSetup& ch);

}  // namespace ipct
