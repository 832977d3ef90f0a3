// Decoding and resampling: WAV written by hand, FLAC and OGG through libsndfile's
// writer, the sound of video containers (made by the ffmpeg program) through FFmpeg's
// libraries, and every kind of bad file.
#include "client/media/audio_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/client/media/audio_test_files.h"
#include "tests/client/media/media_programs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

// Largest |decoded - expected| over the samples away from the ends (where the
// resampler's filter sees the signal start and stop).
double WorstDifference(const std::vector<float>& decoded, const std::vector<float>& expected) {
  double worst = 0;
  const size_t count = std::min(decoded.size(), expected.size());
  for (size_t n = 200; n + 200 < count; ++n) {
    worst = std::max(worst, std::abs(static_cast<double>(decoded[n]) - expected[n]));
  }
  return worst;
}

class AudioFileTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return folder_ / name; }
  AudioFileResult Read(const std::string& name, double max_seconds = 10) const {
    return ReadAudioFile(Path(name), name, 16000, max_seconds);
  }
  // Runs the ffmpeg program with `arguments` (paths relative to the test's folder);
  // true when it succeeded.
  bool Ffmpeg(const std::string& arguments) const {
    return test::RunFfmpeg(folder_.path(), arguments);
  }
  test::TemporaryFolder folder_{"audio_file"};
};

// The sound of a video container libsndfile does not read: 16-bit PCM beside H.264
// in Matroska, a 1 kHz tone on the left channel only (ffmpeg's sine source, amplitude
// 1/8) and silence on the right, comes out as the mean of the channels at 16 kHz, in
// time, like a WAV (packed 16-bit samples); kept to 0.5 s it is clipped.
TEST_F(AudioFileTest, TheSoundOfAVideoFileDecodes) {
  if (!test::HaveFfmpeg()) GTEST_SKIP() << test::kNoFfmpeg;
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc=s=64x48:r=10:d=1 -f lavfi -i "
             "sine=frequency=1000:sample_rate=44100:duration=1 -f lavfi -i "
             "anullsrc=r=44100:cl=mono -filter_complex '[1][2]amerge=inputs=2[a]' -map 0:v "
             "-map '[a]' -t 1 -c:v libx264 -pix_fmt yuv420p -c:a pcm_s16le clip.mkv"));
  const AudioFileResult result = Read("clip.mkv");
  ASSERT_FALSE(result.error) << result.error->message;
  EXPECT_EQ(result.signal.source_rate, 44100);
  EXPECT_EQ(result.signal.source_channels, 2);
  EXPECT_NEAR(result.signal.seconds, 1.0, 1e-3);
  EXPECT_FALSE(result.signal.clipped);
  EXPECT_NEAR(static_cast<double>(result.signal.samples.size()), 16000, 20);
  EXPECT_LT(WorstDifference(result.signal.samples, test::Tone(1000, 1.0, 16000, 0.0625)), 2e-3);
  const AudioFileResult start = Read("clip.mkv", 0.5);
  ASSERT_FALSE(start.error) << start.error->message;
  EXPECT_TRUE(start.signal.clipped);
  EXPECT_NEAR(start.signal.seconds, 0.5, 1e-4);
  EXPECT_NEAR(static_cast<double>(start.signal.samples.size()), 8000, 2);
}

// AAC in MP4 (planar float samples) and MP3: lossy, so the tone is checked by its
// zero crossings (440 Hz: 880 a second) and its loudness (1/8 peak: 0.088 RMS); a
// video without sound is unsupported, naming what is missing.
TEST_F(AudioFileTest, CompressedSoundAndSilentVideos) {
  if (!test::HaveFfmpeg()) GTEST_SKIP() << test::kNoFfmpeg;
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc=s=64x48:r=10:d=1 -f lavfi -i "
             "sine=frequency=440:sample_rate=48000:duration=1 -c:v libx264 -pix_fmt yuv420p "
             "-c:a aac clip.mp4"));
  ASSERT_TRUE(Ffmpeg("-f lavfi -i sine=frequency=440:sample_rate=48000:duration=1 tone.mp3"));
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc=s=64x48:r=10:d=1 -c:v libx264 -pix_fmt yuv420p silent.mp4"));
  for (const char* name : {"clip.mp4", "tone.mp3"}) {
    SCOPED_TRACE(name);
    const AudioFileResult result = Read(name);
    ASSERT_FALSE(result.error) << result.error->message;
    EXPECT_EQ(result.signal.source_rate, 48000);
    EXPECT_NEAR(result.signal.seconds, 1.0, 0.06);
    const std::vector<float>& samples = result.signal.samples;
    int crossings = 0;
    double energy = 0;
    for (size_t n = 1; n < samples.size(); ++n) {
      crossings += (samples[n - 1] < 0) != (samples[n] < 0);
      energy += static_cast<double>(samples[n]) * samples[n];
    }
    EXPECT_NEAR(crossings / result.signal.seconds, 880, 30);
    EXPECT_NEAR(std::sqrt(energy / static_cast<double>(samples.size())), 0.125 / std::sqrt(2.0),
                0.01);
  }
  const AudioFileResult silent = Read("silent.mp4");
  ASSERT_TRUE(silent.error);
  EXPECT_EQ(NameOf(silent.error->problem), NameOf(MediaFileProblem::kUnsupported));
  EXPECT_THAT(silent.error->message, HasSubstr("silent.mp4: has no sound stream"));
}

// A stereo 44.1 kHz 16-bit WAV of a 1 kHz tone comes out as the same tone at
// 16 kHz, mono, in time (libsoxr's one-shot call removes its delay): within
// 16-bit rounding and the filter's passband ripple.
TEST_F(AudioFileTest, StereoWavIsMixedAndResampled) {
  std::vector<float> left = test::Tone(1000, 1.0, 44100, 0.6);
  std::vector<float> stereo;
  for (const float sample : left) stereo.insert(stereo.end(), {sample, 0.0f});
  test::WriteWav(Path("tone.wav"), 44100, 2, stereo);
  const AudioFileResult result = Read("tone.wav");
  ASSERT_FALSE(result.error) << result.error->message;
  EXPECT_EQ(result.signal.source_rate, 44100);
  EXPECT_EQ(result.signal.source_channels, 2);
  EXPECT_NEAR(result.signal.seconds, 1.0, 1e-9);
  EXPECT_FALSE(result.signal.clipped);
  EXPECT_NEAR(static_cast<double>(result.signal.samples.size()), 16000, 1);
  // The mean of the channels: half the left one.
  EXPECT_LT(WorstDifference(result.signal.samples, test::Tone(1000, 1.0, 16000, 0.3)), 2e-3);
}

TEST_F(AudioFileTest, FlacAndOggDecode) {
  const std::vector<float> tone = test::Tone(440, 0.8, 22050, 0.5);
  ASSERT_TRUE(
      test::WriteWithSndfile(Path("tone.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 1, tone));
  ASSERT_TRUE(
      test::WriteWithSndfile(Path("tone.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 1, tone));
  const std::vector<float> expected = test::Tone(440, 0.8, 16000, 0.5);
  const AudioFileResult flac = Read("tone.flac");
  ASSERT_FALSE(flac.error) << flac.error->message;
  EXPECT_EQ(flac.signal.source_rate, 22050);
  EXPECT_LT(WorstDifference(flac.signal.samples, expected), 2e-3);
  // Vorbis is lossy: the tone survives within a few percent of its amplitude.
  const AudioFileResult ogg = Read("tone.ogg");
  ASSERT_FALSE(ogg.error) << ogg.error->message;
  EXPECT_NEAR(static_cast<double>(ogg.signal.samples.size()), expected.size(), 2);
  EXPECT_LT(WorstDifference(ogg.signal.samples, expected), 0.05);
}

TEST_F(AudioFileTest, LongRecordingsKeepTheirStart) {
  test::WriteWav(Path("long.wav"), 16000, 1, test::Tone(300, 3.0, 16000));
  const AudioFileResult result = Read("long.wav", 1.25);
  ASSERT_FALSE(result.error) << result.error->message;
  EXPECT_TRUE(result.signal.clipped);
  EXPECT_EQ(result.signal.samples.size(), 20000u);
  EXPECT_NEAR(result.signal.seconds, 1.25, 1e-9);
  EXPECT_LT(WorstDifference(result.signal.samples, test::Tone(300, 1.25, 16000)), 1e-4);
}

TEST_F(AudioFileTest, EveryBadFileHasItsReason) {
  const std::vector<float> tone = test::Tone(440, 1.0, 16000);
  test::WriteWav(Path("good.wav"), 16000, 1, tone);
  ASSERT_TRUE(
      test::WriteWithSndfile(Path("good.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, tone));
  test::CopyPrefix(Path("good.wav"), Path("cut.wav"), 10000);
  test::CopyPrefix(Path("good.flac"), Path("cut.flac"),
                   std::filesystem::file_size(Path("good.flac")) / 2);
  std::ofstream(Path("empty.wav")).close();
  std::ofstream(Path("noise.wav"), std::ios::binary) << std::string(3000, '\x5a');
  test::WriteWav(Path("header-only.wav"), 16000, 1, {});
  test::WriteWav(Path("slow.wav"), 4000, 1, test::Tone(440, 0.5, 4000));
  std::filesystem::create_directory(Path("folder.wav"));

  const struct {
    const char* name;
    MediaFileProblem problem;
    const char* says;
  } cases[] = {
      {"none.wav", MediaFileProblem::kMissing, "no such file"},
      {"folder.wav", MediaFileProblem::kUnreadable, "not a regular file"},
      {"empty.wav", MediaFileProblem::kEmpty, "the file is empty (0 bytes)"},
      {"header-only.wav", MediaFileProblem::kEmpty, "holds no audio"},
      {"cut.wav", MediaFileProblem::kTruncated, "ends before the audio its header announces"},
      {"cut.flac", MediaFileProblem::kTruncated, "breaks off after"},
      {"noise.wav", MediaFileProblem::kUndecodable, "cannot be decoded"},
      {"slow.wav", MediaFileProblem::kUnsupported, "its sample rate is 4000 Hz"},
  };
  for (const auto& expected : cases) {
    SCOPED_TRACE(expected.name);
    const AudioFileResult result = Read(expected.name);
    ASSERT_TRUE(result.error);
    EXPECT_EQ(NameOf(result.error->problem), NameOf(expected.problem));
    EXPECT_THAT(result.error->message, HasSubstr(expected.says));
    EXPECT_THAT(result.error->message, ::testing::StartsWith(std::string(expected.name) + ": "));
    EXPECT_TRUE(result.signal.samples.empty());
  }
  EXPECT_FALSE(Read("good.flac").error);
}

TEST(ResampleTest, KeepsLengthAndTone) {
  const std::vector<float> tone = test::Tone(500, 1.0, 48000);
  absl::StatusOr<std::vector<float>> down = Resample(tone, 48000, 16000);
  ASSERT_THAT(down, IsOk());
  EXPECT_EQ(down->size(), 16000u);
  EXPECT_LT(WorstDifference(*down, test::Tone(500, 1.0, 16000)), 1e-3);
  absl::StatusOr<std::vector<float>> same = Resample(tone, 48000, 48000);
  ASSERT_THAT(same, IsOk());
  EXPECT_EQ(*same, tone);
}

}  // namespace
}  // namespace equifl::client
