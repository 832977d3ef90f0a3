#include "client/data/npy_import.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "client/data/import_split.h"

namespace equifl::client {
namespace {

constexpr char kVectorModality[] = "tabular";
constexpr char kSequenceModality[] = "sequence";
// Without names, values 0..max become names "0".."max"; a larger max is more likely
// a wrong array than that many classes.
constexpr int64_t kMaxUnnamedValues = 10'000;

// Reads an integer [N] array and checks its values against `names` (or makes the
// default names "0", "1", ... when there are none).
absl::StatusOr<std::vector<int64_t>> IndexArray(const NpyArray& array, int64_t rows,
                                                const char* what, const char* flag,
                                                std::vector<std::string>& names) {
  if (array.header.shape.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(array.source, " has shape ", array.ShapeString(), "; ", what,
                     " must be a 1-D array [N] (in Python: array.reshape(-1))"));
  }
  if (array.header.shape[0] != rows) {
    return absl::InvalidArgumentError(absl::StrCat(array.source, " has ", array.header.shape[0],
                                                   " ", what, " but the features have ", rows,
                                                   " rows; every array needs one entry per row"));
  }
  EQUIFL_ASSIGN_OR_RETURN(std::vector<int64_t> values, array.ToInt64());
  int64_t largest = 0;
  for (size_t row = 0; row < values.size(); ++row) {
    if (values[row] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(array.source, ": row ", row, " is ",
                                                     values[row], "; ", what,
                                                     " must be indices 0, 1, ... into ", flag));
    }
    largest = std::max(largest, values[row]);
  }
  if (names.empty()) {
    if (largest >= kMaxUnnamedValues) {
      return absl::InvalidArgumentError(absl::StrCat(
          array.source, ": the largest value is ", largest, "; ", what,
          " must be indices 0, 1, ...; give their names with ", flag, " or renumber them"));
    }
    for (int64_t value = 0; value <= largest; ++value) names.push_back(absl::StrCat(value));
    return values;
  }
  for (size_t row = 0; row < values.size(); ++row) {
    if (values[row] >= static_cast<int64_t>(names.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          array.source, ": row ", row, " is ", values[row], ", but ", flag, " names only ",
          names.size(), " values (", absl::StrJoin(names, ", "), ") for indices 0..",
          names.size() - 1, "; add the missing names or fix the array"));
    }
  }
  return values;
}

}  // namespace

absl::Status NpyImportOptions::Validate() const {
  EQUIFL_RETURN_IF_ERROR(CheckGivenNames(label_names, "--label-names"));
  EQUIFL_RETURN_IF_ERROR(CheckGivenNames(group_names, "--group-names"));
  EQUIFL_RETURN_IF_ERROR(CheckGivenNames(language_names, "--language-names"));
  if (group_attribute.empty()) {
    return absl::InvalidArgumentError("the group attribute needs a name, e.g. 'gender'");
  }
  if (split.clients < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("clients is ", split.clients, "; it must be in 1..100000"));
  }
  return split.Validate();
}

absl::StatusOr<NpyImport> BuildShardsFromNpy(const NpyImportArrays& arrays,
                                             const NpyImportOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  if (!arrays.languages && !options.language_names.empty()) {
    return absl::InvalidArgumentError(
        "language names are given but no languages array; add --languages FILE.npy or drop "
        "--language-names");
  }
  NpyImport result;
  NpyImportSummary& summary = result.summary;

  // Features: [N, D] or [N, T, D], finite.
  const NpyArray& features = arrays.features;
  const std::vector<int64_t>& shape = features.header.shape;
  if (shape.size() != 2 && shape.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        features.source, " has shape ", features.ShapeString(),
        "; features must be [N, D] (one vector per row) or [N, T, D] (T frames per row)",
        shape.size() == 1 ? "; for one feature per row use array.reshape(-1, 1)" : ""));
  }
  for (int64_t dim : shape) {
    if (dim == 0) {
      return absl::InvalidArgumentError(absl::StrCat(features.source, " has shape ",
                                                     features.ShapeString(), "; no size may be 0"));
    }
  }
  const int64_t n = shape[0];
  summary.rows = n;
  summary.features_type = NpyTypeName(features.header.type);
  ShardModality& modality = summary.modality;
  if (shape.size() == 2) {
    modality = {options.modality.empty() ? kVectorModality : options.modality,
                ModalityKind::kVector, 0, shape[1]};
  } else {
    modality = {options.modality.empty() ? kSequenceModality : options.modality,
                ModalityKind::kSequence, shape[1], shape[2]};
  }
  EQUIFL_ASSIGN_OR_RETURN(const std::vector<float> values, features.ToFloat32());
  const int64_t per_row = modality.ValuesPerSample();
  StageProgress checking(options.progress, ImportStage::kCheck, values.size(),
                         /*every=*/uint64_t{1} << 20);
  for (size_t index = 0; index < values.size(); ++index) {
    checking.Update(index);
    if (!std::isfinite(values[index])) {
      const std::string where =
          absl::StrCat(features.source, ": row ", index / per_row, ", value ", index % per_row);
      double original = values[index];
      if (features.header.type == NpyType::kFloat64) {
        std::memcpy(&original, features.data.data() + index * sizeof(double), sizeof(double));
      }
      if (std::isfinite(original)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " is ", original,
                         ", beyond float32's range; rescale the features in Python first"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(where, " is ", original,
                       "; features must be finite numbers: impute or drop such rows in Python "
                       "first"));
    }
  }
  checking.Finish();

  // Labels, groups, languages.
  summary.labels = options.label_names;
  summary.groups = options.group_names;
  summary.languages = options.language_names;
  EQUIFL_ASSIGN_OR_RETURN(const std::vector<int64_t> labels,
                          IndexArray(arrays.labels, n, "labels", "--label-names", summary.labels));
  EQUIFL_ASSIGN_OR_RETURN(const std::vector<int64_t> groups,
                          IndexArray(arrays.groups, n, "groups", "--group-names", summary.groups));
  std::vector<int64_t> languages(static_cast<size_t>(n), 0);
  if (arrays.languages) {
    EQUIFL_ASSIGN_OR_RETURN(languages, IndexArray(*arrays.languages, n, "languages",
                                                  "--language-names", summary.languages));
  } else {
    summary.languages = {kUndeterminedLanguage};
  }

  // Rows to clients, then each client's shard.
  random::Engine engine = random::MakeEngine(options.split.seed, 0);
  EQUIFL_ASSIGN_OR_RETURN(RowPartition partition,
                          PartitionRows(labels, summary.labels.size(),
                                        {.clients = options.split.clients,
                                         .dirichlet_alpha = options.split.dirichlet_alpha},
                                        engine));
  summary.client_names = std::move(partition.client_names);
  StageProgress building(options.progress, ImportStage::kBuild, static_cast<uint64_t>(n));
  uint64_t built = 0;
  for (std::vector<size_t>& rows : partition.client_rows) {
    const std::vector<Split> splits = SplitClientRows(rows, options.split.train_fraction,
                                                      options.split.validation_fraction, engine);
    ShardData data;
    data.manifest.modalities = {modality};
    data.manifest.labels = summary.labels;
    data.manifest.group_attribute = options.group_attribute;
    data.manifest.groups = summary.groups;
    data.manifest.languages = summary.languages;
    data.features.resize(1);
    data.lengths.resize(1);
    data.features[0].reserve(rows.size() * per_row);
    for (size_t position = 0; position < rows.size(); ++position) {
      const size_t row = rows[position];
      data.features[0].insert(data.features[0].end(), values.begin() + row * per_row,
                              values.begin() + (row + 1) * per_row);
      if (modality.kind == ModalityKind::kSequence) data.lengths[0].push_back(modality.frames);
      data.present.push_back(1);
      data.label.push_back(labels[row]);
      data.group.push_back(groups[row]);
      data.language.push_back(languages[row]);
      data.split.push_back(static_cast<uint8_t>(splits[position]));
      building.Update(++built);
    }
    data.CountSamples();
    EQUIFL_RETURN_IF_ERROR(data.manifest.Validate());
    summary.client_counts.push_back(data.manifest.split_counts);
    result.shards.push_back(std::move(data));
  }
  building.Finish();
  return result;
}

absl::StatusOr<NpyImportSummary> ImportNpy(const NpyImportPaths& paths, const std::string& out_dir,
                                           const NpyImportOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  std::vector<std::string> files = {paths.features, paths.labels, paths.groups};
  if (!paths.languages.empty()) files.push_back(paths.languages);
  EQUIFL_ASSIGN_OR_RETURN(std::vector<std::string> bytes, ReadImportFiles(files, options.progress));
  // Each file's bytes are freed once parsed (the array holds a copy).
  auto parse = [&bytes, &files](size_t index) {
    absl::StatusOr<NpyArray> array = ParseNpy(bytes[index], files[index]);
    std::string().swap(bytes[index]);
    return array;
  };
  NpyImportArrays arrays;
  EQUIFL_ASSIGN_OR_RETURN(arrays.features, parse(0));
  EQUIFL_ASSIGN_OR_RETURN(arrays.labels, parse(1));
  EQUIFL_ASSIGN_OR_RETURN(arrays.groups, parse(2));
  if (!paths.languages.empty()) {
    EQUIFL_ASSIGN_OR_RETURN(arrays.languages, parse(3));
  }
  EQUIFL_ASSIGN_OR_RETURN(NpyImport import, BuildShardsFromNpy(arrays, options));
  EQUIFL_ASSIGN_OR_RETURN(import.summary.shard_dirs,
                          WriteClientShards(out_dir, import.shards, options.progress));
  return std::move(import.summary);
}

}  // namespace equifl::client
