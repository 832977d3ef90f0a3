#include "protocol/internal/streaming_copy.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace equifl::protocol::internal {
namespace {

// Below this size the destination likely stays in cache and memcpy wins.
constexpr size_t kStreamingThreshold = size_t{64} << 10;

#if defined(__x86_64__)
__attribute__((target("avx"))) void StreamingCopyAvx(std::byte* destination,
                                                     const std::byte* source, size_t size) {
  // Align the destination to 32 bytes with an ordinary copy of the head.
  const size_t head = (32 - reinterpret_cast<uintptr_t>(destination) % 32) % 32;
  std::memcpy(destination, source, head);
  size_t i = head;
  for (; i + 128 <= size; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(source + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(source + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(source + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(source + i + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(destination + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(destination + i + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(destination + i + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(destination + i + 96), d);
  }
  _mm_sfence();
  std::memcpy(destination + i, source + i, size - i);
}
#endif

}  // namespace

void StreamingCopy(void* destination, const void* source, size_t size) {
#if defined(__x86_64__)
  static const bool has_avx = __builtin_cpu_supports("avx");
  if (has_avx && size >= kStreamingThreshold) {
    StreamingCopyAvx(static_cast<std::byte*>(destination), static_cast<const std::byte*>(source),
                     size);
    return;
  }
#endif
  std::memcpy(destination, source, size);
}

}  // namespace equifl::protocol::internal
