// ChaCha20 masks: the block function against RFC 8439, OpenSSL's keystream
// against the block function, and the modular add/subtract of ApplyMasks.
#include "aggregation/secure/mask_stream.h"

#include <gtest/gtest.h>

#include <random>

#include "aggregation/secure/chacha20_block.h"
#include "tests/aggregation/secure/test_hex.h"
#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;

void KeyWords(const Key32& key, uint32_t words[8]) {
  for (int i = 0; i < 8; ++i) {
    words[i] = key[4 * i] | key[4 * i + 1] << 8 | key[4 * i + 2] << 16 |
               static_cast<uint32_t>(key[4 * i + 3]) << 24;
  }
}

// Words [first, first + count) of the mask of `key`, from the block function alone.
std::vector<uint32_t> ReferenceMask(const Key32& key, uint64_t first, size_t count) {
  uint32_t key_words[8];
  KeyWords(key, key_words);
  const uint32_t nonce[3] = {0, 0, 0};
  std::vector<uint32_t> words;
  for (uint64_t word = first; word < first + count; ++word) {
    uint32_t block[chacha20::kBlockWords];
    chacha20::Block(key_words, static_cast<uint32_t>(word / 16), nonce, block);
    words.push_back(block[word % 16]);
  }
  return words;
}

Key32 RandomTestKey(std::mt19937_64& engine) {
  Key32 key;
  for (uint8_t& byte : key) byte = static_cast<uint8_t>(engine());
  return key;
}

TEST(ChaCha20BlockTest, MatchesRfc8439Section232) {
  uint32_t key[8];
  KeyWords(Key32FromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"), key);
  const uint32_t nonce[3] = {0x09000000, 0x4a000000, 0x00000000};
  uint32_t out[16];
  chacha20::Block(key, 1, nonce, out);
  const uint32_t expected[16] = {0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3,
                                 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3,
                                 0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9,
                                 0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i], expected[i]) << "word " << i;
}

TEST(MaskStreamTest, OpenSslKeystreamEqualsTheBlockFunction) {
  std::mt19937_64 engine(1);
  for (uint64_t first : {uint64_t{0}, uint64_t{16}, uint64_t{16384 * 3 + 32}}) {
    const Key32 key = RandomTestKey(engine);
    std::vector<uint32_t> words(40000);
    ASSERT_THAT(MaskWords(key, first, words), IsOk());
    EXPECT_EQ(words, ReferenceMask(key, first, words.size())) << "first word " << first;
  }
}

TEST(MaskStreamTest, ApplyAddsAndSubtractsModulo2To32) {
  std::mt19937_64 engine(2);
  const Key32 a = RandomTestKey(engine);
  const Key32 b = RandomTestKey(engine);
  std::vector<uint32_t> words(50001);
  for (uint32_t& word : words) word = static_cast<uint32_t>(engine());
  const std::vector<uint32_t> original = words;
  const std::vector<MaskStream> streams = {{a, false}, {b, true}};
  ASSERT_THAT(ApplyMasks(streams, words), IsOk());
  const std::vector<uint32_t> mask_a = ReferenceMask(a, 0, words.size());
  const std::vector<uint32_t> mask_b = ReferenceMask(b, 0, words.size());
  for (size_t i = 0; i < words.size(); ++i) {
    ASSERT_EQ(words[i], static_cast<uint32_t>(original[i] + mask_a[i] - mask_b[i])) << i;
  }
  // The same masks with the opposite signs take the vector back.
  ASSERT_THAT(ApplyMasks(std::vector<MaskStream>{{a, true}, {b, false}}, words), IsOk());
  EXPECT_EQ(words, original);
}

TEST(MaskStreamTest, ThreadsGiveTheSameWords) {
  std::mt19937_64 engine(3);
  std::vector<MaskStream> streams;
  for (int i = 0; i < 5; ++i) streams.push_back({RandomTestKey(engine), i % 2 == 1});
  std::vector<uint32_t> one(16384 * 7 + 5, 9);
  std::vector<uint32_t> many = one;
  ASSERT_THAT(ApplyMasks(streams, one, 1), IsOk());
  ASSERT_THAT(ApplyMasks(streams, many, 3), IsOk());
  EXPECT_EQ(one, many);
}

TEST(MaskStreamTest, TheKernelsBlockSumEqualsApplyMasks) {
  // The CUDA kernel adds MaskBlockSum of each block; on the CPU it must give the
  // words ApplyMasks (OpenSSL) adds.
  std::mt19937_64 engine(4);
  std::vector<MaskStream> streams;
  std::vector<uint32_t> keys;
  std::vector<uint8_t> subtract;
  for (int i = 0; i < 5; ++i) {
    streams.push_back({RandomTestKey(engine), i % 3 == 0});
    uint32_t words[8];
    KeyWords(streams.back().key, words);
    keys.insert(keys.end(), words, words + 8);
    subtract.push_back(streams.back().subtract ? 1 : 0);
  }
  std::vector<uint32_t> expected(16 * 700 + 9, 0);
  ASSERT_THAT(ApplyMasks(streams, expected), IsOk());
  for (uint64_t block = 0; block * 16 < expected.size(); ++block) {
    uint32_t sum[chacha20::kBlockWords];
    chacha20::MaskBlockSum(keys.data(), subtract.data(), 5, block, sum);
    for (uint64_t i = 0; i < 16 && block * 16 + i < expected.size(); ++i) {
      ASSERT_EQ(sum[i], expected[block * 16 + i]) << "block " << block << " word " << i;
    }
  }
}

TEST(MaskStreamTest, RefusesAnUnalignedStart) {
  std::vector<uint32_t> words(4);
  EXPECT_EQ(MaskWords(Key32{}, 3, words).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace equifl::aggregation
