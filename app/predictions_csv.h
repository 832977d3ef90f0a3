// The audit file of `equifl eval --predictions`: one CSV row per evaluated sample
// and modality view, holding what an auditor needs to recompute every metric of the
// report with tools of their own (Fairlearn, AIF360, pandas):
//
//   sample      the sample's row in the shard (0-based)
//   client      the shard folder's name
//   split       train, validation or test
//   language, group, view
//   label, prediction             class names (prediction: the most probable class)
//   loss                          the sample's cross-entropy in nats, as the report
//                                 averages it
//   probability:<class>, ...      one column per class: the softmax of the logits
//
// RFC 4180 quoting; losses with 17 significant digits, probabilities with 9 (exact
// round trips of float64 and float32). The file appears whole or not at all: rows
// go to PATH.partial, renamed to PATH by Commit; without Commit the partial file is
// removed.
#ifndef EQUIFL_APP_PREDICTIONS_CSV_H_
#define EQUIFL_APP_PREDICTIONS_CSV_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/data/shard.h"
#include "client/local_trainer.h"
#include "client/model/dataset.h"

namespace equifl::app {

class PredictionsCsv {
 public:
  //! Starts PATH.partial with the header; `manifest` names the classes, groups
  //! and languages. Fails naming the path when it cannot be written.
  static absl::StatusOr<PredictionsCsv> Create(const std::string& path,
                                               const client::ShardManifest& manifest,
                                               std::string client, client::Split split);

  //! Adds the rows of one view's evaluation of `dataset`, whose samples are the
  //! shard's rows `rows` in that order.
  absl::Status Append(const std::string& view, const std::vector<int64_t>& rows,
                      const client::Dataset& dataset, const client::EvaluationResult& result);

  //! Completes the file: flushes, closes and renames it to PATH.
  absl::Status Commit();

 private:
  //! Closes the file and removes it: what is left of a file never committed.
  struct Discard {
    std::string partial_path;
    void operator()(std::FILE* file) const;
  };
  PredictionsCsv(std::string path, const client::ShardManifest& manifest, std::string client,
                 client::Split split, std::FILE* file, std::string partial_path);

  std::string path_;
  std::vector<std::string> labels_;
  std::vector<std::string> groups_;
  std::vector<std::string> languages_;
  std::string client_;
  client::Split split_;
  std::unique_ptr<std::FILE, Discard> file_;  //!< PATH.partial, open until Commit.
};

}  // namespace equifl::app

#endif  // EQUIFL_APP_PREDICTIONS_CSV_H_
