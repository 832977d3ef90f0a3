#include "aggregation/secure/share_encryption.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/internal/openssl_error.h"

namespace equifl::aggregation {
namespace {

using internal::OpenSslError;

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

constexpr int kNonceBytes = 12;

void PutLittleEndian(uint64_t value, int bytes, std::vector<uint8_t>& out) {
  for (int byte = 0; byte < bytes; ++byte) out.push_back(static_cast<uint8_t>(value >> (8 * byte)));
}

// The nonce: sender slot, recipient slot (4 bytes each, little-endian), 4 zeros.
// One key serves both directions between two clients; the order of the slots
// keeps their nonces apart.
std::vector<uint8_t> Nonce(const ShareEnvelope& envelope) {
  std::vector<uint8_t> nonce;
  PutLittleEndian(envelope.sender_slot, 4, nonce);
  PutLittleEndian(envelope.recipient_slot, 4, nonce);
  PutLittleEndian(0, 4, nonce);
  return nonce;
}

std::string AssociatedData(const ShareEnvelope& envelope) {
  return absl::StrCat("equifl-secagg-share|", envelope.run_id, "|", envelope.round_id, "|",
                      envelope.sender_slot, "|", envelope.recipient_slot);
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> SealShare(const Key32& key, const ShareEnvelope& envelope,
                                               std::span<const uint8_t> plaintext) {
  CipherContext context(EVP_CIPHER_CTX_new());
  const std::vector<uint8_t> nonce = Nonce(envelope);
  const std::string associated = AssociatedData(envelope);
  std::vector<uint8_t> ciphertext(plaintext.size() + kShareTagBytes);
  int length = 0;
  if (context == nullptr ||
      EVP_EncryptInit_ex(context.get(), EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_AEAD_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(context.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      EVP_EncryptUpdate(context.get(), nullptr, &length,
                        reinterpret_cast<const uint8_t*>(associated.data()),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_EncryptUpdate(context.get(), ciphertext.data(), &length, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(context.get(), ciphertext.data() + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_AEAD_GET_TAG, kShareTagBytes,
                          ciphertext.data() + plaintext.size()) != 1) {
    return OpenSslError("encrypting a share (ChaCha20-Poly1305)");
  }
  return ciphertext;
}

absl::StatusOr<std::vector<uint8_t>> OpenShare(const Key32& key, const ShareEnvelope& envelope,
                                               std::span<const uint8_t> ciphertext) {
  if (ciphertext.size() < kShareTagBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an encrypted share of ", ciphertext.size(), " bytes is too short"));
  }
  const size_t plaintext_size = ciphertext.size() - kShareTagBytes;
  CipherContext context(EVP_CIPHER_CTX_new());
  const std::vector<uint8_t> nonce = Nonce(envelope);
  const std::string associated = AssociatedData(envelope);
  std::vector<uint8_t> plaintext(plaintext_size);
  std::vector<uint8_t> tag(ciphertext.end() - kShareTagBytes, ciphertext.end());
  int length = 0;
  if (context == nullptr ||
      EVP_DecryptInit_ex(context.get(), EVP_chacha20_poly1305(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_AEAD_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(context.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      EVP_DecryptUpdate(context.get(), nullptr, &length,
                        reinterpret_cast<const uint8_t*>(associated.data()),
                        static_cast<int>(associated.size())) != 1 ||
      EVP_DecryptUpdate(context.get(), plaintext.data(), &length, ciphertext.data(),
                        static_cast<int>(plaintext_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_AEAD_SET_TAG, kShareTagBytes, tag.data()) != 1) {
    return OpenSslError("decrypting a share (ChaCha20-Poly1305)");
  }
  if (EVP_DecryptFinal_ex(context.get(), plaintext.data() + length, &length) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "the share from slot ", envelope.sender_slot, " to slot ", envelope.recipient_slot,
        " does not authenticate: it was altered, or is from another round or sender"));
  }
  return plaintext;
}

}  // namespace equifl::aggregation
