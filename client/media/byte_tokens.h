// Text as byte-level tokens: the UTF-8 bytes of the text, each shifted past three
// special ids, between a begin and an end token.
//
//   id 0     padding (after a sample's length; never inside it)
//   id 1     begin of text
//   id 2     end of text
//   id b + 3 the byte b (0..255), so the vocabulary has 259 ids
//
// Language-agnostic and without a vocabulary to agree on: English, German and
// Japanese (3 bytes a character) all become tokens the same way, and no client's
// text is needed to build it. (Training a shared subword vocabulary would need
// clients' text pooled in one place, which is exactly what federated learning
// avoids.) A text longer than max_bytes keeps its first max_bytes bytes, cut at a
// character boundary. No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_BYTE_TOKENS_H_
#define EQUIFL_CLIENT_MEDIA_BYTE_TOKENS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace equifl::client {

inline constexpr int32_t kPaddingToken = 0;
inline constexpr int32_t kBeginToken = 1;
inline constexpr int32_t kEndToken = 2;
inline constexpr int32_t kFirstByteToken = 3;
//! Ids in all: the specials and one per byte value.
inline constexpr int64_t kByteVocabulary = kFirstByteToken + 256;

//! How text becomes tokens.
struct ByteTokenOptions {
  int max_bytes = 512;  //!< Longer texts are cut; 1..65536.

  //! OK, or why max_bytes is out of range.
  absl::Status Validate() const;
  //! Tokens a text can take: max_bytes plus begin and end.
  int64_t MaxTokens() const { return int64_t{max_bytes} + 2; }
  //! The definition as one line ("byte-tokens pad=0 begin=1 end=2 byte_offset=3
  //! max_bytes=512"): what a shard manifest records and a run compares.
  std::string Describe() const;
};

//! Tokens of a text, as bytes or as SentencePiece pieces (sentencepiece_tokens.h).
struct TextTokens {
  std::vector<int32_t> ids;  //!< Begin, the bytes (or pieces), end: at most MaxTokens() ids.
  bool clipped = false;      //!< The text was longer than the most that are kept.
};

//! The tokens of `text`, which must be UTF-8 (the cut keeps whole characters).
TextTokens TokenizeBytes(absl::string_view text, const ByteTokenOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_BYTE_TOKENS_H_
