#include "client/media/media_import.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/parallel_for.h"
#include "base/quoted_input.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "base/utf8.h"
#include "client/data/csv_import.h"
#include "client/media/audio_file.h"
#include "client/media/media_file.h"
#include "protocol/file_io.h"
#include "protocol/half_precision.h"

namespace equifl::client {
namespace {

constexpr char kIdColumn[] = "id";
constexpr char kLabelColumn[] = "label";
constexpr char kGroupColumn[] = "group";
constexpr char kLanguageColumn[] = "language";
constexpr char kClientColumn[] = "client";
constexpr char kSplitColumn[] = "split";
constexpr char kVideoColumn[] = "video";
constexpr char kAudioColumn[] = "audio";
constexpr char kTextColumn[] = "text";
constexpr char kTextFileColumn[] = "text_file";
// A transcript is text a person says or writes; a larger file is something else.
constexpr uintmax_t kMaxTextFileBytes = uintmax_t{16} << 20;

// The manifest's columns, as indices into its header (nullopt: absent).
struct ManifestColumns {
  size_t id = 0;
  size_t label = 0;
  size_t group = 0;
  std::optional<size_t> language;
  std::optional<size_t> client;
  std::optional<size_t> split;
  std::optional<size_t> video;
  std::optional<size_t> audio;
  std::optional<size_t> text;
  std::optional<size_t> text_file;

  bool HasText() const { return text.has_value() || text_file.has_value(); }
};

absl::StatusOr<ManifestColumns> FindColumns(const CsvTable& table, absl::string_view source) {
  std::map<std::string, size_t> index;
  for (size_t column = 0; column < table.header.size(); ++column) {
    index[table.header[column]] = column;
  }
  auto find = [&](const char* name) -> std::optional<size_t> {
    const auto found = index.find(name);
    if (found == index.end()) return std::nullopt;
    return found->second;
  };
  for (const char* required : {kIdColumn, kLabelColumn, kGroupColumn}) {
    if (!find(required)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, " has no '", required, "' column; its header is ", QuoteInputs(table.header),
          "; a media manifest has the columns id, label, group (required), language, client, "
          "split, video, audio, text, text_file (optional)"));
    }
  }
  ManifestColumns columns;
  columns.id = *find(kIdColumn);
  columns.label = *find(kLabelColumn);
  columns.group = *find(kGroupColumn);
  columns.language = find(kLanguageColumn);
  columns.client = find(kClientColumn);
  columns.split = find(kSplitColumn);
  columns.video = find(kVideoColumn);
  columns.audio = find(kAudioColumn);
  columns.text = find(kTextColumn);
  columns.text_file = find(kTextFileColumn);
  if (!columns.video && !columns.audio && !columns.HasText()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " has no 'video', 'audio', 'text' or 'text_file' column; give each sample's ",
        "clip in a column named video, its recording in audio or its text in text"));
  }
  return columns;
}

// A row's problem: the reason it is counted under and the message.
struct RowProblem {
  std::string reason;
  std::string message;
};

// One row on its way into a shard.
struct MediaRow {
  std::string where;  // "manifest.csv line 5 (id 'x')"
  int64_t label = 0;
  int64_t group = 0;
  int64_t language = 0;
  std::string client;  // the client column's value
  std::optional<Split> split;
  std::string video_path;   // resolved; empty: no video
  std::string video_shown;  // as the manifest writes it
  std::string audio_path;   // resolved; empty: no audio
  std::string audio_shown;  // as the manifest writes it
  std::string text;         // inline
  std::string text_path;    // resolved; empty: none
  std::string text_shown;
  std::vector<uint8_t> video;  // [frames, size, size, 3]
  int64_t video_frames = 0;
  double video_seconds = 0;
  bool video_clipped = false;
  std::vector<float> audio;  // [frames, bands]
  int64_t audio_frames = 0;
  double audio_seconds = 0;
  bool audio_clipped = false;
  std::vector<int32_t> tokens;
  bool text_clipped = false;
  std::optional<RowProblem> problem;

  void Problem(std::string reason, absl::string_view what) {
    if (!problem) problem = RowProblem{std::move(reason), absl::StrCat(where, ": ", what)};
  }
};

// Names of labels, groups or languages: given (a value outside is a row problem) or
// found (in order of appearance, sorted at the end).
struct Names {
  std::vector<std::string> names;
  bool given = false;

  std::optional<int64_t> IndexOf(const std::string& value) {
    const auto found = std::find(names.begin(), names.end(), value);
    if (found != names.end()) return found - names.begin();
    if (given) return std::nullopt;
    names.push_back(value);
    return static_cast<int64_t>(names.size()) - 1;
  }

  // Sorts names found; returns each old index's new one.
  std::vector<int64_t> Sort() {
    std::vector<int64_t> order(names.size());
    for (size_t index = 0; index < names.size(); ++index)
      order[index] = static_cast<int64_t>(index);
    if (given) return order;
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    for (size_t index = 0; index < names.size(); ++index) {
      order[index] = std::find(sorted.begin(), sorted.end(), names[index]) - sorted.begin();
    }
    names = std::move(sorted);
    return order;
  }
};

std::string Resolve(const std::filesystem::path& base, const std::string& cell) {
  const std::filesystem::path path(cell);
  return (path.is_absolute() ? path : base / path).string();
}

// The rows with their cells checked; no file is opened yet.
std::vector<MediaRow> ReadRows(const CsvTable& table, const ManifestColumns& columns,
                               absl::string_view source, const std::filesystem::path& base,
                               Names& labels, Names& groups, Names& languages) {
  std::vector<MediaRow> rows(table.rows.size());
  std::set<std::string> ids;
  for (size_t index = 0; index < table.rows.size(); ++index) {
    const std::vector<std::string>& cells = table.rows[index];
    MediaRow& row = rows[index];
    const std::string& id = cells[columns.id];
    row.where =
        absl::StrCat(source, " line ", table.lines[index],
                     id.empty() ? std::string() : absl::StrCat(" (id ", QuoteInput(id), ")"));
    for (const auto& [column, name] :
         {std::pair{columns.id, kIdColumn}, std::pair{columns.label, kLabelColumn},
          std::pair{columns.group, kGroupColumn}}) {
      if (cells[column].empty())
        row.Problem("missing value", absl::StrCat("the ", name, " is empty"));
    }
    if (!id.empty() && !ids.insert(id).second) {
      row.Problem("repeated id",
                  "the id appears on an earlier row too; every sample needs its own");
    }
    if (row.problem) continue;

    const std::string& language = columns.language && !cells[*columns.language].empty()
                                      ? cells[*columns.language]
                                      : kUndeterminedLanguage;
    const struct {
      const std::string& value;
      Names& names;
      int64_t& index;
      const char* what;
      const char* flag;
    } categoricals[] = {{cells[columns.label], labels, row.label, "label", "--labels"},
                        {cells[columns.group], groups, row.group, "group", "--groups"},
                        {language, languages, row.language, "language", "--languages"}};
    for (const auto& categorical : categoricals) {
      const std::optional<int64_t> found = categorical.names.IndexOf(categorical.value);
      if (!found) {
        row.Problem(absl::StrCat("unknown ", categorical.what),
                    absl::StrCat("the ", categorical.what, " ", QuoteInput(categorical.value),
                                 " is not one of ", categorical.flag, " (",
                                 QuoteInputs(categorical.names.names), ")"));
        break;
      }
      categorical.index = *found;
    }
    if (columns.client) row.client = cells[*columns.client];
    if (columns.split) {
      absl::StatusOr<Split> split = ParseEnum<Split>("split", cells[*columns.split]);
      if (split.ok()) {
        row.split = *split;
      } else {
        row.Problem("bad split", absl::StrCat("the split ", QuoteInput(cells[*columns.split]),
                                              " is not train, validation or test"));
      }
    }
    if (columns.video && !cells[*columns.video].empty()) {
      row.video_shown = cells[*columns.video];
      row.video_path = Resolve(base, row.video_shown);
    }
    if (columns.audio && !cells[*columns.audio].empty()) {
      row.audio_shown = cells[*columns.audio];
      row.audio_path = Resolve(base, row.audio_shown);
    }
    if (columns.text) row.text = cells[*columns.text];
    if (columns.text_file && !cells[*columns.text_file].empty()) {
      if (!row.text.empty()) {
        row.Problem("two texts", "the row has both text and text_file; give one");
      }
      row.text_shown = cells[*columns.text_file];
      row.text_path = Resolve(base, row.text_shown);
    }
    if (row.video_path.empty() && row.audio_path.empty() && row.text.empty() &&
        row.text_path.empty()) {
      row.Problem("no media", "the row names no video, no recording and no text");
    }
  }
  return rows;
}

// The text of `path`, or why there is none ("text missing", ...).
std::optional<RowProblem> ReadText(const std::string& path, const std::string& shown,
                                   std::string& text) {
  auto problem = [&shown](const char* reason, absl::string_view what) {
    return RowProblem{reason, absl::StrCat("text file ", shown, ": ", what)};
  };
  // Missing, not a regular file, unreadable or empty, as for a recording.
  if (std::optional<MediaFileError> file = CheckMediaFile(path, shown)) {
    return RowProblem{absl::StrCat("text ", NameOf(file->problem)),
                      absl::StrCat("text file ", file->message)};
  }
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error || size > kMaxTextFileBytes) {
    return problem("text unreadable", absl::StrCat("larger than ", kMaxTextFileBytes >> 20,
                                                   " MiB; a transcript is much shorter"));
  }
  absl::StatusOr<std::string> bytes = protocol::ReadRegularFile(path, kMaxTextFileBytes);
  if (!bytes.ok()) {
    return problem("text unreadable",
                   absl::StrCat("cannot be read (", bytes.status().message(), ")"));
  }
  text = *std::move(bytes);
  if (text.empty()) return problem("text empty", "the file is empty (0 bytes)");
  if (const std::optional<size_t> at = FindInvalidUtf8(text)) {
    return problem("text not UTF-8",
                   absl::StrCat("byte ", *at + 1, " is not UTF-8; save the file as UTF-8, e.g. ",
                                "with iconv -f latin1 -t utf-8"));
  }
  return std::nullopt;
}

// Decodes every row's recording and reads its text file, on `threads` threads;
// the calling thread reports progress. Without skip_bad, rows after a failure are
// left alone.
// Decodes every row's files; texts become byte tokens unless `byte_tokens` is
// false, when they stay for the SentencePiece encoder (TokenizePieces).
void DecodeRows(std::vector<MediaRow>& rows, const MediaImportOptions& options, bool byte_tokens) {
  std::vector<size_t> work;
  for (size_t index = 0; index < rows.size(); ++index) {
    if (!rows[index].problem) work.push_back(index);
  }
  const int64_t max_frames = options.AudioFrames();
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  StageProgress decoding(options.progress, ImportStage::kCheck, work.size(), /*every=*/1);
  const size_t workers = ParallelWorkers(work.size(), options.threads);
  std::vector<std::unique_ptr<LogMelFrontEnd>> front_ends;
  for (size_t worker = 0; worker < workers; ++worker) {
    front_ends.push_back(std::make_unique<LogMelFrontEnd>(options.audio));
  }
  ParallelFor(work.size(), static_cast<int>(workers), [&](size_t worker, size_t index) {
    MediaRow& row = rows[work[index]];
    if (!failed.load(std::memory_order_relaxed)) {
      if (!row.video_path.empty()) {
        VideoFileResult file = ReadVideoFile(row.video_path, row.video_shown, options.video);
        if (file.error) {
          row.Problem(absl::StrCat("video ", NameOf(file.error->problem)),
                      absl::StrCat("video ", file.error->message));
        } else {
          row.video = std::move(file.clip.frames);
          row.video_frames = file.clip.frame_count;
          row.video_seconds = file.clip.seconds;
          row.video_clipped = file.clip.clipped;
        }
      }
      if (!row.audio_path.empty() && !row.problem) {
        const AudioFileResult file = ReadAudioFile(
            row.audio_path, row.audio_shown, options.audio.sample_rate, options.max_audio_seconds);
        if (file.error) {
          row.Problem(absl::StrCat("audio ", NameOf(file.error->problem)),
                      absl::StrCat("audio ", file.error->message));
        } else {
          row.audio = front_ends[worker]->Compute(file.signal.samples, max_frames);
          row.audio_frames = static_cast<int64_t>(row.audio.size()) / options.audio.bands;
          row.audio_seconds = file.signal.seconds;
          row.audio_clipped = file.signal.clipped;
        }
      }
      if (!row.text_path.empty() && !row.problem) {
        if (std::optional<RowProblem> problem = ReadText(row.text_path, row.text_shown, row.text)) {
          row.Problem(problem->reason, problem->message);
        }
      }
      if (byte_tokens && !row.text.empty() && !row.problem) {
        TextTokens tokens = TokenizeBytes(row.text, options.text);
        row.tokens = std::move(tokens.ids);
        row.text_clipped = tokens.clipped;
        std::string().swap(row.text);
      }
      if (row.problem && !options.skip_bad) failed = true;
    }
    ++done;
    if (worker == 0) decoding.Update(done);
  });
  decoding.Update(done);
  decoding.Finish();
}

// The texts of the rows without a problem as `pieces`' tokens, in one run of its
// encoder.
absl::Status TokenizePieces(std::vector<MediaRow>& rows, const SentencePieceTokenizer& pieces) {
  std::vector<MediaRow*> with_text;
  std::vector<std::string> texts;
  for (MediaRow& row : rows) {
    if (row.problem || row.text.empty()) continue;
    with_text.push_back(&row);
    texts.push_back(std::move(row.text));
    std::string().swap(row.text);
  }
  EQUIFL_ASSIGN_OR_RETURN(std::vector<TextTokens> tokens, pieces.Tokenize(texts));
  for (size_t index = 0; index < with_text.size(); ++index) {
    with_text[index]->tokens = std::move(tokens[index].ids);
    with_text[index]->text_clipped = tokens[index].clipped;
  }
  return absl::OkStatus();
}

std::optional<RowProblem> FirstProblem(const std::vector<MediaRow>& rows) {
  for (const MediaRow& row : rows) {
    if (row.problem) return row.problem;
  }
  return std::nullopt;
}

// Appends a sample's `values` to its modality's `column`, then `pad` up to the
// `padded` values every sample of the modality has.
template <typename T>
void AppendPadded(std::vector<T>& column, const std::vector<T>& values, size_t padded, T pad) {
  column.insert(column.end(), values.begin(), values.end());
  column.resize(column.size() + padded - values.size(), pad);
}

absl::Status Fail(const RowProblem& problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(problem.message, "; fix the row, or pass --skip-bad to import the rest"));
}

}  // namespace

absl::Status MediaImportOptions::Validate() const {
  for (const auto& [names, flag] :
       {std::pair{&label_values, "--labels"}, std::pair{&group_values, "--groups"},
        std::pair{&language_values, "--languages"}}) {
    EQUIFL_RETURN_IF_ERROR(CheckGivenNames(*names, flag));
    // Refused here, before any file is decoded: a manifest's cells are UTF-8, so
    // such a name would match no row.
    for (const std::string& name : *names) {
      if (FindInvalidUtf8(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " lists ", QuoteInput(name), ", which is not UTF-8"));
      }
    }
  }
  if (group_attribute.empty() || FindInvalidUtf8(group_attribute)) {
    return absl::InvalidArgumentError(
        "the group attribute needs a UTF-8 name, e.g. --group-attribute gender");
  }
  if (!(max_audio_seconds >= 0.1 && max_audio_seconds <= 600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-audio-seconds is ", max_audio_seconds,
                     "; it must be in 0.1..600 (longer recordings keep their first seconds)"));
  }
  if (threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads is ", threads, "; it must be 0 (every core) or more"));
  }
  EQUIFL_RETURN_IF_ERROR(video.Validate());
  EQUIFL_RETURN_IF_ERROR(audio.Validate());
  EQUIFL_RETURN_IF_ERROR(text.Validate());
  EQUIFL_RETURN_IF_ERROR(sentencepiece.Validate());
  return split.Validate();
}

int64_t MediaImportOptions::AudioFrames() const {
  return audio.FrameCount(static_cast<int64_t>(std::ceil(max_audio_seconds * audio.sample_rate)));
}

absl::StatusOr<MediaImport> BuildShardsFromMedia(absl::string_view text, absl::string_view source,
                                                 const std::string& base_dir,
                                                 const MediaImportOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  // A model that cannot be loaded ends the import before the manifest is read.
  std::optional<SentencePieceTokenizer> pieces;
  if (!options.sentencepiece.model_path.empty()) {
    EQUIFL_ASSIGN_OR_RETURN(pieces, SentencePieceTokenizer::Load(options.sentencepiece));
  }
  EQUIFL_ASSIGN_OR_RETURN(const CsvTable table, ParseCsv(text, source, options.progress));
  EQUIFL_ASSIGN_OR_RETURN(const ManifestColumns columns, FindColumns(table, source));
  if (table.rows.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " has a header but no rows"));
  }

  MediaImportSummary summary;
  summary.rows_read = static_cast<int64_t>(table.rows.size());
  Names labels{options.label_values, !options.label_values.empty()};
  Names groups{options.group_values, !options.group_values.empty()};
  Names languages{options.language_values, !options.language_values.empty()};
  std::vector<MediaRow> rows =
      ReadRows(table, columns, source, std::filesystem::path(base_dir), labels, groups, languages);
  // Without --skip-bad the first bad row ends the import before anything is decoded.
  if (std::optional<RowProblem> problem = FirstProblem(rows); problem && !options.skip_bad) {
    return Fail(*problem);
  }
  DecodeRows(rows, options, /*byte_tokens=*/!pieces);
  if (std::optional<RowProblem> problem = FirstProblem(rows); problem && !options.skip_bad) {
    return Fail(*problem);
  }
  if (pieces) EQUIFL_RETURN_IF_ERROR(TokenizePieces(rows, *pieces));

  // Count what is left out, per reason.
  std::vector<MediaRow*> kept;
  for (MediaRow& row : rows) {
    if (!row.problem) {
      kept.push_back(&row);
      continue;
    }
    auto found = std::find_if(
        summary.skipped.begin(), summary.skipped.end(),
        [&](const SkippedRows& skipped) { return skipped.reason == row.problem->reason; });
    if (found == summary.skipped.end()) {
      summary.skipped.push_back({row.problem->reason, 0, row.problem->message});
      found = summary.skipped.end() - 1;
    }
    ++found->count;
  }
  if (kept.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no row of ", source, " could be imported; the first: ", summary.skipped[0].example));
  }
  summary.rows_imported = static_cast<int64_t>(kept.size());

  // Names found are sorted, and the rows' indices follow them.
  const std::vector<int64_t> label_order = labels.Sort();
  const std::vector<int64_t> group_order = groups.Sort();
  const std::vector<int64_t> language_order = languages.Sort();
  summary.labels = labels.names;
  summary.groups = groups.names;
  summary.languages = languages.names;

  // The modalities: video, audio, then text, as the manifest has columns for them.
  std::optional<size_t> video_index;
  std::optional<size_t> audio_index;
  std::optional<size_t> text_index;
  if (columns.video) {
    video_index = summary.modalities.size();
    summary.modalities.push_back({.name = kVideoModality,
                                  .kind = ModalityKind::kImages,
                                  .frames = options.video.FrameCount(),
                                  .dim = options.video.size,
                                  .front_end = options.video.Describe()});
  }
  if (columns.audio) {
    audio_index = summary.modalities.size();
    summary.modalities.push_back({.name = kAudioModality,
                                  .kind = ModalityKind::kSequence,
                                  .frames = options.AudioFrames(),
                                  .dim = options.audio.bands,
                                  .front_end = options.audio.Describe(),
                                  .precision = options.audio_precision});
  }
  if (columns.HasText()) {
    text_index = summary.modalities.size();
    summary.modalities.push_back(
        {.name = kTextModality,
         .kind = ModalityKind::kTokens,
         .frames = pieces ? pieces->MaxTokens() : options.text.MaxTokens(),
         .dim = pieces ? pieces->Vocabulary() : kByteVocabulary,
         .front_end = pieces ? pieces->Describe() : options.text.Describe()});
  }
  for (const MediaRow* row : kept) {
    if (row->video_frames > 0) {
      ++summary.video_files;
      summary.video_seconds += row->video_seconds;
      summary.video_frames += row->video_frames;
      if (row->video_clipped) ++summary.video_clipped;
    }
    if (row->audio_frames > 0) {
      ++summary.audio_files;
      summary.audio_seconds += row->audio_seconds;
      if (row->audio_clipped) ++summary.audio_clipped;
    }
    if (!row->tokens.empty()) {
      ++summary.texts;
      if (row->text_clipped) ++summary.text_clipped;
    }
  }

  // Rows to clients: by the client column, or drawn as `data import` does.
  std::vector<std::vector<size_t>> client_rows;  // positions in `kept`
  if (columns.client) {
    std::map<std::string, std::vector<size_t>> by_client;
    for (size_t position = 0; position < kept.size(); ++position) {
      by_client[kept[position]->client].push_back(position);
    }
    if (options.split.clients != 0 && options.split.clients != static_cast<int>(by_client.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--clients is ", options.split.clients, " but the client column names ", by_client.size(),
          " clients; leave --clients out to get one shard per client"));
    }
    for (auto& [name, positions] : by_client) {
      summary.client_names.push_back(absl::StrCat("client=", name.empty() ? "(empty)" : name));
      client_rows.push_back(std::move(positions));
    }
  } else {
    std::vector<int64_t> kept_labels;
    for (const MediaRow* row : kept) {
      kept_labels.push_back(label_order[static_cast<size_t>(row->label)]);
    }
    random::Engine engine = random::MakeEngine(options.split.seed, 0);
    EQUIFL_ASSIGN_OR_RETURN(RowPartition partition,
                            PartitionRows(kept_labels, labels.names.size(),
                                          {.clients = std::max(1, options.split.clients),
                                           .dirichlet_alpha = options.split.dirichlet_alpha},
                                          engine));
    summary.client_names = std::move(partition.client_names);
    client_rows = std::move(partition.client_rows);
  }

  random::Engine split_engine = random::MakeEngine(options.split.seed, 1);
  const size_t modality_count = summary.modalities.size();
  std::vector<ShardData> shards;
  StageProgress building(options.progress, ImportStage::kBuild, kept.size());
  uint64_t built = 0;
  for (std::vector<size_t>& positions : client_rows) {
    std::vector<Split> splits;
    if (columns.split) {
      std::sort(positions.begin(), positions.end());
      for (size_t position : positions) splits.push_back(*kept[position]->split);
    } else {
      splits = SplitClientRows(positions, options.split.train_fraction,
                               options.split.validation_fraction, split_engine);
    }
    ShardData data;
    data.manifest.modalities = summary.modalities;
    data.manifest.labels = summary.labels;
    data.manifest.group_attribute = options.group_attribute;
    data.manifest.groups = summary.groups;
    data.manifest.languages = summary.languages;
    data.features.resize(modality_count);
    data.tokens.resize(modality_count);
    data.images.resize(modality_count);
    data.halves.resize(modality_count);
    data.lengths.resize(modality_count);
    for (size_t index = 0; index < positions.size(); ++index) {
      MediaRow& row = *kept[positions[index]];
      if (video_index) {
        const auto padded = static_cast<size_t>(summary.modalities[*video_index].ValuesPerSample());
        AppendPadded(data.images[*video_index], row.video, padded, uint8_t{0});
        std::vector<uint8_t>().swap(row.video);  // the shard holds it now
        data.lengths[*video_index].push_back(row.video_frames);
      }
      if (audio_index) {
        const auto padded = static_cast<size_t>(summary.modalities[*audio_index].ValuesPerSample());
        if (summary.modalities[*audio_index].IsHalf()) {
          std::vector<uint16_t>& halves = data.halves[*audio_index];
          const size_t start = halves.size();
          halves.resize(start + padded, 0);  // 0 bits: +0.0
          protocol::FloatsToHalves(row.audio, halves.data() + start);
        } else {
          AppendPadded(data.features[*audio_index], row.audio, padded, 0.0f);
        }
        std::vector<float>().swap(row.audio);  // the shard holds it now
        data.lengths[*audio_index].push_back(row.audio_frames);
      }
      if (text_index) {
        const auto padded = static_cast<size_t>(summary.modalities[*text_index].frames);
        AppendPadded(data.tokens[*text_index], row.tokens, padded, kPaddingToken);
        data.lengths[*text_index].push_back(static_cast<int64_t>(row.tokens.size()));
      }
      for (size_t m = 0; m < modality_count; ++m) {
        data.present.push_back(data.lengths[m].back() > 0 ? 1 : 0);
      }
      data.label.push_back(label_order[static_cast<size_t>(row.label)]);
      data.group.push_back(group_order[static_cast<size_t>(row.group)]);
      data.language.push_back(language_order[static_cast<size_t>(row.language)]);
      data.split.push_back(static_cast<uint8_t>(splits[index]));
      building.Update(++built);
    }
    data.CountSamples();
    EQUIFL_RETURN_IF_ERROR(data.manifest.Validate());
    summary.client_counts.push_back(data.manifest.split_counts);
    shards.push_back(std::move(data));
  }
  building.Finish();
  return MediaImport{std::move(summary), std::move(shards)};
}

absl::StatusOr<MediaImportSummary> ImportMedia(const std::string& manifest_path,
                                               const std::string& out_dir,
                                               const MediaImportOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  EQUIFL_ASSIGN_OR_RETURN(std::vector<std::string> bytes,
                          ReadImportFiles({manifest_path}, options.progress));
  const std::filesystem::path path(manifest_path);
  absl::StatusOr<MediaImport> import = BuildShardsFromMedia(bytes[0], path.filename().string(),
                                                            path.parent_path().string(), options);
  std::string().swap(bytes[0]);
  if (!import.ok()) return import.status();
  EQUIFL_ASSIGN_OR_RETURN(import->summary.shard_dirs,
                          WriteClientShards(out_dir, import->shards, options.progress));
  return std::move(import->summary);
}

}  // namespace equifl::client
