// Fuzzes the safetensors reader (protocol/safetensors.h, ParseSafetensors, which
// SafetensorsFile::Open runs over the mapped file): the input is a whole file.
//
// Checked beyond "no crash, leak or undefined behaviour": what it accepts is what
// the header promised. The views tile the data buffer in order, from its first
// byte to the file's end, each exactly its shape times its element size, under
// unique non-empty names.
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>

#include "protocol/safetensors.h"
#include "tests/fuzz/require.h"

using equifl::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  std::map<std::string, std::string> metadata;
  absl::StatusOr<std::vector<equifl::protocol::TensorView>> views =
      equifl::protocol::ParseSafetensors(file, "fuzz.safetensors", &metadata);
  if (!views.ok()) return 0;
  uint64_t header_bytes = 0;
  for (int index = 0; index < 8; ++index) header_bytes |= uint64_t{data[index]} << (8 * index);
  const std::byte* expected_begin = file.data() + 8 + header_bytes;
  std::set<std::string> names;
  for (const equifl::protocol::TensorView& view : *views) {
    Require(!view.name.empty() && names.insert(view.name).second, "a name is empty or repeated");
    Require(view.bytes.data() == expected_begin, "the views leave a hole or overlap");
    const absl::StatusOr<uint64_t> count = equifl::protocol::ElementCount(view.shape, view.name);
    Require(
        count.ok() && view.bytes.size() == *count * equifl::protocol::ElementSize(view.data_type),
        "a view's size does not match its shape");
    expected_begin += view.bytes.size();
  }
  Require(expected_begin == file.data() + file.size(), "the views leave trailing bytes");
  return 0;
}
