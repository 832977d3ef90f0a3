#include "server/run_folder.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "fairness/decision_offsets.h"
#include "fairness/fairness_report.h"
#include "fairness/feasibility_floor.h"
#include "fairness/model_selection.h"
#include "protocol/file_io.h"
#include "protocol/safetensors.h"
#include "server/checkpoint_integrity.h"

namespace equifl::server {
namespace {

std::string RoundFileStem(uint64_t round) { return absl::StrFormat("round-%06d", round); }

// Takes the exclusive lock on `path` (created if missing) and writes this
// process's id into it; fails, naming the holder, when another process holds it.
absl::StatusOr<int> LockRunFolder(const std::string& folder, const std::string& path) {
  const int descriptor = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (descriptor < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open the run folder's lock file '", path,
                                               "': ", std::strerror(errno)));
  }
  if (::flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = {};
    const ssize_t read = ::pread(descriptor, holder, sizeof(holder) - 1, 0);
    ::close(descriptor);
    if (error != EWOULDBLOCK) {
      return absl::UnavailableError(
          absl::StrCat("cannot lock the run folder '", folder, "': ", std::strerror(error)));
    }
    std::string pid(holder, read > 0 ? static_cast<size_t>(read) : 0);
    pid.erase(pid.find_last_not_of(" \n") + 1);
    return absl::FailedPreconditionError(
        absl::StrCat("the run folder '", folder, "' is in use by another equifl server (pid ",
                     pid.empty() ? "unknown" : pid, "); stop it first or choose another run_dir"));
  }
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(descriptor, 0) != 0 ||
      ::pwrite(descriptor, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    ::close(descriptor);
    return absl::UnavailableError(absl::StrCat("cannot write the run folder's lock file '", path,
                                               "': ", std::strerror(errno)));
  }
  return descriptor;
}

}  // namespace

RunFolder::LockFile::~LockFile() {
  if (descriptor >= 0) ::close(descriptor);
}

absl::StatusOr<std::unique_ptr<RunFolder>> RunFolder::Open(const std::string& path,
                                                           const std::string& run_id) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path) / "checkpoints", error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the run folder '", path, "': ", error.message()));
  }
  EQUIFL_ASSIGN_OR_RETURN(const int lock,
                          LockRunFolder(path, (std::filesystem::path(path) / "lock").string()));
  LockFile held(lock);
  EQUIFL_ASSIGN_OR_RETURN(
      RunHistory history,
      RunHistory::Open((std::filesystem::path(path) / "history.db").string(), run_id));
  return std::unique_ptr<RunFolder>(
      new RunFolder(path, std::move(history), std::exchange(held.descriptor, -1)));
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

absl::StatusOr<std::string> RunFolder::WriteModel(uint64_t round, const GlobalModel& model) const {
  const std::vector<protocol::TensorView> views = model.Views();
  EQUIFL_RETURN_IF_ERROR(protocol::WriteSafetensors(
      ModelPath(round), views,
      {{"format", "equifl-checkpoint"}, {"run_id", run_id()}, {"round", std::to_string(round)}}));
  return FileSha256(ModelPath(round));
}

absl::Status RunFolder::WriteCalibration(uint64_t round, const RoundSummary& summary) const {
  nlohmann::json calibration = fairness::CalibrationToJson(summary.temperatures);
  if (summary.decision_offsets) {
    calibration["decision_offsets"] = fairness::DecisionOffsetsToJson(*summary.decision_offsets);
  }
  const std::string json = calibration.dump(2) + "\n";
  const std::span<const std::byte> bytes = std::as_bytes(std::span(json));
  return protocol::WriteFileAtomically(
      (std::filesystem::path(path_) / "checkpoints" / (RoundFileStem(round) + ".calibration.json"))
          .string(),
      {&bytes, 1});
}

absl::Status RunFolder::SaveInitialModel(const GlobalModel& model) {
  EQUIFL_ASSIGN_OR_RETURN(std::string digest, WriteModel(0, model));
  return history_.RecordDigests(0, {digest, ""});
}

absl::Status RunFolder::OnRoundClosed(const RoundSummary& summary, const GlobalModel& model,
                                      const aggregation::ServerOptimizer& optimizer) {
  spdlog::debug("round {}: writing its checkpoint", summary.round_id);
  EQUIFL_ASSIGN_OR_RETURN(std::string model_digest, WriteModel(summary.round_id, model));
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
  record.model_sha256 = std::move(model_digest);
  EQUIFL_ASSIGN_OR_RETURN(record.optimizer_sha256, FileSha256(OptimizerPath(summary.round_id)));
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
  record.controller = {summary.fairness.minmax_gap_weights, summary.fairness.group_weights,
                       summary.fairness.client_weights, summary.fairness.group_dro_weights,
                       summary.fairness.floor_probe};
  record.selection = summary.selection;
  nlohmann::json line = {{"round", summary.round_id},
                         {"final_evaluation", summary.final_evaluation},
                         {"contributors", summary.contributors.size()},
                         {"train_loss", record.train_loss},
                         {"validation_loss", record.validation_loss},
                         {"lambda", summary.fairness.lambda},
                         {"validation_gap", summary.fairness.validation_gap},
                         {"privacy_epsilon", summary.privacy_epsilon},
                         {"seconds", summary.seconds}};
  if (absl::StatusOr<fairness::FairnessReport> report = fairness::BuildFairnessReport(
          summary.validation.table(), fairness::kFusionView, {}, gap_bound_);
      report.ok()) {
    line["validation"] = fairness::ToJson(*report);
    last_fairness_table_ = fairness::FormatTable(*report);
    record.fairness_report = line["validation"].dump();
  } else {
    line["validation_error"] = std::string(report.status().message());
  }
  if (!summary.temperatures.empty()) {
    EQUIFL_RETURN_IF_ERROR(WriteCalibration(summary.round_id, summary));
    line["calibration"] = fairness::CalibrationToJson(summary.temperatures)["temperatures"];
    if (summary.decision_offsets) {
      line["decision_offsets"] = fairness::DecisionOffsetsToJson(*summary.decision_offsets);
    }
    if (absl::StatusOr<fairness::FairnessReport> calibrated = fairness::BuildFairnessReport(
            summary.calibrated, fairness::kFusionView, {}, gap_bound_);
        calibrated.ok()) {
      line["calibrated"] = fairness::ToJson(*calibrated);
      const std::optional<fairness::DecisionOffsets>& offsets = summary.decision_offsets;
      absl::StrAppend(&last_fairness_table_,
                      "\nCalibrated: each group's fused logits divided by its temperature",
                      offsets ? absl::StrCat(" and its decision offset added to class ",
                                             offsets->positive_class, "'s log-probability")
                              : "",
                      ", fitted on the validation split (", RoundFileStem(summary.round_id),
                      ".calibration.json); ",
                      offsets ? "the offsets change predictions, so accuracy too.\n"
                              : "predictions, and so accuracy, are unchanged.\n",
                      fairness::FormatTable(*calibrated));
      if (offsets) {
        const std::vector<fairness::OffsetEffect> effects =
            fairness::OffsetEffects(summary.validation.table(), summary.calibrated,
                                    offsets->positive_class, gap_bound_.confidence);
        line["decision_offset_effects"] = fairness::OffsetEffectsToJson(effects);
        absl::StrAppend(&last_fairness_table_,
                        "Decision offsets for equal opportunity (per group: offset, validation "
                        "true-positive rate before -> after):\n",
                        fairness::FormatDecisionOffsets(
                            *offsets, effects, absl::StrCat("class ", offsets->positive_class)));
      }
      std::vector<std::string> unfitted;
      for (const fairness::GroupTemperature& entry : summary.temperatures) {
        if (!entry.fitted) {
          unfitted.push_back(absl::StrCat(fairness::CellName(entry.cell), ": ", entry.group, " (",
                                          entry.samples, ")"));
        }
      }
      if (!unfitted.empty()) {
        absl::StrAppend(&last_fairness_table_,
                        "Not calibrated (validation samples in brackets, fewer than "
                        "fairness.calibration.min_samples; temperature 1): ",
                        absl::StrJoin(unfitted, ", "), "\n");
      }
    }
  }
  if (const std::optional<fairness::FloorJudgement>& feasibility = summary.fairness.feasibility) {
    line["feasibility"] = fairness::FloorToJson(*feasibility);
    if (summary.final_evaluation && !last_fairness_table_.empty()) {
      absl::StrAppend(&last_fairness_table_,
                      "\nThe bound against the gap's floor: ", feasibility->text, ".\n");
    }
  }
  if (summary.selection) line["selection"] = fairness::SelectionToJson(*summary.selection);
  if (summary.chosen_round) {
    line["chosen"] = fairness::ChosenToJson(summary.chosen_round, summary.chosen_reason);
    if (summary.final_evaluation && !last_fairness_table_.empty()) {
      last_fairness_table_ =
          absl::StrCat("The model evaluated: ", summary.chosen_reason, ".\n", last_fairness_table_);
    }
  }
  if (!summary.abandoned.empty()) line["abandoned"] = summary.abandoned;
  for (const fairness::GroupWeight& weight : summary.fairness.group_weights) {
    line["group_weights"].push_back({{"language", weight.cell.language},
                                     {"view", weight.cell.modality},
                                     {"group", weight.group},
                                     {"weight", weight.weight},
                                     {"share", weight.share}});
  }
  for (const fairness::ClientWeight& weight : summary.fairness.client_weights) {
    line["client_weights"][weight.client] = weight.weight;
  }
  if (!summary.fairness.alpha_step.empty()) line["alpha_step"] = summary.fairness.alpha_step;
  for (const fairness::GroupDroWeight& weight : summary.fairness.group_dro_weights) {
    nlohmann::json entry = {{"language", weight.cell.language},
                            {"view", weight.cell.modality},
                            {"group", weight.group},
                            {"weight", weight.weight},
                            {"share", weight.share}};
    if (!weight.cell.client.empty()) entry["client"] = weight.cell.client;
    if (weight.reference) entry["reference_loss"] = *weight.reference;
    line["group_dro_weights"].push_back(std::move(entry));
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

absl::StatusOr<GlobalModel> RunFolder::ModelAfterRound(uint64_t round) const {
  EQUIFL_ASSIGN_OR_RETURN(Checkpoint checkpoint, LoadRound(round));
  return std::move(checkpoint.model);
}

absl::StatusOr<RunFolder::Checkpoint> RunFolder::LoadRound(uint64_t round) const {
  EQUIFL_ASSIGN_OR_RETURN(std::optional<CheckpointDigests> digests, history_.Digests(round));
  // Each file of the round against its recorded digest (none recorded: a folder
  // from before digests were kept), then its values.
  const auto open_verified =
      [&](const std::string& path,
          const std::string* recorded) -> absl::StatusOr<protocol::SafetensorsFile> {
    if (recorded != nullptr && !recorded->empty()) {
      EQUIFL_ASSIGN_OR_RETURN(std::string digest, FileSha256(path));
      if (digest != *recorded) {
        return absl::DataLossError(
            absl::StrCat("the checkpoint '", path, "' is not the file round ", round,
                         " wrote: its SHA-256 is ", digest, ", the run history recorded ",
                         *recorded, "; it was changed or corrupted after it was written"));
      }
    }
    EQUIFL_ASSIGN_OR_RETURN(protocol::SafetensorsFile file, protocol::SafetensorsFile::Open(path));
    EQUIFL_RETURN_IF_ERROR(CheckFiniteValues(file, path));
    return file;
  };
  EQUIFL_ASSIGN_OR_RETURN(
      protocol::SafetensorsFile model_file,
      open_verified(ModelPath(round), digests ? &digests->model_sha256 : nullptr));
  EQUIFL_ASSIGN_OR_RETURN(GlobalModel model, GlobalModel::FromTensors(model_file.tensors()));
  Checkpoint checkpoint{round, std::move(model), {}};
  if (round > 0) {
    EQUIFL_ASSIGN_OR_RETURN(
        protocol::SafetensorsFile state_file,
        open_verified(OptimizerPath(round), digests ? &digests->optimizer_sha256 : nullptr));
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

absl::StatusOr<bool> RunFolder::ReopenForMoreRounds(uint64_t training_rounds) {
  EQUIFL_ASSIGN_OR_RETURN(std::optional<RoundRecord> last, history_.LastRound());
  // A final evaluation is the only round without training samples: clients refuse
  // a shard without any, so every training round has some.
  if (!last || last->train_samples != 0) return false;
  const uint64_t trained = last->round_id - 1;
  if (training_rounds <= trained) return false;
  spdlog::warn(
      "run '{}' finished {} training rounds and its final evaluation; training on to round {} "
      "(round {}'s evaluation is forgotten and runs again at the end)",
      run_id(), trained, training_rounds, last->round_id);
  EQUIFL_RETURN_IF_ERROR(history_.ForgetRoundsAfter(trained));
  return true;
}

absl::StatusOr<std::optional<RunFolder::Checkpoint>> RunFolder::LoadLatest(
    bool fall_back_to_last_good) {
  EQUIFL_ASSIGN_OR_RETURN(std::optional<RoundRecord> last, history_.LastRound());
  const uint64_t latest = last ? last->round_id : 0;
  if (!last && !std::filesystem::exists(ModelPath(0))) return std::nullopt;
  absl::StatusOr<Checkpoint> checkpoint = LoadRound(latest);
  if (checkpoint.ok() || !fall_back_to_last_good) {
    if (!checkpoint.ok()) {
      return absl::Status(checkpoint.status().code(),
                          absl::StrCat(checkpoint.status().message(),
                                       ". Restore the file, or pass --resume-from-last-good to "
                                       "continue from the newest round whose checkpoint verifies"));
    }
    return *std::move(checkpoint);
  }
  spdlog::warn("round {}'s checkpoint cannot be used: {}", latest,
               std::string(checkpoint.status().message()));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<RoundRecord> rounds, history_.Rounds());
  for (auto record = rounds.rbegin(); record != rounds.rend(); ++record) {
    const uint64_t round = record->round_id;
    if (round == latest) continue;
    checkpoint = LoadRound(round);
    if (checkpoint.ok()) break;
    spdlog::warn("round {}'s checkpoint cannot be used: {}", round,
                 std::string(checkpoint.status().message()));
  }
  if (!checkpoint.ok() && latest != 0) checkpoint = LoadRound(0);
  if (!checkpoint.ok()) {
    return absl::DataLossError(
        absl::StrCat("no checkpoint of the run folder '", path_,
                     "' verifies, not even the initial model's: ", checkpoint.status().message()));
  }
  spdlog::warn("--resume-from-last-good: continuing after round {}; rounds {} to {} are forgotten",
               checkpoint->completed_rounds, checkpoint->completed_rounds + 1, latest);
  EQUIFL_RETURN_IF_ERROR(history_.ForgetRoundsAfter(checkpoint->completed_rounds));
  return *std::move(checkpoint);
}

}  // namespace equifl::server
