// Reads a video file as the video front end takes it: square RGB frames, sampled in time.
//
// Exactly (every number is a field of VideoFrontEndOptions and is recorded in the
// shard manifest, so a run can refuse data made with other settings):
//   stream   the file's first video stream (cover art, an attached picture, is not
//            video); other streams are not read (the sound track comes in through
//            the audio column, audio_file.h).
//   time     a frame's time is its presentation time (best_effort_timestamp in the
//            stream's time base) less the first decoded frame's; a frame without a
//            timestamp is at its index / the stream's average frame rate (25 when
//            unknown). Times within 1 us count as equal.
//   sampling sample k = 0, 1, ... is taken at t_k = k / frames_per_second: it is the
//            last decoded frame whose time is <= t_k (the frame on screen at t_k).
//            Sample 0 is always taken; sampling stops at FrameCount() samples, or
//            when t_k >= end, the last frame's time plus its duration (1 / the
//            average frame rate when unknown, else 0).
//   resize   libswscale (SWS_AREA, with full chroma interpolation and accurate
//            rounding) scales the frame so its shorter side is `size` (the longer
//            side rounded to nearest, at least `size`) and converts it to RGB24
//            (the frame's own colour matrix and range; full-range output), then the
//            centred size x size square is kept (offset (w - size) / 2, (h - size) / 2).
//   output   uint8 [frames, size, size, 3], row-major RGB.
// `seconds` is min(end, max_seconds); `clipped` says a frame exists at a time >=
// max_seconds. Decoding stops as soon as both are known, so a long file costs only
// the part kept. FFmpeg's libraries decode (libavformat, libavcodec, libswscale),
// reading local files only (no protocols, no playlists); their logging is silenced.
// Every way a file can be bad has its own reason, as for audio: missing, unreadable,
// empty (no bytes, or a stream without frames), truncated (a header that breaks off,
// a read or decoding error after the first frame, or a video that ends before the
// duration its container announces, all before max_seconds), undecodable (not a
// container or codec FFmpeg reads, or a first frame it cannot decode), unsupported (no
// video stream, or frames over 16384 pixels on a side). No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_VIDEO_FILE_H_
#define EQUIFL_CLIENT_MEDIA_VIDEO_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/media/media_file.h"

namespace equifl::client {

//! How a video becomes frames: sampled in time, resized, cropped square, RGB.
struct VideoFrontEndOptions {
  double frames_per_second = 2;  //!< Frames sampled per second of video, in (0, 60].
  int size = 64;                 //!< Side of the square frames, in [8, 512].
  double max_seconds = 8;        //!< Video kept per file, in (0, 3600].

  //! Frames a clip of max_seconds gives: max(1, floor(max_seconds * frames_per_second + 1e-9)).
  int64_t FrameCount() const;
  //! OK, or which option is out of range and what is allowed.
  absl::Status Validate() const;
  //! The definition as one line, recorded in the shard manifest, e.g.
  //! "video-frames fps=2 size=64 resize=shorter-side-area crop=center color=rgb24 max_seconds=8".
  std::string Describe() const;
};

//! A decoded clip.
struct VideoClip {
  std::vector<uint8_t> frames;  //!< [frame_count, size, size, 3] row-major RGB.
  int64_t frame_count = 0;      //!< Frames sampled, in [1, FrameCount()].
  int source_width = 0;         //!< The stream's own frame size.
  int source_height = 0;
  double seconds = 0;    //!< Video duration decoded (at most max_seconds).
  bool clipped = false;  //!< The video went on past max_seconds.
};

//! Result of ReadVideoFile: the clip, or why there is none.
struct VideoFileResult {
  VideoClip clip;                       //!< Empty when `error` is set.
  std::optional<MediaFileError> error;  //!< Why the file cannot be used.
};

//! Decodes the first video stream of `path` (shown as `shown_path` in messages).
//! Frames larger than 16384 on a side are refused (kUnsupported), and so is every
//! file when `options` are not valid (Validate()). Thread-safe; each call decodes on
//! the calling thread only (decoder thread_count = 1), so an import can decode one
//! file per core.
VideoFileResult ReadVideoFile(const std::string& path, const std::string& shown_path,
                              const VideoFrontEndOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_VIDEO_FILE_H_
