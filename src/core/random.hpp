// foldopt: counter-based random numbers, drawn by (seed, stream, global index), so that generated
// data are the same at any number of ranks.
#ifndef FOLDOPT_SRC_CORE_RANDOM_HPP
#define FOLDOPT_SRC_CORE_RANDOM_HPP

#include <cstdint>

namespace foldopt {

/// SplitMix64 finalizer (Steele, Lea, Flood 2014): a bijective mix of 64 bits.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Uniform in [0, 1) from (seed, stream, index).
inline double uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const std::uint64_t h = mix64(mix64(mix64(seed) ^ stream) ^ index);
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace foldopt

#endif
