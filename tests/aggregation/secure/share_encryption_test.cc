// ChaCha20-Poly1305 shares: a round trip, and refusal of every altered part.
#include "aggregation/secure/share_encryption.h"

#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;

const Key32 kKey = [] {
  Key32 key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 3 + 1);
  return key;
}();
const ShareEnvelope kEnvelope{"run-a", 4, 2, 7};
const std::vector<uint8_t> kPlaintext = {1, 2, 3, 4, 5, 6, 7, 8, 9};

TEST(ShareEncryptionTest, RoundTrips) {
  absl::StatusOr<std::vector<uint8_t>> sealed = SealShare(kKey, kEnvelope, kPlaintext);
  ASSERT_THAT(sealed, IsOk());
  EXPECT_EQ(sealed->size(), kPlaintext.size() + kShareTagBytes);
  EXPECT_NE(std::vector<uint8_t>(sealed->begin(), sealed->begin() + 9), kPlaintext);
  absl::StatusOr<std::vector<uint8_t>> opened = OpenShare(kKey, kEnvelope, *sealed);
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(*opened, kPlaintext);
}

TEST(ShareEncryptionTest, RefusesAlteredCiphertextKeyOrEnvelope) {
  const std::vector<uint8_t> sealed = *SealShare(kKey, kEnvelope, kPlaintext);
  std::vector<uint8_t> flipped = sealed;
  flipped[3] ^= 1;
  EXPECT_FALSE(OpenShare(kKey, kEnvelope, flipped).ok());
  std::vector<uint8_t> tag_flipped = sealed;
  tag_flipped.back() ^= 0x80;
  EXPECT_FALSE(OpenShare(kKey, kEnvelope, tag_flipped).ok());
  Key32 other_key = kKey;
  other_key[0] ^= 1;
  EXPECT_FALSE(OpenShare(other_key, kEnvelope, sealed).ok());
  for (ShareEnvelope other : {ShareEnvelope{"run-b", 4, 2, 7}, ShareEnvelope{"run-a", 5, 2, 7},
                              ShareEnvelope{"run-a", 4, 7, 2}, ShareEnvelope{"run-a", 4, 2, 8}}) {
    const absl::StatusOr<std::vector<uint8_t>> opened = OpenShare(kKey, other, sealed);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument)
        << other.run_id << " " << other.round_id << " " << other.sender_slot << " "
        << other.recipient_slot;
  }
  EXPECT_FALSE(OpenShare(kKey, kEnvelope, std::vector<uint8_t>(5)).ok());
}

}  // namespace
}  // namespace equifl::aggregation
