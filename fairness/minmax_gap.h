// Federated ERM-MinMaxGAP (docs/ARCHITECTURE.md, "The federated MinMaxGAP objective").
//
// Cells c are (language, modality view) pairs, groups g sensitive-attribute
// values; L(g,c) is the mean loss of group g in cell c over every client's
// statistics. gap(c) = max_g L(g,c) − min_g L(g,c) over the cell's non-empty
// groups, G = max_c gap(c). Training minimises L_ERM + λ·G_τ^p with the soft
// maximum G_τ = τ·log Σ_c exp(gap(c)/τ), which spreads the pressure over every
// violating cell, and keeps G ≤ ε on the validation split by dual ascent on λ:
//   λ_{t+1} = clip(λ_t + η_λ·(G_t − ε), 0, λ_max)   (G_t the hard maximum).
//
// The server turns the objective into a FairnessDirective: per (cell, group) a
// weight such that a client minimising the per-sample weighted loss
//   mean_i (1 + weight(c_i, g_i))·ℓ_i
// follows the gradient of (L_ERM + λ·G_τ^p)·N with the group losses held at the
// values the directive was computed from:
//   weight(c,g) = λ·p·G_τ^{p−1}·softmax_c(gap/τ)·σ(g,c)·N_m / N(g,c)
// where σ = +1 for the cell's worst (highest-loss) group, −1 for its best, 0 for
// the others, N(g,c) the group's sample count and N_m the samples of the cell's
// modality view over all its cells. The up-weight-only variant clamps weights at
// 0, so the better-off group is never pushed to get worse (no levelling down).
// Plain arithmetic on statistics tables: no LibTorch, no protobuf.
#ifndef EQUIFL_FAIRNESS_MINMAX_GAP_H_
#define EQUIFL_FAIRNESS_MINMAX_GAP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fairness/group_statistics.h"

namespace equifl::fairness {

//! The knobs of ERM-MinMaxGAP; defaults are the paper's where it gives them.
struct MinMaxGapOptions {
  double epsilon = 0.02;  //!< Bound ε on the validation MinMaxGAP (the engine: fairness.bound's).
  double gap_exponent = 2.0;  //!< p of λ·G^p.
  double lambda_max = 10.0;   //!< λ is clipped to [0, lambda_max].
  //! η_λ of the dual ascent. 1, not larger: bench/RESULTS.md (issue 4) measured
  //! λ reaching λ_max within a few rounds at 5 on infeasible bounds.
  double lambda_learning_rate = 1.0;
  double initial_lambda = 0.0;  //!< λ before the first statistics arrive.
  double temperature = 0.02;    //!< τ of the soft maximum over cells.
  //! Clamp directive weights at 0 (no levelling down). On by default: with signed
  //! weights and λ near λ_max the better-off group's weights turn strongly
  //! negative and accuracy collapsed (bench/RESULTS.md, issue 4).
  bool up_weight_only = true;
  //! β of the fairness-weighted aggregation weight n_k·exp(β·s_k); 0 is plain n_k.
  double aggregation_beta = 1.0;
  //! Cells keep their client apart (fairness.per_client_cells): gaps, the soft
  //! maximum and the weights are per (language, view, client). Otherwise clients
  //! are pooled into their (language, view) cell.
  bool per_client_cells = false;

  //! OK, or which knob is out of range and what is allowed.
  absl::Status Validate() const;
};

//! The per-sample weight of one group in one cell, added to the ERM weight 1.
struct CellGroupWeight {
  Cell cell;
  std::string group;
  double weight = 0;
};

//! What the server broadcasts with each task.
struct FairnessDirective {
  double lambda = 0;                     //!< λ_t.
  double epsilon = 0;                    //!< The bound ε.
  std::vector<CellGroupWeight> weights;  //!< Non-zero weights only, sorted by (cell, group).
  double aggregation_beta = 0;           //!< β of n_k·exp(β·s_k).
  bool up_weight_only = false;           //!< Whether weights were clamped at 0.
  //! Group DRO: clients cap each sample's weight 1 + weight at this; 0 for no cap.
  double sample_weight_cap = 0;
};

//! The soft maximum τ·log Σ_c exp(gap(c)/τ) over the cells of `table` (clients
//! pooled); 0 for a table without cells. Computed stably (shifted by the max).
double SoftMaxGap(const StatisticsTable& table, double temperature);

//! The cells of `table` the objective covers: clients pooled into their
//! (language, view) cell, or, with options.per_client_cells, kept apart.
StatisticsTable ObjectiveCells(const StatisticsTable& table, const MinMaxGapOptions& options);

//! The directive for the cells of `table` (ObjectiveCells) at multiplier `lambda`.
//! Empty weights when λ is 0 or every gap is 0.
FairnessDirective ComputeDirective(const StatisticsTable& table, double lambda,
                                   const MinMaxGapOptions& options);

//! weight(cell, group) of `directive`; 0 for a pair it does not list.
double DirectiveWeight(const FairnessDirective& directive, const Cell& cell,
                       const std::string& group);

//! The coverage score s_k ∈ [0, 1] of a client whose training samples have the
//! directive weights `sample_weights` (weight(c_i, g_i), without the ERM 1): the
//! mean over its samples of max(0, weight) / max |weight| of the directive. 0 when
//! the directive has no positive weight or the client no samples.
double CoverageScore(const FairnessDirective& directive, const std::vector<double>& sample_weights);

//! The server side: λ by dual ascent and the directive of the next round.
class MinMaxGapController {
 public:
  explicit MinMaxGapController(const MinMaxGapOptions& options);

  //! Takes the validation statistics of the model a round started from (summed
  //! over its clients), updates λ with their MinMaxGAP and recomputes the
  //! directive. A table without cells leaves everything as it was.
  void Update(const StatisticsTable& validation);

  //! Continues from λ and the directive weights a run recorded (after a restart),
  //! so the next round is sent what it would have been sent without the restart.
  void Restore(double lambda, const std::vector<CellGroupWeight>& weights);

  double lambda() const { return lambda_; }
  //! The hard MinMaxGAP of the last Update's statistics.
  double last_gap() const { return last_gap_; }
  //! The directive for the next round.
  const FairnessDirective& directive() const { return directive_; }

 private:
  MinMaxGapOptions options_;
  double lambda_;
  double last_gap_ = 0;
  FairnessDirective directive_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_MINMAX_GAP_H_
