// SafetensorsFile against files whose bytes the tests lay out by hand, so the reader
// is checked against the format rather than against our own writer; then the
// writer, by round trip.
#include "protocol/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::protocol {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

// A fresh folder per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  // Writes `bytes` to a file in the folder and returns its path.
  std::string WriteBytes(const std::string& bytes, const std::string& name = "t.safetensors") {
    const std::string path = (folder_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // The 8-byte length, `header`, then `buffer`.
  static std::string FileBytes(const std::string& header, const std::string& buffer) {
    return LengthPrefix(header.size()) + header + buffer;
  }

  static std::string LengthPrefix(uint64_t length) {
    std::string prefix(8, '\0');
    for (int index = 0; index < 8; ++index)
      prefix[index] = static_cast<char>(length >> (8 * index));
    return prefix;
  }

  // Opens a file laid out from `header` and `buffer` and returns the error message.
  std::string OpenError(const std::string& header, const std::string& buffer) {
    const std::string path = WriteBytes(FileBytes(header, buffer));
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
    EXPECT_FALSE(file.ok()) << header;
    if (file.ok()) return "";
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << file.status();
    EXPECT_THAT(file.status().message(), HasSubstr(path));
    return std::string(file.status().message());
  }

  const test::TemporaryFolder temporary_{"safetensors"};
  const std::filesystem::path& folder_ = temporary_.path();
};

template <typename T>
std::string Raw(std::initializer_list<T> values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), std::data(values), bytes.size());
  return bytes;
}

template <typename T>
std::vector<T> Values(const TensorView& view) {
  std::vector<T> values(view.bytes.size() / sizeof(T));
  std::memcpy(values.data(), view.bytes.data(), view.bytes.size());
  return values;
}

TEST_F(SafetensorsTest, ReadsAHandMadeFileWithoutCopying) {
  // Header lists the tensors out of buffer order; the buffer holds ids, then weights.
  const std::string header = R"({"weights":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40]},)"
                             R"("ids":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},)"
                             R"("__metadata__":{"format":"pt","owner":"clinic-7"}})";
  const std::string buffer = Raw<int64_t>({-1, 0, int64_t{1} << 40}) + Raw<float>({1.5f, -2, 0, 3});
  const std::string path = WriteBytes(FileBytes(header, buffer));
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_THAT(file, IsOk());
  ASSERT_EQ(file->tensors().size(), 2u);
  const TensorView& ids = file->tensors()[0];
  EXPECT_EQ(ids.name, "ids");
  EXPECT_EQ(ids.data_type, v1::DATA_TYPE_INT64);
  EXPECT_EQ(ids.shape, std::vector<int64_t>({3}));
  EXPECT_EQ(Values<int64_t>(ids), std::vector<int64_t>({-1, 0, int64_t{1} << 40}));
  absl::StatusOr<TensorView> weights = file->Get("weights");
  ASSERT_THAT(weights, IsOk());
  EXPECT_EQ(weights->data_type, v1::DATA_TYPE_FLOAT32);
  EXPECT_EQ(weights->shape, std::vector<int64_t>({2, 2}));
  EXPECT_EQ(Values<float>(*weights), std::vector<float>({1.5f, -2, 0, 3}));
  // The views point into one mapping: ids' bytes end where weights' begin.
  EXPECT_EQ(ids.bytes.data() + 24, weights->bytes.data());
  EXPECT_EQ(file->metadata().at("owner"), "clinic-7");
  EXPECT_EQ(file->Find("missing"), nullptr);
  EXPECT_EQ(file->Get("missing").status().code(), absl::StatusCode::kNotFound);

  // Moving the file keeps the views valid.
  const std::byte* data = file->tensors()[0].bytes.data();
  SafetensorsFile moved = *std::move(file);
  EXPECT_EQ(moved.tensors()[0].bytes.data(), data);
  EXPECT_EQ(Values<int64_t>(moved.tensors()[0])[2], int64_t{1} << 40);
}

TEST_F(SafetensorsTest, MapsEverySupportedDtype) {
  const std::pair<const char*, v1::DataType> cases[] = {
      {"F32", v1::DATA_TYPE_FLOAT32}, {"F64", v1::DATA_TYPE_FLOAT64},
      {"F16", v1::DATA_TYPE_FLOAT16}, {"BF16", v1::DATA_TYPE_BFLOAT16},
      {"I64", v1::DATA_TYPE_INT64},   {"I32", v1::DATA_TYPE_INT32},
      {"U8", v1::DATA_TYPE_UINT8},    {"BOOL", v1::DATA_TYPE_BOOL}};
  for (const auto& [dtype, data_type] : cases) {
    const size_t bytes = 2 * ElementSize(data_type);
    const std::string header = std::string(R"({"x":{"dtype":")") + dtype +
                               R"(","shape":[2],"data_offsets":[0,)" + std::to_string(bytes) +
                               "]}}";
    const std::string path = WriteBytes(FileBytes(header, std::string(bytes, '\1')));
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
    ASSERT_THAT(file, IsOk()) << dtype << ": " << file.status();
    EXPECT_EQ(file->tensors()[0].data_type, data_type) << dtype;
    EXPECT_EQ(*SafetensorsDtype(data_type), dtype);
  }
  EXPECT_FALSE(SafetensorsDtype(v1::DATA_TYPE_UNSPECIFIED).ok());
}

TEST_F(SafetensorsTest, AcceptsEmptyScalarAndPaddedHeaders) {
  // Zero-element tensor, scalar, header padded with spaces, no tensors at all.
  const std::string header = R"({"none":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
                             R"("scalar":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}    )";
  const std::string path = WriteBytes(FileBytes(header, Raw<double>({2.5})));
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->Find("none")->bytes.size(), 0u);
  EXPECT_EQ(Values<double>(*file->Find("scalar")), std::vector<double>({2.5}));

  absl::StatusOr<SafetensorsFile> empty =
      SafetensorsFile::Open(WriteBytes(FileBytes("{}", ""), "empty.safetensors"));
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->tensors().empty());
}

TEST_F(SafetensorsTest, RefusesFilesTooShortForTheLengthOrTheHeader) {
  for (const std::string& bytes : {std::string(), std::string("\x10\0\0", 3)}) {
    const std::string path = WriteBytes(bytes);
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
    ASSERT_FALSE(file.ok());
    EXPECT_THAT(file.status().message(), HasSubstr("truncated"));
    EXPECT_THAT(file.status().message(), HasSubstr("8-byte header length"));
  }
  // The length says 100 bytes of header; 10 follow.
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Open(WriteBytes(LengthPrefix(100) + "{\"a\": 1}  "));
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(),
              HasSubstr("truncated: the header length is 100 bytes but only 10 follow"));
}

TEST_F(SafetensorsTest, RefusesAHeaderLengthAboveTheLimit) {
  absl::StatusOr<SafetensorsFile> huge =
      SafetensorsFile::Open(WriteBytes(LengthPrefix(uint64_t{1} << 62) + "{}"));
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(), HasSubstr("exceeds the limit of 100000000 bytes"));

  SafetensorsLimits limits;
  limits.max_header_bytes = 16;
  const std::string header = R"({"__metadata__":{"k":"a long value"}})";
  absl::StatusOr<SafetensorsFile> small =
      SafetensorsFile::Open(WriteBytes(FileBytes(header, "")), limits);
  ASSERT_FALSE(small.ok());
  EXPECT_THAT(small.status().message(),
              HasSubstr("header length 37 exceeds the limit of 16 bytes"));
}

TEST_F(SafetensorsTest, RefusesInvalidJson) {
  EXPECT_THAT(OpenError(R"({"x": {"dtype": "F32",}})", ""), HasSubstr("header is not valid JSON"));
  EXPECT_THAT(OpenError(R"([1, 2])", ""), HasSubstr("must be a JSON object"));
  EXPECT_THAT(OpenError(R"({"x": 3})", ""),
              HasSubstr("tensor 'x' must be an object with dtype, shape and data_offsets"));
  EXPECT_THAT(OpenError(R"({"__metadata__": {"k": 1}})", ""),
              HasSubstr("__metadata__ key 'k' has value 1; values must be strings"));
}

TEST_F(SafetensorsTest, RefusesUnknownAndUnsupportedDtypes) {
  for (const char* dtype : {"F8_E4M3", "I8", "float32", ""}) {
    const std::string header =
        std::string(R"({"x":{"dtype":")") + dtype + R"(","shape":[1],"data_offsets":[0,1]}})";
    const std::string message = OpenError(header, std::string(1, '\0'));
    EXPECT_THAT(message, HasSubstr(std::string("tensor 'x': dtype '") + dtype +
                                   "' is not supported; equifl reads F32, F64, F16, BF16, I64, "
                                   "I32, U8, BOOL"));
  }
  EXPECT_THAT(OpenError(R"({"x":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "1234"),
              HasSubstr("tensor 'x' has dtype 4"));
}

TEST_F(SafetensorsTest, RefusesBadShapes) {
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}})", ""),
              HasSubstr("tensor 'x' dimension 1 is -1; it must not be negative"));
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", "1234"),
              HasSubstr("tensor 'x' dimension 0 is 1.5; it must be a non-negative integer"));
  EXPECT_THAT(
      OpenError(R"({"x":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]}})",
                "1234"),
      HasSubstr("beyond 2^63 - 1"));
  EXPECT_THAT(
      OpenError(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
                "1234"),
      HasSubstr("element count overflows 64 bits"));
  EXPECT_THAT(
      OpenError(R"({"x":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})",
                "1234"),
      HasSubstr("byte size overflows 64 bits"));
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":3,"data_offsets":[0,4]}})", "1234"),
              HasSubstr("tensor 'x' has shape 3; it must be a list of integers"));
}

TEST_F(SafetensorsTest, RefusesMissingAndUnknownKeys) {
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","data_offsets":[0,4]}})", "1234"),
              HasSubstr("tensor 'x' has no 'shape'"));
  EXPECT_THAT(
      OpenError(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"stride":[1]}})", "1234"),
      HasSubstr("tensor 'x' has unknown key 'stride'"));
  EXPECT_THAT(OpenError(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "1234"),
              HasSubstr("empty name"));
}

TEST_F(SafetensorsTest, RefusesOffsetsOutsideTheBufferOrNotMatchingTheShape) {
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"),
              HasSubstr("tensor 'x' has data_offsets [0, 8] beyond the data buffer of 4 bytes"));
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "1234"),
              HasSubstr("tensor 'x' spans 4 bytes but its shape [2] of F32 needs 8"));
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "1234"),
              HasSubstr("begin after end"));
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", "1234"),
              HasSubstr("tensor 'x' begin offset is -4"));
  EXPECT_THAT(OpenError(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "1234"),
              HasSubstr("it must be [begin, end]"));
}

TEST_F(SafetensorsTest, RefusesOverlapsHolesAndTrailingBytes) {
  EXPECT_THAT(OpenError(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        std::string(12, 'x')),
              HasSubstr("tensor 'b' (bytes 4 to 12) overlaps tensor 'a' (bytes 0 to 8)"));
  // Two names for the same bytes are an overlap too.
  EXPECT_THAT(OpenError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                        std::string(4, 'x')),
              HasSubstr("overlaps"));
  EXPECT_THAT(OpenError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                        std::string(12, 'x')),
              HasSubstr("the data buffer has a hole: bytes 4 to 8 belong to no tensor"));
  EXPECT_THAT(
      OpenError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, 'x')),
      HasSubstr("hole: bytes 0 to 4"));
  EXPECT_THAT(
      OpenError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(6, 'x')),
      HasSubstr("the data buffer has 6 bytes but the tensors cover 4"));
}

TEST_F(SafetensorsTest, RefusesDuplicateNames) {
  EXPECT_THAT(OpenError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        std::string(8, 'x')),
              HasSubstr("header names 'a' twice"));
  EXPECT_THAT(OpenError(R"({"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                        std::string(4, 'x')),
              HasSubstr("header names 'dtype' twice"));
}

TEST_F(SafetensorsTest, RefusesATruncatedFile) {
  std::vector<float> values(16, 1.0f);
  const TensorView view{"x", v1::DATA_TYPE_FLOAT32, {16}, std::as_bytes(std::span(values))};
  const std::string path = (folder_ / "whole.safetensors").string();
  ASSERT_THAT(WriteSafetensors(path, {&view, 1}), IsOk());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(),
              HasSubstr("tensor 'x' has data_offsets [0, 64] beyond the data buffer of 54 bytes"));
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open((folder_ / "nope").string());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr("nope"));
}

TEST_F(SafetensorsTest, RoundTripKeepsOrderBytesAndMetadata) {
  std::vector<int64_t> ids = {1, -2, 3, int64_t{1} << 50};
  std::vector<float> weights = {0.5f, -1.25f, 3e38f, -0.0f, 1e-40f, 7};
  std::vector<uint16_t> halves = {0x3c00, 0x8001};
  std::vector<uint8_t> mask = {1, 0, 1};
  std::vector<double> scalar = {3.25};
  const std::vector<TensorView> tensors = {
      {"ids", v1::DATA_TYPE_INT64, {2, 2}, std::as_bytes(std::span(ids))},
      {"weights", v1::DATA_TYPE_FLOAT32, {3, 2}, std::as_bytes(std::span(weights))},
      {"half", v1::DATA_TYPE_FLOAT16, {2}, std::as_bytes(std::span(halves))},
      {"brain", v1::DATA_TYPE_BFLOAT16, {2}, std::as_bytes(std::span(halves))},
      {"mask", v1::DATA_TYPE_BOOL, {3}, std::as_bytes(std::span(mask))},
      {"empty", v1::DATA_TYPE_INT32, {0}, {}},
      {"scalar", v1::DATA_TYPE_FLOAT64, {}, std::as_bytes(std::span(scalar))},
  };
  const std::map<std::string, std::string> metadata = {{"format", "equifl-test"},
                                                       {"note", "ünïcödé \"quoted\""}};
  const std::string path = (folder_ / "round.safetensors").string();
  // Twice: the second write replaces the first.
  ASSERT_THAT(WriteSafetensors(path, {}, {}), IsOk());
  ASSERT_THAT(WriteSafetensors(path, tensors, metadata), IsOk());

  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->metadata(), metadata);
  ASSERT_EQ(file->tensors().size(), tensors.size());
  for (size_t index = 0; index < tensors.size(); ++index) {
    const TensorView& read = file->tensors()[index];
    EXPECT_EQ(read.name, tensors[index].name);  // buffer order is the given order
    EXPECT_EQ(read.data_type, tensors[index].data_type);
    EXPECT_EQ(read.shape, tensors[index].shape);
    ASSERT_EQ(read.bytes.size(), tensors[index].bytes.size());
    EXPECT_TRUE(std::equal(read.bytes.begin(), read.bytes.end(), tensors[index].bytes.begin()))
        << read.name;
  }
  // The header is padded to 8 bytes, so the buffer and the int64 tensor are aligned.
  std::ifstream stream(path, std::ios::binary);
  uint64_t header_bytes = 0;
  stream.read(reinterpret_cast<char*>(&header_bytes), 8);
  EXPECT_EQ(header_bytes % 8, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file->tensors()[0].bytes.data()) % 8, 0u);
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder_),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(SafetensorsTest, WriterRefusesBadInputAndLeavesNoFile) {
  std::vector<float> values = {1, 2};
  const auto bytes = std::as_bytes(std::span(values));
  const std::string path = (folder_ / "bad.safetensors").string();
  const std::vector<TensorView> duplicate = {{"a", v1::DATA_TYPE_FLOAT32, {2}, bytes},
                                             {"a", v1::DATA_TYPE_FLOAT32, {2}, bytes}};
  EXPECT_THAT(WriteSafetensors(path, duplicate).message(), HasSubstr("tensor 'a' twice"));
  const TensorView wrong_size{"a", v1::DATA_TYPE_FLOAT32, {3}, bytes};
  EXPECT_THAT(WriteSafetensors(path, {&wrong_size, 1}).message(),
              HasSubstr("tensor 'a' has 8 bytes but its shape [3] of F32 needs 12"));
  const TensorView reserved{"__metadata__", v1::DATA_TYPE_FLOAT32, {2}, bytes};
  EXPECT_FALSE(WriteSafetensors(path, {&reserved, 1}).ok());
  const TensorView unknown{"a", v1::DATA_TYPE_UNSPECIFIED, {2}, bytes};
  EXPECT_FALSE(WriteSafetensors(path, {&unknown, 1}).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  const absl::Status no_folder =
      WriteSafetensors((folder_ / "missing" / "x.safetensors").string(), {});
  EXPECT_EQ(no_folder.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_folder.message(), HasSubstr("missing"));
}

}  // namespace
}  // namespace equifl::protocol
