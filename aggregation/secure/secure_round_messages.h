// What the clients and the server of a secure-aggregation round tell each other,
// as plain structs (the protocol's wire form is in protocol/equifl/v1; client/ and
// server/ translate).
//
// A round (Bonawitz et al., CCS 2017, honest-but-curious server, with SecAgg+
// neighbourhoods) goes: every selected client advertises two public keys; the
// server gives each one a slot, its neighbours' keys and the threshold t; each
// client sends every neighbour, through the server, an encrypted Shamir share of
// its masking key and of its self-mask seed; each client then uploads its input
// plus its self mask plus a pairwise mask per neighbour that shared (the pairwise
// masks of two survivors cancel in the sum); last, the server names who survived
// and who dropped, and each survivor reveals its shares of the survivors'
// self-mask seeds and of the dropped clients' masking keys, never both for one
// client, so the server can remove exactly the masks that do not cancel. Each
// rebuilt secret is checked against what its owner advertised before any share
// was made (its masking public key, a commitment to its self-mask seed).
#ifndef EQUIFL_AGGREGATION_SECURE_SECURE_ROUND_MESSAGES_H_
#define EQUIFL_AGGREGATION_SECURE_SECURE_ROUND_MESSAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "aggregation/secure/key_agreement.h"
#include "aggregation/secure/shamir_secret_sharing.h"

namespace equifl::aggregation {

//! The round a message belongs to; bound into every derived key and ciphertext.
struct SecureRoundContext {
  std::string run_id;
  uint64_t round_id = 0;
};

//! A client's two public keys of one round, and what binds its self-mask seed.
struct SecureKeys {
  Key32 encryption;  //!< Agrees the keys its shares travel under.
  Key32 masking;     //!< Agrees its pairwise mask seeds.
  //! internal::SelfMaskCommitment of its seed: the seed rebuilt from revealed shares
  //! must match it, as the masking key rebuilt must match `masking`, so a neighbour
  //! that reveals a false share cannot silently change the sum.
  Key32 self_mask_commitment;
};

//! A neighbour as a client learns it.
struct SecurePeer {
  uint32_t slot = 0;  //!< The neighbour's slot; its shares sit at x = slot + 1.
  std::string client_id;
  SecureKeys keys;
};

//! The server's answer to a client's keys once every key is in.
struct Neighbourhood {
  uint32_t slot = 0;                   //!< The client's own slot.
  uint32_t threshold = 0;              //!< Shares that rebuild one of its secrets.
  uint32_t min_survivors = 0;          //!< Masked inputs the round needs to be unmasked.
  std::vector<SecurePeer> neighbours;  //!< Sorted by slot; the client is not among them.
};

//! One client's shares for one neighbour, encrypted for it (share_encryption.h).
struct EncryptedShare {
  uint32_t sender_slot = 0;
  uint32_t recipient_slot = 0;
  std::vector<uint8_t> ciphertext;
};

//! What the server asks a survivor to reveal, about the survivor's neighbourhood.
struct UnmaskRequest {
  std::vector<uint32_t> survivors;  //!< Slots whose self-mask seed shares to reveal.
  std::vector<uint32_t> dropped;    //!< Slots whose masking key shares to reveal.
  uint32_t total_survivors = 0;     //!< Masked inputs the server holds in all.
};

//! Which of a client's two secrets a share belongs to.
enum class SharedSecret { kSelfMaskSeed, kMaskingKey };

//! A share a survivor reveals.
struct RevealedShare {
  uint32_t owner_slot = 0;  //!< Whose secret.
  SharedSecret secret = SharedSecret::kSelfMaskSeed;
  ShamirShare share;  //!< At x = the revealing client's slot + 1.
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_SECURE_ROUND_MESSAGES_H_
