#include "client/data/shard.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/quoted_input.h"
#include "base/status_macros.h"
#include "base/utf8.h"
#include "protocol/file_io.h"
#include "protocol/half_precision.h"

namespace equifl::client {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kFormat[] = "equifl-shard";
constexpr int kVersion = 1;
constexpr const char* kReservedNames[] = {"present", "label", "group", "language", "split"};
// Names and counts of a few thousand groups fit in far less; a larger manifest.json
// is refused before it is read.
constexpr uint64_t kMaxManifestBytes = uint64_t{16} << 20;
// A float16 value whose exponent bits are all set is infinite or NaN.
constexpr uint16_t kHalfExponentBits = 0x7C00;

std::string LengthsName(const ShardModality& modality) { return modality.name + ".lengths"; }

bool IsValidName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

absl::Status CheckNameList(const std::vector<std::string>& names, absl::string_view what) {
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the manifest lists no ", what));
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("the manifest has an empty name in ", what));
    }
    if (FindInvalidUtf8(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the manifest's ", what, " name ", QuoteInput(name), " is not UTF-8"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("the manifest lists ", QuoteInput(name), " twice in ", what));
    }
  }
  return absl::OkStatus();
}

// Reading manifest.json: every accessor names the key it reads.
absl::StatusOr<int64_t> ReadCount(const Json& value, absl::string_view key) {
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0)) {
    return absl::InvalidArgumentError(absl::StrCat("'", key, "' is ", ShowInput(value.dump()),
                                                   "; it must be a non-negative integer"));
  }
  if (value.is_number_unsigned() && value.get<uint64_t>() > (uint64_t{1} << 62)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", key, "' is ", ShowInput(value.dump()), ", too large"));
  }
  return value.get<int64_t>();
}

absl::StatusOr<std::string> ReadString(const Json& value, absl::string_view key) {
  if (!value.is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", key, "' is ", ShowInput(value.dump()), "; it must be a string"));
  }
  return value.get<std::string>();
}

absl::StatusOr<std::vector<std::string>> ReadStringList(const Json& value, absl::string_view key) {
  if (!value.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", key, "' is ", ShowInput(value.dump()), "; it must be a list of strings"));
  }
  std::vector<std::string> strings;
  for (size_t index = 0; index < value.size(); ++index) {
    EQUIFL_ASSIGN_OR_RETURN(std::string text,
                            ReadString(value[index], absl::StrCat(key, "[", index, "]")));
    strings.push_back(std::move(text));
  }
  return strings;
}

// Refuses keys outside `allowed` and requires those in `required`.
absl::Status CheckKeys(const Json& object, absl::string_view where,
                       const std::vector<std::string>& allowed,
                       const std::vector<std::string>& required) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " must be a JSON object"));
  }
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::none_of(allowed.begin(), allowed.end(),
                     [&](const std::string& name) { return key == name; })) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has unknown key ", QuoteInput(key),
                       "; allowed keys: ", absl::StrJoin(allowed, ", ")));
    }
  }
  for (const std::string& key : required) {
    if (!object.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has no '", key, "'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ShardModality> ReadModality(const Json& value, size_t index) {
  const std::string where = absl::StrCat("modalities[", index, "]");
  EQUIFL_RETURN_IF_ERROR(CheckKeys(
      value, where, {"name", "kind", "frames", "dim", "feature_names", "front_end", "precision"},
      {"name", "kind", "dim"}));
  ShardModality modality;
  EQUIFL_ASSIGN_OR_RETURN(modality.name, ReadString(value["name"], where + ".name"));
  EQUIFL_ASSIGN_OR_RETURN(std::string kind, ReadString(value["kind"], where + ".kind"));
  EQUIFL_ASSIGN_OR_RETURN(modality.kind, ParseEnum<ModalityKind>(where + ".kind", kind));
  if (HasFrames(modality.kind)) {
    if (!value.contains("frames")) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " (", QuoteInput(modality.name), ") is ",
                       kind == "sequence" ? "a sequence" : kind, " but has no 'frames'"));
    }
    EQUIFL_ASSIGN_OR_RETURN(modality.frames, ReadCount(value["frames"], where + ".frames"));
  } else if (value.contains("frames")) {
    return absl::InvalidArgumentError(absl::StrCat(where, " (", QuoteInput(modality.name),
                                                   ") is a vector; 'frames' belongs to sequences"));
  }
  EQUIFL_ASSIGN_OR_RETURN(modality.dim, ReadCount(value["dim"], where + ".dim"));
  if (value.contains("feature_names")) {
    EQUIFL_ASSIGN_OR_RETURN(modality.feature_names,
                            ReadStringList(value["feature_names"], where + ".feature_names"));
  }
  if (value.contains("front_end")) {
    EQUIFL_ASSIGN_OR_RETURN(modality.front_end,
                            ReadString(value["front_end"], where + ".front_end"));
  }
  if (value.contains("precision")) {
    EQUIFL_ASSIGN_OR_RETURN(std::string precision,
                            ReadString(value["precision"], where + ".precision"));
    EQUIFL_ASSIGN_OR_RETURN(modality.precision,
                            ParseEnum<FeaturePrecision>(where + ".precision", precision));
  }
  return modality;
}

template <typename T>
absl::Status CheckSize(std::span<const T> column, size_t expected, absl::string_view name) {
  if (column.size() != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("column '", name, "' has ", column.size(), " values; expected ", expected));
  }
  return absl::OkStatus();
}

absl::Status CheckIndices(std::span<const int64_t> column, absl::string_view name,
                          const std::vector<std::string>& names, absl::string_view list) {
  const int64_t bound = static_cast<int64_t>(names.size());
  for (size_t row = 0; row < column.size(); ++row) {
    if (column[row] < 0 || column[row] >= bound) {
      return absl::InvalidArgumentError(absl::StrCat(name, "[", row, "] is ", column[row],
                                                     "; the manifest lists ", bound, " ", list,
                                                     ", so it must be in 0..", bound - 1));
    }
  }
  return absl::OkStatus();
}

// A typed span over a tensor's bytes; misaligned tensors (possible in files from
// other writers) are copied into `realigned`.
template <typename T>
std::span<const T> TypedSpan(const protocol::TensorView& view,
                             std::vector<std::unique_ptr<int64_t[]>>& realigned) {
  const std::byte* data = view.bytes.data();
  const size_t count = view.bytes.size() / sizeof(T);
  if (reinterpret_cast<uintptr_t>(data) % alignof(T) != 0) {
    auto copy = std::make_unique<int64_t[]>((view.bytes.size() + 7) / 8);
    std::memcpy(copy.get(), data, view.bytes.size());
    data = reinterpret_cast<const std::byte*>(copy.get());
    realigned.push_back(std::move(copy));
  }
  return {reinterpret_cast<const T*>(data), count};
}

// The tensor type a modality's values are stored as: int32 tokens, uint8 images,
// float16 or float32 features.
v1::DataType StoredType(const ShardModality& modality) {
  if (modality.kind == ModalityKind::kTokens) return v1::DATA_TYPE_INT32;
  if (modality.kind == ModalityKind::kImages) return v1::DATA_TYPE_UINT8;
  return modality.IsHalf() ? v1::DATA_TYPE_FLOAT16 : v1::DATA_TYPE_FLOAT32;
}

// The bytes of modality `m`'s values in `columns`, stored as `type` (StoredType).
std::span<const std::byte> StoredBytes(const ShardColumns& columns, size_t m, v1::DataType type) {
  switch (type) {
    case v1::DATA_TYPE_INT32:
      return std::as_bytes(columns.tokens[m]);
    case v1::DATA_TYPE_UINT8:
      return std::as_bytes(columns.images[m]);
    case v1::DATA_TYPE_FLOAT16:
      return std::as_bytes(columns.halves[m]);
    default:
      return std::as_bytes(columns.features[m]);
  }
}

}  // namespace

std::vector<int64_t> ShardModality::Shape(int64_t samples) const {
  switch (kind) {
    case ModalityKind::kSequence:
      return {samples, frames, dim};
    case ModalityKind::kTokens:
      return {samples, frames};
    case ModalityKind::kImages:
      return {samples, frames, dim, dim, kImageChannels};
    case ModalityKind::kVector:
      break;
  }
  return {samples, dim};
}

int64_t ShardModality::ValuesPerSample() const {
  switch (kind) {
    case ModalityKind::kSequence:
      return frames * dim;
    case ModalityKind::kTokens:
      return frames;
    case ModalityKind::kImages:
      return frames * dim * dim * kImageChannels;
    case ModalityKind::kVector:
      break;
  }
  return dim;
}

absl::Status ShardManifest::Validate() const {
  if (num_samples < 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_samples is ", num_samples));
  }
  if (modalities.empty()) return absl::InvalidArgumentError("the manifest lists no modalities");
  std::set<std::string> names;
  for (const ShardModality& modality : modalities) {
    if (!IsValidName(modality.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("modality name ", QuoteInput(modality.name),
                       " must be non-empty letters, digits, '_' or '-'"));
    }
    if (std::any_of(std::begin(kReservedNames), std::end(kReservedNames),
                    [&](const char* reserved) { return modality.name == reserved; })) {
      return absl::InvalidArgumentError(absl::StrCat("modality name '", modality.name,
                                                     "' is reserved for a column; choose another"));
    }
    if (!names.insert(modality.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("the manifest lists modality '", modality.name, "' twice"));
    }
    if (modality.dim < 1 || modality.dim > (int64_t{1} << 31)) {
      return absl::InvalidArgumentError(absl::StrCat("modality '", modality.name, "' has dim ",
                                                     modality.dim, "; it must be at least 1"));
    }
    if (HasFrames(modality.kind) && (modality.frames < 1 || modality.frames > (int64_t{1} << 31))) {
      return absl::InvalidArgumentError(absl::StrCat("sequence modality '", modality.name, "' has ",
                                                     modality.frames,
                                                     " frames; it must have at least 1"));
    }
    if (modality.kind == ModalityKind::kImages && modality.dim > kMaxImageSide) {
      return absl::InvalidArgumentError(absl::StrCat("image modality '", modality.name,
                                                     "' has images of side ", modality.dim,
                                                     "; at most ", kMaxImageSide, " is allowed"));
    }
    if (modality.IsHalf() && modality.kind != ModalityKind::kSequence &&
        modality.kind != ModalityKind::kVector) {
      return absl::InvalidArgumentError(
          absl::StrCat("modality '", modality.name, "' is ", equifl::NameOf(modality.kind),
                       "; only sequences and vectors may be stored as float16"));
    }
    if (modality.kind == ModalityKind::kVector && modality.frames != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("vector modality '", modality.name, "' must not have frames"));
    }
    if (!modality.feature_names.empty()) {
      if (static_cast<int64_t>(modality.feature_names.size()) != modality.dim) {
        return absl::InvalidArgumentError(
            absl::StrCat("modality '", modality.name, "' names ", modality.feature_names.size(),
                         " features but has dim ", modality.dim, "; name every feature or none"));
      }
      EQUIFL_RETURN_IF_ERROR(
          CheckNameList(modality.feature_names, absl::StrCat(modality.name, " feature names")));
    }
    if (FindInvalidUtf8(modality.front_end)) {
      return absl::InvalidArgumentError(absl::StrCat("modality '", modality.name, "' front end ",
                                                     QuoteInput(modality.front_end),
                                                     " is not UTF-8"));
    }
  }
  EQUIFL_RETURN_IF_ERROR(CheckNameList(labels, "labels"));
  EQUIFL_RETURN_IF_ERROR(CheckNameList(groups, "groups"));
  EQUIFL_RETURN_IF_ERROR(CheckNameList(languages, "languages"));
  if (group_attribute.empty()) {
    return absl::InvalidArgumentError("the manifest's group_attribute is empty");
  }
  if (FindInvalidUtf8(group_attribute)) {
    return absl::InvalidArgumentError(absl::StrCat("the manifest's group_attribute ",
                                                   QuoteInput(group_attribute), " is not UTF-8"));
  }
  int64_t total = 0;
  for (int split = 0; split < kSplitCount; ++split) {
    if (split_counts[split] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "splits.", equifl::NameOf(static_cast<Split>(split)), " is ", split_counts[split]));
    }
    total += split_counts[split];
  }
  if (total != num_samples) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the splits (train ", split_counts[0], ", validation ", split_counts[1], ", test ",
        split_counts[2], ") add up to ", total, ", not num_samples ", num_samples));
  }
  return absl::OkStatus();
}

std::string ShardManifest::ToJson() const {
  Json modality_list = Json::array();
  for (const ShardModality& modality : modalities) {
    Json entry = {{"name", modality.name}, {"kind", std::string(equifl::NameOf(modality.kind))}};
    if (HasFrames(modality.kind)) entry["frames"] = modality.frames;
    entry["dim"] = modality.dim;
    if (!modality.feature_names.empty()) entry["feature_names"] = modality.feature_names;
    if (!modality.front_end.empty()) entry["front_end"] = modality.front_end;
    if (modality.IsHalf()) entry["precision"] = std::string(equifl::NameOf(modality.precision));
    modality_list.push_back(std::move(entry));
  }
  Json splits = Json::object();
  for (int split = 0; split < kSplitCount; ++split) {
    splits[std::string(equifl::NameOf(static_cast<Split>(split)))] = split_counts[split];
  }
  Json json = {
      {"format", kFormat},
      {"version", kVersion},
      {"num_samples", num_samples},
      {"modalities", std::move(modality_list)},
      {"labels", labels},
      {"group_attribute", group_attribute},
      {"groups", groups},
      {"languages", languages},
      {"splits", std::move(splits)},
  };
  return json.dump(2) + "\n";
}

absl::StatusOr<ShardManifest> ShardManifest::FromJson(absl::string_view text,
                                                      absl::string_view source) {
  auto prefixed = [&](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(source, ": ", status.message()));
  };
  Json json;
  try {
    json = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& error) {
    std::string message = error.what();
    if (const size_t end = message.find("] "); end != std::string::npos) {
      message = message.substr(end + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON: ", message));
  }
  auto parse = [&]() -> absl::StatusOr<ShardManifest> {
    EQUIFL_RETURN_IF_ERROR(CheckKeys(json, "the manifest",
                                     {"format", "version", "num_samples", "modalities", "labels",
                                      "group_attribute", "groups", "languages", "splits"},
                                     {"format", "version", "num_samples", "modalities", "labels",
                                      "group_attribute", "groups", "languages", "splits"}));
    EQUIFL_ASSIGN_OR_RETURN(std::string format, ReadString(json["format"], "format"));
    if (format != kFormat) {
      return absl::InvalidArgumentError(
          absl::StrCat("format is ", QuoteInput(format), "; an equifl shard has '", kFormat, "'"));
    }
    if (json["version"] != kVersion) {
      return absl::InvalidArgumentError(absl::StrCat(
          "version is ", ShowInput(json["version"].dump()), "; this equifl reads version ",
          kVersion, " (a newer equifl may read this shard)"));
    }
    ShardManifest manifest;
    EQUIFL_ASSIGN_OR_RETURN(manifest.num_samples, ReadCount(json["num_samples"], "num_samples"));
    if (!json["modalities"].is_array()) {
      return absl::InvalidArgumentError("'modalities' must be a list");
    }
    for (size_t index = 0; index < json["modalities"].size(); ++index) {
      EQUIFL_ASSIGN_OR_RETURN(ShardModality modality,
                              ReadModality(json["modalities"][index], index));
      manifest.modalities.push_back(std::move(modality));
    }
    EQUIFL_ASSIGN_OR_RETURN(manifest.labels, ReadStringList(json["labels"], "labels"));
    EQUIFL_ASSIGN_OR_RETURN(manifest.group_attribute,
                            ReadString(json["group_attribute"], "group_attribute"));
    EQUIFL_ASSIGN_OR_RETURN(manifest.groups, ReadStringList(json["groups"], "groups"));
    EQUIFL_ASSIGN_OR_RETURN(manifest.languages, ReadStringList(json["languages"], "languages"));
    const Json& splits = json["splits"];
    const std::vector<std::string> split_names = AllNames<Split>();
    EQUIFL_RETURN_IF_ERROR(CheckKeys(splits, "'splits'", split_names, split_names));
    for (int split = 0; split < kSplitCount; ++split) {
      EQUIFL_ASSIGN_OR_RETURN(
          manifest.split_counts[split],
          ReadCount(splits[split_names[split]], absl::StrCat("splits.", split_names[split])));
    }
    EQUIFL_RETURN_IF_ERROR(manifest.Validate());
    return manifest;
  };
  absl::StatusOr<ShardManifest> manifest = parse();
  if (!manifest.ok()) return prefixed(manifest.status());
  return manifest;
}

absl::StatusOr<ShardManifest> ShardManifest::ReadFile(const std::string& path) {
  EQUIFL_ASSIGN_OR_RETURN(const std::string text,
                          protocol::ReadRegularFile(path, kMaxManifestBytes));
  return FromJson(text, path);
}

ShardColumns ShardData::Columns() const {
  ShardColumns columns;
  for (const std::vector<float>& values : features) columns.features.emplace_back(values);
  for (const std::vector<int32_t>& values : tokens) columns.tokens.emplace_back(values);
  for (const std::vector<uint8_t>& values : images) columns.images.emplace_back(values);
  for (const std::vector<uint16_t>& values : halves) columns.halves.emplace_back(values);
  for (const std::vector<int64_t>& values : lengths) columns.lengths.emplace_back(values);
  columns.present = present;
  columns.label = label;
  columns.group = group;
  columns.language = language;
  columns.split = split;
  return columns;
}

void ShardData::CountSamples() {
  manifest.num_samples = static_cast<int64_t>(label.size());
  manifest.split_counts = {};
  for (uint8_t value : split) {
    if (value < kSplitCount) ++manifest.split_counts[value];
  }
}

absl::Status ShardOpenOptions::Validate() const { return limits.Validate(); }

absl::Status ValidateShardColumns(const ShardManifest& manifest, const ShardColumns& columns,
                                  bool check_finite_features) {
  const size_t samples = static_cast<size_t>(manifest.num_samples);
  const size_t modality_count = manifest.modalities.size();
  if (columns.features.size() != modality_count || columns.lengths.size() != modality_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("the data has features of ", columns.features.size(), " and lengths of ",
                     columns.lengths.size(), " modalities; the manifest lists ", modality_count));
  }
  if (!columns.tokens.empty() && columns.tokens.size() != modality_count) {
    return absl::InvalidArgumentError(absl::StrCat("the data has tokens of ", columns.tokens.size(),
                                                   " modalities; the manifest lists ",
                                                   modality_count));
  }
  if (!columns.images.empty() && columns.images.size() != modality_count) {
    return absl::InvalidArgumentError(absl::StrCat("the data has images of ", columns.images.size(),
                                                   " modalities; the manifest lists ",
                                                   modality_count));
  }
  if (!columns.halves.empty() && columns.halves.size() != modality_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("the data has float16 values of ", columns.halves.size(),
                     " modalities; the manifest lists ", modality_count));
  }
  for (size_t m = 0; m < modality_count; ++m) {
    const ShardModality& modality = manifest.modalities[m];
    const size_t expected = samples * static_cast<size_t>(modality.ValuesPerSample());
    const bool tokens = modality.kind == ModalityKind::kTokens;
    const bool images = modality.kind == ModalityKind::kImages;
    const bool halves = modality.IsHalf();
    // Each modality's values live in the store of its kind; the others stay empty.
    const size_t float_values = columns.features[m].size();
    const size_t token_values = columns.tokens.empty() ? 0 : columns.tokens[m].size();
    const size_t image_values = columns.images.empty() ? 0 : columns.images[m].size();
    const size_t half_values = columns.halves.empty() ? 0 : columns.halves[m].size();
    const size_t values = tokens   ? token_values
                          : images ? image_values
                          : halves ? half_values
                                   : float_values;
    const size_t others = float_values + token_values + image_values + half_values - values;
    if (values != expected || others != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "modality '", modality.name, "' has ", values,
          tokens   ? " tokens"
          : images ? " pixel values"
          : halves ? " float16 values"
                   : " values",
          others != 0 ? absl::StrCat(" and ", others, " of another kind") : "", "; shape ",
          protocol::ShapeToString(modality.Shape(manifest.num_samples)), " needs ", expected));
    }
    if (tokens) {
      const std::span<const int32_t> ids = columns.tokens[m];
      for (size_t index = 0; index < ids.size(); ++index) {
        if (ids[index] < 0 || ids[index] >= modality.dim) {
          return absl::InvalidArgumentError(
              absl::StrCat("modality '", modality.name, "' has the token ", ids[index],
                           " at sample ", index / static_cast<size_t>(modality.frames),
                           "; tokens must be in 0..", modality.dim - 1, " (the vocabulary)"));
        }
      }
    }
    if (check_finite_features && halves) {
      const std::span<const uint16_t> bits = columns.halves[m];
      for (size_t index = 0; index < bits.size(); ++index) {
        if ((bits[index] & kHalfExponentBits) == kHalfExponentBits) {
          return absl::InvalidArgumentError(absl::StrCat(
              "modality '", modality.name, "' has the value ", protocol::HalfToFloat(bits[index]),
              " at sample ", index / static_cast<size_t>(modality.ValuesPerSample()),
              "; features must be finite numbers"));
        }
      }
    }
    if (check_finite_features) {
      const std::span<const float> values = columns.features[m];
      for (size_t index = 0; index < values.size(); ++index) {
        if (!std::isfinite(values[index])) {
          return absl::InvalidArgumentError(
              absl::StrCat("modality '", modality.name, "' has the value ", values[index],
                           " at sample ", index / static_cast<size_t>(modality.ValuesPerSample()),
                           "; features must be finite numbers"));
        }
      }
    }
    if (HasFrames(modality.kind)) {
      EQUIFL_RETURN_IF_ERROR(CheckSize(columns.lengths[m], samples, LengthsName(modality)));
      for (size_t row = 0; row < samples; ++row) {
        const int64_t length = columns.lengths[m][row];
        if (length < 0 || length > modality.frames) {
          return absl::InvalidArgumentError(
              absl::StrCat(LengthsName(modality), "[", row, "] is ", length, "; it must be in 0..",
                           modality.frames, " (the modality's frames)"));
        }
      }
    } else if (!columns.lengths[m].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("vector modality '", modality.name, "' must not have lengths"));
    }
  }
  EQUIFL_RETURN_IF_ERROR(CheckSize(columns.present, samples * modality_count, "present"));
  for (size_t index = 0; index < columns.present.size(); ++index) {
    if (columns.present[index] > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("present[", index / modality_count, ", ", index % modality_count, "] is ",
                       static_cast<int>(columns.present[index]), "; it must be 0 or 1"));
    }
  }
  EQUIFL_RETURN_IF_ERROR(CheckSize(columns.label, samples, "label"));
  EQUIFL_RETURN_IF_ERROR(CheckSize(columns.group, samples, "group"));
  EQUIFL_RETURN_IF_ERROR(CheckSize(columns.language, samples, "language"));
  EQUIFL_RETURN_IF_ERROR(CheckSize(columns.split, samples, "split"));
  EQUIFL_RETURN_IF_ERROR(CheckIndices(columns.label, "label", manifest.labels, "labels"));
  EQUIFL_RETURN_IF_ERROR(CheckIndices(columns.group, "group", manifest.groups, "groups"));
  EQUIFL_RETURN_IF_ERROR(
      CheckIndices(columns.language, "language", manifest.languages, "languages"));
  SplitCounts counts{};
  for (size_t row = 0; row < samples; ++row) {
    if (columns.split[row] >= kSplitCount) {
      return absl::InvalidArgumentError(
          absl::StrCat("split[", row, "] is ", static_cast<int>(columns.split[row]),
                       "; it must be 0 (train), 1 (validation) or 2 (test)"));
    }
    ++counts[columns.split[row]];
  }
  if (counts != manifest.split_counts) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the split column has train ", counts[0], ", validation ", counts[1], ", test ", counts[2],
        " samples; the manifest says train ", manifest.split_counts[0], ", validation ",
        manifest.split_counts[1], ", test ", manifest.split_counts[2]));
  }
  return absl::OkStatus();
}

absl::Status WriteShard(const std::string& dir, const ShardData& data) {
  auto prefixed = [&](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat("cannot write shard ", dir, ": ", status.message()));
  };
  if (absl::Status status = data.manifest.Validate(); !status.ok()) return prefixed(status);
  const ShardColumns columns = data.Columns();
  if (absl::Status status = ValidateShardColumns(data.manifest, columns); !status.ok()) {
    return prefixed(status);
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return protocol::FileError("create the folder", dir, error.value());
  }
  const ShardManifest& manifest = data.manifest;
  const int64_t samples = manifest.num_samples;
  const int64_t modality_count = static_cast<int64_t>(manifest.modalities.size());
  auto bytes = [](auto span) { return std::as_bytes(span); };
  // Largest element size first keeps every tensor aligned in the file.
  std::vector<protocol::TensorView> views = {
      {"label", v1::DATA_TYPE_INT64, {samples}, bytes(columns.label)},
      {"group", v1::DATA_TYPE_INT64, {samples}, bytes(columns.group)},
      {"language", v1::DATA_TYPE_INT64, {samples}, bytes(columns.language)},
  };
  for (size_t m = 0; m < manifest.modalities.size(); ++m) {
    if (HasFrames(manifest.modalities[m].kind)) {
      views.push_back({LengthsName(manifest.modalities[m]),
                       v1::DATA_TYPE_INT64,
                       {samples},
                       bytes(columns.lengths[m])});
    }
  }
  for (const v1::DataType type :
       {v1::DATA_TYPE_FLOAT32, v1::DATA_TYPE_INT32, v1::DATA_TYPE_FLOAT16, v1::DATA_TYPE_UINT8}) {
    for (size_t m = 0; m < manifest.modalities.size(); ++m) {
      const ShardModality& modality = manifest.modalities[m];
      if (StoredType(modality) != type) continue;
      views.push_back(
          {modality.name, type, modality.Shape(samples), StoredBytes(columns, m, type)});
    }
  }
  views.push_back(
      {"present", v1::DATA_TYPE_UINT8, {samples, modality_count}, bytes(columns.present)});
  views.push_back({"split", v1::DATA_TYPE_UINT8, {samples}, bytes(columns.split)});

  const std::filesystem::path folder(dir);
  EQUIFL_RETURN_IF_ERROR(
      protocol::WriteSafetensors((folder / kDataFile).string(), views, {{"format", kFormat}}));
  const std::string text = manifest.ToJson();
  const std::span<const std::byte> piece = std::as_bytes(std::span(text));
  return protocol::WriteFileAtomically((folder / kManifestFile).string(), {&piece, 1});
}

ShardCounts CountShard(const ShardManifest& manifest, const ShardColumns& columns) {
  ShardCounts counts;
  counts.per_label.assign(manifest.labels.size(), SplitCounts{});
  counts.per_group.assign(manifest.groups.size(), SplitCounts{});
  counts.per_language.assign(manifest.languages.size(), SplitCounts{});
  counts.present.assign(manifest.modalities.size(), SplitCounts{});
  const size_t modality_count = manifest.modalities.size();
  for (size_t row = 0; row < columns.split.size(); ++row) {
    const int split = columns.split[row];
    ++counts.samples[split];
    ++counts.per_label[columns.label[row]][split];
    ++counts.per_group[columns.group[row]][split];
    ++counts.per_language[columns.language[row]][split];
    for (size_t m = 0; m < modality_count; ++m) {
      counts.present[m][split] += columns.present[row * modality_count + m];
    }
  }
  return counts;
}

absl::StatusOr<Shard> Shard::Open(const std::string& dir, const ShardOpenOptions& options) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  const std::filesystem::path folder(dir);
  const std::string manifest_path = (folder / kManifestFile).string();
  std::error_code missing;
  if (!std::filesystem::is_directory(folder, missing)) {
    return absl::NotFoundError(absl::StrCat("shard folder ", dir, " does not exist"));
  }
  if (!std::filesystem::exists(manifest_path, missing)) {
    return absl::NotFoundError(absl::StrCat(
        dir, " has no readable ", kManifestFile,
        "; a shard folder holds manifest.json and data.safetensors (equifl data synth and "
        "equifl data import write them)"));
  }
  EQUIFL_ASSIGN_OR_RETURN(ShardManifest manifest, ShardManifest::ReadFile(manifest_path));
  const std::string data_path = (folder / kDataFile).string();
  EQUIFL_ASSIGN_OR_RETURN(protocol::SafetensorsFile file,
                          protocol::SafetensorsFile::Open(data_path, options.limits));
  Shard shard(dir, std::move(manifest), std::move(file));
  auto error = [&](absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat("shard ", dir, ": ", message));
  };

  // Exactly the tensors the manifest describes, with its types and shapes.
  const ShardManifest& m = shard.manifest_;
  const int64_t samples = m.num_samples;
  struct Expected {
    std::string name;
    v1::DataType data_type;
    std::vector<int64_t> shape;
  };
  std::vector<Expected> expected = {
      {"label", v1::DATA_TYPE_INT64, {samples}},
      {"group", v1::DATA_TYPE_INT64, {samples}},
      {"language", v1::DATA_TYPE_INT64, {samples}},
      {"split", v1::DATA_TYPE_UINT8, {samples}},
      {"present", v1::DATA_TYPE_UINT8, {samples, static_cast<int64_t>(m.modalities.size())}},
  };
  for (const ShardModality& modality : m.modalities) {
    expected.push_back({modality.name, StoredType(modality), modality.Shape(samples)});
    if (HasFrames(modality.kind)) {
      expected.push_back({LengthsName(modality), v1::DATA_TYPE_INT64, {samples}});
    }
  }
  std::set<std::string> expected_names;
  for (const Expected& want : expected) {
    expected_names.insert(want.name);
    const protocol::TensorView* view = shard.file_.Find(want.name);
    if (view == nullptr) {
      return error(absl::StrCat(kDataFile, " has no tensor '", want.name, "', which the manifest ",
                                "implies (", protocol::DataTypeName(want.data_type), " ",
                                protocol::ShapeToString(want.shape), ")"));
    }
    if (view->data_type != want.data_type || view->shape != want.shape) {
      return error(absl::StrCat(
          "tensor '", want.name, "' is ", protocol::DataTypeName(view->data_type), " ",
          protocol::ShapeToString(view->shape), "; the manifest implies ",
          protocol::DataTypeName(want.data_type), " ", protocol::ShapeToString(want.shape)));
    }
  }
  for (const protocol::TensorView& view : shard.file_.tensors()) {
    if (!expected_names.contains(view.name)) {
      return error(absl::StrCat(kDataFile, " has tensor '", view.name,
                                "', which the manifest does not describe"));
    }
  }

  ShardColumns& columns = shard.columns_;
  auto& realigned = shard.realigned_;
  const protocol::SafetensorsFile& mapped = shard.file_;
  for (const ShardModality& modality : m.modalities) {
    const bool tokens = modality.kind == ModalityKind::kTokens;
    const bool images = modality.kind == ModalityKind::kImages;
    const bool halves = modality.IsHalf();
    columns.features.push_back(tokens || images || halves
                                   ? std::span<const float>()
                                   : TypedSpan<float>(*mapped.Find(modality.name), realigned));
    columns.halves.push_back(halves ? TypedSpan<uint16_t>(*mapped.Find(modality.name), realigned)
                                    : std::span<const uint16_t>());
    columns.tokens.push_back(tokens ? TypedSpan<int32_t>(*mapped.Find(modality.name), realigned)
                                    : std::span<const int32_t>());
    columns.images.push_back(images ? TypedSpan<uint8_t>(*mapped.Find(modality.name), realigned)
                                    : std::span<const uint8_t>());
    columns.lengths.push_back(
        HasFrames(modality.kind)
            ? TypedSpan<int64_t>(*mapped.Find(LengthsName(modality)), realigned)
            : std::span<const int64_t>());
  }
  columns.present = TypedSpan<uint8_t>(*mapped.Find("present"), realigned);
  columns.label = TypedSpan<int64_t>(*mapped.Find("label"), realigned);
  columns.group = TypedSpan<int64_t>(*mapped.Find("group"), realigned);
  columns.language = TypedSpan<int64_t>(*mapped.Find("language"), realigned);
  columns.split = TypedSpan<uint8_t>(*mapped.Find("split"), realigned);
  if (absl::Status status = ValidateShardColumns(m, columns, options.check_finite_features);
      !status.ok()) {
    return error(status.message());
  }
  return shard;
}

absl::StatusOr<std::vector<std::string>> FindShards(const std::string& dir) {
  const std::filesystem::path folder(dir);
  std::error_code error;
  if (std::filesystem::exists(folder / kManifestFile, error)) return std::vector<std::string>{dir};
  if (!std::filesystem::is_directory(folder, error)) {
    return absl::NotFoundError(absl::StrCat(dir, " is not a folder"));
  }
  std::vector<std::string> shards;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / kManifestFile)) {
      shards.push_back(entry.path().string());
    }
  }
  if (error) return protocol::FileError("list", dir, error.value());
  if (shards.empty()) {
    return absl::NotFoundError(
        absl::StrCat(dir, " holds no shard: neither ", kManifestFile, " nor sub-folders with one"));
  }
  std::sort(shards.begin(), shards.end());
  return shards;
}

std::string ClientShardName(int index) { return absl::StrFormat("client-%03d", index); }

}  // namespace equifl::client
