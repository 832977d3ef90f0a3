// The local trainer on CUDA, with and without bfloat16 autocast; skipped where no
// CUDA device is present.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "client/local_trainer.h"
#include "client/model/multimodal_model.h"
#include "tests/client/synthetic_data.h"
#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;

Dataset OnDevice(const Dataset& dataset, const at::Device& device) {
  Dataset moved = dataset;
  for (ModalityFeatures& modality : moved.modalities) {
    modality.values = modality.values.to(device);
    if (modality.lengths.defined()) modality.lengths = modality.lengths.to(device);
  }
  moved.present = moved.present.to(device);
  moved.label = moved.label.to(device);
  moved.group = moved.group.to(device);
  moved.language = moved.language.to(device);
  return moved;
}

class LocalTrainerGpuTest : public ::testing::TestWithParam<bool> {};

TEST_P(LocalTrainerGpuTest, TrainsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const Dataset train = testing::MakeSyntheticDataset({.samples = 384, .seed = 21});
  const Dataset test = testing::MakeSyntheticDataset({.samples = 192, .seed = 22});
  torch::manual_seed(3);
  ModelOptions model_options = testing::SmallModelOptions(EncoderKind::kTransformer);
  model_options.adversary = true;
  absl::StatusOr<MultimodalModel> model = CreateMultimodalModel(model_options);
  ASSERT_THAT(model, IsOk());

  TrainerOptions options;
  options.device = "cuda";
  options.mixed_precision = GetParam();
  options.epochs = 6;
  options.learning_rate = 3e-3;
  options.proximal_mu = 0.01;
  absl::StatusOr<TrainResult> result = Train(*model, train, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(std::isfinite(result->mean_loss));
  for (const at::Tensor& parameter : (*model)->parameters()) {
    EXPECT_TRUE(parameter.is_cuda());
    EXPECT_EQ(parameter.scalar_type(), torch::kFloat);
  }
  // Data may live on the CPU (moved batch by batch) or on the GPU already.
  absl::StatusOr<EvaluationResult> from_cpu = Evaluate(*model, test);
  ASSERT_THAT(from_cpu, IsOk());
  EXPECT_GT(from_cpu->accuracy, 0.8);
  EXPECT_TRUE(from_cpu->losses.device().is_cpu());
  absl::StatusOr<EvaluationResult> from_gpu =
      Evaluate(*model, OnDevice(test, at::Device(at::kCUDA)));
  ASSERT_THAT(from_gpu, IsOk());
  EXPECT_TRUE(torch::equal(from_gpu->predictions, from_cpu->predictions));
  absl::StatusOr<TrainResult> again =
      Train(*model, OnDevice(train, at::Device(at::kCUDA)), options);
  ASSERT_THAT(again, IsOk());
}

INSTANTIATE_TEST_SUITE_P(Precision, LocalTrainerGpuTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Bf16Autocast" : "Fp32"; });

}  // namespace
}  // namespace equifl::client
