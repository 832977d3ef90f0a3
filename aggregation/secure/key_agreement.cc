#include "aggregation/secure/key_agreement.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>

#include "aggregation/secure/internal/openssl_error.h"
#include "base/status_macros.h"

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
struct KdfContextDeleter {
  void operator()(EVP_KDF_CTX* context) const { EVP_KDF_CTX_free(context); }
};
using KdfContext = std::unique_ptr<EVP_KDF_CTX, KdfContextDeleter>;

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

absl::StatusOr<X25519PrivateKey> X25519PrivateKey::Load(const Key32& private_key) {
  std::shared_ptr<EVP_PKEY> key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(),
                                   private_key.size()),
      PkeyDeleter());
  if (key == nullptr) return OpenSslError("loading an X25519 private key");
  EQUIFL_ASSIGN_OR_RETURN(Key32 public_key, RawPublicKey(key.get()));
  return X25519PrivateKey(std::move(key), public_key);
}

absl::StatusOr<Key32> X25519PrivateKey::Agree(const Key32& peer_public_key) const {
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public_key.data(),
                                        peer_public_key.size()));
  if (peer == nullptr) return OpenSslError("loading an X25519 public key");
  PkeyContext context(EVP_PKEY_CTX_new(key_.get(), nullptr));
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
  // Fetched once: looking HKDF up in the provider on every call cost as much as
  // the derivation (the server derives one key per mask it removes).
  static EVP_KDF* const hkdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (hkdf == nullptr) return OpenSslError("fetching HKDF");
  KdfContext context(EVP_KDF_CTX_new(hkdf));
  char digest[] = "SHA256";
  const OSSL_PARAM parameters[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(input_key.data()),
                                        input_key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  Key32 derived;
  if (context == nullptr ||
      EVP_KDF_derive(context.get(), derived.data(), derived.size(), parameters) != 1) {
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
