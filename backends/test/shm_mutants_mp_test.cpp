// The shm backend's planted bugs (backends/shm/shm_mutants.hpp): each is
// listed with a one-line summary, a scenario may select it on a ring only
// (errors at their place otherwise), it is a working ring when nothing
// races (so what the zoo finds comes from the race alone), and racing
// processes show exactly the defect it plants.
//
// A racy case runs up to kAttempts times and passes at the first attempt
// that shows the defect: how soon one shows depends on the schedule, that
// one shows does not.
#include <algorithm>

#include "ipctorture/scenario.hpp"
#include "shm_test_util.hpp"

namespace ipct::shm_test {
namespace {

constexpr int kAttempts = 20;

const std::vector<std::string> kMutants = {"spsc-plain-store", "spsc-read-before-check",
                                           "mpmc-check-then-act"};

TEST(ShmMutants, EachListedWithAOneLineSummary) {
    std::vector<std::string> names;
    for (const MutantInfo& m : find_backend("shm")->mutants()) {
        names.push_back(m.name);
        EXPECT_FALSE(m.summary.empty()) << m.name;
        EXPECT_EQ(m.summary.find('\n'), std::string::npos) << m.name;
    }
    EXPECT_EQ(names, kMutants);
}

// ---- load-time validation ---------------------------------------------------

ScenarioError load_error(const std::string& text) {
    try {
        load_scenario_text(text, "s.yaml");
    } catch (const ScenarioError& e) {
        return e;
    }
    ADD_FAILURE() << "loaded:\n" << text;
    return ScenarioError("", 0, 0, "");
}

// Line 3 is the channel; `producers` producers and one consumer.
std::string scenario(const std::string& channel, int producers = 1) {
    return "name: s\nchannels:\n  ring: {backend: shm, " + channel +
           "}\nprocesses:\n  - role: producer\n    count: " + std::to_string(producers) +
           "\n    channel: ring\n    workload: {messages: 5}\n  - role: consumer\n    channel: "
           "ring\n";
}

// The 1-based column of `needle` on line 3 of text.
int column_of(const std::string& text, const std::string& needle) {
    const std::string line3 = text.substr(text.find("  ring:"));
    return static_cast<int>(line3.find(needle)) + 1;
}

TEST(ShmMutantsValidate, AnUnknownMutantNamesTheShmMutants) {
    const std::string bad = scenario("mutant: spsc-plain");
    const ScenarioError e = load_error(bad);
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.column(), column_of(bad, "spsc-plain"));
    EXPECT_NE(std::string(e.what()).find("unknown mutant 'spsc-plain' for backend 'shm'; expected "
                                         "one of: spsc-plain-store, spsc-read-before-check, "
                                         "mpmc-check-then-act"),
              std::string::npos)
        << e.what();
    for (const std::string& m : kMutants)
        EXPECT_NO_THROW(load_scenario_text(scenario("mutant: " + m), "s.yaml")) << m;
}

TEST(ShmMutantsValidate, AMutantNeedsLayoutRingAtTheMutant) {
    for (const char* layout : {"counter", "snapshot"}) {
        const std::string bad =
            scenario(std::string("options: {layout: ") + layout + "}, mutant: mpmc-check-then-act");
        const ScenarioError e = load_error(bad);
        EXPECT_EQ(e.line(), 3);
        EXPECT_EQ(e.column(), column_of(bad, "mpmc-check-then-act"));
        EXPECT_NE(std::string(e.what()).find("shm mutant 'mpmc-check-then-act' needs layout ring "
                                             "(layout is " +
                                             std::string(layout) + ")"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_NO_THROW(load_scenario_text(
        scenario("options: {layout: ring}, mutant: mpmc-check-then-act"), "s.yaml"));
}

TEST(ShmMutantsValidate, AMutantReplacesSyncSoSyncIsRefusedAtItsPlace) {
    const std::string bad = scenario("options: {sync: atomic}, mutant: spsc-plain-store");
    const ScenarioError e = load_error(bad);
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.column(), column_of(bad, "atomic"));
    EXPECT_NE(std::string(e.what()).find("option 'sync' does not apply with mutant"),
              std::string::npos)
        << e.what();
}

TEST(ShmMutantsValidate, AnSpscMutantNeedsOneProducerAndOneConsumer) {
    const std::string bad = scenario("mutant: spsc-read-before-check", 2);
    const ScenarioError e = load_error(bad);
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.column(), column_of(bad, "spsc-read-before-check"));
    EXPECT_NE(std::string(e.what()).find("expected 1 writer and 1 reader on channel 'ring', got "
                                         "2 and 1"),
              std::string::npos)
        << e.what();
    EXPECT_NO_THROW(load_scenario_text(scenario("mutant: mpmc-check-then-act", 2), "s.yaml"));
}

// ---- the endpoints ------------------------------------------------------------

TEST(ShmMutants, OpenRefusesAnUnknownMutantAndALayoutOtherThanRing) {
    {
        Channel ch(options({{"layout", "counter"}}), 1, 1, "spsc-plain-store");
        EXPECT_THROW(ch.backend()->open(ch.setup(), ch.state(), Direction::kWrite), HarnessError);
    }
    Channel ch(options({}), 1, 1, "spsc-plain");
    EXPECT_THROW(ch.backend()->open(ch.setup(), ch.state(), Direction::kRead), HarnessError);
}

class MutantAlone : public ::testing::TestWithParam<std::string> {};

// One process sends, then receives, lap after lap: no race, so no defect.
TEST_P(MutantAlone, DeliversEveryMessageOnceInOrderWhenNothingRaces) {
    constexpr std::uint64_t kSlots = 4, kLaps = 3;
    Channel ch(options({{"slots", "4"}}), 1, 1, GetParam());
    ChannelSetup w = ch.setup(), r = ch.setup();
    w.process = 0;
    r.process = 1;
    auto tx = ch.backend()->open(w, ch.state(), Direction::kWrite);
    auto rx = ch.backend()->open(r, ch.state(), Direction::kRead);
    const Payload payload(kSeed);
    std::vector<std::byte> buf(4096);
    std::uint64_t seq = 0;
    for (std::uint64_t lap = 0; lap < kLaps; ++lap) {
        for (std::uint64_t i = 0; i < kSlots; ++i) {
            auto msg = std::span(buf).first(size_for(0, seq + i, kHeaderSize, buf.size()));
            payload.fill(msg, 0, seq + i, 0);
            ASSERT_TRUE(tx->send(msg).ok());
        }
        for (std::uint64_t i = 0; i < kSlots; ++i, ++seq) {
            const IoResult res = rx->receive(buf);
            ASSERT_TRUE(res.ok());
            const auto msg = std::span(buf).first(res.done);
            ASSERT_EQ(payload.verify(msg, buf.size()), Verdict::kOk) << "seq " << seq;
            MsgHeader h;
            std::memcpy(&h, msg.data(), kHeaderSize);
            EXPECT_EQ(h.seq, seq);
        }
    }
    tx->close();
    EXPECT_TRUE(rx->receive(buf).eof());
    rx->close();
}

INSTANTIATE_TEST_SUITE_P(Shm, MutantAlone, ::testing::ValuesIn(kMutants), [](const auto& info) {
    std::string n = info.param;
    std::replace(n.begin(), n.end(), '-', '_');
    return n;
});

// ---- racing processes -----------------------------------------------------------

// producers x consumers over the mutant's ring; every worker must end (the
// mutants never wedge the ring) and every send complete.
Tally mutant_exchange(const std::string& mutant, std::uint32_t producers, std::uint32_t consumers,
                      std::uint64_t per_producer) {
    Channel ch(options({{"slots", "8"}}), producers, consumers, mutant);
    const std::size_t max = ch.contract().max_message;
    for (std::uint32_t c = 0; c < consumers; ++c) ch.spawn(Direction::kRead, receiver(max));
    for (std::uint32_t p = 0; p < producers; ++p)
        ch.spawn(Direction::kWrite, sender(p, per_producer, kHeaderSize, max));
    EXPECT_TRUE(ch.start()) << "a worker did not reach the barrier";
    EXPECT_TRUE(ch.wait()) << "workers still running at the deadline";
    for (std::size_t i = 0; i < ch.size(); ++i) {
        if (ch.dir(i) == Direction::kWrite) {
            EXPECT_EQ(ch.report(i).sent, per_producer);
        } else {
            EXPECT_EQ(ch.report(i).eofs, 1u) << "reader " << i;
        }
    }
    return tally(ch, producers, per_producer);
}

void print(const char* mutant, int attempts, const Tally& t) {
    std::printf(
        "%s: defect after %d attempt(s): lost %llu, duplicated %llu, corrupt %llu, out "
        "of order %llu\n",
        mutant, attempts, (unsigned long long)t.lost, (unsigned long long)t.duplicated,
        (unsigned long long)t.corrupt, (unsigned long long)t.out_of_order);
}

TEST(ShmMutants, SpscPlainStoreDeliversHalfWrittenSlotsAndNothingElse) {
    Tally t;
    int attempts = 0;
    while (t.corrupt == 0 && attempts++ < kAttempts) {
        t = mutant_exchange("spsc-plain-store", 1, 1, 3000);
        // The indices stay right: each damaged copy is the one delivery of
        // its message (the tally counts it lost), nothing more.
        EXPECT_EQ(t.lost, t.corrupt);
        EXPECT_EQ(t.duplicated, 0u);
        EXPECT_EQ(t.out_of_order, 0u);
    }
    EXPECT_GT(t.corrupt, 0u) << "no half-written slot in " << kAttempts << " racy runs";
    print("spsc-plain-store", attempts, t);
}

TEST(ShmMutants, SpscReadBeforeCheckDeliversAStaleCopyInPlaceOfEachLostMessage) {
    Tally t;
    int attempts = 0;
    while (t.duplicated == 0 && attempts++ < kAttempts) {
        t = mutant_exchange("spsc-read-before-check", 1, 1, 3000);
        // Each bad delivery (the slot's previous message, or damaged bytes)
        // takes the place of exactly one message.
        EXPECT_EQ(t.lost, t.duplicated + t.corrupt);
    }
    EXPECT_GT(t.duplicated, 0u) << "no stale copy in " << kAttempts << " racy runs";
    print("spsc-read-before-check", attempts, t);
}

TEST(ShmMutants, MpmcCheckThenActLosesAndDuplicates) {
    Tally t;
    int attempts = 0;
    while ((t.lost == 0 || t.duplicated == 0) && attempts++ < kAttempts)
        t = mutant_exchange("mpmc-check-then-act", 3, 3, 2000);
    EXPECT_GT(t.lost, 0u) << "no loss in " << kAttempts << " racy runs";
    EXPECT_GT(t.duplicated, 0u) << "no duplicate in " << kAttempts << " racy runs";
    print("mpmc-check-then-act", attempts, t);
}

}  // namespace
}  // namespace ipct::shm_test
