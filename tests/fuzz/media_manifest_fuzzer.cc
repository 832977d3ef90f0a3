// Fuzzes the media manifest's import (client/media/media_import.h): the manifest's
// columns and rows, each row's checks, and the shards built in memory that
// `equifl data import-media` writes.
//
// Input: an options byte, then the manifest text. Its paths may name the files of
// a folder made once per process: tone.wav (a valid 16 kHz WAV), cut.wav (its first
// 100 bytes), noise.wav (not audio), clip.y4m (a valid 8x8 video of 3 frames, in
// the YUV4MPEG2 format FFmpeg reads, written here byte by byte), cut.y4m (it cut in
// its second frame), words.txt (UTF-8 text) and latin1.txt (not UTF-8); anything
// else is missing. Bit 0 skips bad rows; bit 1 gives the label
// list "a,b"; bits 2-3 ask for 0-3 clients; bit 4 cuts texts at 8 bytes.
//
// Checked beyond "no crash, leak or undefined behaviour": every shard an import
// builds passes the checks WriteShard makes before writing (the manifest's and
// ValidateShardColumns), so an accepted manifest always becomes writable shards,
// and the rows imported and left out add up to the rows read.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/media/media_import.h"
#include "tests/client/media/audio_test_files.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/require.h"
#include "tests/fuzz/require_writable_shards.h"

namespace {

using equifl::fuzz::Require;

// The folder the manifest's paths are relative to, made on first use and removed
// at exit (held by a pointer that outlives the exit handlers: a static string
// would be destroyed before the handler registered while making it runs).
const std::string& Folder() {
  static const std::string* const folder = [] {
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / absl::StrCat("equifl_media_fuzz_", ::getpid());
    std::filesystem::create_directories(path);
    equifl::test::WriteWav((path / "tone.wav").string(), 16000, 1,
                           equifl::test::Tone(440, 0.05, 16000));
    equifl::test::CopyPrefix((path / "tone.wav").string(), (path / "cut.wav").string(), 100);
    std::ofstream(path / "noise.wav", std::ios::binary) << std::string(300, '\x42');
    std::string video = "YUV4MPEG2 W8 H8 F4:1 Ip A1:1 C420jpeg\n";
    for (int frame = 0; frame < 3; ++frame) {
      video += "FRAME\n" + std::string(64, static_cast<char>(40 * frame)) + std::string(32, '\x80');
    }
    std::ofstream(path / "clip.y4m", std::ios::binary) << video;
    std::ofstream(path / "cut.y4m", std::ios::binary) << video.substr(0, video.size() - 150);
    std::ofstream(path / "words.txt") << "Grüß dich, 日本";
    std::ofstream(path / "latin1.txt") << "Gr\xfc\xdf";
    std::atexit([] { std::filesystem::remove_all(Folder()); });
    return new std::string(path.string());
  }();
  return *folder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  equifl::fuzz::FuzzInput input(data, size);
  const uint8_t flags = input.TakeByte();
  const absl::string_view text = input.TakeRest();
  equifl::client::MediaImportOptions options;
  options.skip_bad = (flags & 1) != 0;
  if ((flags & 2) != 0) options.label_values = {"a", "b"};
  options.split.clients = (flags >> 2) & 3;
  if ((flags & 16) != 0) options.text.max_bytes = 8;
  options.max_audio_seconds = 0.1;
  options.video = {.frames_per_second = 4, .size = 8, .max_seconds = 1};
  options.threads = 1;
  absl::StatusOr<equifl::client::MediaImport> import =
      equifl::client::BuildShardsFromMedia(text, "fuzz.csv", Folder(), options);
  if (!import.ok()) return 0;
  int64_t left_out = 0;
  for (const equifl::client::SkippedRows& rows : import->summary.skipped) left_out += rows.count;
  Require(import->summary.rows_imported + left_out == import->summary.rows_read,
          "imported and left-out rows do not add up to the rows read");
  Require(equifl::fuzz::RequireWritableShards(import->shards) == import->summary.rows_imported,
          "the shards hold another number of rows");
  return 0;
}
