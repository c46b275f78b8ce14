// SHA-256 (FIPS 180-4), for content hashes a report records: the scenario a
// run used, so that `ipctorture replay` can tell whether a file on disk is
// still the one that ran.  Not for secrets: nothing here is constant-time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ipct {

class Sha256 {
  public:
    Sha256();
    void update(const void* data, std::size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // The digest of everything updated so far; the object is spent after it.
    std::array<std::uint8_t, 32> finish();

  private:
    void block(const std::uint8_t* p);
    std::array<std::uint32_t, 8> h_;
    std::array<std::uint8_t, 64> buf_{};
    std::size_t used_ = 0;     // bytes waiting in buf_
    std::uint64_t total_ = 0;  // bytes updated, for the length field
};

// The digest of s as 64 lowercase hex digits (as sha256sum prints it).
std::string sha256_hex(std::string_view s);

}  // namespace ipct
