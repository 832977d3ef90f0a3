// Federated standardisation: the feature moments a client reports before round 1
// and the standardisation the server derives from their sum.
//
// A model that standardises its float modalities holds, for each such modality m
// of D features, two float32 [D] tensors: "standardisation.<m>.shift" and
// "standardisation.<m>.scale"; it feeds its encoders (x - shift) * scale. Before
// round 1 every client reports the moments of its training split, per
// standardised modality in the model's order: the count n of feature vectors (one
// per present sample; one per valid frame of a sequence), the D sums of x and the
// D sums of x², in float64. These are sums, so the server may learn only their
// total (secure aggregation). From the total it sets shift = μ = Σx / n and
// scale = 1 / σ with σ = sqrt(Σx² / n - μ²), the population deviation: exactly
// the standardisation of the pooled training data, up to float64 rounding
// (computed in long double; a feature whose spread is below float32's resolution
// of its mean keeps scale 1). The tensors travel and are checkpointed with the
// model, so evaluation standardises as training did.
#ifndef EQUIFL_PROTOCOL_FEATURE_MOMENTS_H_
#define EQUIFL_PROTOCOL_FEATURE_MOMENTS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/tensor_view.h"

namespace equifl::protocol {

//! The standardisation tensors' module: "standardisation.<modality>.shift|scale".
inline constexpr char kStandardisationModule[] = "standardisation";

//! A standardised modality and its number of features D.
struct StandardisedModality {
  std::string name;
  size_t features = 0;
};

//! The standardised modalities of a model, in its order: one per float32 [D]
//! tensor named "standardisation.<modality>.shift".
std::vector<StandardisedModality> StandardisedModalities(std::span<const TensorView> model);

//! Values of one client's moments: per modality 1 + 2·D.
size_t MomentValues(std::span<const StandardisedModality> modalities);

//! OK when `moments` could be a client's (or a sum of clients') moments of
//! `modalities`: the right length, finite, a whole count in [0, 2^40] per
//! modality, and per feature Σx² >= (Σx)² / n (up to rounding); otherwise what
//! is wrong, naming the modality.
absl::Status CheckMoments(std::span<const StandardisedModality> modalities,
                          std::span<const double> moments);

//! One modality's pooled standardisation.
struct Standardisation {
  std::string modality;
  double count = 0;               //!< Feature vectors the moments summed.
  std::vector<double> mean;       //!< μ per feature (0 without vectors).
  std::vector<double> deviation;  //!< σ per feature (1 without vectors).
  //! The scale the model applies: 1 / σ, or 1 where σ is 0 or below float32's
  //! resolution of μ.
  std::vector<double> Scale() const;
};

//! The standardisation the summed `moments` stand for (checked by CheckMoments).
absl::StatusOr<std::vector<Standardisation>> StandardisationFromMoments(
    std::span<const StandardisedModality> modalities, std::span<const double> moments);

//! Writes every modality's shift (μ) and scale into the matching tensors of
//! `model`; fails, changing nothing, when one is missing or of another size.
absl::Status WriteStandardisation(std::span<const Standardisation> standardisation,
                                  std::span<const MutableTensorView> model);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_FEATURE_MOMENTS_H_
