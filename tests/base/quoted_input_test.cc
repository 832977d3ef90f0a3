#include "base/quoted_input.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace equifl {
namespace {

TEST(QuotedInputTest, QuotesShortTextAsItIs) {
  EXPECT_EQ(QuoteInput("female"), "'female'");
  EXPECT_EQ(QuoteInput(""), "''");
  EXPECT_EQ(QuoteInput("Fran\xC3\xA7"
                       "ais"),
            "'Fran\xC3\xA7"
            "ais'");
}

TEST(QuotedInputTest, EscapesControlCharactersQuotesAndBytesThatAreNotUtf8) {
  EXPECT_EQ(QuoteInput("it's a\\b"), "'it\\'s a\\\\b'");
  EXPECT_EQ(QuoteInput("a\nb\tc\rd"), "'a\\nb\\tc\\rd'");
  EXPECT_EQ(QuoteInput(std::string("\x1b[31m\x7f\0", 7)), "'\\x1b[31m\\x7f\\x00'");
  EXPECT_EQ(QuoteInput("caf\xE9"), "'caf\\xe9'");
  EXPECT_EQ(QuoteInput("\xC2\x85"), "'\\xc2\\x85'");  // U+0085, a C1 control
}

TEST(QuotedInputTest, KeepsAPrefixOfLongInputAndSaysHowLongItWas) {
  const std::string id(10240, 'a');
  EXPECT_EQ(QuoteInput(id), "'" + std::string(80, 'a') + "'... (10240 bytes)");
  EXPECT_EQ(QuoteInput("abcdef", 3), "'abc'... (6 bytes)");
  EXPECT_EQ(QuoteInput("abc", 3), "'abc'");
  // A character that does not fit whole is left out, not cut.
  EXPECT_EQ(QuoteInput("ab\xE6\x97\xA5", 4), "'ab'... (5 bytes)");
  // The bound is on input bytes, so the output is bounded however it is escaped.
  EXPECT_LE(QuoteInput(std::string(1 << 20, '\xFF')).size(), 4 * kQuotedInputBytes + 32);
}

TEST(QuotedInputTest, ShowsTextWithItsOwnSyntaxUnquotedButBounded) {
  EXPECT_EQ(ShowInput("[1, \"a\\n\"]"), "[1, \"a\\n\"]");
  EXPECT_EQ(ShowInput("{'a':\n1}"), "{'a':\\n1}");
  EXPECT_EQ(ShowInput(std::string(100, '7'), 2), "77... (100 bytes)");
}

TEST(QuotedInputTest, ListsAtMostTheFirstItems) {
  const std::vector<std::string> few = {"a", "b"};
  EXPECT_EQ(QuoteInputs(few), "'a', 'b'");
  std::vector<std::string> many;
  for (int index = 0; index < 1000; ++index) many.push_back(std::to_string(index));
  EXPECT_EQ(QuoteInputs(many, 3), "'0', '1', '2', ... (1000 in all)");
  EXPECT_EQ(QuoteInputs({}), "");
}

}  // namespace
}  // namespace equifl
