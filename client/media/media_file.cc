#include "client/media/media_file.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace equifl::client {

MediaFileError MediaFileError::Of(MediaFileProblem problem, absl::string_view shown_path,
                                  absl::string_view what) {
  return {problem, absl::StrCat(shown_path, ": ", what)};
}

std::optional<MediaFileError> CheckMediaFile(const std::string& path,
                                             const std::string& shown_path) {
  auto problem = [&shown_path](MediaFileProblem reason, absl::string_view what) {
    return MediaFileError::Of(reason, shown_path, what);
  };
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    return problem(MediaFileProblem::kMissing,
                   "no such file; check the path (paths are relative to the manifest's folder)");
  }
  if (!std::filesystem::is_regular_file(status)) {
    return problem(MediaFileProblem::kUnreadable, "not a regular file");
  }
  if (access(path.c_str(), R_OK) != 0) {
    return problem(MediaFileProblem::kUnreadable,
                   absl::StrCat("cannot be read: ", std::generic_category().message(errno)));
  }
  if (std::filesystem::file_size(path, error) == 0 && !error) {
    return problem(MediaFileProblem::kEmpty, "the file is empty (0 bytes)");
  }
  return std::nullopt;
}

}  // namespace equifl::client
