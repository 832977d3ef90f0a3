#include "client/media/video_file.h"

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/media/ffmpeg_stream.h"

namespace equifl::client {
namespace {

// Frames larger than this on a side are refused.
constexpr int kMaxFrameSide = 16384;
// Decoder errors tolerated before the first frame: a stream cut in the middle of a
// group of pictures starts with packets that refer to pictures it does not hold.
constexpr int kMaxErrorsBeforeFirstFrame = 16;
// Times closer than this are the same instant (timestamps are rounded to their time base).
constexpr double kSameTime = 1e-6;
// The frame rate of frames without timestamps in a stream that states none.
constexpr double kFallbackFramesPerSecond = 25;
// How much earlier than its container announces a video may end before it counts as
// cut off: the stream's own duration is exact to a frame or two; the container's is
// its longest stream's, which may be the sound track.
constexpr double kStreamDurationSlack = 0.25;
constexpr double kContainerDurationSlack = 1.0;
// What to tell whoever gave a file FFmpeg cannot read.
constexpr absl::string_view kConvertHint =
    "give MP4, WebM, MKV, MOV or AVI, or convert it first, e.g. ffmpeg -i IN -c:v libx264 "
    "-pix_fmt yuv420p OUT.mp4";

VideoFileResult Failure(MediaFileProblem problem, const std::string& shown_path,
                        absl::string_view what) {
  return {.clip = {}, .error = MediaFileError::Of(problem, shown_path, what)};
}

struct ScalerFreer {
  void operator()(SwsContext* scaler) const { sws_freeContext(scaler); }
};

// How long `frame` is shown, in its stream's time base; 0 when unknown.
int64_t FrameDuration(const AVFrame& frame) {
#if LIBAVUTIL_VERSION_MAJOR >= 58
  return frame.duration;  // FFmpeg 6 and later
#else
  return frame.pkt_duration;
#endif
}

// Seconds per frame at `rate`, or 0 when the rate is unknown.
double FramePeriod(AVRational rate) {
  return rate.num > 0 && rate.den > 0 ? static_cast<double>(rate.den) / rate.num : 0;
}

const char* PixelFormatName(int format) {
  const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(format));
  return name != nullptr ? name : "unknown";
}

// Whether `frame` holds luma and chroma (not RGB, grey or a palette).
bool IsYuv(const AVFrame& frame) {
  const AVPixFmtDescriptor* descriptor =
      av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame.format));
  return descriptor != nullptr && descriptor->nb_components >= 3 &&
         (descriptor->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) == 0;
}

// Whether `frame`'s luma spans 0..255 rather than 16..235 (the deprecated "J"
// formats are full range whatever the frame says).
bool IsFullRange(const AVFrame& frame) {
  switch (frame.format) {
    case AV_PIX_FMT_YUVJ411P:
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ444P:
      return true;
    default:
      return frame.color_range == AVCOL_RANGE_JPEG;
  }
}

// Scales decoded frames so their shorter side is `size`, converts them to RGB24 and
// keeps the centred square. Keeps its libswscale context while the frames' size and
// format stay the same.
class SquareMaker {
 public:
  explicit SquareMaker(int size) : size_(size) {}

  //! Appends `frame` as size x size x 3 bytes to `output`.
  absl::Status Append(const AVFrame& frame, std::vector<uint8_t>& output) {
    const Input input{frame.width, frame.height, frame.format, frame.colorspace,
                      IsFullRange(frame)};
    if (scaler_ == nullptr || !(input == input_)) {
      if (absl::Status prepared = Prepare(frame, input); !prepared.ok()) return prepared;
    }
    uint8_t* const planes[4] = {scaled_.data(), nullptr, nullptr, nullptr};
    const int strides[4] = {stride_, 0, 0, 0};
    const int rows =
        sws_scale(scaler_.get(), frame.data, frame.linesize, 0, frame.height, planes, strides);
    if (rows != scaled_height_) {
      return absl::InternalError(absl::StrCat("libswscale gave ", rows, " of ", scaled_height_,
                                              " rows of a ", frame.width, "x", frame.height, " ",
                                              PixelFormatName(frame.format), " frame"));
    }
    const size_t left = static_cast<size_t>((scaled_width_ - size_) / 2) * 3;
    const size_t top = static_cast<size_t>((scaled_height_ - size_) / 2);
    const size_t row_bytes = static_cast<size_t>(size_) * 3;
    for (size_t row = 0; row < static_cast<size_t>(size_); ++row) {
      const uint8_t* start = scaled_.data() + (top + row) * static_cast<size_t>(stride_) + left;
      output.insert(output.end(), start, start + row_bytes);
    }
    return absl::OkStatus();
  }

 private:
  // What the libswscale context depends on.
  struct Input {
    int width = 0;
    int height = 0;
    int format = AV_PIX_FMT_NONE;
    int colorspace = AVCOL_SPC_UNSPECIFIED;
    bool full_range = false;
    bool operator==(const Input&) const = default;
  };

  absl::Status Prepare(const AVFrame& frame, const Input& input) {
    input_ = Input{};
    const auto format = static_cast<AVPixelFormat>(frame.format);
    if (sws_isSupportedInput(format) == 0) {
      return absl::UnimplementedError(absl::StrCat(
          "its pixel format ", PixelFormatName(frame.format), " cannot be converted to RGB"));
    }
    const int shorter = std::min(frame.width, frame.height);
    const int longer = std::max(frame.width, frame.height);
    const int scaled_longer = std::max(
        size_, static_cast<int>(std::lround(static_cast<double>(longer) * size_ / shorter)));
    scaled_width_ = frame.width <= frame.height ? size_ : scaled_longer;
    scaled_height_ = frame.width <= frame.height ? scaled_longer : size_;
    scaler_.reset(sws_getCachedContext(scaler_.release(), frame.width, frame.height, format,
                                       scaled_width_, scaled_height_, AV_PIX_FMT_RGB24,
                                       SWS_AREA | SWS_FULL_CHR_H_INT | SWS_ACCURATE_RND, nullptr,
                                       nullptr, nullptr));
    if (scaler_ == nullptr) {
      return absl::UnimplementedError(
          absl::StrCat("its ", frame.width, "x", frame.height, " ", PixelFormatName(frame.format),
                       " frames cannot be scaled to ", scaled_width_, "x", scaled_height_));
    }
    if (IsYuv(frame)) {
      // The frame's own matrix (BT.601 when unspecified) and range; RGB spans 0..255.
      sws_setColorspaceDetails(scaler_.get(), sws_getCoefficients(frame.colorspace),
                               input.full_range ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT),
                               /*dstRange=*/1, /*brightness=*/0, /*contrast=*/1 << 16,
                               /*saturation=*/1 << 16);
    }
    // Rows aligned for libswscale's vector code, with room for its last stores.
    stride_ = (scaled_width_ * 3 + 63) / 64 * 64;
    scaled_.assign(static_cast<size_t>(stride_) * static_cast<size_t>(scaled_height_) + 64, 0);
    input_ = input;
    return absl::OkStatus();
  }

  int size_;
  Input input_;
  std::unique_ptr<SwsContext, ScalerFreer> scaler_;
  int scaled_width_ = 0;
  int scaled_height_ = 0;
  int stride_ = 0;
  std::vector<uint8_t> scaled_;  // [scaled_height_, stride_] RGB24
};

// How long the container says the video is.
struct AnnouncedDuration {
  double seconds = 0;
  double slack = 0;  // how much earlier a complete video may end
};

// The video's duration as its container announces it, or nullopt when it does not say.
std::optional<AnnouncedDuration> Announced(const StreamDecoder& decoder, double frame_period) {
  const AVStream& stream = decoder.stream();
  if (stream.duration != AV_NOPTS_VALUE && stream.duration > 0) {
    return AnnouncedDuration{
        .seconds = static_cast<double>(stream.duration) * av_q2d(stream.time_base),
        .slack = std::max(kStreamDurationSlack, 2 * frame_period)};
  }
  const AVFormatContext& format = decoder.format();
  if (format.duration != AV_NOPTS_VALUE && format.duration > 0) {
    return AnnouncedDuration{.seconds = static_cast<double>(format.duration) / AV_TIME_BASE,
                             .slack = std::max(kContainerDurationSlack, 2 * frame_period)};
  }
  return std::nullopt;
}

}  // namespace

int64_t VideoFrontEndOptions::FrameCount() const {
  return std::max<int64_t>(
      1, static_cast<int64_t>(std::floor(max_seconds * frames_per_second + 1e-9)));
}

absl::Status VideoFrontEndOptions::Validate() const {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError(what); };
  if (!(frames_per_second > 0 && frames_per_second <= 60)) {
    return bad(absl::StrCat("the video front end's frames per second (--video-fps) is ",
                            frames_per_second, "; it must be in (0, 60]"));
  }
  if (size < 8 || size > 512) {
    return bad(absl::StrCat("the video front end's size (--video-size) is ", size,
                            " pixels; it must be in 8..512"));
  }
  if (!(max_seconds > 0 && max_seconds <= 3600)) {
    return bad(absl::StrCat("the video front end's max_seconds (--max-video-seconds) is ",
                            max_seconds, "; it must be in (0, 3600]"));
  }
  return absl::OkStatus();
}

std::string VideoFrontEndOptions::Describe() const {
  return absl::StrCat(
      "video-frames fps=", frames_per_second, " size=", size,
      " resize=shorter-side-area crop=center color=rgb24 max_seconds=", max_seconds);
}

VideoFileResult ReadVideoFile(const std::string& path, const std::string& shown_path,
                              const VideoFrontEndOptions& options) {
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return Failure(MediaFileProblem::kUnsupported, shown_path, valid.message());
  }
  if (std::optional<MediaFileError> problem = CheckMediaFile(path, shown_path)) {
    return {.clip = {}, .error = std::move(problem)};
  }

  StreamDecoder decoder;
  const StreamChoice video{.type = AVMEDIA_TYPE_VIDEO,
                           .noun = "a video",
                           .codec_noun = "video",
                           .missing =
                               "has no video stream (only sound, subtitles or cover art); "
                               "give a video file, and a recording in the audio column",
                           .hint = kConvertHint};
  if (std::optional<MediaFileError> opened = decoder.Open(path, shown_path, video)) {
    return {.clip = {}, .error = std::move(opened)};
  }
  if (const AVCodecParameters& parameters = *decoder.stream().codecpar;
      parameters.width > kMaxFrameSide || parameters.height > kMaxFrameSide) {
    return Failure(MediaFileProblem::kUnsupported, shown_path,
                   absl::StrCat("its frames are ", parameters.width, "x", parameters.height,
                                "; at most ", kMaxFrameSide, " on a side are taken"));
  }
  const AVStream& stream = decoder.stream();
  const double time_base = stream.time_base.num > 0 && stream.time_base.den > 0
                               ? av_q2d(stream.time_base)
                               : 0;  // no usable timestamps
  double rate_period = FramePeriod(stream.avg_frame_rate);
  if (rate_period == 0) rate_period = FramePeriod(stream.r_frame_rate);
  const double untimed_period = rate_period > 0 ? rate_period : 1 / kFallbackFramesPerSecond;

  const int64_t wanted = options.FrameCount();
  auto sample_time = [&](int64_t sample) {
    return static_cast<double>(sample) / options.frames_per_second;
  };
  VideoFileResult result;
  VideoClip& clip = result.clip;
  clip.source_width = stream.codecpar->width;
  clip.source_height = stream.codecpar->height;
  SquareMaker squares(options.size);
  const size_t square_bytes = static_cast<size_t>(options.size) * options.size * 3;

  FfmpegFrame frame(av_frame_alloc());
  FfmpegFrame held(av_frame_alloc());  // the last frame at or before the next sample's time
  if (frame == nullptr || held == nullptr) {
    return Failure(MediaFileProblem::kUndecodable, shown_path, "out of memory for its frames");
  }
  bool holding = false;
  bool held_made = false;  // the held frame's square is the last one in clip.frames
  // Appends the held frame as the next sample.
  auto take_held = [&]() -> absl::Status {
    if (held_made) {
      const size_t last = clip.frames.size() - square_bytes;
      clip.frames.resize(clip.frames.size() + square_bytes);
      std::copy_n(clip.frames.begin() + static_cast<ptrdiff_t>(last), square_bytes,
                  clip.frames.end() - static_cast<ptrdiff_t>(square_bytes));
    } else if (absl::Status made = squares.Append(*held, clip.frames); !made.ok()) {
      return made;
    }
    held_made = true;
    ++clip.frame_count;
    return absl::OkStatus();
  };

  std::optional<int64_t> origin;  // the first timestamp
  int64_t decoded = 0;
  int errors_before_first_frame = 0;
  int last_error = 0;
  double end = 0;
  bool at_end = false;
  while (!(clip.frame_count == wanted && clip.clipped)) {
    const StreamDecoder::Step step = decoder.Next(frame.get());
    if (step == StreamDecoder::Step::kEnd) {
      at_end = true;
      break;
    }
    if (step == StreamDecoder::Step::kDecoderFailed && decoded == 0) {
      last_error = decoder.error();
      if (++errors_before_first_frame <= kMaxErrorsBeforeFirstFrame) continue;
      return Failure(MediaFileProblem::kUndecodable, shown_path,
                     absl::StrCat("its first video frame cannot be decoded (",
                                  FfmpegErrorText(decoder.error()), "); ", kConvertHint));
    }
    if (step != StreamDecoder::Step::kFrame) {
      const absl::string_view where =
          step == StreamDecoder::Step::kDemuxerFailed ? "cannot be read" : "cannot be decoded";
      if (decoded == 0) {
        return Failure(MediaFileProblem::kUndecodable, shown_path,
                       absl::StrCat("its video ", where, " (", FfmpegErrorText(decoder.error()),
                                    "); ", kConvertHint));
      }
      return Failure(MediaFileProblem::kTruncated, shown_path,
                     absl::StrCat("the video breaks off after ", end, " s (", where, ": ",
                                  FfmpegErrorText(decoder.error()),
                                  "); a cut-off or damaged copy: copy or export it again"));
    }

    if (frame->width <= 0 || frame->height <= 0 || frame->width > kMaxFrameSide ||
        frame->height > kMaxFrameSide) {
      return Failure(MediaFileProblem::kUnsupported, shown_path,
                     absl::StrCat("it has a ", frame->width, "x", frame->height,
                                  " frame; frames of 1..", kMaxFrameSide, " on a side are taken"));
    }
    if (clip.source_width <= 0 || clip.source_height <= 0) {
      clip.source_width = frame->width;
      clip.source_height = frame->height;
    }
    double time = static_cast<double>(decoded) * untimed_period;
    if (frame->best_effort_timestamp != AV_NOPTS_VALUE && time_base > 0) {
      if (!origin) origin = frame->best_effort_timestamp;
      // In doubles: a damaged file's timestamps may be far apart enough to overflow.
      time = (static_cast<double>(frame->best_effort_timestamp) - static_cast<double>(*origin)) *
             time_base;
    }
    const double duration = FrameDuration(*frame) > 0 && time_base > 0
                                ? static_cast<double>(FrameDuration(*frame)) * time_base
                                : rate_period;
    end = std::max(end, time + duration);
    ++decoded;
    if (time >= options.max_seconds - kSameTime) clip.clipped = true;

    // The frame is past the next samples' times: the held one is on screen at them.
    while (holding && clip.frame_count < wanted &&
           time > sample_time(clip.frame_count) + kSameTime) {
      if (absl::Status taken = take_held(); !taken.ok()) {
        return Failure(MediaFileProblem::kUnsupported, shown_path, taken.message());
      }
    }
    if (clip.frame_count < wanted &&
        (!holding || time <= sample_time(clip.frame_count) + kSameTime)) {
      av_frame_unref(held.get());
      av_frame_move_ref(held.get(), frame.get());
      holding = true;
      held_made = false;
    }
    av_frame_unref(frame.get());
  }

  const std::optional<AnnouncedDuration> announced = Announced(decoder, rate_period);
  if (!holding) {
    if (last_error != 0) {
      return Failure(MediaFileProblem::kUndecodable, shown_path,
                     absl::StrCat("no video frame can be decoded (", FfmpegErrorText(last_error),
                                  "); ", kConvertHint));
    }
    if (announced && announced->seconds > announced->slack) {
      return Failure(
          MediaFileProblem::kTruncated, shown_path,
          absl::StrCat("the file ends before its first video frame, but its container announces ",
                       announced->seconds, " s (a cut-off copy?); copy or export it again"));
    }
    return Failure(MediaFileProblem::kEmpty, shown_path, "its video stream holds no frames");
  }
  if (at_end) {
    if (announced && std::min(announced->seconds, options.max_seconds) - end > announced->slack) {
      return Failure(
          MediaFileProblem::kTruncated, shown_path,
          absl::StrCat("the video ends at ", end, " s but its container announces ",
                       announced->seconds, " s (a cut-off copy?); copy or export it again"));
    }
    // No frame after the held one: it stays on screen to the end.
    while (clip.frame_count < wanted &&
           (clip.frame_count == 0 || sample_time(clip.frame_count) < end - kSameTime)) {
      if (absl::Status taken = take_held(); !taken.ok()) {
        return Failure(MediaFileProblem::kUnsupported, shown_path, taken.message());
      }
    }
  }
  clip.seconds = std::min(end, options.max_seconds);
  return result;
}

}  // namespace equifl::client
