// The ffmpeg program, which makes the media tests' clips: its path comes from CMake
// (EQUIFL_FFMPEG, defined by the test targets that use this header), and
// deploy/install-deps.sh installs it. A test that needs it skips without it.
#ifndef EQUIFL_TESTS_CLIENT_MEDIA_FFMPEG_PROGRAM_H_
#define EQUIFL_TESTS_CLIENT_MEDIA_FFMPEG_PROGRAM_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace equifl::test {

//! Why a test that needs ffmpeg skipped.
inline constexpr char kNoFfmpeg[] =
    "the ffmpeg program is not installed; it makes the test clips (deploy/install-deps.sh "
    "installs it)";

//! Whether CMake found the ffmpeg program.
inline bool HaveFfmpeg() {
  const std::string ffmpeg = EQUIFL_FFMPEG;
  return !ffmpeg.empty() && ffmpeg.find("NOTFOUND") == std::string::npos;
}

//! Runs `ffmpeg -nostdin -loglevel error -y ARGUMENTS` in `folder`, so ARGUMENTS may
//! name files relative to it; true when it succeeded.
inline bool RunFfmpeg(const std::filesystem::path& folder, const std::string& arguments) {
  const std::string command = "cd '" + folder.string() + "' && '" + EQUIFL_FFMPEG +
                              "' -nostdin -loglevel error -y " + arguments;
  return std::system(command.c_str()) == 0;
}

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_CLIENT_MEDIA_FFMPEG_PROGRAM_H_
