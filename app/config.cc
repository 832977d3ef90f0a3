#include "app/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/enum_names.h"
#include "base/quoted_input.h"
#include "base/status_macros.h"
#include "base/utf8.h"
#include "protocol/encoding.h"
#include "protocol/file_io.h"

namespace equifl::app {
namespace {

// A configuration file is a page or two of YAML; anything far larger is a mistake
// (or /dev/zero) and is refused before it is read.
constexpr uint64_t kMaxConfigBytes = uint64_t{1} << 20;

// Reads one mapping of the file, remembering the key path for messages.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, absl::string_view source)
      : node_(node), path_(std::move(path)), source_(source) {}

  // Runs `read` for each key, refusing keys not in `handlers` and keys given
  // twice (yaml-cpp keeps both; which one would win is nobody's guess).
  using Handler = std::function<absl::Status(const YAML::Node&, const std::string&)>;
  absl::Status ForEachKey(const std::map<std::string, Handler>& handlers) const {
    if (!node_.IsMap()) {
      return Error(node_, absl::StrCat(Describe(), " must be a mapping of keys to values"));
    }
    std::map<std::string, YAML::Mark> seen;
    for (const auto& entry : node_) {
      const std::string key = entry.first.Scalar();
      if (const auto [first, inserted] = seen.emplace(key, entry.first.Mark()); !inserted) {
        return Error(entry.first, absl::StrCat(KeyPath(ShowInput(key)),
                                               " is given twice, on lines ", first->second.line + 1,
                                               " and ", entry.first.Mark().line + 1, "; keep one"));
      }
      auto handler = handlers.find(key);
      if (handler == handlers.end()) {
        std::vector<std::string> allowed;
        for (const auto& [name, unused] : handlers) allowed.push_back(name);
        return Error(entry.first,
                     absl::StrCat("unknown key ", KeyPath(ShowInput(key)), "; allowed keys",
                                  path_.empty() ? "" : absl::StrCat(" in ", path_), ": ",
                                  absl::StrJoin(allowed, ", ")));
      }
      EQUIFL_RETURN_IF_ERROR(handler->second(entry.second, KeyPath(key)));
    }
    return absl::OkStatus();
  }

  absl::Status Error(const YAML::Node& node, absl::string_view message) const {
    const YAML::Mark mark = node.Mark();
    return absl::InvalidArgumentError(
        mark.is_null() ? absl::StrCat(source_, ": ", message)
                       : absl::StrCat(source_, ":", mark.line + 1, ": ", message));
  }

  std::string KeyPath(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }

  absl::string_view source() const { return source_; }

 private:
  std::string Describe() const {
    return path_.empty() ? "the configuration" : absl::StrCat("'", path_, "'");
  }

  YAML::Node node_;
  std::string path_;
  absl::string_view source_;
};

absl::StatusOr<std::string> ReadScalar(const Section& section, const YAML::Node& node,
                                       const std::string& key) {
  if (!node.IsScalar()) {
    return section.Error(node, absl::StrCat(key, " must be a single value"));
  }
  return node.Scalar();
}

absl::StatusOr<std::string> ReadChoice(const Section& section, const YAML::Node& node,
                                       const std::string& key,
                                       std::span<const absl::string_view> allowed) {
  EQUIFL_ASSIGN_OR_RETURN(std::string value, ReadScalar(section, node, key));
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    return section.Error(node, absl::StrCat(key, " is ", QuoteInput(value),
                                            "; allowed values: ", absl::StrJoin(allowed, ", ")));
  }
  return value;
}

absl::StatusOr<uint64_t> ReadUnsigned(const Section& section, const YAML::Node& node,
                                      const std::string& key, uint64_t min, uint64_t max) {
  EQUIFL_ASSIGN_OR_RETURN(std::string text, ReadScalar(section, node, key));
  uint64_t value = 0;
  size_t parsed = 0;
  try {
    if (!text.empty() && text[0] != '-') value = std::stoull(text, &parsed);
  } catch (const std::exception&) {
    parsed = 0;
  }
  if (parsed != text.size() || text.empty() || value < min || value > max) {
    return section.Error(node, absl::StrCat(key, " is ", QuoteInput(text), "; allowed values: ",
                                            "whole numbers from ", min, " to ", max));
  }
  return value;
}

using Handler = Section::Handler;

Handler Unsigned(const Section& section, auto& target, uint64_t min, uint64_t max) {
  return [&section, &target, min, max](const YAML::Node& node,
                                       const std::string& key) -> absl::Status {
    EQUIFL_ASSIGN_OR_RETURN(uint64_t value, ReadUnsigned(section, node, key, min, max));
    target = static_cast<std::remove_reference_t<decltype(target)>>(value);
    return absl::OkStatus();
  };
}

Handler Real(const Section& section, auto& target, double min, double max) {
  return [&section, &target, min, max](const YAML::Node& node,
                                       const std::string& key) -> absl::Status {
    EQUIFL_ASSIGN_OR_RETURN(std::string text, ReadScalar(section, node, key));
    double value = 0;
    size_t parsed = 0;
    try {
      value = std::stod(text, &parsed);
    } catch (const std::exception&) {
      parsed = 0;
    }
    if (parsed != text.size() || text.empty() || !(value >= min && value <= max)) {
      return section.Error(node, absl::StrCat(key, " is ", QuoteInput(text), "; allowed values: ",
                                              "numbers from ", min, " to ", max));
    }
    target = value;
    return absl::OkStatus();
  };
}

Handler Boolean(const Section& section, bool& target) {
  return [&section, &target](const YAML::Node& node, const std::string& key) -> absl::Status {
    if (!node.IsScalar()) return section.Error(node, absl::StrCat(key, " must be a single value"));
    const std::string& value = node.Scalar();
    if (value != "true" && value != "false") {
      return section.Error(
          node, absl::StrCat(key, " is ", QuoteInput(value), "; allowed values: true, false"));
    }
    target = value == "true";
    return absl::OkStatus();
  };
}

Handler Text(const Section& section, std::string& target) {
  return [&section, &target](const YAML::Node& node, const std::string& key) -> absl::Status {
    EQUIFL_ASSIGN_OR_RETURN(target, ReadScalar(section, node, key));
    if (target.empty()) return section.Error(node, absl::StrCat(key, " is empty"));
    return absl::OkStatus();
  };
}

// A list of non-empty names, non-empty unless `may_be_empty`; `what` describes it in
// messages.
Handler TextList(const Section& section, std::vector<std::string>& target, absl::string_view what,
                 bool may_be_empty = false) {
  return [&section, &target, what, may_be_empty](const YAML::Node& node,
                                                 const std::string& key) -> absl::Status {
    if (!node.IsSequence() || (node.size() == 0 && !may_be_empty)) {
      return section.Error(node, absl::StrCat(key, " must be a ", may_be_empty ? "" : "non-empty ",
                                              "list of ", what));
    }
    target.clear();
    for (const YAML::Node& item : node) {
      EQUIFL_ASSIGN_OR_RETURN(std::string name, ReadScalar(section, item, key));
      if (name.empty()) return section.Error(item, absl::StrCat(key, " holds an empty name"));
      target.push_back(name);
    }
    return absl::OkStatus();
  };
}

// One of the names in E's table (base/enum_names.h).
template <NamedEnum E>
Handler Choice(const Section& section, E& target) {
  return [&section, &target](const YAML::Node& node, const std::string& key) -> absl::Status {
    EQUIFL_ASSIGN_OR_RETURN(std::string name, ReadScalar(section, node, key));
    absl::StatusOr<E> value = ParseEnum<E>(key, name);
    if (!value.ok()) return section.Error(node, value.status().message());
    target = *value;
    return absl::OkStatus();
  };
}

constexpr double kHuge = 1e30;

absl::Status ReadLog(const Section& section, Config& config) {
  return section.ForEachKey({
      {"level",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         EQUIFL_ASSIGN_OR_RETURN(config.log_level, ReadChoice(section, node, key, kLogLevels));
         return absl::OkStatus();
       }},
  });
}

absl::Status ReadTransport(const Section& section, Config& config) {
  return section.ForEachKey({
      {"encoding", Choice(section, config.codec.encoding)},
      {"chunk_bytes",
       Unsigned(section, config.codec.max_chunk_bytes, protocol::CodecOptions::kMinChunkBytes,
                protocol::CodecOptions::kMaxChunkBytes)},
  });
}

absl::Status ReadServer(const Section& section, ServerConfig& server) {
  server::RoundOptions& rounds = server.rounds;
  return section.ForEachKey({
      {"address", Text(section, server.address)},
      {"run_dir", Text(section, server.run_dir)},
      {"rounds", Unsigned(section, rounds.rounds, 1, 1'000'000)},
      {"min_clients", Unsigned(section, rounds.min_clients, 1, 1'000'000)},
      {"client_fraction", Real(section, rounds.client_fraction, 1e-6, 1)},
      {"quorum", Real(section, rounds.quorum, 1e-6, 1)},
      {"round_deadline_seconds",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         EQUIFL_ASSIGN_OR_RETURN(uint64_t seconds, ReadUnsigned(section, node, key, 1, 604800));
         rounds.round_deadline = std::chrono::seconds(seconds);
         return absl::OkStatus();
       }},
      {"final_evaluation", Boolean(section, rounds.final_evaluation)},
      {"selection_seed", Unsigned(section, rounds.seed, 0, UINT64_MAX)},
      {"optimizer", Choice(section, server.optimizer.kind)},
      {"server_learning_rate",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         double rate = 0;
         EQUIFL_RETURN_IF_ERROR(Real(section, rate, 1e-30, 1e30)(node, key));
         server.optimizer.learning_rate = rate;
         return absl::OkStatus();
       }},
      {"max_concurrent_uploads", Unsigned(section, server.max_concurrent_uploads, 1, 1024)},
      {"upload_idle_timeout_seconds",
       Unsigned(section, server.upload_idle_timeout_seconds, 1, 86400)},
  });
}

absl::Status ReadTraining(const Section& section, client::TrainerOptions& training) {
  return section.ForEachKey({
      {"epochs", Unsigned(section, training.epochs, 0, client::TrainerOptions::kMaxEpochs)},
      {"steps", Unsigned(section, training.steps, 0, 1'000'000'000)},
      {"batch_size",
       Unsigned(section, training.batch_size, 1, client::TrainerOptions::kMaxBatchSize)},
      {"learning_rate", Real(section, training.learning_rate, 1e-12, 1e3)},
      {"optimizer", Choice(section, training.optimizer)},
      {"weight_decay", Real(section, training.weight_decay, 0, 1e3)},
      {"proximal_mu", Real(section, training.proximal_mu, 0, 1e6)},
      {"modality_dropout", Real(section, training.modality_dropout, 0, 0.95)},
      {"lr_schedule", Choice(section, training.lr_schedule)},
      {"seed", Unsigned(section, training.seed, 0, UINT64_MAX)},
      {"device", Text(section, training.device)},
  });
}

absl::Status ReadModel(const Section& section, ModelConfig& model) {
  client::ModelOptions& options = model.options;
  return section.ForEachKey({
      {"architecture", Choice(section, options.architecture)},
      {"hidden_size",
       Unsigned(section, options.hidden_size, 1, client::ModelOptions::kMaxHiddenSize)},
      {"encoder", Choice(section, options.encoder)},
      {"encoder_depth",
       Unsigned(section, options.encoder_depth, 1, client::ModelOptions::kMaxDepth)},
      {client::kFusionLayer, Choice(section, options.fusion)},
      {"attention_heads", Unsigned(section, options.attention_heads, 1, 1024)},
      {"dropout", Real(section, options.dropout, 0, 0.99)},
      {"adversary", Boolean(section, options.adversary)},
      {"adversary_lambda", Real(section, options.adversary_lambda, 0, kHuge)},
      {"standardise_features", Boolean(section, options.standardise_features)},
      {"seed", Unsigned(section, model.seed, 0, UINT64_MAX)},
  });
}

absl::Status ReadBound(const Section& section, fairness::StatedBound& bound) {
  return section.ForEachKey({
      {"metric", Choice(section, bound.metric)},
      {"epsilon", Real(section, bound.epsilon, 0, kHuge)},
  });
}

absl::Status ReadGroupDro(const Section& section, fairness::GroupDroOptions& group_dro) {
  return section.ForEachKey({
      {"learning_rate", Real(section, group_dro.learning_rate, 1e-12, kHuge)},
      {"alpha_step", Real(section, group_dro.alpha_step, 1e-12, 1)},
      {"weight_cap", Real(section, group_dro.weight_cap, 1, 1e6)},
      {"harm_margin", Real(section, group_dro.harm_margin, 0, kHuge)},
      {"reference_rounds", Unsigned(section, group_dro.reference_rounds, 1, 1000)},
      {"probe_rounds", Unsigned(section, group_dro.probe_rounds, 0, 1000)},
  });
}

absl::Status ReadCalibration(const Section& section, fairness::CalibrationOptions& calibration) {
  return section.ForEachKey({
      {"enabled", Boolean(section, calibration.enabled)},
      {"min_samples", Unsigned(section, calibration.min_samples, 2, uint64_t{1} << 40)},
      {"decision_offsets", Boolean(section, calibration.decision_offsets)},
      {"positive_class", Unsigned(section, calibration.positive_class, 0, 1u << 20)},
      {"offset_tolerance_points", Real(section, calibration.offset_tolerance_points, 0, 100)},
      {"offset_max_accuracy_cost_points",
       Real(section, calibration.offset_max_accuracy_cost_points, 0, 100)},
  });
}

absl::Status ReadFairness(const Section& section, server::FairnessOptions& fairness) {
  fairness::MinMaxGapOptions& gap = fairness.minmax_gap;
  return section.ForEachKey({
      {"method", Choice(section, fairness.method)},
      {"bound",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadBound(Section(node, key, section.source()), fairness.bound);
       }},
      {"epsilon",
       [&](const YAML::Node& node, const std::string&) {
         return section.Error(node,
                              "fairness.epsilon is now fairness.bound.epsilon, with "
                              "fairness.bound.metric naming what it bounds (loss_gap in nats, "
                              "accuracy_gap, equal_opportunity_gap or worst_group_accuracy in "
                              "points)");
       }},
      {"gap_exponent", Real(section, gap.gap_exponent, 1, 16)},
      {"lambda_max", Real(section, gap.lambda_max, 0, kHuge)},
      {"lambda_learning_rate", Real(section, gap.lambda_learning_rate, 0, kHuge)},
      {"initial_lambda", Real(section, gap.initial_lambda, 0, kHuge)},
      {"temperature", Real(section, gap.temperature, 1e-9, kHuge)},
      {"up_weight_only", Boolean(section, gap.up_weight_only)},
      {"aggregation_beta", Real(section, gap.aggregation_beta, 0, 100)},
      {"q", Real(section, fairness.q, 0, 100)},
      {"group_learning_rate", Real(section, fairness.group_learning_rate, 1e-12, kHuge)},
      {"fairfed_beta", Real(section, fairness.fairfed_beta, 0, kHuge)},
      {"fixed_weights_power", Real(section, fairness.fixed_weights_power, 0,
                                   fairness::GroupDroOptions::kLargestFixedPower)},
      {"group_dro",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadGroupDro(Section(node, key, section.source()), fairness.group_dro);
       }},
      {"allow_levelling_down", Boolean(section, fairness.group_dro.allow_levelling_down)},
      {"calibration",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadCalibration(Section(node, key, section.source()), fairness.calibration);
       }},
      {"views", TextList(section, fairness.views, "views, e.g. [fusion, video]")},
      {"per_client_cells", Boolean(section, fairness.per_client_cells)},
      {"selection_share", Real(section, fairness.selection_share, 0, 0.9)},
  });
}

absl::Status ReadPrivacy(const Section& section, aggregation::PrivacyOptions& privacy) {
  return section.ForEachKey({
      {"clip_norm", Real(section, privacy.clip_norm, 0, kHuge)},
      {"noise_multiplier", Real(section, privacy.noise_multiplier, 1e-6, kHuge)},
      {"delta", Real(section, privacy.delta, 1e-300, 0.5)},
      {"adaptive_clipping", Boolean(section, privacy.adaptive_clipping)},
      {"target_quantile", Real(section, privacy.target_quantile, 1e-6, 1 - 1e-6)},
      {"clip_learning_rate", Real(section, privacy.clip_learning_rate, 1e-9, 1e3)},
      {"clip_count_stddev", Real(section, privacy.clip_count_stddev, 0, kHuge)},
      {"statistics_noise_multiplier", Real(section, privacy.statistics_noise_multiplier, 0, kHuge)},
      {"statistics_samples_per_view",
       Unsigned(section, privacy.statistics_samples_per_view, 1, 1'000'000'000)},
      {"statistics_loss_clip", Real(section, privacy.statistics_loss_clip, 1e-3, 1e3)},
  });
}

absl::Status ReadSecureAggregation(const Section& section,
                                   server::SecureAggregationOptions& secure) {
  return section.ForEachKey({
      {"enabled", Boolean(section, secure.enabled)},
      {"neighbours", Unsigned(section, secure.neighbours, 0, 1'000'000)},
      {"threshold", Real(section, secure.threshold, 1e-6, 1)},
      {"expected_dropout", Real(section, secure.tolerance.expected_dropout, 0, 0.99)},
      {"target_failure_probability",
       Real(section, secure.tolerance.target_failure_probability, 1e-12, 0.5)},
      {"update_bound", Real(section, secure.update_bound, 1e-30, kHuge)},
      {"weight_bound", Real(section, secure.weight_bound, 0, kHuge)},
      {"phase_timeout_seconds",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         EQUIFL_ASSIGN_OR_RETURN(uint64_t seconds, ReadUnsigned(section, node, key, 1, 86400));
         secure.phase_timeout = std::chrono::seconds(seconds);
         return absl::OkStatus();
       }},
  });
}

absl::Status ReadAggregation(const Section& section,
                             aggregation::RobustAggregationOptions& options) {
  return section.ForEachKey({
      {"rule", Choice(section, options.rule)},
      {"trim_fraction", Real(section, options.trim_fraction, 1e-6, 0.5)},
      {"norm_bound", Real(section, options.norm_bound, 0, kHuge)},
      {"memory_limit_mb", Unsigned(section, options.memory_limit_mb, 1, uint64_t{1} << 30)},
  });
}

absl::Status ReadSimData(const Section& section, sim::SimulationOptions& simulation) {
  sim::SyntheticDataOptions& data = simulation.synthetic;
  return section.ForEachKey({
      {"source", Choice(section, simulation.source)},
      {"path", Text(section, simulation.path)},
      {"samples", Unsigned(section, data.samples_per_client, 0, 100'000'000)},
      {"seed", Unsigned(section, data.seed, 0, UINT64_MAX)},
      {"labels", TextList(section, data.labels, "class names")},
      {"groups", TextList(section, data.groups, "group names")},
      {"group_attribute", Text(section, data.group_attribute)},
      {"languages", TextList(section, data.languages, "language codes")},
      {"modalities", TextList(section, data.modalities, "modalities: video, audio, text")},
      {"video_level", Boolean(section, data.video_level)},
      {"frames", Unsigned(section, data.frames, 1, 65536)},
      {"video_dim", Unsigned(section, data.video_dim, 1, 65536)},
      {"audio_dim", Unsigned(section, data.audio_dim, 1, 65536)},
      {"text_dim", Unsigned(section, data.text_dim, 1, 65536)},
      {"signal", Real(section, data.signal, 0, 1e6)},
      {"label_noise", Real(section, data.label_noise, 0, 1)},
      {"group_shift", Real(section, data.group_shift, 0, 1e6)},
      {"language_shift", Real(section, data.language_shift, 0, 1e6)},
      {"minority_fraction", Real(section, data.minority_fraction, 0, 1)},
      {"missing_rate", Real(section, data.missing_rate, 0, 0.99)},
      {"train_fraction", Real(section, data.train_fraction, 0, 1)},
      {"validation_fraction", Real(section, data.validation_fraction, 0, 1)},
      {"biases",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         std::vector<std::string> texts;
         EQUIFL_RETURN_IF_ERROR(
             TextList(section, texts, "biases, e.g. [\"group=female,modality=video,signal=0.3\"]",
                      /*may_be_empty=*/true)(node, key));
         data.biases.clear();
         for (const std::string& text : texts) {
           absl::StatusOr<sim::CellBias> bias = sim::ParseCellBias(text);
           if (!bias.ok())
             return section.Error(node, absl::StrCat(key, ": ", bias.status().message()));
           data.biases.push_back(*bias);
         }
         return absl::OkStatus();
       }},
  });
}

absl::Status ReadSimPartition(const Section& section, sim::SimulationOptions& simulation) {
  client::PartitionOptions& partition = simulation.partition;
  return section.ForEachKey({
      {"over", Choice(section, simulation.partition_column)},
      {"dirichlet_alpha", Real(section, partition.dirichlet_alpha, 0, 1e6)},
      {"quantity_alpha", Real(section, partition.quantity_alpha, 0, 1e6)},
      {"min_samples", Unsigned(section, partition.min_rows, 1, 1'000'000)},
      {"seed", Unsigned(section, simulation.partition_seed, 0, UINT64_MAX)},
  });
}

absl::Status ReadSim(const Section& section, sim::SimulationOptions& simulation) {
  return section.ForEachKey({
      {"clients", Unsigned(section, simulation.clients, 1, 1'000'000)},
      {"data",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadSimData(Section(node, key, section.source()), simulation);
       }},
      {"partition",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadSimPartition(Section(node, key, section.source()), simulation);
       }},
      {"devices", Text(section, simulation.devices)},
      {"concurrency", Unsigned(section, simulation.concurrency, 0, 1024)},
      {"transport", Choice(section, simulation.transport)},
      {"listen", Text(section, simulation.listen)},
  });
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source) {
  // Names in the file end up in JSON (manifests, reports) and on terminals.
  if (const std::optional<size_t> bad = FindInvalidUtf8(text)) {
    const absl::string_view before = text.substr(0, *bad);
    const size_t line_start = before.find_last_of('\n') + 1;  // npos + 1 is 0
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", std::count(before.begin(), before.end(), '\n') + 1,
                     ": the byte at column ", *bad - line_start + 1, " (",
                     QuoteInput(text.substr(*bad, 1)), ") is not UTF-8; save the file as UTF-8"));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", error.mark.line + 1, ": not valid YAML: ", error.msg));
  }
  Config config;
  if (root.IsNull()) return config;  // An empty file keeps every default.
  const Section top(root, "", source);
  EQUIFL_RETURN_IF_ERROR(top.ForEachKey({
      {"log", [&](const YAML::Node& node,
                  const std::string& key) { return ReadLog(Section(node, key, source), config); }},
      {"transport",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadTransport(Section(node, key, source), config);
       }},
      {"server",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadServer(Section(node, key, source), config.server);
       }},
      {"training",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadTraining(Section(node, key, source), config.training);
       }},
      {"model",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadModel(Section(node, key, source), config.model);
       }},
      {"fairness",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadFairness(Section(node, key, source), config.fairness);
       }},
      {"sim",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadSim(Section(node, key, source), config.simulation);
       }},
      {"privacy",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadPrivacy(Section(node, key, source), config.privacy);
       }},
      {"secure_aggregation",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadSecureAggregation(Section(node, key, source), config.secure_aggregation);
       }},
      {"aggregation",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadAggregation(Section(node, key, source), config.robust_aggregation);
       }},
  }));
  // Local adversarial debiasing is the model's adversary head.
  if (config.fairness.method == fairness::FairnessMethod::kAdversarial) {
    config.model.options.adversary = true;
  }
  // q-FedAvg's server step divides by a Lipschitz estimate L = 1/learning rate, which
  // holds for plain gradient steps only (Li et al., "Fair Resource Allocation in
  // Federated Learning", 2020).
  if (config.fairness.method == fairness::FairnessMethod::kQFedAvg &&
      config.training.optimizer != client::OptimizerKind::kSgd) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": fairness: method qfedavg assumes local SGD (its step uses L = 1/learning_rate), "
        "but training.optimizer is '",
        NameOf(config.training.optimizer), "'; set training.optimizer: sgd"));
  }
  // Per-client cells are each client's statistics, which secure aggregation exists
  // to hide from the server.
  if (config.fairness.per_client_cells && config.secure_aggregation.enabled) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": fairness: per_client_cells keeps each client's group statistics apart, but "
        "secure_aggregation.enabled lets the server see only their sum; turn one of them off"));
  }
  // With DP the server may see the statistics only as a noised sum.
  if (config.privacy.enabled() && !config.secure_aggregation.enabled &&
      (config.fairness.per_client_cells ||
       config.fairness.method == fairness::FairnessMethod::kFairFed)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": fairness: ", config.fairness.per_client_cells ? "per_client_cells" : "method fairfed",
        " needs each client's group statistics apart, but privacy (clip_norm > 0) lets the "
        "server see only their noised sum; turn one of them off"));
  }
  // Cross-field rules the per-key checks cannot see.
  for (const auto& [section, status] :
       {std::pair{"transport", config.codec.Validate()},
        {"server", config.server.rounds.Validate()},
        {"server", config.server.optimizer.Validate()},
        {"training", config.training.Validate()},
        {"fairness", config.fairness.Validate()},
        {"sim", config.simulation.Validate()},
        {"privacy", config.privacy.Validate()},
        {"secure_aggregation", config.secure_aggregation.Validate()},
        {"aggregation", config.robust_aggregation.Validate()},
        {"aggregation", config.robust_aggregation.CheckCompatibleWith(
                            config.privacy.enabled(), config.secure_aggregation.enabled)}}) {
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", section, ": ", status.message()));
    }
  }
  return config;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  absl::StatusOr<std::string> text = protocol::ReadRegularFile(path, kMaxConfigBytes);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

}  // namespace equifl::app
