#include "fairness/decision_offsets.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "fairness/calibration_entry.h"

namespace equifl::fairness {
namespace {

constexpr char kOffsetPrefix[] = "fusion@offset[";

// Rates closer than this are equal: they are ratios of counts, so this only absorbs
// rounding.
constexpr double kRateSlack = 1e-12;

// What the fit needs of one group at one offset.
struct Candidate {
  double offset = 0;
  double rate = 0;           // True-positive rate of the positive class.
  uint64_t positives = 0;    // Samples of the positive class.
  uint64_t correct = 0;      // Correct predictions over every class.
  double rate_variance = 0;  // Of `rate`: binomial, plus privacy noise's on the counts.
};

struct PositiveCounts {
  uint64_t positives = 0;   // Samples of the positive class.
  uint64_t recognised = 0;  // Of those, predicted as it.
  uint64_t correct = 0;     // Correct predictions over every class.
  uint64_t classes = 0;
  double count_noise = 0;  // Variance of privacy noise on each confusion count.

  double rate() const {
    return positives == 0 ? 0.0 : static_cast<double>(recognised) / static_cast<double>(positives);
  }
  // The binomial variance of rate(), plus, to first order, that of the noise on its
  // numerator and on the row's other counts (accuracy_gap_interval.h does the same).
  double rate_variance() const {
    if (positives == 0) return 0;
    const double p = rate();
    const double n = static_cast<double>(positives);
    return p * (1 - p) / n +
           count_noise * ((1 - p) * (1 - p) + static_cast<double>(classes - 1) * p * p) / (n * n);
  }
};

// The counts of `statistics` for `positive_class`; nullopt without confusion counts
// that hold that class.
std::optional<PositiveCounts> CountsOf(const GroupStatistics& statistics, uint32_t positive_class) {
  const uint64_t classes = statistics.num_classes;
  if (positive_class >= classes || statistics.confusion.size() != classes * classes) {
    return std::nullopt;
  }
  PositiveCounts counts;
  for (uint64_t predicted = 0; predicted < classes; ++predicted) {
    counts.positives += statistics.confusion[positive_class * classes + predicted];
  }
  counts.recognised = statistics.confusion[positive_class * classes + positive_class];
  for (uint64_t c = 0; c < classes; ++c) counts.correct += statistics.confusion[c * classes + c];
  counts.classes = classes;
  counts.count_noise = statistics.noise.confusion;
  return counts;
}

// The cell of offset view `view` that holds the samples of fusion cell `cell`.
Cell AtOffset(const Cell& cell, const std::string& view) {
  return {cell.language, view, cell.client};
}

// One candidate per group, with their total of correct predictions and of |offset|.
struct Combination {
  std::vector<size_t> picks;  // Per group, an index into its candidates.
  uint64_t correct = 0;
  double total_offset = 0;
};

// Among the combinations whose rates all lie in one window [low, low + width], the
// one with the most correct predictions (then the smallest total |offset|); nullopt
// when no window of that width holds a candidate of every group. The best window's
// lower edge can always be taken at a candidate's rate.
std::optional<Combination> MostCorrectWithin(const std::vector<std::vector<Candidate>>& candidates,
                                             double width) {
  std::optional<Combination> best;
  for (const std::vector<Candidate>& edges : candidates) {
    for (const Candidate& edge : edges) {
      Combination combination;
      for (const std::vector<Candidate>& group : candidates) {
        std::optional<size_t> chosen;
        for (size_t i = 0; i < group.size(); ++i) {
          const Candidate& candidate = group[i];
          if (candidate.rate < edge.rate - kRateSlack ||
              candidate.rate > edge.rate + width + kRateSlack) {
            continue;
          }
          if (!chosen || candidate.correct > group[*chosen].correct ||
              (candidate.correct == group[*chosen].correct &&
               std::abs(candidate.offset) < std::abs(group[*chosen].offset))) {
            chosen = i;
          }
        }
        if (!chosen) break;
        combination.picks.push_back(*chosen);
        combination.correct += group[*chosen].correct;
        combination.total_offset += std::abs(group[*chosen].offset);
      }
      if (combination.picks.size() != candidates.size()) continue;
      if (!best || combination.correct > best->correct ||
          (combination.correct == best->correct && combination.total_offset < best->total_offset)) {
        best = std::move(combination);
      }
    }
  }
  return best;
}

// The fit of one cell's eligible groups (candidates[g][0] is group g at offset 0):
// see FitDecisionOffsets.
Combination Choose(const std::vector<std::vector<Candidate>>& candidates, uint64_t samples,
                   const DecisionOffsetOptions& options, double evidence_z) {
  uint64_t plain_correct = 0;
  const Candidate* lowest = &candidates[0][0];
  const Candidate* highest = &candidates[0][0];
  for (const std::vector<Candidate>& group : candidates) {
    const Candidate& plain = group[0];
    plain_correct += plain.correct;
    if (plain.rate < lowest->rate) lowest = &plain;
    if (plain.rate > highest->rate) highest = &plain;
  }
  const double plain_spread = highest->rate - lowest->rate;
  const Combination plain{std::vector<size_t>(candidates.size(), 0), plain_correct, 0};
  // Act only on a spread above the tolerance that the validation split can tell from
  // none: above the standard error of the two extreme groups' difference times
  // evidence_z. Otherwise there is nothing the offsets should equalise.
  const double noise =
      lowest == highest ? 0 : std::sqrt(lowest->rate_variance + highest->rate_variance);
  if (plain_spread <= std::max(options.tolerance, evidence_z * noise) + kRateSlack) {
    return plain;
  }
  const double affordable =
      static_cast<double>(plain_correct) - options.max_accuracy_cost * static_cast<double>(samples);
  // The narrowest window the accuracy budget affords, searched over the spreads
  // the candidates can have: a wider window only ever holds more accurate
  // combinations, and the plain combination (spread plain_spread) is affordable.
  std::vector<double> spreads = {0};
  for (const std::vector<Candidate>& group : candidates) {
    for (const Candidate& a : group) {
      for (const std::vector<Candidate>& other : candidates) {
        for (const Candidate& b : other) {
          if (b.rate > a.rate && b.rate - a.rate < plain_spread) spreads.push_back(b.rate - a.rate);
        }
      }
    }
  }
  spreads.push_back(plain_spread);
  std::sort(spreads.begin(), spreads.end());
  spreads.erase(std::unique(spreads.begin(), spreads.end()), spreads.end());
  size_t first = 0;
  size_t last = spreads.size() - 1;  // Affordable.
  while (first < last) {
    const size_t middle = first + (last - first) / 2;
    const std::optional<Combination> within = MostCorrectWithin(candidates, spreads[middle]);
    if (within && static_cast<double>(within->correct) >= affordable - 1e-9) {
      last = middle;
    } else {
      first = middle + 1;
    }
  }
  // Never empty: the window is at least as wide as an affordable combination's.
  const std::optional<Combination> chosen =
      MostCorrectWithin(candidates, std::max(spreads[last], options.tolerance));
  return chosen ? *chosen : plain;
}

}  // namespace

std::string OffsetViewName(uint32_t positive_class, double offset) {
  return absl::StrCat(kOffsetPrefix, positive_class, "]=", absl::StrFormat("%g", offset));
}

std::optional<ViewOffset> OffsetOfView(const std::string& view) {
  const std::string_view prefix = kOffsetPrefix;
  if (!view.starts_with(prefix)) return std::nullopt;
  const char* begin = view.data() + prefix.size();
  const char* end = view.data() + view.size();
  ViewOffset parsed;
  const auto [after_class, error] = std::from_chars(begin, end, parsed.positive_class);
  if (error != std::errc() || after_class == begin) return std::nullopt;
  const std::optional<double> offset =
      NumberAfterPrefix(std::string_view(after_class, end - after_class), "]=");
  if (!offset) return std::nullopt;
  parsed.offset = *offset;
  return parsed;
}

std::vector<std::string> OffsetViews(uint32_t positive_class) {
  std::vector<std::string> views;
  for (const double offset : kOffsetGrid) views.push_back(OffsetViewName(positive_class, offset));
  return views;
}

DecisionOffsets FitDecisionOffsets(const StatisticsTable& validation, uint32_t positive_class,
                                   const DecisionOffsetOptions& options) {
  DecisionOffsets fit;
  fit.positive_class = positive_class;
  size_t cells = 0;
  for (const auto& [cell, groups] : validation) cells += cell.modality == kFusionView ? 1 : 0;
  const double evidence_z = SimultaneousZ(options.confidence, std::max<size_t>(cells, 1));
  for (const auto& [cell, groups] : validation) {
    if (cell.modality != kFusionView) continue;
    std::vector<size_t> eligible;  // Indices into fit.groups.
    std::vector<std::vector<Candidate>> candidates;
    uint64_t samples = 0;  // Of the eligible groups.
    for (const auto& [group, sums] : groups) {
      GroupDecisionOffset entry;
      entry.cell = cell;
      entry.group = group;
      const std::optional<PositiveCounts> counts = CountsOf(sums, positive_class);
      if (counts) {
        entry.positives = counts->positives;
        entry.true_positive_rate_before = entry.true_positive_rate_after = counts->rate();
      }
      if (counts && counts->positives >= options.min_positives) {
        // The view itself is the δ = 0 candidate: under privacy noise no offset
        // view is an exact copy of it.
        std::vector<Candidate> own = {
            {0, counts->rate(), counts->positives, counts->correct, counts->rate_variance()}};
        for (const double offset : kOffsetGrid) {
          if (offset < 0 && !options.allow_levelling_down) continue;
          const auto at = validation.find(AtOffset(cell, OffsetViewName(positive_class, offset)));
          if (at == validation.end()) continue;
          const auto shifted = at->second.find(group);
          if (shifted == at->second.end()) continue;
          const std::optional<PositiveCounts> moved = CountsOf(shifted->second, positive_class);
          if (!moved || moved->positives == 0) continue;
          own.push_back(
              {offset, moved->rate(), moved->positives, moved->correct, moved->rate_variance()});
        }
        for (const uint64_t count : sums.confusion) samples += count;
        eligible.push_back(fit.groups.size());
        candidates.push_back(std::move(own));
      }
      fit.groups.push_back(std::move(entry));
    }
    if (eligible.size() < 2) continue;
    const Combination chosen = Choose(candidates, samples, options, evidence_z);
    for (size_t i = 0; i < eligible.size(); ++i) {
      GroupDecisionOffset& entry = fit.groups[eligible[i]];
      entry.offset = candidates[i][chosen.picks[i]].offset;
      entry.true_positive_rate_after = candidates[i][chosen.picks[i]].rate;
      entry.fitted = true;
    }
  }
  return fit;
}

StatisticsTable WithoutOffsetViews(const StatisticsTable& table) {
  StatisticsTable kept;
  for (const auto& [cell, groups] : table) {
    if (!OffsetOfView(cell.modality)) kept.emplace(cell, groups);
  }
  return kept;
}

StatisticsTable ApplyDecisionOffsets(const StatisticsTable& table, const DecisionOffsets& offsets) {
  StatisticsTable applied = WithoutOffsetViews(table);
  for (const GroupDecisionOffset& entry : offsets.groups) {
    if (entry.offset == 0) continue;
    const auto fusion = applied.find(entry.cell);
    if (fusion == applied.end()) continue;
    const auto group = fusion->second.find(entry.group);
    if (group == fusion->second.end()) continue;
    const auto at =
        table.find(AtOffset(entry.cell, OffsetViewName(offsets.positive_class, entry.offset)));
    if (at == table.end()) continue;
    const auto shifted = at->second.find(entry.group);
    if (shifted == at->second.end() || shifted->second.num_classes != group->second.num_classes) {
      continue;
    }
    group->second.confusion = shifted->second.confusion;
  }
  return applied;
}

std::vector<OffsetEffect> OffsetEffects(const StatisticsTable& plain,
                                        const StatisticsTable& with_offsets,
                                        uint32_t positive_class, double confidence) {
  size_t cells = 0;
  for (const auto& [cell, groups] : plain) cells += cell.modality == kFusionView ? 1 : 0;
  const double z = SimultaneousZ(confidence, std::max<size_t>(cells, 1));
  const auto accuracy_of = [](const GroupsOfCell& groups) {
    uint64_t correct = 0;
    uint64_t total = 0;
    for (const auto& [name, group] : groups) {
      const uint64_t classes = group.num_classes;
      if (group.confusion.size() != classes * classes) continue;
      for (uint64_t c = 0; c < classes * classes; ++c) {
        total += group.confusion[c];
        if (c % (classes + 1) == 0) correct += group.confusion[c];
      }
    }
    return total == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(total);
  };
  std::vector<OffsetEffect> effects;
  for (const auto& [cell, groups] : plain) {
    if (cell.modality != kFusionView) continue;
    OffsetEffect effect;
    effect.cell = cell;
    effect.gap_before = CellTruePositiveRateGap(groups, positive_class, z);
    effect.false_gap_before = CellFalsePositiveRateGap(groups, positive_class, z);
    effect.accuracy_before = effect.accuracy_after = accuracy_of(groups);
    if (const auto after = with_offsets.find(cell); after != with_offsets.end()) {
      effect.gap_after = CellTruePositiveRateGap(after->second, positive_class, z);
      effect.false_gap_after = CellFalsePositiveRateGap(after->second, positive_class, z);
      effect.accuracy_after = accuracy_of(after->second);
    }
    effects.push_back(std::move(effect));
  }
  return effects;
}

std::string FormatDecisionOffsets(const DecisionOffsets& offsets,
                                  const std::vector<OffsetEffect>& effects,
                                  const std::string& positive_label) {
  const auto gap_text = [](const std::optional<GroupGapInterval>& gap) {
    if (!gap) return std::string("n/a (fewer than two groups with samples to compare)");
    return absl::StrFormat("%.1f [%.1f, %.1f] points (%s over %s)", 100 * gap->gap,
                           100 * gap->lower, 100 * gap->upper, gap->best_group, gap->worst_group);
  };
  std::string text;
  for (const OffsetEffect& effect : effects) {
    absl::StrAppend(&text, "  ", CellName(effect.cell), ":");
    std::vector<std::string> unfitted;
    for (const GroupDecisionOffset& entry : offsets.groups) {
      if (entry.cell != effect.cell) continue;
      if (!entry.fitted) {
        unfitted.push_back(absl::StrCat(entry.group, " (", entry.positives, ")"));
        continue;
      }
      absl::StrAppend(&text, absl::StrFormat(" %s %+g (validation %.1f%% -> %.1f%%)", entry.group,
                                             entry.offset, 100 * entry.true_positive_rate_before,
                                             100 * entry.true_positive_rate_after));
    }
    if (!unfitted.empty()) {
      absl::StrAppend(&text, " left at 0, fewer than min_samples validation samples of '",
                      positive_label,
                      "' or no other group to equalise with (samples in "
                      "brackets): ",
                      absl::StrJoin(unfitted, ", "));
    }
    absl::StrAppend(&text, "\n    test true-positive-rate gap of '", positive_label,
                    "': ", gap_text(effect.gap_before), " -> ", gap_text(effect.gap_after),
                    "\n    test false-positive-rate gap: ", gap_text(effect.false_gap_before),
                    " -> ", gap_text(effect.false_gap_after),
                    absl::StrFormat("; accuracy %.1f%% -> %.1f%%\n", 100 * effect.accuracy_before,
                                    100 * effect.accuracy_after));
  }
  return text;
}

nlohmann::json OffsetEffectsToJson(const std::vector<OffsetEffect>& effects) {
  const auto gap_json = [](const std::optional<GroupGapInterval>& gap) -> nlohmann::json {
    if (!gap) return nullptr;
    return {{"gap", gap->gap},
            {"lower", gap->lower},
            {"upper", gap->upper},
            {"best_group", gap->best_group},
            {"worst_group", gap->worst_group}};
  };
  nlohmann::json lines = nlohmann::json::array();
  for (const OffsetEffect& effect : effects) {
    lines.push_back({{"cell", CellName(effect.cell)},
                     {"true_positive_rate_gap_before", gap_json(effect.gap_before)},
                     {"true_positive_rate_gap_after", gap_json(effect.gap_after)},
                     {"false_positive_rate_gap_before", gap_json(effect.false_gap_before)},
                     {"false_positive_rate_gap_after", gap_json(effect.false_gap_after)},
                     {"accuracy_before", effect.accuracy_before},
                     {"accuracy_after", effect.accuracy_after}});
  }
  return lines;
}

nlohmann::json DecisionOffsetsToJson(const DecisionOffsets& offsets) {
  nlohmann::json entries = nlohmann::json::array();
  for (const GroupDecisionOffset& entry : offsets.groups) {
    nlohmann::json line = EntryToJson(entry.cell, entry.group, entry.fitted);
    line["offset"] = entry.offset;
    line["positives"] = entry.positives;
    line["validation_true_positive_rate_before"] = entry.true_positive_rate_before;
    line["validation_true_positive_rate_after"] = entry.true_positive_rate_after;
    entries.push_back(std::move(line));
  }
  return {{"positive_class", offsets.positive_class}, {"offsets", std::move(entries)}};
}

absl::StatusOr<std::optional<DecisionOffsets>> DecisionOffsetsFromJson(const std::string& text) {
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return absl::InvalidArgumentError("not a calibration file: expected a JSON object");
  }
  const auto section = document.find("decision_offsets");
  if (section == document.end()) return std::nullopt;
  const auto positive_class =
      section->is_object() ? section->find("positive_class") : section->end();
  const auto list = section->is_object() ? section->find("offsets") : section->end();
  if (positive_class == section->end() || !positive_class->is_number_unsigned() ||
      positive_class->get<uint64_t>() > std::numeric_limits<uint32_t>::max() ||
      list == section->end() || !list->is_array()) {
    return absl::InvalidArgumentError(
        "\"decision_offsets\" needs a \"positive_class\" (a class index) and an \"offsets\" list");
  }
  DecisionOffsets offsets;
  offsets.positive_class = positive_class->get<uint32_t>();
  for (const nlohmann::json& line : *list) {
    const size_t number = offsets.groups.size() + 1;
    EQUIFL_ASSIGN_OR_RETURN(const CalibrationEntry read,
                            EntryFromJson(line, "offset", "decision offset entry", number));
    GroupDecisionOffset entry;
    entry.cell = read.cell;
    entry.group = read.group;
    entry.offset = read.value;
    entry.fitted = read.fitted;
    if (!std::isfinite(entry.offset)) {
      return absl::InvalidArgumentError(
          absl::StrCat("decision offset entry ", number, " has a non-finite offset"));
    }
    // The rest only describes the fit; a wrong type reads as absent.
    entry.positives = DescriptiveCount(line, "positives");
    entry.true_positive_rate_before =
        DescriptiveNumber(line, "validation_true_positive_rate_before");
    entry.true_positive_rate_after = DescriptiveNumber(line, "validation_true_positive_rate_after");
    offsets.groups.push_back(std::move(entry));
  }
  return offsets;
}

}  // namespace equifl::fairness
