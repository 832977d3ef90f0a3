// Decoding and sampling video: clips the ffmpeg program makes (H.264 in MP4 and
// MPEG-TS, VP9 in WebM, lossless H.264 and PNG in Matroska), the front end's options,
// and every kind of bad file. The tests that need clips are skipped without ffmpeg.
#include "client/media/video_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "tests/client/media/audio_test_files.h"
#include "tests/client/media/media_programs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// An RGB colour.
struct Color {
  double red;
  double green;
  double blue;
};
// FFmpeg's colour names: "red" is #ff0000, "blue" #0000ff, "green" #008000.
constexpr Color kRed{255, 0, 0};
constexpr Color kBlue{0, 0, 255};

// Lossy coding of a flat colour, 8-bit limited-range YUV and back, is a few levels
// off; the colours the tests tell apart differ by at least 128 in some channel.
constexpr double kLossyTolerance = 20;
// Lossless clips are off only by the YUV round trip's rounding.
constexpr double kLosslessTolerance = 6;

// The mean of each channel of frame `index` in `clip`.
Color MeanColor(const VideoClip& clip, int size, int64_t index) {
  const size_t bytes = static_cast<size_t>(size) * size * 3;
  double sums[3] = {0, 0, 0};
  for (size_t n = 0; n < bytes; ++n) {
    sums[n % 3] += clip.frames[static_cast<size_t>(index) * bytes + n];
  }
  const double pixels = static_cast<double>(size) * size;
  return {sums[0] / pixels, sums[1] / pixels, sums[2] / pixels};
}

// Largest channel difference between any pixel of frame `index` and `color`.
double WorstPixel(const VideoClip& clip, int size, int64_t index, const Color& color) {
  const size_t bytes = static_cast<size_t>(size) * size * 3;
  const double channels[3] = {color.red, color.green, color.blue};
  double worst = 0;
  for (size_t n = 0; n < bytes; ++n) {
    worst = std::max(
        worst, std::abs(clip.frames[static_cast<size_t>(index) * bytes + n] - channels[n % 3]));
  }
  return worst;
}

void ExpectColor(const VideoClip& clip, int size, int64_t index, const Color& color,
                 double tolerance) {
  SCOPED_TRACE(::testing::Message() << "frame " << index);
  const Color mean = MeanColor(clip, size, index);
  EXPECT_NEAR(mean.red, color.red, tolerance);
  EXPECT_NEAR(mean.green, color.green, tolerance);
  EXPECT_NEAR(mean.blue, color.blue, tolerance);
}

class VideoFileTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return folder_ / name; }
  VideoFileResult Read(const std::string& name, const VideoFrontEndOptions& options = {}) const {
    return ReadVideoFile(Path(name), name, options);
  }
  // Runs ffmpeg with `arguments` (paths relative to the test's folder); true when it
  // succeeded.
  bool Ffmpeg(const std::string& arguments) const {
    return test::RunFfmpeg(folder_.path(), arguments);
  }
  // `first` then `second`, each a second of 96x64 at 10 frames per second, encoded
  // with `codec` (ffmpeg's arguments) into `name`.
  bool TwoColors(const std::string& name, const std::string& first, const std::string& second,
                 const std::string& codec) const {
    return Ffmpeg(
        "-f lavfi -i color=c=" + first + ":s=96x64:r=10:d=1 -f lavfi -i color=c=" + second +
        ":s=96x64:r=10:d=1 -filter_complex '[0][1]concat=n=2:v=1:a=0' " + codec + " " + name);
  }

  // A file that cannot be used, the reason it must give and a part of its message.
  struct ExpectedProblem {
    const char* name;
    MediaFileProblem problem;
    const char* says;
  };
  // Each file in `cases` gives its problem, a message starting with its name, no frames.
  void ExpectProblems(std::span<const ExpectedProblem> cases) const {
    for (const ExpectedProblem& expected : cases) {
      SCOPED_TRACE(expected.name);
      const VideoFileResult result = Read(expected.name);
      ASSERT_TRUE(result.error);
      EXPECT_EQ(NameOf(result.error->problem), NameOf(expected.problem));
      EXPECT_THAT(result.error->message, HasSubstr(expected.says));
      EXPECT_THAT(result.error->message, StartsWith(std::string(expected.name) + ": "));
      EXPECT_TRUE(result.clip.frames.empty());
      EXPECT_EQ(result.clip.frame_count, 0);
    }
  }

  test::TemporaryFolder folder_{"video_file"};
};

// Tests of clips the ffmpeg program makes: skipped when it is not installed.
class VideoClipTest : public VideoFileTest {
 protected:
  void SetUp() override {
    if (!test::HaveFfmpeg()) GTEST_SKIP() << test::kNoFfmpeg;
  }
};

// 1 s red then 1 s blue at 10 frames per second, sampled at 4: samples at 0, 0.25,
// ... 1.75 s, the first four red and the rest blue (the first blue frame is at exactly
// 1 s, t_4), and none at 2 s, the video's end.
TEST_F(VideoClipTest, SamplesAreTheFramesOnScreen) {
  ASSERT_TRUE(TwoColors("clip.mp4", "red", "blue", "-c:v libx264 -pix_fmt yuv420p"));
  ASSERT_TRUE(TwoColors("clip.webm", "red", "blue", "-c:v libvpx-vp9 -pix_fmt yuv420p"));
  const VideoFrontEndOptions options{.frames_per_second = 4, .size = 16, .max_seconds = 8};
  for (const std::string name : {"clip.mp4", "clip.webm"}) {
    SCOPED_TRACE(name);
    const VideoFileResult result = Read(name, options);
    ASSERT_FALSE(result.error) << result.error->message;
    const VideoClip& clip = result.clip;
    ASSERT_EQ(clip.frame_count, 8);
    ASSERT_EQ(clip.frames.size(), 8u * 16 * 16 * 3);
    EXPECT_EQ(clip.source_width, 96);
    EXPECT_EQ(clip.source_height, 64);
    EXPECT_NEAR(clip.seconds, 2.0, 1e-3);
    EXPECT_FALSE(clip.clipped);
    for (int64_t index = 0; index < 8; ++index) {
      ExpectColor(clip, 16, index, index < 4 ? kRed : kBlue, kLossyTolerance);
    }
  }
}

// A landscape clip keeps its middle: 96x48 with green left and right quarters and a
// red middle half is scaled to 32x16 and cropped at columns 8..23, which are the
// source's columns 24..71, all red. The portrait analogue (48x96, PNG frames in RGB)
// keeps its middle rows.
TEST_F(VideoClipTest, ShorterSideIsScaledAndTheCentreKept) {
  ASSERT_TRUE(Ffmpeg(
      "-f lavfi -i "
      "'color=c=red:s=96x48:r=10:d=1,format=yuv444p,drawbox=x=0:y=0:w=24:h=48:c=green:t=fill,"
      "drawbox=x=72:y=0:w=24:h=48:c=green:t=fill' -c:v libx264 -qp 0 -pix_fmt yuv444p wide.mkv"));
  ASSERT_TRUE(Ffmpeg(
      "-f lavfi -i "
      "'color=c=red:s=48x96:r=10:d=1,format=yuv444p,drawbox=x=0:y=0:w=48:h=24:c=green:t=fill,"
      "drawbox=x=0:y=72:w=48:h=24:c=green:t=fill,format=rgb24' -c:v png tall.mkv"));
  const VideoFrontEndOptions options{.frames_per_second = 2, .size = 16, .max_seconds = 8};
  for (const std::string name : {"wide.mkv", "tall.mkv"}) {
    SCOPED_TRACE(name);
    const VideoFileResult result = Read(name, options);
    ASSERT_FALSE(result.error) << result.error->message;
    ASSERT_EQ(result.clip.frame_count, 2);
    for (int64_t index = 0; index < 2; ++index) {
      EXPECT_LE(WorstPixel(result.clip, 16, index, kRed), kLosslessTolerance) << index;
    }
  }
  const VideoFileResult wide = Read("wide.mkv", options);
  ASSERT_FALSE(wide.error);
  EXPECT_EQ(wide.clip.source_width, 96);
  EXPECT_EQ(wide.clip.source_height, 48);
}

// A frame size that changes mid-stream (two H.264 streams of MPEG-TS one after the
// other, 96x64 red then 64x96 blue) is scaled with a new libswscale context.
TEST_F(VideoClipTest, FrameSizeMayChange) {
  const std::string h264 = "-c:v libx264 -bf 0 -pix_fmt yuv420p -muxdelay 0 -muxpreload 0";
  ASSERT_TRUE(Ffmpeg("-f lavfi -i color=c=red:s=96x64:r=10:d=1 " + h264 + " first.ts"));
  ASSERT_TRUE(Ffmpeg("-f lavfi -i color=c=blue:s=64x96:r=10:d=1 " + h264 +
                     " -output_ts_offset 1 second.ts"));
  {
    std::ofstream both(Path("both.ts"), std::ios::binary);
    both << std::ifstream(Path("first.ts"), std::ios::binary).rdbuf()
         << std::ifstream(Path("second.ts"), std::ios::binary).rdbuf();
  }
  const VideoFileResult result =
      Read("both.ts", {.frames_per_second = 4, .size = 16, .max_seconds = 8});
  ASSERT_FALSE(result.error) << result.error->message;
  ASSERT_EQ(result.clip.frame_count, 8);
  EXPECT_EQ(result.clip.source_width, 96);
  EXPECT_EQ(result.clip.source_height, 64);
  for (int64_t index = 0; index < 8; ++index) {
    ExpectColor(result.clip, 16, index, index < 4 ? kRed : kBlue, kLossyTolerance);
  }
}

// A clip shorter than max_seconds gives the samples before its end: 1.3 s at 10 frames
// per second ends at 1.3 s, so at 2 per second t_k = 0, 0.5, 1 (t_3 = 1.5 is past
// it). A longer one is cut at max_seconds: FrameCount() samples, clipped.
TEST_F(VideoClipTest, ShortClipsGiveFewerFramesAndLongOnesAreClipped) {
  // Lossless, and the short clip the long one's start, so that both decode to the
  // same pictures there.
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc=s=64x64:r=10:d=6 -c:v libx264 -qp 0 -pix_fmt yuv420p long.mp4"));
  ASSERT_TRUE(Ffmpeg("-i long.mp4 -t 1.3 -c:v libx264 -qp 0 -pix_fmt yuv420p short.mp4"));
  const VideoFrontEndOptions options{.frames_per_second = 2, .size = 16, .max_seconds = 2.5};
  ASSERT_EQ(options.FrameCount(), 5);

  const VideoFileResult short_clip = Read("short.mp4", options);
  ASSERT_FALSE(short_clip.error) << short_clip.error->message;
  EXPECT_EQ(short_clip.clip.frame_count, 3);
  EXPECT_EQ(short_clip.clip.frames.size(), 3u * 16 * 16 * 3);
  EXPECT_NEAR(short_clip.clip.seconds, 1.3, 1e-3);
  EXPECT_FALSE(short_clip.clip.clipped);

  const VideoFileResult long_clip = Read("long.mp4", options);
  ASSERT_FALSE(long_clip.error) << long_clip.error->message;
  EXPECT_EQ(long_clip.clip.frame_count, 5);
  EXPECT_EQ(long_clip.clip.frames.size(), 5u * 16 * 16 * 3);
  EXPECT_DOUBLE_EQ(long_clip.clip.seconds, 2.5);
  EXPECT_TRUE(long_clip.clip.clipped);
  // testsrc moves: the samples are different pictures.
  EXPECT_FALSE(std::equal(long_clip.clip.frames.begin(),
                          long_clip.clip.frames.begin() + 16 * 16 * 3,
                          long_clip.clip.frames.begin() + 16 * 16 * 3));
  // The same options keep the same samples of the first 1.3 s.
  EXPECT_TRUE(std::equal(short_clip.clip.frames.begin(), short_clip.clip.frames.end(),
                         long_clip.clip.frames.begin()));
  // A clip exactly max_seconds long is not clipped.
  const VideoFileResult exact =
      Read("long.mp4", {.frames_per_second = 2, .size = 16, .max_seconds = 6});
  ASSERT_FALSE(exact.error) << exact.error->message;
  EXPECT_FALSE(exact.clip.clipped);
  EXPECT_EQ(exact.clip.frame_count, 12);
  EXPECT_NEAR(exact.clip.seconds, 6, 1e-3);
}

TEST(VideoFrontEndOptionsTest, ValidateNamesTheOption) {
  EXPECT_THAT(VideoFrontEndOptions{}.Validate(), IsOk());
  EXPECT_THAT(
      VideoFrontEndOptions({.frames_per_second = 60, .size = 8, .max_seconds = 3600}).Validate(),
      IsOk());
  EXPECT_THAT(VideoFrontEndOptions({.size = 512}).Validate(), IsOk());
  const struct {
    VideoFrontEndOptions options;
    const char* says;
  } cases[] = {
      {{.frames_per_second = 0}, "frames per second (--video-fps) is 0; it must be in (0, 60]"},
      {{.frames_per_second = 60.5}, "(--video-fps) is 60.5"},
      {{.frames_per_second = std::numeric_limits<double>::quiet_NaN()}, "--video-fps"},
      {{.size = 7}, "size (--video-size) is 7 pixels; it must be in 8..512"},
      {{.size = 513}, "(--video-size) is 513"},
      {{.max_seconds = 0}, "max_seconds (--max-video-seconds) is 0; it must be in (0, 3600]"},
      {{.max_seconds = -1}, "(--max-video-seconds) is -1"},
      {{.max_seconds = 3601}, "(--max-video-seconds) is 3601"},
  };
  for (const auto& expected : cases) {
    SCOPED_TRACE(expected.says);
    const absl::Status status = expected.options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr(expected.says));
  }
}

TEST(VideoFrontEndOptionsTest, FrameCountAndDescribe) {
  EXPECT_EQ(VideoFrontEndOptions{}.FrameCount(), 16);
  EXPECT_EQ(VideoFrontEndOptions({.frames_per_second = 2.5, .max_seconds = 1}).FrameCount(), 2);
  // 0.3 * 10 is 2.9999999999999996 in doubles: the 1e-9 makes it 3.
  EXPECT_EQ(VideoFrontEndOptions({.frames_per_second = 10, .max_seconds = 0.3}).FrameCount(), 3);
  EXPECT_EQ(VideoFrontEndOptions({.frames_per_second = 2, .max_seconds = 0.1}).FrameCount(), 1);
  EXPECT_EQ(VideoFrontEndOptions({.frames_per_second = 60, .max_seconds = 3600}).FrameCount(),
            216000);
  EXPECT_EQ(VideoFrontEndOptions{}.Describe(),
            "video-frames fps=2 size=64 resize=shorter-side-area crop=center color=rgb24 "
            "max_seconds=8");
  EXPECT_EQ(
      VideoFrontEndOptions({.frames_per_second = 2.5, .size = 32, .max_seconds = 1.5}).Describe(),
      "video-frames fps=2.5 size=32 resize=shorter-side-area crop=center color=rgb24 "
      "max_seconds=1.5");
}

TEST_F(VideoFileTest, InvalidOptionsRefuseEveryFile) {
  std::ofstream(Path("any.mp4")) << "x";
  const VideoFileResult result = Read("any.mp4", {.size = 4});
  ASSERT_TRUE(result.error);
  EXPECT_EQ(NameOf(result.error->problem), NameOf(MediaFileProblem::kUnsupported));
  EXPECT_THAT(result.error->message, StartsWith("any.mp4: "));
  EXPECT_THAT(result.error->message, HasSubstr("size (--video-size) is 4"));
}

// Files that need no ffmpeg to make.
TEST_F(VideoFileTest, MissingFolderEmptyAndNoiseHaveTheirReasons) {
  std::filesystem::create_directory(Path("folder.mp4"));
  std::ofstream(Path("empty.mp4")).close();
  {
    std::mt19937 random(7);
    std::ofstream noise(Path("noise.mp4"), std::ios::binary);
    for (int n = 0; n < 4096; ++n) noise.put(static_cast<char>(random() & 0xff));
  }
  const ExpectedProblem cases[] = {
      {"none.mp4", MediaFileProblem::kMissing, "no such file"},
      {"folder.mp4", MediaFileProblem::kUnreadable, "not a regular file"},
      {"empty.mp4", MediaFileProblem::kEmpty, "the file is empty (0 bytes)"},
      {"noise.mp4", MediaFileProblem::kUndecodable, "cannot be opened as a video (Invalid data"},
  };
  ExpectProblems(cases);
}

// Sound without pictures, and clips cut short. An MP4 whose index comes first
// (+faststart) and is cut at 60% of its bytes ends mid-sample: the demuxer marks the
// last packet corrupt and the decoder refuses it. A WebM cut mid-cluster just ends
// (the demuxer says nothing), but before the duration its header announces. Kept to
// a second, the cut files (10 s, cut at about 4.5 s) are fine: decoding stops
// before the cut. Cut inside their headers (the MP4's index is over 1 kB), MP4's
// demuxer reports the end of the file and Matroska's an I/O error.
TEST_F(VideoClipTest, SoundOnlyAndCutFilesHaveTheirReasons) {
  ASSERT_TRUE(Ffmpeg("-f lavfi -i sine=frequency=440:duration=1 sound.wav"));
  ASSERT_TRUE(Ffmpeg("-f lavfi -i sine=frequency=440:duration=1 -c:a aac sound.m4a"));
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc=s=96x64:r=10:d=10 -c:v libx264 -pix_fmt yuv420p "
             "-movflags +faststart whole.mp4"));
  ASSERT_TRUE(Ffmpeg("-f lavfi -i testsrc=s=96x64:r=10:d=10 -c:v libvpx-vp9 whole.webm"));
  for (const std::string name : {"whole.mp4", "whole.webm"}) {
    test::CopyPrefix(Path(name), Path("cut" + name.substr(5)),
                     std::filesystem::file_size(Path(name)) * 6 / 10);
  }
  test::CopyPrefix(Path("whole.mp4"), Path("head.mp4"), 500);
  test::CopyPrefix(Path("whole.webm"), Path("head.webm"), 100);
  const ExpectedProblem cases[] = {
      {"sound.wav", MediaFileProblem::kUnsupported, "has no video stream"},
      {"sound.m4a", MediaFileProblem::kUnsupported, "has no video stream"},
      {"cut.mp4", MediaFileProblem::kTruncated, "breaks off after"},
      {"cut.webm", MediaFileProblem::kTruncated, "but its container announces 10 s"},
      {"head.mp4", MediaFileProblem::kTruncated, "the file ends inside its header (End of file)"},
      {"head.webm", MediaFileProblem::kTruncated, "the file ends inside its header"},
  };
  ExpectProblems(cases);
  for (const std::string name : {"whole.mp4", "whole.webm", "cut.mp4", "cut.webm"}) {
    SCOPED_TRACE(name);
    const VideoFileResult result =
        Read(name, {.frames_per_second = 2, .size = 16, .max_seconds = 1});
    ASSERT_FALSE(result.error) << result.error->message;
    EXPECT_EQ(result.clip.frame_count, 2);
    EXPECT_TRUE(result.clip.clipped);
  }
  const VideoFileResult whole = Read("whole.webm");
  ASSERT_FALSE(whole.error) << whole.error->message;
  EXPECT_EQ(whole.clip.frame_count, 16);
  EXPECT_TRUE(whole.clip.clipped);
}

// Two threads decoding the same file at once get the same frames as one alone.
TEST_F(VideoClipTest, ThreadsDecodeIndependently) {
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc=s=160x120:r=25:d=3 -c:v libx264 -pix_fmt yuv420p "
             "moving.mp4"));
  const VideoFrontEndOptions options{.frames_per_second = 5, .size = 32, .max_seconds = 8};
  const VideoFileResult alone = Read("moving.mp4", options);
  ASSERT_FALSE(alone.error) << alone.error->message;
  ASSERT_EQ(alone.clip.frame_count, 15);
  VideoFileResult results[2];
  {
    std::jthread first([&] { results[0] = Read("moving.mp4", options); });
    std::jthread second([&] { results[1] = Read("moving.mp4", options); });
  }
  for (const VideoFileResult& result : results) {
    ASSERT_FALSE(result.error) << result.error->message;
    EXPECT_EQ(result.clip.frame_count, alone.clip.frame_count);
    EXPECT_TRUE(result.clip.frames == alone.clip.frames);
  }
}

}  // namespace
}  // namespace equifl::client
