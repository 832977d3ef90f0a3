// Federated group distributionally robust optimisation with a no-harm guard
// (docs/ARCHITECTURE.md, "Group DRO"): the bounded replacement for the unbounded
// λ·G^p weights of ERM-MinMaxGAP.
//
// Groups are the (language, group) pairs of the fusion view (with per-client cells,
// (language, client, group)). The server keeps
//   q   weights on the simplex over the pairs, moved each round by an
//       exponentiated-gradient step q_i ← q_i·exp(η_q·d_i)/Σ, where d_i is the pair's
//       validation loss above its cell's mean, shrunk towards 0 by z·se_i (soft
//       thresholding): a pair moves only by what its confidence bound says is real;
//   α   one dual variable in [0, 1] mixing ERM and q: up by η_α when the stated
//       bound is violated, down by η_α when it holds. When it is undetermined (the
//       usual case: the bound covers every cell of every view, Bonferroni-corrected,
//       and validation sets are small), up by η_α if some pair's loss is above its
//       cell's mean beyond doubt, (m_i − m_cell) − z'·se_i > 0 with z' corrected for
//       the number of pairs (so with no real difference it fires in at most
//       1 − confidence of rounds), else unchanged: a reducible gap in one pair is
//       acted on before the whole bound can be judged.
// A sample of pair i weighs s_i = (1 − α) + α·q_i/ρ_i, ρ_i the pair's share of the
// samples, so the federation minimises Σ_i ((1 − α)·ρ_i + α·q_i)·r_i. ρ comes from
// the validation counts (a client's validation split is drawn like its training
// split): training statistics count samples as drawn, and group DRO's own
// oversampling would feed back into them.
// Clients cap s at weight_cap, send the sum of their capped weights as their
// aggregation weight and train with the weights renormalised to mean 1
// (client/fairness_weights.h).
//
// Probe: after the references, the first round whose verdict is not held starts
// probe_rounds rounds at α = 1 (full bounded weight) with the guard suspended; the
// engine measures the loss gap's floor from them (feasibility_floor.h). Then α
// follows the rules below from 1, the guard pulling it back if the probe harmed
// a group.
//
// No-harm guard: α stays 0 for the first reference_rounds validation measurements;
// the last of them, a model trained as FedAvg, sets each pair's level m_ref ± se_ref.
// Afterwards, while α > 0, a round in which some pair's loss has risen above its
// level by more than harm_margin beyond doubt, i.e. the lower bound of the increase
// (m_i − m_ref) − z·√(se_i² + se_ref²) exceeds harm_margin, halves α instead of
// stepping it (unless allow_levelling_down); at α = 0 a worse group is not group
// DRO's doing. Comparing upper bounds directly
// (m_i + z·se_i > m_ref + z·se_ref + margin) would fire on noise alone: with the
// ~45 samples per pair of the synthetic scenarios (se ≈ 0.14) a pair that did not
// move crosses a 0.05-nat margin in about 4 rounds of 10, so with six pairs the
// guard would hold α at 0 for good.
//
// Fixed weights (method fixed_weights, fixed_power = t): q_i ∝ ρ_i^(1 − t) and
// α = 1 from the first statistics on, with no step, guard or probe, so a sample
// weighs s_i = ρ_i^(−t)/Σ_j ρ_j^(1 − t): t = 0 is ERM, t = 1 group-balanced over
// the pairs, t = 2 weighs each pair by the inverse of its share again. The family
// of static reweightings the adaptive rule is measured against (the benchmark's
// fixed-weight front). Plain arithmetic on statistics tables.
#ifndef EQUIFL_FAIRNESS_GROUP_DRO_H_
#define EQUIFL_FAIRNESS_GROUP_DRO_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fairness/group_statistics.h"
#include "fairness/loss_gap_bounds.h"
#include "fairness/minmax_gap.h"
#include "fairness/simplex_weights.h"

namespace equifl::fairness {

//! The knobs of group DRO (fairness.group_dro in the configuration).
struct GroupDroOptions {
  static constexpr double kLargestFixedPower = 8;

  double learning_rate = 1.0;  //!< η_q of q's exponentiated-gradient step.
  double alpha_step = 0.25;    //!< η_α: α's step per violated or held round.
  //! The largest weight a sample may carry (C ≥ 1); clients cap s_i at it.
  double weight_cap = 5.0;
  //! How far (nats) a pair's upper loss bound may rise above its FedAvg level.
  double harm_margin = 0.05;
  //! Validation measurements at α = 0 that set the FedAvg levels; α stays 0 until
  //! they are in.
  uint32_t reference_rounds = 3;
  //! Rounds at α = 1 after the references when the bound is not held, to measure
  //! the floor; 0: no probe. Three give three measurements of models trained at
  //! full weight, so the two comparisons that settle a cell.
  uint32_t probe_rounds = 3;
  //! Of the soft threshold and the upper bounds (the engine: fairness.bound's).
  double confidence = 0.95;
  //! No guard: α follows the bound alone, even where a group gets worse.
  bool allow_levelling_down = false;
  bool per_client_cells = false;  //!< Pairs keep their client (fairness.per_client_cells).
  //! Fixed weights ∝ share^(−t) instead of the adaptive rule (method fixed_weights;
  //! fairness.fixed_weights_power); unset: group DRO.
  std::optional<double> fixed_power;

  //! OK, or which knob is out of range and what is allowed.
  absl::Status Validate() const;
};

//! One pair's state.
struct GroupDroWeight {
  Cell cell;  //!< Language and view (the fusion view), and the client with per-client cells.
  std::string group;
  double weight = 0;  //!< q_i.
  double share = 0;   //!< ρ_i in the last statistics; 0 without samples there.
  //! The FedAvg level: the mean loss of the last reference measurement and its
  //! standard error; absent for a pair first seen after them.
  std::optional<double> reference;
  double reference_error = 0;
  uint32_t measured = 0;  //!< Reference measurements taken, at most reference_rounds.
};

//! What the last Update did with α, for logs.
enum class AlphaStep {
  kWarmingUp,
  kRaised,            //!< The bound is violated.
  kRaisedOnEvidence,  //!< Undetermined, but a pair is confidently above its cell.
  kLowered,
  kKept,
  kPulledBack,
  kProbing,  //!< At 1 for the probe.
  kFixed,    //!< Fixed weights: α is 1 and q the shares' tilt.
};

//! "warming up", "raised", "raised (bound undetermined, a pair confidently above
//! its cell)", "lowered", "kept", "pulled back (no-harm guard)", "probing the
//! floor at full weight", "fixed weights".
const char* AlphaStepName(AlphaStep step);

class GroupDroController {
 public:
  explicit GroupDroController(const GroupDroOptions& options);

  //! One round: `validation` (of the round's start model; its fusion cells are
  //! used) moves q, ρ and the references, `verdict` (the stated bound judged on
  //! the same statistics) moves α. Without `raise_on_evidence` an undetermined
  //! verdict keeps α whatever the pairs say (the engine's choice once the bound
  //! is judged at the gap's floor, feasibility_floor.h). A table without fusion
  //! cells leaves everything as it was.
  void Update(const StatisticsTable& validation, BoundVerdict verdict,
              bool raise_on_evidence = true);

  //! Continues from a run's recorded α and pairs (after a restart): non-finite
  //! weights are dropped, the rest floored and renormalised.
  void Restore(double alpha, const std::vector<GroupDroWeight>& weights);

  double alpha() const { return alpha_; }
  AlphaStep last_step() const { return last_step_; }
  //! Pairs whose loss rose above their level by more than the margin in the last
  //! Update, as "en/fusion: f"; empty when the guard did not fire.
  const std::vector<std::string>& harmed() const { return harmed_; }
  //! Every pair, sorted by (cell, group).
  std::vector<GroupDroWeight> weights() const;
  //! weight(c, g) = s_i − 1 = α·(q_i/ρ_i − 1) for every pair with training
  //! samples (none while α is 0), and the cap clients apply.
  const FairnessDirective& directive() const { return directive_; }

 private:
  struct Reference {
    double level = 0;
    double error = 0;
    uint32_t measured = 0;
  };
  //! ρ from the fusion cells' counts; `total` is their sum.
  void UpdateShares(const StatisticsTable& pooled, uint64_t total);
  void RecomputeDirective();

  GroupDroOptions options_;
  double alpha_ = 0;
  uint32_t measurements_ = 0;  //!< Reference measurements taken, at most reference_rounds.
  bool probe_started_ = false;
  uint32_t probe_rounds_left_ = 0;
  AlphaStep last_step_ = AlphaStep::kWarmingUp;
  std::vector<std::string> harmed_;
  SimplexWeights q_;
  std::map<CellGroupPair, double> shares_;
  std::map<CellGroupPair, Reference> references_;
  FairnessDirective directive_;
};

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_GROUP_DRO_H_
