// What a client puts into secure aggregation, as one vector of 32-bit words, and
// what the server reads from the sum of those vectors.
//
// The update, the client's aggregation weight and its group statistics ride in
// the same masked vector, so the server learns only their sums over the round's
// clients (docs/ARCHITECTURE.md, "Privacy"). Word layout, for a model of d values:
//   [0, d)      the weighted update r·Δ, r = min(w / weight_bound, 1), signed fixed
//               point clamped to ±update_bound
//   d           r, signed fixed point in [0, 1]
//   d + 1       1 when the client clamped any value (the server sees only the count)
//   d + 2       adaptive clipping's indicator (signed fixed point, ±indicator_bound)
//   d + 3       training samples
//   then        the training statistics, then the validation statistics, each in
//               StatisticsLayout's order: per (language, view, group) the loss sum
//               and the sum of squared losses in two limbs each, the sample count
//               and the confusion counts; under client-level DP (`noised`) the
//               same values, noised by the client, each as an exact sum of
//               kExactSumLimbs words (they may be fractional or negative).
//   then        the exact sums (a feature-moments round's moments), each in
//               kExactSumLimbs words.
// The mean update is Σ r·Δ / Σ r, the weighted mean of the updates with the
// weights min(w, weight_bound). Errors: fixed_point.h.
#ifndef EQUIFL_AGGREGATION_SECURE_SECURE_INPUT_H_
#define EQUIFL_AGGREGATION_SECURE_SECURE_INPUT_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/secure/fixed_point.h"
#include "fairness/group_statistics.h"

namespace equifl::aggregation {

//! The dense grid of (language, view, group) statistics, the same for every
//! client of a run.
struct StatisticsLayout {
  std::vector<std::string> languages;
  std::vector<std::string> views;
  std::vector<std::string> groups;
  uint32_t num_classes = 0;
  //! The clients send their statistics noised (client-level DP), as dense values
  //! (StatisticsValues) in exact sums.
  bool noised = false;

  //! Values per (language, view, group) in the noised form: loss sum, sum of
  //! squared losses, count, then the num_classes^2 confusion counts.
  size_t EntryValues() const {
    return kEntryHeaderValues + static_cast<size_t>(num_classes) * num_classes;
  }
  static constexpr size_t kEntryHeaderValues = 3;
  //! Values of one split's statistics in the noised form.
  size_t Values() const { return languages.size() * views.size() * groups.size() * EntryValues(); }

  //! Words per (language, view, group): 2 (loss sum) + 2 (sum of squared losses)
  //! + 1 (count) + num_classes^2.
  size_t EntryWords() const {
    return kEntryHeaderWords + static_cast<size_t>(num_classes) * num_classes;
  }
  //! The words of an entry before its confusion counts.
  static constexpr size_t kEntryHeaderWords = 5;
  //! Words of one split's statistics.
  size_t Words() const;
  //! First word of an entry within a split; NotFound names the missing name.
  absl::StatusOr<size_t> Offset(const std::string& language, const std::string& view,
                                const std::string& group) const;
  //! OK, or what is missing or repeated.
  absl::Status Validate() const;
};

//! The shape of a round's masked vectors and the ranges of their fixed point.
struct SecureInputLayout {
  uint64_t update_size = 0;  //!< d: model values (0 in an evaluation round).
  StatisticsLayout statistics;
  uint32_t max_clients = 1;      //!< Clients summed at most (the round's selection).
  double update_bound = 1.0;     //!< Each coordinate of r·Δ is clamped to ±this.
  double weight_bound = 1.0;     //!< W: weights above it count as W.
  double indicator_bound = 1.0;  //!< The clip indicator is clamped to ±this.
  uint64_t exact_sums = 0;       //!< Values summed exactly (EncodeExactSum).

  //! Words of the vector.
  size_t Words() const;
  absl::Status Validate() const;
};

//! One client's plaintext input.
struct SecureInput {
  std::span<const float> update;  //!< Δ, update_size values.
  double weight = 1;              //!< w > 0: the client's aggregation weight.
  double clip_indicator = 0;      //!< Adaptive clipping's b_k plus its noise; 0 when off.
  uint64_t train_samples = 0;     //!< n_k.
  //! Statistics by (language, view) cell and group; the cells' client is ignored.
  fairness::StatisticsTable train;
  fairness::StatisticsTable validation;
  //! With statistics.noised, in place of the tables: 2 × statistics.Values() values,
  //! the training split's then the validation split's.
  std::span<const double> noised_statistics;
  std::span<const double> exact_sums;  //!< exact_sums values.
};

//! The words of `input` (`words` is resized to layout.Words()). Values outside
//! their range are clamped and counted in the vector's clamp word; returns whether
//! any was. Fails on cells the layout does not know or confusion of another size.
absl::StatusOr<bool> EncodeSecureInput(const SecureInputLayout& layout, const SecureInput& input,
                                       std::vector<uint32_t>& words);

//! What the server learns from the sum of the survivors' vectors.
struct SecureSum {
  std::vector<float> weighted_update;    //!< Σ r·Δ.
  double weight = 0;                     //!< Σ r (in units of weight_bound).
  uint64_t clamped_clients = 0;          //!< Clients that clamped a value.
  double clip_indicator = 0;             //!< Σ of the clip indicators.
  uint64_t train_samples = 0;            //!< Σ n_k.
  fairness::StatisticsTable train;       //!< Groups with samples.
  fairness::StatisticsTable validation;  //!< Groups with samples.
  //! With statistics.noised, in place of the tables: Σ of each noised value.
  std::vector<double> noised_statistics;
  std::vector<double> exact_sums;  //!< Σ of each exact sum.
};

//! Decodes the sum of vectors laid out by `layout`.
absl::StatusOr<SecureSum> DecodeSecureSum(const SecureInputLayout& layout,
                                          std::span<const uint32_t> words);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_SECURE_SECURE_INPUT_H_
