#include "client/media/sentencepiece_tokens.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/quoted_input.h"
#include "base/status_macros.h"
#include "protocol/file_io.h"

extern char** environ;

namespace equifl::client {
namespace {

constexpr uint64_t kMaxModelBytes = uint64_t{256} << 20;

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

//! What a program run wrote, and how it ended.
struct ProgramRun {
  int exit_code = 0;
  std::string output;
  std::string errors;

  //! The last line of what it wrote to standard error: the reason, for messages.
  std::string Reason() const {
    std::vector<absl::string_view> lines = absl::StrSplit(errors, '\n', absl::SkipWhitespace());
    if (lines.empty()) return absl::StrCat("exit code ", exit_code);
    // spm_* end with "Program terminated with an unrecoverable error."; the line
    // before says why.
    const size_t last = lines.size() >= 2 && absl::StrContains(lines.back(), "terminated")
                            ? lines.size() - 2
                            : lines.size() - 1;
    return std::string(lines[last]);
  }
};

std::string ReadWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

//! Runs `program` (found on PATH) with `arguments`, `input` as its standard input,
//! through files in a temporary folder that is removed afterwards.
absl::StatusOr<ProgramRun> RunProgram(const std::string& program,
                                      const std::vector<std::string>& arguments,
                                      const std::string& input) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "equifl-sentencepiece-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot make a temporary folder for ", program, ": ", std::strerror(errno)));
  }
  const std::filesystem::path folder = pattern;
  struct RemoveFolder {
    std::filesystem::path path;
    ~RemoveFolder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove{folder};
  const std::string in = (folder / "input").string();
  const std::string out = (folder / "output").string();
  const std::string err = (folder / "errors").string();
  if (!(std::ofstream(in, std::ios::binary) << input)) {
    return absl::InternalError(absl::StrCat("cannot write ", program, "'s input to ", in));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> words = {program};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned == ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("the program ", program,
                     " is not installed; SentencePiece tokens need it (Debian's package "
                     "sentencepiece: apt-get install sentencepiece)"));
  }
  if (spawned != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", program, ": ", std::strerror(spawned)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("cannot wait for ", program, ": ", std::strerror(errno)));
    }
  }
  ProgramRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.output = ReadWhole(out);
  run.errors = ReadWhole(err);
  return run;
}

//! The ids of one line of spm_encode's output.
absl::StatusOr<std::vector<int32_t>> ParseIds(absl::string_view line) {
  std::vector<int32_t> ids;
  for (absl::string_view word : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    int32_t id = 0;
    if (!absl::SimpleAtoi(word, &id) || id < 0) {
      return absl::InternalError(
          absl::StrCat("spm_encode wrote ", QuoteInput(word), " where an id belongs"));
    }
    ids.push_back(id);
  }
  return ids;
}

}  // namespace

absl::Status SentencePieceOptions::Validate() const {
  if (max_pieces < 1 || max_pieces > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-text-pieces is ", max_pieces, "; it must be in 1..65536"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SentencePieceTokenizer> SentencePieceTokenizer::Load(
    const SentencePieceOptions& options) {
  if (absl::Status valid = options.Validate(); !valid.ok()) return valid;
  const std::string shown = QuoteInput(options.model_path, /*max_bytes=*/4096);
  absl::StatusOr<std::string> bytes = protocol::ReadRegularFile(options.model_path, kMaxModelBytes);
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(),
                        absl::StrCat("the SentencePiece model ", shown,
                                     " cannot be read: ", bytes.status().message()));
  }
  const std::string model = absl::StrCat("--model=", options.model_path);
  absl::StatusOr<ProgramRun> vocabulary = RunProgram("spm_export_vocab", {model}, "");
  if (!vocabulary.ok()) return vocabulary.status();
  if (vocabulary->exit_code != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the SentencePiece model ", shown, " is not a model SentencePiece reads (",
                     vocabulary->Reason(), "); give the .model file spm_train wrote"));
  }
  const auto pieces =
      static_cast<int64_t>(std::count(vocabulary->output.begin(), vocabulary->output.end(), '\n'));
  // The model's begin (end) id: what encoding an empty line with it added gives;
  // spm_encode fails when the model has none.
  const auto special = [&](const char* which) -> absl::StatusOr<int> {
    EQUIFL_ASSIGN_OR_RETURN(
        ProgramRun run,
        RunProgram("spm_encode",
                   {model, "--output_format=id", absl::StrCat("--extra_options=", which)}, "\n"));
    if (run.exit_code != 0) return -1;
    EQUIFL_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                            ParseIds(absl::StripAsciiWhitespace(run.output)));
    return ids.size() == 1 ? ids[0] : -1;
  };
  EQUIFL_ASSIGN_OR_RETURN(const int begin, special("bos"));
  EQUIFL_ASSIGN_OR_RETURN(const int end, special("eos"));
  return SentencePieceTokenizer(options, Sha256Hex(*bytes), pieces, begin, end);
}

int64_t SentencePieceTokenizer::MaxTokens() const {
  return int64_t{options_.max_pieces} + (begin_ >= 0 ? 1 : 0) + (end_ >= 0 ? 1 : 0);
}

std::string SentencePieceTokenizer::Describe() const {
  return absl::StrCat("sentencepiece sha256=", sha256_, " pieces=", vocabulary_, " begin=", begin_,
                      " end=", end_, " max_pieces=", options_.max_pieces);
}

absl::StatusOr<std::vector<TextTokens>> SentencePieceTokenizer::Tokenize(
    const std::vector<std::string>& texts) const {
  std::string input;
  for (const std::string& text : texts) {
    // One line per text: a line break inside one is whitespace to the model anyway.
    std::string line = text;
    std::replace_if(
        line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    absl::StrAppend(&input, line, "\n");
  }
  std::vector<std::string> arguments = {absl::StrCat("--model=", options_.model_path),
                                        "--output_format=id"};
  if (begin_ >= 0 || end_ >= 0) {
    arguments.push_back(absl::StrCat("--extra_options=", begin_ >= 0 ? "bos" : "",
                                     begin_ >= 0 && end_ >= 0 ? ":" : "", end_ >= 0 ? "eos" : ""));
  }
  EQUIFL_ASSIGN_OR_RETURN(const ProgramRun run, RunProgram("spm_encode", arguments, input));
  if (run.exit_code != 0) {
    return absl::InternalError(absl::StrCat("spm_encode could not encode the texts with ",
                                            QuoteInput(options_.model_path, 4096), ": ",
                                            run.Reason()));
  }
  std::vector<absl::string_view> lines = absl::StrSplit(run.output, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() != texts.size()) {
    return absl::InternalError(
        absl::StrCat("spm_encode gave ", lines.size(), " lines for ", texts.size(), " texts"));
  }
  std::vector<TextTokens> tokens(texts.size());
  for (size_t index = 0; index < texts.size(); ++index) {
    EQUIFL_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseIds(lines[index]));
    // The pieces between the model's begin and end, of which max_pieces are kept.
    const size_t first = begin_ >= 0 ? 1 : 0;
    if (ids.size() < first + (end_ >= 0 ? 1 : 0)) {
      return absl::InternalError("spm_encode left out the begin or end id");
    }
    const size_t last = ids.size() - (end_ >= 0 ? 1 : 0);
    const size_t kept = std::min(last - first, static_cast<size_t>(options_.max_pieces));
    TextTokens& text = tokens[index];
    text.clipped = last - first > kept;
    if (begin_ >= 0) text.ids.push_back(begin_);
    text.ids.insert(text.ids.end(), ids.begin() + first, ids.begin() + first + kept);
    if (end_ >= 0) text.ids.push_back(end_);
    for (const int32_t id : text.ids) {
      if (id >= vocabulary_) {
        return absl::InternalError(
            absl::StrCat("spm_encode gave id ", id, " for a model of ", vocabulary_, " pieces"));
      }
    }
  }
  return tokens;
}

}  // namespace equifl::client
