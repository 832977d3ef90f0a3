#include "tests/testing/temporary_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>

namespace equifl::test {

TemporaryFolder::TemporaryFolder(const std::string& prefix) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  path_ = std::filesystem::temp_directory_path() /
          ("equifl_" + prefix + "_" + std::to_string(::getpid()) + "_" +
           (test != nullptr ? std::string(test->name()) : std::string("outside-a-test")));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TemporaryFolder::~TemporaryFolder() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "the failed test's files are in " << path_.string() << "\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace equifl::test
