// A client's side of one secure-aggregation round (secure_round_messages.h gives
// the protocol): its key pairs and self-mask seed, the shares it makes and
// receives, the masks it adds to its input, and the shares it reveals at the end.
//
// Secrets never leave except as encrypted Shamir shares to neighbours and, at the
// end, as the shares the protocol allows: a self-mask seed share only for a
// survivor and a masking-key share only for a client that dropped, never both for
// one client, and nothing at all when fewer clients survive than the round needs.
// One object per client and round; calls go in the protocol's order.
#ifndef EQUIFL_AGGREGATION_SECURE_SECURE_AGGREGATION_CLIENT_H_
#define EQUIFL_AGGREGATION_SECURE_SECURE_AGGREGATION_CLIENT_H_

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/secure/mask_stream.h"
#include "aggregation/secure/secure_round_messages.h"

namespace equifl::aggregation {

class SecureAggregationClient {
 public:
  //! Fresh key pairs and a fresh self-mask seed for `context`.
  static absl::StatusOr<SecureAggregationClient> Create(const SecureRoundContext& context);

  //! The public keys to advertise.
  const SecureKeys& public_keys() const { return public_keys_; }

  //! Shares both secrets over the neighbourhood (its members and this client) with
  //! its threshold and returns one encrypted share per neighbour.
  absl::StatusOr<std::vector<EncryptedShare>> ShareKeys(const Neighbourhood& neighbourhood);

  //! Takes the shares the neighbours that completed ShareKeys sent; only they are
  //! masked with. Fails on a share that does not authenticate or is not from a
  //! neighbour, and when fewer than the threshold (with this client) shared.
  absl::Status ReceiveShares(std::span<const EncryptedShare> shares);

  //! The masks this client adds to its input: its self mask and one pairwise mask
  //! per neighbour that shared, added when its slot is below the neighbour's and
  //! subtracted otherwise.
  absl::StatusOr<std::vector<MaskStream>> Masks() const;

  //! Adds Masks() to `words` (mod 2^32) on the CPU.
  absl::Status Mask(std::span<uint32_t> words, int threads = 1) const;

  //! The shares `request` asks for: of each survivor's self-mask seed and of each
  //! dropped client's masking key. Refuses, revealing nothing, when fewer than
  //! min_survivors survived, when a client is both survivor and dropped, when it
  //! names a client that did not share with this one, or on a second request.
  absl::StatusOr<std::vector<RevealedShare>> Unmask(const UnmaskRequest& request);

  //! This client's slot (after ShareKeys).
  uint32_t slot() const { return neighbourhood_.slot; }

 private:
  struct HeldShares {
    ShamirShare masking_key;
    ShamirShare self_mask_seed;
  };

  SecureAggregationClient() = default;

  SecureRoundContext context_;
  X25519KeyPair encryption_;
  X25519KeyPair masking_;
  Key32 self_mask_seed_{};
  SecureKeys public_keys_;
  Neighbourhood neighbourhood_;
  bool shared_ = false;
  bool received_ = false;
  bool revealed_ = false;
  //! Shares held for each neighbour that shared (and for this client), by slot.
  std::map<uint32_t, HeldShares> held_;
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_SECURE_AGGREGATION_CLIENT_H_
