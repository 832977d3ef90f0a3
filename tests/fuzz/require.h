// Property checks of the fuzz targets: a broken property stops the run the way a
// crash does, so libFuzzer keeps the input that broke it.
#ifndef EQUIFL_TESTS_FUZZ_REQUIRE_H_
#define EQUIFL_TESTS_FUZZ_REQUIRE_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"

namespace equifl::fuzz {

//! Prints `what` and aborts unless `condition` holds.
inline void Require(bool condition, absl::string_view what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz property broken: %s\n", std::string(what).c_str());
  std::abort();
}

}  // namespace equifl::fuzz

#endif  // EQUIFL_TESTS_FUZZ_REQUIRE_H_
