// Client-level differential privacy for the fairness statistics: the per-group
// loss sums, sums of squared losses, counts and confusion counts describe a
// client's data as directly as its update, so with `privacy` on they are bounded
// per client and noised like the update, and charged to the same accountant.
//
// Bound (BoundContribution, on one client's table of one split): in every modality
// view, each group's loss sum is at most L·count and its sum of squares at most
// L²·count (L = loss_clip, nats: the per-sample loss clip in sum form); when the
// view counts more than B samples (samples_per_view), every count, confusion count
// and sum of the view is scaled by B / samples, counts rounded down. Measured in
// units of (count, loss / L, square / L², confusion count), each coordinate of a
// group is then at most its count, so a view contributes an L2 norm of at most 2B
// and the two splits a round reports, over V views, at most S = 2B·√(2V). A
// selection view (fairness/model_selection.h) holds samples the fusion view does
// not, so the two share the fusion view's B: with a + b ≤ B samples between them
// their L2 norm is at most 2B, and they count as one of the V views.
//
// Noise: every entry of the round's dense grid (languages × views × groups,
// whether or not any client has it, so an entry's presence says nothing) gets
// Gaussian noise of deviation σ = z_s·S on its count and each confusion count, σ·L
// on its loss sum and σ·L² on its sum of squares: added to the sum by a trusted
// aggregator (AddNoise), or under secure aggregation by each client, its share
// N(0, σ²/m) for the m clients the round needs (NoiseClientStatistics in
// client_level_privacy.h), the server checking the sum (CheckNoisedSum).
// Post-processing, which costs no privacy (TableFromNoisedValues): counts rounded
// to the nearest integer at least 0, loss sums clamped to [0, L·count], squares to
// [0, L²·count], entries whose count is 0 dropped; a negative confusion count
// becomes 0 and its mass comes off the same row's other counts, wrong predictions
// first, so rows (samples per class) and the diagonal keep their unbiased noisy
// sums. Every entry records the noise variances (GroupStatistics::noise), so the
// intervals of fairness reports include them.
//
// Accounting: replacing one client moves the sum by at most 2S, so, as for
// updates (client_level_privacy.h), the statistics alone are charged z_s / 2.
// A training round releases update and statistics from the same clients: one
// Gaussian mechanism whose multiplier composes as
// z = (z_Δ^-2 + (2σ_b)^-2 + z_s^-2)^-1/2 (PrivacyOptions::UpdateNoiseMultiplier
// keeps that at the configured noise_multiplier). A final evaluation releases
// statistics only and is charged z_s / 2.
#ifndef EQUIFL_AGGREGATION_PRIVACY_STATISTICS_PRIVACY_H_
#define EQUIFL_AGGREGATION_PRIVACY_STATISTICS_PRIVACY_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/secure/secure_input.h"
#include "base/random.h"
#include "fairness/group_statistics.h"

namespace equifl::aggregation {

//! How the statistics are bounded and noised (the `privacy` section's statistics_*).
struct StatisticsPrivacyOptions {
  double noise_multiplier = 0;    //!< z_s: the noise's deviation over S.
  uint64_t samples_per_view = 0;  //!< B: the most samples a client counts in a view.
  double loss_clip = 0;           //!< L: nats.
};

//! Bounds one client's table of one split in place (see the file comment).
void BoundContribution(fairness::StatisticsTable& table, const StatisticsPrivacyOptions& options);

//! V: the views of `views` that count towards S (a selection view shares the
//! fusion view's budget).
size_t BudgetedViews(const std::vector<std::string>& views);

//! S: the largest L2 norm of one client's bounded statistics of a round (two
//! splits) over `views` (BudgetedViews) modality views, in noise units.
double StatisticsSensitivity(const StatisticsPrivacyOptions& options, size_t views);

//! The variances of the noise on each kind of sum, for a round over `views` views.
fairness::SumNoise StatisticsNoiseVariances(const StatisticsPrivacyOptions& options, size_t views);

//! The variances on each kind of sum when a count's is `count_variance`: times L²
//! on loss sums, L⁴ on sums of squares.
fairness::SumNoise NoiseVariancesPerKind(double count_variance, double loss_clip);

//! OK when every entry of `table` is on `grid` (no client key) with confusion
//! counts of the grid's number of classes (or none); otherwise the first that is not.
absl::Status CheckOnGrid(const fairness::StatisticsTable& table, const StatisticsLayout& grid);

//! `table` as the dense values of `grid` (StatisticsLayout::Values(), in its order:
//! per entry loss sum, sum of squares, count, confusion counts; absent entries 0).
//! Fails, naming it, on an entry outside the grid or with confusion counts of
//! another number of classes.
absl::StatusOr<std::vector<double>> GridValues(const fairness::StatisticsTable& table,
                                               const StatisticsLayout& grid);

//! Adds Gaussian noise to dense grid values: deviation `deviation` on counts and
//! confusion counts, deviation·L on loss sums, deviation·L² on squares.
void AddGridNoise(std::span<double> values, const StatisticsLayout& grid, double deviation,
                  double loss_clip, random::Engine& engine);

//! Noised dense values back as a table, post-processed (see the file comment),
//! every entry recording `noise`.
fairness::StatisticsTable TableFromNoisedValues(std::span<const double> values,
                                                const StatisticsLayout& grid, double loss_clip,
                                                const fairness::SumNoise& noise);

//! OK when `values` (a split's noised sum over `contributors` clients, noise of
//! deviation `deviation` per count in all) can come from honest clients: every
//! count within [−10σ, contributors·B + 10σ] and every sum within that times L (or
//! L²); otherwise what is impossible. Off by more than 10σ by chance: p < 10^-23.
absl::Status CheckNoisedSum(std::span<const double> values, const StatisticsLayout& grid,
                            const StatisticsPrivacyOptions& bound, double contributors,
                            double deviation);

//! The trusted aggregator's whole step on a summed table: GridValues, AddGridNoise
//! at σ = z_s·S, TableFromNoisedValues; draws from `engine`.
absl::Status AddNoise(fairness::StatisticsTable& table, const StatisticsLayout& grid,
                      const StatisticsPrivacyOptions& options, random::Engine& engine);

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_PRIVACY_STATISTICS_PRIVACY_H_
