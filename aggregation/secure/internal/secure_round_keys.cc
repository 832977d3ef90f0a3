#include "aggregation/secure/internal/secure_round_keys.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::aggregation::internal {
namespace {

constexpr char kSalt[] = "equifl-secure-aggregation-v1";

std::string Info(const char* purpose, const SecureRoundContext& context) {
  return absl::StrCat(purpose, "|", context.run_id, "|", context.round_id);
}

}  // namespace

absl::StatusOr<Key32> PairwiseMaskKey(const X25519PrivateKey& own_masking_key,
                                      const Key32& peer_masking_public_key,
                                      const SecureRoundContext& context) {
  EQUIFL_ASSIGN_OR_RETURN(Key32 secret, own_masking_key.Agree(peer_masking_public_key));
  return DeriveKey(secret, kSalt, Info("pairwise-mask", context));
}

absl::StatusOr<Key32> SelfMaskKey(const Key32& seed, const SecureRoundContext& context) {
  return DeriveKey(seed, kSalt, Info("self-mask", context));
}

absl::StatusOr<Key32> SelfMaskCommitment(const Key32& seed, const SecureRoundContext& context) {
  return DeriveKey(seed, kSalt, Info("self-mask-commitment", context));
}

absl::StatusOr<Key32> ShareKey(const X25519PrivateKey& own_encryption_key,
                               const Key32& peer_encryption_public_key,
                               const SecureRoundContext& context) {
  EQUIFL_ASSIGN_OR_RETURN(Key32 secret, own_encryption_key.Agree(peer_encryption_public_key));
  return DeriveKey(secret, kSalt, Info("share-encryption", context));
}

}  // namespace equifl::aggregation::internal
