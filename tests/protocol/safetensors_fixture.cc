// The C++ half of the Python cross-check (safetensors_cross_check.py).
//
//   safetensors_fixture write PATH   writes the fixture below with WriteSafetensors
//   safetensors_fixture check PATH   reads PATH (written by Python) with
//                                    SafetensorsFile and compares it to the fixture
//
// The Python script holds the same values, computed independently with numpy.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "protocol/safetensors.h"

namespace {

using equifl::protocol::TensorView;
namespace v1 = equifl::v1;

struct Fixture {
  std::vector<float> weights;    // F32 [3, 4]: 0.25 * i - 1.5
  std::vector<double> inverses;  // F64 [5]: 1 / (i + 1)
  std::vector<uint16_t> halves;  // F16 [4]: 1, -2.5, 65504, 2^-24
  std::vector<uint16_t> brains;  // BF16 [3]: 1, -3, 3.140625
  std::vector<int64_t> ids;      // I64 [2, 3]: i * i - 7 + 2^40 * (i % 2)
  std::vector<int32_t> counts;   // I32 [4]: -2^31, -1, 0, 2^31 - 1
  std::vector<uint8_t> mask;     // U8 [2, 2]: 0, 1, 255, 7
  std::vector<uint8_t> flags;    // BOOL [3]: true, false, true
  std::vector<float> scalar;     // F32 []: 42.5

  Fixture() {
    for (int i = 0; i < 12; ++i) weights.push_back(0.25f * static_cast<float>(i) - 1.5f);
    for (int i = 0; i < 5; ++i) inverses.push_back(1.0 / (i + 1));
    halves = {0x3c00, 0xc100, 0x7bff, 0x0001};
    brains = {0x3f80, 0xc040, 0x4049};
    for (int64_t i = 0; i < 6; ++i) ids.push_back(i * i - 7 + (int64_t{1} << 40) * (i % 2));
    counts = {INT32_MIN, -1, 0, INT32_MAX};
    mask = {0, 1, 255, 7};
    flags = {1, 0, 1};
    scalar = {42.5f};
  }

  std::vector<TensorView> Views() const {
    return {
        {"weights", v1::DATA_TYPE_FLOAT32, {3, 4}, std::as_bytes(std::span(weights))},
        {"inverses", v1::DATA_TYPE_FLOAT64, {5}, std::as_bytes(std::span(inverses))},
        {"halves", v1::DATA_TYPE_FLOAT16, {4}, std::as_bytes(std::span(halves))},
        {"brains", v1::DATA_TYPE_BFLOAT16, {3}, std::as_bytes(std::span(brains))},
        {"ids", v1::DATA_TYPE_INT64, {2, 3}, std::as_bytes(std::span(ids))},
        {"counts", v1::DATA_TYPE_INT32, {4}, std::as_bytes(std::span(counts))},
        {"mask", v1::DATA_TYPE_UINT8, {2, 2}, std::as_bytes(std::span(mask))},
        {"flags", v1::DATA_TYPE_BOOL, {3}, std::as_bytes(std::span(flags))},
        {"empty", v1::DATA_TYPE_FLOAT32, {0, 3}, {}},
        {"scalar", v1::DATA_TYPE_FLOAT32, {}, std::as_bytes(std::span(scalar))},
    };
  }
};

const std::map<std::string, std::string> kMetadata = {{"format", "equifl-cross-check"},
                                                      {"note", "caf\xc3\xa9"}};

int Check(const std::string& path) {
  absl::StatusOr<equifl::protocol::SafetensorsFile> file =
      equifl::protocol::SafetensorsFile::Open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", std::string(file.status().message()).c_str());
    return 1;
  }
  int failures = 0;
  if (file->metadata() != kMetadata) {
    std::fprintf(stderr, "metadata differs\n");
    ++failures;
  }
  const Fixture fixture;
  const std::vector<TensorView> expected = fixture.Views();
  if (file->tensors().size() != expected.size()) {
    std::fprintf(stderr, "%zu tensors, expected %zu\n", file->tensors().size(), expected.size());
    return 1;
  }
  for (const TensorView& want : expected) {
    const TensorView* got = file->Find(want.name);
    if (got == nullptr || got->data_type != want.data_type || got->shape != want.shape ||
        got->bytes.size() != want.bytes.size() ||
        !std::equal(got->bytes.begin(), got->bytes.end(), want.bytes.begin())) {
      std::fprintf(stderr, "tensor '%s' differs from the fixture\n", want.name.c_str());
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s write|check PATH\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "write") {
    const Fixture fixture;
    const std::vector<TensorView> views = fixture.Views();
    if (absl::Status status = equifl::protocol::WriteSafetensors(argv[2], views, kMetadata);
        !status.ok()) {
      std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
      return 1;
    }
    return 0;
  }
  if (mode == "check") return Check(argv[2]);
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
