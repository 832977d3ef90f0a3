// Fuzzes the configuration loader (app/config.h, ParseConfig, which LoadConfig runs
// on the file `equifl --config` names): the input is the YAML text.
//
// The app library needs LibTorch, which the fuzz build (clang) cannot compile, so
// tests/fuzz/CMakeLists.txt compiles the loader and the Torch-free option files it
// uses into this target. The one Torch call among them, DefaultDevice() (the
// trainer's device when the file names none: "cuda" when LibTorch sees a GPU), is
// defined here as the CPU.
//
// Checked: no crash, leak or undefined behaviour, whatever the text; every error is
// a status.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "app/config.h"
#include "client/trainer_options.h"

namespace equifl::client {

std::string DefaultDevice() { return "cpu"; }

}  // namespace equifl::client

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)equifl::app::ParseConfig(text, "fuzz.yaml");
  return 0;
}
