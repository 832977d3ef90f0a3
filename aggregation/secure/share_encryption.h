// Authenticated encryption of the secret shares clients send each other through
// the server during secure aggregation: ChaCha20-Poly1305 (RFC 8439) via OpenSSL.
//
// The server routes the shares but must not read them, and a share must not be
// replayed into another round or to another recipient: the key comes from the two
// clients' encryption keys (X25519, then HKDF bound to the run and round), the
// nonce from the sender's and recipient's slots, and the associated data names
// the run, round, sender and recipient. Opening fails on any change.
#ifndef EQUIFL_AGGREGATION_SECURE_SHARE_ENCRYPTION_H_
#define EQUIFL_AGGREGATION_SECURE_SHARE_ENCRYPTION_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aggregation/secure/key_agreement.h"

namespace equifl::aggregation {

//! Who sends a share to whom, in which round: the nonce and associated data.
struct ShareEnvelope {
  std::string run_id;
  uint64_t round_id = 0;
  uint32_t sender_slot = 0;     //!< The sender's slot in the round.
  uint32_t recipient_slot = 0;  //!< The recipient's slot.
};

//! Bytes a ciphertext adds to its plaintext (the Poly1305 tag).
inline constexpr size_t kShareTagBytes = 16;

//! Encrypts `plaintext` under `key` for `envelope`.
absl::StatusOr<std::vector<uint8_t>> SealShare(const Key32& key, const ShareEnvelope& envelope,
                                               std::span<const uint8_t> plaintext);

//! Decrypts what SealShare made with the same key and envelope; fails, saying so,
//! when the ciphertext, key or envelope differ.
absl::StatusOr<std::vector<uint8_t>> OpenShare(const Key32& key, const ShareEnvelope& envelope,
                                               std::span<const uint8_t> ciphertext);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_SHARE_ENCRYPTION_H_
