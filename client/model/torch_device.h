// A configured device (base/device.h) as LibTorch's at::Device, once LibTorch is
// known to see it.
#ifndef EQUIFL_CLIENT_MODEL_TORCH_DEVICE_H_
#define EQUIFL_CLIENT_MODEL_TORCH_DEVICE_H_

#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/device.h"

namespace equifl::client {

//! `device` as LibTorch's; FailedPrecondition "<what> is '<name>', but LibTorch
//! sees N CUDA devices" when it names a CUDA device LibTorch does not see.
absl::StatusOr<at::Device> ToTorchDevice(absl::string_view what, const Device& device);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_TORCH_DEVICE_H_
