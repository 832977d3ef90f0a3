// Turns a manifest of recordings into client shards (`equifl data import-media`).
//
// The manifest is a CSV file with one row per sample and these columns (header
// names as written; the order is free):
//   id        required: the sample's name, unique
//   label     required: its class
//   group     required: its sensitive group
//   language  optional: its language code (without it every sample is "und")
//   client    optional: which client holds it (one shard per value); without it
//             rows go to clients by --clients / --dirichlet-alpha, as in `data import`
//   split     optional: train, validation or test; without it each client's rows
//             are split by the fractions
//   video     a path to a video file FFmpeg reads (MP4, WebM, MKV, AVI, ...),
//             relative to the manifest's folder; empty: no video (the model masks it)
//   audio     a path to a WAV, FLAC, OGG or AIFF file, or any file whose sound FFmpeg
//             reads (MP4, M4A, MP3, WebM, ...: the video file itself may serve),
//             relative like video; empty: the sample has no audio
//   text      the sample's text (a transcript), inline; empty: no text
//   text_file a path to a UTF-8 text file instead, relative like audio
// Video becomes the image modality "video": RGB frames sampled, resized and cropped
// by the front end of video_file.h, uint8 [T, size, size, 3] per sample, padded to
// the frames of its max_seconds. Audio becomes the sequence modality "audio": log-mel
// energies from the front end of log_mel.h, [T, bands] per sample (float16 unless
// audio_precision says float32), padded to the frames of max_audio_seconds, so every
// client's shards have the same shapes. Text
// becomes the token modality "text": byte-level tokens (byte_tokens.h), padded to
// max_bytes + 2, or with a SentencePiece model the deployment provides, its pieces
// (sentencepiece_tokens.h), padded to max_pieces plus its begin and end. The
// manifest records every front end. At least one of video, audio,
// text and text_file must be there.
//
// A bad row (a missing value, a repeated id, a label outside the given list, a
// file that is missing, unreadable, empty, truncated or undecodable, a sample rate
// outside 8..384 kHz, a video file without a video stream, a text file that is not
// UTF-8, a row without any modality) is
// an error naming the manifest line, the id and the file
// (a manifest that is not UTF-8 is refused whole, naming the line);
// with skip_bad it is left out and counted per reason. Decoding runs on `threads`
// threads. The shards are written all at once at the end (import_split.h), so a
// failed import leaves nothing behind. No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_MEDIA_IMPORT_H_
#define EQUIFL_CLIENT_MEDIA_MEDIA_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/data/import_split.h"
#include "client/data/shard.h"
#include "client/media/byte_tokens.h"
#include "client/media/log_mel.h"
#include "client/media/sentencepiece_tokens.h"
#include "client/media/video_file.h"

namespace equifl::client {

//! The modality names video, audio and text are stored under.
inline constexpr char kVideoModality[] = "video";
inline constexpr char kAudioModality[] = "audio";
inline constexpr char kTextModality[] = "text";

//! How a media manifest becomes shards.
struct MediaImportOptions {
  //! Allowed labels in index order; empty: the values found, sorted. A value
  //! outside a given list makes its row bad.
  std::vector<std::string> label_values;
  std::vector<std::string> group_values;     //!< Like label_values.
  std::vector<std::string> language_values;  //!< Like label_values.
  std::string group_attribute = "group";     //!< What the groups are, e.g. "gender".
  //! Rows to clients and splits; clients 0: one per value of the client column, or 1.
  RowSplitOptions split;
  VideoFrontEndOptions video;  //!< The video front end, max_seconds included.
  LogMelOptions audio;         //!< The audio front end.
  ByteTokenOptions text;       //!< How text becomes byte tokens.
  //! A SentencePiece model to tokenise text with instead of bytes (model_path set).
  SentencePieceOptions sentencepiece;
  double max_audio_seconds = 8;  //!< Longer recordings keep their start; 0.1..600.
  //! How log-mel energies are stored: float16 (half the bytes; its rounding, at most
  //! 2^-11 of a value, is far below the differences a model reads) or float32.
  FeaturePrecision audio_precision = FeaturePrecision::kFloat16;
  bool skip_bad = false;  //!< Leave bad rows out (counted) instead of failing.
  int threads = 0;        //!< Decoding threads; 0: every core.
  //! Told how far the import has come (kRead, kParse, kCheck: rows decoded, kBuild,
  //! kWrite); empty: nothing is told.
  ImportProgress progress;

  //! OK, or which option is wrong and what is allowed.
  absl::Status Validate() const;
  //! The frames every audio sample is padded to.
  int64_t AudioFrames() const;
};

//! Rows left out for one reason.
struct SkippedRows {
  std::string reason;   //!< E.g. "audio missing", "unknown label".
  int64_t count = 0;    //!< Rows left out for it.
  std::string example;  //!< The first such row's message.
};

//! What an import did, for the user.
struct MediaImportSummary {
  int64_t rows_read = 0;             //!< Data rows in the manifest.
  int64_t rows_imported = 0;         //!< Rows in the shards.
  std::vector<SkippedRows> skipped;  //!< Per reason, in order of first appearance.
  int64_t video_files = 0;           //!< Videos decoded into the shards.
  double video_seconds = 0;          //!< Their duration, as kept.
  int64_t video_frames = 0;          //!< Frames sampled from them.
  int64_t video_clipped = 0;         //!< Longer than the video front end's max_seconds.
  int64_t audio_files = 0;           //!< Recordings decoded into the shards.
  double audio_seconds = 0;          //!< Their duration, as kept.
  int64_t audio_clipped = 0;         //!< Longer than max_audio_seconds.
  int64_t texts = 0;                 //!< Texts tokenised into the shards.
  int64_t text_clipped = 0;          //!< Longer than max_bytes (max_pieces).
  //! The shards' modalities, those the manifest has columns for: video (frames,
  //! side, front end), audio (frames, bands, front end), then text (tokens,
  //! vocabulary, front end).
  std::vector<ShardModality> modalities;
  std::vector<std::string> labels;         //!< Label names, in index order.
  std::vector<std::string> groups;         //!< Group names.
  std::vector<std::string> languages;      //!< Language names.
  std::vector<std::string> client_names;   //!< E.g. "client=hospital-a".
  std::vector<SplitCounts> client_counts;  //!< Rows per split of each client.
  std::vector<std::string> shard_dirs;     //!< Written folders.
};

//! Shards built in memory, with the summary.
struct MediaImport {
  MediaImportSummary summary;     //!< What happened (no shard_dirs yet).
  std::vector<ShardData> shards;  //!< One per client.
};

//! Builds shards from a manifest's `text`; `source` names it in messages and the
//! paths it holds are relative to `base_dir` (empty: the working folder).
absl::StatusOr<MediaImport> BuildShardsFromMedia(absl::string_view text, absl::string_view source,
                                                 const std::string& base_dir,
                                                 const MediaImportOptions& options);

//! Reads the manifest at `manifest_path` and the files it names, and writes
//! `out_dir`/client-000, ...; `out_dir` must not exist or be empty.
absl::StatusOr<MediaImportSummary> ImportMedia(const std::string& manifest_path,
                                               const std::string& out_dir,
                                               const MediaImportOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_MEDIA_IMPORT_H_
