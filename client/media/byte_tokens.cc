#include "client/media/byte_tokens.h"

#include "absl/strings/str_cat.h"

namespace equifl::client {

absl::Status ByteTokenOptions::Validate() const {
  if (max_bytes < 1 || max_bytes > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-text-bytes is ", max_bytes, "; it must be in 1..65536"));
  }
  return absl::OkStatus();
}

std::string ByteTokenOptions::Describe() const {
  return absl::StrCat("byte-tokens pad=", kPaddingToken, " begin=", kBeginToken, " end=", kEndToken,
                      " byte_offset=", kFirstByteToken, " max_bytes=", max_bytes);
}

TextTokens TokenizeBytes(absl::string_view text, const ByteTokenOptions& options) {
  TextTokens tokens;
  size_t kept = text.size();
  if (kept > static_cast<size_t>(options.max_bytes)) {
    tokens.clipped = true;
    kept = static_cast<size_t>(options.max_bytes);
    // Back up over continuation bytes (10xxxxxx) so the cut falls between characters.
    while (kept > 0 && (static_cast<unsigned char>(text[kept]) & 0xC0) == 0x80) --kept;
  }
  tokens.ids.reserve(kept + 2);
  tokens.ids.push_back(kBeginToken);
  for (size_t index = 0; index < kept; ++index) {
    tokens.ids.push_back(kFirstByteToken + static_cast<unsigned char>(text[index]));
  }
  tokens.ids.push_back(kEndToken);
  return tokens;
}

}  // namespace equifl::client
