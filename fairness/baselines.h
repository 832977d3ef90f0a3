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
// - FedMinMax (Papadaki et al., 2022; AFL, Mohri et al., 2019): global group
//   weights μ on the simplex, μ ← Π_Δ(μ + η_μ·r) with r_g the aggregated risk of
//   group g; clients weight a group-g sample by μ_g/ρ_g, ρ_g the group's global
//   share, so the federation minimises Σ_g μ_g·r_g.
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
#include <vector>

#include "fairness/group_statistics.h"
#include "fairness/minmax_gap.h"

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

//! The Euclidean projection of `point` onto the probability simplex (Duchi et al.,
//! ICML 2008): the nearest vector with non-negative entries summing to 1.
std::vector<double> ProjectOntoSimplex(const std::vector<double>& point);

//! FedMinMax's server state: μ over the groups seen so far.
class FedMinMaxController {
 public:
  //! `learning_rate` is η_μ; `view` the modality view whose cells carry the risks.
  explicit FedMinMaxController(double learning_rate, std::string view = kFusionView);

  //! Ascends μ on the group risks of `statistics` (the round's training
  //! statistics, summed over clients; cells of the view pooled over languages),
  //! projects it back onto the simplex and recomputes the directive. New groups
  //! join with weight 0 before the projection; μ starts uniform.
  void Update(const StatisticsTable& statistics);

  //! μ_g by group.
  const std::map<std::string, double>& group_weights() const { return weights_; }
  //! weight(c, g) = μ_g/ρ_g − 1 for every cell of the view and group seen (the
  //! client adds the ERM 1 back).
  const FairnessDirective& directive() const { return directive_; }

 private:
  double learning_rate_;
  std::string view_;
  std::map<std::string, double> weights_;
  FairnessDirective directive_;
};

//! A fairness metric of a slice of data, e.g. the equalized-odds difference.
using SliceMetric = std::function<double(const GroupsOfCell&)>;

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

  //! ω_k by client.
  const std::map<std::string, double>& weights() const { return weights_; }

 private:
  double beta_;
  SliceMetric metric_;
  std::map<std::string, uint64_t> samples_;
  std::map<std::string, double> weights_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_BASELINES_H_
