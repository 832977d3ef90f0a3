// Fuzzes the .npy reader (client/data/npy_file.h): the input is a whole file, read
// as ReadNpy would, then converted as the importer converts features (ToFloat32)
// and labels, groups and languages (ToInt64).
//
// Checked beyond "no crash, leak or undefined behaviour": an accepted array holds
// exactly its shape's element count times the element size, starting at the data
// offset its header gave, and a conversion that succeeds yields one value per
// element.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "client/data/npy_file.h"
#include "tests/fuzz/require.h"

using equifl::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<equifl::client::NpyArray> array = equifl::client::ParseNpy(bytes, "fuzz.npy");
  if (!array.ok()) return 0;
  const int64_t elements = array->size();
  Require(elements >= 0 && array->header.data_offset >= 0 &&
              static_cast<uint64_t>(array->header.data_offset) + array->data.size() == size,
          "the data is not the file after the header");
  (void)array->ShapeString();
  if (absl::StatusOr<std::vector<float>> values = array->ToFloat32(); values.ok()) {
    Require(values->size() == static_cast<uint64_t>(elements), "ToFloat32 miscounted");
  }
  if (absl::StatusOr<std::vector<int64_t>> values = array->ToInt64(); values.ok()) {
    Require(values->size() == static_cast<uint64_t>(elements), "ToInt64 miscounted");
  }
  return 0;
}
