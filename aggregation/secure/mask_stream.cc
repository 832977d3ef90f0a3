#include "aggregation/secure/mask_stream.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/chacha20_block.h"
#include "aggregation/secure/internal/openssl_error.h"
#include "base/first_error.h"
#include "base/parallel_for.h"
#include "base/status_macros.h"

namespace equifl::aggregation {
namespace {

using internal::OpenSslError;

constexpr size_t kTileWords = 16384;
constexpr size_t kMinTileWords = 2048;
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

// Words per tile: 16,384 (64 KiB), where a tile, its keystream and the zeros
// OpenSSL encrypts stay in the L2 cache together and re-keying costs under 2%; a
// vector too short to give each worker 8 such tiles gets smaller ones (down to
// 2,048 words), so a worker slowed by other work leaves its share to the others.
size_t TileWords(size_t words, size_t workers) {
  const size_t per_worker_eighth = words / (8 * workers);
  const size_t rounded = (per_worker_eighth + chacha20::kBlockWords - 1) / chacha20::kBlockWords *
                         chacha20::kBlockWords;
  return std::clamp<size_t>(rounded, kMinTileWords, kTileWords);
}

// Applies every stream to words [begin, begin + length) (begin a multiple of 16)
// with `keystream` (at least `length` words) as scratch.
absl::Status ApplyTile(std::span<const MaskStream> streams, KeystreamGenerator& generator,
                       std::span<uint32_t> keystream, uint32_t* words, size_t begin,
                       size_t length) {
  uint32_t* target = words + begin;
  const std::span<uint32_t> mask = keystream.first(length);
  for (const MaskStream& stream : streams) {
    EQUIFL_RETURN_IF_ERROR(generator.Generate(stream.key, begin, mask));
    if (stream.subtract) {
      for (size_t i = 0; i < length; ++i) target[i] -= mask[i];
    } else {
      for (size_t i = 0; i < length; ++i) target[i] += mask[i];
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
  // Tiles are independent (ChaCha20 starts at any block) and each applies every
  // stream in order, so the words do not depend on which thread took a tile.
  const size_t workers =
      ParallelWorkers((words.size() + kMinTileWords - 1) / kMinTileWords, threads);
  const size_t tile_words = TileWords(words.size(), workers);
  const size_t tiles = (words.size() + tile_words - 1) / tile_words;
  std::vector<KeystreamGenerator> generators(workers);
  for (KeystreamGenerator& generator : generators) EQUIFL_RETURN_IF_ERROR(generator.Init());
  std::vector<std::vector<uint32_t>> keystreams(workers, std::vector<uint32_t>(tile_words));
  FirstError error;
  ParallelFor(tiles, static_cast<int>(workers), [&](size_t worker, size_t tile) {
    if (error.failed()) return;
    const size_t begin = tile * tile_words;
    const size_t length = std::min(tile_words, words.size() - begin);
    if (absl::Status status =
            ApplyTile(streams, generators[worker], keystreams[worker], words.data(), begin, length);
        !status.ok()) {
      error.Set(std::move(status));
    }
  });
  return error.status();
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
