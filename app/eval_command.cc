#include "app/eval_command.h"

#include <spdlog/spdlog.h>
#include <torch/utils.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/command.h"
#include "app/predictions_csv.h"
#include "app/run_model.h"
#include "base/progress_line.h"
#include "base/status_macros.h"
#include "client/decision_offset_views.h"
#include "client/group_statistics.h"
#include "client/local_trainer.h"
#include "client/model/model_state.h"
#include "client/shard_dataset.h"
#include "client/temperature_views.h"
#include "fairness/calibration.h"
#include "fairness/decision_offsets.h"
#include "fairness/fairness_report.h"
#include "protocol/file_io.h"
#include "protocol/safetensors.h"
#include "protocol/torch/torch_tensors.h"
#include "server/checkpoint_integrity.h"

namespace equifl::app {
namespace {

// Copies the checkpoint's tensors into `model`, refusing a checkpoint that was
// written for another architecture.
absl::Status LoadCheckpoint(const std::string& path, client::MultimodalModel& model) {
  EQUIFL_ASSIGN_OR_RETURN(protocol::SafetensorsFile file, protocol::SafetensorsFile::Open(path));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<protocol::NamedTensor> state,
                          protocol::ToContiguousCpu(client::ExportState(*model)));
  EQUIFL_ASSIGN_OR_RETURN(std::vector<protocol::MutableTensorView> targets,
                          protocol::MutableViewsOf(state));
  for (const protocol::MutableTensorView& target : targets) {
    const protocol::TensorView* source = file.Find(target.name);
    if (source == nullptr || source->data_type != target.data_type ||
        source->bytes.size() != target.bytes.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the checkpoint '", path, "' ", source == nullptr ? "lacks" : "has another shape for",
          " the model's tensor '", target.name,
          "': evaluate with the configuration (model section) and data schema of its run"));
    }
    if (!target.bytes.empty()) {
      std::memcpy(target.bytes.data(), source->bytes.data(), target.bytes.size());
    }
  }
  return client::LoadState(*model, state);
}

// The calibration file to apply: --calibration, else the checkpoint's sibling
// STEM.calibration.json when it exists; empty for none.
std::string CalibrationFile(const EvalCommand& command) {
  if (command.calibration == "none") return "";
  if (!command.calibration.empty()) return command.calibration;
  std::filesystem::path sibling = command.checkpoint;
  sibling.replace_extension(".calibration.json");
  std::error_code error;
  return std::filesystem::is_regular_file(sibling, error) ? sibling.string() : "";
}

// The most bytes a calibration file may have (a temperature per group, language and,
// with per-client cells, client: far below this for any federation).
constexpr uint64_t kMaxCalibrationBytes = uint64_t{64} << 20;

// What a calibration file holds: temperatures, and decision offsets when fitted.
struct Calibration {
  std::vector<fairness::GroupTemperature> temperatures;
  std::optional<fairness::DecisionOffsets> decision_offsets;
};

absl::StatusOr<Calibration> ReadCalibration(const std::string& path) {
  absl::StatusOr<std::string> text = protocol::ReadRegularFile(path, kMaxCalibrationBytes);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the calibration file: ", text.status().message()));
  }
  Calibration calibration;
  absl::StatusOr<std::vector<fairness::GroupTemperature>> temperatures =
      fairness::CalibrationFromJson(*text);
  if (!temperatures.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "': ", temperatures.status().message()));
  }
  calibration.temperatures = std::move(*temperatures);
  absl::StatusOr<std::optional<fairness::DecisionOffsets>> offsets =
      fairness::DecisionOffsetsFromJson(*text);
  if (!offsets.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': ", offsets.status().message()));
  }
  calibration.decision_offsets = std::move(*offsets);
  return calibration;
}

// What eval reports: the checkpoint's metrics, and calibrated ones when a
// calibration file applies.
struct Evaluation {
  fairness::FairnessReport report;
  std::optional<fairness::FairnessReport> calibrated;
  std::string calibration_file;
  //! The calibration file's decision offsets and their effect on this split.
  std::optional<fairness::DecisionOffsets> decision_offsets;
  std::vector<fairness::OffsetEffect> offset_effects;
  std::string positive_label;
};

absl::StatusOr<Evaluation> Evaluate(const Config& config, const EvalCommand& command) {
  EQUIFL_ASSIGN_OR_RETURN(client::Split split, ParseEnum<client::Split>("--split", command.split));
  EQUIFL_ASSIGN_OR_RETURN(client::Shard shard, client::Shard::Open(command.shard));
  EQUIFL_ASSIGN_OR_RETURN(client::Dataset dataset, client::DatasetFromShard(shard, split));
  const std::vector<int64_t> rows = client::RowsOfSplit(shard, split);
  if (dataset.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the shard '", command.shard, "' has no ", command.split, " samples"));
  }
  EQUIFL_ASSIGN_OR_RETURN(client::MultimodalModel model,
                          BuildModel(shard.manifest(), config.model));
  EQUIFL_RETURN_IF_ERROR(server::VerifyCheckpointFile(command.checkpoint));
  EQUIFL_RETURN_IF_ERROR(LoadCheckpoint(command.checkpoint, model));

  std::vector<std::string> views = command.views;
  if (views.empty()) {
    views.push_back(fairness::kFusionView);
    for (const client::ShardModality& modality : shard.manifest().modalities) {
      views.push_back(modality.name);
    }
  }
  for (const std::string& view : views) {
    bool known = view == fairness::kFusionView;
    for (const client::ShardModality& modality : shard.manifest().modalities) {
      known = known || modality.name == view;
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat("--views names '", view,
                                                     "', which the shard does not have; "
                                                     "use fusion or a modality of the shard"));
    }
  }
  std::optional<PredictionsCsv> predictions;
  if (!command.predictions.empty()) {
    const std::filesystem::path folder = std::filesystem::path(command.shard).lexically_normal();
    const std::string client =
        (folder.has_filename() ? folder.filename() : folder.parent_path().filename()).string();
    EQUIFL_ASSIGN_OR_RETURN(
        predictions, PredictionsCsv::Create(command.predictions, shard.manifest(), client, split));
  }
  // Every view sees every sample: the progress counts samples over all views. With
  // the report as JSON on stdout, the progress goes to stderr.
  const uint64_t samples = static_cast<uint64_t>(dataset.size());
  ProgressLine progress({.what = "evaluation samples",
                         .total = samples * views.size(),
                         .stream = command.json == "-" ? stderr : stdout});
  Evaluation evaluation;
  evaluation.calibration_file = CalibrationFile(command);
  Calibration calibration;
  if (!evaluation.calibration_file.empty()) {
    EQUIFL_ASSIGN_OR_RETURN(calibration, ReadCalibration(evaluation.calibration_file));
  }
  const std::vector<fairness::GroupTemperature>& temperatures = calibration.temperatures;
  const std::vector<std::string>& labels = shard.manifest().labels;
  if (calibration.decision_offsets &&
      calibration.decision_offsets->positive_class >= labels.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", evaluation.calibration_file, "' offsets class ",
        calibration.decision_offsets->positive_class, ", but the shard has ", labels.size(),
        " labels: evaluate with the data schema of the run that fitted it"));
  }
  fairness::StatisticsTable table;
  std::optional<client::EvaluationResult> fusion;
  for (size_t index = 0; index < views.size(); ++index) {
    const std::string& view = views[index];
    progress.SetDetail(absl::StrCat("view ", view));
    const client::ModalityView modality_view = view == fairness::kFusionView
                                                   ? client::ModalityView::All()
                                                   : client::ModalityView::Only(view);
    EQUIFL_ASSIGN_OR_RETURN(
        client::EvaluationResult result,
        client::Evaluate(model, dataset, modality_view, /*batch_size=*/256,
                         [&](int64_t done) { progress.Update(index * samples + done); }));
    table.merge(client::NamedStatistics(result.groups, shard.manifest().languages,
                                        shard.manifest().groups, view));
    if (predictions) EQUIFL_RETURN_IF_ERROR(predictions->Append(view, rows, dataset, result));
    if (view == fairness::kFusionView) fusion = std::move(result);
  }
  if (predictions) EQUIFL_RETURN_IF_ERROR(predictions->Commit());
  progress.SetDetail("");
  progress.Finish();
  EQUIFL_ASSIGN_OR_RETURN(
      evaluation.report,
      fairness::BuildFairnessReport(table, fairness::kFusionView, {}, config.fairness.bound));
  if (!temperatures.empty() && !fusion) {
    spdlog::warn(
        "not calibrated: the temperatures of '{}' apply to the fusion view, which "
        "--views leaves out",
        evaluation.calibration_file);
  } else if (!temperatures.empty()) {
    fairness::StatisticsTable scaled = table;
    std::set<double> done;
    for (const fairness::GroupTemperature& entry : temperatures) {
      if (!done.insert(entry.temperature).second) continue;
      const std::string view = fairness::TemperatureViewName(entry.temperature);
      scaled.merge(client::TemperatureViewStatistics(*fusion, dataset, entry.temperature, view,
                                                     shard.manifest().languages,
                                                     shard.manifest().groups));
    }
    fairness::StatisticsTable calibrated = fairness::ApplyTemperatures(scaled, temperatures);
    if (const std::optional<fairness::DecisionOffsets>& offsets = calibration.decision_offsets) {
      std::set<double> shifted;
      for (const fairness::GroupDecisionOffset& entry : offsets->groups) {
        if (entry.offset == 0 || !shifted.insert(entry.offset).second) continue;
        calibrated.merge(client::DecisionOffsetViewStatistics(
            *fusion, dataset, offsets->positive_class, entry.offset,
            fairness::OffsetViewName(offsets->positive_class, entry.offset),
            shard.manifest().languages, shard.manifest().groups));
      }
      calibrated = fairness::ApplyDecisionOffsets(calibrated, *offsets);
      evaluation.decision_offsets = offsets;
      evaluation.positive_label = labels[offsets->positive_class];
      evaluation.offset_effects = fairness::OffsetEffects(
          table, calibrated, offsets->positive_class, config.fairness.bound.confidence);
    }
    EQUIFL_ASSIGN_OR_RETURN(evaluation.calibrated,
                            fairness::BuildFairnessReport(calibrated, fairness::kFusionView, {},
                                                          config.fairness.bound));
  }
  return evaluation;
}

}  // namespace

CLI::App* AddEvalSubcommand(CLI::App& app, EvalCommand& command) {
  CLI::App* eval = app.add_subcommand(
      "eval",
      "Compute accuracy, per-group metrics and every fairness metric (MinMaxGAP, statistical "
      "parity, disparate impact, equalized odds, equal opportunity, F1 gap, MSFD, AFI) of a "
      "checkpoint on a shard; the model section of --config must be the run's");
  eval->add_option("--checkpoint", command.checkpoint,
                   "a model checkpoint, e.g. RUN/checkpoints/round-000005.safetensors")
      ->required()
      ->check(CLI::ExistingFile);
  eval->add_option("--shard", command.shard, "the shard folder to evaluate on")
      ->required()
      ->check(CLI::ExistingDirectory);
  eval->add_option("--split", command.split, "train, validation or test")->capture_default_str();
  eval->add_option("--views", command.views,
                   "modality views, e.g. fusion video (default: fusion and each modality)");
  eval->add_option("--json", command.json,
                   "also write the report as JSON here ('-': "
                   "only JSON, to stdout)");
  eval->add_option("--calibration", command.calibration,
                   "per-group temperatures (and decision offsets, where fitted) to also report "
                   "calibrated metrics with (default: "
                   "CHECKPOINT's sibling STEM.calibration.json, which a run with "
                   "fairness.calibration writes, when present; 'none': never)");
  eval->add_option("--predictions", command.predictions,
                   "also write every sample's prediction here as CSV, a row per sample and view "
                   "(shard row, client, split, language, group, view, label, prediction, loss, "
                   "class probabilities), so an auditor can recompute every metric");
  return eval;
}

int RunEvalCommand(const Config& config, const EvalCommand& command) {
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  absl::StatusOr<Evaluation> evaluation = Evaluate(config, command);
  if (!evaluation.ok()) {
    spdlog::error("{}", std::string(evaluation.status().message()));
    return absl::IsInvalidArgument(evaluation.status()) || absl::IsNotFound(evaluation.status())
               ? kExitUsage
               : kExitFailure;
  }
  nlohmann::json json = fairness::ToJson(evaluation->report);
  if (evaluation->calibrated) {
    json["calibrated"] = fairness::ToJson(*evaluation->calibrated);
    json["calibration_file"] = evaluation->calibration_file;
    if (evaluation->decision_offsets) {
      json["decision_offsets"] = fairness::DecisionOffsetsToJson(*evaluation->decision_offsets);
      json["decision_offset_effects"] = fairness::OffsetEffectsToJson(evaluation->offset_effects);
    }
  }
  if (command.json == "-") {
    std::printf("%s\n", json.dump(2).c_str());
    return 0;
  }
  std::printf("%s on the %s split of %s\n%s", command.checkpoint.c_str(), command.split.c_str(),
              command.shard.c_str(), fairness::FormatTable(evaluation->report).c_str());
  if (evaluation->calibrated) {
    if (evaluation->decision_offsets) {
      std::printf(
          "\nCalibrated with the per-group temperatures and decision offsets of %s (fused "
          "logits divided by each group's temperature; each group's offset added to the "
          "log-probability of '%s' before the argmax, so predictions change):\n%s"
          "Decision offsets for equal opportunity (per group: offset, validation "
          "true-positive rate before -> after):\n%s",
          evaluation->calibration_file.c_str(), evaluation->positive_label.c_str(),
          fairness::FormatTable(*evaluation->calibrated).c_str(),
          fairness::FormatDecisionOffsets(*evaluation->decision_offsets, evaluation->offset_effects,
                                          evaluation->positive_label)
              .c_str());
    } else {
      std::printf(
          "\nCalibrated with the per-group temperatures of %s (fused logits divided by each "
          "group's temperature; predictions, and so accuracy, unchanged):\n%s",
          evaluation->calibration_file.c_str(),
          fairness::FormatTable(*evaluation->calibrated).c_str());
    }
  }
  if (!command.json.empty()) {
    std::ofstream file(command.json);
    file << json.dump(2) << '\n';
    if (!file) {
      spdlog::error("cannot write '{}'", command.json);
      return kExitFailure;
    }
  }
  return 0;
}

}  // namespace equifl::app
