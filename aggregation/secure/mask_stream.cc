#include "aggregation/secure/mask_stream.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/chacha20_block.h"
#include "aggregation/secure/internal/openssl_error.h"

namespace equifl::aggregation {
namespace {

using internal::OpenSslError;

// 16,384 words (64 KiB): a tile, its keystream and the zeros OpenSSL encrypts
// stay in the L2 cache together, and re-keying OpenSSL costs under 2% per tile.
constexpr size_t kTileWords = 16384;
constexpr uint64_t kMaxWords = uint64_t{1} << 36;

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

// Generates keystream words of one key at a time through one OpenSSL context.
class KeystreamGenerator {
 public:
  absl::Status Init() {
    context_.reset(EVP_CIPHER_CTX_new());
    // The cipher is set once: re-keying with it named again would fetch it anew
    // from the provider every tile.
    if (context_ == nullptr ||
        EVP_EncryptInit_ex(context_.get(), EVP_chacha20(), nullptr, nullptr, nullptr) != 1) {
      return OpenSslError("creating a ChaCha20 context");
    }
    zeros_.assign(kTileWords * sizeof(uint32_t), 0);
    return absl::OkStatus();
  }

  // Words [first_word, first_word + out.size()) of `key`'s mask; first_word is a
  // multiple of 16 and out.size() at most kTileWords.
  absl::Status Generate(const Key32& key, uint64_t first_word, std::span<uint32_t> out) {
    // OpenSSL's ChaCha20 IV: the 32-bit block counter (little-endian), then the
    // 96-bit nonce (zero).
    uint8_t iv[16] = {};
    const uint64_t block = first_word / chacha20::kBlockWords;
    for (int byte = 0; byte < 4; ++byte) iv[byte] = static_cast<uint8_t>(block >> (8 * byte));
    if (EVP_EncryptInit_ex(context_.get(), nullptr, nullptr, key.data(), iv) != 1) {
      return OpenSslError("starting ChaCha20");
    }
    int written = 0;
    const int bytes = static_cast<int>(out.size() * sizeof(uint32_t));
    if (EVP_EncryptUpdate(context_.get(), reinterpret_cast<uint8_t*>(out.data()), &written,
                          zeros_.data(), bytes) != 1 ||
        written != bytes) {
      return OpenSslError("generating a ChaCha20 keystream");
    }
    if constexpr (std::endian::native != std::endian::little) {
      for (uint32_t& word : out) word = __builtin_bswap32(word);
    }
    return absl::OkStatus();
  }

 private:
  CipherContext context_;
  std::vector<uint8_t> zeros_;
};

// Applies every stream to words [begin, end) of `words` (begin a multiple of 16).
absl::Status ApplyRange(std::span<const MaskStream> streams, std::span<uint32_t> words,
                        size_t begin, size_t end) {
  KeystreamGenerator generator;
  if (absl::Status status = generator.Init(); !status.ok()) return status;
  std::vector<uint32_t> keystream(kTileWords);
  for (size_t tile = begin; tile < end; tile += kTileWords) {
    const size_t length = std::min(kTileWords, end - tile);
    uint32_t* target = words.data() + tile;
    for (const MaskStream& stream : streams) {
      std::span<uint32_t> mask(keystream.data(), length);
      if (absl::Status status = generator.Generate(stream.key, tile, mask); !status.ok()) {
        return status;
      }
      if (stream.subtract) {
        for (size_t i = 0; i < length; ++i) target[i] -= mask[i];
      } else {
        for (size_t i = 0; i < length; ++i) target[i] += mask[i];
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyMasks(std::span<const MaskStream> streams, std::span<uint32_t> words,
                        int threads) {
  if (words.size() > kMaxWords) {
    return absl::InvalidArgumentError(
        absl::StrCat("a masked vector of ", words.size(), " words is longer than 2^36"));
  }
  if (threads < 0) return absl::InvalidArgumentError("threads must be 0 (every core) or more");
  if (streams.empty() || words.empty()) return absl::OkStatus();
  if (threads == 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // Ranges of whole tiles, at least one tile per thread.
  const size_t tiles = (words.size() + kTileWords - 1) / kTileWords;
  const size_t workers = std::min<size_t>(static_cast<size_t>(threads), tiles);
  if (workers <= 1) return ApplyRange(streams, words, 0, words.size());
  std::vector<absl::Status> results(workers);
  std::vector<std::thread> pool;
  for (size_t worker = 0; worker < workers; ++worker) {
    const size_t begin = std::min(words.size(), tiles * worker / workers * kTileWords);
    const size_t end = std::min(words.size(), tiles * (worker + 1) / workers * kTileWords);
    pool.emplace_back(
        [&, worker, begin, end] { results[worker] = ApplyRange(streams, words, begin, end); });
  }
  for (std::thread& thread : pool) thread.join();
  for (const absl::Status& result : results) {
    if (!result.ok()) return result;
  }
  return absl::OkStatus();
}

absl::Status MaskWords(const Key32& key, uint64_t first_word, std::span<uint32_t> out) {
  if (first_word % chacha20::kBlockWords != 0) {
    return absl::InvalidArgumentError("first_word must be a multiple of 16");
  }
  if (first_word + out.size() > kMaxWords) {
    return absl::InvalidArgumentError("a mask is at most 2^36 words long");
  }
  KeystreamGenerator generator;
  if (absl::Status status = generator.Init(); !status.ok()) return status;
  for (size_t offset = 0; offset < out.size(); offset += kTileWords) {
    const size_t length = std::min(kTileWords, out.size() - offset);
    if (absl::Status status =
            generator.Generate(key, first_word + offset, out.subspan(offset, length));
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace equifl::aggregation
