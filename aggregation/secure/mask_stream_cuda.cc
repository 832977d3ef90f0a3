#include "aggregation/secure/mask_stream_cuda.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace equifl::aggregation {
namespace cuda {
// mask_stream_cuda.cu: an empty string on success, else what failed.
bool Available();
std::string ApplyMasks(const uint32_t* keys, const uint8_t* subtract, int streams,
                       uint32_t* host_words, uint64_t count);
std::string MeasureRate(uint64_t count, int streams, double& gigabytes_per_second);
}  // namespace cuda

namespace {

absl::Status FromCuda(const std::string& error) {
  return error.empty() ? absl::OkStatus() : absl::InternalError(absl::StrCat("CUDA: ", error));
}

}  // namespace

bool DeviceMasksAvailable() { return cuda::Available(); }

absl::Status ApplyMasksOnDevice(std::span<const MaskStream> streams, std::span<uint32_t> words) {
  if (!cuda::Available()) return absl::UnavailableError("no CUDA device");
  std::vector<uint32_t> keys;
  std::vector<uint8_t> subtract;
  for (const MaskStream& stream : streams) {
    for (int word = 0; word < 8; ++word) {
      keys.push_back(stream.key[4 * word] | stream.key[4 * word + 1] << 8 |
                     stream.key[4 * word + 2] << 16 |
                     static_cast<uint32_t>(stream.key[4 * word + 3]) << 24);
    }
    subtract.push_back(stream.subtract ? 1 : 0);
  }
  return FromCuda(cuda::ApplyMasks(keys.data(), subtract.data(), static_cast<int>(streams.size()),
                                   words.data(), words.size()));
}

absl::StatusOr<double> DeviceMaskRate(size_t words, int streams) {
  if (!cuda::Available()) return absl::UnavailableError("no CUDA device");
  double rate = 0;
  if (absl::Status status = FromCuda(cuda::MeasureRate(words, streams, rate)); !status.ok()) {
    return status;
  }
  return rate;
}

}  // namespace equifl::aggregation
