// Model options, encoders, fusion and the multimodal model: shapes, masking of
// padding frames and absent modalities, modality views, and no NaN when nothing
// is present.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>

#include "absl/strings/str_cat.h"
#include "client/model/fusion.h"
#include "client/model/modality_encoder.h"
#include "client/model/model_options.h"
#include "client/model/multimodal_model.h"
#include "tests/client/synthetic_data.h"
#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;
using testing::MakeSyntheticDataset;
using testing::SmallModelOptions;

MultimodalModel MakeModel(const ModelOptions& options, uint64_t seed = 3) {
  torch::manual_seed(seed);
  absl::StatusOr<MultimodalModel> model = CreateMultimodalModel(options);
  EXPECT_THAT(model, IsOk());
  (*model)->eval();
  return *std::move(model);
}

TEST(ModelOptionsTest, SmallOptionsAreValid) {
  EXPECT_THAT(SmallModelOptions().Validate(), IsOk());
}

TEST(ModelOptionsTest, ValidateNamesTheBadField) {
  const auto message_for = [](auto mutate) {
    ModelOptions options = SmallModelOptions();
    mutate(options);
    return std::string(options.Validate().message());
  };
  EXPECT_THAT(message_for([](ModelOptions& o) { o.modalities.clear(); }), HasSubstr("modalities"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.modalities[1].name = "video"; }),
              HasSubstr("'video' appears twice"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.modalities[0].name = "a.b"; }),
              HasSubstr("without '.'"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.modalities[1].input_dim = 0; }),
              HasSubstr("modality 'text' input_dim is 0"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.hidden_size = 0; }), HasSubstr("hidden_size"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.encoder_depth = 0; }),
              HasSubstr("encoder_depth"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.conv_kernel_size = 4; }),
              HasSubstr("conv_kernel_size"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.attention_heads = 3; }),
              HasSubstr("a divisor of hidden_size"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.dropout = 1.0; }), HasSubstr("dropout"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.num_classes = 1; }), HasSubstr("num_classes"));
  EXPECT_THAT(message_for([](ModelOptions& o) {
                o.adversary = true;
                o.num_groups = 1;
              }),
              HasSubstr("num_groups"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.adversary_lambda = -1; }),
              HasSubstr("adversary_lambda"));
  EXPECT_THAT(message_for([](ModelOptions& o) { o.encoder = static_cast<EncoderKind>(9); }),
              HasSubstr("allowed: conv, transformer"));
}

TEST(ModelOptionsTest, KindsParseAndPrint) {
  EXPECT_EQ(*ParseFusionKind("concat"), FusionKind::kConcat);
  EXPECT_EQ(FusionKindName(FusionKind::kCrossAttention), "cross_attention");
  EXPECT_EQ(*ParseEncoderKind("transformer"), EncoderKind::kTransformer);
  EXPECT_EQ(*ParseModalityKind("vector"), ModalityKind::kVector);
  EXPECT_THAT(std::string(ParseEncoderKind("lstm").status().message()),
              HasSubstr("'lstm'; allowed values: conv, transformer"));
}

TEST(ModelTest, CreateRefusesInvalidOptions) {
  ModelOptions options = SmallModelOptions();
  options.hidden_size = -4;
  EXPECT_EQ(CreateMultimodalModel(options).status().code(), absl::StatusCode::kInvalidArgument);
}

// Padding frames (at or beyond a sample's length) must not change an encoder's output.
class SequenceEncoderMaskingTest : public ::testing::TestWithParam<EncoderKind> {};

TEST_P(SequenceEncoderMaskingTest, PaddingFramesDoNotChangeTheOutput) {
  ModelOptions options = SmallModelOptions(GetParam());
  torch::manual_seed(5);
  std::shared_ptr<ModalityEncoderImpl> encoder =
      MakeModalityEncoder(options.modalities[0], options);
  encoder->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor values = torch::randn({4, 7, testing::kVideoDim});
  const at::Tensor lengths = torch::tensor({7, 3, 1, 0}, torch::kLong);
  const at::Tensor padding = FrameMask(lengths, 7).logical_not().unsqueeze(-1);
  const at::Tensor changed = torch::where(padding, 1000 * torch::randn_like(values), values);
  const at::Tensor nan_padded = values.masked_fill(padding, std::nan(""));

  const at::Tensor reference = encoder->forward(values, lengths);
  ASSERT_EQ(reference.sizes(), (std::vector<int64_t>{4, options.hidden_size}));
  EXPECT_TRUE(torch::equal(encoder->forward(changed, lengths), reference));
  EXPECT_TRUE(torch::equal(encoder->forward(nan_padded, lengths), reference));
  EXPECT_TRUE(reference.isfinite().all().item<bool>());

  // A valid frame does change it (the test above can fail).
  at::Tensor valid_changed = values.clone();
  valid_changed[1][2].add_(1.0);
  EXPECT_FALSE(torch::allclose(encoder->forward(valid_changed, lengths)[1], reference[1]));
}

TEST_P(SequenceEncoderMaskingTest, MorePaddingDoesNotChangeTheOutput) {
  ModelOptions options = SmallModelOptions(GetParam());
  torch::manual_seed(6);
  std::shared_ptr<ModalityEncoderImpl> encoder =
      MakeModalityEncoder(options.modalities[0], options);
  encoder->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor values = torch::randn({3, 5, testing::kVideoDim});
  const at::Tensor lengths = torch::tensor({5, 2, 4}, torch::kLong);
  const at::Tensor longer = torch::cat({values, torch::randn({3, 9, testing::kVideoDim})}, 1);
  EXPECT_TRUE(torch::allclose(encoder->forward(longer, lengths), encoder->forward(values, lengths),
                              1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Encoders, SequenceEncoderMaskingTest,
                         ::testing::Values(EncoderKind::kConv, EncoderKind::kTransformer),
                         [](const auto& info) { return std::string(EncoderKindName(info.param)); });

TEST(ModalityEncoderTest, MaskedMeanPoolAveragesValidFramesOnly) {
  const at::Tensor frames = torch::arange(12, torch::kFloat).reshape({2, 3, 2});
  const at::Tensor mask = FrameMask(torch::tensor({2, 0}, torch::kLong), 3);
  const at::Tensor pooled = MaskedMeanPool(frames, mask);
  EXPECT_TRUE(torch::equal(pooled, torch::tensor({{1.0f, 2.0f}, {0.0f, 0.0f}})));
}

TEST(ModalityEncoderTest, VectorEncoderMapsToHiddenSize) {
  const ModelOptions options = SmallModelOptions();
  std::shared_ptr<ModalityEncoderImpl> encoder =
      MakeModalityEncoder(options.modalities[1], options);
  EXPECT_EQ(encoder->forward(torch::randn({3, testing::kTextDim}), {}).sizes(),
            (std::vector<int64_t>{3, options.hidden_size}));
}

using Architecture = std::tuple<EncoderKind, FusionKind>;

class MultimodalModelTest : public ::testing::TestWithParam<Architecture> {
 protected:
  ModelOptions Options() const {
    return SmallModelOptions(std::get<0>(GetParam()), std::get<1>(GetParam()));
  }
};

TEST_P(MultimodalModelTest, OutputShapes) {
  ModelOptions options = Options();
  options.adversary = true;
  MultimodalModel model = MakeModel(options);
  const Dataset batch = MakeSyntheticDataset({.samples = 5});
  const ModelOutput output = model->forward(batch);
  EXPECT_EQ(output.logits.sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(output.group_logits.sizes(), (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(output.fused.sizes(), (std::vector<int64_t>{5, 16}));
  EXPECT_FALSE(MakeModel(Options())->forward(batch).group_logits.defined());
}

TEST_P(MultimodalModelTest, PaddingAndAbsentModalitiesDoNotChangeTheOutput) {
  MultimodalModel model = MakeModel(Options());
  torch::NoGradGuard no_grad;
  Dataset batch = MakeSyntheticDataset({.samples = 12, .present_rate = 0.6});
  const at::Tensor reference = model->forward(batch).logits;

  Dataset changed = batch;
  // Garbage (even NaN) in every padding frame and in every absent modality.
  const at::Tensor lengths = batch.modalities[0].lengths;
  const at::Tensor padding = FrameMask(lengths, batch.modalities[0].values.size(1))
                                 .logical_not()
                                 .logical_or(batch.present.select(1, 0).logical_not().unsqueeze(1))
                                 .unsqueeze(-1);
  changed.modalities[0].values = batch.modalities[0].values.masked_fill(padding, std::nan(""));
  changed.modalities[1].values = batch.modalities[1].values.masked_fill(
      batch.present.select(1, 1).logical_not().unsqueeze(1), -1e30);
  // Lengths of absent sequences do not matter either.
  changed.modalities[0].lengths = lengths.masked_fill(batch.present.select(1, 0).logical_not(), 1);
  ASSERT_GT(batch.present.logical_not().sum().item<int64_t>(), 0) << "no absent modality drawn";
  EXPECT_TRUE(torch::equal(model->forward(changed).logits, reference));

  // Present features do change it.
  Dataset present_changed = batch;
  present_changed.modalities[1].values = batch.modalities[1].values + 1.0;
  EXPECT_FALSE(torch::allclose(model->forward(present_changed).logits, reference));
}

TEST_P(MultimodalModelTest, NothingPresentGivesFiniteOutputAndGradients) {
  ModelOptions options = Options();
  options.adversary = true;
  MultimodalModel model = MakeModel(options);
  model->train();
  Dataset batch = MakeSyntheticDataset({.samples = 6});
  batch.present = torch::zeros({6, 2}, torch::kBool);
  batch.present[0][1].fill_(true);  // One sample sees the text, the rest nothing.
  batch.modalities[0].lengths = torch::zeros({6}, torch::kLong);
  const ModelOutput output = model->forward(batch);
  ASSERT_TRUE(output.logits.isfinite().all().item<bool>()) << output.logits;
  ASSERT_TRUE(output.group_logits.isfinite().all().item<bool>());
  (output.logits.sum() + output.group_logits.sum()).backward();
  for (const auto& parameter : model->named_parameters()) {
    if (!parameter.value().grad().defined()) continue;
    EXPECT_TRUE(parameter.value().grad().isfinite().all().item<bool>()) << parameter.key();
  }
  // Samples 1..5 saw nothing and get one and the same "nothing known" output.
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor logits = model->forward(batch).logits;
  EXPECT_TRUE(torch::allclose(logits[1], logits[5]));
}

TEST_P(MultimodalModelTest, ModalityViewMasksTheOtherModalities) {
  MultimodalModel model = MakeModel(Options());
  torch::NoGradGuard no_grad;
  const Dataset batch = MakeSyntheticDataset({.samples = 10});
  Dataset text_only = batch;
  text_only.present = batch.present.clone();
  text_only.present.select(1, 0).fill_(false);
  EXPECT_TRUE(torch::equal(model->forward(batch, ModalityView::Only("text")).logits,
                           model->forward(text_only).logits));
  EXPECT_TRUE(torch::equal(model->forward(batch, ModalityView{{"video", "text"}}).logits,
                           model->forward(batch).logits));
  EXPECT_THAT(std::string(model->ViewMask(ModalityView::Only("audio")).status().message()),
              HasSubstr("'audio'"));
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, MultimodalModelTest,
    ::testing::Combine(::testing::Values(EncoderKind::kConv, EncoderKind::kTransformer),
                       ::testing::Values(FusionKind::kCrossAttention, FusionKind::kConcat)),
    [](const auto& info) {
      return absl::StrCat(EncoderKindName(std::get<0>(info.param)), "_",
                          FusionKindName(std::get<1>(info.param)));
    });

TEST(MultimodalModelTest, CheckBatchNamesTheModality) {
  MultimodalModel model = MakeModel(SmallModelOptions());
  Dataset batch = MakeSyntheticDataset({.samples = 4});
  batch.modalities[1].name = "audio";
  EXPECT_THAT(std::string(model->CheckBatch(batch).message()), HasSubstr("no modality 'text'"));
  batch.modalities[1].name = "text";
  batch.modalities[1].values = torch::zeros({4, 9});
  EXPECT_THAT(std::string(model->CheckBatch(batch).message()), HasSubstr("modality 'text'"));
  EXPECT_THROW(model->forward(batch), c10::Error);
}

TEST(MultimodalModelTest, ModalityViewNames) {
  EXPECT_EQ(ModalityView::All().Name(), "all");
  EXPECT_EQ((ModalityView{{"video", "text"}}).Name(), "video+text");
}

// The linear architecture is multinomial logistic regression over the concatenated
// features: checked against the same sum computed by hand in float64, with the
// mean over valid frames, absent modalities and a modality view as zeros.
TEST(MultimodalModelTest, LinearArchitectureIsLogisticRegressionOverTheFeatures) {
  ModelOptions options = SmallModelOptions();
  options.architecture = ::equifl::client::Architecture::kLinear;
  MultimodalModel model = MakeModel(options);
  const Dataset batch = MakeSyntheticDataset({.samples = 12});
  ASSERT_EQ(model->named_parameters().size(), 2u);  // one weight, one bias
  const at::Tensor weight = model->named_parameters()["task_head.1.weight"].to(at::kDouble);
  const at::Tensor bias = model->named_parameters()["task_head.1.bias"].to(at::kDouble);
  ASSERT_EQ(weight.sizes(), (std::vector<int64_t>{3, testing::kVideoDim + testing::kTextDim}));

  for (const ModalityView& view : {ModalityView::All(), ModalityView::Only("text")}) {
    const at::Tensor logits = model->forward(batch, view).logits.to(at::kDouble);
    for (int64_t n = 0; n < 12; ++n) {
      std::vector<double> features;
      const at::Tensor video = batch.modalities[0].values[n].to(at::kDouble);
      const int64_t length = batch.modalities[0].lengths[n].item<int64_t>();
      const bool video_seen = batch.present[n][0].item<bool>() && view.modalities.empty();
      for (int64_t d = 0; d < testing::kVideoDim; ++d) {
        double sum = 0;
        for (int64_t t = 0; t < length; ++t) sum += video[t][d].item<double>();
        features.push_back(video_seen && length > 0 ? sum / length : 0.0);
      }
      const bool text_seen = batch.present[n][1].item<bool>();
      for (int64_t d = 0; d < testing::kTextDim; ++d) {
        features.push_back(text_seen ? batch.modalities[1].values[n][d].item<double>() : 0.0);
      }
      for (int64_t c = 0; c < 3; ++c) {
        double expected = bias[c].item<double>();
        for (size_t i = 0; i < features.size(); ++i) {
          expected += weight[c][static_cast<int64_t>(i)].item<double>() * features[i];
        }
        EXPECT_NEAR(logits[n][c].item<double>(), expected, 1e-4) << "sample " << n;
      }
    }
  }
}

// A model over one token modality (vocabulary 7) and the text vectors.
ModelOptions TokenModelOptions() {
  ModelOptions options = SmallModelOptions();
  options.modalities[0] = {.name = "words", .kind = ModalityKind::kTokens, .input_dim = 7};
  return options;
}

Dataset TokenBatch() {
  Dataset batch = MakeSyntheticDataset({.samples = 3});
  batch.modalities[0] = {
      .name = "words",
      .values = torch::tensor({1, 5, 6, 2, 1, 3, 2, 0, 1, 2, 0, 0}, torch::kLong).view({3, 4}),
      .lengths = torch::tensor({4, 3, 2}, torch::kLong)};
  batch.present = torch::ones({3, 2}, torch::kBool);
  return batch;
}

// Token ids go through an embedding, then the sequence encoder: ids beyond a
// sample's length change nothing, ids within it do; the batch check wants int64.
TEST_P(SequenceEncoderMaskingTest, TokenEncoderIgnoresPaddingIds) {
  ModelOptions options = TokenModelOptions();
  options.encoder = GetParam();
  torch::manual_seed(8);
  std::shared_ptr<ModalityEncoderImpl> encoder =
      MakeModalityEncoder(options.modalities[0], options);
  encoder->eval();
  torch::NoGradGuard no_grad;
  const Dataset batch = TokenBatch();
  const at::Tensor& ids = batch.modalities[0].values;
  const at::Tensor& lengths = batch.modalities[0].lengths;
  const at::Tensor reference = encoder->forward(ids, lengths);
  ASSERT_EQ(reference.sizes(), (std::vector<int64_t>{3, options.hidden_size}));
  at::Tensor padding_changed = ids.clone();
  padding_changed[2][3] = 6;
  EXPECT_TRUE(torch::equal(encoder->forward(padding_changed, lengths), reference));
  at::Tensor valid_changed = ids.clone();
  valid_changed[2][1] = 6;
  EXPECT_FALSE(torch::allclose(encoder->forward(valid_changed, lengths)[2], reference[2]));
}

TEST(MultimodalModelTest, TokenModalitiesTrainEndToEnd) {
  MultimodalModel model = MakeModel(TokenModelOptions());
  const Dataset batch = TokenBatch();
  ASSERT_THAT(model->CheckBatch(batch), IsOk());
  model->train();
  const at::Tensor loss = torch::cross_entropy_loss(model->forward(batch).logits, batch.label);
  loss.backward();
  const at::Tensor gradient = model->named_parameters()["encoders.words.embedding.weight"].grad();
  ASSERT_TRUE(gradient.defined());
  EXPECT_GT(gradient.abs().sum().item<double>(), 0);
  // Only the ids the batch holds get a gradient: 4 (never used) gets none.
  EXPECT_EQ(gradient[4].abs().sum().item<double>(), 0);

  Dataset floats = TokenBatch();
  floats.modalities[0].values = floats.modalities[0].values.to(at::kFloat);
  EXPECT_THAT(std::string(model->CheckBatch(floats).message()),
              HasSubstr("modality 'words' must be int64 token ids [N, T >= 1] for the model "
                        "(tokens); it is Float"));
}

// The linear model reads a token modality as each id's share of a sample's tokens.
TEST(MultimodalModelTest, LinearArchitectureCountsTokens) {
  ModelOptions options = TokenModelOptions();
  options.architecture = ::equifl::client::Architecture::kLinear;
  MultimodalModel model = MakeModel(options);
  const Dataset batch = TokenBatch();
  const at::Tensor weight = model->named_parameters()["task_head.1.weight"].to(at::kDouble);
  const at::Tensor bias = model->named_parameters()["task_head.1.bias"].to(at::kDouble);
  const at::Tensor logits = model->forward(batch).logits.to(at::kDouble);
  // Sample 1 holds ids 1, 3, 2 (its 0 is padding): a third each.
  for (int64_t c = 0; c < 3; ++c) {
    double expected = bias[c].item<double>();
    for (const int64_t id : {1, 3, 2}) expected += weight[c][id].item<double>() / 3;
    for (int64_t d = 0; d < testing::kTextDim; ++d) {
      expected += weight[c][7 + d].item<double>() * batch.modalities[1].values[1][d].item<double>();
    }
    EXPECT_NEAR(logits[1][c].item<double>(), expected, 1e-5);
  }
}

// A model over one image modality (8x8 RGB images) and the text vectors.
ModelOptions ImageModelOptions() {
  ModelOptions options = SmallModelOptions();
  options.modalities[0] = {.name = "video", .kind = ModalityKind::kImages, .input_dim = 8};
  return options;
}

// Three samples of 4 images each, with 4, 2 and 0 valid images.
Dataset ImageBatch() {
  Dataset batch = MakeSyntheticDataset({.samples = 3});
  torch::manual_seed(12);
  batch.modalities[0] = {.name = "video",
                         .values = torch::randint(0, 256, {3, 4, 8, 8, 3}, torch::kByte),
                         .lengths = torch::tensor({4, 2, 0}, torch::kLong)};
  batch.present = torch::ones({3, 2}, torch::kBool);
  return batch;
}

// Images go through a 2D CNN each, then the sequence encoder: images beyond a
// sample's length change nothing, images within it do; a sample without images
// gets a finite embedding.
TEST_P(SequenceEncoderMaskingTest, ImageEncoderIgnoresPaddingImages) {
  ModelOptions options = ImageModelOptions();
  options.encoder = GetParam();
  torch::manual_seed(9);
  std::shared_ptr<ModalityEncoderImpl> encoder =
      MakeModalityEncoder(options.modalities[0], options);
  encoder->eval();
  torch::NoGradGuard no_grad;
  const Dataset batch = ImageBatch();
  const at::Tensor& images = batch.modalities[0].values;
  const at::Tensor& lengths = batch.modalities[0].lengths;
  const at::Tensor reference = encoder->forward(images, lengths);
  ASSERT_EQ(reference.sizes(), (std::vector<int64_t>{3, options.hidden_size}));
  EXPECT_TRUE(reference.isfinite().all().item<bool>());
  at::Tensor padding_changed = images.clone();
  padding_changed[1][3].fill_(255);
  padding_changed[2].fill_(7);
  EXPECT_TRUE(torch::equal(encoder->forward(padding_changed, lengths), reference));
  at::Tensor valid_changed = images.clone();
  valid_changed[1][1][4][4][0] = static_cast<uint8_t>(255 - images[1][1][4][4][0].item<uint8_t>());
  EXPECT_FALSE(torch::allclose(encoder->forward(valid_changed, lengths)[1], reference[1]));
  EXPECT_TRUE(torch::equal(encoder->forward(valid_changed, lengths)[0], reference[0]));
}

TEST(MultimodalModelTest, ImageModalitiesTrainEndToEnd) {
  MultimodalModel model = MakeModel(ImageModelOptions());
  const Dataset batch = ImageBatch();
  ASSERT_THAT(model->CheckBatch(batch), IsOk());
  model->train();
  const at::Tensor loss = torch::cross_entropy_loss(model->forward(batch).logits, batch.label);
  loss.backward();
  for (const char* name :
       {"encoders.video.convolutions.0.weight", "encoders.video.project.weight"}) {
    const at::Tensor gradient = model->named_parameters()[name].grad();
    ASSERT_TRUE(gradient.defined()) << name;
    EXPECT_GT(gradient.abs().sum().item<double>(), 0) << name;
  }

  Dataset floats = ImageBatch();
  floats.modalities[0].values = torch::zeros({3, 4, 8});  // a float sequence
  EXPECT_THAT(std::string(model->CheckBatch(floats).message()),
              HasSubstr("modality 'video' must be uint8 RGB images [N, T >= 1, 8, 8, 3] for the "
                        "model (images); it is Float [3, 4, 8]"));
  Dataset wrong_side = ImageBatch();
  wrong_side.modalities[0].values = torch::zeros({3, 4, 6, 6, 3}, torch::kByte);
  EXPECT_THAT(std::string(model->CheckBatch(wrong_side).message()),
              HasSubstr("[N, T >= 1, 8, 8, 3]"));
}

// The linear model reads each image as the mean colour of a 4x4 grid of 2x2-pixel
// cells, averaged over the sample's valid images.
TEST(MultimodalModelTest, LinearArchitectureReadsImageColourGrids) {
  ModelOptions options = ImageModelOptions();
  options.architecture = ::equifl::client::Architecture::kLinear;
  MultimodalModel model = MakeModel(options);
  const Dataset batch = ImageBatch();
  const at::Tensor weight = model->named_parameters()["task_head.1.weight"].to(at::kDouble);
  const at::Tensor bias = model->named_parameters()["task_head.1.bias"].to(at::kDouble);
  ASSERT_EQ(weight.size(1), kLinearImageFeatures + testing::kTextDim);
  const at::Tensor logits = model->forward(batch).logits.to(at::kDouble);
  const at::Tensor pixels = batch.modalities[0].values.to(at::kDouble) / 255.0;
  for (const int64_t sample : {0, 1, 2}) {
    const int64_t valid = batch.modalities[0].lengths[sample].item<int64_t>();
    for (int64_t c = 0; c < 3; ++c) {
      double expected = bias[c].item<double>();
      for (int64_t row = 0; row < 4; ++row) {
        for (int64_t column = 0; column < 4; ++column) {
          for (int64_t channel = 0; channel < 3; ++channel) {
            double cell = 0;
            for (int64_t image = 0; image < valid; ++image) {
              cell += pixels[sample][image]
                          .slice(0, 2 * row, 2 * row + 2)
                          .slice(1, 2 * column, 2 * column + 2)
                          .select(2, channel)
                          .mean()
                          .item<double>();
            }
            if (valid > 0) cell /= static_cast<double>(valid);
            expected += weight[c][channel * 16 + row * 4 + column].item<double>() * cell;
          }
        }
      }
      for (int64_t d = 0; d < testing::kTextDim; ++d) {
        expected += weight[c][kLinearImageFeatures + d].item<double>() *
                    batch.modalities[1].values[sample][d].item<double>();
      }
      EXPECT_NEAR(logits[sample][c].item<double>(), expected, 1e-5) << sample << " " << c;
    }
  }
}

// Float16 features (as shards may store them) give exactly what the same values in
// float32 give, in the multimodal and the linear model.
TEST(MultimodalModelTest, Float16FeaturesAreWidenedExactly) {
  for (const ::equifl::client::Architecture architecture :
       {::equifl::client::Architecture::kMultimodal, ::equifl::client::Architecture::kLinear}) {
    ModelOptions options = SmallModelOptions();
    options.architecture = architecture;
    MultimodalModel model = MakeModel(options);
    Dataset batch = MakeSyntheticDataset({.samples = 5});
    for (ModalityFeatures& modality : batch.modalities) {
      modality.values = modality.values.to(at::kHalf).to(at::kFloat);  // float16 values
    }
    Dataset halves = batch;
    for (ModalityFeatures& modality : halves.modalities) {
      modality.values = modality.values.to(at::kHalf);
    }
    ASSERT_THAT(model->CheckBatch(halves), IsOk());
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(model->forward(halves).logits, model->forward(batch).logits))
        << equifl::NameOf(architecture);
  }
}

TEST(ModelOptionsTest, LinearArchitectureRefusesTheAdversary) {
  ModelOptions options = SmallModelOptions();
  options.architecture = ::equifl::client::Architecture::kLinear;
  options.adversary = true;
  EXPECT_THAT(options.Validate().message(), HasSubstr("adversary head needs model architecture"));
  EXPECT_EQ(ArchitectureName(::equifl::client::Architecture::kLinear), "linear");
  EXPECT_THAT(ParseArchitecture("mlp").status().message(), HasSubstr("multimodal, linear"));
}

}  // namespace
}  // namespace equifl::client
