// Reads NumPy .npy files: what `numpy.save` writes for one array, so that features
// computed in Python (embeddings, pooled frame features) and their labels, groups and
// languages can be imported without a conversion step.
//
// The format (numpy.lib.format, versions 1.0, 2.0 and 3.0):
//   "\x93NUMPY", major and minor version bytes, the header length as a little-endian
//   uint16 (1.0) or uint32 (2.0, 3.0), the header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces
//   and ending in '\n' (ASCII in 1.0 and 2.0, UTF-8 in 3.0), then the raw data.
// Supported element types: '<f4', '<f8', '<i8', '<i4', '|u1', '|b1', all in C
// (row-major) order. The header parser is our own: the header is a fixed literal
// form, and a Python-expression dependency would be far bigger than the format.
// Every check a file can fail (magic, version, header syntax, keys, type, order, the
// data's size against the shape) is an error naming the file and what to do.
// No Torch here.
#ifndef EQUIFL_CLIENT_DATA_NPY_FILE_H_
#define EQUIFL_CLIENT_DATA_NPY_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/data/import_split.h"

namespace equifl::client {

//! The element types read.
enum class NpyType { kFloat32, kFloat64, kInt64, kInt32, kUint8, kBool };

//! The descr string of `type`, e.g. "<f4".
std::string NpyTypeName(NpyType type);

//! The supported descr strings, for messages: "<f4, <f8, <i8, <i4, |u1, |b1".
std::string SupportedNpyTypes();

//! The parsed header of a .npy file.
struct NpyHeader {
  int major_version = 1;             //!< 1, 2 or 3.
  int minor_version = 0;             //!< 0.
  NpyType type = NpyType::kFloat32;  //!< From 'descr'.
  bool fortran_order = false;        //!< Always false once parsed (true is an error).
  std::vector<int64_t> shape;        //!< From 'shape'; empty for a scalar.
  int64_t data_offset = 0;           //!< Bytes before the data.
};

//! One array: its header and its raw little-endian data, C order.
struct NpyArray {
  std::string source;      //!< File name (or what the caller called it), for messages.
  NpyHeader header;        //!< Type and shape.
  std::vector<char> data;  //!< Element count times element size bytes.

  //! The number of elements: the product of the shape (1 for a scalar).
  int64_t size() const;
  //! The shape as NumPy prints it, e.g. "(3, 4)" or "(5,)".
  std::string ShapeString() const;
  //! The elements as float32; '<f8' values are rounded (beyond float32's range they
  //! become infinite). Integer and bool types are an error naming the types allowed.
  absl::StatusOr<std::vector<float>> ToFloat32() const;
  //! The elements as int64; '|b1' is 0 or 1 (another byte value is an error). Float
  //! types are an error.
  absl::StatusOr<std::vector<int64_t>> ToInt64() const;
};

//! Parses the magic, version and header at the start of `bytes`; `source` starts
//! messages. Checks neither the data nor the file size.
absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view bytes, absl::string_view source);

//! Parses a whole .npy file held in `bytes`: the header, then exactly as many data
//! bytes as the shape and type need (fewer: truncated; more: trailing bytes).
absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view source);

//! Reads and parses the .npy file at `path`: a regular file of at most `max_bytes`
//! (a FIFO, a device or a larger file is refused before it is read).
absl::StatusOr<NpyArray> ReadNpy(const std::string& path, uint64_t max_bytes = kMaxImportFileBytes);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_NPY_FILE_H_
