// One stream of a media file, demuxed and decoded by FFmpeg's libraries a frame at
// a time: what the video front end (video_file.h) and the sound of containers
// libsndfile does not read (audio_file.h) share. Only "file:" is opened (no network
// protocol, no playlist reaching elsewhere), FFmpeg's own logging is silenced, and
// every way opening can fail is a MediaFileError with its reason. No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_FFMPEG_STREAM_H_
#define EQUIFL_CLIENT_MEDIA_FFMPEG_STREAM_H_

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "client/media/media_file.h"

namespace equifl::client {

//! FFmpeg's text for one of its error codes.
std::string FfmpegErrorText(int code);

//! Frees an AVFrame.
struct FfmpegFrameFreer {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
using FfmpegFrame = std::unique_ptr<AVFrame, FfmpegFrameFreer>;

//! Which stream to decode, and how messages speak of it.
struct StreamChoice {
  AVMediaType type = AVMEDIA_TYPE_VIDEO;  //!< The first stream of this type is decoded.
  absl::string_view noun;                 //!< "a video" / "sound", in "cannot be opened as".
  absl::string_view codec_noun;           //!< "video" / "sound", in "its ... codec".
  absl::string_view missing;              //!< The message when the file has no such stream.
  absl::string_view hint;                 //!< What a user whose file cannot be read may do.
};

//! The first stream of a kind in a file, demuxed and decoded one frame at a time.
class StreamDecoder {
 public:
  //! What Next found.
  enum class Step {
    kFrame,          //!< A frame.
    kEnd,            //!< The stream ended (no more frames).
    kDemuxerFailed,  //!< Reading the file failed; error() says why.
    kDecoderFailed,  //!< Decoding a packet failed; error() says why. Next may go on.
  };

  //! Opens `path`'s first stream of `choice.type` and its decoder (one thread: callers
  //! decode files in parallel), or says why it cannot: unreadable, truncated (the
  //! file ends inside its header), undecodable, or unsupported (no such stream).
  std::optional<MediaFileError> Open(const std::string& path, const std::string& shown_path,
                                     const StreamChoice& choice);
  //! Decodes the next frame into `frame`.
  Step Next(AVFrame* frame);

  //! The FFmpeg error code of the last failed step.
  int error() const { return error_; }
  const AVStream& stream() const { return *stream_; }
  const AVFormatContext& format() const { return *format_; }

 private:
  struct FormatCloser {
    void operator()(AVFormatContext* context) const { avformat_close_input(&context); }
  };
  struct CodecFreer {
    void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
  };
  struct PacketFreer {
    void operator()(AVPacket* packet) const { av_packet_free(&packet); }
  };

  std::unique_ptr<AVFormatContext, FormatCloser> format_;
  std::unique_ptr<AVCodecContext, CodecFreer> codec_;
  std::unique_ptr<AVPacket, PacketFreer> packet_;
  AVStream* stream_ = nullptr;  // owned by format_
  bool draining_ = false;       // the file has ended; the decoder gives its last frames
  int error_ = 0;
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_FFMPEG_STREAM_H_
