#include "server/checkpoint_integrity.h"

#include <openssl/evp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/run_history.h"

namespace equifl::server {
namespace {

// The elements of `bytes` whose exponent bits are all ones (Inf or NaN) for the
// element type; 0 for integer types.
uint64_t CountNonFinite(v1::DataType data_type, std::span<const std::byte> bytes) {
  uint64_t count = 0;
  const auto each = [&](auto element, auto is_non_finite) {
    using Element = decltype(element);
    for (size_t offset = 0; offset + sizeof(Element) <= bytes.size(); offset += sizeof(Element)) {
      std::memcpy(&element, bytes.data() + offset, sizeof(Element));
      if (is_non_finite(element)) ++count;
    }
  };
  switch (data_type) {
    case v1::DATA_TYPE_FLOAT32:
      each(float{}, [](float value) { return !std::isfinite(value); });
      break;
    case v1::DATA_TYPE_FLOAT64:
      each(double{}, [](double value) { return !std::isfinite(value); });
      break;
    case v1::DATA_TYPE_FLOAT16:
      each(uint16_t{}, [](uint16_t bits) { return (bits & 0x7C00u) == 0x7C00u; });
      break;
    case v1::DATA_TYPE_BFLOAT16:
      each(uint16_t{}, [](uint16_t bits) { return (bits & 0x7F80u) == 0x7F80u; });
      break;
    default:
      break;
  }
  return count;
}

}  // namespace

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  if (context == nullptr || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("OpenSSL could not start a SHA-256 digest");
  }
  std::vector<char> block(1 << 20);
  while (file) {
    file.read(block.data(), static_cast<std::streamsize>(block.size()));
    const std::streamsize read = file.gcount();
    if (read > 0 && EVP_DigestUpdate(context.get(), block.data(), static_cast<size_t>(read)) != 1) {
      return absl::InternalError("OpenSSL could not update a SHA-256 digest");
    }
  }
  if (!file.eof()) return absl::DataLossError(absl::StrCat("reading '", path, "' failed"));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) {
    return absl::InternalError("OpenSSL could not finish a SHA-256 digest");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::Status CheckFiniteValues(const protocol::SafetensorsFile& file, const std::string& path) {
  for (const protocol::TensorView& tensor : file.tensors()) {
    if (const uint64_t count = CountNonFinite(tensor.data_type, tensor.bytes); count > 0) {
      return absl::DataLossError(absl::StrCat("the checkpoint '", path, "' holds ", count,
                                              " NaN or infinite values in tensor '", tensor.name,
                                              "'; the model it saved had diverged or the file is "
                                              "corrupt"));
    }
  }
  return absl::OkStatus();
}

absl::Status VerifyCheckpointFile(const std::string& path) {
  EQUIFL_ASSIGN_OR_RETURN(protocol::SafetensorsFile file, protocol::SafetensorsFile::Open(path));
  EQUIFL_RETURN_IF_ERROR(CheckFiniteValues(file, path));
  const std::filesystem::path checkpoints = std::filesystem::path(path).parent_path();
  const std::filesystem::path history_path = checkpoints.parent_path() / "history.db";
  const auto round_entry = file.metadata().find("round");
  uint64_t round = 0;
  std::error_code error;
  if (checkpoints.filename() != "checkpoints" ||
      !std::filesystem::is_regular_file(history_path, error) ||
      round_entry == file.metadata().end() || !absl::SimpleAtoi(round_entry->second, &round)) {
    return absl::OkStatus();  // Not in a run folder: only the values can be checked.
  }
  EQUIFL_ASSIGN_OR_RETURN(RunHistory history, RunHistory::Open(history_path.string(), ""));
  EQUIFL_ASSIGN_OR_RETURN(std::optional<CheckpointDigests> recorded, history.Digests(round));
  if (!recorded) return absl::OkStatus();
  EQUIFL_ASSIGN_OR_RETURN(std::string digest, FileSha256(path));
  if (digest != recorded->model_sha256) {
    return absl::DataLossError(absl::StrCat("the checkpoint '", path, "' is not the file round ",
                                            round, " wrote: its SHA-256 is ", digest,
                                            ", the run history recorded ", recorded->model_sha256,
                                            "; it was changed or corrupted after it was written"));
  }
  return absl::OkStatus();
}

}  // namespace equifl::server
