#include "client/data/npy_file.h"

#include <cstring>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/quoted_input.h"
#include "protocol/file_io.h"

namespace equifl::client {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr int64_t kMaxBytes = std::numeric_limits<int64_t>::max() / 2;

struct TypeInfo {
  NpyType type;
  const char* descr;
  int64_t item_size;
};
constexpr TypeInfo kTypes[] = {
    {NpyType::kFloat32, "<f4", 4}, {NpyType::kFloat64, "<f8", 8}, {NpyType::kInt64, "<i8", 8},
    {NpyType::kInt32, "<i4", 4},   {NpyType::kUint8, "|u1", 1},   {NpyType::kBool, "|b1", 1},
};

const TypeInfo& InfoOf(NpyType type) {
  for (const TypeInfo& info : kTypes) {
    if (info.type == type) return info;
  }
  return kTypes[0];
}

// A recursive-descent reader of the header's dict literal: string keys; values that
// are strings, True/False or tuples of non-negative integers.
class HeaderParser {
 public:
  HeaderParser(absl::string_view text, absl::string_view source) : text_(text), source_(source) {}

  absl::StatusOr<NpyHeader> Parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{' at the start");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      std::optional<std::string> key = String();
      if (!key) return Error("expected a quoted key or '}'");
      SkipSpace();
      if (!Consume(':')) return Error(absl::StrCat("expected ':' after ", QuoteInput(*key)));
      SkipSpace();
      if (*key == "descr") {
        if (seen_descr) return Error("'descr' appears twice");
        seen_descr = true;
        if (Peek() == '[' || Peek() == '(') {
          return Error(
              absl::StrCat("'descr' is a structured type (a list of fields), which is "
                           "not supported; supported: ",
                           SupportedNpyTypes()));
        }
        std::optional<std::string> descr = String();
        if (!descr) return Error("'descr' must be a quoted type string such as '<f4'");
        bool known = false;
        for (const TypeInfo& info : kTypes) {
          if (*descr == info.descr) {
            header.type = info.type;
            known = true;
          }
        }
        if (!known) {
          return absl::InvalidArgumentError(absl::StrCat(
              source_, ": element type ", QuoteInput(*descr), " is not supported; supported: ",
              SupportedNpyTypes(), " (convert in Python with array.astype('<f4') or '<i8')"));
        }
      } else if (*key == "fortran_order") {
        if (seen_order) return Error("'fortran_order' appears twice");
        seen_order = true;
        if (ConsumeWord("True")) {
          header.fortran_order = true;
        } else if (ConsumeWord("False")) {
          header.fortran_order = false;
        } else {
          return Error("'fortran_order' must be True or False");
        }
      } else if (*key == "shape") {
        if (seen_shape) return Error("'shape' appears twice");
        seen_shape = true;
        absl::Status status = Shape(header.shape);
        if (!status.ok()) return status;
      } else {
        return Error(absl::StrCat("unknown key ", QuoteInput(*key),
                                  "; a .npy header has descr, fortran_order, shape"));
      }
      SkipSpace();
      if (Consume(',')) continue;
      SkipSpace();
      if (Consume('}')) break;
      return Error("expected ',' or '}' after a value");
    }
    SkipSpace();
    if (position_ != text_.size()) return Error("text after the closing '}'");
    for (auto [seen, name] :
         {std::pair{seen_descr, "descr"}, std::pair{seen_order, "fortran_order"},
          std::pair{seen_shape, "shape"}}) {
      if (!seen) {
        return absl::InvalidArgumentError(absl::StrCat(source_, ": the .npy header has no '", name,
                                                       "'; it is not a valid "
                                                       ".npy file (write it with numpy.save)"));
      }
    }
    if (header.fortran_order) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_,
          ": the array is stored in Fortran (column-major) order, which is not supported; save "
          "numpy.ascontiguousarray(array) instead"));
    }
    return header;
  }

 private:
  char Peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++position_;
    return true;
  }
  bool ConsumeWord(absl::string_view word) {
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }
  void SkipSpace() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\n' ||
                                        text_[position_] == '\t' || text_[position_] == '\r')) {
      ++position_;
    }
  }
  // A '...' or "..." literal without escapes.
  std::optional<std::string> String() {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return std::nullopt;
    const size_t end = text_.find(quote, position_ + 1);
    if (end == absl::string_view::npos) return std::nullopt;
    std::string value(text_.substr(position_ + 1, end - position_ - 1));
    if (value.find('\\') != std::string::npos) return std::nullopt;
    position_ = end + 1;
    return value;
  }
  // (), (n,), (n, m), ... of non-negative integers; Python 2's "3L" is accepted.
  absl::Status Shape(std::vector<int64_t>& shape) {
    if (!Consume('(')) return Error("'shape' must be a tuple such as (3, 4)");
    SkipSpace();
    if (Consume(')')) return absl::OkStatus();
    while (true) {
      SkipSpace();
      if (Peek() == '-') return Error("'shape' has a negative size");
      if (Peek() < '0' || Peek() > '9') return Error("'shape' must hold integers");
      int64_t value = 0;
      while (Peek() >= '0' && Peek() <= '9') {
        if (value > (kMaxBytes - 9) / 10) return Error("a size in 'shape' is too large");
        value = value * 10 + (Peek() - '0');
        ++position_;
      }
      Consume('L');
      shape.push_back(value);
      SkipSpace();
      if (Consume(',')) {
        SkipSpace();
        if (Consume(')')) return absl::OkStatus();
        continue;
      }
      if (Consume(')')) {
        if (shape.size() == 1) return Error("a one-element 'shape' needs a comma, as in (3,)");
        return absl::OkStatus();
      }
      return Error("expected ',' or ')' in 'shape'");
    }
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": the .npy header is malformed at character ", position_, ": ", what,
        "; the header is: ", ShowInput(text_, 200), "; write the file with numpy.save"));
  }

  absl::string_view text_;
  absl::string_view source_;
  size_t position_ = 0;
};

// OK when `array` holds exactly the bytes its header describes (ParseNpy makes sure;
// a hand-built NpyArray may not).
absl::Status CheckDataSize(const NpyArray& array) {
  int64_t needed = InfoOf(array.header.type).item_size;
  for (int64_t dim : array.header.shape) {
    if (dim < 0 || (dim != 0 && needed > kMaxBytes / dim)) {
      return absl::InvalidArgumentError(absl::StrCat(array.source, ": the shape is invalid"));
    }
    needed *= dim;
  }
  if (needed != static_cast<int64_t>(array.data.size())) {
    return absl::InvalidArgumentError(absl::StrCat(array.source, ": the array holds ",
                                                   array.data.size(),
                                                   " data bytes; its shape and "
                                                   "type need ",
                                                   needed));
  }
  return absl::OkStatus();
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace

std::string NpyTypeName(NpyType type) { return InfoOf(type).descr; }

std::string SupportedNpyTypes() {
  std::vector<std::string> names;
  for (const TypeInfo& info : kTypes) names.push_back(info.descr);
  return absl::StrJoin(names, ", ");
}

int64_t NpyArray::size() const {
  int64_t count = 1;
  for (int64_t dim : header.shape) count *= dim;
  return count;
}

std::string NpyArray::ShapeString() const { return ShapeText(header.shape); }

absl::StatusOr<std::vector<float>> NpyArray::ToFloat32() const {
  if (absl::Status status = CheckDataSize(*this); !status.ok()) return status;
  const int64_t count = size();
  std::vector<float> values(static_cast<size_t>(count));
  if (header.type == NpyType::kFloat32) {
    if (count > 0) std::memcpy(values.data(), data.data(), values.size() * sizeof(float));
  } else if (header.type == NpyType::kFloat64) {
    for (int64_t index = 0; index < count; ++index) {
      double value = 0;
      std::memcpy(&value, data.data() + index * sizeof(double), sizeof(double));
      values[index] = static_cast<float>(value);
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " holds ", NpyTypeName(header.type),
        " values; features must be floating point (<f4 or <f8); convert in Python with "
        "array.astype('float32')"));
  }
  return values;
}

absl::StatusOr<std::vector<int64_t>> NpyArray::ToInt64() const {
  if (absl::Status status = CheckDataSize(*this); !status.ok()) return status;
  const int64_t count = size();
  std::vector<int64_t> values(static_cast<size_t>(count));
  for (int64_t index = 0; index < count; ++index) {
    switch (header.type) {
      case NpyType::kInt64:
        std::memcpy(&values[index], data.data() + index * 8, 8);
        break;
      case NpyType::kInt32: {
        int32_t value = 0;
        std::memcpy(&value, data.data() + index * 4, 4);
        values[index] = value;
        break;
      }
      case NpyType::kUint8:
        values[index] = static_cast<uint8_t>(data[index]);
        break;
      case NpyType::kBool: {
        const uint8_t value = static_cast<uint8_t>(data[index]);
        if (value > 1) {
          return absl::InvalidArgumentError(absl::StrCat(source, ": bool element ", index,
                                                         " is the byte ", value,
                                                         ", not 0 or 1; the file is damaged"));
        }
        values[index] = value;
        break;
      }
      case NpyType::kFloat32:
      case NpyType::kFloat64:
        return absl::InvalidArgumentError(absl::StrCat(
            source, " holds ", NpyTypeName(header.type),
            " values; labels, groups and languages must be integers (<i8, <i4, |u1 or |b1); "
            "convert in Python with array.astype('int64')"));
    }
  }
  return values;
}

absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view bytes, absl::string_view source) {
  if (bytes.size() < kMagicSize + 2 || bytes.substr(0, kMagicSize) != kMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     " is not a .npy file: it does not start with \"\\x93NUMPY\"; save arrays "
                     "with numpy.save (not savez or savetxt)"));
  }
  NpyHeader header;
  header.major_version = static_cast<uint8_t>(bytes[6]);
  header.minor_version = static_cast<uint8_t>(bytes[7]);
  if (header.major_version < 1 || header.major_version > 3 || header.minor_version != 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, " has .npy format version ",
                                                   header.major_version, ".", header.minor_version,
                                                   "; supported: 1.0, 2.0, 3.0"));
  }
  const size_t length_size = header.major_version == 1 ? 2 : 4;
  if (bytes.size() < kMagicSize + 2 + length_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " is truncated: it ends inside the .npy preamble"));
  }
  uint64_t header_length = 0;
  for (size_t byte = 0; byte < length_size; ++byte) {
    header_length |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[8 + byte])) << (8 * byte);
  }
  const size_t header_begin = kMagicSize + 2 + length_size;
  if (header_length > bytes.size() - header_begin) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " is truncated: its .npy header is ", header_length,
                     " bytes, but only ", bytes.size() - header_begin, " follow the preamble"));
  }
  absl::StatusOr<NpyHeader> parsed =
      HeaderParser(bytes.substr(header_begin, header_length), source).Parse();
  if (!parsed.ok()) return parsed.status();
  parsed->major_version = header.major_version;
  parsed->minor_version = header.minor_version;
  parsed->data_offset = static_cast<int64_t>(header_begin + header_length);
  return parsed;
}

absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view source) {
  NpyArray array;
  array.source = std::string(source);
  absl::StatusOr<NpyHeader> header = ParseNpyHeader(bytes, source);
  if (!header.ok()) return header.status();
  array.header = *std::move(header);
  int64_t needed = InfoOf(array.header.type).item_size;
  for (int64_t dim : array.header.shape) {
    if (dim != 0 && needed > kMaxBytes / dim) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": shape ", ShapeText(array.header.shape), " is too large to be real"));
    }
    needed *= dim;
  }
  const int64_t available = static_cast<int64_t>(bytes.size()) - array.header.data_offset;
  const std::string what =
      absl::StrCat("shape ", ShapeText(array.header.shape), " of ", NpyTypeName(array.header.type),
                   " needs ", needed, " data bytes, but the file has ", available);
  if (available < needed) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " is truncated: ", what, "; write it again with numpy.save"));
  }
  if (available > needed) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " does not match its header: ", what,
                     "; the shape in the header is wrong or data was appended; write it again with "
                     "numpy.save"));
  }
  array.data.assign(bytes.begin() + array.header.data_offset, bytes.end());
  return array;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path, uint64_t max_bytes) {
  absl::StatusOr<std::string> bytes = protocol::ReadRegularFile(path, max_bytes);
  if (!bytes.ok()) return bytes.status();
  return ParseNpy(*bytes, path);
}

}  // namespace equifl::client
