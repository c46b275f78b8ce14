// FrameDecoder: what comes out of a byte stream must not depend on how the
// stream was cut into reads, and every kind of damage is reported once, with
// the byte counts and read times the checker relies on.
#include "ipctorture/framing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ipctorture/message.hpp"

namespace ipct {
namespace {

using Kind = Frame::Kind;

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::kMessage:
            return "message";
        case Kind::kCorrupt:
            return "corrupt";
        case Kind::kGarbage:
            return "garbage";
    }
    return "?";
}

// A copy of a Frame that outlives the callback.
struct Event {
    Kind kind;
    std::uint64_t size;
    MsgHeader header;
    Verdict verdict;
    std::size_t bad_offset;
    bool truncated;
    std::uint64_t t_start, t_end;
    std::vector<std::byte> bytes;
};

std::string describe(const std::vector<Event>& evs) {
    std::string s;
    for (const Event& e : evs)
        s += std::string(kind_name(e.kind)) + "(" + std::to_string(e.size) + ") ";
    return s;
}

// Reads are numbered from 0; read i runs [1000 (i+1), 1000 (i+1) + 500], so
// every read has its own distinct times.
std::uint64_t read_t_start(std::size_t i) {
    return 1000 * (i + 1);
}
std::uint64_t read_t_end(std::size_t i) {
    return 1000 * (i + 1) + 500;
}

struct Decoded {
    std::vector<Event> events;
    std::vector<std::size_t> read_begin;  // stream offset of each read's first byte
    std::uint64_t finish_t_end = 0;
    std::uint64_t stream_offset = 0;
    std::size_t buffered = 0;

    std::size_t read_of(std::size_t offset) const {
        auto it = std::upper_bound(read_begin.begin(), read_begin.end(), offset);
        return static_cast<std::size_t>(it - read_begin.begin()) - 1;
    }
};

// How a stream is cut into reads.
struct Chunking {
    std::string name;
    std::size_t max = 0;  // 0: the whole stream in one read; 1: byte by byte
    std::uint64_t seed = 0;
};

std::vector<Chunking> chunkings() {
    return {{"all-at-once", 0, 0},  {"one-byte", 1, 0},       {"random-7", 7, 1},
            {"random-100", 100, 2}, {"random-5000", 5000, 3}, {"random-70000", 70000, 4}};
}

std::vector<std::size_t> cut(std::size_t len, const Chunking& c) {
    std::vector<std::size_t> v;
    if (c.max == 0) {
        if (len) v.push_back(len);
        return v;
    }
    std::mt19937_64 rng(c.seed);
    for (std::size_t done = 0; done < len;) {
        std::size_t n = c.max == 1 ? 1 : 1 + rng() % c.max;
        n = std::min(n, len - done);
        v.push_back(n);
        done += n;
    }
    return v;
}

Decoded decode(const Payload& p, std::size_t max_message, const std::vector<std::byte>& stream,
               const std::vector<std::size_t>& reads) {
    Decoded d;
    FrameDecoder dec(p, max_message);
    auto sink = [&](const Frame& f) {
        d.events.push_back(Event{f.kind, f.size, f.header, f.verdict, f.bad_offset, f.truncated,
                                 f.t_start, f.t_end,
                                 std::vector<std::byte>(f.bytes.begin(), f.bytes.end())});
    };
    std::size_t off = 0;
    for (std::size_t i = 0; i < reads.size(); ++i) {
        d.read_begin.push_back(off);
        dec.feed(std::span(stream).subspan(off, reads[i]), read_t_start(i), read_t_end(i), sink);
        off += reads[i];
    }
    d.finish_t_end = read_t_end(reads.size());
    dec.finish(d.finish_t_end, sink);
    d.stream_offset = dec.stream_offset();
    d.buffered = dec.buffered();
    return d;
}

// A stream under construction that remembers what it put where.
struct Piece {
    Kind kind;
    std::size_t offset;
    std::size_t size;
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
};

struct StreamBuilder {
    const Payload& p;
    std::vector<std::byte> bytes;
    std::vector<Piece> pieces;
    std::mt19937_64 rng{12345};

    std::vector<std::byte> message(std::size_t size, std::uint32_t origin, std::uint64_t seq) {
        std::vector<std::byte> m(size);
        p.fill(m, origin, seq, 0);
        return m;
    }
    void add_message(std::size_t size, std::uint32_t origin, std::uint64_t seq) {
        pieces.push_back({Kind::kMessage, bytes.size(), size, origin, seq});
        auto m = message(size, origin, seq);
        bytes.insert(bytes.end(), m.begin(), m.end());
    }
    void add_raw(std::span<const std::byte> b) { bytes.insert(bytes.end(), b.begin(), b.end()); }
    void add_junk(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) bytes.push_back(std::byte(rng() & 0xff));
    }
};

// Expects exactly the messages of the builder, in order, with exact times.
void expect_messages(const StreamBuilder& s, const Decoded& d, const std::string& how) {
    ASSERT_EQ(d.events.size(), s.pieces.size()) << how << ": " << describe(d.events);
    for (std::size_t i = 0; i < s.pieces.size(); ++i) {
        const Piece& want = s.pieces[i];
        const Event& e = d.events[i];
        ASSERT_EQ(e.kind, Kind::kMessage) << how << " event " << i;
        EXPECT_EQ(e.header.origin, want.origin) << how << " event " << i;
        EXPECT_EQ(e.header.seq, want.seq) << how << " event " << i;
        EXPECT_EQ(e.size, want.size) << how << " event " << i;
        ASSERT_EQ(e.bytes.size(), want.size) << how << " event " << i;
        EXPECT_EQ(std::memcmp(e.bytes.data(), s.bytes.data() + want.offset, want.size), 0)
            << how << " event " << i;
        EXPECT_EQ(e.t_start, read_t_start(d.read_of(want.offset))) << how << " event " << i;
        EXPECT_EQ(e.t_end, read_t_end(d.read_of(want.offset + want.size - 1)))
            << how << " event " << i;
    }
    EXPECT_EQ(d.stream_offset, s.bytes.size()) << how;
    EXPECT_EQ(d.buffered, 0u) << how;
}

std::size_t mixed_size(std::mt19937_64& rng, std::size_t max) {
    const std::uint64_t r = rng() % 100;
    std::size_t lo = kHeaderSize, hi = 300;
    if (r >= 95)
        lo = 8192, hi = max;
    else if (r >= 70)
        lo = 300, hi = 8192;
    return lo + rng() % (hi - lo + 1);
}

TEST(FrameDecoder, ValidStreamGivesEveryMessageInOrderWhateverTheChunking) {
    Payload p(21);
    const std::size_t max = 64 * 1024;
    StreamBuilder s{p};
    std::mt19937_64 rng(3);
    std::uint64_t seq[4] = {};
    s.add_message(kHeaderSize, 0, seq[0]++);  // the smallest and largest frames too
    s.add_message(max, 1, seq[1]++);
    for (int i = 0; i < 300; ++i) {
        const std::uint32_t origin = static_cast<std::uint32_t>(rng() % 4);
        s.add_message(mixed_size(rng, max), origin, seq[origin]++);
    }
    for (const Chunking& c : chunkings())
        expect_messages(s, decode(p, max, s.bytes, cut(s.bytes.size(), c)), c.name);
}

TEST(FrameDecoder, ReadsThroughSpaceAndCommit) {
    Payload p(22);
    StreamBuilder s{p};
    for (std::uint64_t i = 0; i < 50; ++i) s.add_message(1000 + 37 * i, 2, i);
    // A small buffer, so that the decoder must compact while frames are split.
    FrameDecoder dec(p, 4096, 8192);
    std::vector<std::uint64_t> seqs;
    auto sink = [&](const Frame& f) {
        ASSERT_EQ(f.kind, Kind::kMessage);
        seqs.push_back(f.header.seq);
    };
    std::size_t off = 0;
    for (std::size_t i = 0; off < s.bytes.size(); ++i) {
        auto room = dec.space();
        ASSERT_FALSE(room.empty());
        const std::size_t n = std::min({room.size(), s.bytes.size() - off, 1 + i % 3001});
        std::memcpy(room.data(), s.bytes.data() + off, n);
        dec.commit(n, read_t_start(i), read_t_end(i), sink);
        off += n;
    }
    dec.finish(1, sink);
    ASSERT_EQ(seqs.size(), 50u);
    for (std::uint64_t i = 0; i < 50; ++i) EXPECT_EQ(seqs[i], i);
    EXPECT_EQ(dec.stream_offset(), s.bytes.size());
}

// Checks one event of a damaged stream against what is expected of it.
struct Want {
    Kind kind;
    std::size_t offset;  // stream offset of the event's first byte
    std::size_t size;
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
    std::size_t bad_offset = 0;  // kCorrupt
};

void expect_events(const std::vector<Want>& want, const Decoded& d, const std::string& how) {
    ASSERT_EQ(d.events.size(), want.size()) << how << ": " << describe(d.events);
    for (std::size_t i = 0; i < want.size(); ++i) {
        const Want& w = want[i];
        const Event& e = d.events[i];
        ASSERT_EQ(e.kind, w.kind) << how << " event " << i << ": " << describe(d.events);
        EXPECT_EQ(e.size, w.size) << how << " event " << i << ": " << describe(d.events);
        EXPECT_EQ(e.t_start, read_t_start(d.read_of(w.offset))) << how << " event " << i;
        const std::uint64_t last_read_end = read_t_end(d.read_of(w.offset + w.size - 1));
        if (w.kind == Kind::kGarbage) {
            // A run is known to be garbage only once the bytes after it are
            // seen: its end may be stamped later, never earlier.
            EXPECT_GE(e.t_end, last_read_end) << how << " event " << i;
            EXPECT_LE(e.t_end, d.finish_t_end) << how << " event " << i;
            continue;
        }
        EXPECT_EQ(e.t_end, last_read_end) << how << " event " << i;
        EXPECT_EQ(e.header.origin, w.origin) << how << " event " << i;
        EXPECT_EQ(e.header.seq, w.seq) << how << " event " << i;
        if (w.kind == Kind::kCorrupt) {
            EXPECT_EQ(e.verdict, Verdict::kBadPayload) << how << " event " << i;
            EXPECT_EQ(e.bad_offset, w.bad_offset) << how << " event " << i;
            EXPECT_FALSE(e.truncated) << how << " event " << i;
        }
    }
    EXPECT_EQ(d.buffered, 0u) << how;
}

void expect_events_any_chunking(const Payload& p, std::size_t max,
                                const std::vector<std::byte>& stream,
                                const std::vector<Want>& want) {
    for (const Chunking& c : chunkings()) {
        Decoded d = decode(p, max, stream, cut(stream.size(), c));
        expect_events(want, d, c.name);
        EXPECT_EQ(d.stream_offset, stream.size()) << c.name;
    }
}

std::span<const std::byte> part(const std::vector<std::byte>& v, std::size_t from, std::size_t to) {
    return std::span(v).subspan(from, to - from);
}

TEST(FrameDecoder, GarbageRunsAreMergedAndCountedExactly) {
    Payload p(23);
    const std::size_t max = 4096;
    StreamBuilder s{p};
    std::vector<Want> want;
    auto junk = [&](std::size_t n) {
        want.push_back({Kind::kGarbage, s.bytes.size(), n});
        s.add_junk(n);
    };
    auto msg = [&](std::size_t size, std::uint64_t seq) {
        want.push_back({Kind::kMessage, s.bytes.size(), size, 1, seq});
        s.add_message(size, 1, seq);
    };
    junk(100);
    msg(200, 0);
    junk(7);
    msg(33, 1);
    junk(1);
    msg(4096, 2);
    {
        // One run made of things that look like headers but are not: a real
        // header with a broken checksum, the magic alone, the first 20 bytes
        // of a real header.  Reported as one run of the exact length.
        const std::size_t at = s.bytes.size();
        auto fake = s.message(300, 1, 99);
        fake[kHeaderSize - 1] ^= std::byte{1};
        s.add_raw(part(fake, 0, 40));
        s.add_junk(3);
        s.add_raw(part(fake, 0, 4));
        s.add_junk(5);
        auto real = s.message(300, 1, 98);
        s.add_raw(part(real, 0, 20));
        s.add_junk(9);
        want.push_back({Kind::kGarbage, at, s.bytes.size() - at});
    }
    msg(64, 3);
    {
        // A well-formed message larger than the channel allows is not trusted:
        // its bytes are garbage, merged with the junk after it.
        const std::size_t at = s.bytes.size();
        auto big = s.message(max + 1000, 1, 4);
        s.add_raw(big);
        s.add_junk(13);
        want.push_back({Kind::kGarbage, at, big.size() + 13});
    }
    msg(1000, 5);
    junk(45);
    expect_events_any_chunking(p, max, s.bytes, want);
}

TEST(FrameDecoder, OversizeHeaderIsTrustedOnlyUpToMaxMessage) {
    Payload p(24);
    StreamBuilder s{p};
    s.add_message(100, 0, 0);
    s.add_message(5000, 0, 1);
    s.add_message(100, 0, 2);
    const std::vector<Want> strict = {{Kind::kMessage, 0, 100, 0, 0},
                                      {Kind::kGarbage, 100, 5000},
                                      {Kind::kMessage, 5100, 100, 0, 2}};
    expect_events_any_chunking(p, 4096, s.bytes, strict);
    // The same stream on a channel that allows it: no false positive.
    for (const Chunking& c : chunkings())
        expect_messages(s, decode(p, 5000, s.bytes, cut(s.bytes.size(), c)), c.name);
}

TEST(FrameDecoder, OnlyGarbageIsOneRun) {
    Payload p(25);
    StreamBuilder s{p};
    s.add_junk(100000);
    expect_events_any_chunking(p, 65536, s.bytes, {{Kind::kGarbage, 0, 100000}});
    StreamBuilder tiny{p};
    tiny.add_junk(5);
    expect_events_any_chunking(p, 65536, tiny.bytes, {{Kind::kGarbage, 0, 5}});
}

TEST(FrameDecoder, EmptyStreamGivesNothing) {
    Payload p(26);
    Decoded d = decode(p, 4096, {}, {});
    EXPECT_TRUE(d.events.empty());
    EXPECT_EQ(d.stream_offset, 0u);
}

std::size_t word_of(std::size_t pos) {
    return kHeaderSize + (pos - kHeaderSize) / 8 * 8;
}

// Where the verifier must report a frame damaged: the word holding the first
// byte that differs from the original (a spliced byte may equal it by chance).
std::size_t first_bad_word(const std::vector<std::byte>& original,
                           const std::vector<std::byte>& stream, std::size_t at) {
    std::size_t i = 0;
    while (i < original.size() && at + i < stream.size() && original[i] == stream[at + i]) ++i;
    return word_of(i);
}

// An interleaved write: writer B's bytes (header included) landed in the
// middle of writer A's frame, and A's remaining bytes follow.  `b_len` of B's
// bytes were spliced in at A's offset `at`, then C follows intact.
struct Splice {
    std::vector<std::byte> stream;
    std::size_t a_size, b_size, at, b_len, c_offset, c_size;
    std::size_t a_bad, b_bad;  // first bad word of A's and of B's frame as read
};

Splice splice(const Payload& p, std::size_t a_size, std::size_t at, std::size_t b_size,
              std::size_t b_len) {
    StreamBuilder s{p};
    auto a = s.message(a_size, 1, 10);
    auto b = s.message(b_size, 2, 20);
    s.add_raw(part(a, 0, at));
    s.add_raw(part(b, 0, b_len));
    s.add_raw(part(a, at, a_size));
    const std::size_t c_offset = s.bytes.size();
    s.add_message(300, 3, 30);
    return {s.bytes,
            a_size,
            b_size,
            at,
            b_len,
            c_offset,
            300,
            first_bad_word(a, s.bytes, 0),
            first_bad_word(b, s.bytes, at)};
}

TEST(FrameDecoder, InterleavedFrameReportsBothVictims) {
    Payload p(27);
    // B is cut too: its frame runs on into A's bytes.
    Splice x = splice(p, 2000, 600, 1500, 700);
    ASSERT_EQ(x.a_bad, word_of(x.at));  // B's header differs from A's bytes
    ASSERT_EQ(x.b_bad, word_of(x.b_len));
    const std::size_t b_end = x.at + x.b_size;  // B's frame, as the decoder sees it
    expect_events_any_chunking(p, 65536, x.stream,
                               {{Kind::kCorrupt, 0, x.a_size, 1, 10, x.a_bad},
                                {Kind::kCorrupt, x.at, x.b_size, 2, 20, x.b_bad},
                                {Kind::kGarbage, b_end, x.c_offset - b_end},
                                {Kind::kMessage, x.c_offset, x.c_size, 3, 30}});
}

TEST(FrameDecoder, MessageWhollyInsideAnotherIsRecovered) {
    Payload p(28);
    Splice x = splice(p, 2000, 600, 500, 500);
    const std::size_t b_end = x.at + x.b_size;
    expect_events_any_chunking(p, 65536, x.stream,
                               {{Kind::kCorrupt, 0, x.a_size, 1, 10, x.a_bad},
                                {Kind::kMessage, x.at, x.b_size, 2, 20},
                                {Kind::kGarbage, b_end, x.c_offset - b_end},
                                {Kind::kMessage, x.c_offset, x.c_size, 3, 30}});
}

// B's header starts in A's last bytes, so it is only whole once bytes after
// A's frame have arrived.  Whether it is found must not depend on the reads.
TEST(FrameDecoder, InterleavedHeaderAtTheEndOfTheVictimIsFoundWhateverTheChunking) {
    Payload p(29);
    const std::size_t a_size = 2000;
    for (std::size_t at = a_size - kHeaderSize - 2; at < a_size; ++at) {
        Splice x = splice(p, a_size, at, 500, 500);
        const std::size_t b_end = x.at + x.b_size;
        SCOPED_TRACE("B spliced at " + std::to_string(at));
        expect_events_any_chunking(p, 65536, x.stream,
                                   {{Kind::kCorrupt, 0, x.a_size, 1, 10, x.a_bad},
                                    {Kind::kMessage, x.at, x.b_size, 2, 20},
                                    {Kind::kGarbage, b_end, x.c_offset - b_end},
                                    {Kind::kMessage, x.c_offset, x.c_size, 3, 30}});
    }
}

TEST(FrameDecoder, TruncatedLastFrameIsCorruptAtFinish) {
    Payload p(30);
    for (std::size_t cut_at :
         {kHeaderSize, kHeaderSize + 1, std::size_t{1000}, std::size_t{2999}}) {
        StreamBuilder s{p};
        s.add_message(500, 0, 0);
        s.add_message(700, 0, 1);
        auto last = s.message(3000, 4, 2);
        s.add_raw(part(last, 0, cut_at));
        for (const Chunking& c : chunkings()) {
            const std::string how = c.name + " cut at " + std::to_string(cut_at);
            Decoded d = decode(p, 65536, s.bytes, cut(s.bytes.size(), c));
            ASSERT_EQ(d.events.size(), 3u) << how << ": " << describe(d.events);
            EXPECT_EQ(d.events[0].kind, Kind::kMessage) << how;
            EXPECT_EQ(d.events[1].kind, Kind::kMessage) << how;
            const Event& e = d.events[2];
            EXPECT_EQ(e.kind, Kind::kCorrupt) << how;
            EXPECT_TRUE(e.truncated) << how;
            EXPECT_EQ(e.size, cut_at) << how;
            EXPECT_EQ(e.header.origin, 4u) << how;
            EXPECT_EQ(e.header.seq, 2u) << how;
            EXPECT_EQ(e.header.size, 3000u) << how;
            EXPECT_EQ(e.t_start, read_t_start(d.read_of(1200))) << how;
            // Stamped no earlier than the read of its last byte, at the latest
            // by the end of the stream.
            EXPECT_GE(e.t_end, read_t_end(d.read_of(s.bytes.size() - 1))) << how;
            EXPECT_LE(e.t_end, d.finish_t_end) << how;
            EXPECT_EQ(d.stream_offset, s.bytes.size()) << how;
        }
    }
}

TEST(FrameDecoder, StreamEndingInsideAHeaderIsGarbage) {
    Payload p(31);
    StreamBuilder s{p};
    s.add_message(500, 0, 0);
    auto last = s.message(3000, 0, 1);
    s.add_raw(part(last, 0, 20));
    expect_events_any_chunking(p, 65536, s.bytes,
                               {{Kind::kMessage, 0, 500, 0, 0}, {Kind::kGarbage, 500, 20}});
}

// Arbitrary bytes, with and without real frames among them: the decoder
// neither crashes nor loses track of the stream, and what it calls a
// message is one.
TEST(FrameDecoder, RandomStreamsAreHandled) {
    Payload p(32);
    std::mt19937_64 rng(2024);
    for (int iter = 0; iter < 300; ++iter) {
        StreamBuilder s{p};
        s.rng.seed(rng());
        const int pieces = static_cast<int>(rng() % 40);
        for (int i = 0; i < pieces; ++i) {
            switch (rng() % 4) {
                case 0:
                    s.add_junk(rng() % 300);
                    break;
                case 1:
                    s.add_message(kHeaderSize + rng() % 3000, 0, i);
                    break;
                case 2: {  // a frame with a few flipped bytes
                    auto m = s.message(kHeaderSize + rng() % 3000, 0, i);
                    for (int k = 0; k < 3; ++k) m[rng() % m.size()] ^= std::byte(1 + rng() % 255);
                    s.add_raw(m);
                    break;
                }
                default: {  // a frame cut short
                    auto m = s.message(kHeaderSize + rng() % 3000, 0, i);
                    s.add_raw(part(m, 0, rng() % m.size()));
                }
            }
        }
        const std::size_t max = 64 + rng() % 4096;
        Chunking c{"random", 1 + rng() % 600, rng()};
        Decoded d = decode(p, max, s.bytes, cut(s.bytes.size(), c));
        const std::string how = "iteration " + std::to_string(iter);
        EXPECT_EQ(d.stream_offset, s.bytes.size()) << how;
        EXPECT_EQ(d.buffered, 0u) << how;
        for (std::size_t i = 0; i < d.events.size(); ++i) {
            const Event& e = d.events[i];
            EXPECT_GT(e.size, 0u) << how;
            EXPECT_LE(e.t_start, e.t_end) << how;
            if (e.kind == Kind::kMessage) {
                ASSERT_EQ(e.bytes.size(), e.size) << how;
                EXPECT_EQ(p.verify(e.bytes, max), Verdict::kOk) << how;
            }
            if (e.kind == Kind::kGarbage && i > 0) {
                EXPECT_NE(d.events[i - 1].kind, Kind::kGarbage) << how << ": runs not merged";
            }
        }
    }
}

}  // namespace
// commit_message (a message backend's receive: one message per read, nothing
// carried over) must give exactly what commit + finish give, whether the
// receive is an intact message (its fast path) or anything else: damaged,
// cut short, two messages, garbage, empty.
std::vector<Event> receive_each(const Payload& p, std::size_t max,
                                const std::vector<std::vector<std::byte>>& receives, bool fast,
                                std::uint64_t* offset) {
    std::vector<Event> evs;
    FrameDecoder dec(p, max);
    auto sink = [&](const Frame& f) {
        evs.push_back(Event{f.kind, f.size, f.header, f.verdict, f.bad_offset, f.truncated,
                            f.t_start, f.t_end,
                            std::vector<std::byte>(f.bytes.begin(), f.bytes.end())});
    };
    for (std::size_t i = 0; i < receives.size(); ++i) {
        auto space = dec.space();
        const std::size_t n = std::min(space.size(), receives[i].size());
        std::memcpy(space.data(), receives[i].data(), n);
        if (fast) {
            dec.commit_message(n, read_t_start(i), read_t_end(i), sink);
        } else {
            dec.commit(n, read_t_start(i), read_t_end(i), sink);
            dec.finish(read_t_end(i), sink);
        }
    }
    *offset = dec.stream_offset();
    return evs;
}

TEST(FrameDecoder, CommitMessageGivesWhatCommitAndFinishGive) {
    Payload p(33);
    const std::size_t max = 8192;
    StreamBuilder s{p};
    std::vector<std::vector<std::byte>> rx;
    std::mt19937_64 rng(9);
    for (std::uint64_t seq = 0; seq < 40; ++seq)
        rx.push_back(s.message(kHeaderSize + rng() % 4000, 1, seq));
    auto flipped = s.message(500, 2, 0);
    flipped[300] ^= std::byte{1};  // payload damage
    rx.push_back(flipped);
    auto bad_header = s.message(500, 2, 1);
    bad_header[9] ^= std::byte{1};  // the checksum no longer matches: garbage
    rx.push_back(bad_header);
    auto cut_short = s.message(700, 2, 2);
    cut_short.resize(400);  // truncated
    rx.push_back(cut_short);
    auto two = s.message(100, 3, 0);  // two messages in one receive
    auto second = s.message(200, 3, 1);
    two.insert(two.end(), second.begin(), second.end());
    rx.push_back(two);
    rx.push_back({});                                                     // an empty receive
    rx.push_back(std::vector<std::byte>(kHeaderSize - 1, std::byte{7}));  // shorter than a header
    rx.push_back(s.message(max, 4, 0));                                   // the largest
    for (std::uint64_t seq = 40; seq < 50; ++seq) rx.push_back(s.message(64, 1, seq));

    std::uint64_t off_fast = 0, off_slow = 0;
    const auto fast = receive_each(p, max, rx, true, &off_fast);
    const auto slow = receive_each(p, max, rx, false, &off_slow);
    ASSERT_EQ(fast.size(), slow.size()) << describe(fast) << " vs " << describe(slow);
    for (std::size_t i = 0; i < fast.size(); ++i) {
        EXPECT_EQ(fast[i].kind, slow[i].kind) << i;
        EXPECT_EQ(fast[i].size, slow[i].size) << i;
        EXPECT_EQ(fast[i].header.origin, slow[i].header.origin) << i;
        EXPECT_EQ(fast[i].header.seq, slow[i].header.seq) << i;
        EXPECT_EQ(fast[i].verdict, slow[i].verdict) << i;
        EXPECT_EQ(fast[i].bad_offset, slow[i].bad_offset) << i;
        EXPECT_EQ(fast[i].truncated, slow[i].truncated) << i;
        EXPECT_EQ(fast[i].t_start, slow[i].t_start) << i;
        EXPECT_EQ(fast[i].t_end, slow[i].t_end) << i;
        EXPECT_EQ(fast[i].bytes, slow[i].bytes) << i;
    }
    EXPECT_EQ(off_fast, off_slow);
    // And the damage is there to be seen: 40 + 10 + 1 + 2 intact messages.
    const auto intact = std::count_if(fast.begin(), fast.end(),
                                      [](const Event& e) { return e.kind == Kind::kMessage; });
    EXPECT_EQ(intact, 53);
    const auto corrupt = std::count_if(fast.begin(), fast.end(),
                                       [](const Event& e) { return e.kind == Kind::kCorrupt; });
    EXPECT_EQ(corrupt, 2);  // the flipped byte and the truncated one
}

}  // namespace ipct
