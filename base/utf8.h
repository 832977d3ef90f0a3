// Whether text from a file, a flag or the network is well-formed UTF-8.
//
// Names that end up in JSON (manifests, reports), in gRPC messages or on a
// terminal must be UTF-8: nlohmann::json throws on anything else, and stray bytes
// garble a terminal. Readers check text with FindInvalidUtf8 where it enters, so
// the error can name the row and column it came from. Well-formed means RFC 3629:
// no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
#ifndef EQUIFL_BASE_UTF8_H_
#define EQUIFL_BASE_UTF8_H_

#include <cstddef>
#include <optional>

#include "absl/strings/string_view.h"

namespace equifl {

//! The length (1 to 4) of the well-formed UTF-8 sequence that starts `text`, or 0
//! when `text` is empty or does not start with one.
size_t Utf8SequenceLength(absl::string_view text);

//! The offset of the first byte of `text` that is not part of a well-formed UTF-8
//! sequence, or nullopt when all of `text` is well-formed.
std::optional<size_t> FindInvalidUtf8(absl::string_view text);

}  // namespace equifl

#endif  // EQUIFL_BASE_UTF8_H_
