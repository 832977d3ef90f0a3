// Reading and writing .safetensors files: the format Hugging Face tools and
// `safetensors.numpy.load_file` use, so a Python user opens our files with one call.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON header
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// and then the byte buffer the offsets point into (offsets relative to its start).
//
// SafetensorsFile maps a file read-only and hands out TensorViews over the mapping,
// so opening a multi-gigabyte shard costs no copy and no allocation per tensor. It
// checks the whole header before handing anything out: every problem a damaged or
// hand-made file can have is a status naming the file, the tensor and what is wrong.
// WriteSafetensors writes atomically, so a reader never sees half a file.
#ifndef EQUIFL_PROTOCOL_SAFETENSORS_H_
#define EQUIFL_PROTOCOL_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "equifl/v1/tensor.pb.h"
#include "protocol/tensor_view.h"

namespace equifl::protocol {

//! Bounds on what a reader accepts, so a hostile file cannot make it allocate
//! without bound before the first check.
struct SafetensorsLimits {
  //! Largest JSON header accepted; the reference implementation's limit.
  uint64_t max_header_bytes = 100'000'000;

  //! OK, or which limit is out of range.
  absl::Status Validate() const;
};

//! The safetensors dtype string of `data_type` ("F32", "BF16", ...), or an error for
//! types equifl does not store.
absl::StatusOr<std::string> SafetensorsDtype(v1::DataType data_type);

//! The data type of safetensors dtype `dtype`; supported: F32, F64, F16, BF16, I64,
//! I32, U8, BOOL. Any other string is an error listing those.
absl::StatusOr<v1::DataType> DataTypeOfSafetensorsDtype(absl::string_view dtype);

//! A .safetensors file mapped read-only into memory.
//!
//! The views point into the mapping and stay valid as long as this object (moving
//! it keeps them valid). The mapping is of the file as it was opened: a file
//! replaced by WriteSafetensors (a rename) leaves it intact, but truncating or
//! overwriting the file in place while it is mapped would make reads fault.
class SafetensorsFile {
 public:
  //! Maps the file at `path` and validates it entirely: header length within the
  //! file and `limits`, valid JSON, known dtypes, non-negative shapes whose byte size
  //! does not overflow, offsets inside the buffer and matching shape times element
  //! size, tensors neither overlapping nor leaving holes, unique names, string
  //! metadata. Tensors come out in buffer order.
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path,
                                              const SafetensorsLimits& limits = {});

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  //! Every tensor, in the order of its bytes in the file.
  const std::vector<TensorView>& tensors() const { return tensors_; }

  //! The tensor called `name`, or nullptr.
  const TensorView* Find(absl::string_view name) const;

  //! The tensor called `name`, or a NotFound error naming the file.
  absl::StatusOr<TensorView> Get(absl::string_view name) const;

  //! The header's "__metadata__" (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  //! The path the file was opened from, for messages.
  const std::string& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  void Unmap();

  std::string path_;                             //!< As given to Open.
  void* mapping_ = nullptr;                      //!< mmap'ed file, or nullptr.
  size_t mapping_bytes_ = 0;                     //!< Length of `mapping_`.
  std::vector<TensorView> tensors_;              //!< Views into `mapping_`.
  std::map<std::string, std::string> metadata_;  //!< "__metadata__".
};

//! Validates a whole file already in memory (`file_bytes`, beginning with the header
//! length) and returns views into it; `source` names it in messages. Open uses this;
//! it is public for callers that hold the bytes some other way.
absl::StatusOr<std::vector<TensorView>> ParseSafetensors(
    std::span<const std::byte> file_bytes, absl::string_view source,
    std::map<std::string, std::string>* metadata = nullptr, const SafetensorsLimits& limits = {});

//! Writes `tensors` (in this order in the buffer) and `metadata` to `path`
//! atomically: a temporary file in the same folder, fsync, rename. The header is
//! padded with spaces to a multiple of 8 bytes, so the buffer starts 8-aligned and a
//! tensor is aligned to its element size when those before it keep it so (e.g. the
//! largest element sizes first). Names must be unique, non-empty and not
//! "__metadata__"; bytes must match shape and type.
absl::Status WriteSafetensors(const std::string& path, std::span<const TensorView> tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_SAFETENSORS_H_
