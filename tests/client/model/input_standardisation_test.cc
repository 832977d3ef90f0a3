// The model's standardisation: its buffers, what it feeds the encoders, and the
// moments a client measures for it (checked against loops over the samples
// written separately here).
#include "client/model/input_standardisation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/model/model_state.h"
#include "client/model/multimodal_model.h"
#include "tests/client/synthetic_data.h"
#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using testing::MakeSyntheticDataset;
using testing::SmallModelOptions;

MultimodalModel MakeModel(const ModelOptions& options) {
  torch::manual_seed(5);
  absl::StatusOr<MultimodalModel> model = CreateMultimodalModel(options);
  EXPECT_THAT(model, IsOk());
  (*model)->eval();
  return *std::move(model);
}

TEST(InputStandardisationTest, BuffersNamedPerFloatModalityStartAsTheIdentity) {
  ModelOptions options = SmallModelOptions();
  options.modalities.push_back({"tokens", ModalityKind::kTokens, 50});
  options.standardise_features = true;
  MultimodalModel model = MakeModel(options);
  std::vector<std::string> names;
  for (const protocol::NamedTensor& tensor : ExportState(*model)) {
    if (absl::StartsWith(tensor.name, "standardisation.")) {
      names.push_back(tensor.name);
      EXPECT_TRUE(torch::equal(tensor.tensor, absl::EndsWith(tensor.name, ".shift")
                                                  ? torch::zeros_like(tensor.tensor)
                                                  : torch::ones_like(tensor.tensor)))
          << tensor.name;
    }
  }
  // Token ids are not standardised.
  EXPECT_EQ(names,
            (std::vector<std::string>{"standardisation.video.shift", "standardisation.video.scale",
                                      "standardisation.text.shift", "standardisation.text.scale"}));
  options.standardise_features = false;
  for (const protocol::NamedTensor& tensor : ExportState(*MakeModel(options))) {
    EXPECT_FALSE(absl::StartsWith(tensor.name, "standardisation.")) << tensor.name;
  }
}

// A model with shift and scale set computes on x what the same model without
// standardisation computes on (x - shift) * scale, in both architectures.
TEST(InputStandardisationTest, TheModelSeesStandardisedFeatures) {
  for (const Architecture architecture : {Architecture::kMultimodal, Architecture::kLinear}) {
    ModelOptions options = SmallModelOptions();
    options.architecture = architecture;
    options.standardise_features = true;
    MultimodalModel standardised = MakeModel(options);
    options.standardise_features = false;
    MultimodalModel plain = MakeModel(options);

    const Dataset data = MakeSyntheticDataset({.samples = 40});
    const at::Tensor video_shift = torch::randn({testing::kVideoDim});
    const at::Tensor video_scale = torch::rand({testing::kVideoDim}) + 0.5;
    const at::Tensor text_shift = torch::randn({testing::kTextDim});
    const at::Tensor text_scale = torch::rand({testing::kTextDim}) + 0.5;
    std::vector<protocol::NamedTensor> state = ExportState(*standardised);
    std::vector<protocol::NamedTensor> plain_state;
    for (protocol::NamedTensor& tensor : state) {
      if (tensor.name == "standardisation.video.shift") tensor.tensor = video_shift;
      if (tensor.name == "standardisation.video.scale") tensor.tensor = video_scale;
      if (tensor.name == "standardisation.text.shift") tensor.tensor = text_shift;
      if (tensor.name == "standardisation.text.scale") tensor.tensor = text_scale;
      if (!absl::StartsWith(tensor.name, "standardisation.")) plain_state.push_back(tensor);
    }
    ASSERT_THAT(LoadState(*standardised, state), IsOk());
    ASSERT_THAT(LoadState(*plain, plain_state), IsOk());

    Dataset by_hand = data;
    by_hand.modalities[0].values = (data.modalities[0].values - video_shift) * video_scale;
    by_hand.modalities[1].values = (data.modalities[1].values - text_shift) * text_scale;
    torch::NoGradGuard no_grad;
    const at::Tensor expected = plain->forward(by_hand).logits;
    const at::Tensor actual = standardised->forward(data).logits;
    EXPECT_TRUE(torch::allclose(actual, expected, 1e-5, 1e-5))
        << ArchitectureName(architecture) << ": " << (actual - expected).abs().max();
    // Without standardisation the raw features give other logits.
    EXPECT_FALSE(torch::allclose(plain->forward(data).logits, expected, 1e-3, 1e-3));
  }
}

// A checkpoint made with standardisation, loaded into a model built without it (or
// the other way round), is refused with the setting to change.
TEST(InputStandardisationTest, AStateThatDisagreesOnStandardisationNamesTheSetting) {
  ModelOptions options = SmallModelOptions();
  options.standardise_features = true;
  MultimodalModel standardised = MakeModel(options);
  options.standardise_features = false;
  MultimodalModel plain = MakeModel(options);
  EXPECT_THAT(LoadState(*plain, ExportState(*standardised)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "set model.standardise_features: true as the run that made it did"));
  EXPECT_THAT(LoadState(*standardised, ExportState(*plain)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "set model.standardise_features: false as the run that made it did"));
}

TEST(InputStandardisationTest, MomentsCountPresentSamplesAndValidFramesOnly) {
  ModelOptions options = SmallModelOptions();
  options.standardise_features = true;
  const Dataset data = MakeSyntheticDataset({.samples = 60, .present_rate = 0.7});
  absl::StatusOr<std::vector<double>> moments = MeasureFeatureMoments(options, data);
  ASSERT_THAT(moments, IsOk());
  const int64_t video_dim = testing::kVideoDim;
  const int64_t text_dim = testing::kTextDim;
  ASSERT_EQ(moments->size(), static_cast<size_t>(2 + 2 * video_dim + 2 * text_dim));

  // The same sums by loops over samples, frames and features.
  const auto present = data.present.accessor<bool, 2>();
  const auto video = data.modalities[0].values.accessor<float, 3>();
  const auto lengths = data.modalities[0].lengths.accessor<int64_t, 1>();
  const auto text = data.modalities[1].values.accessor<float, 2>();
  std::vector<double> expected(moments->size(), 0.0);
  for (int64_t n = 0; n < data.size(); ++n) {
    if (present[n][0]) {
      for (int64_t t = 0; t < lengths[n]; ++t) {
        expected[0] += 1;
        for (int64_t d = 0; d < video_dim; ++d) {
          expected[1 + d] += video[n][t][d];
          expected[1 + video_dim + d] += static_cast<double>(video[n][t][d]) * video[n][t][d];
        }
      }
    }
    if (present[n][1]) {
      const size_t at = 1 + 2 * video_dim;
      expected[at] += 1;
      for (int64_t d = 0; d < text_dim; ++d) {
        expected[at + 1 + d] += text[n][d];
        expected[at + 1 + text_dim + d] += static_cast<double>(text[n][d]) * text[n][d];
      }
    }
  }
  ASSERT_GT(expected[0], 0);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR((*moments)[i], expected[i], 1e-9 * (1 + std::abs(expected[i]))) << "value " << i;
  }

  // Nothing to report without standardisation; a missing modality is named.
  options.standardise_features = false;
  EXPECT_TRUE(MeasureFeatureMoments(options, data)->empty());
  options.standardise_features = true;
  Dataset without_text = data;
  without_text.modalities[1].name = "other";
  EXPECT_THAT(MeasureFeatureMoments(options, without_text).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "no modality 'text'"));
}

}  // namespace
}  // namespace equifl::client
