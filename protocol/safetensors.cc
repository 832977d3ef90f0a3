#include "protocol/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/quoted_input.h"
#include "base/status_macros.h"
#include "protocol/file_io.h"

namespace equifl::protocol {
namespace {

using Json = nlohmann::json;

constexpr size_t kLengthBytes = 8;
constexpr char kMetadataKey[] = "__metadata__";

struct DtypeName {
  const char* dtype;
  v1::DataType data_type;
};
constexpr DtypeName kDtypes[] = {
    {"F32", v1::DATA_TYPE_FLOAT32}, {"F64", v1::DATA_TYPE_FLOAT64},
    {"F16", v1::DATA_TYPE_FLOAT16}, {"BF16", v1::DATA_TYPE_BFLOAT16},
    {"I64", v1::DATA_TYPE_INT64},   {"I32", v1::DATA_TYPE_INT32},
    {"U8", v1::DATA_TYPE_UINT8},    {"BOOL", v1::DATA_TYPE_BOOL},
};

std::string SupportedDtypes() {
  std::vector<std::string> names;
  for (const DtypeName& entry : kDtypes) names.push_back(entry.dtype);
  return absl::StrJoin(names, ", ");
}

// Reads a JSON integer that must fit a non-negative int64.
absl::StatusOr<int64_t> NonNegativeInteger(const Json& value, absl::string_view what) {
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    if (number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is ", number, ", beyond 2^63 - 1"));
    }
    return static_cast<int64_t>(number);
  }
  if (value.is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", value.get<int64_t>(), "; it must not be negative"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is ", ShowInput(value.dump()), "; it must be a non-negative integer"));
}

// One tensor of the header, before the buffer order is known.
struct Entry {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};

absl::StatusOr<Entry> ParseEntry(const std::string& name, const Json& info, uint64_t buffer_bytes) {
  const std::string where = absl::StrCat("tensor ", QuoteInput(name));
  if (!info.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " must be an object with dtype, shape and data_offsets"));
  }
  for (const auto& [key, unused] : info.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return absl::InvalidArgumentError(absl::StrCat(where, " has unknown key ", QuoteInput(key),
                                                     "; allowed keys: dtype, shape, data_offsets"));
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has no '", key, "'"));
    }
  }
  Entry entry;
  entry.view.name = name;
  const Json& dtype = info["dtype"];
  if (!dtype.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has dtype ", ShowInput(dtype.dump()),
                                                   "; it must be one of ", SupportedDtypes()));
  }
  absl::StatusOr<v1::DataType> data_type = DataTypeOfSafetensorsDtype(dtype.get<std::string>());
  if (!data_type.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", data_type.status().message()));
  }
  entry.view.data_type = *data_type;

  const Json& shape = info["shape"];
  if (!shape.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has shape ", ShowInput(shape.dump()),
                                                   "; it must be a list of integers"));
  }
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    EQUIFL_ASSIGN_OR_RETURN(
        int64_t dimension,
        NonNegativeInteger(shape[axis], absl::StrCat(where, " dimension ", axis)));
    entry.view.shape.push_back(dimension);
  }
  EQUIFL_ASSIGN_OR_RETURN(uint64_t count, ElementCount(entry.view.shape, name));
  const size_t element_size = ElementSize(entry.view.data_type);
  if (count > std::numeric_limits<uint64_t>::max() / element_size) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has shape ",
                                                   ShapeToString(entry.view.shape),
                                                   " whose byte size overflows 64 bits"));
  }
  const uint64_t expected_bytes = count * element_size;

  const Json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " has data_offsets ", ShowInput(offsets.dump()), "; it must be [begin, end]"));
  }
  EQUIFL_ASSIGN_OR_RETURN(entry.begin,
                          NonNegativeInteger(offsets[0], absl::StrCat(where, " begin offset")));
  EQUIFL_ASSIGN_OR_RETURN(entry.end,
                          NonNegativeInteger(offsets[1], absl::StrCat(where, " end offset")));
  if (entry.begin > entry.end) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has data_offsets [", entry.begin, ", ",
                                                   entry.end, "]: begin after end"));
  }
  if (entry.end > buffer_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has data_offsets [", entry.begin, ", ",
                                                   entry.end, "] beyond the data buffer of ",
                                                   buffer_bytes, " bytes"));
  }
  if (entry.end - entry.begin != expected_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " spans ", entry.end - entry.begin, " bytes but its shape ",
                     ShapeToString(entry.view.shape), " of ", dtype.get<std::string>(), " needs ",
                     expected_bytes));
  }
  return entry;
}

// Parses the header, refusing a key repeated within one object (nlohmann's parser
// would silently keep the last).
absl::StatusOr<Json> ParseHeaderJson(absl::string_view text) {
  std::vector<std::unordered_set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::exception& error) {
    std::string message = error.what();
    // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ...".
    if (const size_t end = message.find("] "); end != std::string::npos) {
      message = message.substr(end + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat("header is not valid JSON: ", message));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("header names ", QuoteInput(duplicate), " twice"));
  }
  return header;
}

}  // namespace

absl::Status SafetensorsLimits::Validate() const {
  if (max_header_bytes < 2) {
    return absl::InvalidArgumentError(absl::StrCat("max_header_bytes is ", max_header_bytes,
                                                   "; it must allow at least the header '{}'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SafetensorsDtype(v1::DataType data_type) {
  for (const DtypeName& entry : kDtypes) {
    if (entry.data_type == data_type) return std::string(entry.dtype);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(DataTypeName(data_type),
                   " cannot be stored in safetensors by equifl; supported: ", SupportedDtypes()));
}

absl::StatusOr<v1::DataType> DataTypeOfSafetensorsDtype(absl::string_view dtype) {
  for (const DtypeName& entry : kDtypes) {
    if (dtype == entry.dtype) return entry.data_type;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "dtype ", QuoteInput(dtype), " is not supported; equifl reads ", SupportedDtypes()));
}

absl::StatusOr<std::vector<TensorView>> ParseSafetensors(
    std::span<const std::byte> file_bytes, absl::string_view source,
    std::map<std::string, std::string>* metadata, const SafetensorsLimits& limits) {
  auto error = [&](absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", message));
  };
  EQUIFL_RETURN_IF_ERROR(limits.Validate());
  if (file_bytes.size() < kLengthBytes) {
    return error(absl::StrCat("truncated: the file has ", file_bytes.size(),
                              " bytes; a safetensors file starts with an 8-byte header length"));
  }
  uint64_t header_bytes = 0;
  for (size_t index = 0; index < kLengthBytes; ++index) {
    header_bytes |= static_cast<uint64_t>(file_bytes[index]) << (8 * index);
  }
  if (header_bytes > limits.max_header_bytes) {
    return error(absl::StrCat("header length ", header_bytes, " exceeds the limit of ",
                              limits.max_header_bytes,
                              " bytes; the file is damaged or not a "
                              "safetensors file"));
  }
  if (header_bytes > file_bytes.size() - kLengthBytes) {
    return error(absl::StrCat("truncated: the header length is ", header_bytes, " bytes but only ",
                              file_bytes.size() - kLengthBytes, " follow"));
  }
  const absl::string_view text(reinterpret_cast<const char*>(file_bytes.data()) + kLengthBytes,
                               header_bytes);
  if (text.empty() || text.front() != '{') {
    return error("header must be a JSON object starting with '{'");
  }
  absl::StatusOr<Json> header = ParseHeaderJson(text);
  if (!header.ok()) return error(header.status().message());
  if (!header->is_object()) return error("header must be a JSON object");

  const std::span<const std::byte> buffer = file_bytes.subspan(kLengthBytes + header_bytes);
  std::vector<Entry> entries;
  for (const auto& [name, info] : header->items()) {
    if (name == kMetadataKey) {
      if (!info.is_object()) return error("__metadata__ must be an object of strings");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) {
          return error(absl::StrCat("__metadata__ key ", QuoteInput(key), " has value ",
                                    ShowInput(value.dump()), "; values must be strings"));
        }
        if (metadata != nullptr) (*metadata)[key] = value.get<std::string>();
      }
      continue;
    }
    if (name.empty()) return error("header has a tensor with an empty name");
    absl::StatusOr<Entry> entry = ParseEntry(name, info, buffer.size());
    if (!entry.ok()) return error(entry.status().message());
    entries.push_back(*std::move(entry));
  }

  // Buffer order; each tensor must start where the previous one ended.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  uint64_t expected_begin = 0;
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin < expected_begin) {
      return error(absl::StrCat("tensor ", QuoteInput(entry.view.name), " (bytes ", entry.begin,
                                " to ", entry.end, ") overlaps tensor ",
                                QuoteInput(previous->view.name), " (bytes ", previous->begin,
                                " to ", previous->end, ")"));
    }
    if (entry.begin > expected_begin) {
      return error(absl::StrCat("the data buffer has a hole: bytes ", expected_begin, " to ",
                                entry.begin, " belong to no tensor"));
    }
    expected_begin = entry.end;
    previous = &entry;
  }
  if (expected_begin != buffer.size()) {
    return error(absl::StrCat("the data buffer has ", buffer.size(),
                              " bytes but the tensors "
                              "cover ",
                              expected_begin, "; the file has trailing bytes"));
  }
  std::vector<TensorView> views;
  views.reserve(entries.size());
  for (Entry& entry : entries) {
    entry.view.bytes = buffer.subspan(entry.begin, entry.end - entry.begin);
    views.push_back(std::move(entry.view));
  }
  return views;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path,
                                                      const SafetensorsLimits& limits) {
  SafetensorsFile file;
  file.path_ = path;
  // Mapped, not read: no limit on the size, only on the header (ParseSafetensors).
  absl::StatusOr<RegularFile> opened = RegularFile::Open(path, UINT64_MAX);
  if (!opened.ok()) return opened.status();
  file.mapping_bytes_ = static_cast<size_t>(opened->size());
  if (file.mapping_bytes_ > 0) {
    void* mapping =
        ::mmap(nullptr, file.mapping_bytes_, PROT_READ, MAP_PRIVATE, opened->descriptor(), 0);
    if (mapping == MAP_FAILED) return FileError("map", path, errno);
    file.mapping_ = mapping;
  }
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(file.mapping_),
                                         file.mapping_bytes_);
  EQUIFL_ASSIGN_OR_RETURN(file.tensors_, ParseSafetensors(bytes, path, &file.metadata_, limits));
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept { *this = std::move(other); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    Unmap();
    path_ = std::move(other.path_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
    tensors_ = std::move(other.tensors_);
    metadata_ = std::move(other.metadata_);
    other.tensors_.clear();
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { Unmap(); }

void SafetensorsFile::Unmap() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
  mapping_bytes_ = 0;
}

const TensorView* SafetensorsFile::Find(absl::string_view name) const {
  for (const TensorView& view : tensors_) {
    if (view.name == name) return &view;
  }
  return nullptr;
}

absl::StatusOr<TensorView> SafetensorsFile::Get(absl::string_view name) const {
  if (const TensorView* view = Find(name)) return *view;
  return absl::NotFoundError(absl::StrCat(path_, " has no tensor '", name, "'"));
}

absl::Status WriteSafetensors(const std::string& path, std::span<const TensorView> tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorView& tensor : tensors) {
    if (tensor.name.empty() || tensor.name == kMetadataKey) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot write a tensor named '", tensor.name, "' to ", path));
    }
    if (!names.insert(tensor.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot write tensor '", tensor.name, "' twice to ", path));
    }
    EQUIFL_ASSIGN_OR_RETURN(std::string dtype, SafetensorsDtype(tensor.data_type));
    EQUIFL_ASSIGN_OR_RETURN(uint64_t count, ElementCount(tensor.shape, tensor.name));
    const size_t element_size = ElementSize(tensor.data_type);
    if (count > tensor.bytes.size() / element_size || tensor.bytes.size() != count * element_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor.name, "' has ", tensor.bytes.size(), " bytes but its shape ",
          ShapeToString(tensor.shape), " of ", dtype, " needs ", count * element_size));
    }
    header[tensor.name] = {{"dtype", dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + tensor.bytes.size()}}};
    offset += tensor.bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write ", path, ": tensor names and metadata must be valid UTF-8 (",
                     error.what(), ")"));
  }
  text.append((kLengthBytes - text.size() % kLengthBytes) % kLengthBytes, ' ');
  std::string prefix(kLengthBytes, '\0');
  for (size_t index = 0; index < kLengthBytes; ++index) {
    prefix[index] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * index)) & 0xff);
  }

  std::vector<std::span<const std::byte>> pieces = {std::as_bytes(std::span(prefix)),
                                                    std::as_bytes(std::span(text))};
  for (const TensorView& tensor : tensors) pieces.push_back(tensor.bytes);
  return WriteFileAtomically(path, pieces);
}

}  // namespace equifl::protocol
