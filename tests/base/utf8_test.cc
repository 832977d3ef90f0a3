#include "base/utf8.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace equifl {
namespace {

using namespace std::string_literals;

// Vectors after Markus Kuhn's UTF-8 decoder stress test
// (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt).
TEST(Utf8Test, AcceptsWellFormedSequencesAtTheirBoundaries) {
  for (const std::string& text : {
           ""s,
           "plain ASCII"s,
           "\x00\x7F"s,
           "\xC2\x80"s,          // U+0080, the first two-byte character
           "\xDF\xBF"s,          // U+07FF
           "\xE0\xA0\x80"s,      // U+0800
           "\xED\x9F\xBF"s,      // U+D7FF, just below the surrogates
           "\xEE\x80\x80"s,      // U+E000, just above them
           "\xEF\xBF\xBF"s,      // U+FFFF
           "\xF0\x90\x80\x80"s,  // U+10000
           "\xF4\x8F\xBF\xBF"s,  // U+10FFFF, the last code point
           "Fran\xC3\xA7"
           "ais, \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E, \xF0\x9F\x98\x80"s,
       }) {
    EXPECT_EQ(FindInvalidUtf8(text), std::nullopt) << text;
  }
}

TEST(Utf8Test, FindsTheFirstByteOfAMalformedSequence) {
  const struct {
    std::string text;
    size_t offset;
  } cases[] = {
      {"caf\xE9", 3},           // Latin-1
      {"ab\x80", 2},            // a lone continuation byte
      {"\xC0\xAF", 0},          // overlong '/'
      {"\xC1\xBF", 0},          // overlong U+007F
      {"\xE0\x9F\xBF", 0},      // overlong U+07FF
      {"\xF0\x8F\xBF\xBF", 0},  // overlong U+FFFF
      {"\xED\xA0\x80", 0},      // surrogate U+D800
      {"\xED\xBF\xBF", 0},      // surrogate U+DFFF
      {"\xF4\x90\x80\x80", 0},  // U+110000
      {"\xF5\x80\x80\x80", 0},  // lead byte beyond U+10FFFF
      {"\xFE", 0},              // never in UTF-8
      {"ok \xE2\x82", 3},       // cut short by the end
      {"\xE2\x82(", 0},         // cut short by another character
      {"\xC3\xA7\xC3", 2},      // good, then a lone lead byte
  };
  for (const auto& [text, offset] : cases) {
    EXPECT_EQ(FindInvalidUtf8(text), std::optional<size_t>(offset)) << text;
  }
}

TEST(Utf8Test, SequenceLengthIsZeroForMalformedStarts) {
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("a"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA7x"), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xE6\x97\xA5"), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0u);
}

}  // namespace
}  // namespace equifl
