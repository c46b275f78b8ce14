// The backend interface: one IPC mechanism.
//
// Life of a channel:
//   orchestrator: validate(options) at load time, create() before spawning
//                 (returns the state workers need: paths, inherited fds),
//                 inherited_fds() for each worker, after_spawn() once every
//                 worker runs (close the orchestrator's copies), cleanup().
//   worker:       open(state, direction) -> Endpoint; send/receive; close.
// cleanup() is idempotent and must work from the state alone after a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipctorture/errors.hpp"
#include "ipctorture/scenario.hpp"

namespace ipct {

enum class Direction { kRead, kWrite };

// What the backend promises; the checker applies the rules it implies.
struct Contract {
    // kMessages: producers' messages travel to consumers.  kCounter: each
    // send is one increment of a shared counter and a consumer's one receive
    // returns the final value (a header-only message of origin
    // kCounterOrigin, seq = the value).  kSnapshot: each send overwrites one
    // shared record and each receive returns a copy of it; reading one
    // version many times is normal, a copy no write produced is not.
    ChannelShape shape = ChannelShape::kMessages;
    const char* unit = "byte stream";  // "byte stream" | "message" | ...
    bool boundaries = false;           // a receive returns exactly one message
    bool fifo = true;                  // FIFO per sender
    bool lossless = true;              // a completed send is delivered
    bool priority = false;             // highest priority first, FIFO within one (posix_mq)
    bool selective = false;            // receives select by type (sysv_msg)
    bool last_delivery = false;   // coalescing: at least one delivery after a sender's last send
    std::size_t max_message = 0;  // largest message a scenario may ask for
    // Message priorities (or types) a producer may attach, inclusive; a
    // backend without them leaves has_priority false.
    bool has_priority = false;
    std::uint32_t min_priority = 0;
    std::uint32_t max_priority = 0;
    std::string notes;  // kernel facts worth knowing
};

inline constexpr std::uint32_t kNoProcess = 0xffffffff;

// Everything a backend call may need to know about the channel.  The counts
// are the topology's: how many processes read and write the channel.  The
// last three describe the calling process in open() and process_gone() and
// keep their defaults elsewhere.
// A planted bug a backend carries for the zoo: deliberately wrong IPC code,
// chosen per channel with `mutant: NAME` in the scenario.
struct MutantInfo {
    std::string name;
    std::string summary;  // what is wrong, and what the checker should find
};

struct ChannelSetup {
    std::string run_dir;
    std::string run_id;
    std::string name;  // channel name from the scenario
    std::uint32_t index = 0;
    Options options;
    std::uint64_t seed = 0;  // the run seed (a backend that rebuilds messages needs it)
    std::uint32_t writers = 0;
    std::uint32_t readers = 0;
    std::uint32_t process = kNoProcess;  // plan index of the process
    std::uint32_t rank = 0;              // its index among the readers (or writers), from 0
    Options endpoint;                    // its per-process options (the process's 'options:')
    std::string mutant;                  // Backend::mutants() name, empty = the correct code
    // A chaos proxy relays between writers and readers (tcp, udp: the
    // channel's `proxy:`, socket_proxy.hpp): writers reach the proxy, the
    // proxy the readers.
    bool proxied = false;
};

class Endpoint {
  public:
    virtual ~Endpoint() = default;
    // Sends one whole message (resuming short writes, retrying EINTR).
    virtual IoResult send(std::span<const std::byte> msg) = 0;
    // Receives into buf.  A message backend returns one message; a byte
    // stream returns what is available (at least one byte), or, when the
    // channel serialises readers (read_lock), exactly one frame.  eof() when
    // every writer has gone.  A buffer shorter than the next message: a
    // message backend returns the message's first buf.size() bytes and the
    // message is consumed (its header's size field says it was cut); a
    // framed stream (unix_stream, tcp) hands the rest over in the next
    // receives.
    virtual IoResult receive(std::span<std::byte> buf) = 0;
    // Idempotent.
    virtual void close() = 0;
};

// How a program outside the harness (role: exec) reaches one side of a
// channel.  A byte stream hands over an open descriptor, which becomes the
// program's stdin (read side) or stdout (write side), and so does a socket
// backend's read side (the readers' shared socket, as stdin); any backend
// may add variables, each exported as IPCTORTURE_INPUT_<NAME> or
// IPCTORTURE_OUTPUT_<NAME> (README: "Black-box programs"), FRAMING among
// them to replace the channel's own.
struct ExternalEndpoint {
    int fd = -1;  // owned by the caller; -1 = none
    std::vector<std::pair<std::string, std::string>> vars;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string_view name() const = 0;
    virtual std::string_view summary() const = 0;
    virtual Contract contract(const Options& opts) const = 0;
    // Throws ScenarioError at the offending option.
    virtual void validate(const Options& opts) const = 0;
    // Per-process options (a process's 'options:' map) this backend reads on
    // side d; the scenario validator rejects a key no side of the process
    // knows.  validate_endpoint() checks the values of the known keys.
    virtual std::vector<std::string> endpoint_keys(Direction d) const {
        (void)d;
        return {};
    }
    virtual void validate_endpoint(const Options& channel, const Options& endpoint,
                                   Direction d) const {
        (void)channel, (void)endpoint, (void)d;
    }
    // How a reader with these options asks for messages: the rule the
    // checker applies to what it receives.  Default: no queue-order rule.
    virtual ReceiveRequest receive_request(const Options& channel, const Options& endpoint) const {
        (void)channel, (void)endpoint;
        return {};
    }
    // Whole-scenario limits (kernel limits summed over channels, say).
    // Called once per scenario with every channel of this backend and the
    // largest message each will carry; throws ScenarioError.
    virtual void validate_usage(const std::vector<const ChannelSpec*>& channels,
                                const std::vector<std::uint32_t>& largest_message) const {
        (void)channels, (void)largest_message;
    }
    // A channel's topology: how many processes read and write it (counts
    // expanded).  For contracts that hold only for some shapes (one reader
    // per channel, say); throws ScenarioError at the channel.
    virtual void validate_topology(const ChannelSpec& channel, std::uint32_t readers,
                                   std::uint32_t writers) const {
        (void)channel, (void)readers, (void)writers;
    }
    // The planted bugs this backend can run instead of its correct code
    // (the code lives in files named mutant_*.cpp).  Default: none.
    virtual std::vector<MutantInfo> mutants() const { return {}; }
    // A mutant that fits only some channels or processes (a reader that sets
    // msgtyp, say): called for each process side of a channel that selects
    // one, after validate_endpoint(); throws ScenarioError (at
    // channel.mutant_loc, naming the process).  Default: fits everywhere.
    virtual void validate_mutant(const ChannelSpec& channel, const ProcessSpec& process,
                                 Direction d) const {
        (void)channel, (void)process, (void)d;
    }
    // Signals the channel's endpoints use (a signaler must not send them to
    // its processes), running the code `mutant` names (empty: the correct
    // code; a mutant may use other signals than the options say).
    virtual std::vector<int> signals_used(const Options& opts, const std::string& mutant) const {
        (void)opts, (void)mutant;
        return {};
    }
    virtual nlohmann::json create(const ChannelSetup& ch) = 0;
    virtual std::vector<int> inherited_fds(const nlohmann::json& state, Direction d) const {
        (void)state, (void)d;
        return {};
    }
    virtual void after_spawn(const nlohmann::json& state) { (void)state; }
    // The orchestrator saw a process that used this channel end (however it
    // ended).  Default: a writer is marked gone in the channel's control file
    // (common/control.hpp), if the backend made one, so that a killed writer
    // does not leave readers waiting on a mechanism without end of file.
    // Idempotent; also called after the process closed the channel itself.
    virtual void process_gone(const ChannelSetup& ch, const nlohmann::json& state, Direction d);
    virtual std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json& state,
                                           Direction d) = 0;
    virtual void cleanup(const ChannelSetup& ch, const nlohmann::json& state) = 0;
    // Whether a process of the channel may be killed and a new incarnation
    // of it open the channel again mid-run (a `restart` fault): the channel
    // is opened by name (nothing inherited at spawn), a dead process's
    // endpoint takes nothing with it that the others need, and a receive
    // takes one whole message, so a killed reader held at most one (what
    // the checker assumes across incarnations).  Default: no.
    virtual bool reopenable() const { return false; }
    // Whether a program outside the harness can use this backend (role:
    // exec), and, in the worker that starts it, what it gets for side d.
    // The program logs nothing; the orchestrator still calls process_gone()
    // when it ends.  Default: not supported.
    virtual bool external() const { return false; }
    // Why a program cannot use it (external() false), for the load-time
    // refusal; empty if there is nothing to say.
    virtual std::string_view external_refusal() const { return {}; }
    virtual ExternalEndpoint external_endpoint(const ChannelSetup& ch, const nlohmann::json& state,
                                               Direction d) {
        (void)ch, (void)state, (void)d;
        return {};
    }
    // Live kernel limits and facts, for `ipctorture explain`.
    virtual std::string explain() const = 0;
};

// The registry: one explicit table (static constructors get dropped by the
// linker from static libraries).
std::vector<std::string_view> backend_names();
// nullptr if unknown.  Backends are stateless singletons.
Backend* find_backend(std::string_view name);

// Option helpers: parse a scenario option or throw ScenarioError at its place.
bool option_bool(const Options& o, const std::string& key, bool def);
std::uint64_t option_uint(const Options& o, const std::string& key, std::uint64_t def,
                          std::uint64_t min, std::uint64_t max);
std::string option_string(const Options& o, const std::string& key, const std::string& def);
std::int64_t option_int(const Options& o, const std::string& key, std::int64_t def,
                        std::int64_t min, std::int64_t max);
// One of `choices`, or throw.
std::string option_choice(const Options& o, const std::string& key, const std::string& def,
                          std::initializer_list<const char*> choices);
// Rejects keys not in `known`.
void option_reject_unknown(const Options& o, std::initializer_list<const char*> known);

}  // namespace ipct
