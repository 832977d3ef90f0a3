// The ChaCha20 block function (RFC 8439, section 2.3) for host and device code.
//
// Secure aggregation's masks are ChaCha20 keystreams. On CPUs OpenSSL generates
// them (aggregation/secure/mask_stream.h); GPU clients expand them in a CUDA kernel
// (aggregation/secure/mask_stream_cuda.h) that calls this function, so both must give
// the same words: tests compare this function with OpenSSL and with the RFC's
// test vectors on the CPU, where every build can run them.
#ifndef EQUIFL_AGGREGATION_SECURE_CHACHA20_BLOCK_H_
#define EQUIFL_AGGREGATION_SECURE_CHACHA20_BLOCK_H_

#include <cstdint>

#if defined(__CUDACC__)
#define EQUIFL_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define EQUIFL_HOST_DEVICE inline
#endif

namespace equifl::aggregation::chacha20 {

//! 32-bit words per 64-byte block.
inline constexpr int kBlockWords = 16;

EQUIFL_HOST_DEVICE uint32_t RotateLeft(uint32_t value, int count) {
  return (value << count) | (value >> (32 - count));
}

EQUIFL_HOST_DEVICE void QuarterRound(uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d) {
  a += b;
  d = RotateLeft(d ^ a, 16);
  c += d;
  b = RotateLeft(b ^ c, 12);
  a += b;
  d = RotateLeft(d ^ a, 8);
  c += d;
  b = RotateLeft(b ^ c, 7);
}

//! Block `counter` of the keystream of `key` (the 32-byte key as 8 little-endian
//! words) and `nonce` (3 little-endian words) into `out`: the 64 keystream bytes
//! read as 16 little-endian words.
EQUIFL_HOST_DEVICE void Block(const uint32_t key[8], uint32_t counter, const uint32_t nonce[3],
                              uint32_t out[kBlockWords]) {
  uint32_t state[kBlockWords] = {0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u, key[0], key[1],
                                 key[2],      key[3],      key[4],      key[5],      key[6], key[7],
                                 counter,     nonce[0],    nonce[1],    nonce[2]};
  uint32_t working[kBlockWords];
  for (int i = 0; i < kBlockWords; ++i) working[i] = state[i];
  for (int double_round = 0; double_round < 10; ++double_round) {
    QuarterRound(working[0], working[4], working[8], working[12]);
    QuarterRound(working[1], working[5], working[9], working[13]);
    QuarterRound(working[2], working[6], working[10], working[14]);
    QuarterRound(working[3], working[7], working[11], working[15]);
    QuarterRound(working[0], working[5], working[10], working[15]);
    QuarterRound(working[1], working[6], working[11], working[12]);
    QuarterRound(working[2], working[7], working[8], working[13]);
    QuarterRound(working[3], working[4], working[9], working[14]);
  }
  for (int i = 0; i < kBlockWords; ++i) out[i] = working[i] + state[i];
}

//! Block `block` of the sum of `streams` masks (keys: 8 words per mask, as for
//! Block; subtract: 1 where the mask is subtracted), into `sum`: what the CUDA
//! kernel adds to words [16·block, 16·block + 16) of a vector.
EQUIFL_HOST_DEVICE void MaskBlockSum(const uint32_t* keys, const uint8_t* subtract, int streams,
                                     uint64_t block, uint32_t sum[kBlockWords]) {
  const uint32_t nonce[3] = {0, 0, 0};
  for (int i = 0; i < kBlockWords; ++i) sum[i] = 0;
  for (int stream = 0; stream < streams; ++stream) {
    uint32_t out[kBlockWords];
    Block(keys + 8 * stream, static_cast<uint32_t>(block), nonce, out);
    if (subtract[stream]) {
      for (int i = 0; i < kBlockWords; ++i) sum[i] -= out[i];
    } else {
      for (int i = 0; i < kBlockWords; ++i) sum[i] += out[i];
    }
  }
}

}  // namespace equifl::aggregation::chacha20

#endif  // EQUIFL_AGGREGATION_SECURE_CHACHA20_BLOCK_H_
