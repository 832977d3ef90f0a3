// A fresh folder for one test, removed with everything in it when the test ends,
// or kept (and named on stderr) when the test failed, for its logs and files.
#ifndef EQUIFL_TESTS_TESTING_TEMPORARY_FOLDER_H_
#define EQUIFL_TESTS_TESTING_TEMPORARY_FOLDER_H_

#include <filesystem>
#include <string>

namespace equifl::test {

class TemporaryFolder {
 public:
  //! Creates <system temp>/equifl_<prefix>_<pid>_<test name>, empty (whatever a
  //! crashed earlier run left there is removed first).
  explicit TemporaryFolder(const std::string& prefix);
  ~TemporaryFolder();
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  //! The path of `name` inside the folder, as a string.
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_TESTING_TEMPORARY_FOLDER_H_
