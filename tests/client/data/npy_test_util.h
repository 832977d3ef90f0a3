// Hand-made .npy bytes for the .npy tests, so most tests need no Python.
#ifndef EQUIFL_TESTS_CLIENT_DATA_NPY_TEST_UTIL_H_
#define EQUIFL_TESTS_CLIENT_DATA_NPY_TEST_UTIL_H_

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace equifl::client::testing {

//! A .npy file of format version `major`.0 with header dict `dict` (padded to a
//! multiple of 64 bytes and ended with '\n', as numpy does) and raw `data`.
inline std::string NpyBytes(const std::string& dict, const std::string& data, int major = 1) {
  const size_t length_size = major == 1 ? 2 : 4;
  std::string header = dict;
  const size_t unpadded = 6 + 2 + length_size + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (size_t byte = 0; byte < length_size; ++byte) {
    bytes += static_cast<char>((header.size() >> (8 * byte)) & 0xFF);
  }
  return bytes + header + data;
}

//! The raw little-endian bytes of `values` (the test machines are little-endian).
template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

//! A 1.0 file holding `values` of type `descr` with `shape` (as Python writes it).
template <typename T>
std::string NpyOf(const std::string& descr, const std::string& shape,
                  const std::vector<T>& values) {
  return NpyBytes("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }",
                  RawBytes(values));
}

//! Writes `bytes` to `path`.
inline void WriteBytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace equifl::client::testing

#endif  // EQUIFL_TESTS_CLIENT_DATA_NPY_TEST_UTIL_H_
