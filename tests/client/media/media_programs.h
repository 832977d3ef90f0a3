// The programs the media tests run, their paths from CMake (definitions made by
// the test targets that use this header), all installed by deploy/install-deps.sh:
// - ffmpeg (EQUIFL_FFMPEG) makes the test clips;
// - spm_train (EQUIFL_SPM_TRAIN, Debian's package sentencepiece) trains the
//   SentencePiece tests' models, whose reference ids come from another way into
//   SentencePiece than the spm_encode program equifl runs: its Python binding
//   (python3-sentencepiece, run by EQUIFL_PYTHON).
// A test that needs one skips without it.
#ifndef EQUIFL_TESTS_CLIENT_MEDIA_MEDIA_PROGRAMS_H_
#define EQUIFL_TESTS_CLIENT_MEDIA_MEDIA_PROGRAMS_H_

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace equifl::test {

//! Whether CMake's find_program found `path`.
inline bool FoundByCMake(const std::string& path) {
  return !path.empty() && path.find("NOTFOUND") == std::string::npos;
}

//! Why a test that needs ffmpeg skipped.
inline constexpr char kNoFfmpeg[] =
    "the ffmpeg program is not installed; it makes the test clips (deploy/install-deps.sh "
    "installs it)";

//! Whether CMake found the ffmpeg program.
inline bool HaveFfmpeg() { return FoundByCMake(EQUIFL_FFMPEG); }

//! Runs `ffmpeg -nostdin -loglevel error -y ARGUMENTS` in `folder`, so ARGUMENTS may
//! name files relative to it; true when it succeeded.
inline bool RunFfmpeg(const std::filesystem::path& folder, const std::string& arguments) {
  const std::string command = "cd '" + folder.string() + "' && '" + EQUIFL_FFMPEG +
                              "' -nostdin -loglevel error -y " + arguments;
  return std::system(command.c_str()) == 0;
}

//! Why a test that needs the SentencePiece programs skipped.
inline constexpr char kNoSentencePiecePrograms[] =
    "spm_train or Python's sentencepiece module is not installed (packages sentencepiece and "
    "python3-sentencepiece; deploy/install-deps.sh installs them)";

inline bool HaveSentencePiecePrograms() {
  if (!FoundByCMake(EQUIFL_SPM_TRAIN)) return false;
  const std::string check =
      std::string("'") + EQUIFL_PYTHON + "' -c 'import sentencepiece' > /dev/null 2>&1";
  return std::system(check.c_str()) == 0;
}

//! Sentences in English, German and Japanese, for training a small model.
inline std::string MixedScriptCorpus() {
  std::string corpus;
  for (int copy = 0; copy < 4; ++copy) {
    corpus +=
        "the weather is lovely today and we walk in the park\n"
        "i am very happy to see you again my friend\n"
        "this is a sad story about a lost dog\n"
        "das Wetter ist heute schön und wir gehen im Park spazieren\n"
        "ich bin sehr froh dich wiederzusehen mein Freund\n"
        "grüß dich, wie geht es dir heute\n"
        "今日はとても良い天気です\n"
        "また会えてとても嬉しいです\n"
        "これは悲しい話です\n";
  }
  return corpus;
}

//! Trains a unigram model of about `vocabulary` pieces on `corpus` into
//! folder/PREFIX.model; true when spm_train succeeded.
inline bool TrainSentencePieceModel(const std::filesystem::path& folder, const std::string& prefix,
                                    const std::string& corpus, int vocabulary) {
  const std::filesystem::path text = folder / (prefix + ".txt");
  std::ofstream(text) << corpus;
  const std::string command = std::string("'") + EQUIFL_SPM_TRAIN + "' --input='" + text.string() +
                              "' --model_prefix='" + (folder / prefix).string() +
                              "' --vocab_size=" + std::to_string(vocabulary) +
                              " --hard_vocab_limit=false --character_coverage=1.0 "
                              "--minloglevel=2 > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

//! What Python's sentencepiece module says of `model`: its piece count, begin and
//! end ids, then the ids of each of `texts` (one line each, no line breaks).
struct PythonPieces {
  int pieces = 0;
  int begin = -1;
  int end = -1;
  std::vector<std::vector<int>> ids;
};
inline PythonPieces PythonSentencePiece(const std::filesystem::path& model,
                                        const std::vector<std::string>& texts) {
  const std::filesystem::path input = model.parent_path() / "python_input.txt";
  {
    std::ofstream out(input);
    for (const std::string& text : texts) out << text << "\n";
  }
  const std::string script =
      "import sys, sentencepiece as s\n"
      "p = s.SentencePieceProcessor(model_file=sys.argv[1])\n"
      "print(p.get_piece_size(), p.bos_id(), p.eos_id())\n"
      "for line in open(sys.argv[2], encoding='utf-8'):\n"
      "    print(' '.join(map(str, p.encode(line.rstrip('\\n')))))\n";
  const std::filesystem::path script_path = model.parent_path() / "pieces.py";
  std::ofstream(script_path) << script;
  const std::string command = std::string("'") + EQUIFL_PYTHON + "' '" + script_path.string() +
                              "' '" + model.string() + "' '" + input.string() + "'";
  PythonPieces result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::string output;
  char buffer[4096];
  while (size_t read = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, read);
  if (pclose(pipe) != 0) return result;
  std::istringstream lines(output);
  std::string line;
  if (std::getline(lines, line))
    std::istringstream(line) >> result.pieces >> result.begin >> result.end;
  while (std::getline(lines, line)) {
    std::vector<int>& ids = result.ids.emplace_back();
    std::istringstream words(line);
    for (int id; words >> id;) ids.push_back(id);
  }
  return result;
}

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_CLIENT_MEDIA_MEDIA_PROGRAMS_H_
