// Shard -> client::Dataset: views of the mapped file where rows are contiguous,
// gathered copies where not, present as bool.
#include "client/shard_dataset.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "tests/client/shard_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::client::testing::SmallShard;
using ::equifl::client::testing::WriteUnchecked;
using ::equifl::test::IsOk;

template <typename T>
std::vector<T> ToVector(const at::Tensor& tensor) {
  const at::Tensor contiguous = tensor.contiguous();
  return std::vector<T>(contiguous.data_ptr<T>(), contiguous.data_ptr<T>() + contiguous.numel());
}

TEST(ShardDatasetTest, ContiguousSplitIsAViewOfTheMappedFile) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  const ShardData data = SmallShard();
  ASSERT_THAT(WriteShard(folder.string(), data), IsOk());
  absl::StatusOr<Shard> shard = Shard::Open(folder.string());
  ASSERT_THAT(shard, IsOk());

  absl::StatusOr<Dataset> validation = DatasetFromShard(*shard, Split::kValidation);
  ASSERT_THAT(validation, IsOk());
  EXPECT_THAT(validation->Validate(), IsOk());
  EXPECT_EQ(validation->size(), 2);
  // Rows 3 and 4, without a copy.
  const at::Tensor& video = validation->modalities[0].values;
  EXPECT_EQ(video.sizes(), (std::vector<int64_t>{2, 3, 2}));
  EXPECT_EQ(video.data_ptr<float>(), shard->columns().features[0].data() + 3 * 6);
  EXPECT_EQ(validation->label.data_ptr<int64_t>(), shard->columns().label.data() + 3);
  EXPECT_EQ(ToVector<float>(video)[0], data.features[0][18]);
  EXPECT_EQ(ToVector<int64_t>(validation->modalities[0].lengths), (std::vector<int64_t>{1, 3}));
  EXPECT_FALSE(validation->modalities[1].lengths.defined());
  EXPECT_EQ(validation->modalities[1].values.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(validation->present.scalar_type(), at::kBool);
  EXPECT_EQ(ToVector<bool>(validation->present), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(ToVector<int64_t>(validation->group), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(ToVector<int64_t>(validation->language), (std::vector<int64_t>{1, 0}));

  absl::StatusOr<Dataset> all = DatasetFromShard(*shard);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 6);
  EXPECT_EQ(ToVector<int64_t>(all->label), data.label);
  EXPECT_EQ(ToVector<float>(all->modalities[1].values), data.features[1]);

  // Select copies, so its tensors are writable.
  Dataset picked = all->Select(at::tensor(std::vector<int64_t>{5, 0}));
  picked.label.add_(1);
  EXPECT_EQ(ToVector<int64_t>(picked.label), (std::vector<int64_t>{3, 1}));
}

// Float16 features and uint8 images stay as stored: views of the mapped file, the
// model widens each batch.
TEST(ShardDatasetTest, Float16AndImagesAreViewsOfTheMappedFile) {
  const equifl::test::TemporaryFolder temporary("shard");
  ShardData data = SmallShard();
  data.manifest.modalities[0].precision = FeaturePrecision::kFloat16;
  data.halves.assign(2, {});
  data.halves[0].assign(data.features[0].size(), 0x3C00);  // 1.0
  data.features[0].clear();
  data.manifest.modalities[1] = {
      .name = "clips", .kind = ModalityKind::kImages, .frames = 1, .dim = 2};
  data.features[1].clear();
  data.images.assign(2, {});
  for (int value = 0; value < 6 * 2 * 2 * 3; ++value) {
    data.images[1].push_back(static_cast<uint8_t>(value));
  }
  data.lengths[1] = {1, 1, 1, 1, 1, 1};
  ASSERT_THAT(WriteShard(temporary.path().string(), data), IsOk());
  absl::StatusOr<Shard> shard = Shard::Open(temporary.path().string());
  ASSERT_THAT(shard, IsOk());
  absl::StatusOr<Dataset> validation = DatasetFromShard(*shard, Split::kValidation);
  ASSERT_THAT(validation, IsOk());
  const at::Tensor& video = validation->modalities[0].values;
  EXPECT_EQ(video.scalar_type(), at::kHalf);
  EXPECT_EQ(static_cast<const void*>(video.data_ptr()),
            static_cast<const void*>(shard->columns().halves[0].data() + 3 * 6));
  EXPECT_EQ(video.to(at::kFloat).sum().item<float>(), 2 * 3 * 2);
  const at::Tensor& clips = validation->modalities[1].values;
  EXPECT_EQ(clips.scalar_type(), at::kByte);
  EXPECT_EQ(clips.sizes(), (std::vector<int64_t>{2, 1, 2, 2, 3}));
  EXPECT_EQ(clips.data_ptr<uint8_t>(), shard->columns().images[1].data() + 3 * 12);
}

TEST(ShardDatasetTest, InterleavedSplitsAreGathered) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  ShardData data = SmallShard();
  data.split = {0, 1, 0, 2, 1, 0};
  WriteUnchecked(folder.string(), data);
  absl::StatusOr<Shard> shard = Shard::Open(folder.string());
  ASSERT_THAT(shard, IsOk());
  absl::StatusOr<Dataset> train = DatasetFromShard(*shard, Split::kTrain);
  ASSERT_THAT(train, IsOk());
  EXPECT_THAT(train->Validate(), IsOk());
  EXPECT_EQ(ToVector<int64_t>(train->label), (std::vector<int64_t>{0, 2, 2}));
  EXPECT_EQ(ToVector<int64_t>(train->modalities[0].lengths), (std::vector<int64_t>{3, 0, 3}));
  const std::vector<float> text = ToVector<float>(train->modalities[1].values);
  EXPECT_EQ(text[4], data.features[1][2 * 4]);  // row 2
  EXPECT_EQ(text[8], data.features[1][5 * 4]);  // row 5
  EXPECT_EQ(ToVector<bool>(train->present),
            (std::vector<bool>{true, true, false, true, true, true}));
}

TEST(ShardDatasetTest, EmptySplitGivesAnEmptyDataset) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  ShardData data = SmallShard();
  data.split = {0, 0, 0, 0, 1, 1};
  data.CountSamples();
  ASSERT_THAT(WriteShard(folder.string(), data), IsOk());
  absl::StatusOr<Shard> shard = Shard::Open(folder.string());
  ASSERT_THAT(shard, IsOk());
  absl::StatusOr<Dataset> test = DatasetFromShard(*shard, Split::kTest);
  ASSERT_THAT(test, IsOk());
  EXPECT_EQ(test->size(), 0);
  EXPECT_THAT(test->Validate(), IsOk());
}

}  // namespace
}  // namespace equifl::client
