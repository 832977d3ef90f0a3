#include "base/quoted_input.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/utf8.h"

namespace equifl {
namespace {

void AppendEscapedByte(std::string& out, uint8_t byte) {
  absl::StrAppendFormat(&out, "\\x%02x", byte);
}

// Appends at most `max_bytes` of `input`, escaped; the quote and the backslash
// too when `quoted`. Returns the bytes of `input` used.
size_t AppendEscaped(std::string& out, absl::string_view input, size_t max_bytes, bool quoted) {
  size_t at = 0;
  while (at < input.size()) {
    const uint8_t byte = static_cast<uint8_t>(input[at]);
    size_t length = Utf8SequenceLength(input.substr(at));
    if (length == 0) length = 1;  // a byte that is not UTF-8: escaped alone
    if (at + length > max_bytes) break;
    if (length > 1) {
      // U+0080..U+009F (C2 80..C2 9F) are control characters too.
      const bool control = byte == 0xC2 && static_cast<uint8_t>(input[at + 1]) < 0xA0;
      if (control) {
        AppendEscapedByte(out, byte);
        AppendEscapedByte(out, static_cast<uint8_t>(input[at + 1]));
      } else {
        out.append(input.data() + at, length);
      }
    } else if (quoted && (byte == '\'' || byte == '\\')) {
      out.push_back('\\');
      out.push_back(static_cast<char>(byte));
    } else if (byte == '\n') {
      out.append("\\n");
    } else if (byte == '\t') {
      out.append("\\t");
    } else if (byte == '\r') {
      out.append("\\r");
    } else if (byte < 0x20 || byte >= 0x7F) {
      AppendEscapedByte(out, byte);
    } else {
      out.push_back(static_cast<char>(byte));
    }
    at += length;
  }
  return at;
}

void AppendLength(std::string& out, absl::string_view input, size_t used) {
  if (used < input.size()) absl::StrAppend(&out, "... (", input.size(), " bytes)");
}

}  // namespace

std::string QuoteInput(absl::string_view input, size_t max_bytes) {
  std::string out = "'";
  const size_t used = AppendEscaped(out, input, max_bytes, /*quoted=*/true);
  out.push_back('\'');
  AppendLength(out, input, used);
  return out;
}

std::string ShowInput(absl::string_view input, size_t max_bytes) {
  std::string out;
  AppendLength(out, input, AppendEscaped(out, input, max_bytes, /*quoted=*/false));
  return out;
}

std::string QuoteInputs(std::span<const std::string> items, size_t max_items) {
  std::string out;
  for (size_t index = 0; index < items.size() && index < max_items; ++index) {
    absl::StrAppend(&out, index == 0 ? "" : ", ", QuoteInput(items[index]));
  }
  if (items.size() > max_items) absl::StrAppend(&out, ", ... (", items.size(), " in all)");
  return out;
}

}  // namespace equifl
