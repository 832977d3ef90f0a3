// Text as a SentencePiece model's pieces: the ids equal those of Python's
// sentencepiece module (another way into SentencePiece than the spm_encode program
// equifl runs) for English, German and Japanese text, between the model's begin and
// end; long texts keep their first pieces; a model without begin and end ids gives
// the pieces alone; the front end names the model file by its SHA-256 (sha256sum's);
// unreadable and foreign model files, and a missing program, are refused by name.
#include "client/media/sentencepiece_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/client/media/media_programs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;

//! sha256sum's digest of `path`.
std::string Sha256Sum(const std::filesystem::path& path) {
  const std::string command = "sha256sum '" + path.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char digest[65] = {};
  const size_t read = std::fread(digest, 1, 64, pipe);
  pclose(pipe);
  return std::string(digest, read);
}

const std::vector<std::string> kTexts = {"the weather is lovely", "grüß dich, mein Freund",
                                         "今日は良い天気です", "mixed 日本 Park",
                                         "das Wetter ist heute schön und wir gehen im Park"};

class SentencePieceTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::HaveSentencePiecePrograms()) GTEST_SKIP() << test::kNoSentencePiecePrograms;
    ASSERT_TRUE(
        test::TrainSentencePieceModel(folder_.path(), "mixed", test::MixedScriptCorpus(), 80));
  }

  std::filesystem::path Model() const { return folder_.path() / "mixed.model"; }

  test::TemporaryFolder folder_{"sentencepiece"};
};

TEST_F(SentencePieceTokensTest, IdsArePythonsBetweenTheModelsBeginAndEnd) {
  absl::StatusOr<SentencePieceTokenizer> tokenizer =
      SentencePieceTokenizer::Load({.model_path = Model().string()});
  ASSERT_THAT(tokenizer, IsOk());
  const test::PythonPieces reference = test::PythonSentencePiece(Model(), kTexts);
  ASSERT_EQ(reference.ids.size(), kTexts.size());
  EXPECT_EQ(tokenizer->Vocabulary(), reference.pieces);
  EXPECT_EQ(tokenizer->MaxTokens(), 256 + 2);
  absl::StatusOr<std::vector<TextTokens>> tokens = tokenizer->Tokenize(kTexts);
  ASSERT_THAT(tokens, IsOk());
  ASSERT_EQ(tokens->size(), kTexts.size());
  for (size_t index = 0; index < kTexts.size(); ++index) {
    std::vector<int32_t> expected = {reference.begin};
    expected.insert(expected.end(), reference.ids[index].begin(), reference.ids[index].end());
    expected.push_back(reference.end);
    EXPECT_EQ((*tokens)[index].ids, expected) << kTexts[index];
    EXPECT_FALSE((*tokens)[index].clipped);
  }
  EXPECT_EQ(tokenizer->Describe(), "sentencepiece sha256=" + Sha256Sum(Model()) +
                                       " pieces=" + std::to_string(reference.pieces) +
                                       " begin=" + std::to_string(reference.begin) +
                                       " end=" + std::to_string(reference.end) + " max_pieces=256");
  // A line break inside a text is a space to the model.
  absl::StatusOr<std::vector<TextTokens>> broken =
      tokenizer->Tokenize({"the weather\nis lovely", "the weather is lovely"});
  ASSERT_THAT(broken, IsOk());
  EXPECT_EQ((*broken)[0].ids, (*broken)[1].ids);
}

TEST_F(SentencePieceTokensTest, ALongTextKeepsItsFirstPieces) {
  absl::StatusOr<SentencePieceTokenizer> tokenizer =
      SentencePieceTokenizer::Load({.model_path = Model().string(), .max_pieces = 3});
  ASSERT_THAT(tokenizer, IsOk());
  const test::PythonPieces reference = test::PythonSentencePiece(Model(), {kTexts[4]});
  ASSERT_EQ(reference.ids.size(), 1u);
  ASSERT_GT(reference.ids[0].size(), 3u);
  absl::StatusOr<std::vector<TextTokens>> tokens = tokenizer->Tokenize({kTexts[4]});
  ASSERT_THAT(tokens, IsOk());
  const std::vector<int>& pieces = reference.ids[0];
  EXPECT_EQ((*tokens)[0].ids, (std::vector<int32_t>{reference.begin, pieces[0], pieces[1],
                                                    pieces[2], reference.end}));
  EXPECT_TRUE((*tokens)[0].clipped);
  EXPECT_EQ(tokenizer->MaxTokens(), 5);
}

TEST_F(SentencePieceTokensTest, AModelWithoutBeginAndEndGivesThePiecesAlone) {
  const std::string command = std::string("'") + EQUIFL_SPM_TRAIN + "' --input='" +
                              (folder_.path() / "mixed.txt").string() + "' --model_prefix='" +
                              (folder_.path() / "bare").string() +
                              "' --vocab_size=80 --hard_vocab_limit=false --bos_id=-1 --eos_id=-1 "
                              "--character_coverage=1.0 --minloglevel=2 > /dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const std::filesystem::path bare = folder_.path() / "bare.model";
  absl::StatusOr<SentencePieceTokenizer> tokenizer =
      SentencePieceTokenizer::Load({.model_path = bare.string()});
  ASSERT_THAT(tokenizer, IsOk());
  EXPECT_EQ(tokenizer->MaxTokens(), 256);
  EXPECT_THAT(tokenizer->Describe(), ::testing::HasSubstr(" begin=-1 end=-1 "));
  const test::PythonPieces reference = test::PythonSentencePiece(bare, kTexts);
  ASSERT_EQ(reference.ids.size(), kTexts.size());
  absl::StatusOr<std::vector<TextTokens>> tokens = tokenizer->Tokenize(kTexts);
  ASSERT_THAT(tokens, IsOk());
  for (size_t index = 0; index < kTexts.size(); ++index) {
    EXPECT_EQ((*tokens)[index].ids,
              std::vector<int32_t>(reference.ids[index].begin(), reference.ids[index].end()));
  }
}

TEST_F(SentencePieceTokensTest, AnotherModelFileIsAnotherFrontEnd) {
  ASSERT_TRUE(
      test::TrainSentencePieceModel(folder_.path(), "smaller", test::MixedScriptCorpus(), 60));
  absl::StatusOr<SentencePieceTokenizer> first =
      SentencePieceTokenizer::Load({.model_path = Model().string()});
  absl::StatusOr<SentencePieceTokenizer> second =
      SentencePieceTokenizer::Load({.model_path = (folder_.path() / "smaller.model").string()});
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(first->Describe(), second->Describe());
}

TEST_F(SentencePieceTokensTest, UnreadableAndForeignModelsAndAMissingProgramAreRefusedByName) {
  EXPECT_THAT(SentencePieceTokenizer::Load({.model_path = (folder_.path() / "gone.model").string()})
                  .status(),
              StatusIs(absl::StatusCode::kNotFound, "gone.model' cannot be read"));
  std::ofstream(folder_.path() / "text.model") << "this is not a model\n";
  EXPECT_THAT(SentencePieceTokenizer::Load({.model_path = (folder_.path() / "text.model").string()})
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "text.model' is not a model SentencePiece reads"));
  EXPECT_THAT(
      SentencePieceTokenizer::Load({.model_path = Model().string(), .max_pieces = 0}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "--max-text-pieces is 0"));

  const std::string path = std::getenv("PATH");
  ASSERT_EQ(::setenv("PATH", folder_.path().c_str(), 1), 0);
  const absl::Status without =
      SentencePieceTokenizer::Load({.model_path = Model().string()}).status();
  ASSERT_EQ(::setenv("PATH", path.c_str(), 1), 0);
  EXPECT_THAT(without, StatusIs(absl::StatusCode::kFailedPrecondition,
                                "the program spm_export_vocab is not installed"));
}

}  // namespace
}  // namespace equifl::client
