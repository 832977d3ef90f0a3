#include "aggregation/privacy/client_level_privacy.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/random.h"
#include "base/status_macros.h"

namespace equifl::aggregation {
namespace {

// A generator for DP noise, seeded with 256 bits from OpenSSL's CSPRNG: whoever
// sees the noised values must not be able to predict the noise.
absl::StatusOr<random::Engine> UnpredictableEngine() {
  std::array<uint32_t, 8> seed;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), static_cast<int>(sizeof(seed))) !=
      1) {
    return absl::InternalError("OpenSSL's random generator failed to seed the DP noise");
  }
  std::seed_seq sequence(seed.begin(), seed.end());
  return random::Engine(sequence);
}

}  // namespace

bool ClipToNorm(std::span<float> update, double clip_norm) {
  double squared = 0;
  for (float value : update) squared += static_cast<double>(value) * value;
  const double norm = std::sqrt(squared);
  if (norm <= clip_norm) return true;
  const double scale = clip_norm / norm;
  for (float& value : update) value = static_cast<float>(value * scale);
  return false;
}

absl::StatusOr<std::vector<double>> NoiseClientStatistics(const ClientNoise& noise,
                                                          const StatisticsLayout& grid,
                                                          fairness::StatisticsTable train,
                                                          fairness::StatisticsTable validation) {
  std::vector<double> values;
  EQUIFL_ASSIGN_OR_RETURN(random::Engine engine, UnpredictableEngine());
  for (fairness::StatisticsTable* split : {&train, &validation}) {
    BoundContribution(*split, noise.statistics);
    EQUIFL_ASSIGN_OR_RETURN(std::vector<double> split_values, GridValues(*split, grid));
    AddGridNoise(split_values, grid, noise.statistics_noise_stddev, noise.statistics.loss_clip,
                 engine);
    values.insert(values.end(), split_values.begin(), split_values.end());
  }
  return values;
}

absl::StatusOr<double> AddClientNoise(const ClientNoise& noise, std::span<float> update) {
  double indicator = ClipToNorm(update, noise.clip_norm) ? 1.0 : 0.0;
  EQUIFL_ASSIGN_OR_RETURN(random::Engine engine, UnpredictableEngine());
  for (float& value : update) {
    value = static_cast<float>(value + noise.noise_stddev * random::Normal(engine));
  }
  if (noise.indicator_noise_stddev > 0) {
    indicator += noise.indicator_noise_stddev * random::Normal(engine);
  }
  return indicator;
}

double PrivacyOptions::UpdateNoiseMultiplier() const {
  const double count_term =
      adaptive_clipping ? 1.0 / (4 * clip_count_stddev * clip_count_stddev) : 0.0;
  const double statistics = StatisticsNoiseMultiplier();
  return 1.0 / std::sqrt(1.0 / (noise_multiplier * noise_multiplier) - count_term -
                         1.0 / (statistics * statistics));
}

double PrivacyOptions::StatisticsNoiseMultiplier() const {
  return statistics_noise_multiplier > 0 ? statistics_noise_multiplier : 2 * noise_multiplier;
}

StatisticsPrivacyOptions PrivacyOptions::Statistics() const {
  return {.noise_multiplier = StatisticsNoiseMultiplier(),
          .samples_per_view = statistics_samples_per_view,
          .loss_clip = statistics_loss_clip};
}

absl::Status PrivacyOptions::Validate() const {
  if (!(clip_norm >= 0) || std::isinf(clip_norm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy clip_norm is ", clip_norm, "; allowed: 0 (off) or a positive norm"));
  }
  if (!enabled()) return absl::OkStatus();
  if (!(noise_multiplier > 0) || std::isinf(noise_multiplier)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy noise_multiplier is ", noise_multiplier,
                                                   "; allowed: a positive number"));
  }
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy delta is ", delta, "; allowed: (0, 1), e.g. 1e-5"));
  }
  if (!(statistics_noise_multiplier >= 0) || std::isinf(statistics_noise_multiplier)) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy statistics_noise_multiplier is ", statistics_noise_multiplier,
                     "; allowed: 0 (2 x noise_multiplier) or a positive number"));
  }
  if (statistics_samples_per_view == 0) {
    return absl::InvalidArgumentError(
        "privacy statistics_samples_per_view is 0; allowed: a positive number of samples, e.g. "
        "the size of a typical client's validation split");
  }
  if (!(statistics_loss_clip > 0) || std::isinf(statistics_loss_clip)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy statistics_loss_clip is ",
                                                   statistics_loss_clip,
                                                   "; allowed: a positive number of nats, e.g. 4"));
  }
  if (absl::Status adaptive = ValidateAdaptiveClipping(); !adaptive.ok()) return adaptive;
  // The update's share of z is what the count's and the statistics' leave.
  const double statistics = StatisticsNoiseMultiplier();
  const double left = 1.0 / (noise_multiplier * noise_multiplier) -
                      1.0 / (statistics * statistics) -
                      (adaptive_clipping ? 1.0 / (4 * clip_count_stddev * clip_count_stddev) : 0.0);
  if (!(left > 0)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "privacy statistics_noise_multiplier %g leaves the updates no share of noise_multiplier "
        "%g (a round's multipliers compose as z^-2 = z_update^-2 + z_statistics^-2%s); give "
        "the statistics a larger multiplier, e.g. 0 for 2 x noise_multiplier",
        statistics, noise_multiplier, adaptive_clipping ? " + (2 clip_count_stddev)^-2" : ""));
  }
  return absl::OkStatus();
}

absl::Status PrivacyOptions::ValidateAdaptiveClipping() const {
  if (!adaptive_clipping) return absl::OkStatus();
  if (!(target_quantile > 0 && target_quantile < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy target_quantile is ", target_quantile, "; allowed: (0, 1)"));
  }
  if (!(clip_learning_rate > 0) || std::isinf(clip_learning_rate)) {
    return absl::InvalidArgumentError(absl::StrCat("privacy clip_learning_rate is ",
                                                   clip_learning_rate,
                                                   "; allowed: a positive number, e.g. 0.2"));
  }
  if (!(2 * clip_count_stddev > noise_multiplier) || std::isinf(clip_count_stddev)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "privacy clip_count_stddev is ", clip_count_stddev,
        "; adaptive clipping needs more than noise_multiplier / 2 = ", noise_multiplier / 2,
        " (e.g. the expected clients per round / 20)"));
  }
  return absl::OkStatus();
}

std::string PrivacyCoverage(const PrivacyOptions& options) {
  if (!options.enabled()) return "";
  return absl::StrFormat(
      "(epsilon, delta) covers the model updates and the fairness statistics (loss sums, "
      "counts and confusion counts of training, validation and test, each client's bounded to "
      "%d samples per view and %g nats per sample, noised at z_s = %g), not the round-0 "
      "feature moments",
      options.statistics_samples_per_view, options.statistics_loss_clip,
      options.StatisticsNoiseMultiplier());
}

std::string DescribePrivacy(const PrivacyOptions& options) {
  if (!options.enabled()) return "";
  return absl::StrCat(
      absl::StrFormat(
          "client-level DP: clipping norm %g%s, noise multiplier z = %g, delta %g; each round "
          "samples its clients without replacement (a fixed number of those joined, drawn "
          "unpredictably); (epsilon, delta) from the RDP of sampling without replacement (Wang et "
          "al. 2019) against replacing one client's data (the number of clients public), charged "
          "z / 2 = %g as the sum's sensitivity is 2 x the clipping norm, converted by Balle et al. "
          "2020",
          options.clip_norm,
          options.adaptive_clipping
              ? absl::StrFormat(" (adaptive, towards quantile %g)", options.target_quantile)
              : "",
          options.noise_multiplier, options.delta, options.AccountedNoiseMultiplier()),
      absl::StrFormat("; a final evaluation is charged z_s / 2 = %g",
                      options.AccountedStatisticsNoiseMultiplier()),
      "; ", PrivacyCoverage(options));
}

ClientLevelPrivacy::ClientLevelPrivacy(const PrivacyOptions& options, uint64_t completed_rounds,
                                       double resumed_sampling_rate)
    : options_(options), clip_norm_(options.clip_norm), accountant_(Sampling::kWithoutReplacement) {
  if (options_.enabled() && completed_rounds > 0) {
    accountant_
        .Compose(resumed_sampling_rate, options_.AccountedNoiseMultiplier(),
                 static_cast<int64_t>(completed_rounds))
        .IgnoreError();  // the options were validated
    if (absl::StatusOr<PrivacyGuarantee> spent = accountant_.EpsilonFor(options_.delta);
        spent.ok()) {
      spent_ = *spent;
    }
  }
}

bool ClientLevelPrivacy::Clip(std::span<float> update) const {
  return ClipToNorm(update, clip_norm());
}

ClientNoise ClientLevelPrivacy::ForClients(uint32_t min_contributors, size_t views) const {
  const double share = 1.0 / std::sqrt(std::max<uint32_t>(min_contributors, 1));
  ClientNoise noise;
  noise.clip_norm = clip_norm();
  noise.noise_stddev = options_.UpdateNoiseMultiplier() * noise.clip_norm * share;
  noise.statistics = options_.Statistics();
  noise.statistics_noise_stddev =
      options_.StatisticsNoiseMultiplier() * StatisticsSensitivity(noise.statistics, views) * share;
  if (options_.adaptive_clipping) noise.indicator_noise_stddev = options_.clip_count_stddev * share;
  return noise;
}

absl::StatusOr<PrivacyGuarantee> ClientLevelPrivacy::FinishRound(std::span<float> sum,
                                                                 size_t selected, size_t population,
                                                                 double clip_indicators,
                                                                 bool noise_added_by_clients) {
  const double denominator = static_cast<double>(std::max<size_t>(selected, 1));
  EQUIFL_ASSIGN_OR_RETURN(random::Engine engine, UnpredictableEngine());
  const double deviation =
      noise_added_by_clients ? 0.0 : options_.UpdateNoiseMultiplier() * clip_norm();
  for (float& value : sum) {
    value = static_cast<float>((value + deviation * random::Normal(engine)) / denominator);
  }
  if (options_.adaptive_clipping) {
    const double count_noise =
        noise_added_by_clients ? 0.0 : options_.clip_count_stddev * random::Normal(engine);
    const double within = (clip_indicators + count_noise) / denominator;
    clip_norm_ =
        clip_norm() * std::exp(-options_.clip_learning_rate * (within - options_.target_quantile));
  }
  return AccountRelease(selected, population);
}

absl::StatusOr<PrivacyGuarantee> ClientLevelPrivacy::AccountRelease(size_t selected,
                                                                    size_t population) {
  return Account(selected, population, options_.AccountedNoiseMultiplier());
}

absl::StatusOr<PrivacyGuarantee> ClientLevelPrivacy::AccountStatisticsRelease(size_t selected,
                                                                              size_t population) {
  return Account(selected, population, options_.AccountedStatisticsNoiseMultiplier());
}

absl::StatusOr<PrivacyGuarantee> ClientLevelPrivacy::Account(size_t selected, size_t population,
                                                             double noise_multiplier) {
  const double rate = std::min(1.0, static_cast<double>(std::max<size_t>(selected, 1)) /
                                        static_cast<double>(std::max<size_t>(population, 1)));
  EQUIFL_RETURN_IF_ERROR(accountant_.Compose(rate, noise_multiplier));
  EQUIFL_ASSIGN_OR_RETURN(spent_, accountant_.EpsilonFor(options_.delta));
  return spent_;
}

absl::Status ClientLevelPrivacy::NoiseStatistics(const StatisticsLayout& grid,
                                                 fairness::StatisticsTable& train,
                                                 fairness::StatisticsTable& validation) const {
  EQUIFL_ASSIGN_OR_RETURN(random::Engine engine, UnpredictableEngine());
  EQUIFL_RETURN_IF_ERROR(AddNoise(train, grid, options_.Statistics(), engine));
  return AddNoise(validation, grid, options_.Statistics(), engine);
}

}  // namespace equifl::aggregation
