// SHA-256 against the FIPS 180-4 example vectors and against sha256sum at
// the lengths where the padding changes shape (55, 56, 63, 64, 65, 119, 120
// bytes: the length field fits in the last block or needs one more).
#include "ipctorture/sha256.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ipct {
namespace {

TEST(Sha256, FipsVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                         "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
    const std::pair<std::size_t, const char*> cases[] = {
        {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
        {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
        {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
        {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
        {65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
        {119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"},
        {120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"},
    };
    for (const auto& [n, hex] : cases) EXPECT_EQ(sha256_hex(std::string(n, 'x')), hex) << n;
}

// Fed in pieces of every size from 1 to 130 bytes, the digest is the one of
// the whole.
TEST(Sha256, PiecesGiveTheDigestOfTheWhole) {
    std::string text;
    for (int i = 0; i < 1000; ++i) text += char('a' + (i * 7) % 26);
    const std::string whole = sha256_hex(text);
    for (std::size_t piece = 1; piece <= 130; ++piece) {
        Sha256 h;
        for (std::size_t at = 0; at < text.size(); at += piece)
            h.update(std::string_view(text).substr(at, piece));
        std::string hex;
        char b[3];
        for (std::uint8_t x : h.finish()) {
            std::snprintf(b, sizeof b, "%02x", x);
            hex += b;
        }
        EXPECT_EQ(hex, whole) << "pieces of " << piece;
    }
}

}  // namespace
}  // namespace ipct
