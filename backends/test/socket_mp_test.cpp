// The socket backends beyond conformance: fan-in of many writers whose
// connections a reader must never mix, fan-out over a shared server socket,
// killed writers, garbage on one connection, provoked UDP loss, the sun_path
// limit, cleanup.  The fixture (socket_fixture.hpp) drives a channel the way
// the orchestrator does.
#include <gtest/gtest.h>

#include "socket_fixture.hpp"

namespace ipct::sockettest {
namespace {

class SocketKinds : public Sockets, public ::testing::WithParamInterface<std::string> {};
class LosslessKinds : public SocketKinds {};
class StreamKinds : public SocketKinds {};

// Options that allow large messages and make streams arrive in pieces
// (small send buffers: writers block in the middle of a message).
Options large_options(const std::string& b) {
    if (b == "unix_seqpacket" || b == "unix_dgram") return options({{"max_message", "262144"}});
    if (b == "tcp") return options({{"sndbuf", "8192"}, {"rcvbuf", "8192"}, {"nodelay", "true"}});
    if (b == "unix_stream") return options({{"sndbuf", "8192"}});
    return {};
}

// Many writers, messages up to 256 KiB: each receive must be exactly one
// whole message of one writer, in each writer's order.
TEST_P(LosslessKinds, FanInNeverMixesConnections) {
    constexpr std::uint32_t kWriters = 12;
    constexpr std::uint64_t kMessages = 150;
    create(GetParam(), large_options(GetParam()), kWriters, 1);
    const std::size_t hi = std::min<std::size_t>(contract_.max_message, 256 * 1024);
    const std::size_t r = reader();
    std::vector<std::size_t> ws;
    for (std::uint32_t w = 0; w < kWriters; ++w)
        ws.push_back(writer(w, kMessages, kHeaderSize, hi));
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    for (std::size_t i : ws) EXPECT_EQ(expect_clean(i, "writer").sent, kMessages);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.corrupt, 0u) << "a receive that was not exactly one whole message";
    EXPECT_EQ(rep.duplicates, 0u);
    EXPECT_EQ(rep.out_of_order, 0u);
    EXPECT_EQ(rep.eofs, 1u);
    for (std::uint32_t w = 0; w < kWriters; ++w) EXPECT_EQ(rep.received[w], kMessages) << w;
}

// Two readers share the server socket: every message reaches one of them,
// whole, and each sees every writer's messages in order.
TEST_P(SocketKinds, FanOutTwoReadersShareTheServer) {
    constexpr std::uint32_t kWriters = 4;
    constexpr std::uint64_t kMessages = 400;
    create(GetParam(), large_options(GetParam()), kWriters, 2);
    const std::size_t hi = std::min<std::size_t>(contract_.max_message, 64 * 1024);
    const std::size_t r0 = reader(), r1 = reader();
    for (std::uint32_t w = 0; w < kWriters; ++w) writer(w, kMessages, kHeaderSize, hi);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    const Report a = expect_clean(r0, "reader 0"), b = expect_clean(r1, "reader 1");
    for (const Report* rep : {&a, &b}) {
        EXPECT_EQ(rep->corrupt, 0u);
        EXPECT_EQ(rep->duplicates, 0u);
        EXPECT_EQ(rep->eofs, 1u);
        if (contract_.fifo) {
            EXPECT_EQ(rep->out_of_order, 0u);
        }
    }
    for (std::uint32_t w = 0; w < kWriters; ++w) {
        const std::uint64_t got = a.received[w] + b.received[w];
        if (contract_.lossless)
            EXPECT_EQ(got, kMessages) << "writer " << w;
        else
            EXPECT_LE(got, kMessages) << "writer " << w;
    }
}

// A writer that never closes its endpoint is killed: once the orchestrator
// has seen it go (process_gone), the reader reaches end of channel, with
// every message the writer's completed sends carried.
TEST_P(SocketKinds, KilledWriterDoesNotKeepTheReaderWaiting) {
    constexpr std::uint64_t kMessages = 100;
    create(GetParam(), {}, 2, 1);
    const std::size_t r = reader();
    Pipe never;  // nobody writes it: the victim blocks on it until killed
    const std::size_t victim = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, 0, kMessages, kHeaderSize, 2048, rep);
        progressed();
        char c;
        (void)!::read(never.r, &c, 1);
    });
    const std::size_t other = writer(1, kMessages, kHeaderSize, 2048);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_progress());
    kill(victim);
    ASSERT_NO_FATAL_FAILURE(wait_for());
    EXPECT_EQ(expect_clean(other, "writer").sent, kMessages);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.eofs, 1u);
    EXPECT_EQ(rep.corrupt, 0u);
    if (contract_.lossless) {
        EXPECT_EQ(rep.received[0], kMessages) << "the killed writer's completed sends";
        EXPECT_EQ(rep.received[1], kMessages);
    }
}

// A stream writer killed in the middle of a large message: its connection
// ends inside a frame.  The reader hands over the torn tail on its own (one
// corrupt receive at most, never garbage merged into another writer's
// frame) and still reaches end of channel.
TEST_P(StreamKinds, WriterKilledInTheMiddleOfAMessage) {
    create(GetParam(), large_options(GetParam()), 2, 1);
    const std::size_t r = reader();
    const std::size_t victim = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        send_messages(ep, 0, 4, 1 << 20, 1 << 20, rep);
        progressed();
        send_messages(ep, 0, 1'000'000, 1 << 20, 1 << 20, rep);
    });
    const std::size_t other = writer(1, 300, kHeaderSize, 64 * 1024);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_progress());
    kill(victim);
    ASSERT_NO_FATAL_FAILURE(wait_for());
    EXPECT_EQ(expect_clean(other, "writer").sent, 300u);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.eofs, 1u);
    EXPECT_LE(rep.corrupt, 1u);
    EXPECT_EQ(rep.garbage, 0u) << "the torn frame starts with its header";
    EXPECT_GE(rep.received[0], 4u);
    EXPECT_EQ(rep.received[1], 300u);
    EXPECT_EQ(rep.out_of_order, 0u);
}

// Bytes that start no header are handed over on their own, up to the next
// header of the same connection; another writer's frames are untouched.
TEST_P(StreamKinds, GarbageStaysWithinItsConnection) {
    create(GetParam(), {}, 2, 1);
    const std::size_t r = reader();
    const std::size_t dirty = spawn(Direction::kWrite, [&](Endpoint& ep, Report& rep) {
        const std::vector<std::byte> junk(3000, std::byte{0xab});
        const Payload payload(kSeed);
        std::vector<std::byte> msg(5000);
        for (std::uint64_t seq = 0; seq < 5; ++seq) {
            if (!ep.send(std::span(junk).first(seq == 4 ? 7 : junk.size())).ok())
                return rep.fail("send junk");
            payload.fill(msg, 0, seq, 0);
            if (!ep.send(msg).ok()) return rep.fail("send message");
        }
    });
    const std::size_t clean = writer(1, 500, kHeaderSize, 16 * 1024);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    expect_clean(dirty, "dirty writer");
    expect_clean(clean, "clean writer");
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.received[0], 5u);
    EXPECT_EQ(rep.received[1], 500u);
    EXPECT_GE(rep.garbage, 5u);
    EXPECT_EQ(rep.corrupt, rep.garbage) << "every bad receive is junk alone";
    EXPECT_EQ(rep.out_of_order, 0u);
}

// The planted bug whole-read: one recv() taken for one message.  With small
// socket buffers a 64 KiB message is never in flight whole, so every receive
// of the mutant is a piece (the correct reader's are whole frames: above);
// the pieces still add up to every byte sent, and the channel still ends.
TEST_P(StreamKinds, MutantWholeReadHandsOverPieces) {
    constexpr std::uint64_t kMessages = 20;
    constexpr std::size_t kSize = 64 * 1024;
    create(GetParam(), large_options(GetParam()), 1, 1);
    ASSERT_EQ(backend_->mutants().size(), 1u);
    setup_.mutant = backend_->mutants()[0].name;
    EXPECT_EQ(setup_.mutant, "whole-read");
    const std::size_t r = spawn(Direction::kRead, [&](Endpoint& ep, Report& rep) {
        std::vector<std::byte> buf(contract_.max_message);
        const Payload payload(kSeed);
        for (;;) {
            const IoResult res = ep.receive(buf);
            if (res.eof()) break;
            if (!res.ok()) return rep.fail("receive: " + errno_name(res.err));
            rep.sent += res.done;  // bytes, in this report
            if (payload.verify(std::span(buf).first(res.done), contract_.max_message) ==
                Verdict::kOk)
                ++rep.received[0];
            else
                ++rep.corrupt;
        }
        ++rep.eofs;
    });
    const std::size_t w = writer(0, kMessages, kSize, kSize);
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    EXPECT_EQ(expect_clean(w, "writer").sent, kMessages);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.eofs, 1u);
    EXPECT_EQ(rep.sent, kMessages * kSize) << "every byte arrives, in pieces";
    EXPECT_EQ(rep.received[0], 0u) << "no receive held a whole message";
    EXPECT_GE(rep.corrupt, 2 * kMessages);
}

// Cleanup from the setup alone (the plan written before create()), twice;
// nothing left and no descriptor kept.
TEST_P(SocketKinds, CleanupWorksFromTheSetupAlone) {
    const std::size_t fds = open_fd_count();
    create(GetParam(), {}, 3, 2);
    EXPECT_FALSE(list_dir(run_dir_).empty());
    backend_->after_spawn(state_);
    spawned_ = true;
    EXPECT_NO_THROW(backend_->cleanup(setup_, json()));
    EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{});
    EXPECT_NO_THROW(backend_->cleanup(setup_, json()));
    EXPECT_EQ(open_fd_count(), fds);
}

// Everyone killed in the middle of a fan-in/fan-out exchange.
TEST_P(SocketKinds, CleanupAfterKilledWorkers) {
    const std::size_t fds = open_fd_count();
    create(GetParam(), {}, 4, 2);
    reader();
    reader();
    for (std::uint32_t w = 0; w < 4; ++w)
        spawn(Direction::kWrite, [this, w](Endpoint& ep, Report& rep) {
            send_messages(ep, w, 20, kHeaderSize, 4096, rep);
            progressed();
            send_messages(ep, w, 1'000'000, kHeaderSize, 4096, rep);
        });
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_progress());
    kill_all();
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_));
    EXPECT_NO_THROW(backend_->cleanup(setup_, state_));
    EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{});
    for (std::size_t i = 0; i < children_.size(); ++i) report(i);  // closes the report pipes
    ready_.reset(), go_.reset(), progress_.reset();
    EXPECT_EQ(open_fd_count(), fds);
}

// More writers than a channel can take: a clear error, nothing left behind.
TEST_P(SocketKinds, TooManyWritersIsAnEnvironmentError) {
    backend_ = find_backend(GetParam());
    setup_ = ChannelSetup{run_dir_, "sockettest", "ch", 0, {}, kSeed, 1'000'000, 1};
    const std::size_t fds = open_fd_count();
    EXPECT_THROW(backend_->create(setup_), EnvironmentError);
    EXPECT_EQ(list_dir(run_dir_), std::vector<std::string>{});
    EXPECT_EQ(open_fd_count(), fds);
}

INSTANTIATE_TEST_SUITE_P(Socket, SocketKinds,
                         ::testing::Values("unix_stream", "unix_seqpacket", "tcp", "unix_dgram",
                                           "udp"));
INSTANTIATE_TEST_SUITE_P(Socket, LosslessKinds,
                         ::testing::Values("unix_stream", "unix_seqpacket", "tcp", "unix_dgram"));
INSTANTIATE_TEST_SUITE_P(Socket, StreamKinds, ::testing::Values("unix_stream", "tcp"));

// UDP with the smallest receive buffer the kernel allows and writers at full
// speed: most datagrams are dropped.  The loss is measured; nothing fails,
// nothing hangs, and what arrives is intact.
TEST_F(Sockets, UdpLossWithATinyReceiveBufferIsMeasured) {
    constexpr std::uint32_t kWriters = 4;
    constexpr std::uint64_t kMessages = 5000;
    create("udp", options({{"rcvbuf", "1"}}), kWriters, 1);
    const std::size_t r = reader();
    std::vector<std::size_t> ws;
    for (std::uint32_t w = 0; w < kWriters; ++w)
        ws.push_back(writer(w, kMessages, kHeaderSize, 2048));
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_NO_FATAL_FAILURE(wait_for());
    for (std::size_t i : ws) EXPECT_EQ(expect_clean(i, "writer").sent, kMessages);
    const Report rep = expect_clean(r, "reader");
    EXPECT_EQ(rep.eofs, 1u);
    EXPECT_EQ(rep.corrupt, 0u);
    EXPECT_EQ(rep.duplicates, 0u);
    EXPECT_LE(rep.total(), kWriters * kMessages);
    const double loss = 1.0 - double(rep.total()) / double(kWriters * kMessages);
    RecordProperty("udp_loss_percent", std::to_string(100 * loss));
    std::printf("udp with rcvbuf 1: %llu of %llu datagrams arrived (%.1f%% lost)\n",
                static_cast<unsigned long long>(rep.total()),
                static_cast<unsigned long long>(kWriters * kMessages), 100 * loss);
}

// A run directory too deep for sun_path: create() says so and makes nothing.
TEST_F(Sockets, SunPathTooLongIsAClearError) {
    const std::string deep = run_dir_ + "/" + std::string(120 - run_dir_.size() % 10, 'd');
    ASSERT_TRUE(fs::create_directory(deep));
    for (const char* b : {"unix_stream", "unix_dgram", "unix_seqpacket"}) {
        SCOPED_TRACE(b);
        Backend* be = find_backend(b);
        const ChannelSetup s{deep, "sockettest", "ch", 0, {}, kSeed, 1, 1};
        try {
            be->create(s);
            ADD_FAILURE() << "create() accepted a " << deep.size() + 8 << "-byte socket path";
            be->after_spawn(json());
        } catch (const EnvironmentError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("sun_path"), std::string::npos) << what;
            EXPECT_NE(what.find(deep), std::string::npos) << what;
            EXPECT_NE(what.find("IPCTORTURE_RUN_ROOT"), std::string::npos) << what;
        }
        EXPECT_EQ(list_dir(deep), std::vector<std::string>{});
        EXPECT_NO_THROW(be->cleanup(s, json()));
    }
}

// Options are checked where they stand in the scenario.
TEST_F(Sockets, OptionsAreCheckedWhereTheyStand) {
    auto error_at = [](const char* backend, const Options& o) -> std::string {
        try {
            find_backend(backend)->validate(o);
        } catch (const ScenarioError& e) {
            return std::to_string(e.line()) + ": " + e.what();
        }
        return "accepted";
    };
    const std::string nodelay =
        error_at("unix_stream", options({{"sndbuf", "4096"}, {"nodelay", "true"}}));
    EXPECT_EQ(nodelay.rfind("2: ", 0), 0u) << "nodelay is tcp's: " << nodelay;
    EXPECT_NE(error_at("udp", options({{"max_message", "4096"}})).find("unknown option"),
              std::string::npos);
    const std::string small =
        error_at("unix_dgram", options({{"max_message", "1048576"}, {"sndbuf", "4096"}}));
    EXPECT_EQ(small.rfind("2: ", 0), 0u) << small;
    EXPECT_NE(small.find("524304"), std::string::npos) << small;
    EXPECT_NE(error_at("unix_seqpacket", options({{"max_message", "100"}})), "accepted");
    EXPECT_EQ(
        error_at("tcp", options({{"sndbuf", "65536"}, {"rcvbuf", "65536"}, {"nodelay", "on"}})),
        "accepted");
    EXPECT_EQ(
        find_backend("unix_dgram")->contract(options({{"max_message", "131072"}})).max_message,
        131072u);
    EXPECT_EQ(find_backend("udp")->contract({}).max_message, 65507u);
}

}  // namespace
}  // namespace ipct::sockettest
