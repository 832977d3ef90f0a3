// Synthetic data: determinism, shapes, and that every planted property (bias,
// imbalance, missing rate) is really in the data, measured by simple statistics.
#include "sim/synthetic_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::sim {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

client::ShardData Generate(const SyntheticDataOptions& options, int client = 0) {
  absl::StatusOr<client::ShardData> data = GenerateSyntheticClient(options, client);
  EXPECT_THAT(data, IsOk());
  return data.ok() ? *std::move(data) : client::ShardData();
}

// Accuracy per group of a nearest-class-mean classifier on modality `m` (frames
// averaged over the valid length), fitted on train rows, scored on the others.
// Features are centred per (group, language) cell first, so the planted group and
// language shifts do not matter.
std::vector<double> NearestMeanAccuracy(const client::ShardData& data, int m) {
  const client::ShardModality& modality = data.manifest.modalities[m];
  const int64_t n = data.manifest.num_samples;
  const int64_t dim = modality.dim;
  const size_t groups = data.manifest.groups.size();
  const size_t languages = data.manifest.languages.size();
  const size_t labels = data.manifest.labels.size();
  const int64_t modalities = static_cast<int64_t>(data.manifest.modalities.size());
  std::vector<std::vector<double>> pooled(n, std::vector<double>(dim, 0.0));
  for (int64_t row = 0; row < n; ++row) {
    const float* values = data.features[m].data() + row * modality.ValuesPerSample();
    const int64_t frames =
        modality.kind == client::ModalityKind::kSequence ? data.lengths[m][row] : 1;
    for (int64_t t = 0; t < frames; ++t) {
      for (int64_t d = 0; d < dim; ++d) pooled[row][d] += values[t * dim + d] / frames;
    }
  }
  auto usable = [&](int64_t row) { return data.present[row * modalities + m] == 1; };
  auto cell = [&](int64_t row) { return data.group[row] * languages + data.language[row]; };
  std::vector<std::vector<double>> cell_mean(groups * languages, std::vector<double>(dim, 0.0));
  std::vector<int64_t> cell_count(groups * languages, 0);
  for (int64_t row = 0; row < n; ++row) {
    if (data.split[row] != 0 || !usable(row)) continue;
    ++cell_count[cell(row)];
    for (int64_t d = 0; d < dim; ++d) cell_mean[cell(row)][d] += pooled[row][d];
  }
  for (size_t c = 0; c < cell_mean.size(); ++c) {
    for (double& value : cell_mean[c]) value /= std::max<int64_t>(cell_count[c], 1);
  }
  std::vector<std::vector<double>> class_mean(labels, std::vector<double>(dim, 0.0));
  std::vector<int64_t> class_count(labels, 0);
  for (int64_t row = 0; row < n; ++row) {
    if (data.split[row] != 0 || !usable(row)) continue;
    ++class_count[data.label[row]];
    for (int64_t d = 0; d < dim; ++d) {
      class_mean[data.label[row]][d] += pooled[row][d] - cell_mean[cell(row)][d];
    }
  }
  for (size_t c = 0; c < labels; ++c) {
    for (double& value : class_mean[c]) value /= std::max<int64_t>(class_count[c], 1);
  }
  std::vector<double> correct(groups, 0), total(groups, 0);
  for (int64_t row = 0; row < n; ++row) {
    if (data.split[row] == 0 || !usable(row)) continue;
    size_t best = 0;
    double best_distance = INFINITY;
    for (size_t c = 0; c < labels; ++c) {
      double distance = 0;
      for (int64_t d = 0; d < dim; ++d) {
        const double diff = pooled[row][d] - cell_mean[cell(row)][d] - class_mean[c][d];
        distance += diff * diff;
      }
      if (distance < best_distance) {
        best_distance = distance;
        best = c;
      }
    }
    total[data.group[row]] += 1;
    correct[data.group[row]] += best == static_cast<size_t>(data.label[row]) ? 1 : 0;
  }
  for (size_t g = 0; g < groups; ++g) correct[g] /= std::max(total[g], 1.0);
  return correct;
}

TEST(SyntheticDataTest, SameSeedSameDataOtherSeedOtherData) {
  SyntheticDataOptions options;
  options.samples_per_client = 100;
  const client::ShardData first = Generate(options, 1);
  const client::ShardData again = Generate(options, 1);
  EXPECT_EQ(first.features, again.features);
  EXPECT_EQ(first.label, again.label);
  EXPECT_EQ(first.group, again.group);
  EXPECT_EQ(first.present, again.present);
  EXPECT_EQ(first.lengths, again.lengths);
  // Client 1 does not depend on how many clients there are.
  options.clients = 7;
  EXPECT_EQ(Generate(options, 1).features, first.features);
  // Another client, another seed: other data.
  EXPECT_NE(Generate(options, 2).features, first.features);
  options.seed = 2;
  EXPECT_NE(Generate(options, 1).features, first.features);
}

TEST(SyntheticDataTest, ShapesLengthsAndSplitsAreAsDocumented) {
  SyntheticDataOptions options;
  const client::ShardData data = Generate(options);
  const client::ShardManifest& manifest = data.manifest;
  EXPECT_THAT(manifest.Validate(), IsOk());
  EXPECT_EQ(manifest.num_samples, 600);
  EXPECT_EQ(manifest.split_counts, (client::SplitCounts{420, 90, 90}));
  ASSERT_EQ(manifest.modalities.size(), 3u);
  EXPECT_EQ(manifest.modalities[0].Shape(600), (std::vector<int64_t>{600, 16, 32}));
  EXPECT_EQ(manifest.modalities[1].Shape(600), (std::vector<int64_t>{600, 16, 32}));
  EXPECT_EQ(manifest.modalities[2].Shape(600), (std::vector<int64_t>{600, 64}));
  EXPECT_EQ(manifest.labels.size(), 5u);
  EXPECT_EQ(manifest.groups, (std::vector<std::string>{"female", "male"}));
  EXPECT_EQ(manifest.languages, (std::vector<std::string>{"en", "de", "ja"}));
  EXPECT_THAT(client::ValidateShardColumns(manifest, data.Columns()), IsOk());
  // Rows are stored train, validation, test.
  EXPECT_TRUE(std::is_sorted(data.split.begin(), data.split.end()));
  // Lengths vary in [8, 16]; frames past the length and missing modalities are zero.
  int64_t shortest = 16, longest = 0;
  for (int64_t row = 0; row < 600; ++row) {
    const int64_t length = data.lengths[0][row];
    const float* video = data.features[0].data() + row * 16 * 32;
    if (data.present[row * 3] == 0) {
      EXPECT_EQ(length, 0);
      EXPECT_TRUE(std::all_of(video, video + 16 * 32, [](float v) { return v == 0; }));
      continue;
    }
    shortest = std::min(shortest, length);
    longest = std::max(longest, length);
    EXPECT_TRUE(std::all_of(video + length * 32, video + 16 * 32, [](float v) { return v == 0; }));
    EXPECT_NE(video[(length - 1) * 32], 0.0f);
  }
  EXPECT_EQ(shortest, 8);
  EXPECT_EQ(longest, 16);
  // Every sample has at least one modality.
  for (int64_t row = 0; row < 600; ++row) {
    EXPECT_GT(data.present[row * 3] + data.present[row * 3 + 1] + data.present[row * 3 + 2], 0);
  }
}

TEST(SyntheticDataTest, PlantedSignalBiasIsMeasurable) {
  SyntheticDataOptions options;  // default bias: video signal 0.3 for female
  options.clients = 1;
  options.samples_per_client = 3000;
  options.missing_rate = 0;
  const client::ShardData data = Generate(options);
  const std::vector<double> video = NearestMeanAccuracy(data, 0);
  const std::vector<double> audio = NearestMeanAccuracy(data, 1);
  // Chance is 0.2; at signal 1 one modality alone gets about 0.6. Video: weak for
  // female, strong for male; audio: the same for both.
  EXPECT_GT(video[1], 0.5) << "male video";
  EXPECT_LT(video[0], 0.35) << "female video";
  EXPECT_GT(video[1] - video[0], 0.2);
  EXPECT_GT(audio[0], 0.5);
  EXPECT_GT(audio[1], 0.5);
  EXPECT_LT(std::abs(audio[0] - audio[1]), 0.08);
  std::printf("nearest class mean accuracy, female/male: video %.3f/%.3f, audio %.3f/%.3f\n",
              video[0], video[1], audio[0], audio[1]);
}

TEST(SyntheticDataTest, PlantedLabelNoiseIsMeasurable) {
  SyntheticDataOptions options;
  options.clients = 1;
  options.samples_per_client = 3000;
  options.missing_rate = 0;
  options.biases = {*ParseCellBias("group=male,modality=text,label_noise=0.6")};
  const client::ShardData data = Generate(options);
  const std::vector<double> text = NearestMeanAccuracy(data, 2);
  EXPECT_GT(text[0], 0.6) << "female text";
  // 40% of male samples' text points at the right class (and the class means are
  // estimated from the noisy ones too).
  EXPECT_LT(text[1], 0.5) << "male text";
  EXPECT_GT(text[0] - text[1], 0.2);
  std::printf("nearest class mean accuracy on text, female/male: %.3f/%.3f\n", text[0], text[1]);
}

TEST(SyntheticDataTest, GroupImbalanceIsExactPerSplitAndClient) {
  SyntheticDataOptions options;
  options.minority_group = "male";
  options.client_minority_fractions = {0.1, 0.25, 0.5};
  for (int client = 0; client < 3; ++client) {
    const client::ShardData data = Generate(options, client);
    const double fraction = options.client_minority_fractions[client];
    for (int split = 0; split < client::kSplitCount; ++split) {
      int64_t size = 0, male = 0;
      for (size_t row = 0; row < data.split.size(); ++row) {
        if (data.split[row] != split) continue;
        ++size;
        male += data.group[row] == 1;
      }
      EXPECT_EQ(male, std::llround(fraction * size)) << "client " << client << " split " << split;
    }
  }
}

TEST(SyntheticDataTest, MissingRateIsHonoured) {
  SyntheticDataOptions options;
  options.samples_per_client = 6000;
  options.frames = 2;
  options.missing_rate = 0.3;
  const client::ShardData data = Generate(options);
  for (int m = 0; m < 3; ++m) {
    int64_t absent = 0;
    for (int64_t row = 0; row < 6000; ++row) absent += data.present[row * 3 + m] == 0;
    // Binomial std is 0.006. 2.7% of rows (0.3^3) lose every modality and get one
    // back, which lowers each modality's absent rate by 0.9 points.
    EXPECT_NEAR(absent / 6000.0, 0.3 - 0.009, 0.025) << "modality " << m;
  }
}

TEST(SyntheticDataTest, OneLanguagePerClient) {
  SyntheticDataOptions options;
  options.one_language_per_client = true;
  options.samples_per_client = 50;
  const client::ShardData data = Generate(options, 2);
  EXPECT_TRUE(std::all_of(data.language.begin(), data.language.end(),
                          [](int64_t language) { return language == 2; }));
}

TEST(SyntheticDataTest, ModalitySubsetAndVideoLevelFeatures) {
  SyntheticDataOptions options;
  options.clients = 1;
  options.samples_per_client = 3000;
  options.missing_rate = 0;
  options.modalities = {"video", "text"};
  options.video_level = true;
  options.video_dim = 24;
  const client::ShardData data = Generate(options);
  ASSERT_EQ(data.manifest.modalities.size(), 2u);
  EXPECT_EQ(data.manifest.modalities[0].name, "video");
  EXPECT_EQ(data.manifest.modalities[0].kind, client::ModalityKind::kVector);
  EXPECT_EQ(data.manifest.modalities[1].name, "text");
  EXPECT_EQ(data.features[0].size(), 3000u * 24);
  EXPECT_TRUE(data.lengths[0].empty());
  EXPECT_EQ(data.present.size(), 3000u * 2);
  EXPECT_THAT(data.manifest.Validate(), IsOk());
  // The planted bias survives in the video-level vectors: weak for female only.
  const std::vector<double> video = NearestMeanAccuracy(data, 0);
  EXPECT_GT(video[1], 0.5) << "male video";
  EXPECT_LT(video[0], 0.35) << "female video";

  options.modalities = {"text", "video"};
  EXPECT_THAT(options.Validate().message(), HasSubstr("in that order"));
  options.modalities = {"depth"};
  EXPECT_THAT(options.Validate().message(), HasSubstr("at most once"));
  options.modalities = {};
  EXPECT_THAT(options.Validate().message(), HasSubstr("no modalities"));
}

// One modality, text, always present: the plainest cell for a hand-computed value.
SyntheticDataOptions TextOnly() {
  SyntheticDataOptions options;
  options.modalities = {"text"};
  options.missing_rate = 0;
  options.biases.clear();
  return options;
}

// Expects `value` within `z` standard errors of `expected`.
void ExpectWithin(double value, double expected, double standard_error, double z,
                  const std::string& what) {
  EXPECT_LE(std::abs(value - expected), z * standard_error)
      << what << ": " << value << ", expected " << expected << " (standard error " << standard_error
      << ")";
}

// Own class means for the minority's video: prototypes fitted to everyone (mostly
// the majority) miss them, while the Bayes-optimal classifier, which knows them,
// does far better for the minority: a gap that can be closed.
// The majority's rows are the same bytes as without the bias.
TEST(SyntheticDataTest, OwnClassMeansPlantAReducibleGap) {
  SyntheticDataOptions options;
  options.clients = 1;
  options.samples_per_client = 3000;
  options.missing_rate = 0;
  options.minority_fraction = 0.2;
  options.biases = {CellBias{.group = "female", .modality = "video", .own_class_means = true}};
  const client::ShardData data = Generate(options);
  const std::vector<double> video = NearestMeanAccuracy(data, 0);
  EXPECT_LT(video[0], 0.35) << "female video, fitted to everyone";
  EXPECT_GT(video[1], 0.5) << "male video";

  absl::StatusOr<std::vector<BayesOptimalCell>> bayes =
      EstimateBayesOptimal(options, "video", 5000, 21);
  ASSERT_THAT(bayes, IsOk());
  for (size_t cell = 0; cell < bayes->size(); cell += 2) {
    const BayesOptimalCell& female = (*bayes)[cell];
    ASSERT_EQ(female.group, "female");
    EXPECT_GT(female.accuracy, 0.5) << female.language;
    EXPECT_GT(female.accuracy - video[0], 0.2) << female.language;
  }

  SyntheticDataOptions unbiased = options;
  unbiased.biases.clear();
  const client::ShardData plain = Generate(unbiased);
  const int64_t values = data.manifest.modalities[0].ValuesPerSample();
  int64_t male_rows = 0;
  for (int64_t row = 0; row < data.manifest.num_samples; ++row) {
    if (data.group[row] != 1) continue;
    ++male_rows;
    ASSERT_TRUE(std::equal(data.features[0].begin() + row * values,
                           data.features[0].begin() + (row + 1) * values,
                           plain.features[0].begin() + row * values))
        << "male row " << row;
  }
  EXPECT_EQ(male_rows, 2400);
}

TEST(SyntheticDataTest, BayesOptimalWithoutSignalIsChance) {
  SyntheticDataOptions options;
  options.signal = 0;
  options.biases.clear();
  absl::StatusOr<std::vector<BayesOptimalCell>> cells =
      EstimateBayesOptimal(options, "fusion", 4000, 11);
  ASSERT_THAT(cells, IsOk());
  ASSERT_EQ(cells->size(), 6u);  // 3 languages x 2 groups, languages outer
  EXPECT_EQ((*cells)[1].language, "en");
  EXPECT_EQ((*cells)[1].group, "male");
  for (const BayesOptimalCell& cell : *cells) {
    // Every class equally likely whatever the features: the loss is log 5 exactly,
    // and the first class, always predicted, is right a fifth of the time.
    EXPECT_NEAR(cell.loss, std::log(5.0), 1e-9) << cell.language << " " << cell.group;
    EXPECT_NEAR(cell.loss_standard_error, 0, 1e-9);
    ExpectWithin(cell.accuracy, 0.2, std::sqrt(0.2 * 0.8 / 4000), 4, "accuracy");
    EXPECT_EQ(cell.samples, 4000);
  }
}

TEST(SyntheticDataTest, BayesOptimalOfSeparatedClassesIsTheLabelNoiseEntropy) {
  // Classes 1000 noise deviations apart: the features name the class they show,
  // which is the true one with probability 1 - eta and each other with eta / 4.
  // So p(true | x) is 0.8 or 0.05: loss -0.8 log 0.8 - 0.2 log 0.05, accuracy 0.8.
  SyntheticDataOptions options = TextOnly();
  options.signal = 1000;
  options.label_noise = 0.2;
  absl::StatusOr<std::vector<BayesOptimalCell>> cells =
      EstimateBayesOptimal(options, "text", 20000, 12);
  ASSERT_THAT(cells, IsOk());
  const double loss = -0.8 * std::log(0.8) - 0.2 * std::log(0.05);  // 0.7776
  // The loss is -log 0.8 or -log 0.05 with probabilities 0.8 and 0.2.
  const double loss_deviation = std::sqrt(0.16) * (std::log(0.8) - std::log(0.05));
  for (const BayesOptimalCell& cell : *cells) {
    ExpectWithin(cell.loss, loss, loss_deviation / std::sqrt(20000.0), 4, "loss");
    ExpectWithin(cell.accuracy, 0.8, std::sqrt(0.16 / 20000), 4, "accuracy");
  }
}

// An independent estimate of the same quantity: the plug-in classifier of the
// generated shard itself (class means per cell fitted on half the rows, the known
// unit noise), scored on the other half. With 5,000 rows per (class, cell) it is
// within a few hundredths of the Bayes-optimal one.
TEST(SyntheticDataTest, BayesOptimalAgreesWithAPlugInClassifierOfTheShard) {
  SyntheticDataOptions options = TextOnly();
  options.labels = {"a", "b"};
  options.languages = {"en"};
  options.text_dim = 8;
  options.signal = 0.8;
  options.label_noise = 0.1;
  options.clients = 1;
  options.samples_per_client = 40000;
  options.train_fraction = 0.5;
  options.validation_fraction = 0;
  const client::ShardData data = Generate(options);
  const int64_t dim = 8;
  // Means per (group, label) from the train rows.
  std::vector<std::vector<double>> means(4, std::vector<double>(dim, 0.0));
  std::vector<double> counts(4, 0.0);
  for (int64_t row = 0; row < data.manifest.num_samples; ++row) {
    if (data.split[row] != 0) continue;
    const size_t key = static_cast<size_t>(data.group[row] * 2 + data.label[row]);
    for (int64_t d = 0; d < dim; ++d) means[key][d] += data.features[0][row * dim + d];
    ++counts[key];
  }
  for (size_t key = 0; key < 4; ++key) {
    for (double& value : means[key]) value /= counts[key];
  }
  // Scored on the test rows: posterior of the two class means (unit variance;
  // label noise shows as a mixture of the two means, p(x | y) = 0.9 N(m_y) + 0.1 N(m_other)).
  std::vector<double> loss(2, 0.0);
  std::vector<double> correct(2, 0.0);
  std::vector<double> scored(2, 0.0);
  for (int64_t row = 0; row < data.manifest.num_samples; ++row) {
    if (data.split[row] != 2) continue;
    const int64_t group = data.group[row];
    double density[2];
    for (int label = 0; label < 2; ++label) {
      double squared = 0;
      for (int64_t d = 0; d < dim; ++d) {
        const double difference = data.features[0][row * dim + d] - means[group * 2 + label][d];
        squared += difference * difference;
      }
      density[label] = std::exp(-squared / 2);
    }
    const double evidence[2] = {0.9 * density[0] + 0.1 * density[1],
                                0.9 * density[1] + 0.1 * density[0]};
    const int64_t label = data.label[row];
    loss[group] -= std::log(evidence[label] / (evidence[0] + evidence[1]));
    correct[group] += (evidence[1] > evidence[0] ? 1 : 0) == label ? 1 : 0;
    ++scored[group];
  }
  absl::StatusOr<std::vector<BayesOptimalCell>> cells =
      EstimateBayesOptimal(options, "fusion", 40000, 13);
  ASSERT_THAT(cells, IsOk());
  ASSERT_EQ(cells->size(), 2u);
  for (size_t group = 0; group < 2; ++group) {
    const BayesOptimalCell& cell = (*cells)[group];
    EXPECT_NEAR(cell.loss, loss[group] / scored[group], 0.03) << cell.group;
    EXPECT_NEAR(cell.accuracy, correct[group] / scored[group], 0.02) << cell.group;
    // Not chance, not perfect: the check means something.
    EXPECT_GT(cell.accuracy, 0.6);
    EXPECT_LT(cell.accuracy, 0.9);
  }
}

TEST(SyntheticDataTest, BayesOptimalRefusesAnUnknownViewAndTooFewSamples) {
  SyntheticDataOptions options = TextOnly();
  EXPECT_THAT(EstimateBayesOptimal(options, "video", 100, 1).status().message(),
              HasSubstr("view 'video' is neither 'fusion' nor a generated modality (text)"));
  EXPECT_THAT(EstimateBayesOptimal(options, "fusion", 1, 1).status().message(),
              HasSubstr("at least 2 samples per cell"));
}

TEST(SyntheticDataTest, ParsesBiasesAndRefusesBadOnes) {
  absl::StatusOr<CellBias> bias =
      ParseCellBias("group=female,language=ja,signal=0.2,label-noise=0.1");
  ASSERT_THAT(bias, IsOk());
  EXPECT_EQ(bias->group, "female");
  EXPECT_EQ(bias->language, "ja");
  EXPECT_EQ(bias->modality, "*");
  EXPECT_EQ(bias->signal, 0.2);
  EXPECT_EQ(bias->label_noise, 0.1);
  EXPECT_EQ(CellBiasToString(*bias), "group=female,language=ja,signal=0.2,label_noise=0.1");
  EXPECT_THAT(ParseCellBias("group=female").status().message(),
              HasSubstr("set signal=S, label_noise=R, own_means=1 or several"));
  bias = ParseCellBias("group=female,modality=video,own_means=1");
  ASSERT_THAT(bias, IsOk());
  EXPECT_TRUE(bias->own_class_means);
  EXPECT_FALSE(bias->signal.has_value());
  EXPECT_EQ(CellBiasToString(*bias), "group=female,modality=video,own_means=1");
  EXPECT_THAT(ParseCellBias("own_means=yes").status().message(),
              HasSubstr("own_means is 'yes'; write own_means=1 or 0"));
  EXPECT_THAT(ParseCellBias("colour=red,signal=1").status().message(),
              HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(ParseCellBias("signal=high").status().message(),
              HasSubstr("signal is 'high', not a number"));
  EXPECT_THAT(ParseCellBias("signal").status().message(), HasSubstr("must be key=value"));
}

TEST(SyntheticDataTest, ValidateNamesTheBadOption) {
  auto error = [](const std::function<void(SyntheticDataOptions&)>& edit) {
    SyntheticDataOptions options;
    edit(options);
    return std::string(options.Validate().message());
  };
  EXPECT_THAT(SyntheticDataOptions().Validate(), IsOk());
  EXPECT_THAT(error([](auto& o) { o.clients = 0; }), HasSubstr("clients is 0"));
  EXPECT_THAT(error([](auto& o) { o.minority_fraction = 0.6; }),
              HasSubstr("minority fraction is 0.6; it must be in [0, 0.5]"));
  EXPECT_THAT(error([](auto& o) { o.client_minority_fractions = {0.1}; }),
              HasSubstr("got 1 per-client minority fractions for 3 clients"));
  EXPECT_THAT(error([](auto& o) { o.biases = {*ParseCellBias("group=other,signal=1")}; }),
              HasSubstr("names group 'other'; groups: female, male"));
  EXPECT_THAT(error([](auto& o) { o.biases = {*ParseCellBias("modality=smell,signal=1")}; }),
              HasSubstr("names modality 'smell'"));
  EXPECT_THAT(error([](auto& o) { o.biases = {*ParseCellBias("label_noise=1.5")}; }),
              HasSubstr("label_noise is 1.5"));
  EXPECT_THAT(error([](auto& o) { o.minority_group = "other"; }),
              HasSubstr("minority group 'other' is not one of the groups"));
  EXPECT_THAT(error([](auto& o) { o.train_fraction = 0.9; }), HasSubstr("exceed 1"));
  EXPECT_THAT(error([](auto& o) { o.labels = {"only"}; }), HasSubstr("at least 2 labels"));
  EXPECT_THAT(error([](auto& o) { o.samples_per_client = 10'000'000; }),
              HasSubstr("GB of features"));
}

TEST(SyntheticDataTest, WritesOneShardPerClientQuickly) {
  const equifl::test::TemporaryFolder temporary("synth");
  const std::filesystem::path& folder = temporary.path();
  SyntheticDataOptions options;  // 3 clients x 600 samples
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<std::string>> shards =
      WriteSyntheticShards(options, (folder / "out").string());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_THAT(shards, IsOk());
  ASSERT_EQ(shards->size(), 3u);
  EXPECT_EQ((*shards)[2], (folder / "out" / "client-002").string());
  EXPECT_LT(seconds, 3.0);  // about 0.1 s on the development machine
  absl::StatusOr<client::Shard> shard = client::Shard::Open((*shards)[1]);
  ASSERT_THAT(shard, IsOk());
  EXPECT_EQ(shard->manifest().num_samples, 600);
  // The same data as generated in memory.
  const client::ShardData data = Generate(options, 1);
  EXPECT_TRUE(std::equal(data.features[2].begin(), data.features[2].end(),
                         shard->columns().features[2].begin()));

  // A folder that is not empty is refused.
  absl::StatusOr<std::vector<std::string>> again =
      WriteSyntheticShards(options, (folder / "out").string());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("is not empty"));
}

}  // namespace
}  // namespace equifl::sim
