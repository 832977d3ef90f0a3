#include "aggregation/secure/key_agreement.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <memory>

#include "aggregation/secure/internal/openssl_error.h"

namespace equifl::aggregation {
namespace {

using internal::OpenSslError;

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyContextDeleter {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, PkeyContextDeleter>;

absl::StatusOr<Key32> RawPublicKey(EVP_PKEY* key) {
  Key32 raw;
  size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &length) != 1 || length != raw.size()) {
    return OpenSslError("reading an X25519 public key");
  }
  return raw;
}

}  // namespace

absl::StatusOr<X25519KeyPair> GenerateX25519KeyPair() {
  PkeyContext context(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* generated = nullptr;
  if (context == nullptr || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_keygen(context.get(), &generated) != 1) {
    return OpenSslError("generating an X25519 key pair");
  }
  Pkey key(generated);
  X25519KeyPair pair;
  size_t length = pair.private_key.size();
  if (EVP_PKEY_get_raw_private_key(key.get(), pair.private_key.data(), &length) != 1 ||
      length != pair.private_key.size()) {
    return OpenSslError("reading an X25519 private key");
  }
  absl::StatusOr<Key32> public_key = RawPublicKey(key.get());
  if (!public_key.ok()) return public_key.status();
  pair.public_key = *public_key;
  return pair;
}

absl::StatusOr<Key32> X25519PublicKey(const Key32& private_key) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(),
                                        private_key.size()));
  if (key == nullptr) return OpenSslError("loading an X25519 private key");
  return RawPublicKey(key.get());
}

absl::StatusOr<Key32> X25519SharedSecret(const Key32& private_key, const Key32& peer_public_key) {
  Pkey own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(),
                                        private_key.size()));
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public_key.data(),
                                        peer_public_key.size()));
  if (own == nullptr || peer == nullptr) return OpenSslError("loading X25519 keys");
  PkeyContext context(EVP_PKEY_CTX_new(own.get(), nullptr));
  Key32 secret;
  size_t length = secret.size();
  if (context == nullptr || EVP_PKEY_derive_init(context.get()) != 1 ||
      EVP_PKEY_derive_set_peer(context.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(context.get(), secret.data(), &length) != 1 || length != secret.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "X25519 key agreement failed: the peer's public key is not a valid X25519 key");
  }
  return secret;
}

absl::StatusOr<Key32> DeriveKey(std::span<const uint8_t> input_key, absl::string_view salt,
                                absl::string_view info) {
  PkeyContext context(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  Key32 derived;
  size_t length = derived.size();
  if (context == nullptr || EVP_PKEY_derive_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(context.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(context.get(), reinterpret_cast<const uint8_t*>(salt.data()),
                                  static_cast<int>(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(context.get(), input_key.data(),
                                 static_cast<int>(input_key.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(context.get(), reinterpret_cast<const uint8_t*>(info.data()),
                                  static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(context.get(), derived.data(), &length) != 1 || length != derived.size()) {
    return OpenSslError("HKDF-SHA256");
  }
  return derived;
}

absl::StatusOr<Key32> RandomKey() {
  Key32 key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return OpenSslError("drawing random bytes");
  }
  return key;
}

}  // namespace equifl::aggregation
