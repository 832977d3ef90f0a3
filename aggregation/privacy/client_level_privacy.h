// Client-level differential privacy (DP-FedAvg, McMahan et al. 2018) on the
// server: the clipping norm (fixed, or adaptive after Andrew et al., NeurIPS
// 2021), the Gaussian noise of each round, and the RDP accountant's (ε, δ).
//
// Two modes. With a trusted aggregator the server clips every update to C, sums
// them with weight 1, adds N(0, (σ_Δ·C)²) to the sum and divides by the number of
// clients selected. Under secure aggregation the server sees only the sum, so
// every client clips its own update and adds its share of the noise,
// N(0, (σ_Δ·C)² / m) for the m clients the round needs at least, so the noise of
// the sum is at least the trusted mode's whatever subset survives.
//
// Adaptive clipping moves C towards the γ-quantile of the update norms:
// C ← C·exp(−η_C·(b̄ − γ)), where b̄ is the noised share of clients whose update
// was within C (noise N(0, σ_b²) on the count). Its noise takes part of the
// budget: the update noise is σ_Δ = (z^-2 − (2σ_b)^-2)^-1/2 for the configured
// noise_multiplier z (their Theorem 1).
//
// Accounting. Each round selects a fixed number m of the n joined clients,
// uniformly without replacement and unpredictably (server/round_coordinator.h), so
// the accountant uses the RDP bound for sampling without replacement at q = m / n
// (privacy_accountant.h). That bound holds for replace-one neighbours: federations
// that differ in one client's data, the number of clients public. Replacing one
// client moves the sum of clipped updates by up to 2C and the count of updates
// within C by up to 1, twice their sensitivities C and ½ (the count of b − ½) in
// Theorem 1, so the accountant charges the noise multiplier z / 2. The (ε, δ)
// reported is therefore against replacing a client, not adding or removing one.
//
// The fairness statistics (per-group loss sums, counts and confusion counts) are
// bounded and noised too (statistics_privacy.h): with a trusted aggregator the
// server bounds each client's table and noises their sum; under secure aggregation
// every client bounds its own and adds its share of the noise, as for updates. A
// training round's update and statistics are one mechanism of multiplier z (σ_Δ
// leaves the statistics their share); a final evaluation is charged z_s / 2.
#ifndef EQUIFL_AGGREGATION_PRIVACY_CLIENT_LEVEL_PRIVACY_H_
#define EQUIFL_AGGREGATION_PRIVACY_CLIENT_LEVEL_PRIVACY_H_

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aggregation/privacy/privacy_accountant.h"
#include "aggregation/privacy/statistics_privacy.h"

namespace equifl::aggregation {

//! The `privacy` section of the configuration.
struct PrivacyOptions {
  double clip_norm = 0;             //!< C (the starting C when adaptive); 0 turns DP off.
  double noise_multiplier = 1.0;    //!< z: the round's noise over C, as accounted.
  double delta = 1e-5;              //!< δ of the reported (ε, δ).
  bool adaptive_clipping = false;   //!< Move C towards the target quantile of the norms.
  double target_quantile = 0.5;     //!< γ: the share of updates meant to be within C.
  double clip_learning_rate = 0.2;  //!< η_C of the geometric update.
  //! σ_b: deviation of the noise on the count of unclipped updates; must exceed
  //! z / 2 (Andrew et al. suggest the expected clients per round / 20).
  double clip_count_stddev = 0;
  //! z_s: the fairness statistics' noise over their sensitivity
  //! (statistics_privacy.h); 0 means 2 × noise_multiplier.
  double statistics_noise_multiplier = 0;
  //! B: the most samples a client's statistics count in one modality view of a split.
  uint64_t statistics_samples_per_view = 100;
  double statistics_loss_clip = 4.0;  //!< L: nats; a group's loss sum is at most L·count.

  bool enabled() const { return clip_norm > 0; }
  //! σ_Δ: the update's noise multiplier, so that the update, adaptive clipping's
  //! count and the statistics compose to z: (z^-2 − (2σ_b)^-2 − z_s^-2)^-1/2.
  double UpdateNoiseMultiplier() const;
  //! z_s as configured, or 2 × noise_multiplier.
  double StatisticsNoiseMultiplier() const;
  //! The statistics' bound and noise multiplier.
  StatisticsPrivacyOptions Statistics() const;
  //! z / 2: the multiplier the accountant charges for a training round, against the
  //! sensitivity under replacement of one client (see the file comment).
  double AccountedNoiseMultiplier() const { return noise_multiplier / 2; }
  //! z_s / 2: what a round that releases statistics only is charged.
  double AccountedStatisticsNoiseMultiplier() const { return StatisticsNoiseMultiplier() / 2; }
  absl::Status Validate() const;

 private:
  absl::Status ValidateAdaptiveClipping() const;
};

//! The run's DP settings, sampling and accounting, and what (ε, δ) covers, in one
//! line for the log at run start (empty when DP is off).
std::string DescribePrivacy(const PrivacyOptions& options);

//! What (ε, δ) covers, a sentence for reports (empty when DP is off).
std::string PrivacyCoverage(const PrivacyOptions& options);

//! What every client does under secure aggregation.
struct ClientNoise {
  double clip_norm = 0;               //!< Clip to this L2 norm.
  double noise_stddev = 0;            //!< Per coordinate of the clipped update.
  double indicator_noise_stddev = 0;  //!< On the clip indicator (adaptive only).
  //! The statistics' bound (B, L) and the noise on counts (times L on loss sums,
  //! L² on squares); zero deviation: statistics not noised.
  StatisticsPrivacyOptions statistics;
  double statistics_noise_stddev = 0;
};

//! Scales `update` down to L2 norm `clip_norm` when it is longer; returns the clip
//! indicator: whether it was within the norm.
bool ClipToNorm(std::span<float> update, double clip_norm);

//! The client's part under secure aggregation: clips `update` to noise.clip_norm
//! and adds N(0, noise_stddev²) to every coordinate, from a generator seeded by
//! OpenSSL's CSPRNG (the server must not predict it); returns the clip indicator
//! plus N(0, indicator_noise_stddev²).
absl::StatusOr<double> AddClientNoise(const ClientNoise& noise, std::span<float> update);

//! The client's statistics under secure aggregation: each split's table bounded
//! (BoundContribution), as `grid`'s dense values (training then validation) with
//! N(0, statistics_noise_stddev²) per count (scaled for sums) from OpenSSL-seeded
//! draws. Fails on statistics outside the grid.
absl::StatusOr<std::vector<double>> NoiseClientStatistics(const ClientNoise& noise,
                                                          const StatisticsLayout& grid,
                                                          fairness::StatisticsTable train,
                                                          fairness::StatisticsTable validation);

class ClientLevelPrivacy {
 public:
  //! `completed_rounds` training rounds ran before a resume, accounted at the
  //! rate `resumed_sampling_rate` (m / n).
  ClientLevelPrivacy(const PrivacyOptions& options, uint64_t completed_rounds,
                     double resumed_sampling_rate);

  bool enabled() const { return options_.enabled(); }
  //! C of the round being run (FinishRound moves it between rounds).
  double clip_norm() const { return clip_norm_.load(); }

  //! Trusted mode: scales `update` down to norm C; returns the clip indicator,
  //! whether it was within C.
  bool Clip(std::span<float> update) const;

  //! Secure mode: what each client does when `min_contributors` must contribute
  //! to a round whose statistics have `views` modality views.
  ClientNoise ForClients(uint32_t min_contributors, size_t views) const;

  //! Ends a round: `sum` is the sum of the contributors' clipped updates (trusted:
  //! the server adds the noise here; secure: the clients' noise is in it) and
  //! becomes the DP-FedAvg mean Σ / selected. `clip_indicators` is the sum of the
  //! indicators (secure: with the clients' noise). Moves C, accounts the round as
  //! `selected` drawn without replacement from the `population` clients joined
  //! when the round selected, and returns the guarantee so far.
  absl::StatusOr<PrivacyGuarantee> FinishRound(std::span<float> sum, size_t selected,
                                               size_t population, double clip_indicators,
                                               bool noise_added_by_clients);

  //! Accounts a round whose noisy sum was released but not applied (a secure
  //! round abandoned after unmasking), as FinishRound would.
  absl::StatusOr<PrivacyGuarantee> AccountRelease(size_t selected, size_t population);

  //! Trusted mode: noises the round's summed `train` and `validation` tables over
  //! the round's `grid` (AddNoise, from OpenSSL-seeded draws).
  absl::Status NoiseStatistics(const StatisticsLayout& grid, fairness::StatisticsTable& train,
                               fairness::StatisticsTable& validation) const;
  //! Accounts a round that released statistics only (a final evaluation):
  //! `selected` of `population` clients at z_s / 2.
  absl::StatusOr<PrivacyGuarantee> AccountStatisticsRelease(size_t selected, size_t population);

  //! The guarantee after the rounds accounted so far (zeros before the first).
  const PrivacyGuarantee& spent() const { return spent_; }
  int64_t rounds() const { return accountant_.rounds(); }

 private:
  absl::StatusOr<PrivacyGuarantee> Account(size_t selected, size_t population,
                                           double noise_multiplier);

  const PrivacyOptions options_;
  std::atomic<double> clip_norm_;  //!< Read by service threads.
  PrivacyAccountant accountant_;   //!< Used by the run loop only.
  PrivacyGuarantee spent_;         //!< Likewise.
};

}  // namespace equifl::aggregation

#endif  // EQUIFL_AGGREGATION_PRIVACY_CLIENT_LEVEL_PRIVACY_H_
