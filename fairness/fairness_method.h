// The fairness method of a run: ERM-MinMaxGAP or one of the baselines it is
// compared against (docs/ARCHITECTURE.md). Every participant reads it from the task's
// fairness directive and does its part; see fairness/minmax_gap.h and
// fairness/baselines.h for the arithmetic of each.
#ifndef EQUIFL_FAIRNESS_FAIRNESS_METHOD_H_
#define EQUIFL_FAIRNESS_FAIRNESS_METHOD_H_

#include <span>

#include "base/enum_names.h"

namespace equifl::fairness {

enum class FairnessMethod {
  kFedAvg,       //!< Plain ERM, sample-count weighted averaging.
  kMinMaxGap,    //!< Federated ERM-MinMaxGAP: weighted loss and fairness-weighted aggregation.
  kQFedAvg,      //!< q-FFL (Li et al. 2020).
  kFedMinMax,    //!< Global group weights on the simplex (Papadaki et al. 2022; AFL).
  kFairFed,      //!< Fairness-aware client weights (Ezzeldin et al. 2023).
  kAdversarial,  //!< Local adversarial debiasing: L_task + λ·L_bias via gradient reversal.
  kBalanced,     //!< Local group-balanced reweighting (inverse group frequency).
  kGroupDro,     //!< Federated group DRO with a bounded mix α and a no-harm guard.
  //! Fixed weights over the federation's (language, group) pairs, ∝ share^(−t):
  //! the family of static reweightings group DRO is measured against.
  kFixedWeights,
};

//! "fedavg", "minmax_gap", "qfedavg", "fedminmax", "fairfed", "adversarial",
//! "balanced", "group_dro" and "fixed_weights", in configuration files, reports
//! and messages.
inline std::span<const EnumName<FairnessMethod>> EnumNames(FairnessMethod) {
  static constexpr EnumName<FairnessMethod> kNames[] = {
      {FairnessMethod::kFedAvg, "fedavg"},
      {FairnessMethod::kMinMaxGap, "minmax_gap"},
      {FairnessMethod::kQFedAvg, "qfedavg"},
      {FairnessMethod::kFedMinMax, "fedminmax"},
      {FairnessMethod::kFairFed, "fairfed"},
      {FairnessMethod::kAdversarial, "adversarial"},
      {FairnessMethod::kBalanced, "balanced"},
      {FairnessMethod::kGroupDro, "group_dro"},
      {FairnessMethod::kFixedWeights, "fixed_weights"},
  };
  return kNames;
}

}  // namespace equifl::fairness

#endif  // EQUIFL_FAIRNESS_FAIRNESS_METHOD_H_
