// The local trainer: it learns, FedProx pulls towards the global model, weights
// reach the loss, group statistics match the per-sample losses, and a seed
// fixes the run.
#include "client/local_trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <vector>

#include "client/model/model_state.h"
#include "client/model/multimodal_model.h"
#include "tests/client/synthetic_data.h"
#include "tests/testing/status_matchers.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeSyntheticDataset;
using testing::SameState;
using testing::SmallModelOptions;

MultimodalModel MakeModel(const ModelOptions& options, uint64_t seed = 3) {
  torch::manual_seed(seed);
  absl::StatusOr<MultimodalModel> model = CreateMultimodalModel(options);
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

TrainerOptions CpuOptions() {
  TrainerOptions options;
  options.device = "cpu";
  options.learning_rate = 3e-3;
  options.batch_size = 32;
  options.seed = 17;
  return options;
}

TEST(TrainerOptionsTest, DefaultsAreValid) { EXPECT_THAT(TrainerOptions().Validate(), IsOk()); }

TEST(TrainerOptionsTest, ValidateNamesTheBadField) {
  const auto message_for = [](auto mutate) {
    TrainerOptions options = CpuOptions();
    mutate(options);
    return std::string(options.Validate().message());
  };
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.epochs = -1; }), HasSubstr("epochs"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.epochs = 0; }), HasSubstr("steps"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.batch_size = 0; }), HasSubstr("batch_size"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.learning_rate = 0; }),
              HasSubstr("learning_rate"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.momentum = 1; }), HasSubstr("momentum"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.proximal_mu = -0.1; }),
              HasSubstr("proximal_mu"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.lr_gamma = 0; }), HasSubstr("lr_gamma"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.optimizer = static_cast<OptimizerKind>(7); }),
              HasSubstr("allowed: adam, adamw, sgd"));
  EXPECT_THAT(message_for([](TrainerOptions& o) { o.device = "tpu"; }),
              HasSubstr("device is 'tpu'"));
  EXPECT_EQ(*ParseOptimizerKind("sgd"), OptimizerKind::kSgd);
  EXPECT_EQ(LrScheduleName(LrSchedule::kCosine), "cosine");
  EXPECT_THAT(std::string(ParseLrSchedule("linear").status().message()),
              HasSubstr("allowed values: constant, cosine, step"));
}

TEST(TrainerOptionsTest, LearningRateSchedules) {
  TrainerOptions options = CpuOptions();
  options.learning_rate = 1.0;
  EXPECT_DOUBLE_EQ(LearningRateAt(options, 7, 10), 1.0);
  options.lr_schedule = LrSchedule::kCosine;
  options.min_learning_rate = 0.1;
  EXPECT_DOUBLE_EQ(LearningRateAt(options, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt(options, 5, 10), 0.55);
  EXPECT_NEAR(LearningRateAt(options, 10, 10), 0.1, 1e-12);
  options.lr_schedule = LrSchedule::kStep;
  options.lr_step_size = 3;
  options.lr_gamma = 0.5;
  EXPECT_DOUBLE_EQ(LearningRateAt(options, 2, 10), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt(options, 3, 10), 0.5);
  EXPECT_DOUBLE_EQ(LearningRateAt(options, 7, 10), 0.25);
}

struct Architecture {
  EncoderKind encoder;
  FusionKind fusion;
  OptimizerKind optimizer;
  LrSchedule schedule;
};

class LocalTrainerLearnsTest : public ::testing::TestWithParam<Architecture> {};

TEST_P(LocalTrainerLearnsTest, ReducesLossAndBeatsChanceOnSeparableData) {
  const Dataset train = MakeSyntheticDataset({.samples = 384, .seed = 21});
  const Dataset test = MakeSyntheticDataset({.samples = 192, .seed = 22});
  MultimodalModel model = MakeModel(SmallModelOptions(GetParam().encoder, GetParam().fusion));
  absl::StatusOr<EvaluationResult> before = Evaluate(model, test);
  ASSERT_THAT(before, IsOk());

  TrainerOptions options = CpuOptions();
  options.epochs = 6;
  options.optimizer = GetParam().optimizer;
  options.lr_schedule = GetParam().schedule;
  if (options.optimizer == OptimizerKind::kSgd) options.learning_rate = 0.05;
  absl::StatusOr<TrainResult> result = Train(model, train, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->samples, 384);
  EXPECT_EQ(result->steps, 6 * 12);
  EXPECT_EQ(result->samples_seen, 6 * 384);

  absl::StatusOr<EvaluationResult> after = Evaluate(model, test);
  ASSERT_THAT(after, IsOk());
  // Three classes: chance is 1/3 and the initial loss about ln 3 = 1.1.
  EXPECT_LT(after->mean_loss, 0.5 * before->mean_loss)
      << "before " << before->mean_loss << ", after " << after->mean_loss;
  EXPECT_GT(after->accuracy, 0.85);
  // The training loss falls too: the last epoch's mean is below the run's mean.
  TrainerOptions one_more = options;
  one_more.epochs = 1;
  absl::StatusOr<TrainResult> last = Train(model, train, one_more);
  ASSERT_THAT(last, IsOk());
  EXPECT_LT(last->mean_loss, 0.5 * result->mean_loss);
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, LocalTrainerLearnsTest,
    ::testing::Values(Architecture{EncoderKind::kConv, FusionKind::kCrossAttention,
                                   OptimizerKind::kAdamW, LrSchedule::kConstant},
                      Architecture{EncoderKind::kTransformer, FusionKind::kConcat,
                                   OptimizerKind::kAdam, LrSchedule::kCosine},
                      Architecture{EncoderKind::kConv, FusionKind::kConcat, OptimizerKind::kSgd,
                                   LrSchedule::kStep}));

TEST(LocalTrainerTest, ModalityViewsAreEvaluatedSeparately) {
  const Dataset train = MakeSyntheticDataset({.samples = 384, .seed = 21});
  const Dataset test = MakeSyntheticDataset({.samples = 192, .present_rate = 1.0, .seed = 22});
  MultimodalModel model = MakeModel(SmallModelOptions());
  TrainerOptions options = CpuOptions();
  options.epochs = 6;
  options.modality_dropout = 0.3;
  ASSERT_THAT(Train(model, train, options), IsOk());
  for (const char* modality : {"video", "text"}) {
    absl::StatusOr<EvaluationResult> alone = Evaluate(model, test, ModalityView::Only(modality));
    ASSERT_THAT(alone, IsOk());
    EXPECT_GT(alone->accuracy, 0.7) << modality;
  }
  EXPECT_THAT(std::string(Evaluate(model, test, ModalityView::Only("audio")).status().message()),
              HasSubstr("'audio'"));
}

TEST(LocalTrainerTest, ProximalTermGradientIsMuTimesTheDistance) {
  torch::manual_seed(5);
  const double mu = 0.3;
  const at::Tensor w = torch::randn({4, 3}, torch::kDouble).requires_grad_(true);
  const at::Tensor v = torch::randn({2}, torch::kDouble).requires_grad_(true);
  const at::Tensor w_global = torch::randn({4, 3}, torch::kDouble);
  const at::Tensor v_global = torch::randn({2}, torch::kDouble);
  const at::Tensor term = ProximalTerm({w, v}, {w_global, v_global}, mu);
  EXPECT_NEAR(
      term.item<double>(),
      mu / 2 * ((w - w_global).square().sum() + (v - v_global).square().sum()).item<double>(),
      1e-12);
  term.backward();
  EXPECT_TRUE(torch::allclose(w.grad(), mu * (w.detach() - w_global), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(v.grad(), mu * (v.detach() - v_global), 1e-12, 1e-12));

  // Central differences of the term agree with mu * (w - w_global) elementwise.
  torch::NoGradGuard no_grad;
  const double h = 1e-5;
  for (int64_t i = 0; i < w.numel(); ++i) {
    at::Tensor plus = w.detach().clone();
    at::Tensor minus = w.detach().clone();
    plus.view({-1})[i].add_(h);
    minus.view({-1})[i].sub_(h);
    const double numeric = (ProximalTerm({plus, v.detach()}, {w_global, v_global}, mu) -
                            ProximalTerm({minus, v.detach()}, {w_global, v_global}, mu))
                               .item<double>() /
                           (2 * h);
    EXPECT_NEAR(numeric, mu * (w.detach().view({-1})[i] - w_global.view({-1})[i]).item<double>(),
                1e-7)
        << i;
  }
}

TEST(LocalTrainerTest, FedProxAddsMuTimesTheDistanceToEveryStep) {
  // With plain SGD, step 1 starts at w_global (proximal gradient zero), so after
  // it both runs sit at the same w1; step 2 then differs by exactly
  // -lr * mu * (w1 - w_global).
  const Dataset train = MakeSyntheticDataset({.samples = 64});
  TrainerOptions options = CpuOptions();
  options.optimizer = OptimizerKind::kSgd;
  options.momentum = 0;
  options.learning_rate = 0.1;
  options.epochs = 0;
  options.batch_size = 16;
  const double mu = 0.5;

  const auto run = [&](int64_t steps, double proximal_mu) {
    MultimodalModel model = MakeModel(SmallModelOptions());
    TrainerOptions run_options = options;
    run_options.steps = steps;
    run_options.proximal_mu = proximal_mu;
    EXPECT_THAT(Train(model, train, run_options), IsOk());
    return ExportState(*model);
  };
  const std::vector<protocol::NamedTensor> global = ExportState(*MakeModel(SmallModelOptions()));
  const std::vector<protocol::NamedTensor> w1 = run(1, 0.0);
  ASSERT_TRUE(SameState(run(1, mu), w1)) << "the first step already differs";
  const std::vector<protocol::NamedTensor> plain = run(2, 0.0);
  const std::vector<protocol::NamedTensor> proximal = run(2, mu);
  double moved = 0;
  for (size_t i = 0; i < global.size(); ++i) {
    const at::Tensor expected = -options.learning_rate * mu * (w1[i].tensor - global[i].tensor);
    EXPECT_TRUE(torch::allclose(proximal[i].tensor - plain[i].tensor, expected, 1e-3, 1e-6))
        << global[i].name;
    moved += expected.abs().sum().item<double>();
  }
  EXPECT_GT(moved, 1e-3) << "the proximal term had nothing to act on";
}

TEST(LocalTrainerTest, SampleWeightsReachTheLoss) {
  const Dataset train = MakeSyntheticDataset({.samples = 64});
  MultimodalModel model = MakeModel(SmallModelOptions());
  const std::vector<protocol::NamedTensor> before = ExportState(*model);
  TrainerOptions options = CpuOptions();
  // All-zero weights: zero gradients, and Adam without weight decay stays put.
  ASSERT_THAT(Train(model, train, options, torch::zeros({64})), IsOk());
  EXPECT_TRUE(SameState(ExportState(*model), before));
  ASSERT_THAT(Train(model, train, options, torch::ones({64})), IsOk());
  EXPECT_FALSE(SameState(ExportState(*model), before));

  EXPECT_THAT(std::string(Train(model, train, options, torch::ones({63})).status().message()),
              HasSubstr("sample weights"));
  EXPECT_THAT(std::string(Train(model, train, options,
                                torch::full({64}, std::numeric_limits<float>::infinity()))
                              .status()
                              .message()),
              HasSubstr("finite"));
}

TEST(LocalTrainerTest, ViewWeightsAddALossOnThatViewOnly) {
  const Dataset train = MakeSyntheticDataset({.samples = 64});
  MultimodalModel model = MakeModel(SmallModelOptions());
  const std::vector<protocol::NamedTensor> before = ExportState(*model);
  const TrainerOptions options = CpuOptions();
  const at::Tensor no_task = torch::zeros({64});
  // Zero task weights and zero view weights: nothing moves.
  ASSERT_THAT(
      Train(model, train, options, no_task, {{ModalityView::Only("video"), torch::zeros({64})}}),
      IsOk());
  EXPECT_TRUE(SameState(ExportState(*model), before));
  // A video-only term moves the video encoder and the head, never the text encoder.
  ASSERT_THAT(
      Train(model, train, options, no_task, {{ModalityView::Only("video"), torch::ones({64})}}),
      IsOk());
  const std::vector<protocol::NamedTensor> after = ExportState(*model);
  bool video_moved = false;
  for (size_t i = 0; i < after.size(); ++i) {
    const bool moved = !torch::equal(after[i].tensor, before[i].tensor);
    if (after[i].name.find("text") != std::string::npos) {
      EXPECT_FALSE(moved) << after[i].name;
    }
    if (after[i].name.find("video") != std::string::npos) video_moved = video_moved || moved;
  }
  EXPECT_TRUE(video_moved);

  EXPECT_THAT(std::string(Train(model, train, options, {},
                                {{ModalityView::Only("video"), torch::ones({63})}})
                              .status()
                              .message()),
              HasSubstr("sample weights"));
  EXPECT_THAT(
      std::string(
          Train(model, train, options, {}, {{ModalityView::Only("video"), {}}}).status().message()),
      HasSubstr("view 'video' has no sample weights"));
}

// Sum per (language, group) in float64, straight from the per-sample losses.
std::map<std::pair<int64_t, int64_t>, std::pair<double, int64_t>> DirectSums(
    const at::Tensor& losses, const Dataset& dataset) {
  std::map<std::pair<int64_t, int64_t>, std::pair<double, int64_t>> sums;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    auto& [sum, count] =
        sums[{dataset.language[i].item<int64_t>(), dataset.group[i].item<int64_t>()}];
    sum += losses[i].item<double>();
    ++count;
  }
  return sums;
}

TEST(LocalTrainerTest, EvaluateTellsTheSamplesDoneAfterEachBatch) {
  const Dataset test = MakeSyntheticDataset({.samples = 150});
  MultimodalModel model = MakeModel(SmallModelOptions());
  std::vector<int64_t> done;
  ASSERT_THAT(Evaluate(model, test, {}, /*batch_size=*/40,
                       [&done](int64_t samples) { done.push_back(samples); }),
              IsOk());
  EXPECT_THAT(done, ElementsAre(40, 80, 120, 150));
}

TEST(LocalTrainerTest, EvaluationGroupStatisticsMatchThePerSampleLosses) {
  const Dataset test = MakeSyntheticDataset({.samples = 150});
  MultimodalModel model = MakeModel(SmallModelOptions());
  absl::StatusOr<EvaluationResult> result = Evaluate(model, test, {}, /*batch_size=*/40);
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->losses.scalar_type(), torch::kDouble);
  ASSERT_EQ(result->losses.size(0), 150);
  ASSERT_EQ(result->predictions.size(0), 150);
  EXPECT_NEAR(result->mean_loss, result->losses.mean().item<double>(), 1e-12);

  // The per-sample losses are the cross-entropy of the model's logits.
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor logits = model->forward(test).logits;
  EXPECT_TRUE(
      torch::allclose(result->losses.to(torch::kFloat),
                      torch::nn::functional::cross_entropy(
                          logits, test.label,
                          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone)),
                      1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(result->predictions, logits.argmax(1)));
  // The probabilities are those the losses score: loss = −log p(label).
  ASSERT_EQ(result->probabilities.sizes(), (std::vector<int64_t>{150, 3}));
  EXPECT_TRUE(torch::allclose(result->probabilities, logits.softmax(1), 1e-5, 1e-7));
  EXPECT_TRUE(torch::allclose(
      -result->probabilities.gather(1, test.label.unsqueeze(1)).squeeze(1).log().to(torch::kDouble),
      result->losses, 1e-4, 1e-6));

  const auto direct = DirectSums(result->losses, test);
  ASSERT_EQ(result->groups.size(), direct.size());
  ASSERT_EQ(direct.size(), 6u);  // 3 languages x 2 groups.
  int64_t correct = 0;
  for (const auto& [key, cell] : result->groups) {
    const auto& [sum, count] = direct.at({key.language, key.group});
    EXPECT_DOUBLE_EQ(cell.loss_sum, sum);
    EXPECT_EQ(cell.count, static_cast<uint64_t>(count));
    ASSERT_EQ(cell.confusion.size(), 9u);
    int64_t total = 0;
    for (int64_t c = 0; c < 9; ++c) total += cell.confusion[c];
    EXPECT_EQ(total, count);
    for (int64_t c = 0; c < 3; ++c) correct += cell.confusion[c * 3 + c];
  }
  EXPECT_EQ(correct, result->predictions.eq(test.label).sum().item<int64_t>());
  EXPECT_NEAR(result->accuracy, correct / 150.0, 1e-12);
}

TEST(LocalTrainerTest, TrainingGroupStatisticsAddUpToTheMeanLoss) {
  const Dataset train = MakeSyntheticDataset({.samples = 100});
  MultimodalModel model = MakeModel(SmallModelOptions());
  TrainerOptions options = CpuOptions();
  options.epochs = 2;
  absl::StatusOr<TrainResult> result = Train(model, train, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->steps, 2 * 4);
  double loss_sum = 0;
  int64_t count = 0;
  const auto direct = DirectSums(torch::zeros({100}, torch::kDouble), train);
  for (const auto& [key, cell] : result->groups) {
    loss_sum += cell.loss_sum;
    count += static_cast<int64_t>(cell.count);
    // Every sample was seen once per epoch.
    EXPECT_EQ(static_cast<int64_t>(cell.count), 2 * direct.at({key.language, key.group}).second);
  }
  EXPECT_EQ(count, 200);
  EXPECT_NEAR(loss_sum / count, result->mean_loss, 1e-9);
}

TEST(LocalTrainerTest, DrawWeightsDecideWhichSamplesAnEpochVisits) {
  const Dataset train = MakeSyntheticDataset({.samples = 100});
  MultimodalModel model = MakeModel(SmallModelOptions());
  // Only group-1 samples can be drawn: the epoch's 100 draws are all of group 1.
  const at::Tensor draws = train.group.to(torch::kFloat).eq(1).to(torch::kFloat);
  ASSERT_GT(draws.sum().item<double>(), 0);
  absl::StatusOr<TrainResult> result = Train(model, train, CpuOptions(), {}, {}, draws);
  ASSERT_THAT(result, IsOk());
  int64_t count = 0;
  for (const auto& [key, cell] : result->groups) {
    EXPECT_EQ(key.group, 1);
    count += static_cast<int64_t>(cell.count);
  }
  EXPECT_EQ(count, 100);

  EXPECT_THAT(std::string(Train(model, train, CpuOptions(), {}, {}, -draws).status().message()),
              HasSubstr("draw weights must be >= 0"));
  EXPECT_THAT(
      std::string(
          Train(model, train, CpuOptions(), {}, {}, torch::zeros({100})).status().message()),
      HasSubstr("not all 0"));
}

TEST(LocalTrainerTest, SameSeedSameRunDifferentSeedDifferentRun) {
  const Dataset train = MakeSyntheticDataset({.samples = 96});
  ModelOptions model_options = SmallModelOptions(EncoderKind::kTransformer);
  model_options.dropout = 0.2;  // Dropout draws from the seeded global generator.
  model_options.adversary = true;
  TrainerOptions options = CpuOptions();
  options.epochs = 2;
  options.modality_dropout = 0.3;
  const auto run = [&](uint64_t seed) {
    MultimodalModel model = MakeModel(model_options);
    TrainerOptions run_options = options;
    run_options.seed = seed;
    absl::StatusOr<TrainResult> result = Train(model, train, run_options);
    EXPECT_THAT(result, IsOk());
    return std::make_pair(result->mean_loss, ExportState(*model));
  };
  const auto first = run(17);
  const auto second = run(17);
  EXPECT_EQ(first.first, second.first);
  EXPECT_TRUE(SameState(first.second, second.second));
  const auto other = run(18);
  EXPECT_NE(first.first, other.first);
  EXPECT_FALSE(SameState(first.second, other.second));
}

TEST(LocalTrainerTest, AdversaryTrainsWithTheTask) {
  const Dataset train = MakeSyntheticDataset({.samples = 64});
  ModelOptions model_options = SmallModelOptions();
  model_options.adversary = true;
  MultimodalModel model = MakeModel(model_options);
  const std::vector<protocol::NamedTensor> before = ExportState(*model);
  absl::StatusOr<TrainResult> result = Train(model, train, CpuOptions());
  ASSERT_THAT(result, IsOk());
  const std::vector<protocol::NamedTensor> after = ExportState(*model);
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i].name.starts_with("adversary_head.")) {
      EXPECT_FALSE(torch::equal(before[i].tensor, after[i].tensor)) << before[i].name;
    }
  }
}

TEST(LocalTrainerTest, RefusesBadDataAndDevices) {
  MultimodalModel model = MakeModel(SmallModelOptions());
  Dataset bad_label = MakeSyntheticDataset({.samples = 16});
  bad_label.label[3].fill_(5);
  EXPECT_THAT(std::string(Train(model, bad_label, CpuOptions()).status().message()),
              HasSubstr("'label' holds values from 0 to 5; allowed: 0 to 2"));
  EXPECT_THAT(std::string(Evaluate(model, bad_label).status().message()), HasSubstr("'label'"));

  const Dataset empty =
      MakeSyntheticDataset({.samples = 16}).Select(torch::zeros({0}, torch::kLong));
  EXPECT_THAT(std::string(Train(model, empty, CpuOptions()).status().message()),
              HasSubstr("empty"));
  absl::StatusOr<EvaluationResult> nothing = Evaluate(model, empty);
  ASSERT_THAT(nothing, IsOk());
  EXPECT_EQ(nothing->losses.size(0), 0);

  Dataset missing = MakeSyntheticDataset({.samples = 16});
  missing.modalities.pop_back();
  missing.present = missing.present.slice(1, 0, 1);
  EXPECT_THAT(std::string(Train(model, missing, CpuOptions()).status().message()),
              HasSubstr("no modality 'text'"));

  if (!torch::cuda::is_available()) {
    TrainerOptions on_gpu = CpuOptions();
    on_gpu.device = "cuda";
    EXPECT_EQ(Train(model, MakeSyntheticDataset({.samples = 16}), on_gpu).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace equifl::client
