// Quoting what a user or a peer sent inside an error message, bounded and escaped.
//
// An error names the offending value so the user can find it, but the value can be
// a 1 GiB CSV header or a 10 KB client id: echoed whole it floods a terminal, and
// in a gRPC status it exceeds the metadata limit, so the caller sees
// RESOURCE_EXHAUSTED instead of the error. QuoteInput keeps the first
// kQuotedInputBytes bytes, says how long the whole was, and escapes what a
// terminal or a JSON encoder would choke on:
//   'female'   'it\'s'   'caf\xe9' (not UTF-8)   'aaaa'... (10240 bytes)
#ifndef EQUIFL_BASE_QUOTED_INPUT_H_
#define EQUIFL_BASE_QUOTED_INPUT_H_

#include <cstddef>
#include <span>
#include <string>

#include "absl/strings/string_view.h"

namespace equifl {

//! Bytes of an input that QuoteInput keeps by default.
inline constexpr size_t kQuotedInputBytes = 80;
//! Items of a list that QuoteInputs keeps by default.
inline constexpr size_t kQuotedInputItems = 10;

//! `input` in single quotes: at most `max_bytes` of it (never half a UTF-8
//! character), then, if it was longer, "... (N bytes)". Well-formed UTF-8 stays
//! as it is except control characters; those, bytes that are not UTF-8, the quote
//! and the backslash are escaped C-style (\n, \t, \r, \', \\, \xNN).
std::string QuoteInput(absl::string_view input, size_t max_bytes = kQuotedInputBytes);

//! Like QuoteInput, but without the quotes and leaving the quote and the
//! backslash as they are: for text with a syntax of its own, such as a JSON value
//! a parser printed ("[1, 2, 3]").
std::string ShowInput(absl::string_view input, size_t max_bytes = kQuotedInputBytes);

//! The first `max_items` of `items`, each as QuoteInput gives it, joined by ", ",
//! then, if there were more, ", ... (N in all)".
std::string QuoteInputs(std::span<const std::string> items, size_t max_items = kQuotedInputItems);

}  // namespace equifl

#endif  // EQUIFL_BASE_QUOTED_INPUT_H_
