// .npy import: vector and sequence features, names given or defaulted, every error a
// user can cause, the Dirichlet and random splits, and shards written to disk.
#include "client/data/npy_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "tests/client/data/npy_test_util.h"
#include "tests/client/data/progress_record.h"
#include "tests/client/shard_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::client::testing::NpyOf;
using ::equifl::client::testing::WriteBytes;
using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

NpyArray Parse(const std::string& bytes, const std::string& source) {
  absl::StatusOr<NpyArray> array = ParseNpy(bytes, source);
  EXPECT_THAT(array, IsOk());
  return array.ok() ? *std::move(array) : NpyArray{};
}

// N rows, [N, 2] float32 features: row r is (r, -r), so rows can be traced.
NpyImportArrays Arrays(int64_t n, bool with_languages = true) {
  std::vector<float> features;
  std::vector<int64_t> labels;
  std::vector<uint8_t> groups;
  std::vector<int32_t> languages;
  for (int64_t row = 0; row < n; ++row) {
    features.push_back(static_cast<float>(row));
    features.push_back(-static_cast<float>(row));
    labels.push_back(row % 3);
    groups.push_back(row % 2);
    languages.push_back(static_cast<int32_t>(row % 4 == 0));
  }
  const std::string rows = "(" + std::to_string(n) + ",)";
  NpyImportArrays arrays;
  arrays.features = Parse(NpyOf("<f4", "(" + std::to_string(n) + ", 2)", features), "features.npy");
  arrays.labels = Parse(NpyOf("<i8", rows, labels), "labels.npy");
  arrays.groups = Parse(NpyOf("|b1", rows, groups), "groups.npy");
  if (with_languages) arrays.languages = Parse(NpyOf("<i4", rows, languages), "languages.npy");
  return arrays;
}

NpyImportOptions Named() {
  NpyImportOptions options;
  options.label_names = {"neutral", "happy", "sad"};
  options.group_names = {"female", "male"};
  options.language_names = {"en", "de"};
  options.group_attribute = "gender";
  return options;
}

std::string BuildError(const NpyImportArrays& arrays, const NpyImportOptions& options) {
  absl::StatusOr<NpyImport> import = BuildShardsFromNpy(arrays, options);
  EXPECT_FALSE(import.ok());
  if (import.ok()) return "";
  EXPECT_EQ(import.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(import.status().message());
}

TEST(NpyImportTest, VectorFeaturesKeepEveryRowWithItsLabels) {
  absl::StatusOr<NpyImport> import = BuildShardsFromNpy(Arrays(20), Named());
  ASSERT_THAT(import, IsOk());
  const NpyImportSummary& summary = import->summary;
  EXPECT_EQ(summary.rows, 20);
  EXPECT_EQ(summary.modality.name, "tabular");
  EXPECT_EQ(summary.modality.kind, ModalityKind::kVector);
  EXPECT_EQ(summary.modality.dim, 2);
  EXPECT_EQ(summary.features_type, "<f4");
  EXPECT_THAT(summary.client_names, ElementsAre("random part 0"));
  EXPECT_EQ(summary.client_counts[0], (SplitCounts{14, 3, 3}));
  ASSERT_EQ(import->shards.size(), 1u);
  const ShardData& shard = import->shards[0];
  EXPECT_THAT(shard.manifest.labels, ElementsAre("neutral", "happy", "sad"));
  EXPECT_EQ(shard.manifest.group_attribute, "gender");
  EXPECT_THAT(shard.manifest.languages, ElementsAre("en", "de"));
  ASSERT_THAT(ValidateShardColumns(shard.manifest, shard.Columns()), IsOk());
  std::vector<int> seen(20, 0);
  for (size_t i = 0; i < shard.label.size(); ++i) {
    const int row = static_cast<int>(shard.features[0][2 * i]);
    EXPECT_EQ(shard.features[0][2 * i + 1], -static_cast<float>(row));
    EXPECT_EQ(shard.label[i], row % 3);
    EXPECT_EQ(shard.group[i], row % 2);
    EXPECT_EQ(shard.language[i], row % 4 == 0 ? 1 : 0);
    ++seen[row];
  }
  EXPECT_THAT(seen, ::testing::Each(1));
}

TEST(NpyImportTest, SequenceFeaturesDefaultNamesAndNoLanguages) {
  NpyImportArrays arrays = Arrays(6, /*with_languages=*/false);
  std::vector<double> frames(6 * 3 * 2);
  std::iota(frames.begin(), frames.end(), 0.0);
  arrays.features = Parse(NpyOf("<f8", "(6, 3, 2)", frames), "frames.npy");
  absl::StatusOr<NpyImport> import = BuildShardsFromNpy(arrays, {});
  ASSERT_THAT(import, IsOk());
  const NpyImportSummary& summary = import->summary;
  EXPECT_EQ(summary.modality.name, "sequence");
  EXPECT_EQ(summary.modality.kind, ModalityKind::kSequence);
  EXPECT_EQ(summary.modality.frames, 3);
  EXPECT_EQ(summary.modality.dim, 2);
  EXPECT_EQ(summary.features_type, "<f8");
  EXPECT_THAT(summary.labels, ElementsAre("0", "1", "2"));
  EXPECT_THAT(summary.groups, ElementsAre("0", "1"));
  EXPECT_THAT(summary.languages, ElementsAre("und"));
  const ShardData& shard = import->shards[0];
  EXPECT_EQ(shard.manifest.group_attribute, "group");
  EXPECT_THAT(shard.lengths[0], ::testing::Each(3));
  EXPECT_THAT(shard.language, ::testing::Each(0));
  EXPECT_EQ(shard.features[0].size(), 36u);
  ASSERT_THAT(ValidateShardColumns(shard.manifest, shard.Columns()), IsOk());

  NpyImportOptions options;
  options.modality = "video";
  import = BuildShardsFromNpy(arrays, options);
  ASSERT_THAT(import, IsOk());
  EXPECT_EQ(import->shards[0].manifest.modalities[0].name, "video");
}

TEST(NpyImportTest, ValuesOutsideTheNamesAreErrors) {
  NpyImportArrays arrays = Arrays(6);
  arrays.labels = Parse(NpyOf<int64_t>("<i8", "(6,)", {0, 1, 2, 3, 0, 1}), "labels.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("labels.npy: row 3 is 3, but --label-names names only 3 values "
                        "(neutral, happy, sad) for indices 0..2"));
  arrays.labels = Parse(NpyOf<int64_t>("<i8", "(6,)", {0, 1, -1, 0, 0, 1}), "labels.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("labels.npy: row 2 is -1; labels must be indices 0, 1, ..."));
  arrays = Arrays(6);
  arrays.groups = Parse(NpyOf<uint8_t>("|u1", "(6,)", {0, 1, 0, 2, 0, 1}), "groups.npy");
  EXPECT_THAT(BuildError(arrays, Named()), HasSubstr("groups.npy: row 3 is 2, but --group-names"));
  arrays.groups = Parse(NpyOf<uint8_t>("|u1", "(6,)", {0, 1, 0, 200, 0, 1}), "groups.npy");
  EXPECT_THAT(BuildShardsFromNpy(arrays, {}), IsOk());  // names "0".."200"
  arrays = Arrays(6);
  arrays.labels = Parse(NpyOf<int64_t>("<i8", "(6,)", {0, 1, 0, 1 << 20, 0, 1}), "labels.npy");
  EXPECT_THAT(BuildError(arrays, {}),
              HasSubstr("the largest value is 1048576; labels must be indices 0, 1, ...; give "
                        "their names with --label-names"));
}

TEST(NpyImportTest, ShapeTypeAndValueErrors) {
  NpyImportArrays arrays = Arrays(6);
  arrays.labels = Parse(NpyOf<int64_t>("<i8", "(5,)", {0, 1, 2, 0, 1}), "labels.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("labels.npy has 5 labels but the features have 6 rows"));
  arrays = Arrays(6);
  arrays.languages = Parse(NpyOf<int64_t>("<i8", "(6, 1)", {0, 1, 1, 0, 1, 0}), "lang.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("lang.npy has shape (6, 1); languages must be a 1-D array [N]"));
  arrays = Arrays(6);
  arrays.groups = Parse(NpyOf<float>("<f4", "(6,)", {0, 1, 0, 1, 0, 1}), "groups.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("groups.npy holds <f4 values; labels, groups and languages must be "
                        "integers"));
  arrays = Arrays(6);
  arrays.features = Parse(NpyOf<float>("<f4", "(6,)", {0, 1, 0, 1, 0, 1}), "f.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("f.npy has shape (6,); features must be [N, D] (one vector per row) or "
                        "[N, T, D] (T frames per row); for one feature per row use "
                        "array.reshape(-1, 1)"));
  arrays.features = Parse(NpyOf<float>("<f4", "(6, 0)", {}), "f.npy");
  EXPECT_THAT(BuildError(arrays, Named()), HasSubstr("no size may be 0"));
  arrays.features = Parse(NpyOf<int64_t>("<i8", "(6, 1)", {0, 1, 0, 1, 0, 1}), "f.npy");
  EXPECT_THAT(BuildError(arrays, Named()), HasSubstr("features must be floating point"));

  const float nan = std::numeric_limits<float>::quiet_NaN();
  arrays.features = Parse(NpyOf<float>("<f4", "(3, 2)", {0, 1, 2, 3, nan, 5}), "f.npy");
  arrays.labels = Parse(NpyOf<int64_t>("<i8", "(3,)", {0, 1, 2}), "labels.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("f.npy: row 2, value 0 is nan; features must be finite numbers"));
  arrays.features = Parse(NpyOf<double>("<f8", "(3, 2)", {0, 1, 2, 1e300, 4, 5}), "f.npy");
  EXPECT_THAT(BuildError(arrays, Named()),
              HasSubstr("f.npy: row 1, value 1 is 1e+300, beyond float32's range"));
}

TEST(NpyImportTest, OptionErrors) {
  NpyImportOptions options = Named();
  options.label_names = {"a", "b", "a"};
  EXPECT_THAT(BuildError(Arrays(6), options), HasSubstr("--label-names lists 'a' twice"));
  options = Named();
  options.group_names = {"f", ""};
  EXPECT_THAT(BuildError(Arrays(6), options), HasSubstr("--group-names has an empty name"));
  options = Named();
  EXPECT_THAT(BuildError(Arrays(6, /*with_languages=*/false), options),
              HasSubstr("language names are given but no languages array"));
  options = Named();
  options.split.clients = 0;
  EXPECT_THAT(BuildError(Arrays(6), options), HasSubstr("clients is 0"));
  options = Named();
  options.split.dirichlet_alpha = 0.5;
  EXPECT_THAT(BuildError(Arrays(6), options), HasSubstr("a Dirichlet split needs the number of "
                                                        "clients"));
  options = Named();
  options.split.clients = 7;
  EXPECT_THAT(BuildError(Arrays(6), options), HasSubstr("6 rows cannot give each of 7 clients"));
  options = Named();
  options.split.train_fraction = 0.9;
  options.split.validation_fraction = 0.2;
  EXPECT_THAT(BuildError(Arrays(6), options), HasSubstr("exceed 1"));
  options = Named();
  options.modality = "bad name";
  EXPECT_FALSE(BuildShardsFromNpy(Arrays(6), options).ok());
}

TEST(NpyImportTest, DirichletSplitIsSeededAndComplete) {
  NpyImportOptions options = Named();
  options.split.clients = 4;
  options.split.dirichlet_alpha = 0.3;
  options.split.seed = 11;
  absl::StatusOr<NpyImport> first = BuildShardsFromNpy(Arrays(300), options);
  ASSERT_THAT(first, IsOk());
  absl::StatusOr<NpyImport> again = BuildShardsFromNpy(Arrays(300), options);
  ASSERT_THAT(again, IsOk());
  ASSERT_EQ(first->shards.size(), 4u);
  EXPECT_THAT(first->summary.client_names[3], "Dirichlet(0.3) part 3");
  int64_t total = 0;
  for (size_t client = 0; client < 4; ++client) {
    EXPECT_EQ(first->shards[client].features, again->shards[client].features);
    EXPECT_GT(first->shards[client].manifest.num_samples, 0);
    total += first->shards[client].manifest.num_samples;
  }
  EXPECT_EQ(total, 300);
  options.split.seed = 12;
  absl::StatusOr<NpyImport> other = BuildShardsFromNpy(Arrays(300), options);
  ASSERT_THAT(other, IsOk());
  EXPECT_NE(first->shards[0].features, other->shards[0].features);
}

TEST(NpyImportTest, ImportWritesReadableShards) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  std::vector<float> features(10 * 3, 0.5f);
  std::vector<int64_t> labels = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  std::vector<int32_t> groups = {1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
  WriteBytes(folder / "x.npy", NpyOf("<f4", "(10, 3)", features));
  WriteBytes(folder / "y.npy", NpyOf("<i8", "(10,)", labels));
  WriteBytes(folder / "g.npy", NpyOf("<i4", "(10,)", groups));
  NpyImportPaths paths = {(folder / "x.npy").string(), (folder / "y.npy").string(),
                          (folder / "g.npy").string(), ""};
  NpyImportOptions options;
  options.split.clients = 2;
  const std::string out = (folder / "shards").string();
  absl::StatusOr<NpyImportSummary> summary = ImportNpy(paths, out, options);
  ASSERT_THAT(summary, IsOk());
  ASSERT_EQ(summary->shard_dirs.size(), 2u);
  for (const std::string& dir : summary->shard_dirs) {
    absl::StatusOr<Shard> shard = Shard::Open(dir);
    ASSERT_THAT(shard, IsOk());
    EXPECT_EQ(shard->manifest().num_samples, 5);
    EXPECT_EQ(shard->manifest().modalities[0].dim, 3);
  }
  EXPECT_EQ(ImportNpy(paths, out, options).status().code(), absl::StatusCode::kFailedPrecondition);
  paths.languages = (folder / "none.npy").string();
  EXPECT_EQ(ImportNpy(paths, (folder / "other").string(), options).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(folder / "other"));
  // A device is refused before a byte is read, and so are names that are not UTF-8.
  NpyImportPaths device = paths;
  device.languages.clear();
  device.features = "/dev/zero";
  const absl::Status refused = ImportNpy(device, (folder / "other").string(), options).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("/dev/zero is a character device"));
  NpyImportOptions latin1 = options;
  latin1.group_names = {"f\xE9minin", "masculin"};
  paths.languages.clear();
  const absl::Status not_utf8 = ImportNpy(paths, (folder / "other").string(), latin1).status();
  EXPECT_EQ(not_utf8.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_utf8.message(), HasSubstr("groups name 'f\\xe9minin' is not UTF-8"));
  EXPECT_FALSE(std::filesystem::exists(folder / "other"));

  // The stages it reported, each from 0 to its total.
  paths.languages.clear();
  ProgressRecord record;
  options.progress = record.Callback();
  ASSERT_THAT(ImportNpy(paths, (folder / "again").string(), options), IsOk());
  EXPECT_THAT(record.stages, ElementsAre(ImportStage::kRead, ImportStage::kCheck,
                                         ImportStage::kBuild, ImportStage::kWrite));
  record.ExpectEveryStageFromZeroToTotal();
  EXPECT_EQ(record.total[ImportStage::kRead], std::filesystem::file_size(folder / "x.npy") +
                                                  std::filesystem::file_size(folder / "y.npy") +
                                                  std::filesystem::file_size(folder / "g.npy"));
  EXPECT_EQ(record.total[ImportStage::kCheck], 30u);  // feature values
  EXPECT_EQ(record.total[ImportStage::kBuild], 10u);  // rows
  EXPECT_EQ(record.total[ImportStage::kWrite], 2u);   // shards
}

}  // namespace
}  // namespace equifl::client
