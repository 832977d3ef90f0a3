// The media manifest's import: audio into log-mel shards, clients and splits from
// columns, every kind of bad row, --skip-bad's counts, and nothing left behind.
#include "client/media/media_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "protocol/half_precision.h"
#include "tests/client/data/progress_record.h"
#include "tests/client/media/audio_test_files.h"
#include "tests/client/media/media_programs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The loudest band of a 300 Hz and of a 2 kHz tone (where their triangles peak).
int LoudestBand(const float* frame, int bands) {
  return static_cast<int>(std::max_element(frame, frame + bands) - frame);
}

class MediaImportTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return folder_ / name; }

  // clips/<id>.wav: 300 Hz for label "low", 2 kHz for "high", `seconds` long, at
  // 22.05 kHz (so every file is resampled).
  void WriteClip(const std::string& id, const std::string& label, double seconds) {
    std::filesystem::create_directories(Path("clips"));
    test::WriteWav(Path("clips/" + id + ".wav"), 22050, 1,
                   test::Tone(label == "low" ? 300 : 2000, seconds, 22050));
  }

  void WriteManifest(const std::string& text) { std::ofstream(Path("manifest.csv")) << text; }

  absl::StatusOr<MediaImportSummary> Import(MediaImportOptions options = {}) {
    return ImportMedia(Path("manifest.csv"), Path("shards"), options);
  }

  test::TemporaryFolder folder_{"media_import"};
};

TEST_F(MediaImportTest, RecordingsBecomeLogMelSequences) {
  std::string manifest = "id,label,group,language,client,split,audio\n";
  for (int index = 0; index < 8; ++index) {
    const std::string id = "s" + std::to_string(index);
    const std::string label = index % 2 == 0 ? "low" : "high";
    WriteClip(id, label, 0.5 + 0.1 * index);
    manifest += id + "," + label + "," + (index < 4 ? "female" : "male") + "," +
                (index % 3 == 0 ? "de" : "en") + "," + (index < 5 ? "a" : "b") + "," +
                (index % 4 == 3 ? "test" : "train") + ",clips/" + id + ".wav\n";
  }
  WriteManifest(manifest);
  ProgressRecord progress;
  MediaImportOptions options;
  options.max_audio_seconds = 1.0;
  options.group_attribute = "gender";
  options.audio_precision = FeaturePrecision::kFloat32;
  options.progress = progress.Callback();
  absl::StatusOr<MediaImportSummary> summary = Import(options);
  ASSERT_THAT(summary, IsOk());
  progress.ExpectEveryStageFromZeroToTotal();
  EXPECT_EQ(progress.total.at(ImportStage::kCheck), 8u);
  EXPECT_EQ(summary->rows_read, 8);
  EXPECT_EQ(summary->rows_imported, 8);
  EXPECT_TRUE(summary->skipped.empty());
  EXPECT_EQ(summary->audio_files, 8);
  EXPECT_EQ(summary->audio_clipped, 2);  // 1.1 and 1.2 s
  EXPECT_NEAR(summary->audio_seconds, 0.5 + 0.6 + 0.7 + 0.8 + 0.9 + 1.0 + 1.0 + 1.0, 1e-6);
  EXPECT_THAT(summary->labels, ElementsAre("high", "low"));
  EXPECT_THAT(summary->groups, ElementsAre("female", "male"));
  EXPECT_THAT(summary->languages, ElementsAre("de", "en"));
  EXPECT_THAT(summary->client_names, ElementsAre("client=a", "client=b"));
  ASSERT_EQ(summary->shard_dirs.size(), 2u);

  absl::StatusOr<Shard> shard = Shard::Open(summary->shard_dirs[0]);
  ASSERT_THAT(shard, IsOk());
  const ShardManifest& written = shard->manifest();
  ASSERT_EQ(written.modalities.size(), 1u);
  const ShardModality& audio = written.modalities[0];
  EXPECT_EQ(audio.name, "audio");
  EXPECT_EQ(audio.kind, ModalityKind::kSequence);
  EXPECT_EQ(audio.frames, 98);  // 1 s at 16 kHz: 1 + (16000 - 400) / 160
  EXPECT_EQ(audio.dim, 80);
  EXPECT_EQ(audio.front_end, LogMelOptions{}.Describe());
  EXPECT_EQ(written.group_attribute, "gender");
  // Client a holds s0..s4: s3 is test, the rest train (the split column).
  EXPECT_EQ(written.num_samples, 5);
  EXPECT_EQ(written.split_counts[static_cast<int>(Split::kTest)], 1);
  const ShardColumns& columns = shard->columns();
  std::vector<int64_t> lengths(columns.lengths[0].begin(), columns.lengths[0].end());
  std::sort(lengths.begin(), lengths.end());
  // 0.5, 0.6, 0.7, 0.8, 0.9 s: 1 + (8000 - 400) / 160 = 48, then 58, 68, 78, 88.
  EXPECT_THAT(lengths, ElementsAre(48, 58, 68, 78, 88));
  // Each sample's loudest band follows its tone; frames past its length are zeros.
  const int low_band =
      LoudestBand(LogMelFrontEnd({}).Compute(test::Tone(300, 0.1, 16000), 0).data(), 80);
  const int high_band =
      LoudestBand(LogMelFrontEnd({}).Compute(test::Tone(2000, 0.1, 16000), 0).data(), 80);
  ASSERT_NE(low_band, high_band);
  for (int64_t row = 0; row < written.num_samples; ++row) {
    const float* sample = columns.features[0].data() + row * 98 * 80;
    const std::string& label = written.labels[static_cast<size_t>(columns.label[row])];
    EXPECT_EQ(LoudestBand(sample + 20 * 80, 80), label == "low" ? low_band : high_band) << row;
    EXPECT_EQ(columns.present[row], 1);
    const int64_t length = columns.lengths[0][row];
    EXPECT_TRUE(
        std::all_of(sample + length * 80, sample + 98 * 80, [](float v) { return v == 0; }));
  }
}

// By default log-mel energies are stored as float16: each value the float32 import
// stores, rounded to nearest (the padding +0.0), in an F16 tensor.
TEST_F(MediaImportTest, AudioIsStoredAsFloat16ByDefault) {
  std::string manifest = "id,label,group,audio\n";
  for (int index = 0; index < 4; ++index) {
    const std::string id = "s" + std::to_string(index);
    WriteClip(id, index % 2 == 0 ? "low" : "high", 0.3 + 0.1 * index);
    manifest += id + "," + (index % 2 == 0 ? "low" : "high") + ",g,clips/" + id + ".wav\n";
  }
  WriteManifest(manifest);
  MediaImportOptions options;
  options.max_audio_seconds = 1;
  ASSERT_EQ(options.audio_precision, FeaturePrecision::kFloat16);
  ASSERT_THAT(ImportMedia(Path("manifest.csv"), Path("half"), options), IsOk());
  options.audio_precision = FeaturePrecision::kFloat32;
  ASSERT_THAT(ImportMedia(Path("manifest.csv"), Path("full"), options), IsOk());
  absl::StatusOr<Shard> half = Shard::Open(Path("half/client-000"));
  absl::StatusOr<Shard> full = Shard::Open(Path("full/client-000"));
  ASSERT_THAT(half, IsOk());
  ASSERT_THAT(full, IsOk());
  EXPECT_TRUE(half->manifest().modalities[0].IsHalf());
  EXPECT_FALSE(full->manifest().modalities[0].IsHalf());
  EXPECT_EQ(half->file().Find("audio")->data_type, v1::DATA_TYPE_FLOAT16);
  const std::span<const float> values = full->columns().features[0];
  const std::span<const uint16_t> bits = half->columns().halves[0];
  ASSERT_EQ(bits.size(), values.size());
  ASSERT_TRUE(half->columns().features[0].empty());
  size_t differing = 0;
  for (size_t index = 0; index < values.size(); ++index) {
    if (bits[index] != protocol::FloatToHalf(values[index])) ++differing;
  }
  EXPECT_EQ(differing, 0u);
  EXPECT_LT(std::filesystem::file_size(Path("half/client-000/data.safetensors")),
            std::filesystem::file_size(Path("full/client-000/data.safetensors")) * 6 / 10);
}

// One thread or two: the same shards, byte for byte.
TEST_F(MediaImportTest, ThreadsDoNotChangeTheShards) {
  std::string manifest = "id,label,group,audio\n";
  for (int index = 0; index < 12; ++index) {
    const std::string id = "s" + std::to_string(index);
    WriteClip(id, index % 3 == 0 ? "low" : "high", 0.3 + 0.05 * index);
    manifest += id + "," + (index % 3 == 0 ? "low" : "high") + ",g" + std::to_string(index % 2) +
                ",clips/" + id + ".wav\n";
  }
  WriteManifest(manifest);
  auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  MediaImportOptions options;
  options.max_audio_seconds = 1;
  options.split.clients = 2;
  options.threads = 1;
  ASSERT_THAT(ImportMedia(Path("manifest.csv"), Path("one"), options), IsOk());
  options.threads = 2;
  ASSERT_THAT(ImportMedia(Path("manifest.csv"), Path("two"), options), IsOk());
  for (const char* file :
       {"client-000/data.safetensors", "client-001/data.safetensors", "client-000/manifest.json"}) {
    EXPECT_EQ(bytes(Path("one/") + file), bytes(Path("two/") + file)) << file;
  }
}

// Every kind of bad row, once: without --skip-bad the first stops the import and
// nothing is written; with it each is counted under its reason.
TEST_F(MediaImportTest, BadRowsAreNamedOrSkippedAndCounted) {
  WriteClip("good1", "low", 0.4);
  WriteClip("good2", "high", 0.4);
  WriteClip("dup", "low", 0.4);
  test::WriteWav(Path("clips/cut-source.wav"), 16000, 1, test::Tone(440, 1, 16000));
  test::CopyPrefix(Path("clips/cut-source.wav"), Path("clips/cut.wav"), 5000);
  std::ofstream(Path("clips/empty.wav")).close();
  std::ofstream(Path("clips/noise.wav"), std::ios::binary) << std::string(2000, '\x11');
  test::WriteWav(Path("clips/slow.wav"), 2000, 1, test::Tone(100, 0.5, 2000));
  WriteManifest(
      "id,label,group,split,audio\n"
      "good1,low,f,train,clips/good1.wav\n"
      "nolabel,,f,train,clips/good1.wav\n"
      "good2,high,m,train,clips/good2.wav\n"
      "good1,low,f,train,clips/dup.wav\n"
      "odd,medium,f,train,clips/good1.wav\n"
      "gone,low,f,train,clips/gone.wav\n"
      "empty,low,f,train,clips/empty.wav\n"
      "cut,high,m,train,clips/cut.wav\n"
      "noise,high,m,train,clips/noise.wav\n"
      "slow,high,m,train,clips/slow.wav\n"
      "silent,high,m,train,\n"
      "when,high,m,later,clips/good2.wav\n");
  MediaImportOptions options;
  options.max_audio_seconds = 1;
  options.label_values = {"low", "high"};
  EXPECT_THAT(Import(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        "manifest.csv line 3 (id 'nolabel'): the label is empty; "
                                        "fix the row, or pass --skip-bad"));
  EXPECT_FALSE(std::filesystem::exists(Path("shards")));

  options.skip_bad = true;
  absl::StatusOr<MediaImportSummary> summary = Import(options);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->rows_read, 12);
  EXPECT_EQ(summary->rows_imported, 2);
  std::map<std::string, std::pair<int64_t, std::string>> skipped;
  for (const SkippedRows& rows : summary->skipped) {
    skipped[rows.reason] = {rows.count, rows.example};
  }
  auto expect = [&](const std::string& reason, const std::string& says) {
    SCOPED_TRACE(reason);
    ASSERT_TRUE(skipped.contains(reason));
    EXPECT_EQ(skipped[reason].first, 1);
    EXPECT_THAT(skipped[reason].second, HasSubstr(says));
  };
  expect("missing value", "line 3 (id 'nolabel'): the label is empty");
  expect("repeated id", "line 5 (id 'good1'): the id appears on an earlier row");
  expect("unknown label", "line 6 (id 'odd'): the label 'medium' is not one of --labels");
  expect("audio missing", "line 7 (id 'gone'): audio clips/gone.wav: no such file");
  expect("audio empty", "line 8 (id 'empty'): audio clips/empty.wav: the file is empty");
  expect("audio truncated", "line 9 (id 'cut'): audio clips/cut.wav: the file ends before");
  expect("audio undecodable", "line 10 (id 'noise'): audio clips/noise.wav: cannot be decoded");
  expect("audio unsupported", "line 11 (id 'slow'): audio clips/slow.wav: its sample rate is 2000");
  expect("no media", "line 12 (id 'silent'): the row names no video, no recording");
  expect("bad split", "line 13 (id 'when'): the split 'later' is not train, validation or test");
  EXPECT_EQ(skipped.size(), 10u);
  EXPECT_THAT(summary->labels, ElementsAre("low", "high"));  // the given order
}

// Text inline or from a file becomes byte tokens; a row may lack audio or text,
// and its present flag says which.
TEST_F(MediaImportTest, TextsBecomeByteTokensBesideAudio) {
  WriteClip("a", "low", 0.3);
  WriteClip("b", "high", 0.3);
  std::filesystem::create_directories(Path("texts"));
  std::ofstream(Path("texts/c.txt")) << "Grüß dich";
  WriteManifest(
      "id,label,group,audio,text,text_file\n"
      "a,low,f,clips/a.wav,hi 日本,\n"
      "b,high,m,clips/b.wav,,\n"
      "c,high,m,,,texts/c.txt\n"
      "d,low,f,,a very long text indeed,\n");
  MediaImportOptions options;
  options.max_audio_seconds = 0.5;
  options.text.max_bytes = 12;
  options.split.train_fraction = 1;
  options.split.validation_fraction = 0;
  absl::StatusOr<MediaImportSummary> summary = Import(options);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->rows_imported, 4);
  EXPECT_EQ(summary->audio_files, 2);
  EXPECT_EQ(summary->texts, 3);
  EXPECT_EQ(summary->text_clipped, 1);
  ASSERT_EQ(summary->modalities.size(), 2u);
  EXPECT_EQ(summary->modalities[1].name, "text");
  EXPECT_EQ(summary->modalities[1].kind, ModalityKind::kTokens);
  EXPECT_EQ(summary->modalities[1].frames, 14);
  EXPECT_EQ(summary->modalities[1].dim, 259);
  EXPECT_EQ(summary->modalities[1].front_end,
            "byte-tokens pad=0 begin=1 end=2 byte_offset=3 "
            "max_bytes=12");

  absl::StatusOr<Shard> shard = Shard::Open(summary->shard_dirs[0]);
  ASSERT_THAT(shard, IsOk());
  const ShardColumns& columns = shard->columns();
  // Rows are in the split's shuffled order: find each by its tokens' length.
  std::map<int64_t, std::vector<int32_t>> by_length;
  for (int64_t row = 0; row < 4; ++row) {
    const int64_t length = columns.lengths[1][row];
    EXPECT_EQ(columns.present[row * 2 + 1], length > 0 ? 1 : 0);
    EXPECT_EQ(columns.present[row * 2], columns.lengths[0][row] > 0 ? 1 : 0);
    const int32_t* ids = columns.tokens[1].data() + row * 14;
    by_length[length] = std::vector<int32_t>(ids, ids + 14);
  }
  auto bytes = [](const std::string& text) {
    std::vector<int32_t> ids = {1};
    for (const char c : text) ids.push_back(static_cast<unsigned char>(c) + 3);
    ids.push_back(2);
    ids.resize(14, 0);
    return ids;
  };
  EXPECT_EQ(by_length[0], std::vector<int32_t>(14, 0));  // b: no text
  EXPECT_EQ(by_length[13], bytes("Grüß dich"));          // 11 bytes, begin and end
  EXPECT_EQ(by_length[11], bytes("hi 日本"));            // 9 bytes
  EXPECT_EQ(by_length[14], bytes("a very long "));       // cut at 12 bytes
}

// With a deployment's SentencePiece model, texts become its pieces (Python's
// sentencepiece module's ids between its begin and end), the modality's vocabulary
// is the model's and the front end names the model file.
TEST_F(MediaImportTest, TextsBecomeTheModelsPiecesWithSentencePiece) {
  if (!test::HaveSentencePiecePrograms()) GTEST_SKIP() << test::kNoSentencePiecePrograms;
  ASSERT_TRUE(test::TrainSentencePieceModel(folder_.path(), "spm", test::MixedScriptCorpus(), 80));
  WriteManifest(
      "id,label,group,text\n"
      "a,low,f,grüß dich mein Freund\n"
      "b,high,m,今日は良い天気です\n");
  MediaImportOptions options;
  options.sentencepiece = {.model_path = Path("spm.model"), .max_pieces = 20};
  options.split.train_fraction = 1;
  options.split.validation_fraction = 0;
  absl::StatusOr<MediaImportSummary> summary = Import(options);
  ASSERT_THAT(summary, IsOk());
  ASSERT_EQ(summary->modalities.size(), 1u);
  const ShardModality& text = summary->modalities[0];
  EXPECT_EQ(text.kind, ModalityKind::kTokens);
  EXPECT_EQ(text.frames, 22);
  absl::StatusOr<SentencePieceTokenizer> tokenizer =
      SentencePieceTokenizer::Load(options.sentencepiece);
  ASSERT_THAT(tokenizer, IsOk());
  EXPECT_EQ(text.dim, tokenizer->Vocabulary());
  EXPECT_EQ(text.front_end, tokenizer->Describe());
  EXPECT_THAT(text.front_end, HasSubstr("sentencepiece sha256="));

  const test::PythonPieces reference =
      test::PythonSentencePiece(Path("spm.model"), {"grüß dich mein Freund", "今日は良い天気です"});
  ASSERT_EQ(reference.ids.size(), 2u);
  std::vector<std::vector<int32_t>> expected;
  for (const std::vector<int>& pieces : reference.ids) {
    std::vector<int32_t> ids = {reference.begin};
    ids.insert(ids.end(), pieces.begin(), pieces.end());
    ids.push_back(reference.end);
    ids.resize(22, 0);
    expected.push_back(ids);
  }
  absl::StatusOr<Shard> shard = Shard::Open(summary->shard_dirs[0]);
  ASSERT_THAT(shard, IsOk());
  std::vector<std::vector<int32_t>> stored;
  for (int64_t row = 0; row < 2; ++row) {
    const int32_t* ids = shard->columns().tokens[0].data() + row * 22;
    stored.emplace_back(ids, ids + 22);
  }
  std::sort(stored.begin(), stored.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(stored, expected);
}

TEST_F(MediaImportTest, BadTextRowsAreNamed) {
  std::filesystem::create_directories(Path("texts"));
  std::ofstream(Path("texts/latin1.txt")) << "Gr\xfc\xdf dich";
  std::ofstream(Path("texts/empty.txt")).close();
  std::ofstream(Path("texts/ok.txt")) << "fine";
  WriteManifest(
      "id,label,group,text,text_file\n"
      "ok,low,f,,texts/ok.txt\n"
      "latin,low,f,,texts/latin1.txt\n"
      "empty,low,f,,texts/empty.txt\n"
      "gone,low,f,,texts/gone.txt\n"
      "both,low,f,hello,texts/ok.txt\n"
      "none,low,f,,\n");
  EXPECT_THAT(Import(), StatusIs(absl::StatusCode::kInvalidArgument,
                                 "manifest.csv line 6 (id 'both'): the row has both text and "
                                 "text_file; give one"));
  MediaImportOptions options;
  options.skip_bad = true;
  absl::StatusOr<MediaImportSummary> summary = Import(options);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->rows_imported, 1);
  std::map<std::string, std::string> skipped;
  for (const SkippedRows& rows : summary->skipped) skipped[rows.reason] = rows.example;
  EXPECT_THAT(skipped["text not UTF-8"],
              HasSubstr("line 3 (id 'latin'): text file texts/latin1.txt: byte 3 is not UTF-8"));
  EXPECT_THAT(skipped["text empty"], HasSubstr("line 4 (id 'empty'): text file texts/empty.txt: "
                                               "the file is empty"));
  EXPECT_THAT(skipped["text missing"], HasSubstr("line 5 (id 'gone'): text file texts/gone.txt: "
                                                 "no such file"));
  EXPECT_THAT(skipped["two texts"], HasSubstr("line 6 (id 'both')"));
  EXPECT_THAT(skipped["no media"], HasSubstr("line 7 (id 'none'): the row names no video, no "
                                             "recording and no text"));
  ASSERT_EQ(summary->modalities.size(), 1u);  // no audio column: text alone
  EXPECT_EQ(summary->modalities[0].name, "text");
}

// Videos become uint8 image sequences beside the audio: one clip per label colour,
// sampled at 4 frames a second into 16x16 frames; a row's missing video is masked
// (present 0) while its audio stays, and bad videos are counted per reason.
TEST_F(MediaImportTest, VideosBecomeImageSequencesBesideAudio) {
  if (!test::HaveFfmpeg()) GTEST_SKIP() << test::kNoFfmpeg;
  std::filesystem::create_directories(Path("clips"));
  for (const auto& [label, colour] : {std::pair{"low", "red"}, std::pair{"high", "blue"}}) {
    ASSERT_TRUE(test::RunFfmpeg(
        folder_.path(), absl::StrCat("-f lavfi -i color=c=", colour,
                                     ":s=32x24:r=10:d=0.8 -pix_fmt yuv420p -c:v libx264 ", "clips/",
                                     label, ".mp4")));
  }
  ASSERT_TRUE(test::RunFfmpeg(folder_.path(),
                              "-f lavfi -i sine=frequency=440:duration=0.5 clips/sound.wav"));
  std::string manifest = "id,label,group,video,audio\n";
  for (int index = 0; index < 6; ++index) {
    const std::string id = "v" + std::to_string(index);
    const std::string label = index % 2 == 0 ? "low" : "high";
    WriteClip(id, label, 0.5);
    manifest += id + "," + label + ",g" + std::to_string(index % 2) + "," +
                (index == 5 ? "" : "clips/" + label + ".mp4") + ",clips/" + id + ".wav\n";
  }
  manifest += "gone,low,g0,clips/gone.mp4,clips/v0.wav\n";
  manifest += "mute,low,g0,clips/sound.wav,clips/v0.wav\n";
  WriteManifest(manifest);
  MediaImportOptions options;
  options.video.frames_per_second = 4;
  options.video.size = 16;
  options.video.max_seconds = 2;
  options.max_audio_seconds = 1;
  EXPECT_THAT(Import(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        "manifest.csv line 8 (id 'gone'): video clips/gone.mp4"));
  options.skip_bad = true;
  absl::StatusOr<MediaImportSummary> summary = Import(options);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->rows_imported, 6);
  std::map<std::string, int64_t> skipped;
  for (const SkippedRows& rows : summary->skipped) skipped[rows.reason] = rows.count;
  EXPECT_EQ(skipped,
            (std::map<std::string, int64_t>{{"video missing", 1}, {"video unsupported", 1}}));
  EXPECT_EQ(summary->video_files, 5);
  EXPECT_EQ(summary->video_frames, 5 * 4);  // 0.8 s at 4 frames a second: t = 0, .25, .5, .75
  EXPECT_NEAR(summary->video_seconds, 5 * 0.8, 0.05);
  ASSERT_EQ(summary->modalities.size(), 2u);
  const ShardModality& video = summary->modalities[0];
  EXPECT_EQ(video.name, "video");
  EXPECT_EQ(video.kind, ModalityKind::kImages);
  EXPECT_EQ(video.frames, 8);
  EXPECT_EQ(video.dim, 16);
  EXPECT_EQ(video.front_end, options.video.Describe());
  EXPECT_EQ(summary->modalities[1].name, "audio");

  ASSERT_EQ(summary->shard_dirs.size(), 1u);
  absl::StatusOr<Shard> shard = Shard::Open(summary->shard_dirs[0]);
  ASSERT_THAT(shard, IsOk());
  const ShardColumns& columns = shard->columns();
  const int64_t per_sample = 8 * 16 * 16 * 3;
  ASSERT_EQ(static_cast<int64_t>(columns.images[0].size()), 6 * per_sample);
  const int low = static_cast<int>(
      std::find(summary->labels.begin(), summary->labels.end(), "low") - summary->labels.begin());
  int masked = 0;
  for (int64_t row = 0; row < 6; ++row) {
    const uint8_t* images = columns.images[0].data() + row * per_sample;
    EXPECT_EQ(columns.present[2 * row + 1], 1);  // every row has its audio
    if (columns.present[2 * row] == 0) {
      ++masked;
      EXPECT_EQ(columns.lengths[0][row], 0);
      EXPECT_TRUE(std::all_of(images, images + per_sample, [](uint8_t v) { return v == 0; }));
      continue;
    }
    ASSERT_EQ(columns.lengths[0][row], 4);
    // A frame's centre pixel is the clip's colour (lossy YUV: within 24 of 255);
    // frames past the length are zeros.
    const bool red = columns.label[row] == low;
    const uint8_t* centre = images + (8 * 16 + 8) * 3;
    EXPECT_GT(centre[red ? 0 : 2], 200) << row;
    EXPECT_LT(centre[red ? 2 : 0], 40) << row;
    EXPECT_TRUE(std::all_of(images + 4 * 16 * 16 * 3, images + per_sample,
                            [](uint8_t v) { return v == 0; }));
  }
  EXPECT_EQ(masked, 1);
}

// A clip with sound may serve as both video and audio: its frames become the video,
// its sound track the log-mel audio.
TEST_F(MediaImportTest, OneClipGivesVideoAndAudio) {
  if (!test::HaveFfmpeg()) GTEST_SKIP() << test::kNoFfmpeg;
  std::filesystem::create_directories(Path("clips"));
  ASSERT_TRUE(test::RunFfmpeg(
      folder_.path(),
      "-f lavfi -i color=c=red:s=32x24:r=10:d=1 -f lavfi -i "
      "sine=frequency=2000:sample_rate=22050:duration=1 -c:v libx264 -pix_fmt yuv420p "
      "-c:a aac clips/clip.mp4"));
  WriteManifest("id,label,group,video,audio\na,high,g,clips/clip.mp4,clips/clip.mp4\n");
  MediaImportOptions options;
  options.video = {.frames_per_second = 2, .size = 8, .max_seconds = 1};
  options.max_audio_seconds = 1;
  absl::StatusOr<MediaImportSummary> summary = Import(options);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->video_files, 1);
  EXPECT_EQ(summary->audio_files, 1);
  absl::StatusOr<Shard> shard = Shard::Open(summary->shard_dirs[0]);
  ASSERT_THAT(shard, IsOk());
  const ShardColumns& columns = shard->columns();
  EXPECT_EQ(columns.lengths[0][0], 2);   // frames at 0 and 0.5 s
  EXPECT_GT(columns.lengths[1][0], 90);  // about a second of 10 ms frames
  EXPECT_EQ(columns.present[0], 1);
  EXPECT_EQ(columns.present[1], 1);
  // The 2 kHz tone's band is the loudest, as in a WAV of it.
  std::vector<float> frame(80);
  protocol::HalvesToFloats(columns.halves[1].data() + 40 * 80, frame);
  const int expected =
      LoudestBand(LogMelFrontEnd({}).Compute(test::Tone(2000, 0.1, 16000), 0).data(), 80);
  EXPECT_EQ(LoudestBand(frame.data(), 80), expected);
}

TEST_F(MediaImportTest, ManifestAndOptionErrors) {
  WriteManifest("id,label,audio\na,low,x.wav\n");
  EXPECT_THAT(Import(),
              StatusIs(absl::StatusCode::kInvalidArgument, "manifest.csv has no 'group' column"));
  WriteManifest("id,label,group,clip\na,low,f,x.mp4\n");
  EXPECT_THAT(Import(), StatusIs(absl::StatusCode::kInvalidArgument,
                                 "has no 'video', 'audio', 'text' or 'text_file' column"));
  // A manifest that is not UTF-8 is refused whole, naming the line: its encoding is
  // wrong, not one row.
  WriteManifest("id,label,group,audio\na,h\xe9gh,f,x.wav\n");
  EXPECT_THAT(Import(), StatusIs(absl::StatusCode::kInvalidArgument,
                                 "manifest.csv line 2: column 'label' is not UTF-8"));
  WriteManifest("id,label,group,audio\n");
  EXPECT_THAT(Import(), StatusIs(absl::StatusCode::kInvalidArgument, "has a header but no rows"));
  WriteManifest("id,label,group,audio\na,low,f,gone.wav\n");
  MediaImportOptions options;
  options.skip_bad = true;
  EXPECT_THAT(Import(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                        "no row of manifest.csv could be imported; the first: "
                                        "manifest.csv line 2 (id 'a'): audio gone.wav: no such"));
  options.max_audio_seconds = 0;
  EXPECT_THAT(Import(options),
              StatusIs(absl::StatusCode::kInvalidArgument, "--max-audio-seconds is 0"));
  options = {};
  options.audio.bands = 0;
  EXPECT_THAT(Import(options), StatusIs(absl::StatusCode::kInvalidArgument, "mel bands"));
  options = {};
  options.video.size = 4;
  EXPECT_THAT(Import(options), StatusIs(absl::StatusCode::kInvalidArgument, "size"));
  options = {};
  options.label_values = {"a", "a"};
  EXPECT_THAT(Import(options), StatusIs(absl::StatusCode::kInvalidArgument, "lists 'a' twice"));
  EXPECT_FALSE(std::filesystem::exists(Path("shards")));
}

}  // namespace
}  // namespace equifl::client
