// Shared pieces of the session fuzz targets (milter/client/fuzz,
// milter/server/fuzz): a CHECK that aborts, the input layout, and the byte
// source that steers a harness's choices.
//
// Input layout of a session fuzz target:
//   [header: kHeaderSize bytes][n: 1 byte][n choice bytes][stream bytes]
// The header configures the run (what is negotiated, how the filter behaves);
// the choice bytes steer decisions made along the way (verdicts, chunk
// sizes); the stream is the peer's byte stream. Short inputs are padded with
// zero bytes, so every input is a valid run.

#ifndef TESTS_FUZZ_FUZZ_UTIL_H_
#define TESTS_FUZZ_FUZZ_UTIL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

namespace milter::fuzz {

struct FuzzInput {
  std::string header;  // exactly the header size, zero-padded
  std::string_view choices;
  std::string_view stream;
};

inline FuzzInput SplitInput(const uint8_t* data, size_t size,
                            size_t header_size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  FuzzInput in;
  in.header = std::string(all.substr(0, header_size));
  in.header.resize(header_size, '\0');
  all.remove_prefix(std::min(all.size(), header_size));
  size_t n = all.empty() ? 0 : static_cast<uint8_t>(all[0]);
  all.remove_prefix(std::min<size_t>(all.size(), 1));
  in.choices = all.substr(0, n);
  all.remove_prefix(in.choices.size());
  in.stream = all;
  return in;
}

// Decision bytes, read in order; after the last one they repeat, varied per
// round so long runs do not loop on one pattern. All zero when empty.
class Choices {
 public:
  explicit Choices(std::string_view bytes) : bytes_(bytes) {}
  uint8_t Next() {
    if (bytes_.empty()) return 0;
    size_t round = pos_ / bytes_.size();
    uint8_t b = static_cast<uint8_t>(bytes_[pos_ % bytes_.size()]);
    ++pos_;
    return static_cast<uint8_t>(b + round * 97);
  }
  // A value in [0, n), n > 0.
  size_t Below(size_t n) { return (Next() | size_t{Next()} << 8) % n; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

inline uint32_t LoadLe32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4 && at + i < s.size(); ++i) {
    v |= uint32_t{static_cast<uint8_t>(s[at + i])} << (8 * i);
  }
  return v;
}

inline uint32_t LoadBe32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4 && at + i < s.size(); ++i) {
    v = v << 8 | static_cast<uint8_t>(s[at + i]);
  }
  return v;
}

}  // namespace milter::fuzz

#endif  // TESTS_FUZZ_FUZZ_UTIL_H_
