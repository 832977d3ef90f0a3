// Dataset::Validate and Dataset::Select.
#include "client/model/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/client/synthetic_data.h"
#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;
using testing::MakeSyntheticDataset;
using testing::SyntheticOptions;

Dataset SmallDataset() { return MakeSyntheticDataset({.samples = 10}); }

TEST(DatasetTest, SyntheticDatasetIsValid) {
  const Dataset dataset = SmallDataset();
  EXPECT_EQ(dataset.size(), 10);
  EXPECT_THAT(dataset.Validate(), IsOk());
}

TEST(DatasetTest, EmptyDatasetIsValid) {
  const Dataset dataset = SmallDataset().Select(torch::zeros({0}, torch::kLong));
  EXPECT_EQ(dataset.size(), 0);
  EXPECT_THAT(dataset.Validate(), IsOk());
}

TEST(DatasetTest, ValidateNamesAMissingColumn) {
  Dataset dataset = SmallDataset();
  dataset.group = at::Tensor();
  const absl::Status status = dataset.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'group'"));
}

TEST(DatasetTest, ValidateNamesAColumnOfTheWrongTypeOrLength) {
  Dataset wrong_type = SmallDataset();
  wrong_type.language = wrong_type.language.to(torch::kInt);
  EXPECT_THAT(std::string(wrong_type.Validate().message()), HasSubstr("'language'"));

  Dataset wrong_length = SmallDataset();
  wrong_length.label = wrong_length.label.slice(0, 0, 9);
  // The label column defines N, so now every other column disagrees.
  EXPECT_FALSE(wrong_length.Validate().ok());

  Dataset short_group = SmallDataset();
  short_group.group = short_group.group.slice(0, 0, 9);
  EXPECT_THAT(std::string(short_group.Validate().message()), HasSubstr("'group'"));
}

TEST(DatasetTest, ValidateChecksThePresentMask) {
  Dataset not_bool = SmallDataset();
  not_bool.present = not_bool.present.to(torch::kFloat);
  EXPECT_THAT(std::string(not_bool.Validate().message()), HasSubstr("'present'"));

  Dataset wrong_columns = SmallDataset();
  wrong_columns.present = torch::ones({10, 3}, torch::kBool);
  EXPECT_THAT(std::string(wrong_columns.Validate().message()), HasSubstr("'present'"));
}

TEST(DatasetTest, ValidateChecksModalities) {
  Dataset wrong_rank = SmallDataset();
  wrong_rank.modalities[1].values = torch::zeros({10, 2, 3, 4});
  EXPECT_THAT(std::string(wrong_rank.Validate().message()), HasSubstr("modality 'text'"));

  Dataset wrong_type = SmallDataset();
  wrong_type.modalities[0].values = wrong_type.modalities[0].values.to(torch::kDouble);
  EXPECT_THAT(std::string(wrong_type.Validate().message()), HasSubstr("modality 'video'"));

  Dataset no_lengths = SmallDataset();
  no_lengths.modalities[0].lengths = at::Tensor();
  EXPECT_THAT(std::string(no_lengths.Validate().message()), HasSubstr("video lengths"));
}

TEST(DatasetTest, SelectTakesRowsInTheGivenOrder) {
  const Dataset dataset = SmallDataset();
  const at::Tensor indices = torch::tensor({7, 2, 2, 0}, torch::kLong);
  const Dataset subset = dataset.Select(indices);
  ASSERT_THAT(subset.Validate(), IsOk());
  ASSERT_EQ(subset.size(), 4);
  ASSERT_EQ(subset.modalities.size(), 2u);
  for (int64_t row = 0; row < 4; ++row) {
    const int64_t source = indices[row].item<int64_t>();
    EXPECT_TRUE(
        torch::equal(subset.modalities[0].values[row], dataset.modalities[0].values[source]));
    EXPECT_EQ(subset.modalities[0].lengths[row].item<int64_t>(),
              dataset.modalities[0].lengths[source].item<int64_t>());
    EXPECT_TRUE(
        torch::equal(subset.modalities[1].values[row], dataset.modalities[1].values[source]));
    EXPECT_TRUE(torch::equal(subset.present[row], dataset.present[source]));
    EXPECT_EQ(subset.label[row].item<int64_t>(), dataset.label[source].item<int64_t>());
    EXPECT_EQ(subset.group[row].item<int64_t>(), dataset.group[source].item<int64_t>());
    EXPECT_EQ(subset.language[row].item<int64_t>(), dataset.language[source].item<int64_t>());
  }
  EXPECT_EQ(subset.modalities[0].name, "video");
  EXPECT_FALSE(subset.modalities[1].lengths.defined());
}

}  // namespace
}  // namespace equifl::client
