// Text as the pieces of a SentencePiece model that the deployment provides: the
// alternative to byte tokens (byte_tokens.h) where a subword vocabulary is wanted,
// e.g. the one a pretrained text encoder was built with.
//
// The model file must reach every client from the deployment (trained on public
// text, or shipped with a pretrained encoder): equifl trains none, because a
// vocabulary trained on the clients' texts would need those texts pooled in one
// place. Ids are the model's own: its begin id, the ids of the text's pieces, its
// end id (begin and end only where the model defines them); a text of more than
// max_pieces pieces keeps its first max_pieces. The vocabulary is the model's piece
// count. Padding after a sample's length is id 0, which the length masks. The
// front end (Describe) names the model by its file's SHA-256, so a client whose
// model file differs in any byte is refused when it joins.
//
// The pieces come from SentencePiece's own encoder program, spm_encode (with
// spm_export_vocab; Debian's package `sentencepiece`), run once over all of an
// import's texts, not from libsentencepiece: Debian's library carries its own
// copy of protobuf 3.14 and aborts in a process that has loaded protobuf 3.21 for
// gRPC, as equifl has. A line break inside a text is read as a space, as the
// model's normaliser reads any whitespace. No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_SENTENCEPIECE_TOKENS_H_
#define EQUIFL_CLIENT_MEDIA_SENTENCEPIECE_TOKENS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/media/byte_tokens.h"

namespace equifl::client {

//! Which SentencePiece model, and how many pieces a text keeps.
struct SentencePieceOptions {
  std::string model_path;  //!< A SentencePiece .model file; empty: byte tokens instead.
  int max_pieces = 256;    //!< Longer texts keep their first pieces; 1..65536.

  //! OK, or why max_pieces is out of range.
  absl::Status Validate() const;
};

class SentencePieceTokenizer {
 public:
  //! Checks options.model_path (a regular file of at most 256 MiB that
  //! SentencePiece reads as a model) and learns its vocabulary, begin and end;
  //! otherwise an error naming the file, or the program that is missing.
  static absl::StatusOr<SentencePieceTokenizer> Load(const SentencePieceOptions& options);

  //! Ids in all: the model's piece count.
  int64_t Vocabulary() const { return vocabulary_; }
  //! Tokens a text can take: max_pieces plus begin and end, where the model has them.
  int64_t MaxTokens() const;
  //! The definition as one line ("sentencepiece sha256=... pieces=8000 begin=1
  //! end=2 max_pieces=256"): what a shard manifest records and a run compares.
  std::string Describe() const;

  //! The tokens of every text (UTF-8), in order, from one run of spm_encode.
  absl::StatusOr<std::vector<TextTokens>> Tokenize(const std::vector<std::string>& texts) const;

 private:
  SentencePieceTokenizer(SentencePieceOptions options, std::string sha256, int64_t vocabulary,
                         int begin, int end)
      : options_(std::move(options)),
        sha256_(std::move(sha256)),
        vocabulary_(vocabulary),
        begin_(begin),
        end_(end) {}

  SentencePieceOptions options_;
  std::string sha256_;  //!< Of the model file, lower-case hex.
  int64_t vocabulary_ = 0;
  int begin_ = -1;  //!< The model's begin id; -1: none.
  int end_ = -1;    //!< The model's end id; -1: none.
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_SENTENCEPIECE_TOKENS_H_
