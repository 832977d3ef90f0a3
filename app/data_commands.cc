#include "app/data_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/command.h"
#include "base/progress_line.h"
#include "client/data/csv_import.h"
#include "client/data/npy_import.h"
#include "client/data/shard.h"
#include "protocol/tensor_view.h"
#include "sim/synthetic_data.h"

namespace equifl::app {
namespace {

// Errors a user fixes by changing the input exit 2; the rest 1.
int Fail(const char* command, const absl::Status& status) {
  std::fprintf(stderr, "equifl data %s: %s\n", command, std::string(status.message()).c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kPermissionDenied:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string Counts(const client::SplitCounts& counts) {
  return absl::StrCat(counts[0] + counts[1] + counts[2], " samples (train ", counts[0],
                      ", validation ", counts[1], ", test ", counts[2], ")");
}

// One line per shard: samples per split and per group.
absl::Status PrintShardLine(const std::string& dir) {
  absl::StatusOr<client::Shard> shard = client::Shard::Open(dir);
  if (!shard.ok()) return shard.status();
  const client::ShardManifest& manifest = shard->manifest();
  const client::ShardCounts counts = client::CountShard(manifest, shard->columns());
  std::vector<std::string> groups;
  for (size_t g = 0; g < manifest.groups.size(); ++g) {
    const client::SplitCounts& c = counts.per_group[g];
    groups.push_back(absl::StrCat(manifest.groups[g], " ", c[0] + c[1] + c[2]));
  }
  std::printf("  %s: %s; %s\n", dir.c_str(), Counts(manifest.split_counts).c_str(),
              absl::StrJoin(groups, ", ").c_str());
  return absl::OkStatus();
}

// The full picture of one shard for `inspect`.
absl::Status PrintShard(const std::string& dir, client::SplitCounts& total) {
  absl::StatusOr<client::Shard> shard = client::Shard::Open(dir);
  if (!shard.ok()) return shard.status();
  const client::ShardManifest& manifest = shard->manifest();
  const client::ShardCounts counts = client::CountShard(manifest, shard->columns());
  for (int split = 0; split < client::kSplitCount; ++split) {
    total[split] += manifest.split_counts[split];
  }
  std::printf("shard %s: %s\n", dir.c_str(), Counts(manifest.split_counts).c_str());
  std::printf("  %-10s %-9s %-16s %s\n", "modality", "kind", "shape", "present");
  for (size_t m = 0; m < manifest.modalities.size(); ++m) {
    const client::ShardModality& modality = manifest.modalities[m];
    const client::SplitCounts& present = counts.present[m];
    const int64_t here = present[0] + present[1] + present[2];
    std::printf("  %-10s %-9s %-16s %lld (%.1f%%)\n", modality.name.c_str(),
                std::string(NameOf(modality.kind)).c_str(),
                protocol::ShapeToString(modality.Shape(manifest.num_samples)).c_str(),
                static_cast<long long>(here),
                manifest.num_samples == 0 ? 0.0 : 100.0 * here / manifest.num_samples);
    if (!modality.front_end.empty()) {
      std::printf("  %-10s made by: %s\n", "", modality.front_end.c_str());
    }
    if (modality.IsHalf()) std::printf("  %-10s stored as float16\n", "");
  }
  struct Row {
    std::string name;
    client::SplitCounts counts;
  };
  std::vector<Row> rows;
  for (size_t g = 0; g < manifest.groups.size(); ++g) {
    rows.push_back({manifest.group_attribute + "=" + manifest.groups[g], counts.per_group[g]});
  }
  for (size_t l = 0; l < manifest.languages.size(); ++l) {
    rows.push_back({"language=" + manifest.languages[l], counts.per_language[l]});
  }
  for (size_t c = 0; c < manifest.labels.size(); ++c) {
    rows.push_back({"label=" + manifest.labels[c], counts.per_label[c]});
  }
  size_t width = 7;
  for (const Row& row : rows) width = std::max(width, row.name.size());
  std::printf("  %-*s %8s %11s %8s\n", static_cast<int>(width), "samples", "train", "validation",
              "test");
  for (const Row& row : rows) {
    std::printf("  %-*s %8lld %11lld %8lld\n", static_cast<int>(width), row.name.c_str(),
                static_cast<long long>(row.counts[0]), static_cast<long long>(row.counts[1]),
                static_cast<long long>(row.counts[2]));
  }
  return absl::OkStatus();
}

// An import's progress on stdout, one ProgressLine per stage the importer reports.
// On a terminal each line is redrawn while its stage runs and erased when it ends
// (the import's summary is what stays); in a log, only a stage that lasts 5 s or
// more prints lines (base/progress_line.h).
class ImportProgressLines {
 public:
  //! `files` names what is read and parsed; `check` what the check stage counts.
  ImportProgressLines(std::string files, std::string check)
      : files_(std::move(files)), check_(std::move(check)) {}

  //! The callback for the importer's options; valid while this object lives.
  client::ImportProgress Callback() {
    return [this](client::ImportStage stage, uint64_t done, uint64_t total) {
      if (line_ == nullptr || stage != stage_) {
        Finish();
        line_.reset();
        stage_ = stage;
        line_ = std::make_unique<ProgressLine>(ProgressLine::Options{
            .what = Label(stage),
            .total = total,
            .bytes = stage == client::ImportStage::kRead || stage == client::ImportStage::kParse,
            .transient = true});
      }
      line_->Update(done);
      if (total > 0 && done == total) line_->Finish();  // what follows is not this stage's
    };
  }

  //! Ends the current stage's line.
  void Finish() {
    if (line_ != nullptr) line_->Finish();
  }

 private:
  std::string Label(client::ImportStage stage) const {
    switch (stage) {
      case client::ImportStage::kRead:
        return "reading " + files_;
      case client::ImportStage::kParse:
        return "parsing " + files_;
      case client::ImportStage::kDetect:
        return "finding numeric columns";
      case client::ImportStage::kCheck:
        return check_;
      case client::ImportStage::kBuild:
        return "placing rows in shards";
      case client::ImportStage::kWrite:
        break;
    }
    return "writing shards";
  }

  const std::string files_;
  const std::string check_;
  client::ImportStage stage_ = client::ImportStage::kRead;
  std::unique_ptr<ProgressLine> line_;
};

std::string FileName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// The flags both importers take for the seed and each client's split; --clients
// and --dirichlet-alpha mean slightly different things to each, so they stay there.
void AddSplitFractionFlags(CLI::App& import, client::RowSplitOptions& split) {
  import.add_option("--seed", split.seed, "seed of the partition and split draws")
      ->capture_default_str();
  import.add_option("--train-fraction", split.train_fraction, "of each client's rows")
      ->capture_default_str();
  import
      .add_option("--validation-fraction", split.validation_fraction,
                  "of each client's rows; the rest is test")
      ->capture_default_str();
}

}  // namespace

CLI::App* AddDataSubcommand(CLI::App& app, DataCommand& f) {
  CLI::App* data = app.add_subcommand("data",
                                      "Make data shards (synth, import, import-npy, import-media) "
                                      "and inspect them. A shard is a folder with "
                                      "manifest.json and data.safetensors, one per client");
  data->require_subcommand(1);
  const auto chooses = [&f](DataCommand::Action action) {
    return [&f, action] { f.action = action; };
  };

  // --- synth ---
  sim::SyntheticDataOptions& s = f.synth_options;
  CLI::App* synth = data->add_subcommand(
      "synth",
      "Generate synthetic video/audio/text data with planted bias, one shard per client.\n"
      "The label is planted in each modality with a signal strength; --bias weakens or\n"
      "mislabels a modality for chosen (group, language) cells. By default video carries\n"
      "little signal (0.3) for 'female', so models trained on it show a gender gap.\n"
      "Deterministic from --seed.");
  synth->add_option("--out", f.synth_out, "output folder (must not exist or be empty)")->required();
  synth->add_option("--clients", s.clients, "number of client shards")->capture_default_str();
  synth->add_option("--samples-per-client", s.samples_per_client, "samples in each shard")
      ->capture_default_str();
  synth->add_option("--seed", s.seed, "random seed")->capture_default_str();
  synth->add_option("--labels", s.labels, "class names, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  synth->add_option("--group-attribute", s.group_attribute, "what the groups are")
      ->capture_default_str();
  synth->add_option("--groups", s.groups, "sensitive-group names, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  synth->add_option("--languages", s.languages, "language codes, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  synth->add_option("--frames", s.frames, "frames T of video and audio")->capture_default_str();
  synth->add_option("--video-dim", s.video_dim, "features per video frame")->capture_default_str();
  synth->add_option("--audio-dim", s.audio_dim, "features per audio frame")->capture_default_str();
  synth->add_option("--text-dim", s.text_dim, "features of the text vector")->capture_default_str();
  synth
      ->add_option("--signal", s.signal,
                   "label signal strength of every cell no --bias changes (1: two classes "
                   "about 2 noise std apart; 0: no signal)")
      ->capture_default_str();
  synth
      ->add_option("--label-noise", s.label_noise,
                   "probability that a modality shows a wrong label, where no --bias "
                   "changes it")
      ->capture_default_str();
  synth->add_option(
      "--bias", f.biases,
      "planted bias, repeatable, e.g. 'group=female,modality=video,signal=0.3' or "
      "'group=male,language=ja,modality=audio,label_noise=0.4'; keys group, language, "
      "modality (video, audio, text), signal, label_noise (gaps no model can close), "
      "own_means=1 (the cells show the label through class means of their own: a gap "
      "more weight on them can close); an omitted selector means every; replaces the "
      "default bias");
  synth->add_flag("--unbiased", f.unbiased, "plant no bias (drop the default)")->excludes("--bias");
  synth->add_option("--minority-group", s.minority_group,
                    "the minority group (default: the first group)");
  synth
      ->add_option("--minority-fraction", f.minority_fractions,
                   "fraction of each client's samples in the minority group, at most "
                   "1/groups (balanced, the default); one value, or one per client, "
                   "comma-separated")
      ->delimiter(',');
  synth
      ->add_option("--missing-rate", s.missing_rate,
                   "probability that a modality is missing from a sample")
      ->capture_default_str();
  synth
      ->add_option("--bayes-samples", f.bayes_samples,
                   "Monte Carlo draws per (language, group) for the Bayes-optimal loss and "
                   "accuracy printed at the end: the best any model can do, so the part of a "
                   "gap above the Bayes gap is what a fairness method can close (0: skip)")
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}))
      ->capture_default_str();
  synth->add_flag("--one-language-per-client", s.one_language_per_client,
                  "client k holds only language k mod |languages|");
  synth->add_option("--train-fraction", s.train_fraction, "of each client's samples")
      ->capture_default_str();
  synth
      ->add_option("--validation-fraction", s.validation_fraction,
                   "of each client's samples; the rest is test")
      ->capture_default_str();

  // --- import ---
  client::CsvImportOptions& c = f.csv_options;
  CLI::App* import = data->add_subcommand(
      "import",
      "Turn a CSV of precomputed features into shards. Name the label and group columns;\n"
      "every other numeric column becomes a feature of the 'tabular' modality (or list\n"
      "them with --features), and every text column whose values repeat (at most 20\n"
      "distinct) is one-hot encoded: one feature per value and one, '(other)', for values\n"
      "outside the list. Give the list with --categorical so that clients importing their\n"
      "own tables agree on it. Rows go to clients by a column (--split-by), a Dirichlet\n"
      "draw over labels (--dirichlet-alpha with --clients) or at random (--clients).\n"
      "Missing values (NA, empty) and unknown categories are errors naming the line and\n"
      "column, unless --drop-missing drops those rows (and reports how many).\n"
      "Example: equifl data import slid.csv --out shards --label wages\n"
      "         --label-threshold median --group sex --language language\n"
      "         --split-by language --drop-missing");
  import->add_option("csv", f.csv, "the CSV file (header row, comma-separated)")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--out", f.import_out, "output folder (must not exist or be empty)")
      ->required();
  import->add_option("--label", c.label_column, "the label column")->required();
  import->add_option("--group", c.group_column, "the sensitive-attribute column")->required();
  import->add_option("--language", c.language_column,
                     "the language column (default: every row is language 'und')");
  import
      ->add_option("--features", c.feature_columns,
                   "feature columns, comma-separated (default: every other numeric column)")
      ->delimiter(',');
  import
      ->add_option("--categorical", f.categorical,
                   "columns to one-hot encode, comma-separated, each COLUMN (its values found, "
                   "sorted) or COLUMN=value|value|... (its category list, part of the schema; "
                   "other values become COLUMN=(other)); numeric columns too")
      ->delimiter(',');
  import->add_option("--label-threshold", c.label_threshold,
                     "make a numeric label binary: 1 when above 'median' or a number");
  import
      ->add_option("--labels", c.label_values,
                   "the allowed labels in index order (default: the values found, sorted)")
      ->delimiter(',');
  import->add_option("--groups", c.group_values, "the allowed groups, like --labels")
      ->delimiter(',');
  import->add_option("--languages", c.language_values, "the allowed languages, like --labels")
      ->delimiter(',');
  import->add_option("--clients", c.split.clients,
                     "number of clients (default: one per --split-by value, or 1)");
  CLI::Option* split_by =
      import->add_option("--split-by", c.split_by, "a column: one client per value");
  import
      ->add_option("--dirichlet-alpha", c.split.dirichlet_alpha,
                   "split rows over --clients by Dirichlet(alpha) draws per label; small "
                   "alpha, skewed clients")
      ->excludes(split_by);
  AddSplitFractionFlags(*import, c.split);
  import->add_flag("--drop-missing", c.drop_missing,
                   "drop rows with a missing value or unknown category in a used column "
                   "(the count is reported)");

  // --- import-npy ---
  // A subcommand of its own rather than more `import` flags: the CSV import's flags
  // name columns (--label, --features, --split-by, --labels as allowed values), which
  // mean nothing for arrays, and --labels would mean a file here. Files are not
  // checked by CLI11, so a missing one is the library's message and exit 2.
  client::NpyImportOptions& n = f.npy_options;
  CLI::App* import_npy = data->add_subcommand(
      "import-npy",
      "Turn NumPy arrays (numpy.save .npy files) of precomputed features into shards.\n"
      "--features is float32/float64 [N, D] (the vector modality 'tabular') or [N, T, D]\n"
      "(a sequence modality 'sequence', every frame valid); --labels, --groups and\n"
      "--languages are integer (int64, int32, uint8 or bool) [N] arrays of indices into\n"
      "the names given (default 0, 1, ...). Rows go to clients by a Dirichlet draw over\n"
      "labels (--dirichlet-alpha with --clients) or at random (--clients).\n"
      "Example: equifl data import-npy --features emb.npy --labels y.npy --groups g.npy\n"
      "         --out shards --clients 4 --dirichlet-alpha 0.5\n"
      "         --label-names neg,pos --group-names female,male");
  import_npy
      ->add_option("--features", f.npy_paths.features, "features .npy: float [N, D] or [N, T, D]")
      ->required();
  import_npy->add_option("--labels", f.npy_paths.labels, "labels .npy: integer [N]")->required();
  import_npy->add_option("--groups", f.npy_paths.groups, "sensitive-group .npy: integer [N]")
      ->required();
  import_npy->add_option("--languages", f.npy_paths.languages,
                         "language .npy: integer [N] (default: every row is language 'und')");
  import_npy->add_option("--out", f.npy_out, "output folder (must not exist or be empty)")
      ->required();
  import_npy
      ->add_option("--label-names", n.label_names,
                   "names of labels 0, 1, ..., comma-separated (default: the numbers)")
      ->delimiter(',');
  import_npy->add_option("--group-names", n.group_names, "names of groups 0, 1, ...")
      ->delimiter(',');
  import_npy
      ->add_option("--language-names", n.language_names,
                   "names (codes) of languages 0, 1, ...; needs --languages")
      ->delimiter(',');
  import_npy->add_option("--group-attribute", n.group_attribute, "what the groups are")
      ->capture_default_str();
  import_npy->add_option("--modality", n.modality,
                         "modality name (default: 'tabular' for [N, D], 'sequence' for "
                         "[N, T, D])");
  import_npy->add_option("--clients", n.split.clients, "number of clients")->capture_default_str();
  import_npy->add_option("--dirichlet-alpha", n.split.dirichlet_alpha,
                         "split rows over --clients by Dirichlet(alpha) draws per label; small "
                         "alpha, skewed clients (default: at random)");
  AddSplitFractionFlags(*import_npy, n.split);

  // --- import-media ---
  client::MediaImportOptions& m = f.media_options;
  CLI::App* import_media = data->add_subcommand(
      "import-media",
      "Turn videos, recordings and texts into shards. The manifest is a CSV with one row\n"
      "per sample and the columns id, label, group (required), language, client, split,\n"
      "video, audio, text and text_file (optional). video is a file FFmpeg reads (MP4,\n"
      "WebM, MKV, ...) and audio a WAV, FLAC, OGG or AIFF file or any file with sound\n"
      "(the video file itself may serve), both relative to the manifest's folder; text is the "
      "sample's text inline, text_file a UTF-8 file holding\n"
      "it (an empty cell: the sample lacks that modality). Each video is sampled at\n"
      "--video-fps, its frames scaled so the shorter side is --video-size and cropped to\n"
      "the centre square: the image modality 'video' (uint8 RGB), padded to\n"
      "--max-video-seconds. Each recording is mixed to mono, resampled to 16 kHz and\n"
      "turned into 80 log-mel bands every 10 ms (25 ms windows), the sequence modality\n"
      "'audio', padded to --max-audio-seconds; each text becomes byte-level tokens (its\n"
      "UTF-8 bytes: any language, no vocabulary to share), or with --sentencepiece the\n"
      "pieces of a SentencePiece model the deployment provides, the token modality 'text'.\n"
      "Rows go to clients by the client column (one shard per value), or like `data\n"
      "import` (--clients, --dirichlet-alpha), and to splits by the split column or the\n"
      "fractions. A bad row (missing value, unknown label, missing, empty, truncated or\n"
      "undecodable file, a video without a video stream, text that is not UTF-8) is an\n"
      "error naming the line and the file, unless --skip-bad leaves it out and counts it.\n"
      "Example: equifl data import-media corpus/manifest.csv --out shards\n"
      "         --group-attribute gender --skip-bad");
  import_media->add_option("manifest", f.media_manifest, "the manifest CSV file")
      ->required()
      ->check(CLI::ExistingFile);
  import_media->add_option("--out", f.media_out, "output folder (must not exist or be empty)")
      ->required();
  import_media
      ->add_option("--labels", m.label_values,
                   "the allowed labels in index order, comma-separated (default: the values "
                   "found, sorted); give them so that every client's shards agree")
      ->delimiter(',');
  import_media->add_option("--groups", m.group_values, "the allowed groups, like --labels")
      ->delimiter(',');
  import_media->add_option("--languages", m.language_values, "the allowed languages, like --labels")
      ->delimiter(',');
  import_media->add_option("--group-attribute", m.group_attribute, "what the groups are")
      ->capture_default_str();
  import_media
      ->add_option("--max-audio-seconds", m.max_audio_seconds,
                   "every recording is padded to this length; longer ones keep their start")
      ->capture_default_str();
  import_media->add_option("--mel-bands", m.audio.bands, "log-mel bands")->capture_default_str();
  import_media
      ->add_option("--audio-precision", f.audio_precision,
                   "how log-mel energies are stored: float16 (half the bytes) or float32")
      ->check(CLI::IsMember(AllNames<client::FeaturePrecision>()))
      ->capture_default_str();
  import_media
      ->add_option("--video-fps", m.video.frames_per_second,
                   "frames sampled per second of video (the frame on screen at each instant)")
      ->capture_default_str();
  import_media
      ->add_option("--video-size", m.video.size,
                   "side in pixels of the square frames (shorter side scaled to it, centre kept)")
      ->capture_default_str();
  import_media
      ->add_option("--max-video-seconds", m.video.max_seconds,
                   "every video is padded to this length; longer ones keep their start")
      ->capture_default_str();
  import_media
      ->add_option("--max-text-bytes", m.text.max_bytes,
                   "every text is padded to this many UTF-8 bytes (plus begin and end tokens); "
                   "longer ones keep their start")
      ->capture_default_str();
  import_media
      ->add_option("--sentencepiece", m.sentencepiece.model_path,
                   "tokenise texts with this SentencePiece .model file instead of bytes; every "
                   "client must use the same file (trained on public text: a vocabulary trained "
                   "on the clients' texts would need them pooled)")
      ->check(CLI::ExistingFile);
  import_media
      ->add_option("--max-text-pieces", m.sentencepiece.max_pieces,
                   "with --sentencepiece, every text is padded to this many pieces (plus the "
                   "model's begin and end); longer ones keep their start")
      ->capture_default_str();
  import_media->add_flag("--skip-bad", m.skip_bad,
                         "leave bad rows out and count them per reason instead of stopping");
  import_media->add_option("--threads", m.threads, "decoding threads (0: every core)")
      ->capture_default_str();
  import_media->add_option("--clients", m.split.clients,
                           "number of clients (default: one per client-column value, or 1)");
  import_media->add_option("--dirichlet-alpha", m.split.dirichlet_alpha,
                           "split rows over --clients by Dirichlet(alpha) draws per label");
  AddSplitFractionFlags(*import_media, m.split);

  // --- inspect ---
  CLI::App* inspect = data->add_subcommand(
      "inspect",
      "Check shards and print what they hold: samples per split, group, language and "
      "label; modalities, shapes and how often each is present");
  inspect->add_option("dir", f.inspect_dir, "a shard folder, or a folder of shard folders")
      ->required();

  synth->callback(chooses(DataCommand::Action::kSynth));
  import->callback(chooses(DataCommand::Action::kImport));
  import_npy->callback(chooses(DataCommand::Action::kImportNpy));
  import_media->callback(chooses(DataCommand::Action::kImportMedia));
  inspect->callback(chooses(DataCommand::Action::kInspect));
  return data;
}

namespace {

// Per language: each group's Bayes-optimal loss and accuracy, and the loss gap
// between the groups (the part of a gap no model can close).
void PrintBayesOptimal(const std::vector<sim::BayesOptimalCell>& cells, int64_t samples) {
  std::printf(
      "Bayes-optimal, fusion view (the best any model can do; Monte Carlo, %lld samples per "
      "cell, ± one standard error):\n",
      static_cast<long long>(samples));
  const std::map<std::string, double> gaps = sim::BayesOptimalLossGaps(cells);
  for (size_t first = 0; first < cells.size();) {
    size_t last = first;
    std::string line = absl::StrCat("  ", cells[first].language, ":");
    for (; last < cells.size() && cells[last].language == cells[first].language; ++last) {
      const sim::BayesOptimalCell& cell = cells[last];
      absl::StrAppend(&line, last == first ? " " : "; ",
                      absl::StrFormat("%s loss %.3f ± %.3f, accuracy %.3f", cell.group, cell.loss,
                                      cell.loss_standard_error, cell.accuracy));
    }
    std::printf("%s; loss gap %.3f nats\n", line.c_str(), gaps.at(cells[first].language));
    first = last;
  }
}

int RunSynth(const DataCommand& command) {
  sim::SyntheticDataOptions synth_options = command.synth_options;
  if (command.unbiased) synth_options.biases.clear();
  if (!command.biases.empty()) {
    synth_options.biases.clear();
    for (const std::string& text : command.biases) {
      absl::StatusOr<sim::CellBias> bias = sim::ParseCellBias(text);
      if (!bias.ok()) return Fail("synth", bias.status());
      synth_options.biases.push_back(*bias);
    }
  }
  const std::vector<double>& minority_fractions = command.minority_fractions;
  if (minority_fractions.size() == 1) {
    synth_options.minority_fraction = minority_fractions[0];
  } else if (!minority_fractions.empty()) {
    synth_options.client_minority_fractions = minority_fractions;
  } else {
    synth_options.minority_fraction = 1.0 / std::max<size_t>(1, synth_options.groups.size());
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<std::string>> shards;
  {
    ProgressLine progress({.what = "writing synthetic shards",
                           .total = static_cast<uint64_t>(synth_options.clients),
                           .transient = true});
    shards = sim::WriteSyntheticShards(synth_options, command.synth_out,
                                       [&progress](int written, int) { progress.Update(written); });
    if (shards.ok()) progress.Finish();
  }
  if (!shards.ok()) return Fail("synth", shards.status());
  std::printf("wrote %zu synthetic shards to %s in %.2f s (seed %llu)\n", shards->size(),
              command.synth_out.c_str(), SecondsSince(start),
              static_cast<unsigned long long>(synth_options.seed));
  std::vector<std::string> planted;
  for (const sim::CellBias& bias : synth_options.biases)
    planted.push_back(sim::CellBiasToString(bias));
  std::printf("planted bias: %s (elsewhere signal %g, label noise %g)\n",
              planted.empty() ? "none" : absl::StrJoin(planted, "; ").c_str(), synth_options.signal,
              synth_options.label_noise);
  for (const std::string& dir : *shards) {
    if (absl::Status status = PrintShardLine(dir); !status.ok()) return Fail("synth", status);
  }
  if (command.bayes_samples > 0) {
    absl::StatusOr<std::vector<sim::BayesOptimalCell>> bayes;
    {
      ProgressLine progress(
          {.what = "estimating the Bayes-optimal floor (--bayes-samples 0 skips it)",
           .total = synth_options.languages.size() * synth_options.groups.size(),
           .transient = true});
      bayes = sim::EstimateBayesOptimal(
          synth_options, "fusion", command.bayes_samples, synth_options.seed,
          [&progress](int done, int) { progress.Update(static_cast<uint64_t>(done)); });
      if (bayes.ok()) progress.Finish();
    }
    if (!bayes.ok()) return Fail("synth", bayes.status());
    PrintBayesOptimal(*bayes, command.bayes_samples);
  }
  return 0;
}

// The part of an import's summary both importers share: names and one line per shard.
template <typename Summary>
void PrintImportedShards(const Summary& summary, const std::string& group_attribute) {
  std::printf("labels: %s\ngroups (%s): %s\nlanguages: %s\n",
              absl::StrJoin(summary.labels, ", ").c_str(), group_attribute.c_str(),
              absl::StrJoin(summary.groups, ", ").c_str(),
              absl::StrJoin(summary.languages, ", ").c_str());
  for (size_t index = 0; index < summary.shard_dirs.size(); ++index) {
    std::printf("  %s (%s): %s\n", summary.shard_dirs[index].c_str(),
                summary.client_names[index].c_str(), Counts(summary.client_counts[index]).c_str());
  }
}

int RunImport(const DataCommand& command) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<client::CsvImportSummary> summary;
  {
    ImportProgressLines progress(FileName(command.csv), "checking rows");
    client::CsvImportOptions options = command.csv_options;
    for (const std::string& text : command.categorical) {
      absl::StatusOr<client::CategoricalColumn> column = client::CategoricalColumn::Parse(text);
      if (!column.ok()) return Fail("import", column.status());
      options.categorical_columns.push_back(*std::move(column));
    }
    options.progress = progress.Callback();
    summary = client::ImportCsv(command.csv, command.import_out, options);
    if (summary.ok()) progress.Finish();
  }
  if (!summary.ok()) return Fail("import", summary.status());
  const int64_t dropped = summary->rows_dropped_missing + summary->rows_dropped_unknown;
  std::printf(
      "imported %s: %lld rows read, %lld kept, %lld dropped (%lld with a missing value, "
      "%lld with an unknown category) in %.2f s\n",
      command.csv.c_str(), static_cast<long long>(summary->rows_read),
      static_cast<long long>(summary->rows_read - dropped), static_cast<long long>(dropped),
      static_cast<long long>(summary->rows_dropped_missing),
      static_cast<long long>(summary->rows_dropped_unknown), SecondsSince(start));
  if (!summary->first_dropped.empty()) {
    std::printf("first dropped row: %s\n", summary->first_dropped.c_str());
  }
  std::printf(
      "features (tabular, %zu columns, stored raw; `model.standardise_features: true` "
      "standardises them federatedly): %s\n",
      summary->feature_columns.size(), absl::StrJoin(summary->feature_columns, ", ").c_str());
  for (size_t index = 0; index < summary->categorical_columns.size(); ++index) {
    const client::CategoricalColumn& column = summary->categorical_columns[index];
    std::printf("one-hot %s: %s", column.name.c_str(), absl::StrJoin(column.values, ", ").c_str());
    if (summary->other_counts[index] > 0) {
      std::printf(" (%lld rows outside the list are %s)",
                  static_cast<long long>(summary->other_counts[index]), client::kOtherCategory);
    }
    std::printf("\n");
  }
  if (!summary->ignored_columns.empty()) {
    std::printf(
        "ignored (text whose values do not repeat enough to be categories; name them with "
        "--categorical to one-hot encode): %s\n",
        absl::StrJoin(summary->ignored_columns, ", ").c_str());
  }
  PrintImportedShards(*summary, command.csv_options.group_column);
  return 0;
}

int RunImportNpy(const DataCommand& command) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<client::NpyImportSummary> summary;
  {
    const client::NpyImportPaths& paths = command.npy_paths;
    std::vector<std::string> files = {FileName(paths.features), FileName(paths.labels),
                                      FileName(paths.groups)};
    if (!paths.languages.empty()) files.push_back(FileName(paths.languages));
    ImportProgressLines progress(absl::StrJoin(files, ", "), "checking feature values");
    client::NpyImportOptions options = command.npy_options;
    options.progress = progress.Callback();
    summary = client::ImportNpy(paths, command.npy_out, options);
    if (summary.ok()) progress.Finish();
  }
  if (!summary.ok()) return Fail("import-npy", summary.status());
  const client::ShardModality& modality = summary->modality;
  std::printf("imported %s: %lld rows in %.2f s\n", command.npy_paths.features.c_str(),
              static_cast<long long>(summary->rows), SecondsSince(start));
  std::printf("features (%s, %s %s, from %s)\n", modality.name.c_str(),
              std::string(NameOf(modality.kind)).c_str(),
              protocol::ShapeToString(modality.Shape(summary->rows)).c_str(),
              summary->features_type.c_str());
  PrintImportedShards(*summary, command.npy_options.group_attribute);
  return 0;
}

int RunImportMedia(const DataCommand& command) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<client::MediaImportSummary> summary;
  {
    ImportProgressLines progress(FileName(command.media_manifest), "decoding recordings");
    client::MediaImportOptions options = command.media_options;
    options.audio_precision =
        ParseEnum<client::FeaturePrecision>("--audio-precision", command.audio_precision)
            .value_or(client::FeaturePrecision::kFloat16);  // CLI11 checked the name
    options.progress = progress.Callback();
    summary = client::ImportMedia(command.media_manifest, command.media_out, options);
    if (summary.ok()) progress.Finish();
  }
  if (!summary.ok()) return Fail("import-media", summary.status());
  const double seconds = SecondsSince(start);
  std::printf("imported %s: %lld rows read, %lld imported, %lld left out in %.2f s\n",
              command.media_manifest.c_str(), static_cast<long long>(summary->rows_read),
              static_cast<long long>(summary->rows_imported),
              static_cast<long long>(summary->rows_read - summary->rows_imported), seconds);
  for (const client::SkippedRows& skipped : summary->skipped) {
    std::printf("  left out, %s: %lld (first: %s)\n", skipped.reason.c_str(),
                static_cast<long long>(skipped.count), skipped.example.c_str());
  }
  for (const client::ShardModality& modality : summary->modalities) {
    if (modality.name == client::kVideoModality) {
      std::printf(
          "video: %lld videos, %.1f s, %lld frames (%.1f frames per second)%s; images [%lld "
          "frames, %lld x %lld RGB]\n",
          static_cast<long long>(summary->video_files), summary->video_seconds,
          static_cast<long long>(summary->video_frames),
          seconds > 0 ? static_cast<double>(summary->video_frames) / seconds : 0.0,
          summary->video_clipped > 0
              ? absl::StrCat("; ", summary->video_clipped,
                             " longer than --max-video-seconds kept their start")
                    .c_str()
              : "",
          static_cast<long long>(modality.frames), static_cast<long long>(modality.dim),
          static_cast<long long>(modality.dim));
    } else if (modality.name == client::kAudioModality) {
      std::printf(
          "audio: %lld recordings, %.1f s (%.1f audio seconds per second)%s; sequence [%lld "
          "frames, %lld bands, %s]\n",
          static_cast<long long>(summary->audio_files), summary->audio_seconds,
          seconds > 0 ? summary->audio_seconds / seconds : 0.0,
          summary->audio_clipped > 0
              ? absl::StrCat("; ", summary->audio_clipped,
                             " longer than --max-audio-seconds kept their start")
                    .c_str()
              : "",
          static_cast<long long>(modality.frames), static_cast<long long>(modality.dim),
          std::string(NameOf(modality.precision)).c_str());
    } else {
      std::printf("text: %lld texts%s; tokens [%lld, vocabulary %lld]\n",
                  static_cast<long long>(summary->texts),
                  summary->text_clipped > 0
                      ? absl::StrCat("; ", summary->text_clipped, " longer than ",
                                     command.media_options.sentencepiece.model_path.empty()
                                         ? "--max-text-bytes"
                                         : "--max-text-pieces",
                                     " kept their start")
                            .c_str()
                      : "",
                  static_cast<long long>(modality.frames), static_cast<long long>(modality.dim));
    }
    std::printf("  front end: %s\n", modality.front_end.c_str());
  }
  PrintImportedShards(*summary, command.media_options.group_attribute);
  return 0;
}

int RunInspect(const DataCommand& command) {
  absl::StatusOr<std::vector<std::string>> shards = client::FindShards(command.inspect_dir);
  if (!shards.ok()) return Fail("inspect", shards.status());
  client::SplitCounts total{};
  for (const std::string& dir : *shards) {
    if (absl::Status status = PrintShard(dir, total); !status.ok()) return Fail("inspect", status);
  }
  std::printf("%zu shard%s, %s\n", shards->size(), shards->size() == 1 ? "" : "s",
              Counts(total).c_str());
  return 0;
}

}  // namespace

int RunDataCommand(const DataCommand& command) {
  switch (command.action) {
    case DataCommand::Action::kSynth:
      return RunSynth(command);
    case DataCommand::Action::kImport:
      return RunImport(command);
    case DataCommand::Action::kImportNpy:
      return RunImportNpy(command);
    case DataCommand::Action::kImportMedia:
      return RunImportMedia(command);
    case DataCommand::Action::kInspect:
      break;
  }
  return RunInspect(command);
}

}  // namespace equifl::app
