#include "client/model/torch_device.h"

#include <torch/cuda.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "client/trainer_options.h"

namespace equifl::client {

std::string DefaultDevice() {
  return std::string(
      equifl::NameOf(torch::cuda::is_available() ? DeviceKind::kCuda : DeviceKind::kCpu));
}

absl::StatusOr<at::Device> ToTorchDevice(absl::string_view what, const Device& device) {
  if (!device.is_cuda()) return at::Device(at::kCPU);
  const int64_t gpus =
      torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  if (gpus == 0 || device.index >= gpus) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " is '", device.Name(), "', but LibTorch sees ", gpus, " CUDA devices"));
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device.index));
}

}  // namespace equifl::client
