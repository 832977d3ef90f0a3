#include "server/run_folder.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "fairness/fairness_report.h"
#include "protocol/safetensors.h"

namespace equifl::server {
namespace {

std::string RoundFileStem(uint64_t round) { return absl::StrFormat("round-%06d", round); }

}  // namespace

absl::StatusOr<std::unique_ptr<RunFolder>> RunFolder::Open(const std::string& path,
                                                           const std::string& run_id) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path) / "checkpoints", error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the run folder '", path, "': ", error.message()));
  }
  EQUIFL_ASSIGN_OR_RETURN(
      RunHistory history,
      RunHistory::Open((std::filesystem::path(path) / "history.db").string(), run_id));
  return std::unique_ptr<RunFolder>(new RunFolder(path, std::move(history)));
}

std::string RunFolder::ModelPath(uint64_t round) const {
  return (std::filesystem::path(path_) / "checkpoints" / (RoundFileStem(round) + ".safetensors"))
      .string();
}

std::string RunFolder::OptimizerPath(uint64_t round) const {
  return (std::filesystem::path(path_) / "checkpoints" /
          (RoundFileStem(round) + ".optimizer.safetensors"))
      .string();
}

absl::Status RunFolder::WriteModel(uint64_t round, const GlobalModel& model) const {
  const std::vector<protocol::TensorView> views = model.Views();
  return protocol::WriteSafetensors(
      ModelPath(round), views,
      {{"format", "equifl-checkpoint"}, {"run_id", run_id()}, {"round", std::to_string(round)}});
}

absl::Status RunFolder::SaveInitialModel(const GlobalModel& model) { return WriteModel(0, model); }

absl::Status RunFolder::OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                                      const aggregation::ServerOptimizer& optimizer) {
  EQUIFL_RETURN_IF_ERROR(WriteModel(summary.round_id, model));
  const aggregation::ServerOptimizerState state = optimizer.State();
  std::vector<protocol::TensorView> state_views;
  for (const auto& [name, values] : state) {
    state_views.push_back({name,
                           v1::DATA_TYPE_FLOAT32,
                           {static_cast<int64_t>(values.size())},
                           std::as_bytes(std::span(values))});
  }
  EQUIFL_RETURN_IF_ERROR(
      protocol::WriteSafetensors(OptimizerPath(summary.round_id), state_views,
                                 {{"format", "equifl-optimizer-state"}, {"run_id", run_id()}}));
  RoundRecord record;
  record.round_id = summary.round_id;
  record.checkpoint =
      std::filesystem::path("checkpoints") / (RoundFileStem(summary.round_id) + ".safetensors");
  record.seconds = summary.seconds;
  record.reached_quorum = summary.reached_quorum;
  record.selected = summary.selected;
  record.contributors = summary.contributors;
  record.train_samples = summary.train.samples();
  record.train_loss = summary.train.mean_loss();
  record.validation_samples = summary.validation.samples();
  record.validation_loss = summary.validation.mean_loss();
  record.validation_accuracy = summary.validation.accuracy();
  record.fairness_lambda = summary.fairness.lambda;
  record.validation_gap = summary.fairness.validation_gap;
  record.privacy_epsilon = summary.privacy_epsilon;
  nlohmann::json line = {{"round", summary.round_id},
                         {"final_evaluation", summary.final_evaluation},
                         {"contributors", summary.contributors.size()},
                         {"train_loss", record.train_loss},
                         {"validation_loss", record.validation_loss},
                         {"lambda", summary.fairness.lambda},
                         {"validation_gap", summary.fairness.validation_gap},
                         {"privacy_epsilon", summary.privacy_epsilon},
                         {"seconds", summary.seconds}};
  if (absl::StatusOr<fairness::FairnessReport> report =
          fairness::BuildFairnessReport(summary.validation.table());
      report.ok()) {
    line["validation"] = fairness::ToJson(*report);
    last_fairness_table_ = fairness::FormatTable(*report);
    record.fairness_report = line["validation"].dump();
  } else {
    line["validation_error"] = std::string(report.status().message());
  }
  if (!summary.fairness.group_weights.empty())
    line["group_weights"] = summary.fairness.group_weights;
  if (!summary.fairness.client_weights.empty()) {
    line["client_weights"] = summary.fairness.client_weights;
  }
  EQUIFL_RETURN_IF_ERROR(history_.RecordRound(record));
  // The JSON-lines report follows the history: a crash between the two loses at
  // most the line of a round that --resume then does not repeat.
  std::ofstream report_file(std::filesystem::path(path_) / "report.jsonl", std::ios::app);
  report_file << line.dump() << '\n';
  if (!report_file) {
    return absl::DataLossError(
        absl::StrCat("cannot append to '", path_, "/report.jsonl'; is the disk full?"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<RunFolder::Checkpoint>> RunFolder::LoadLatest() const {
  EQUIFL_ASSIGN_OR_RETURN(std::optional<RoundRecord> last, history_.LastRound());
  const uint64_t round = last ? last->round_id : 0;
  if (!last && !std::filesystem::exists(ModelPath(0))) return std::nullopt;

  EQUIFL_ASSIGN_OR_RETURN(protocol::SafetensorsFile model_file,
                          protocol::SafetensorsFile::Open(ModelPath(round)));
  EQUIFL_ASSIGN_OR_RETURN(GlobalModel model, GlobalModel::FromTensors(model_file.tensors()));
  Checkpoint checkpoint{round, std::move(model), {}};
  if (round > 0) {
    EQUIFL_ASSIGN_OR_RETURN(protocol::SafetensorsFile state_file,
                            protocol::SafetensorsFile::Open(OptimizerPath(round)));
    for (const protocol::TensorView& tensor : state_file.tensors()) {
      if (tensor.data_type != v1::DATA_TYPE_FLOAT32) {
        return absl::DataLossError(absl::StrCat("optimiser state '", tensor.name, "' in '",
                                                OptimizerPath(round), "' is not float32"));
      }
      const auto* values = reinterpret_cast<const float*>(tensor.bytes.data());
      checkpoint.optimizer_state.emplace_back(
          tensor.name, std::vector<float>(values, values + tensor.bytes.size() / sizeof(float)));
    }
  }
  return checkpoint;
}

}  // namespace equifl::server
