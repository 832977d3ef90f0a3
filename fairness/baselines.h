// The fairness baselines equifl compares ERM-MinMaxGAP against, in the same
// engine (docs/ARCHITECTURE.md): their server-side state and client-side arithmetic. FedAvg
// (plain ERM), local adversarial debiasing and local group-balanced reweighting
// need nothing here; the client and the model carry them.
//
// - q-FedAvg (Li et al., ICLR 2020, "Fair resource allocation in federated
//   learning"): the server step is  w ← w − Σ_k Δ_k / Σ_k h_k  with
//   Δw_k = L·(w − w_k), Δ_k = F_k^q·Δw_k, h_k = q·F_k^(q−1)·‖Δw_k‖² + L·F_k^q,
//   F_k the client's loss at w and L = 1/(local learning rate). A client sends
//   h_k as its aggregation weight and its update scaled by F_k^q·L/h_k, so the
//   ordinary weighted mean Σ h_k·u_k / Σ h_k is exactly q-FedAvg's step.
// - FedMinMax (Papadaki et al., 2022; AFL, Mohri et al., 2019): weights μ on the
//   simplex over the (cell, group) pairs of one view, so a language's groups are
//   groups of their own rather than pooled with the other languages'. Each round
//   μ moves by the exponentiated-gradient (mirror ascent) step
//   μ_i ← μ_i·exp(η_μ·(r_i − r̄)) / Σ_j μ_j·exp(η_μ·(r_j − r̄)), r_i the pair's
//   aggregated training risk and r̄ their mean (which cancels in the ratio). Unlike
//   a projected step, which moves μ by about η_μ·Δr (0.01 a round for η_μ = 0.1 and
//   risks near 1), it moves μ by a factor of e^(η_μ·Δr) and never leaves the
//   simplex. Clients weight a sample of pair i by μ_i/ρ_i, ρ_i the pair's share of
//   the view's samples, so the federation minimises Σ_i μ_i·r_i.
// - FairFed (Ezzeldin et al., AAAI 2023): client weights start at n_k/n and move
//   as ω̄_k ← ω̄_k − β·(Δ_k − mean_j Δ_j), ω_k = ω̄_k / Σ_j ω̄_j, with
//   Δ_k = |F_k − F_global| for a fairness metric F of the global model on the
//   client's and on the federation's held-out data.
#ifndef EQUIFL_FAIRNESS_BASELINES_H_
#define EQUIFL_FAIRNESS_BASELINES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fairness/group_statistics.h"
#include "fairness/minmax_gap.h"
#include "fairness/simplex_weights.h"

namespace equifl::fairness {

//! How a q-FedAvg client scales its update u = w_k − w and what weight it sends.
struct QFedAvgScaling {
  double update_scale = 1;  //!< Multiply the update by this: F^q·L / h.
  double weight = 1;        //!< Send as the aggregation weight: h.
};

//! q-FedAvg's scaling for a client whose loss at the global model is `loss` (F_k,
//! floored at 1e-10 so that h > 0) and whose update has squared norm
//! `squared_update_norm` = ‖w_k − w‖², trained with `learning_rate` (L = 1/lr).
QFedAvgScaling ComputeQFedAvgScaling(double loss, double squared_update_norm, double q,
                                     double learning_rate);

//! FedMinMax's weight of one (cell, group) pair and the pair's share of the
//! view's samples in the statistics μ last moved with.
struct GroupWeight {
  Cell cell;  //!< Language and view; no client.
  std::string group;
  double weight = 0;  //!< μ_i.
  double share = 0;   //!< ρ_i; 0 when the pair had no samples in that round.
};

//! "language/view: group", e.g. "en/fusion: f".
std::string GroupWeightName(const GroupWeight& weight);

//! FedMinMax's server state: μ over the (cell, group) pairs seen so far.
class FedMinMaxController {
 public:
  //! Exponents are clipped to this, so one step of any size stays finite.
  static constexpr double kLargestExponent = SimplexWeights::kLargestExponent;
  //! No weight falls below this, so a pair that was far behind can recover.
  static constexpr double kSmallestWeight = SimplexWeights::kSmallestWeight;

  //! `learning_rate` is η_μ; `view` the modality view whose cells carry the risks.
  explicit FedMinMaxController(double learning_rate, std::string view = kFusionView);

  //! Moves μ by the exponentiated-gradient step on the risks of `statistics` (the
  //! round's training statistics, summed over clients; the cells of the view, one
  //! per language) and recomputes the directive. μ starts uniform over the pairs
  //! of the first statistics; a pair seen later joins at 1/(pairs) before the
  //! step; a pair without samples this round keeps its weight (its risk is unknown).
  void Update(const StatisticsTable& statistics);

  //! Continues from `weights` (a run's recorded state after a restart); a weight
  //! that is not finite is dropped, one below kSmallestWeight raised to it.
  void Restore(const std::vector<GroupWeight>& weights);

  //! μ and ρ by pair, sorted by (cell, group).
  std::vector<GroupWeight> group_weights() const;
  //! weight(c, g) = μ_i/ρ_i − 1 for every pair with samples (the client adds the
  //! ERM 1 back).
  const FairnessDirective& directive() const { return directive_; }

 private:
  void RecomputeDirective();

  double learning_rate_;
  std::string view_;
  SimplexWeights weights_;
  std::map<CellGroupPair, double> shares_;
  FairnessDirective directive_;
};

//! A fairness metric of a slice of data, e.g. the equalized-odds difference.
using SliceMetric = std::function<double(const GroupsOfCell&)>;

//! FairFed's weight of one client and the training samples it last reported.
struct ClientWeight {
  std::string client;
  double weight = 0;  //!< ω_k.
  uint64_t samples = 0;
};

//! FairFed's server state: a weight per client.
class FairFedWeights {
 public:
  static constexpr double kMinimumWeight = 1e-9;

  //! `beta` is FairFed's fairness budget β; `metric` is F.
  FairFedWeights(double beta, SliceMetric metric);

  //! Moves the weights with the held-out statistics each client reported for the
  //! global model (`by_client`, pooled to one slice per client) and their number
  //! of training samples. Clients seen for the first time start at n_k/n (n over
  //! every client seen). Weights stay >= 0 and sum to 1.
  void Update(const std::map<std::string, GroupsOfCell>& by_client,
              const std::map<std::string, uint64_t>& train_samples);

  //! The aggregation weight of `client`: ω_k once Update has seen it, else its
  //! FedAvg share train_samples / n (n over every client seen), or train_samples
  //! itself before any Update (plain FedAvg in the first round). Never below
  //! kMinimumWeight, so a client pushed to ω_k = 0 still counts as reporting.
  double Weight(const std::string& client, uint64_t train_samples) const;

  //! Continues from `weights` (a run's recorded state after a restart); a weight
  //! that is negative or not finite is dropped.
  void Restore(const std::vector<ClientWeight>& weights);

  //! ω_k and n_k by client, sorted by client.
  std::vector<ClientWeight> client_weights() const;

 private:
  double beta_;
  SliceMetric metric_;
  std::map<std::string, uint64_t> samples_;
  std::map<std::string, double> weights_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_BASELINES_H_
