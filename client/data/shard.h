// A client's data on disk: the shard folder (docs/ARCHITECTURE.md, "Data on a client").
//
//   <shard>/manifest.json     what the tensors mean: modalities and their shapes,
//                             label, group and language names, split sizes
//   <shard>/data.safetensors  the tensors, readable in Python with one call
//
// manifest.json:
//   {"format": "equifl-shard", "version": 1, "num_samples": N,
//    "modalities": [{"name": "video", "kind": "sequence", "frames": T, "dim": D},
//                   {"name": "audio", "kind": "sequence", "frames": T, "dim": 80,
//                    "precision": "float16", "front_end": "log-mel sample_rate=16000 ..."},
//                   {"name": "text", "kind": "tokens", "frames": T, "dim": 259},
//                   {"name": "video", "kind": "images", "frames": T, "dim": 64,
//                    "front_end": "video-frames fps=2 size=64 ..."},
//                   {"name": "text", "kind": "vector", "dim": D}],
//    "labels": [...], "group_attribute": "gender", "groups": [...],
//    "languages": [...], "splits": {"train": n, "validation": n, "test": n}}
// data.safetensors:
//   <modality>          F32 (or F16, with "precision": "float16") [N, T, D] (sequence)
//                       or [N, D] (vector), or I32 [N, T]
//                       (tokens: ids in [0, D), D the vocabulary), or U8 [N, T, D, D, 3]
//                       (images: RGB, D the side)
//   <modality>.lengths  I64 [N], valid frames, tokens or images of each sample, in [0, T]
//   present             U8 [N, M], 1 where sample n has modality m (manifest order)
//   label, group, language  I64 [N], indices into the manifest's lists
//   split               U8 [N]: 0 train, 1 validation, 2 test
//
// The writer stores the int64 tensors first, then float32 and int32, then float16, then
// uint8, so every
// tensor is aligned in the mapped file, and rows ordered by split, so a split is a
// contiguous block (the reader accepts any row order). This file needs no Torch;
// shard_dataset.h turns an opened shard into a client::Dataset.
#ifndef EQUIFL_CLIENT_DATA_SHARD_H_
#define EQUIFL_CLIENT_DATA_SHARD_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"
#include "client/data/modality_kind.h"
#include "protocol/safetensors.h"

namespace equifl::client {

//! The three splits, as stored in the `split` column.
enum class Split : uint8_t { kTrain = 0, kValidation = 1, kTest = 2 };
inline constexpr int kSplitCount = 3;

//! "train", "validation" or "test", in manifests and messages.
inline std::span<const EnumName<Split>> EnumNames(Split) {
  static constexpr EnumName<Split> kNames[] = {
      {Split::kTrain, "train"}, {Split::kValidation, "validation"}, {Split::kTest, "test"}};
  return kNames;
}

//! How a sequence or vector modality's values are stored: float32, or float16 (half
//! the bytes; log-mel energies and the like lose nothing a model would notice). The
//! Dataset keeps float16 as it is mapped; the model widens each batch to float32.
enum class FeaturePrecision { kFloat32, kFloat16 };

//! "float32" / "float16", in manifests and messages.
inline std::span<const EnumName<FeaturePrecision>> EnumNames(FeaturePrecision) {
  static constexpr EnumName<FeaturePrecision> kNames[] = {{FeaturePrecision::kFloat32, "float32"},
                                                          {FeaturePrecision::kFloat16, "float16"}};
  return kNames;
}

//! Per-split numbers, indexed by static_cast<int>(Split).
using SplitCounts = std::array<int64_t, kSplitCount>;

//! One modality as the manifest describes it (ModalityKind is shared with the
//! model's options, so a manifest sizes a model directly).
struct ShardModality {
  std::string name;                           //!< Tensor name, e.g. "video"; [A-Za-z0-9_-]+.
  ModalityKind kind = ModalityKind::kVector;  //!< Sequence, vector, tokens or images.
  int64_t frames = 0;  //!< T for sequences, tokens and images; 0 for vectors.
  int64_t dim = 0;     //!< D, features per frame or vector, the tokens' vocabulary, or the
                       //!< images' side.
  //! What each of the D features is (e.g. "age", "phist=yes"); empty when unnamed.
  //! Part of the schema: clients of a run must agree on it.
  std::vector<std::string> feature_names = {};
  //! How the features were computed from recordings (e.g. "log-mel sample_rate=16000
  //! ..."); empty for features made elsewhere. Part of the schema, like the names.
  std::string front_end = {};
  //! How sequence and vector values are stored (float32 for the other kinds). Not
  //! part of the schema: clients storing either train one model.
  FeaturePrecision precision = FeaturePrecision::kFloat32;

  //! Whether the values are float16 bits (ShardColumns::halves).
  bool IsHalf() const { return precision == FeaturePrecision::kFloat16; }

  //! [samples, T, D], [samples, D], (tokens) [samples, T] or (images) [samples, T, D, D, 3].
  std::vector<int64_t> Shape(int64_t samples) const;
  //! Values per sample: T * D, D, (tokens) T or (images) T * D * D * 3.
  int64_t ValuesPerSample() const;
};

//! The contents of manifest.json.
struct ShardManifest {
  int64_t num_samples = 0;                //!< N.
  std::vector<ShardModality> modalities;  //!< In the order of `present`'s columns.
  std::vector<std::string> labels;        //!< Class names; `label` indexes them.
  std::string group_attribute = "group";  //!< What groups are, e.g. "gender".
  std::vector<std::string> groups;        //!< Sensitive-group names; `group` indexes them.
  std::vector<std::string> languages;     //!< Language codes; `language` indexes them.
  SplitCounts split_counts{};             //!< Samples per split; they sum to N.

  //! OK, or what is inconsistent: names (empty, repeated, reserved, not UTF-8),
  //! sizes, counts. A valid manifest always has a JSON text (ToJson).
  absl::Status Validate() const;
  //! manifest.json's text.
  std::string ToJson() const;
  //! Parses and validates manifest.json's text; `source` prefixes messages. Unknown
  //! keys, a format other than "equifl-shard" and versions other than 1 are errors.
  static absl::StatusOr<ShardManifest> FromJson(absl::string_view text, absl::string_view source);
  //! Reads and parses the manifest.json at `path`: a regular file of at most 16 MiB
  //! (a FIFO, a device or a larger file is refused before it is read).
  static absl::StatusOr<ShardManifest> ReadFile(const std::string& path);
};

//! Non-owning views of a shard's columns, row-major, over a ShardData or a mapped file.
struct ShardColumns {
  std::vector<std::span<const float>> features;   //!< Per modality, N * ValuesPerSample; empty
                                                  //!< for tokens, images and float16.
  std::vector<std::span<const uint16_t>> halves;  //!< Per modality: float16 bits of float16
                                                  //!< modalities, else empty (or no entries).
  std::vector<std::span<const int32_t>> tokens;   //!< Per modality: N * T for tokens, else
                                                  //!< empty (or no entries: no token modality).
  std::vector<std::span<const uint8_t>> images;   //!< Per modality: N * T * D * D * 3 for
                                                  //!< images, else empty (or no entries).
  std::vector<std::span<const int64_t>> lengths;  //!< Per modality: N for sequences, tokens
                                                  //!< and images, else empty.
  std::span<const uint8_t> present;               //!< N * M, 0 or 1.
  std::span<const int64_t> label;                 //!< N label indices.
  std::span<const int64_t> group;                 //!< N group indices.
  std::span<const int64_t> language;              //!< N language indices.
  std::span<const uint8_t> split;                 //!< N Split values.
};

//! A shard held in memory, as the synthetic generator and the importers build it.
struct ShardData {
  ShardManifest manifest;                     //!< num_samples and split_counts included.
  std::vector<std::vector<float>> features;   //!< Per modality, row-major; empty for tokens,
                                              //!< images and float16.
  std::vector<std::vector<uint16_t>> halves;  //!< Per modality (or none): float16 bits.
  std::vector<std::vector<int32_t>> tokens;   //!< Per modality (or none): ids of tokens.
  std::vector<std::vector<uint8_t>> images;   //!< Per modality (or none): RGB pixels.
  std::vector<std::vector<int64_t>> lengths;  //!< Per modality; empty for vectors.
  std::vector<uint8_t> present;               //!< [N, M] row-major.
  std::vector<int64_t> label;                 //!< [N].
  std::vector<int64_t> group;                 //!< [N].
  std::vector<int64_t> language;              //!< [N].
  std::vector<uint8_t> split;                 //!< [N].

  //! Views of the vectors above.
  ShardColumns Columns() const;
  //! Sets manifest.num_samples and manifest.split_counts from `label` and `split`.
  void CountSamples();
};

//! What the reader checks beyond the format.
struct ShardOpenOptions {
  //! Refuse NaN and infinite feature values (one pass over the features).
  bool check_finite_features = true;
  //! Limits for data.safetensors.
  protocol::SafetensorsLimits limits;

  //! OK, or which option is out of range.
  absl::Status Validate() const;
};

//! OK when `columns` match `manifest`: sizes, label/group/language indices in range,
//! lengths in [0, T], present 0 or 1, split values 0..2 with the manifest's counts,
//! and (optionally) finite features. Messages name the column and the first bad row.
absl::Status ValidateShardColumns(const ShardManifest& manifest, const ShardColumns& columns,
                                  bool check_finite_features = true);

//! Writes `data` as a shard folder at `dir` (created if missing; existing shard files
//! are replaced). Validates first; writes data.safetensors, then manifest.json, each
//! atomically, so a folder with a manifest always has the matching data.
absl::Status WriteShard(const std::string& dir, const ShardData& data);

//! Samples per split of each label, group, language and modality present.
struct ShardCounts {
  SplitCounts samples{};                  //!< Samples per split.
  std::vector<SplitCounts> per_label;     //!< Indexed like manifest.labels.
  std::vector<SplitCounts> per_group;     //!< Indexed like manifest.groups.
  std::vector<SplitCounts> per_language;  //!< Indexed like manifest.languages.
  std::vector<SplitCounts> present;       //!< Samples with modality m present.
};

//! Counts over validated columns.
ShardCounts CountShard(const ShardManifest& manifest, const ShardColumns& columns);

//! An opened shard: the parsed manifest and the mapped, validated tensors.
class Shard {
 public:
  //! Reads `dir`/manifest.json, maps `dir`/data.safetensors and checks that the
  //! tensors are exactly those the manifest describes, with valid values. Messages
  //! start with the folder and name the tensor, row and value that is wrong.
  static absl::StatusOr<Shard> Open(const std::string& dir, const ShardOpenOptions& options = {});

  //! The folder it was opened from.
  const std::string& dir() const { return dir_; }
  //! The manifest.
  const ShardManifest& manifest() const { return manifest_; }
  //! Views into the mapped file, valid while this Shard lives (moves included).
  const ShardColumns& columns() const { return columns_; }
  //! The mapped data.safetensors.
  const protocol::SafetensorsFile& file() const { return file_; }

 private:
  Shard(std::string dir, ShardManifest manifest, protocol::SafetensorsFile file)
      : dir_(std::move(dir)), manifest_(std::move(manifest)), file_(std::move(file)) {}

  std::string dir_;                                    //!< As given to Open.
  ShardManifest manifest_;                             //!< Parsed manifest.json.
  protocol::SafetensorsFile file_;                     //!< The mapping the views point into.
  std::vector<std::unique_ptr<int64_t[]>> realigned_;  //!< Copies of misaligned tensors.
  ShardColumns columns_;                               //!< Views of file_ (or realigned_).
};

//! The shard folders at `dir`: `dir` itself when it holds a manifest.json, otherwise
//! its sub-folders that do, sorted by name. An error when there are none.
absl::StatusOr<std::vector<std::string>> FindShards(const std::string& dir);

//! "client-000", "client-001", ...: the folder name of client `index` in a set.
std::string ClientShardName(int index);

//! The file names inside a shard folder.
inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr char kDataFile[] = "data.safetensors";

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_SHARD_H_
