// Running the equifl binary from a test target that defines EQUIFL_BINARY (its
// path, e.g. target_compile_definitions(... EQUIFL_BINARY="$<TARGET_FILE:equifl>")).
#ifndef EQUIFL_TESTS_TESTING_EQUIFL_BINARY_H_
#define EQUIFL_TESTS_TESTING_EQUIFL_BINARY_H_

#include <string>

#include "tests/testing/process.h"

namespace equifl::test {

//! Runs `equifl <arguments>` (a shell command line: quote as a shell needs) to its end.
inline CommandOutcome RunEquifl(const std::string& arguments) {
  return RunShell(std::string(EQUIFL_BINARY) + " " + arguments);
}

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_TESTING_EQUIFL_BINARY_H_
