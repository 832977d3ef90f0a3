#include "app/predictions_csv.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::app {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

std::string Read(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class PredictionsCsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("predictions_csv_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
    // Names an auditor's CSV reader must get back intact: a comma, a quote.
    manifest_.labels = {"calm", "angry, loud"};
    manifest_.groups = {"female", "say \"hi\""};
    manifest_.languages = {"en", "de"};
    dataset_.label = at::tensor(std::vector<int64_t>{1, 0});
    dataset_.group = at::tensor(std::vector<int64_t>{0, 1});
    dataset_.language = at::tensor(std::vector<int64_t>{1, 0});
    result_.losses = at::tensor(std::vector<double>{0.1053605156578263, 2.302585092994046});
    result_.predictions = at::tensor(std::vector<int64_t>{1, 1});
    result_.probabilities = at::tensor(std::vector<float>{0.1f, 0.9f, 0.1f, 0.9f}).view({2, 2});
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  std::filesystem::path folder_;
  client::ShardManifest manifest_;
  client::Dataset dataset_;
  client::EvaluationResult result_;
};

TEST_F(PredictionsCsvTest, WritesARowPerSampleWithQuotedNames) {
  const std::filesystem::path path = folder_ / "predictions.csv";
  absl::StatusOr<PredictionsCsv> csv =
      PredictionsCsv::Create(path.string(), manifest_, "client-007", client::Split::kTest);
  ASSERT_THAT(csv, IsOk());
  ASSERT_THAT(csv->Append("fusion", {4, 9}, dataset_, result_), IsOk());
  ASSERT_THAT(csv->Commit(), IsOk());
  EXPECT_EQ(Read(path),
            "sample,client,split,language,group,view,label,prediction,loss,probability:calm,"
            "\"probability:angry, loud\"\n"
            "4,client-007,test,de,female,fusion,\"angry, loud\",\"angry, loud\","
            "0.1053605156578263,0.100000001,0.899999976\n"
            "9,client-007,test,en,\"say \"\"hi\"\"\",fusion,calm,\"angry, loud\","
            "2.3025850929940459,0.100000001,0.899999976\n");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".partial"));
}

TEST_F(PredictionsCsvTest, AFileNeverCommittedLeavesNothing) {
  const std::filesystem::path path = folder_ / "predictions.csv";
  {
    absl::StatusOr<PredictionsCsv> csv =
        PredictionsCsv::Create(path.string(), manifest_, "client-007", client::Split::kTest);
    ASSERT_THAT(csv, IsOk());
    ASSERT_THAT(csv->Append("fusion", {4, 9}, dataset_, result_), IsOk());
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_TRUE(std::filesystem::exists(path.string() + ".partial"));
    // Rows that do not match the samples are refused.
    EXPECT_FALSE(csv->Append("fusion", {4}, dataset_, result_).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".partial"));
}

TEST_F(PredictionsCsvTest, AFolderThatDoesNotExistIsNamed) {
  const std::string path = (folder_ / "missing" / "predictions.csv").string();
  const absl::StatusOr<PredictionsCsv> csv =
      PredictionsCsv::Create(path, manifest_, "client-007", client::Split::kTest);
  ASSERT_FALSE(csv.ok());
  EXPECT_THAT(csv.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace equifl::app
