// Where training runs, as configuration names it: "cpu", "cuda" (LibTorch's
// current CUDA device) or "cuda:<index>". One parser for every option that names
// a device; no Torch here (client/model/torch_device.h makes an at::Device).
#ifndef EQUIFL_BASE_DEVICE_H_
#define EQUIFL_BASE_DEVICE_H_

#include <algorithm>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace equifl {

//! What kind of processor a device is.
enum class DeviceKind { kCpu, kCuda };

//! "cpu" / "cuda".
inline std::span<const EnumName<DeviceKind>> EnumNames(DeviceKind) {
  static constexpr EnumName<DeviceKind> kNames[] = {{DeviceKind::kCpu, "cpu"},
                                                    {DeviceKind::kCuda, "cuda"}};
  return kNames;
}

//! The device names ParseDevice accepts, for messages.
inline constexpr absl::string_view kDeviceNames = "cpu, cuda, cuda:<index>";

//! A parsed device name.
struct Device {
  DeviceKind kind = DeviceKind::kCpu;  //!< The processor.
  int index = -1;                      //!< A CUDA device's index; -1: the current one.

  //! Whether it is a GPU.
  bool is_cuda() const { return kind == DeviceKind::kCuda; }

  //! "cpu", "cuda" or "cuda:<index>", as ParseDevice reads it.
  std::string Name() const {
    return index < 0 ? std::string(NameOf(kind)) : absl::StrCat(NameOf(kind), ":", index);
  }
};

//! Parses "cpu", "cuda" or "cuda:<index>" (an index without sign or leading
//! zeros); otherwise InvalidArgument "<what> is '<name>'; allowed: cpu, cuda,
//! cuda:<index>".
inline absl::StatusOr<Device> ParseDevice(absl::string_view what, absl::string_view name) {
  const size_t colon = name.find(':');
  const bool has_index = colon != absl::string_view::npos;
  const absl::string_view index = has_index ? name.substr(colon + 1) : "";
  const absl::StatusOr<DeviceKind> kind = ParseEnum<DeviceKind>(what, name.substr(0, colon));
  Device device;
  const bool index_ok =
      !has_index ||
      (kind.ok() && *kind == DeviceKind::kCuda && !index.empty() &&
       std::all_of(index.begin(), index.end(), absl::ascii_isdigit) &&
       (index.size() == 1 || index.front() != '0') && absl::SimpleAtoi(index, &device.index));
  if (!kind.ok() || !index_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is '", name, "'; allowed: ", kDeviceNames));
  }
  device.kind = *kind;
  return device;
}

}  // namespace equifl

#endif  // EQUIFL_BASE_DEVICE_H_
