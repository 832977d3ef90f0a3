// X25519 and HKDF-SHA256 against their RFCs' published test vectors.
#include "aggregation/secure/key_agreement.h"

#include <gtest/gtest.h>

#include "tests/aggregation/secure/test_hex.h"
#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;

// RFC 7748, section 6.1.
const Key32 kAlicePrivate =
    Key32FromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
const Key32 kAlicePublic =
    Key32FromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
const Key32 kBobPrivate =
    Key32FromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
const Key32 kBobPublic =
    Key32FromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
const Key32 kShared =
    Key32FromHex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

TEST(KeyAgreementTest, X25519MatchesRfc7748) {
  const X25519PrivateKey alice = *X25519PrivateKey::Load(kAlicePrivate);
  const X25519PrivateKey bob = *X25519PrivateKey::Load(kBobPrivate);
  EXPECT_EQ(alice.public_key(), kAlicePublic);
  EXPECT_EQ(bob.public_key(), kBobPublic);
  EXPECT_EQ(*alice.Agree(kBobPublic), kShared);
  EXPECT_EQ(*bob.Agree(kAlicePublic), kShared);
  // A loaded key agrees again and again, and its copies agree the same.
  const X25519PrivateKey copy = alice;
  EXPECT_EQ(*alice.Agree(kBobPublic), kShared);
  EXPECT_EQ(*copy.Agree(kBobPublic), kShared);
}

TEST(KeyAgreementTest, GeneratedPairsAgreeAndDiffer) {
  absl::StatusOr<X25519KeyPair> a = GenerateX25519KeyPair();
  absl::StatusOr<X25519KeyPair> b = GenerateX25519KeyPair();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->private_key, b->private_key);
  const X25519PrivateKey loaded_a = *X25519PrivateKey::Load(a->private_key);
  EXPECT_EQ(loaded_a.public_key(), a->public_key);
  EXPECT_EQ(*loaded_a.Agree(b->public_key),
            *X25519PrivateKey::Load(b->private_key)->Agree(a->public_key));
}

TEST(KeyAgreementTest, RefusesASmallOrderPeerKey) {
  // The all-zero point gives the all-zero shared secret (RFC 7748, section 6.1).
  const absl::StatusOr<Key32> secret = X25519PrivateKey::Load(kAlicePrivate)->Agree(Key32{});
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KeyAgreementTest, HkdfMatchesRfc5869TestCase1) {
  // RFC 5869, appendix A.1: L = 42; a 32-byte output is the OKM's first 32 bytes.
  const std::vector<uint8_t> ikm(22, 0x0b);
  const std::vector<uint8_t> salt = FromHex("000102030405060708090a0b0c");
  const std::vector<uint8_t> info = FromHex("f0f1f2f3f4f5f6f7f8f9");
  const absl::StatusOr<Key32> okm =
      DeriveKey(ikm, std::string(salt.begin(), salt.end()), std::string(info.begin(), info.end()));
  ASSERT_THAT(okm, IsOk());
  EXPECT_EQ(*okm, Key32FromHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"));
}

TEST(KeyAgreementTest, HkdfSeparatesPurposes) {
  const std::vector<uint8_t> ikm(32, 7);
  EXPECT_NE(*DeriveKey(ikm, "salt", "a"), *DeriveKey(ikm, "salt", "b"));
  EXPECT_NE(*DeriveKey(ikm, "salt", "a"), *DeriveKey(ikm, "other", "a"));
}

}  // namespace
}  // namespace equifl::aggregation
