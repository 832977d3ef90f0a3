// X25519 key agreement and HKDF-SHA256 key derivation for secure aggregation,
// through OpenSSL.
//
// Every client of a secure round makes two fresh X25519 key pairs (Bonawitz et al.
// 2017): one to encrypt the secret shares it sends its neighbours, one whose
// agreement with each neighbour seeds the pairwise masks. A 32-byte shared secret
// is never used directly: HKDF-SHA256 turns it into a key bound to its purpose,
// the run and the round, so no key serves two rounds or two uses.
#ifndef EQUIFL_AGGREGATION_SECURE_KEY_AGREEMENT_H_
#define EQUIFL_AGGREGATION_SECURE_KEY_AGREEMENT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header.

namespace equifl::aggregation {

//! 32 bytes: an X25519 key, a shared secret, a derived symmetric key or a seed.
using Key32 = std::array<uint8_t, 32>;

//! An X25519 key pair in raw form (RFC 7748 encodings).
struct X25519KeyPair {
  Key32 private_key;
  Key32 public_key;
};

//! A fresh key pair from OpenSSL's CSPRNG.
absl::StatusOr<X25519KeyPair> GenerateX25519KeyPair();

//! An X25519 private key loaded for agreements. Loading computes the public key, a
//! scalar multiplication as costly as an agreement, so a key that agrees with many
//! peers (a client with its k neighbours, the server rebuilding a dropped client's
//! masks) is loaded once. Copies share the loaded key.
class X25519PrivateKey {
 public:
  static absl::StatusOr<X25519PrivateKey> Load(const Key32& private_key);

  //! The public key of this private key.
  const Key32& public_key() const { return public_key_; }

  //! X25519(this key, peer_public_key). Fails for a peer key of small order (the
  //! all-zero shared secret), which an honest peer never sends.
  absl::StatusOr<Key32> Agree(const Key32& peer_public_key) const;

 private:
  X25519PrivateKey(std::shared_ptr<evp_pkey_st> key, const Key32& public_key)
      : key_(std::move(key)), public_key_(public_key) {}

  std::shared_ptr<evp_pkey_st> key_;  //!< OpenSSL's EVP_PKEY.
  Key32 public_key_;
};

//! HKDF-SHA256 (RFC 5869) of `input_key` with `salt` and `info`, 32 bytes long.
absl::StatusOr<Key32> DeriveKey(std::span<const uint8_t> input_key, absl::string_view salt,
                                absl::string_view info);

//! 32 bytes from OpenSSL's CSPRNG.
absl::StatusOr<Key32> RandomKey();

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_KEY_AGREEMENT_H_
