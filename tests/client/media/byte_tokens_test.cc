#include "client/media/byte_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::ElementsAre;

// English, German and Japanese in one text, by hand: 'H' is 0x48, 'ä' is C3 A4,
// '日' is E6 97 A5; each byte b becomes b + 3 between begin (1) and end (2).
TEST(ByteTokensTest, MixedScriptTextIsItsUtf8Bytes) {
  const TextTokens tokens = TokenizeBytes("Hä日", {});
  EXPECT_THAT(tokens.ids,
              ElementsAre(1, 0x48 + 3, 0xC3 + 3, 0xA4 + 3, 0xE6 + 3, 0x97 + 3, 0xA5 + 3, 2));
  EXPECT_FALSE(tokens.clipped);
  EXPECT_THAT(TokenizeBytes("", {}).ids, ElementsAre(1, 2));
  for (const int32_t id : TokenizeBytes("\xff\x01", {}).ids) EXPECT_LT(id, kByteVocabulary);
  EXPECT_THAT(TokenizeBytes(std::string(1, '\0'), {}).ids, ElementsAre(1, 3, 2));
}

// A cut falls between characters: with room for 4 bytes, "aä日" (1 + 2 + 3 bytes)
// keeps "aä" (3 bytes) rather than half of 日.
TEST(ByteTokensTest, LongTextsAreCutBetweenCharacters) {
  const TextTokens tokens = TokenizeBytes("aä日", {.max_bytes = 4});
  EXPECT_TRUE(tokens.clipped);
  EXPECT_THAT(tokens.ids, ElementsAre(1, 'a' + 3, 0xC3 + 3, 0xA4 + 3, 2));
  EXPECT_THAT(TokenizeBytes("abcdef", {.max_bytes = 4}).ids,
              ElementsAre(1, 'a' + 3, 'b' + 3, 'c' + 3, 'd' + 3, 2));
  EXPECT_EQ(ByteTokenOptions{.max_bytes = 4}.MaxTokens(), 6);
}

TEST(ByteTokensTest, OptionsAndDescription) {
  EXPECT_THAT(ByteTokenOptions{}.Validate(), IsOk());
  EXPECT_THAT(ByteTokenOptions{.max_bytes = 0}.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, "--max-text-bytes is 0"));
  EXPECT_EQ(ByteTokenOptions{}.Describe(),
            "byte-tokens pad=0 begin=1 end=2 byte_offset=3 max_bytes=512");
  EXPECT_EQ(kByteVocabulary, 259);
}

}  // namespace
}  // namespace equifl::client
