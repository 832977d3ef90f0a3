#include "client/media/audio_file.h"

#include <sndfile.h>
#include <soxr.h>

#include <cerrno>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/media/ffmpeg_stream.h"

namespace equifl::client {
namespace {

constexpr sf_count_t kFramesPerRead = 8192;
// What to tell whoever gave a file neither libsndfile nor FFmpeg can read.
constexpr char kConvertHint[] =
    "give WAV, FLAC, OGG (Vorbis or Opus), AIFF, or a file whose sound FFmpeg reads (MP4, M4A, "
    "MP3, WebM, MKV), or convert it first, e.g. ffmpeg -i IN -ar 16000 OUT.wav";

AudioFileResult Failure(MediaFileProblem problem, const std::string& shown_path,
                        absl::string_view what) {
  return {.signal = {}, .error = MediaFileError::Of(problem, shown_path, what)};
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

// Mono samples at the source's rate, before resampling.
struct MonoSound {
  std::vector<float> samples;
  int rate = 0;
  int channels = 0;
  bool clipped = false;  // the source went on past max_seconds
};

// `sound` checked (finite), resampled to `rate` and described.
AudioFileResult Finish(MonoSound sound, int rate, const std::string& shown_path) {
  for (const float sample : sound.samples) {
    if (!std::isfinite(sample)) {
      return Failure(MediaFileProblem::kUndecodable, shown_path,
                     "it holds samples that are not finite numbers (a damaged float file)");
    }
  }
  AudioFileResult result;
  result.signal.source_rate = sound.rate;
  result.signal.source_channels = sound.channels;
  result.signal.clipped = sound.clipped;
  absl::StatusOr<std::vector<float>> resampled = Resample(sound.samples, sound.rate, rate);
  if (!resampled.ok()) {
    return Failure(MediaFileProblem::kUnsupported, shown_path, resampled.status().message());
  }
  result.signal.samples = *std::move(resampled);
  result.signal.seconds = static_cast<double>(sound.samples.size()) / sound.rate;
  return result;
}

AudioFileResult RateProblem(int sample_rate, const std::string& shown_path) {
  return Failure(
      MediaFileProblem::kUnsupported, shown_path,
      absl::StrCat("its sample rate is ", sample_rate, " Hz; audio must be ", kMinAudioSampleRate,
                   "..", kMaxAudioSampleRate, " Hz (the front end's bands reach 8 kHz)"));
}

// Sample `index` of channel `channel` of `frame`, as a float in [-1, 1].
float SampleOf(const AVFrame& frame, int channel, int index, int channels) {
  const auto format = static_cast<AVSampleFormat>(frame.format);
  const bool planar = av_sample_fmt_is_planar(format) != 0;
  const uint8_t* data = planar ? frame.extended_data[channel] : frame.extended_data[0];
  const int position = planar ? index : index * channels + channel;
  switch (av_get_packed_sample_fmt(format)) {
    case AV_SAMPLE_FMT_U8:
      return (static_cast<float>(data[position]) - 128.0F) / 128.0F;
    case AV_SAMPLE_FMT_S16:
      return static_cast<float>(reinterpret_cast<const int16_t*>(data)[position]) / 32768.0F;
    case AV_SAMPLE_FMT_S32:
      return static_cast<float>(reinterpret_cast<const int32_t*>(data)[position]) / 2147483648.0F;
    case AV_SAMPLE_FMT_S64:
      return static_cast<float>(
          static_cast<double>(reinterpret_cast<const int64_t*>(data)[position]) /
          9223372036854775808.0);
    case AV_SAMPLE_FMT_FLT:
      return reinterpret_cast<const float*>(data)[position];
    case AV_SAMPLE_FMT_DBL:
      return static_cast<float>(reinterpret_cast<const double*>(data)[position]);
    default:
      return 0.0F;  // no decoder gives another format
  }
}

// The first sound stream of a container libsndfile does not read (MP4, M4A, MP3,
// WebM, MKV, ...), decoded by FFmpeg's libraries with its channels averaged; nullopt
// when FFmpeg does not know the file either (the caller's message stands).
std::optional<AudioFileResult> ReadSoundStream(const std::string& path,
                                               const std::string& shown_path, int rate,
                                               double max_seconds) {
  StreamDecoder decoder;
  const StreamChoice sound{.type = AVMEDIA_TYPE_AUDIO,
                           .noun = "sound",
                           .codec_noun = "sound",
                           .missing =
                               "has no sound stream (a video without sound?); give a file "
                               "with sound, or leave the audio cell empty",
                           .hint = kConvertHint};
  if (std::optional<MediaFileError> opened = decoder.Open(path, shown_path, sound)) {
    if (opened->problem == MediaFileProblem::kUndecodable) return std::nullopt;
    return AudioFileResult{.signal = {}, .error = std::move(opened)};
  }
  const int source_rate = decoder.stream().codecpar->sample_rate;
  if (source_rate < kMinAudioSampleRate || source_rate > kMaxAudioSampleRate) {
    return RateProblem(source_rate, shown_path);
  }
  const auto limit = static_cast<size_t>(std::ceil(max_seconds * source_rate));
  MonoSound mono{.rate = source_rate};
  FfmpegFrame frame(av_frame_alloc());
  if (frame == nullptr) {
    return Failure(MediaFileProblem::kUndecodable, shown_path, "out of memory for its frames");
  }
  for (;;) {
    const StreamDecoder::Step step = decoder.Next(frame.get());
    if (step == StreamDecoder::Step::kEnd) break;
    if (step != StreamDecoder::Step::kFrame) {
      if (mono.samples.empty()) {
        return Failure(MediaFileProblem::kUndecodable, shown_path,
                       absl::StrCat("its sound cannot be decoded (",
                                    FfmpegErrorText(decoder.error()), "); ", kConvertHint));
      }
      return Failure(MediaFileProblem::kTruncated, shown_path,
                     absl::StrCat("the sound breaks off after ",
                                  static_cast<double>(mono.samples.size()) / source_rate, " s (",
                                  FfmpegErrorText(decoder.error()),
                                  "); a cut-off or damaged copy: copy or export it again"));
    }
    const int channels = frame->ch_layout.nb_channels;
    if (channels < 1 || frame->sample_rate != source_rate) {
      return Failure(
          MediaFileProblem::kUnsupported, shown_path,
          absl::StrCat("its sound changes to ", channels, " channels at ", frame->sample_rate,
                       " Hz midway; convert it first, e.g. ", "ffmpeg -i IN -ar 16000 OUT.wav"));
    }
    mono.channels = std::max(mono.channels, channels);
    for (int index = 0; index < frame->nb_samples; ++index) {
      if (mono.samples.size() == limit) {
        mono.clipped = true;
        break;
      }
      float sum = 0;
      for (int channel = 0; channel < channels; ++channel) {
        sum += SampleOf(*frame, channel, index, channels);
      }
      mono.samples.push_back(sum / static_cast<float>(channels));
    }
    av_frame_unref(frame.get());
    if (mono.clipped) break;
  }
  if (mono.samples.empty()) {
    return Failure(MediaFileProblem::kEmpty, shown_path, "its sound stream holds no samples");
  }
  return Finish(std::move(mono), rate, shown_path);
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
    const std::string sound_file_error = sf_strerror(nullptr);
    if (std::optional<AudioFileResult> sound =
            ReadSoundStream(path, shown_path, rate, max_seconds)) {
      return *std::move(sound);
    }
    return Failure(MediaFileProblem::kUndecodable, shown_path,
                   absl::StrCat("cannot be decoded (", sound_file_error, "); ", kConvertHint));
  }
  if (info.samplerate < kMinAudioSampleRate || info.samplerate > kMaxAudioSampleRate) {
    return RateProblem(info.samplerate, shown_path);
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
  return Finish({.samples = std::move(mono),
                 .rate = info.samplerate,
                 .channels = info.channels,
                 .clipped = info.frames > limit},
                rate, shown_path);
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
