// The shard folder format: round trip, and every way a manifest or its tensors can
// disagree, each named in the error.
#include "client/data/shard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "protocol/half_precision.h"
#include "tests/client/shard_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::client::testing::SmallShard;
using ::equifl::client::testing::WriteUnchecked;
using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
std::vector<T> ToVector(std::span<const T> span) {
  return {span.begin(), span.end()};
}

TEST(ShardTest, RoundTripKeepsManifestAndColumns) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  const ShardData data = SmallShard();
  const std::string dir = (folder / "nested" / "client-000").string();
  ASSERT_THAT(WriteShard(dir, data), IsOk());

  absl::StatusOr<Shard> shard = Shard::Open(dir);
  ASSERT_THAT(shard, IsOk());
  const ShardManifest& manifest = shard->manifest();
  EXPECT_EQ(manifest.num_samples, 6);
  EXPECT_EQ(manifest.split_counts, (SplitCounts{3, 2, 1}));
  ASSERT_EQ(manifest.modalities.size(), 2u);
  EXPECT_EQ(manifest.modalities[0].name, "video");
  EXPECT_EQ(manifest.modalities[0].kind, ModalityKind::kSequence);
  EXPECT_EQ(manifest.modalities[0].frames, 3);
  EXPECT_EQ(manifest.modalities[1].kind, ModalityKind::kVector);
  EXPECT_EQ(manifest.modalities[1].dim, 4);
  EXPECT_EQ(manifest.labels, data.manifest.labels);
  EXPECT_EQ(manifest.group_attribute, "gender");
  EXPECT_EQ(manifest.groups, data.manifest.groups);
  EXPECT_EQ(manifest.languages, data.manifest.languages);

  const ShardColumns& columns = shard->columns();
  EXPECT_EQ(ToVector(columns.features[0]), data.features[0]);
  EXPECT_EQ(ToVector(columns.features[1]), data.features[1]);
  EXPECT_EQ(ToVector(columns.lengths[0]), data.lengths[0]);
  EXPECT_TRUE(columns.lengths[1].empty());
  EXPECT_EQ(ToVector(columns.present), data.present);
  EXPECT_EQ(ToVector(columns.label), data.label);
  EXPECT_EQ(ToVector(columns.group), data.group);
  EXPECT_EQ(ToVector(columns.language), data.language);
  EXPECT_EQ(ToVector(columns.split), data.split);
  // The columns are the mapping itself, aligned.
  EXPECT_EQ(static_cast<const void*>(columns.label.data()),
            static_cast<const void*>(shard->file().Find("label")->bytes.data()));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(columns.label.data()) % 8, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(columns.features[1].data()) % 4, 0u);

  const ShardCounts counts = CountShard(manifest, columns);
  EXPECT_EQ(counts.samples, (SplitCounts{3, 2, 1}));
  EXPECT_EQ(counts.per_label[0], (SplitCounts{1, 1, 0}));
  EXPECT_EQ(counts.per_group[1], (SplitCounts{1, 1, 1}));
  EXPECT_EQ(counts.per_language[1], (SplitCounts{1, 1, 1}));
  EXPECT_EQ(counts.present[1], (SplitCounts{3, 1, 1}));  // text missing for sample 4
}

TEST(ShardTest, ManifestJsonIsTheDocumentedFormat) {
  const std::string text = SmallShard().manifest.ToJson();
  for (const char* fragment : {R"("format": "equifl-shard")", R"("version": 1)",
                               R"("num_samples": 6)", R"("kind": "sequence")", R"("frames": 3)",
                               R"("group_attribute": "gender")", R"("validation": 2)"}) {
    EXPECT_THAT(text, HasSubstr(fragment));
  }
  absl::StatusOr<ShardManifest> parsed = ShardManifest::FromJson(text, "m.json");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->ToJson(), text);
  EXPECT_THAT(text, Not(HasSubstr("feature_names")));  // optional, absent when unnamed

  ShardManifest named = SmallShard().manifest;
  named.modalities[1].feature_names = {"age", "job=office", "job=(other)", "grade"};
  parsed = ShardManifest::FromJson(named.ToJson(), "m.json");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->modalities[1].feature_names, named.modalities[1].feature_names);
  EXPECT_THAT(named.ToJson(), HasSubstr(R"("feature_names": [)"));

  EXPECT_THAT(text, Not(HasSubstr("front_end")));  // optional, absent for features made elsewhere
  ShardManifest recorded = SmallShard().manifest;
  recorded.modalities[0].front_end = "log-mel sample_rate=16000 bands=80";
  parsed = ShardManifest::FromJson(recorded.ToJson(), "m.json");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->modalities[0].front_end, "log-mel sample_rate=16000 bands=80");
  recorded.modalities[0].front_end = "log-mel \xff";
  EXPECT_THAT(recorded.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "modality 'video' front end 'log-mel \\xff' is not UTF-8"));
}

// Parses SmallShard's manifest after `edit` replaced `from` with `to` in its text.
std::string ManifestError(const std::string& from, const std::string& to) {
  std::string text = SmallShard().manifest.ToJson();
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return "";
  text.replace(at, from.size(), to);
  absl::StatusOr<ShardManifest> parsed = ShardManifest::FromJson(text, "m.json");
  EXPECT_FALSE(parsed.ok()) << to;
  return parsed.ok() ? "" : std::string(parsed.status().message());
}

TEST(ShardTest, ManifestErrorsNameWhatIsWrong) {
  EXPECT_THAT(ManifestError(R"("version": 1)", R"("version": 1,)"),
              HasSubstr("m.json: not valid JSON"));
  EXPECT_THAT(ManifestError(R"("equifl-shard")", R"("pt-shard")"),
              HasSubstr("m.json: format is 'pt-shard'; an equifl shard has 'equifl-shard'"));
  EXPECT_THAT(ManifestError(R"("version": 1)", R"("version": 2)"),
              HasSubstr("version is 2; this equifl reads version 1"));
  EXPECT_THAT(ManifestError(R"("version": 1)", R"("version": 1, "colour": "red")"),
              HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(ManifestError(R"("group_attribute": "gender",)", ""),
              HasSubstr("has no 'group_attribute'"));
  EXPECT_THAT(ManifestError(R"("num_samples": 6)", R"("num_samples": -6)"),
              HasSubstr("'num_samples' is -6; it must be a non-negative integer"));
  EXPECT_THAT(ManifestError(R"("kind": "sequence")", R"("kind": "image")"),
              HasSubstr("modalities[0].kind is 'image'; allowed values: sequence, vector"));
  EXPECT_THAT(ManifestError(R"("frames": 3,)", ""),
              HasSubstr("modalities[0] ('video') is a sequence but has no 'frames'"));
  EXPECT_THAT(ManifestError(R"("kind": "vector",)", R"("kind": "vector", "feature_names": ["a"],)"),
              HasSubstr("names 1 features but has dim 4; name every feature or none"));
  EXPECT_THAT(ManifestError(R"("kind": "vector",)",
                            R"("kind": "vector", "feature_names": ["a", "b", "c", "a"],)"),
              HasSubstr("the manifest lists 'a' twice in text feature names"));
  EXPECT_THAT(ManifestError(R"("kind": "vector",)", R"("kind": "vector", "frames": 2,)"),
              HasSubstr("'frames' belongs to sequences"));
  EXPECT_THAT(ManifestError(R"("name": "video")", R"("name": "label")"),
              HasSubstr("modality name 'label' is reserved"));
  EXPECT_THAT(ManifestError(R"("name": "video")", R"("name": "video.lengths")"),
              HasSubstr("modality name 'video.lengths' must be"));
  EXPECT_THAT(ManifestError(R"("name": "video")", R"("name": "text")"),
              HasSubstr("lists modality 'text' twice"));
  EXPECT_THAT(ManifestError(R"("happy")", R"("neutral")"),
              HasSubstr("lists 'neutral' twice in labels"));
  EXPECT_THAT(ManifestError(R"("female")", "3"),
              HasSubstr("'groups[0]' is 3; it must be a string"));
  EXPECT_THAT(
      ManifestError(R"("test": 1)", R"("test": 2)"),
      HasSubstr("the splits (train 3, validation 2, test 2) add up to 7, not num_samples 6"));
  EXPECT_THAT(ManifestError(R"("dim": 2)", R"("dim": 0)"),
              HasSubstr("modality 'video' has dim 0; it must be at least 1"));
}

// Writes SmallShard changed by `edit` without checks, opens it and returns the error.
std::string OpenError(const std::function<void(ShardData&)>& edit) {
  const equifl::test::TemporaryFolder temporary("shard_open");
  const std::filesystem::path& folder = temporary.path();
  ShardData data = SmallShard();
  edit(data);
  WriteUnchecked(folder.string(), data);
  absl::StatusOr<Shard> shard = Shard::Open(folder.string());
  EXPECT_FALSE(shard.ok());
  if (shard.ok()) return "";
  EXPECT_THAT(shard.status().message(), HasSubstr(folder.string()));
  return std::string(shard.status().message());
}

// A token modality: int32 ids [N, T] with lengths, beside a float one.
ShardData ShardWithTokens() {
  ShardData data = SmallShard();
  data.manifest.modalities[1] = {.name = "words",
                                 .kind = ModalityKind::kTokens,
                                 .frames = 3,
                                 .dim = 10,
                                 .front_end = "byte-tokens max_bytes=1"};
  data.features[1].clear();
  data.tokens = {{}, {1, 5, 2, 1, 9, 0, 1, 2, 0, 0, 0, 0, 1, 3, 2, 1, 4, 2}};
  data.lengths[1] = {3, 2, 2, 0, 3, 3};
  return data;
}

TEST(ShardTest, TokenModalitiesAreInt32WithLengths) {
  const equifl::test::TemporaryFolder temporary("shard");
  const ShardData data = ShardWithTokens();
  const std::string dir = (temporary.path() / "client-000").string();
  ASSERT_THAT(WriteShard(dir, data), IsOk());
  absl::StatusOr<Shard> shard = Shard::Open(dir);
  ASSERT_THAT(shard, IsOk());
  const ShardModality& words = shard->manifest().modalities[1];
  EXPECT_EQ(words.kind, ModalityKind::kTokens);
  EXPECT_EQ(words.Shape(6), (std::vector<int64_t>{6, 3}));
  EXPECT_THAT(shard->manifest().ToJson(), HasSubstr(R"("kind": "tokens")"));
  const protocol::TensorView* tensor = shard->file().Find("words");
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(tensor->data_type, v1::DATA_TYPE_INT32);
  EXPECT_EQ(ToVector(shard->columns().tokens[1]), data.tokens[1]);
  EXPECT_TRUE(shard->columns().tokens[0].empty());
  EXPECT_TRUE(shard->columns().features[1].empty());
  EXPECT_EQ(ToVector(shard->columns().lengths[1]), data.lengths[1]);

  ShardData bad = ShardWithTokens();
  bad.tokens[1][4] = 10;
  EXPECT_THAT(WriteShard(dir, bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "modality 'words' has the token 10 at sample 1; tokens must be in 0..9"));
  bad = ShardWithTokens();
  bad.tokens[1].pop_back();
  EXPECT_THAT(WriteShard(dir, bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "modality 'words' has 17 tokens; shape [6, 3]"));
  bad = ShardWithTokens();
  bad.lengths[1][0] = 4;
  EXPECT_THAT(WriteShard(dir, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, "words.lengths[0] is 4"));
}

// An image modality: uint8 RGB images [N, T, D, D, 3] with lengths, beside a float one.
ShardData ShardWithImages() {
  ShardData data = SmallShard();
  data.manifest.modalities[1] = {.name = "clips",
                                 .kind = ModalityKind::kImages,
                                 .frames = 2,
                                 .dim = 2,
                                 .front_end = "video-frames size=2"};
  data.features[1].clear();
  data.images.assign(2, {});
  for (int value = 0; value < 6 * 2 * 2 * 2 * 3; ++value) {
    data.images[1].push_back(static_cast<uint8_t>(value * 7));
  }
  data.lengths[1] = {2, 1, 0, 2, 2, 1};
  return data;
}

TEST(ShardTest, ImageModalitiesAreUint8WithLengths) {
  const equifl::test::TemporaryFolder temporary("shard");
  const ShardData data = ShardWithImages();
  const std::string dir = (temporary.path() / "client-000").string();
  ASSERT_THAT(WriteShard(dir, data), IsOk());
  absl::StatusOr<Shard> shard = Shard::Open(dir);
  ASSERT_THAT(shard, IsOk());
  const ShardModality& clips = shard->manifest().modalities[1];
  EXPECT_EQ(clips.kind, ModalityKind::kImages);
  EXPECT_EQ(clips.Shape(6), (std::vector<int64_t>{6, 2, 2, 2, 3}));
  EXPECT_EQ(clips.ValuesPerSample(), 24);
  EXPECT_THAT(shard->manifest().ToJson(), HasSubstr(R"("kind": "images")"));
  const protocol::TensorView* tensor = shard->file().Find("clips");
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(tensor->data_type, v1::DATA_TYPE_UINT8);
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{6, 2, 2, 2, 3}));
  EXPECT_EQ(ToVector(shard->columns().images[1]), data.images[1]);
  EXPECT_TRUE(shard->columns().images[0].empty());
  EXPECT_TRUE(shard->columns().features[1].empty());
  EXPECT_EQ(ToVector(shard->columns().lengths[1]), data.lengths[1]);

  ShardData bad = ShardWithImages();
  bad.images[1].pop_back();
  EXPECT_THAT(WriteShard(dir, bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "modality 'clips' has 143 pixel values; shape [6, 2, 2, 2, 3] needs 144"));
  bad = ShardWithImages();
  bad.features[1] = {1.0F};
  EXPECT_THAT(WriteShard(dir, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, "and 1 of another kind"));
  bad = ShardWithImages();
  bad.manifest.modalities[1].dim = kMaxImageSide + 1;
  EXPECT_THAT(WriteShard(dir, bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "has images of side 4097; at most 4096"));
}

// A float16 sequence: the values' float16 bits, an F16 tensor, "precision" in the
// manifest; infinities refused like float32 ones.
TEST(ShardTest, Float16ModalitiesKeepTheirBits) {
  const equifl::test::TemporaryFolder temporary("shard");
  ShardData data = SmallShard();
  data.manifest.modalities[0].precision = FeaturePrecision::kFloat16;
  data.halves.assign(2, {});
  for (const float value : data.features[0]) {
    data.halves[0].push_back(protocol::FloatToHalf(value));
  }
  data.features[0].clear();
  const std::string dir = (temporary.path() / "client-000").string();
  ASSERT_THAT(WriteShard(dir, data), IsOk());
  absl::StatusOr<Shard> shard = Shard::Open(dir);
  ASSERT_THAT(shard, IsOk());
  EXPECT_TRUE(shard->manifest().modalities[0].IsHalf());
  EXPECT_FALSE(shard->manifest().modalities[1].IsHalf());
  EXPECT_THAT(shard->manifest().ToJson(), HasSubstr(R"("precision": "float16")"));
  EXPECT_EQ(shard->file().Find("video")->data_type, v1::DATA_TYPE_FLOAT16);
  EXPECT_EQ(ToVector(shard->columns().halves[0]), data.halves[0]);
  EXPECT_TRUE(shard->columns().features[0].empty());
  EXPECT_EQ(ToVector(shard->columns().features[1]), data.features[1]);

  ShardData bad = data;
  bad.halves[0][3] = 0x7C00;  // +infinity
  EXPECT_THAT(WriteShard(dir, bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "modality 'video' has the value inf at sample 0"));
  bad = data;
  bad.halves[0].pop_back();
  EXPECT_THAT(WriteShard(dir, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, "float16 values; shape"));
  bad = ShardWithTokens();
  bad.manifest.modalities[1].precision = FeaturePrecision::kFloat16;
  EXPECT_THAT(WriteShard(dir, bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "modality 'words' is tokens; only sequences and vectors may be stored"));
}

TEST(ShardTest, ReaderNamesBadValues) {
  EXPECT_THAT(OpenError([](ShardData& d) { d.label[4] = 3; }),
              HasSubstr("label[4] is 3; the manifest lists 3 labels, so it must be in 0..2"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.group[1] = -1; }),
              HasSubstr("group[1] is -1; the manifest lists 2 groups"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.language[5] = 2; }),
              HasSubstr("language[5] is 2; the manifest lists 2 languages"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.lengths[0][2] = 4; }),
              HasSubstr("video.lengths[2] is 4; it must be in 0..3"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.lengths[0][0] = -1; }),
              HasSubstr("video.lengths[0] is -1"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.present[3] = 2; }),
              HasSubstr("present[1, 1] is 2; it must be 0 or 1"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.split[5] = 3; }),
              HasSubstr("split[5] is 3; it must be 0 (train), 1 (validation) or 2 (test)"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.split[5] = 0; }),
              HasSubstr("the split column has train 4, validation 2, test 0 samples; the "
                        "manifest says train 3, validation 2, test 1"));
  EXPECT_THAT(OpenError([](ShardData& d) { d.features[1][7] = std::nanf(""); }),
              HasSubstr("modality 'text' has the value nan at sample 1"));
}

TEST(ShardTest, ReaderNamesMissingExtraAndMisshapenTensors) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  const ShardData data = SmallShard();
  auto open_error = [&](std::vector<std::string> order) {
    std::filesystem::remove_all(folder);
    WriteUnchecked(folder.string(), data, std::move(order));
    absl::StatusOr<Shard> shard = Shard::Open(folder.string());
    EXPECT_FALSE(shard.ok());
    return shard.ok() ? "" : std::string(shard.status().message());
  };
  EXPECT_THAT(open_error({"label", "group", "language", "video", "text", "present", "split"}),
              HasSubstr("data.safetensors has no tensor 'video.lengths', which the manifest "
                        "implies (int64 [6])"));

  ShardData extra = SmallShard();
  extra.manifest.modalities.pop_back();  // the file still has 'text'
  extra.manifest.modalities.push_back({"audio", ModalityKind::kVector, 0, 4});
  std::filesystem::remove_all(folder);
  WriteUnchecked(folder.string(), data);
  std::ofstream(folder / kManifestFile) << extra.manifest.ToJson();
  absl::StatusOr<Shard> shard = Shard::Open(folder.string());
  ASSERT_FALSE(shard.ok());
  EXPECT_THAT(shard.status().message(), HasSubstr("no tensor 'audio'"));

  ShardData wider = SmallShard();
  wider.manifest.modalities[1].dim = 8;
  std::filesystem::remove_all(folder);
  WriteUnchecked(folder.string(), data);
  std::ofstream(folder / kManifestFile) << wider.manifest.ToJson();
  shard = Shard::Open(folder.string());
  ASSERT_FALSE(shard.ok());
  EXPECT_THAT(shard.status().message(),
              HasSubstr("tensor 'text' is float32 [6, 4]; the manifest implies float32 [6, 8]"));

  // A tensor the manifest does not describe.
  std::filesystem::remove_all(folder);
  WriteUnchecked(folder.string(), data);
  ShardData fewer = SmallShard();
  fewer.manifest.modalities.pop_back();
  std::ofstream(folder / kManifestFile) << fewer.manifest.ToJson();
  shard = Shard::Open(folder.string());
  ASSERT_FALSE(shard.ok());
  EXPECT_THAT(shard.status().message(),
              HasSubstr("tensor 'present' is uint8 [6, 2]; the manifest implies uint8 [6, 1]"));
}

TEST(ShardTest, ReaderNamesATensorTheManifestDoesNotDescribe) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  ShardData data = SmallShard();
  WriteUnchecked(folder.string(), data);
  // Same file plus one more tensor.
  std::vector<float> stray = {1, 2};
  absl::StatusOr<protocol::SafetensorsFile> file =
      protocol::SafetensorsFile::Open((folder / kDataFile).string());
  ASSERT_THAT(file, IsOk());
  std::vector<protocol::TensorView> views = file->tensors();
  views.push_back({"stray", v1::DATA_TYPE_FLOAT32, {2}, std::as_bytes(std::span(stray))});
  const std::string copy = (folder / "copy.safetensors").string();
  ASSERT_THAT(protocol::WriteSafetensors(copy, views), IsOk());
  std::filesystem::rename(copy, folder / kDataFile);
  absl::StatusOr<Shard> shard = Shard::Open(folder.string());
  ASSERT_FALSE(shard.ok());
  EXPECT_THAT(shard.status().message(),
              HasSubstr("data.safetensors has tensor 'stray', which the manifest does not "
                        "describe"));
}

TEST(ShardTest, ReadsMisalignedTensorsFromOtherWriters) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  const ShardData data = SmallShard();
  // split (6 bytes) first puts every int64 and float tensor off alignment.
  WriteUnchecked(
      folder.string(), data,
      {"split", "present", "label", "group", "language", "video.lengths", "video", "text"});
  absl::StatusOr<Shard> shard = Shard::Open(folder.string());
  ASSERT_THAT(shard, IsOk());
  EXPECT_EQ(ToVector(shard->columns().label), data.label);
  EXPECT_EQ(ToVector(shard->columns().features[0]), data.features[0]);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(shard->columns().label.data()) % 8, 0u);
  // Moving the shard keeps the views valid.
  Shard moved = *std::move(shard);
  EXPECT_EQ(ToVector(moved.columns().lengths[0]), data.lengths[0]);
}

TEST(ShardTest, WriterRefusesInvalidDataAndNamesIt) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  ShardData data = SmallShard();
  data.label[2] = 9;
  absl::Status status = WriteShard((folder / "s").string(), data);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("cannot write shard"));
  EXPECT_THAT(status.message(), HasSubstr("label[2] is 9"));
  EXPECT_FALSE(std::filesystem::exists(folder / "s" / kManifestFile));

  data = SmallShard();
  data.features[0].pop_back();
  EXPECT_THAT(WriteShard((folder / "s").string(), data).message(),
              HasSubstr("modality 'video' has 35 values; shape [6, 3, 2] needs 36"));
  data = SmallShard();
  data.manifest.split_counts = {6, 0, 0};
  EXPECT_THAT(WriteShard((folder / "s").string(), data).message(),
              HasSubstr("the manifest says train 6"));
}

TEST(ShardTest, MissingFoldersAndManifestsAreNotFound) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  absl::StatusOr<Shard> shard = Shard::Open((folder / "nothing").string());
  EXPECT_EQ(shard.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(shard.status().message(), HasSubstr("does not exist"));
  shard = Shard::Open(folder.string());
  EXPECT_EQ(shard.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(shard.status().message(), HasSubstr("has no readable manifest.json"));
  EXPECT_EQ(FindShards(folder.string()).status().code(), absl::StatusCode::kNotFound);
}

TEST(ShardTest, FindShardsListsClientFoldersInOrder) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  for (int client : {2, 0, 1}) {
    ASSERT_THAT(WriteShard((folder / ClientShardName(client)).string(), SmallShard()), IsOk());
  }
  std::filesystem::create_directories(folder / "not-a-shard");
  absl::StatusOr<std::vector<std::string>> shards = FindShards(folder.string());
  ASSERT_THAT(shards, IsOk());
  EXPECT_THAT(*shards,
              ElementsAre((folder / "client-000").string(), (folder / "client-001").string(),
                          (folder / "client-002").string()));
  // A shard folder itself.
  shards = FindShards((folder / "client-001").string());
  ASSERT_THAT(shards, IsOk());
  EXPECT_THAT(*shards, ElementsAreArray({(folder / "client-001").string()}));
}

}  // namespace
}  // namespace equifl::client
