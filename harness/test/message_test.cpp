// The message format: a payload is a pure function of (seed, origin, seq),
// and any damage a receiver can meet (a flipped byte, a word of another
// message, a broken header) is caught with the right verdict.
#include "ipctorture/message.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace ipct {
namespace {

constexpr std::size_t kMax = std::size_t{1} << 20;

std::vector<std::byte> make(const Payload& p, std::size_t size, std::uint32_t origin,
                            std::uint64_t seq, std::uint32_t prio = 0) {
    std::vector<std::byte> m(size);
    p.fill(m, origin, seq, prio);
    return m;
}

MsgHeader header_of(const std::vector<std::byte>& m) {
    MsgHeader h;
    std::memcpy(&h, m.data(), kHeaderSize);
    return h;
}

void put_header(std::vector<std::byte>& m, const MsgHeader& h) {
    std::memcpy(m.data(), &h, kHeaderSize);
}

// Payload damage is located to the 8-byte word (counted from the payload
// start) that holds the damaged byte.
std::size_t word_of(std::size_t pos) {
    return kHeaderSize + (pos - kHeaderSize) / 8 * 8;
}

// Sizes from the smallest message to the largest any backend allows, with
// every remainder modulo 8 and both sides of the verifier's 64-byte blocks.
std::vector<std::size_t> interesting_sizes() {
    std::vector<std::size_t> v;
    for (std::size_t s = kHeaderSize; s <= 200; ++s) v.push_back(s);
    for (std::size_t s :
         {255, 256, 257, 1000, 1001, 4095, 4096, 4097, 65535, 65536, 65537, 100003, 524287})
        v.push_back(s);
    v.push_back(kMax - 1);
    v.push_back(kMax);
    std::mt19937_64 rng(42);
    for (int i = 0; i < 20; ++i) v.push_back((kHeaderSize + rng() % (kMax - kHeaderSize)) | 1);
    return v;
}

// Positions worth flipping: all of them for small messages, otherwise the
// header, both ends of the payload, block edges and a random sample.
std::vector<std::size_t> flip_positions(std::size_t size, std::uint64_t seed) {
    std::vector<std::size_t> v;
    if (size <= 8192) {
        for (std::size_t i = 0; i < size; ++i) v.push_back(i);
        return v;
    }
    for (std::size_t i = 0; i < 512; ++i) v.push_back(i);
    for (std::size_t i = size - 512; i < size; ++i) v.push_back(i);
    for (std::size_t b = kHeaderSize + 64; b + 1 < size; b += 64 * 97) {
        v.push_back(b - 1);
        v.push_back(b);
    }
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 400; ++i) v.push_back(rng() % size);
    return v;
}

TEST(Payload, FillThenVerifyRoundTripsForEverySize) {
    Payload p(7);
    std::uint64_t seq = 0;
    for (std::size_t size : interesting_sizes()) {
        auto m = make(p, size, 3, seq, 9);
        MsgHeader h = header_of(m);
        EXPECT_EQ(h.magic, kMsgMagic);
        EXPECT_EQ(h.origin, 3u);
        EXPECT_EQ(h.seq, seq);
        EXPECT_EQ(h.size, size);
        EXPECT_EQ(h.prio, 9u);
        EXPECT_EQ(p.check_header(h, kMax), Verdict::kOk) << "size " << size;
        EXPECT_EQ(p.verify(m, kMax), Verdict::kOk) << "size " << size;
        ++seq;
    }
}

TEST(Payload, EveryByteFlipIsDetected) {
    Payload p(11);
    std::uint64_t seq = 1000;
    for (std::size_t size : interesting_sizes()) {
        auto m = make(p, size, 5, seq);
        for (std::size_t pos : flip_positions(size, seq)) {
            for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
                m[pos] ^= std::byte{mask};
                std::size_t bad = ~std::size_t{0};
                Verdict v = p.verify(m, kMax, &bad);
                m[pos] ^= std::byte{mask};
                if (pos < 4) {
                    ASSERT_EQ(v, Verdict::kBadMagic) << "size " << size << " pos " << pos;
                } else if (pos < kHeaderSize) {
                    // Every header field is under the checksum, which is checked
                    // before the size range.
                    ASSERT_EQ(v, Verdict::kBadChecksum) << "size " << size << " pos " << pos;
                } else {
                    ASSERT_EQ(v, Verdict::kBadPayload) << "size " << size << " pos " << pos;
                    ASSERT_EQ(bad, word_of(pos)) << "size " << size << " pos " << pos;
                }
            }
        }
        ASSERT_EQ(p.verify(m, kMax), Verdict::kOk) << "flips were not undone, size " << size;
        ++seq;
    }
}

// An interleaved write puts words of one message into another at the same or
// at a shifted offset: neither may pass for the victim's own bytes.
TEST(Payload, WordFromAnotherMessageIsDetected) {
    Payload p(99);
    const std::size_t size = 4096 + 24;
    const auto victim = make(p, size, 2, 500);
    struct Other {
        std::uint32_t origin;
        std::uint64_t seq;
    };
    for (Other o : {Other{3, 500}, Other{2, 501}, Other{2, 499}, Other{0, 0}, Other{1, 500},
                    Other{2, 500 + (std::uint64_t{1} << 24)}}) {
        const auto other = make(p, size, o.origin, o.seq);
        for (std::size_t w = kHeaderSize; w + 8 <= size; w += 8) {
            for (std::size_t from : {w, w - 8, kHeaderSize}) {
                auto m = victim;
                std::memcpy(m.data() + w, other.data() + from, 8);
                std::size_t bad = 0;
                ASSERT_EQ(p.verify(m, kMax, &bad), Verdict::kBadPayload)
                    << "word at " << w << " from (" << o.origin << "," << o.seq << ") offset "
                    << from;
                ASSERT_EQ(bad, w);
            }
        }
    }
}

// The payload reads a 64 KiB block in laps; bytes of a message repeated
// exactly one lap (64 KiB) later in the same message must not verify.
TEST(Payload, OwnBytesOneBlockLaterAreDetected) {
    Payload p(99);
    std::vector<std::byte> msg(200 * 1024);
    for (std::uint64_t seq = 0; seq < 8; ++seq) {
        p.fill(msg, 5, seq, 0);
        ASSERT_EQ(p.verify(msg, 1 << 20), Verdict::kOk);
        std::vector<std::byte> bad = msg;
        const std::size_t at = kHeaderSize + 4096 + 8 * seq;
        std::memcpy(bad.data() + at + 65536, bad.data() + at, 512);
        std::size_t off = 0;
        EXPECT_EQ(p.verify(bad, 1 << 20, &off), Verdict::kBadPayload) << "seq " << seq;
        EXPECT_EQ(off, at + 65536);
    }
}

TEST(Payload, PayloadsOfDistinctMessagesDiffer) {
    Payload p(5);
    std::set<std::vector<std::byte>> seen;
    for (std::uint32_t origin = 0; origin < 8; ++origin)
        for (std::uint64_t seq = 0; seq < 64; ++seq) {
            auto m = make(p, 256, origin, seq);
            seen.insert(std::vector<std::byte>(m.begin() + kHeaderSize, m.end()));
        }
    EXPECT_EQ(seen.size(), 8u * 64u);
}

TEST(Payload, BadMagicVerdict) {
    Payload p(1);
    auto m = make(p, 100, 1, 1);
    MsgHeader h = header_of(m);
    h.magic = 0x12345678;
    h.checksum = p.header_checksum(h);  // a consistent header with a foreign magic
    put_header(m, h);
    EXPECT_EQ(p.check_header(h, kMax), Verdict::kBadMagic);
    EXPECT_EQ(p.verify(m, kMax), Verdict::kBadMagic);
}

TEST(Payload, BadChecksumVerdict) {
    Payload p(1);
    auto m = make(p, 100, 1, 1);
    MsgHeader h = header_of(m);
    h.checksum ^= 1;
    put_header(m, h);
    EXPECT_EQ(p.check_header(h, kMax), Verdict::kBadChecksum);
    EXPECT_EQ(p.verify(m, kMax), Verdict::kBadChecksum);
    h = header_of(make(p, 100, 1, 1));
    h.seq = 2;  // a field changed without the checksum following
    EXPECT_EQ(p.check_header(h, kMax), Verdict::kBadChecksum);
}

TEST(Payload, BadSizeVerdicts) {
    Payload p(1);
    // A checksummed header announcing less than a header.
    MsgHeader h{kMsgMagic, 1, 1, static_cast<std::uint32_t>(kHeaderSize - 1), 0, 0};
    h.checksum = p.header_checksum(h);
    EXPECT_EQ(p.check_header(h, kMax), Verdict::kBadSize);
    h.size = 0;
    h.checksum = p.header_checksum(h);
    EXPECT_EQ(p.check_header(h, kMax), Verdict::kBadSize);
    // Above the channel maximum: the limit is inclusive.
    auto m = make(p, 4097, 1, 1);
    EXPECT_EQ(p.verify(m, 4096), Verdict::kBadSize);
    EXPECT_EQ(p.check_header(header_of(m), 4096), Verdict::kBadSize);
    EXPECT_EQ(p.verify(m, 4097), Verdict::kOk);
    // The span disagrees with the header: cut short or with bytes after it.
    EXPECT_EQ(p.verify(std::span(m).first(m.size() - 1), kMax), Verdict::kBadSize);
    auto longer = m;
    longer.push_back(std::byte{0});
    EXPECT_EQ(p.verify(longer, kMax), Verdict::kBadSize);
    // Shorter than a header: nothing to read a header from.
    EXPECT_EQ(p.verify(std::span(m).first(kHeaderSize - 1), kMax), Verdict::kBadSize);
    EXPECT_EQ(p.verify({}, kMax), Verdict::kBadSize);
}

TEST(Payload, VerifyIsDeterministicPerSeed) {
    Payload a(1234), b(1234);
    for (std::size_t size : {32, 33, 1000, 65536}) {
        auto ma = make(a, size, 4, 77, 2);
        auto mb = make(b, size, 4, 77, 2);
        EXPECT_EQ(ma, mb) << "size " << size;
        EXPECT_EQ(b.verify(ma, kMax), Verdict::kOk);
        EXPECT_EQ(a.verify(mb, kMax), Verdict::kOk);
        EXPECT_EQ(a.header_checksum(header_of(ma)), b.header_checksum(header_of(ma)));
        auto damaged = ma;
        damaged.back() ^= std::byte{0x10};
        std::size_t bad_a = 0, bad_b = 0;
        Verdict va = a.verify(damaged, kMax, &bad_a), vb = b.verify(damaged, kMax, &bad_b);
        if (size > kHeaderSize) {
            EXPECT_EQ(va, Verdict::kBadPayload);
            EXPECT_EQ(bad_a, bad_b);
        }
        EXPECT_EQ(va, vb);
    }
}

TEST(Payload, SeedsGiveDifferentMessages) {
    Payload a(1), b(2);
    auto ma = make(a, 4096, 4, 77);
    auto mb = make(b, 4096, 4, 77);
    EXPECT_NE(header_of(ma).checksum, header_of(mb).checksum);
    // Every payload word differs, not just some.
    for (std::size_t w = kHeaderSize; w < 4096; w += 8)
        ASSERT_NE(std::memcmp(ma.data() + w, mb.data() + w, 8), 0) << "word at " << w;
    // A message of another run is refused at its header.
    EXPECT_EQ(b.verify(ma, kMax), Verdict::kBadChecksum);
    EXPECT_EQ(a.verify(mb, kMax), Verdict::kBadChecksum);
    // Even with a header re-signed for this run, the payload gives it away.
    MsgHeader h = header_of(ma);
    h.checksum = b.header_checksum(h);
    put_header(ma, h);
    std::size_t bad = 0;
    EXPECT_EQ(b.verify(ma, kMax, &bad), Verdict::kBadPayload);
    EXPECT_EQ(bad, kHeaderSize);
}

TEST(VerdictName, DistinctAndStable) {
    std::set<std::string> names;
    for (Verdict v : {Verdict::kOk, Verdict::kBadMagic, Verdict::kBadChecksum, Verdict::kBadSize,
                      Verdict::kBadPayload})
        names.insert(verdict_name(v));
    EXPECT_EQ(names.size(), 5u);
    EXPECT_STREQ(verdict_name(Verdict::kBadPayload), "bad-payload");
}

TEST(Mix64, IsInjectiveOnASample) {
    std::set<std::uint64_t> seen;
    for (std::uint64_t i = 0; i < 100000; ++i) seen.insert(mix64(i));
    EXPECT_EQ(seen.size(), 100000u);
    EXPECT_NE(mix64(0), 0u);
}

}  // namespace
}  // namespace ipct
