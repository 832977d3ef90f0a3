#include "client/media/ffmpeg_stream.h"

#include <mutex>

#include "absl/strings/str_cat.h"

namespace equifl::client {
namespace {

// FFmpeg logs to stderr by default; a file's problems come through the result only.
void SilenceFfmpegLogging() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

// Whether an error opening a file says it ended early: MP4's demuxer gives the end of
// file inside its index, Matroska's an I/O error inside its header.
bool IsHeaderCutOff(int code) { return code == AVERROR_EOF || code == AVERROR(EIO); }

}  // namespace

std::string FfmpegErrorText(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

std::optional<MediaFileError> StreamDecoder::Open(const std::string& path,
                                                  const std::string& shown_path,
                                                  const StreamChoice& choice) {
  SilenceFfmpegLogging();
  auto failure = [&](MediaFileProblem problem, absl::string_view what) {
    return MediaFileError::Of(problem, shown_path, what);
  };
  // "file:" and the protocol whitelist keep a name such as "http://..." or
  // "concat:a|b", and a playlist inside the file, from reaching anything else.
  AVDictionary* open_options = nullptr;
  av_dict_set(&open_options, "protocol_whitelist", "file", 0);
  AVFormatContext* opened = nullptr;
  const int open_code =
      avformat_open_input(&opened, absl::StrCat("file:", path).c_str(), nullptr, &open_options);
  av_dict_free(&open_options);
  if (open_code < 0) {
    if (open_code == AVERROR(EACCES) || open_code == AVERROR(EPERM)) {
      return failure(MediaFileProblem::kUnreadable,
                     absl::StrCat("cannot be read: ", FfmpegErrorText(open_code)));
    }
    if (IsHeaderCutOff(open_code)) {
      return failure(MediaFileProblem::kTruncated,
                     absl::StrCat("the file ends inside its header (", FfmpegErrorText(open_code),
                                  "): a cut-off copy; copy or export it again"));
    }
    return failure(MediaFileProblem::kUndecodable,
                   absl::StrCat("cannot be opened as ", choice.noun, " (",
                                FfmpegErrorText(open_code), "); ", choice.hint));
  }
  format_.reset(opened);
  if (const int code = avformat_find_stream_info(format_.get(), nullptr); code < 0) {
    if (IsHeaderCutOff(code)) {
      return failure(
          MediaFileProblem::kTruncated,
          absl::StrCat("the file ends before its streams are described (", FfmpegErrorText(code),
                       "): a cut-off copy; copy or export it again"));
    }
    return failure(
        MediaFileProblem::kUndecodable,
        absl::StrCat("its streams cannot be read (", FfmpegErrorText(code), "); ", choice.hint));
  }
  for (unsigned index = 0; index < format_->nb_streams; ++index) {
    AVStream* stream = format_->streams[index];
    // Cover art (an attached picture) is not video.
    const bool wanted = stream->codecpar->codec_type == choice.type &&
                        (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0;
    if (wanted && stream_ == nullptr) {
      stream_ = stream;
    } else {
      stream->discard = AVDISCARD_ALL;
    }
  }
  if (stream_ == nullptr) return failure(MediaFileProblem::kUnsupported, choice.missing);
  const AVCodecParameters& parameters = *stream_->codecpar;
  const AVCodec* codec = avcodec_find_decoder(parameters.codec_id);
  if (codec == nullptr) {
    return failure(MediaFileProblem::kUndecodable,
                   absl::StrCat("FFmpeg has no decoder for its ", choice.codec_noun, " codec (",
                                avcodec_get_name(parameters.codec_id), "); ", choice.hint));
  }
  codec_.reset(avcodec_alloc_context3(codec));
  packet_.reset(av_packet_alloc());
  if (codec_ == nullptr || packet_ == nullptr) {
    return failure(MediaFileProblem::kUndecodable, "out of memory for its decoder");
  }
  int code = avcodec_parameters_to_context(codec_.get(), &parameters);
  if (code >= 0) {
    codec_->thread_count = 1;  // one file per thread: the caller decodes files in parallel
    codec_->pkt_timebase = stream_->time_base;
    code = avcodec_open2(codec_.get(), codec, nullptr);
  }
  if (code < 0) {
    return failure(
        MediaFileProblem::kUndecodable,
        absl::StrCat("its ", avcodec_get_name(parameters.codec_id), " decoder cannot start (",
                     FfmpegErrorText(code), "); ", choice.hint));
  }
  return std::nullopt;
}

StreamDecoder::Step StreamDecoder::Next(AVFrame* frame) {
  for (;;) {
    const int received = avcodec_receive_frame(codec_.get(), frame);
    if (received >= 0) return Step::kFrame;
    if (received == AVERROR_EOF) return Step::kEnd;
    if (received != AVERROR(EAGAIN)) {
      error_ = received;
      return Step::kDecoderFailed;
    }
    if (draining_) return Step::kEnd;
    const int read = av_read_frame(format_.get(), packet_.get());
    if (read == AVERROR_EOF) {
      avcodec_send_packet(codec_.get(), nullptr);  // drain the decoder's last frames
      draining_ = true;
      continue;
    }
    if (read < 0) {
      error_ = read;
      return Step::kDemuxerFailed;
    }
    if (packet_->stream_index != stream_->index) {
      av_packet_unref(packet_.get());
      continue;
    }
    const int sent = avcodec_send_packet(codec_.get(), packet_.get());
    av_packet_unref(packet_.get());
    if (sent < 0 && sent != AVERROR(EAGAIN)) {
      error_ = sent;
      return Step::kDecoderFailed;
    }
  }
}

}  // namespace equifl::client
