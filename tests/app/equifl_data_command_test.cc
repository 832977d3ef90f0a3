// Runs `equifl data synth`, `import`, `import-media` and `inspect` as a user would,
// and trains a federation on imported recordings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "tests/client/media/audio_test_files.h"
#include "tests/client/media/media_programs.h"
#include "tests/testing/equifl_binary.h"
#include "tests/testing/temporary_folder.h"

namespace {

using ::equifl::test::CommandOutcome;
using ::equifl::test::RunEquifl;
using ::testing::HasSubstr;
using ::testing::Not;

// A .npy file (format 1.0) of `values` with NumPy type `descr` and `shape`, as
// numpy.save writes it: header padded with spaces to 64 bytes, ended by '\n'.
template <typename T>
void WriteNpy(const std::string& path, const std::string& descr, const std::string& shape,
              const std::vector<T>& values, bool fortran_order = false) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\0';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  std::string data(values.size() * sizeof(T), '\0');
  std::memcpy(data.data(), values.data(), data.size());
  std::ofstream(path, std::ios::binary) << bytes << data;
}

class EquiflDataCommandTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return folder_ / name; }

  const equifl::test::TemporaryFolder folder_{"data_command"};
};

TEST_F(EquiflDataCommandTest, SynthThenInspect) {
  const CommandOutcome synth =
      RunEquifl("data synth --out " + Path("synth") +
                " --clients 2 --samples-per-client 100 --seed 3"
                " --bias group=male,language=ja,modality=audio,label_noise=0.4"
                " --minority-fraction 0.2,0.5 --missing-rate 0.2 --bayes-samples 500");
  ASSERT_EQ(synth.exit_code, 0) << synth.out << synth.err;
  EXPECT_THAT(synth.out, HasSubstr("Bayes-optimal, fusion view (the best any model can do; Monte "
                                   "Carlo, 500 samples per cell, ± one standard error):"));
  EXPECT_THAT(synth.out,
              ::testing::ContainsRegex("  ja: female loss [0-9.]+ ± [0-9.]+, accuracy [0-9.]+; "
                                       "male loss [0-9.]+ ± [0-9.]+, accuracy [0-9.]+; loss gap "
                                       "[0-9.]+ nats"));
  EXPECT_THAT(synth.out, HasSubstr("wrote 2 synthetic shards"));
  EXPECT_THAT(synth.out,
              HasSubstr("planted bias: group=male,language=ja,modality=audio,label_noise=0.4"));
  EXPECT_THAT(synth.out, HasSubstr("100 samples (train 70, validation 15, test 15); female 20, "
                                   "male 80"));

  const CommandOutcome inspect = RunEquifl("data inspect " + Path("synth"));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_THAT(inspect.out, HasSubstr("client-000: 100 samples (train 70, validation 15, test 15)"));
  EXPECT_THAT(inspect.out, HasSubstr("client-001"));
  EXPECT_THAT(inspect.out, ::testing::ContainsRegex("video +sequence +\\[100, 16, 32\\]"));
  EXPECT_THAT(inspect.out, ::testing::ContainsRegex("text +vector +\\[100, 64\\]"));
  EXPECT_THAT(inspect.out, ::testing::ContainsRegex("gender=female +14 +3 +3"));
  EXPECT_THAT(inspect.out, HasSubstr("language=ja"));
  EXPECT_THAT(inspect.out, HasSubstr("label=frustrated"));
  EXPECT_THAT(inspect.out, HasSubstr("2 shards, 200 samples (train 140, validation 30, test 30)"));

  // The same seed again gives the same bytes.
  ASSERT_EQ(RunEquifl("data synth --out " + Path("again") +
                      " --clients 2 --samples-per-client 100 --seed 3"
                      " --bias group=male,language=ja,modality=audio,label_noise=0.4"
                      " --minority-fraction 0.2,0.5 --missing-rate 0.2 --bayes-samples 0")
                .exit_code,
            0);
  auto bytes = [](const std::string& path) {
    std::ifstream stream(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(stream), {});
  };
  EXPECT_EQ(bytes(Path("synth/client-001/data.safetensors")),
            bytes(Path("again/client-001/data.safetensors")));
}

TEST_F(EquiflDataCommandTest, SynthBadInputIsAUsageError) {
  CommandOutcome outcome =
      RunEquifl("data synth --out " + Path("x") + " --bias group=nobody,signal=1");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("names group 'nobody'; groups: female, male"));
  EXPECT_THAT(outcome.out, Not(HasSubstr("wrote")));
  outcome = RunEquifl("data synth --out " + Path("x") + " --minority-fraction 0.7");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("minority fraction is 0.7"));
  std::ofstream(Path("full")) << "x";
  outcome = RunEquifl("data synth --out " + folder_.path().string());
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("is not empty"));
}

TEST_F(EquiflDataCommandTest, ImportACsvThenInspect) {
  std::ofstream(Path("people.csv")) << "wages,education,age,sex,language,job\n"
                                       "10.5,15,40,Male,English,office\n"
                                       "11,13.2,19,Male,English,field\n"
                                       "NA,16,49,Male,Other,office\n"
                                       "17.76,14,46,Male,Other,field\n"
                                       "14,8,50,Female,English,sea\n"
                                       "8.2,16,31,Female,French,office\n"
                                       "16.97,12,30,Female,English,field\n"
                                       "9,11,22,Female,French,office\n";
  CommandOutcome outcome =
      RunEquifl("data import " + Path("people.csv") + " --out " + Path("shards") +
                " --label wages --label-threshold median --group sex"
                " --language language");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("people.csv line 4: column 'wages' is missing ('NA')"));
  EXPECT_THAT(outcome.err, HasSubstr("--drop-missing"));

  outcome = RunEquifl("data import " + Path("people.csv") + " --out " + Path("shards") +
                      " --label wages --label-threshold median --group sex --language language"
                      " --split-by language --drop-missing --categorical 'job=office|field'");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("8 rows read, 7 kept, 1 dropped (1 with a missing value"));
  EXPECT_THAT(outcome.out, HasSubstr("features (tabular, 3 columns, stored raw; "
                                     "`model.standardise_features: true` standardises them "
                                     "federatedly): education, age, job"));
  EXPECT_THAT(
      outcome.out,
      HasSubstr("one-hot job: office, field, (other) (1 rows outside the list are (other))"));
  EXPECT_THAT(outcome.out, HasSubstr("labels: wages <= 11, wages > 11"));
  EXPECT_THAT(outcome.out, HasSubstr("client-001 (language=French): 2 samples"));

  outcome = RunEquifl("data inspect " + Path("shards/client-000"));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("4 samples"));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("tabular +vector +\\[4, 5\\] +4 \\(100.0%\\)"));
  EXPECT_THAT(outcome.out, HasSubstr("sex=Female"));
  EXPECT_THAT(outcome.out, HasSubstr("1 shard, 4 samples"));
}

TEST_F(EquiflDataCommandTest, ImportNpyArraysThenInspect) {
  std::vector<float> features;
  std::vector<int64_t> labels;
  std::vector<uint8_t> groups;
  std::vector<uint8_t> languages;
  for (int row = 0; row < 12; ++row) {
    for (int column = 0; column < 3; ++column) features.push_back(0.5f * row - column);
    labels.push_back(row % 3);
    groups.push_back(row % 2);
    languages.push_back(row < 4 ? 1 : 0);
  }
  WriteNpy(Path("x.npy"), "<f4", "(12, 3)", features);
  WriteNpy(Path("y.npy"), "<i8", "(12,)", labels);
  WriteNpy(Path("g.npy"), "|b1", "(12,)", groups);
  WriteNpy(Path("l.npy"), "|u1", "(12,)", languages);
  const std::string inputs = " --features " + Path("x.npy") + " --labels " + Path("y.npy") +
                             " --groups " + Path("g.npy") + " --languages " + Path("l.npy");

  // Bad input exits 2 and says what is wrong.
  CommandOutcome outcome =
      RunEquifl("data import-npy" + inputs + " --out " + Path("shards") + " --label-names a,b");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("y.npy: row 2 is 2, but --label-names names only 2 values "
                                     "(a, b)"));
  outcome = RunEquifl("data import-npy --features " + Path("none.npy") + " --labels " +
                      Path("y.npy") + " --groups " + Path("g.npy") + " --out " + Path("shards"));
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("none.npy"));
  WriteNpy(Path("f.npy"), "<f4", "(12, 3)", features, /*fortran_order=*/true);
  outcome = RunEquifl("data import-npy --features " + Path("f.npy") + " --labels " + Path("y.npy") +
                      " --groups " + Path("g.npy") + " --out " + Path("shards"));
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("Fortran (column-major) order"));
  EXPECT_FALSE(std::filesystem::exists(Path("shards")));

  outcome = RunEquifl("data import-npy" + inputs + " --out " + Path("shards") +
                      " --clients 2 --seed 5 --label-names a,b,c --group-names female,male"
                      " --language-names en,de --group-attribute gender");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("x.npy: 12 rows"));
  EXPECT_THAT(outcome.out, HasSubstr("features (tabular, vector [12, 3], from <f4)"));
  EXPECT_THAT(outcome.out, HasSubstr("labels: a, b, c\ngroups (gender): female, male\n"
                                     "languages: en, de"));
  EXPECT_THAT(outcome.out, HasSubstr("client-001 (random part 1): 6 samples"));

  outcome = RunEquifl("data inspect " + Path("shards"));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("tabular +vector +\\[6, 3\\] +6 \\(100.0%\\)"));
  EXPECT_THAT(outcome.out, HasSubstr("gender=female"));
  EXPECT_THAT(outcome.out, HasSubstr("language=de"));
  EXPECT_THAT(outcome.out, HasSubstr("label=c"));
  EXPECT_THAT(outcome.out, HasSubstr("2 shards, 12 samples"));
}

// With `videos`, 12 clips of 0.5 s at 32x32 that ffmpeg renders in noise, four per
// label, leaning towards the label's colour (red, green, blue) from a grey that
// varies clip to clip: `folder`/clips/<label>-<variant>.mp4.
void WriteLabelVideos(const std::string& folder) {
  const char* colours[3][4] = {{"0xa06060", "0x906050", "0xb07070", "0x805050"},
                               {"0x60a060", "0x509060", "0x70b070", "0x508050"},
                               {"0x6060a0", "0x506090", "0x7070b0", "0x505080"}};
  for (int label = 0; label < 3; ++label) {
    for (int variant = 0; variant < 4; ++variant) {
      EXPECT_TRUE(equifl::test::RunFfmpeg(
          folder, std::string("-f lavfi -i color=c=") + colours[label][variant] +
                      ":s=32x32:r=8:d=0.5 -vf noise=alls=40:allf=t -pix_fmt yuv420p -c:v "
                      "libx264 clips/" +
                      std::to_string(label) + "-" + std::to_string(variant) + ".mp4"));
    }
  }
}

// A corpus a user would import: `count` clips of 0.5 s at 22.05 kHz, each a tone
// whose pitch is its label's (300 Hz, 900 Hz or 2 kHz, jittered by a few percent)
// in noise, at a random loudness, with a transcript that names the mood in English
// or German, spread over two clients and two groups; with `videos`, a video of the
// label's colour too (WriteLabelVideos). The manifest names the files relative to
// itself.
void WriteToneCorpus(const std::string& folder, int count, bool videos = false) {
  std::filesystem::create_directories(folder + "/clips");
  std::mt19937 engine(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.05);
  const double pitches[] = {300, 900, 2000};
  const char* labels[] = {"calm", "happy", "angry"};
  const char* english[] = {"all is quiet", "what a lovely day", "this makes me furious"};
  const char* german[] = {"alles ist ruhig", "was für ein schöner Tag", "das macht mich wütend"};
  std::ofstream manifest(folder + "/manifest.csv");
  manifest << "id,label,group,language,client,audio,text" << (videos ? ",video" : "") << "\n";
  for (int index = 0; index < count; ++index) {
    const int label = index % 3;
    const double pitch = pitches[label] * (0.95 + 0.1 * unit(engine));
    std::vector<float> clip = equifl::test::Tone(pitch, 0.5, 22050, 0.1 + 0.5 * unit(engine));
    for (float& sample : clip) sample += static_cast<float>(noise(engine));
    const std::string id = "clip-" + std::to_string(index);
    equifl::test::WriteWav(folder + "/clips/" + id + ".wav", 22050, 1, clip);
    const bool de = unit(engine) < 0.5;
    manifest << id << "," << labels[label] << "," << (unit(engine) < 0.5 ? "female" : "male") << ","
             << (de ? "de" : "en") << "," << (index % 2 == 0 ? "north" : "south") << ",clips/" << id
             << ".wav," << (de ? german : english)[label];
    if (videos) manifest << ",clips/" << label << "-" << index / 3 % 4 << ".mp4";
    manifest << "\n";
  }
}

TEST_F(EquiflDataCommandTest, ImportMediaTurnsRecordingsIntoShards) {
  WriteToneCorpus(Path("corpus"), 12);
  std::ofstream(Path("corpus/manifest.csv"), std::ios::app) << "gone,calm,male,en,north,x.wav,\n";
  CommandOutcome outcome = RunEquifl("data import-media " + Path("corpus/manifest.csv") +
                                     " --out " + Path("shards") + " --max-audio-seconds 0.5");
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("manifest.csv line 14 (id 'gone'): audio x.wav: no such "
                                     "file; check the path"));
  EXPECT_FALSE(std::filesystem::exists(Path("shards")));

  outcome =
      RunEquifl("data import-media " + Path("corpus/manifest.csv") + " --out " + Path("shards") +
                " --max-audio-seconds 0.5 --skip-bad --group-attribute "
                "gender --labels calm,happy,angry");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("13 rows read, 12 imported, 1 left out"));
  EXPECT_THAT(outcome.out, HasSubstr("left out, audio missing: 1 (first: manifest.csv line 14"));
  EXPECT_THAT(outcome.out, HasSubstr("audio: 12 recordings, 6.0 s"));
  EXPECT_THAT(outcome.out, HasSubstr("sequence [48 frames, 80 bands, float16]"));
  EXPECT_THAT(outcome.out, HasSubstr("front end: log-mel sample_rate=16000 window=400 hop=160"));
  EXPECT_THAT(outcome.out,
              HasSubstr("text: 12 texts; tokens [514, vocabulary 259]\n  front end: "
                        "byte-tokens pad=0 begin=1 end=2 byte_offset=3 max_bytes=512"));
  EXPECT_THAT(outcome.out, HasSubstr("labels: calm, happy, angry\ngroups (gender): female, male"));
  EXPECT_THAT(outcome.out, HasSubstr("(client=north): 6 samples"));

  outcome = RunEquifl("data inspect " + Path("shards"));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("audio +sequence +\\[6, 48, 80\\]"));
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex("text +tokens +\\[6, 514\\]"));
  EXPECT_THAT(outcome.out, HasSubstr("made by: log-mel sample_rate=16000"));
  EXPECT_THAT(outcome.out, HasSubstr("stored as float16"));
  EXPECT_THAT(outcome.out, HasSubstr("made by: byte-tokens pad=0"));
  outcome = RunEquifl("data import-media --help");
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.out, HasSubstr("--skip-bad"));
  EXPECT_THAT(outcome.out, HasSubstr("80 log-mel bands every 10 ms"));
  EXPECT_THAT(outcome.out, HasSubstr("--video-fps"));
  EXPECT_THAT(outcome.out, HasSubstr("--audio-precision"));
}

// With --sentencepiece the transcripts become a deployment's model's pieces: the
// summary and the shard's manifest say so, naming the model file by its SHA-256; a
// missing model file is a usage error.
TEST_F(EquiflDataCommandTest, ImportMediaTokenisesWithASentencePieceModel) {
  if (!equifl::test::HaveSentencePiecePrograms()) {
    GTEST_SKIP() << equifl::test::kNoSentencePiecePrograms;
  }
  ASSERT_TRUE(equifl::test::TrainSentencePieceModel(Path(""), "spm",
                                                    equifl::test::MixedScriptCorpus(), 80));
  WriteToneCorpus(Path("corpus"), 6);
  CommandOutcome outcome = RunEquifl(
      "data import-media " + Path("corpus/manifest.csv") + " --out " + Path("shards") +
      " --max-audio-seconds 0.5 --sentencepiece " + Path("spm.model") + " --max-text-pieces 64");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, ::testing::ContainsRegex(
                               "text: 6 texts; tokens \\[66, vocabulary [0-9]+\\]\n  front end: "
                               "sentencepiece sha256=[0-9a-f]{64} pieces=[0-9]+ begin=1 end=2 "
                               "max_pieces=64"));
  outcome = RunEquifl("data inspect " + Path("shards"));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("made by: sentencepiece sha256="));

  outcome = RunEquifl("data import-media " + Path("corpus/manifest.csv") + " --out " +
                      Path("other") + " --sentencepiece " + Path("gone.model"));
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("--sentencepiece"));
  EXPECT_FALSE(std::filesystem::exists(Path("other")));
  outcome = RunEquifl("data import-media --help");
  EXPECT_THAT(outcome.out, HasSubstr("--sentencepiece"));
  EXPECT_THAT(outcome.out, HasSubstr("--max-text-pieces"));
}

// End to end: videos, recordings and transcripts imported per client, then a
// federation of the two clients trained on them (`equifl sim` on the shard folder),
// evaluated on the fusion and on each modality alone. Chance is 1/3; a model that
// sees the colour, hears pitch, or reads the mood in either language, gets nearly
// every test clip right. Modality dropout makes the fused model learn each modality
// alone too (without it, it leans on the easiest, the pitch).
TEST_F(EquiflDataCommandTest, AFederationLearnsFromImportedRecordings) {
  if (!equifl::test::HaveFfmpeg()) GTEST_SKIP() << equifl::test::kNoFfmpeg;
  std::filesystem::create_directories(Path("corpus/clips"));
  WriteLabelVideos(Path("corpus"));
  WriteToneCorpus(Path("corpus"), 150, /*videos=*/true);
  CommandOutcome outcome =
      RunEquifl("data import-media " + Path("corpus/manifest.csv") + " --out " + Path("shards") +
                " --max-audio-seconds 0.5 --video-fps 4 --video-size 16 --max-video-seconds 0.5 "
                "--train-fraction 0.6 --validation-fraction 0.1");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("150 rows read, 150 imported"));
  EXPECT_THAT(outcome.out, HasSubstr("video: 150 videos"));
  EXPECT_THAT(outcome.out, HasSubstr("images [2 frames, 16 x 16 RGB]"));
  CommandOutcome inspect = RunEquifl("data inspect " + Path("shards"));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_THAT(inspect.out, ::testing::ContainsRegex("video +images +\\[[0-9]+, 2, 16, 16, 3\\]"));
  EXPECT_THAT(inspect.out, HasSubstr("made by: video-frames fps=4 size=16"));
  std::ofstream(Path("run.yaml"))
      << "server:\n  run_dir: " << Path("run")
      << "\n  rounds: 4\n  min_clients: 2\n"
         "training:\n  epochs: 3\n  batch_size: 16\n  modality_dropout: 0.4\n"
         "  learning_rate: 0.003\n  device: cpu\n"
         "model:\n  hidden_size: 32\n  dropout: 0.0\n"
         "fairness:\n  views: [fusion, video, audio, text]\n"
         "sim:\n  data:\n    source: shards\n    path: "
      << Path("shards") << "\n";
  outcome = RunEquifl("sim " + Path("run.yaml"));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err << outcome.out;
  for (const char* view : {"fusion", "video", "audio", "text"}) {
    std::smatch accuracy;  // the final report's "Views" table: view, samples, accuracy
    ASSERT_TRUE(std::regex_search(outcome.out, accuracy,
                                  std::regex(std::string("\n  ") + view + " +[0-9]+ +([0-9.]+)")))
        << view << "\n"
        << outcome.out;
    EXPECT_GT(std::stod(accuracy[1]), 0.8) << view << "\n" << outcome.out;
  }
}

TEST_F(EquiflDataCommandTest, InspectRefusesWhatIsNotAShard) {
  CommandOutcome outcome = RunEquifl("data inspect " + folder_.path().string());
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("holds no shard"));
  std::filesystem::create_directories(Path("bad"));
  std::ofstream(Path("bad/manifest.json")) << "{\"format\": \"equifl-shard\"}";
  outcome = RunEquifl("data inspect " + Path("bad"));
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("manifest.json: the manifest has no 'version'"));
}

// A cell that is not UTF-8 used to abort the import halfway (nlohmann's
// type_error 316 writing manifest.json), leaving client-000/data.safetensors.
TEST_F(EquiflDataCommandTest, ImportOfTextThatIsNotUtf8FailsAndWritesNothing) {
  std::ofstream(Path("latin1.csv")) << "y,sex,x\n1,Male,1\n0,F\xE9male,2\n1,Male,3\n0,Male,4\n";
  const CommandOutcome outcome = RunEquifl("data import " + Path("latin1.csv") + " --out " +
                                           Path("shards") + " --label y --group sex");
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("latin1.csv line 3: column 'sex' is not UTF-8 (byte 2 of "
                                     "'F\\xe9male'); save the file as UTF-8"));
  // Nothing under the output folder's name, and nothing hidden beside it.
  EXPECT_FALSE(std::filesystem::exists(Path("shards")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder_.path()), {}), 1);
}

// /dev/zero used to be read until memory ran out (std::bad_alloc, abort). The
// commands run under a memory limit (but under ASan) so that such a reader fails fast.
TEST_F(EquiflDataCommandTest, ImportsReadOnlyRegularFiles) {
  auto run = [](const std::string& arguments) {
    return equifl::test::RunShell(equifl::test::MemoryLimitPrefix() + std::string(EQUIFL_BINARY) +
                                  " " + arguments);
  };
  WriteNpy(Path("y.npy"), "<i8", "(2,)", std::vector<int64_t>{0, 1});
  CommandOutcome outcome = run("data import-npy --features /dev/zero --labels " + Path("y.npy") +
                               " --groups " + Path("y.npy") + " --out " + Path("shards"));
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("/dev/zero is a character device; give a regular file"));
  outcome = run("data import /dev/zero --out " + Path("shards") + " --label y --group g");
  EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("/dev/zero is a character device"));
  EXPECT_FALSE(std::filesystem::exists(Path("shards")));
}

// An 8 MiB header line used to be echoed whole to stderr.
TEST_F(EquiflDataCommandTest, ErrorsQuoteABoundedPrefixOfTheInput) {
  std::ofstream(Path("wide.csv")) << std::string(8 << 20, 'w') << ",y\n"
                                  << "a,1\n";
  const CommandOutcome outcome = RunEquifl("data import " + Path("wide.csv") + " --out " +
                                           Path("shards") + " --label y --group sex");
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("the group column 'sex' is not in"));
  EXPECT_THAT(outcome.err, HasSubstr("'... (8388608 bytes), 'y'"));
  EXPECT_LT(outcome.err.size(), 1000u);
}

TEST_F(EquiflDataCommandTest, UsageErrorsExitTwo) {
  for (const std::string& arguments :
       {std::string("data"), std::string("data frobnicate"), std::string("data synth"),
        "data synth --out " + Path("x") + " --clients many",
        "data import " + Path("none.csv") + " --out " + Path("x") + " --label y --group g",
        "data import-npy --out " + Path("x")}) {
    const CommandOutcome outcome = RunEquifl(arguments);
    EXPECT_EQ(outcome.exit_code, 2) << arguments << "\n" << outcome.err;
    EXPECT_FALSE(outcome.err.empty()) << arguments;
  }
}

TEST_F(EquiflDataCommandTest, HelpExplainsTheSubcommands) {
  CommandOutcome outcome = RunEquifl("data --help");
  EXPECT_EQ(outcome.exit_code, 0);
  for (const char* name : {"synth", "import", "import-npy", "import-media", "inspect"}) {
    EXPECT_THAT(outcome.out, HasSubstr(name));
  }
  outcome = RunEquifl("data import --help");
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.out, HasSubstr("--drop-missing"));
  EXPECT_THAT(outcome.out, HasSubstr("--dirichlet-alpha"));
  outcome = RunEquifl("data import-npy --help");
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_THAT(outcome.out, HasSubstr("--label-names"));
  EXPECT_THAT(outcome.out, HasSubstr("[N, T, D]"));
}

}  // namespace
