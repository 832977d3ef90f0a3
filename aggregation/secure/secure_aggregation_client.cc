#include "aggregation/secure/secure_aggregation_client.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/internal/secure_round_keys.h"
#include "aggregation/secure/share_encryption.h"
#include "base/status_macros.h"

namespace equifl::aggregation {
namespace {

// A share's plaintext: sender slot, recipient slot (4 bytes each), then the five
// limbs of the masking-key share and of the self-mask seed share (8 bytes each),
// all little-endian. The point is the recipient's slot + 1.
constexpr size_t kSharePlaintextBytes = 8 + 2 * kShamirLimbs * 8;

void Put(uint64_t value, int bytes, std::vector<uint8_t>& out) {
  for (int byte = 0; byte < bytes; ++byte) out.push_back(static_cast<uint8_t>(value >> (8 * byte)));
}

uint64_t Get(std::span<const uint8_t> in, size_t offset, int bytes) {
  uint64_t value = 0;
  for (int byte = 0; byte < bytes; ++byte)
    value |= static_cast<uint64_t>(in[offset + byte]) << (8 * byte);
  return value;
}

std::vector<uint8_t> SharePlaintext(uint32_t sender, uint32_t recipient, const ShamirShare& key,
                                    const ShamirShare& seed) {
  std::vector<uint8_t> plaintext;
  Put(sender, 4, plaintext);
  Put(recipient, 4, plaintext);
  for (uint64_t value : key.values) Put(value, 8, plaintext);
  for (uint64_t value : seed.values) Put(value, 8, plaintext);
  return plaintext;
}

}  // namespace

absl::StatusOr<SecureAggregationClient> SecureAggregationClient::Create(
    const SecureRoundContext& context) {
  SecureAggregationClient client;
  client.context_ = context;
  EQUIFL_ASSIGN_OR_RETURN(client.encryption_, GenerateX25519KeyPair());
  EQUIFL_ASSIGN_OR_RETURN(client.masking_, GenerateX25519KeyPair());
  EQUIFL_ASSIGN_OR_RETURN(client.self_mask_seed_, RandomKey());
  EQUIFL_ASSIGN_OR_RETURN(Key32 commitment,
                          internal::SelfMaskCommitment(client.self_mask_seed_, context));
  client.public_keys_ = {client.encryption_.public_key, client.masking_.public_key, commitment};
  return client;
}

absl::StatusOr<std::vector<EncryptedShare>> SecureAggregationClient::ShareKeys(
    const Neighbourhood& neighbourhood) {
  if (shared_) return absl::FailedPreconditionError("this client has shared its keys already");
  std::set<uint32_t> slots = {neighbourhood.slot};
  for (const SecurePeer& peer : neighbourhood.neighbours) {
    if (!slots.insert(peer.slot).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("the neighbourhood lists slot ", peer.slot, " twice"));
    }
  }
  const uint32_t members = static_cast<uint32_t>(slots.size());
  if (neighbourhood.threshold < 2 && members > 1) {
    return absl::InvalidArgumentError(
        "a threshold below 2 would hand a secret to any single neighbour");
  }
  if (neighbourhood.threshold > members) {
    return absl::InvalidArgumentError(absl::StrCat("a threshold of ", neighbourhood.threshold,
                                                   " for a neighbourhood of ", members));
  }
  std::vector<uint64_t> points;
  for (uint32_t slot : slots) points.push_back(uint64_t{slot} + 1);
  EQUIFL_ASSIGN_OR_RETURN(std::vector<ShamirShare> key_shares,
                          ShareSecret(masking_.private_key, neighbourhood.threshold, points));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<ShamirShare> seed_shares,
                          ShareSecret(self_mask_seed_, neighbourhood.threshold, points));
  neighbourhood_ = neighbourhood;
  EQUIFL_ASSIGN_OR_RETURN(const X25519PrivateKey encryption,
                          X25519PrivateKey::Load(encryption_.private_key));
  std::vector<EncryptedShare> out;
  for (size_t i = 0; i < points.size(); ++i) {
    const uint32_t recipient = static_cast<uint32_t>(points[i] - 1);
    if (recipient == neighbourhood.slot) {
      held_[recipient] = {key_shares[i], seed_shares[i]};
      continue;
    }
    const auto peer = std::find_if(neighbourhood.neighbours.begin(), neighbourhood.neighbours.end(),
                                   [&](const SecurePeer& p) { return p.slot == recipient; });
    EQUIFL_ASSIGN_OR_RETURN(Key32 key,
                            internal::ShareKey(encryption, peer->keys.encryption, context_));
    const ShareEnvelope envelope{context_.run_id, context_.round_id, neighbourhood.slot, recipient};
    EQUIFL_ASSIGN_OR_RETURN(
        std::vector<uint8_t> ciphertext,
        SealShare(key, envelope,
                  SharePlaintext(neighbourhood.slot, recipient, key_shares[i], seed_shares[i])));
    out.push_back({neighbourhood.slot, recipient, std::move(ciphertext)});
  }
  shared_ = true;
  return out;
}

absl::Status SecureAggregationClient::ReceiveShares(std::span<const EncryptedShare> shares) {
  if (!shared_) return absl::FailedPreconditionError("ReceiveShares before ShareKeys");
  if (received_) return absl::FailedPreconditionError("this client has received its shares");
  std::map<uint32_t, HeldShares> held = held_;
  EQUIFL_ASSIGN_OR_RETURN(const X25519PrivateKey encryption,
                          X25519PrivateKey::Load(encryption_.private_key));
  for (const EncryptedShare& share : shares) {
    const auto peer =
        std::find_if(neighbourhood_.neighbours.begin(), neighbourhood_.neighbours.end(),
                     [&](const SecurePeer& p) { return p.slot == share.sender_slot; });
    if (peer == neighbourhood_.neighbours.end() || share.recipient_slot != neighbourhood_.slot) {
      return absl::InvalidArgumentError(absl::StrCat("a share from slot ", share.sender_slot,
                                                     " to slot ", share.recipient_slot,
                                                     " is not for this client from a neighbour"));
    }
    if (held.count(share.sender_slot) > 0) {
      return absl::InvalidArgumentError(absl::StrCat("two shares from slot ", share.sender_slot));
    }
    EQUIFL_ASSIGN_OR_RETURN(Key32 key,
                            internal::ShareKey(encryption, peer->keys.encryption, context_));
    const ShareEnvelope envelope{context_.run_id, context_.round_id, share.sender_slot,
                                 share.recipient_slot};
    EQUIFL_ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext,
                            OpenShare(key, envelope, share.ciphertext));
    if (plaintext.size() != kSharePlaintextBytes || Get(plaintext, 0, 4) != share.sender_slot ||
        Get(plaintext, 4, 4) != share.recipient_slot) {
      return absl::InvalidArgumentError(
          absl::StrCat("the share from slot ", share.sender_slot, " is malformed"));
    }
    HeldShares entry;
    entry.masking_key.x = entry.self_mask_seed.x = uint64_t{neighbourhood_.slot} + 1;
    for (int limb = 0; limb < kShamirLimbs; ++limb) {
      entry.masking_key.values[limb] = Get(plaintext, 8 + 8 * limb, 8);
      entry.self_mask_seed.values[limb] = Get(plaintext, 8 + 8 * (kShamirLimbs + limb), 8);
    }
    held[share.sender_slot] = entry;
  }
  if (held.size() < neighbourhood_.threshold) {
    return absl::FailedPreconditionError(absl::StrCat(
        "only ", held.size() - 1, " neighbours shared their keys; with this client that is below ",
        "the threshold of ", neighbourhood_.threshold, ", so the round cannot protect its input"));
  }
  held_ = std::move(held);
  received_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MaskStream>> SecureAggregationClient::Masks() const {
  if (!received_) return absl::FailedPreconditionError("masks before the shares were received");
  std::vector<MaskStream> masks;
  EQUIFL_ASSIGN_OR_RETURN(Key32 self, internal::SelfMaskKey(self_mask_seed_, context_));
  masks.push_back({self, false});
  EQUIFL_ASSIGN_OR_RETURN(const X25519PrivateKey masking,
                          X25519PrivateKey::Load(masking_.private_key));
  for (const SecurePeer& peer : neighbourhood_.neighbours) {
    if (held_.count(peer.slot) == 0) continue;  // it dropped before sharing
    EQUIFL_ASSIGN_OR_RETURN(Key32 key,
                            internal::PairwiseMaskKey(masking, peer.keys.masking, context_));
    masks.push_back({key, peer.slot < neighbourhood_.slot});
  }
  return masks;
}

absl::Status SecureAggregationClient::Mask(std::span<uint32_t> words, int threads) const {
  EQUIFL_ASSIGN_OR_RETURN(std::vector<MaskStream> masks, Masks());
  return ApplyMasks(masks, words, threads);
}

absl::StatusOr<std::vector<RevealedShare>> SecureAggregationClient::Unmask(
    const UnmaskRequest& request) {
  if (!received_) return absl::FailedPreconditionError("unmasking before the shares were received");
  if (revealed_) {
    return absl::FailedPreconditionError(
        "this client has revealed its shares for the round; a second request is refused");
  }
  if (request.total_survivors < neighbourhood_.min_survivors) {
    return absl::FailedPreconditionError(
        absl::StrCat("only ", request.total_survivors, " clients survived; the round needs ",
                     neighbourhood_.min_survivors, ", so no share is revealed"));
  }
  std::set<uint32_t> survivors(request.survivors.begin(), request.survivors.end());
  std::vector<RevealedShare> revealed;
  for (uint32_t slot : request.dropped) {
    if (survivors.count(slot) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("slot ", slot, " is named both survivor and dropped; no share is revealed"));
    }
  }
  if (survivors.count(neighbourhood_.slot) == 0) {
    return absl::InvalidArgumentError("the request does not count this client among survivors");
  }
  const auto held_for = [&](uint32_t slot) -> absl::StatusOr<const HeldShares*> {
    const auto found = held_.find(slot);
    if (found == held_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the request names slot ", slot, ", which did not share with this client"));
    }
    return &found->second;
  };
  for (uint32_t slot : survivors) {
    EQUIFL_ASSIGN_OR_RETURN(const HeldShares* held, held_for(slot));
    revealed.push_back({slot, SharedSecret::kSelfMaskSeed, held->self_mask_seed});
  }
  for (uint32_t slot : std::set<uint32_t>(request.dropped.begin(), request.dropped.end())) {
    EQUIFL_ASSIGN_OR_RETURN(const HeldShares* held, held_for(slot));
    revealed.push_back({slot, SharedSecret::kMaskingKey, held->masking_key});
  }
  revealed_ = true;
  return revealed;
}

}  // namespace equifl::aggregation
