// Reads an audio file as the front end takes it: mono float samples at one rate.
//
// libsndfile decodes the file (WAV, FLAC, OGG/Vorbis and Opus, AIFF, ... whatever
// Debian's libsndfile reads); a container it does not know (MP4, M4A, MP3, WebM,
// MKV, ...: a broadcaster's clip, say) has its first sound stream decoded by FFmpeg's
// libraries (ffmpeg_stream.h) instead. The channels are averaged to mono, and libsoxr
// resamples to the wanted rate (its high-quality preset; no resampling when the
// rates agree). Every way a file can be bad has its own reason, so an import can
// count them: missing, unreadable, empty, truncated (a header that promises more
// audio than the file holds, or a stream that breaks off), undecodable, or
// unsupported (a sample rate outside what the front end handles, a video without
// sound). No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_AUDIO_FILE_H_
#define EQUIFL_CLIENT_MEDIA_AUDIO_FILE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/media/media_file.h"

namespace equifl::client {

//! Sample rates a file may have: lower rates lack the front end's bands, higher
//! ones are not audio a microphone makes.
inline constexpr int kMinAudioSampleRate = 8000;
inline constexpr int kMaxAudioSampleRate = 384000;

//! A decoded file.
struct AudioSignal {
  std::vector<float> samples;  //!< Mono, at the requested rate.
  int source_rate = 0;         //!< The file's own sample rate.
  int source_channels = 0;     //!< The file's channels, averaged into `samples`.
  double seconds = 0;          //!< Duration decoded (at most max_seconds).
  bool clipped = false;        //!< The file was longer than max_seconds.
};

//! Result of ReadAudioFile: the signal, or why there is none.
struct AudioFileResult {
  AudioSignal signal;                   //!< Empty when `error` is set.
  std::optional<MediaFileError> error;  //!< Why the file cannot be used.
};

//! Decodes `path` (shown as `shown_path` in messages) to mono at `rate` Hz,
//! keeping at most the first `max_seconds` (> 0). Thread-safe.
AudioFileResult ReadAudioFile(const std::string& path, const std::string& shown_path, int rate,
                              double max_seconds);

//! `samples` (mono, `from_rate` Hz) resampled to `to_rate` Hz with libsoxr's
//! high-quality preset; the same samples when the rates agree. Thread-safe.
absl::StatusOr<std::vector<float>> Resample(std::span<const float> samples, int from_rate,
                                            int to_rate);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_AUDIO_FILE_H_
