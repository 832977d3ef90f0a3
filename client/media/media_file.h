// What can be wrong with a media file, and the checks every decoder makes before it
// opens one: the file exists, is a regular file this process may read, and is not
// empty. Each problem has its own reason so an import can count them. No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_MEDIA_FILE_H_
#define EQUIFL_CLIENT_MEDIA_MEDIA_FILE_H_

#include <optional>
#include <span>
#include <string>

#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace equifl::client {

//! Why a media file could not be used.
enum class MediaFileProblem {
  kMissing,      //!< No such file.
  kUnreadable,   //!< Not a regular file, or no permission to read it.
  kEmpty,        //!< No bytes, or no samples.
  kTruncated,    //!< Ends before its header or its stream says it should.
  kUndecodable,  //!< Not a format the decoder reads.
  kUnsupported,  //!< Decodes, but e.g. its sample rate is out of range.
};

//! "missing", "unreadable", ... in summaries.
inline std::span<const EnumName<MediaFileProblem>> EnumNames(MediaFileProblem) {
  static constexpr EnumName<MediaFileProblem> kNames[] = {
      {MediaFileProblem::kMissing, "missing"},
      {MediaFileProblem::kUnreadable, "unreadable"},
      {MediaFileProblem::kEmpty, "empty"},
      {MediaFileProblem::kTruncated, "truncated"},
      {MediaFileProblem::kUndecodable, "undecodable"},
      {MediaFileProblem::kUnsupported, "unsupported"}};
  return kNames;
}

//! What went wrong with a file: the reason and a message that names the file.
struct MediaFileError {
  MediaFileProblem problem = MediaFileProblem::kUndecodable;
  std::string message;  //!< E.g. "clips/a.wav: no such file".

  //! The error `problem` of the file shown as `shown_path`: "<shown_path>: <what>".
  static MediaFileError Of(MediaFileProblem problem, absl::string_view shown_path,
                           absl::string_view what);
};

//! Why `path` (shown as `shown_path`) cannot be opened: missing, not a regular file
//! or not readable (unreadable), or 0 bytes (empty); nullopt when it can.
std::optional<MediaFileError> CheckMediaFile(const std::string& path,
                                             const std::string& shown_path);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_MEDIA_FILE_H_
