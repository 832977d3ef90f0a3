#include "aggregation/secure/secure_input.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace equifl::aggregation {
namespace {

// Words before the statistics, after the update.
constexpr size_t kWeightWord = 0;
constexpr size_t kClampWord = 1;
constexpr size_t kIndicatorWord = 2;
constexpr size_t kSamplesWord = 3;
constexpr size_t kScalarWords = 4;

// Words of a statistics entry (StatisticsLayout::EntryWords).
constexpr size_t kLossSumWords = 0;        // Two limbs.
constexpr size_t kLossSquareSumWords = 2;  // Two limbs.
constexpr size_t kCountWord = 4;
constexpr size_t kConfusionWords = StatisticsLayout::kEntryHeaderWords;

// The fixed point of each signed part of a layout's vector.
struct FixedPoints {
  SignedFixedPoint update;
  SignedFixedPoint weight;
  SignedFixedPoint indicator;

  static absl::StatusOr<FixedPoints> For(const SecureInputLayout& layout) {
    EQUIFL_ASSIGN_OR_RETURN(SignedFixedPoint update,
                            SignedFixedPoint::Create(layout.update_bound, layout.max_clients));
    EQUIFL_ASSIGN_OR_RETURN(SignedFixedPoint weight,
                            SignedFixedPoint::Create(1.0, layout.max_clients));
    EQUIFL_ASSIGN_OR_RETURN(SignedFixedPoint indicator,
                            SignedFixedPoint::Create(layout.indicator_bound, layout.max_clients));
    return FixedPoints{update, weight, indicator};
  }
};

absl::StatusOr<size_t> IndexOf(const std::vector<std::string>& names, const std::string& name,
                               const char* what) {
  const auto found = std::find(names.begin(), names.end(), name);
  if (found == names.end()) {
    return absl::NotFoundError(absl::StrCat("the ", what, " '", name, "' is not one of the run's ",
                                            what, "s (", absl::StrJoin(names, ", "), ")"));
  }
  return static_cast<size_t>(found - names.begin());
}

absl::Status CheckNames(const std::vector<std::string>& names, const char* what) {
  if (names.empty()) return absl::InvalidArgumentError(absl::StrCat("the layout lists no ", what));
  if (std::set<std::string>(names.begin(), names.end()).size() != names.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the layout repeats a name in ", what));
  }
  return absl::OkStatus();
}

absl::Status EncodeStatistics(const StatisticsLayout& layout,
                              const fairness::StatisticsTable& table, uint32_t* out,
                              bool& clamped) {
  const size_t confusion_words = layout.EntryWords() - kConfusionWords;
  const auto count_word = [&](uint64_t count) {
    if (count > UINT32_MAX) {
      clamped = true;
      return UINT32_MAX;
    }
    return static_cast<uint32_t>(count);
  };
  for (const auto& [cell, groups] : table) {
    for (const auto& [group, statistics] : groups) {
      EQUIFL_ASSIGN_OR_RETURN(size_t offset, layout.Offset(cell.language, cell.modality, group));
      if (!statistics.confusion.empty() && statistics.confusion.size() != confusion_words) {
        return absl::InvalidArgumentError(
            absl::StrCat("cell (", cell.language, ", ", cell.modality, ", ", group, ") has ",
                         statistics.confusion.size(), " confusion counts; the run has ",
                         layout.num_classes, " classes"));
      }
      uint32_t* word = out + offset;
      const auto add_sum = [&](double value, uint32_t* limbs) {
        uint32_t low = 0;
        uint32_t high = 0;
        EncodeLossSum(value, low, high, clamped);
        limbs[0] += low;
        limbs[1] += high;
      };
      add_sum(statistics.loss_sum, word + kLossSumWords);
      add_sum(statistics.loss_square_sum, word + kLossSquareSumWords);
      word[kCountWord] += count_word(statistics.count);
      for (size_t i = 0; i < statistics.confusion.size(); ++i) {
        word[kConfusionWords + i] += count_word(statistics.confusion[i]);
      }
    }
  }
  return absl::OkStatus();
}

fairness::StatisticsTable DecodeStatistics(const StatisticsLayout& layout, const uint32_t* words) {
  fairness::StatisticsTable table;
  const size_t confusion_words = layout.EntryWords() - kConfusionWords;
  size_t offset = 0;
  for (const std::string& language : layout.languages) {
    for (const std::string& view : layout.views) {
      for (const std::string& group : layout.groups) {
        const uint32_t* word = words + offset;
        offset += layout.EntryWords();
        if (word[kCountWord] == 0) continue;
        fairness::GroupStatistics& statistics = table[fairness::Cell{language, view, ""}][group];
        statistics.loss_sum = DecodeLossSum(word[kLossSumWords], word[kLossSumWords + 1]);
        statistics.loss_square_sum =
            DecodeLossSum(word[kLossSquareSumWords], word[kLossSquareSumWords + 1]);
        statistics.count = word[kCountWord];
        statistics.num_classes = layout.num_classes;
        statistics.confusion.assign(word + kConfusionWords,
                                    word + kConfusionWords + confusion_words);
      }
    }
  }
  return table;
}

}  // namespace

absl::StatusOr<size_t> StatisticsLayout::Offset(const std::string& language,
                                                const std::string& view,
                                                const std::string& group) const {
  EQUIFL_ASSIGN_OR_RETURN(size_t l, IndexOf(languages, language, "language"));
  EQUIFL_ASSIGN_OR_RETURN(size_t v, IndexOf(views, view, "view"));
  EQUIFL_ASSIGN_OR_RETURN(size_t g, IndexOf(groups, group, "group"));
  return ((l * views.size() + v) * groups.size() + g) * EntryWords();
}

absl::Status StatisticsLayout::Validate() const {
  EQUIFL_RETURN_IF_ERROR(CheckNames(languages, "languages"));
  EQUIFL_RETURN_IF_ERROR(CheckNames(views, "views"));
  EQUIFL_RETURN_IF_ERROR(CheckNames(groups, "groups"));
  if (num_classes == 0 || num_classes > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("the layout has ", num_classes, " classes; allowed: 1 to 4096"));
  }
  return absl::OkStatus();
}

size_t StatisticsLayout::Words() const {
  const size_t entries = languages.size() * views.size() * groups.size();
  return noised ? entries * EntryValues() * kExactSumLimbs : entries * EntryWords();
}

size_t SecureInputLayout::Words() const {
  return static_cast<size_t>(update_size) + kScalarWords + 2 * statistics.Words() +
         static_cast<size_t>(exact_sums) * kExactSumLimbs;
}

absl::Status SecureInputLayout::Validate() const {
  EQUIFL_RETURN_IF_ERROR(statistics.Validate());
  if (max_clients == 0 || max_clients > kMaxLossSumAddends) {
    return absl::InvalidArgumentError(absl::StrCat("secure aggregation of ", max_clients,
                                                   " clients; allowed: 1 to ", kMaxLossSumAddends,
                                                   " per round"));
  }
  for (const auto& [bound, name] :
       {std::pair{update_bound, "update_bound"}, std::pair{weight_bound, "weight_bound"},
        std::pair{indicator_bound, "indicator_bound"}}) {
    if (!(bound > 0) || !std::isfinite(bound)) {
      return absl::InvalidArgumentError(absl::StrCat("secure aggregation's ", name, " is ", bound,
                                                     "; allowed: a positive number"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> EncodeSecureInput(const SecureInputLayout& layout, const SecureInput& input,
                                       std::vector<uint32_t>& words) {
  EQUIFL_RETURN_IF_ERROR(layout.Validate());
  if (input.update.size() != layout.update_size) {
    return absl::InvalidArgumentError(absl::StrCat("an update of ", input.update.size(),
                                                   " values for a layout of ", layout.update_size));
  }
  if (input.exact_sums.size() != layout.exact_sums) {
    return absl::InvalidArgumentError(
        absl::StrCat(input.exact_sums.size(), " exact sums for a layout of ", layout.exact_sums));
  }
  if (!(input.weight > 0) || !std::isfinite(input.weight)) {
    return absl::InvalidArgumentError(
        absl::StrCat("aggregation weight ", input.weight, "; it must be positive"));
  }
  EQUIFL_ASSIGN_OR_RETURN(const FixedPoints points, FixedPoints::For(layout));
  words.assign(layout.Words(), 0);
  bool clamped = false;
  const double share = std::min(input.weight / layout.weight_bound, 1.0);
  if (input.weight > layout.weight_bound) clamped = true;
  const size_t d = static_cast<size_t>(layout.update_size);
  for (size_t i = 0; i < d; ++i) words[i] = points.update.Encode(share * input.update[i], clamped);
  uint32_t* scalars = words.data() + d;
  scalars[kWeightWord] = points.weight.Encode(share, clamped);
  scalars[kIndicatorWord] = points.indicator.Encode(input.clip_indicator, clamped);
  if (input.train_samples > UINT32_MAX) {
    return absl::InvalidArgumentError("more than 2^32 - 1 training samples");
  }
  scalars[kSamplesWord] = static_cast<uint32_t>(input.train_samples);
  uint32_t* statistics = scalars + kScalarWords;
  if (layout.statistics.noised) {
    if (input.noised_statistics.size() != 2 * layout.statistics.Values()) {
      return absl::InvalidArgumentError(absl::StrCat(input.noised_statistics.size(),
                                                     " noised statistics for a layout of ",
                                                     2 * layout.statistics.Values()));
    }
    for (size_t i = 0; i < input.noised_statistics.size(); ++i) {
      EncodeExactSum(
          input.noised_statistics[i],
          std::span<uint32_t, kExactSumLimbs>(statistics + i * kExactSumLimbs, kExactSumLimbs),
          clamped);
    }
  } else {
    EQUIFL_RETURN_IF_ERROR(EncodeStatistics(layout.statistics, input.train, statistics, clamped));
    EQUIFL_RETURN_IF_ERROR(EncodeStatistics(layout.statistics, input.validation,
                                            statistics + layout.statistics.Words(), clamped));
  }
  uint32_t* exact = statistics + 2 * layout.statistics.Words();
  for (size_t i = 0; i < input.exact_sums.size(); ++i) {
    EncodeExactSum(input.exact_sums[i],
                   std::span<uint32_t, kExactSumLimbs>(exact + i * kExactSumLimbs, kExactSumLimbs),
                   clamped);
  }
  scalars[kClampWord] = clamped ? 1 : 0;
  return clamped;
}

absl::StatusOr<SecureSum> DecodeSecureSum(const SecureInputLayout& layout,
                                          std::span<const uint32_t> words) {
  EQUIFL_RETURN_IF_ERROR(layout.Validate());
  if (words.size() != layout.Words()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a sum of ", words.size(), " words for a layout of ", layout.Words()));
  }
  EQUIFL_ASSIGN_OR_RETURN(const FixedPoints points, FixedPoints::For(layout));
  SecureSum sum;
  const size_t d = static_cast<size_t>(layout.update_size);
  sum.weighted_update.resize(d);
  for (size_t i = 0; i < d; ++i) {
    sum.weighted_update[i] = static_cast<float>(points.update.Decode(words[i]));
  }
  const uint32_t* scalars = words.data() + d;
  sum.weight = points.weight.Decode(scalars[kWeightWord]);
  sum.clamped_clients = scalars[kClampWord];
  sum.clip_indicator = points.indicator.Decode(scalars[kIndicatorWord]);
  sum.train_samples = scalars[kSamplesWord];
  const uint32_t* statistics = scalars + kScalarWords;
  if (layout.statistics.noised) {
    for (size_t i = 0; i < 2 * layout.statistics.Values(); ++i) {
      sum.noised_statistics.push_back(DecodeExactSum(std::span<const uint32_t, kExactSumLimbs>(
          statistics + i * kExactSumLimbs, kExactSumLimbs)));
    }
  } else {
    sum.train = DecodeStatistics(layout.statistics, statistics);
    sum.validation = DecodeStatistics(layout.statistics, statistics + layout.statistics.Words());
  }
  const uint32_t* exact = statistics + 2 * layout.statistics.Words();
  for (size_t i = 0; i < layout.exact_sums; ++i) {
    sum.exact_sums.push_back(DecodeExactSum(
        std::span<const uint32_t, kExactSumLimbs>(exact + i * kExactSumLimbs, kExactSumLimbs)));
  }
  return sum;
}

}  // namespace equifl::aggregation
