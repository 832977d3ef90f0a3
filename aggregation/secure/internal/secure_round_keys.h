// The keys of a secure round derived from X25519 agreements and seeds, shared by
// the client (which masks) and the server (which removes the masks of dropped
// clients and the survivors' self masks). Each is HKDF-SHA256 with its own label,
// the run and the round, so no key serves two purposes or two rounds.
#ifndef EQUIFL_AGGREGATION_SECURE_INTERNAL_SECURE_ROUND_KEYS_H_
#define EQUIFL_AGGREGATION_SECURE_INTERNAL_SECURE_ROUND_KEYS_H_

#include "absl/status/statusor.h"
#include "aggregation/secure/key_agreement.h"
#include "aggregation/secure/secure_round_messages.h"

namespace equifl::aggregation::internal {

//! The ChaCha20 key of the pairwise mask of two clients (either side computes it).
absl::StatusOr<Key32> PairwiseMaskKey(const X25519PrivateKey& own_masking_key,
                                      const Key32& peer_masking_public_key,
                                      const SecureRoundContext& context);

//! The ChaCha20 key of a client's self mask.
absl::StatusOr<Key32> SelfMaskKey(const Key32& seed, const SecureRoundContext& context);

//! What a client advertises to bind its self-mask seed: HKDF-SHA256 of the seed
//! under its own label, one-way, so it reveals nothing of the seed or its mask.
absl::StatusOr<Key32> SelfMaskCommitment(const Key32& seed, const SecureRoundContext& context);

//! The key two clients' shares travel under (either direction).
absl::StatusOr<Key32> ShareKey(const X25519PrivateKey& own_encryption_key,
                               const Key32& peer_encryption_public_key,
                               const SecureRoundContext& context);

}  // namespace equifl::aggregation::internal

#endif  // EQUIFL_AGGREGATION_SECURE_INTERNAL_SECURE_ROUND_KEYS_H_
