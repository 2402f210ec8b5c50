// Runs a libFuzzer entry point without libFuzzer, so that `bazel test` (with
// gcc, without sanitizer runtimes) exercises the fuzz targets: every seed of
// a seeds file (tests/fuzz/make_seeds.py's record format: 4-byte big-endian
// length, then the bytes), then deterministic pseudo-random mutations of
// them (byte flips, insertions, deletions, truncation, splices).
//   fuzzer_smoke SEEDS_FILE [MUTANTS]
// A failed property aborts the process, failing the test.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> ReadSeeds(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  std::vector<std::string> seeds;
  size_t pos = 0;
  while (pos + 4 <= all.size()) {
    size_t n = 0;
    for (int i = 0; i < 4; ++i) {
      n = n << 8 | static_cast<uint8_t>(all[pos + i]);
    }
    pos += 4;
    if (pos + n > all.size()) break;
    seeds.push_back(all.substr(pos, n));
    pos += n;
  }
  return seeds;
}

// splitmix64: the same sequence on every run and machine.
class Random {
 public:
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return n == 0 ? 0 : Next() % n; }

 private:
  uint64_t state_ = 20240601;
};

std::string Mutate(const std::vector<std::string>& seeds, Random& r) {
  std::string s = seeds[r.Below(seeds.size())];
  int edits = 1 + static_cast<int>(r.Below(4));
  for (int e = 0; e < edits; ++e) {
    size_t at = r.Below(s.size() + 1);
    switch (r.Below(6)) {
      case 0:  // flip bits of a few bytes (header and choices included)
      case 1:
        for (int i = 0; i < 3 && !s.empty(); ++i) {
          s[r.Below(s.size())] ^= static_cast<char>(1 << r.Below(8));
        }
        break;
      case 2:  // random bytes inserted
        s.insert(at, std::string(1 + r.Below(16), static_cast<char>(r.Next())));
        break;
      case 3:  // a range deleted
        s.erase(at, r.Below(64));
        break;
      case 4:  // truncated
        s.resize(at);
        break;
      default: {  // a piece of another seed spliced in
        const std::string& other = seeds[r.Below(seeds.size())];
        size_t from = r.Below(other.size() + 1);
        s.insert(at, other.substr(from, r.Below(256)));
        break;
      }
    }
  }
  return s;
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SEEDS_FILE [MUTANTS]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> seeds = ReadSeeds(argv[1]);
  if (seeds.empty()) {
    std::fprintf(stderr, "no seeds in %s\n", argv[1]);
    return 1;
  }
  int mutants = argc > 2 ? std::atoi(argv[2]) : 300;
  for (const std::string& seed : seeds) Run(seed);
  Random random;
  for (int i = 0; i < mutants; ++i) Run(Mutate(seeds, random));
  std::printf("%zu seeds and %d mutants ran without a finding\n", seeds.size(),
              mutants);
  return 0;
}
