#include "client/media/audio_file.h"

#include <sndfile.h>
#include <soxr.h>

#include <cerrno>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace equifl::client {
namespace {

constexpr sf_count_t kFramesPerRead = 8192;

AudioFileResult Failure(MediaFileProblem problem, const std::string& shown_path,
                        absl::string_view what) {
  return {.signal = {}, .error = MediaFileError{problem, absl::StrCat(shown_path, ": ", what)}};
}

// Closes a libsndfile handle.
struct SoundFileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};

// libsndfile reads a file whose header promises more data than it holds as far as
// it goes, and notes the difference in its log ("data : 176400 (should be 88178)").
bool HeaderPromisesMore(SNDFILE* file) {
  char log[4096] = {};
  sf_command(file, SFC_GET_LOG_INFO, log, sizeof log);
  return absl::StrContains(log, "(should be");
}

}  // namespace

AudioFileResult ReadAudioFile(const std::string& path, const std::string& shown_path, int rate,
                              double max_seconds) {
  if (std::optional<MediaFileError> problem = CheckMediaFile(path, shown_path)) {
    return {.signal = {}, .error = std::move(problem)};
  }

  SF_INFO info = {};
  errno = 0;
  std::unique_ptr<SNDFILE, SoundFileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (file == nullptr) {
    const int code = sf_error(nullptr);
    if (code == SF_ERR_SYSTEM) {
      return Failure(MediaFileProblem::kUnreadable, shown_path,
                     absl::StrCat("cannot be read: ", sf_strerror(nullptr)));
    }
    if (code == SF_ERR_MALFORMED_FILE) {
      return Failure(MediaFileProblem::kTruncated, shown_path,
                     absl::StrCat("cannot be decoded (", sf_strerror(nullptr),
                                  "): a cut-off or damaged file; export it again"));
    }
    return Failure(MediaFileProblem::kUndecodable, shown_path,
                   absl::StrCat("cannot be decoded (", sf_strerror(nullptr),
                                "); give WAV, FLAC, OGG (Vorbis or Opus) or AIFF, or convert it "
                                "first, e.g. ffmpeg -i IN -ar 16000 OUT.wav"));
  }
  if (info.samplerate < kMinAudioSampleRate || info.samplerate > kMaxAudioSampleRate) {
    return Failure(MediaFileProblem::kUnsupported, shown_path,
                   absl::StrCat("its sample rate is ", info.samplerate, " Hz; audio must be ",
                                kMinAudioSampleRate, "..", kMaxAudioSampleRate,
                                " Hz (the front end's bands reach 8 kHz)"));
  }
  if (info.channels < 1) {
    return Failure(MediaFileProblem::kUndecodable, shown_path, "it has no channels");
  }
  if (info.frames <= 0) {
    return Failure(MediaFileProblem::kEmpty, shown_path, "the file holds no audio samples");
  }
  if (HeaderPromisesMore(file.get())) {
    return Failure(MediaFileProblem::kTruncated, shown_path,
                   "the file ends before the audio its header announces (a cut-off copy?); "
                   "copy or export it again");
  }

  const auto limit = static_cast<sf_count_t>(std::ceil(max_seconds * info.samplerate));
  const sf_count_t wanted = std::min(info.frames, limit);
  const auto channels = static_cast<size_t>(info.channels);
  std::vector<float> mono;
  mono.reserve(static_cast<size_t>(wanted));
  std::vector<float> buffer(static_cast<size_t>(kFramesPerRead) * channels);
  while (static_cast<sf_count_t>(mono.size()) < wanted) {
    const sf_count_t ask = std::min(kFramesPerRead, wanted - static_cast<sf_count_t>(mono.size()));
    const sf_count_t got = sf_readf_float(file.get(), buffer.data(), ask);
    if (got <= 0) break;
    for (sf_count_t frame = 0; frame < got; ++frame) {
      float sum = 0;
      for (size_t channel = 0; channel < channels; ++channel) {
        sum += buffer[static_cast<size_t>(frame) * channels + channel];
      }
      mono.push_back(sum / static_cast<float>(channels));
    }
  }
  if (static_cast<sf_count_t>(mono.size()) < wanted) {
    const int code = sf_error(file.get());
    return Failure(
        MediaFileProblem::kTruncated, shown_path,
        absl::StrCat("the audio breaks off after ", mono.size(), " of ", info.frames, " samples",
                     code != SF_ERR_NO_ERROR ? absl::StrCat(" (", sf_strerror(file.get()), ")")
                                             : std::string(),
                     "; copy or export it again"));
  }
  for (const float sample : mono) {
    if (!std::isfinite(sample)) {
      return Failure(MediaFileProblem::kUndecodable, shown_path,
                     "it holds samples that are not finite numbers (a damaged float file)");
    }
  }

  AudioFileResult result;
  result.signal.source_rate = info.samplerate;
  result.signal.source_channels = info.channels;
  result.signal.clipped = info.frames > limit;
  absl::StatusOr<std::vector<float>> resampled = Resample(mono, info.samplerate, rate);
  if (!resampled.ok()) {
    return Failure(MediaFileProblem::kUnsupported, shown_path, resampled.status().message());
  }
  result.signal.samples = *std::move(resampled);
  result.signal.seconds = static_cast<double>(mono.size()) / info.samplerate;
  return result;
}

absl::StatusOr<std::vector<float>> Resample(std::span<const float> samples, int from_rate,
                                            int to_rate) {
  if (from_rate == to_rate) return std::vector<float>(samples.begin(), samples.end());
  const double ratio = static_cast<double>(to_rate) / from_rate;
  std::vector<float> output(static_cast<size_t>(std::ceil(samples.size() * ratio)) + 1);
  size_t produced = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_error_t error =
      soxr_oneshot(from_rate, to_rate, /*num_channels=*/1, samples.data(), samples.size(), nullptr,
                   output.data(), output.size(), &produced, &io, &quality, nullptr);
  if (error != nullptr) {
    return absl::InternalError(
        absl::StrCat("resampling from ", from_rate, " Hz to ", to_rate, " Hz failed: ", error));
  }
  output.resize(produced);
  return output;
}

}  // namespace equifl::client
