// Drives a fuzz target without libFuzzer (g++ builds, CI): every file of the
// seed folders, then `--runs` deterministic mutations of them (byte flips,
// insertions, deletions, splices). With clang, build with -DRELANCE_FUZZ=ON
// for real coverage-guided fuzzing of the same target.
//
//   fuzz_<name>_replay [--runs N] [--seed S] DIR...
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void run(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

std::string mutate(std::string s, const std::vector<std::string>& pool, std::mt19937_64& rng) {
  const int n = 1 + int(rng() % 4);
  for (int i = 0; i < n; ++i) {
    switch (rng() % 6) {
      case 0:  // flip a byte
        if (!s.empty()) s[rng() % s.size()] ^= char(1u << (rng() % 8));
        break;
      case 1:  // insert a random byte
        s.insert(s.begin() + long(s.empty() ? 0 : rng() % (s.size() + 1)), char(rng() % 256));
        break;
      case 2:  // delete a range
        if (!s.empty()) {
          const auto at = rng() % s.size();
          s.erase(at, 1 + rng() % std::min<std::size_t>(8, s.size() - at));
        }
        break;
      case 3: {  // splice from another seed
        const auto& o = pool[rng() % pool.size()];
        if (!o.empty()) s.insert(rng() % (s.size() + 1), o.substr(rng() % o.size(), 1 + rng() % 16));
        break;
      }
      case 4:  // an interesting byte: quotes, separators, UTF-8 lead bytes, NUL
        s.insert(rng() % (s.size() + 1), 1, "\"';,\t\n\r\xC3\xC2\xE2\xC5\x00\xFF"[rng() % 14]);
        break;
      default:  // duplicate a chunk
        if (!s.empty()) {
          const auto at = rng() % s.size();
          s.insert(at, s.substr(at, 1 + rng() % 32));
        }
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 20000;
  std::uint64_t seed = 1;
  std::vector<std::string> pool{""};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::stol(argv[++i]);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::stoull(argv[++i]);
    else if (std::filesystem::is_directory(argv[i]))
      for (const auto& f : std::filesystem::directory_iterator(argv[i])) {
        std::ifstream in(f.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        pool.push_back(ss.str());
      }
  }
  for (const auto& s : pool) run(s);
  std::mt19937_64 rng(seed);
  for (long i = 0; i < runs; ++i) run(mutate(pool[rng() % pool.size()], pool, rng));
  std::printf("%zu seeds and %ld mutations: no failure\n", pool.size(), runs);
  return 0;
}
