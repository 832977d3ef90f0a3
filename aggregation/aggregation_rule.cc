#include "aggregation/aggregation_rule.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::aggregation {

namespace {
constexpr uint64_t kMaxMemoryLimitMb = uint64_t{1} << 30;  // 1 PiB: far beyond any server.
}  // namespace

absl::Status RobustAggregationOptions::Validate() const {
  EQUIFL_RETURN_IF_ERROR(CheckNamed("aggregation rule", rule));
  if (rule == AggregationRule::kTrimmedMean && !(trim_fraction > 0 && trim_fraction < 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "aggregation trim_fraction is ", trim_fraction,
        "; trimmed_mean needs a share in (0, 0.5) of the weight to drop at each end (use rule "
        "median for the middle point, mean for no trimming)"));
  }
  if (!(norm_bound >= 0) || std::isinf(norm_bound)) {
    return absl::InvalidArgumentError(absl::StrCat("aggregation norm_bound is ", norm_bound,
                                                   "; allowed: 0 (no bound) or a positive norm"));
  }
  if (memory_limit_mb == 0 || memory_limit_mb > kMaxMemoryLimitMb) {
    return absl::InvalidArgumentError(absl::StrCat(
        "aggregation memory_limit_mb is ", memory_limit_mb, "; allowed: 1 to ", kMaxMemoryLimitMb));
  }
  return absl::OkStatus();
}

absl::Status RobustAggregationOptions::CheckCompatibleWith(bool client_level_privacy,
                                                           bool secure_aggregation) const {
  if (HoldsUpdates() && secure_aggregation) {
    return absl::InvalidArgumentError(absl::StrCat(
        "aggregation rule ", NameOf(rule),
        " needs every client's update, but under secure aggregation the server learns only "
        "their sum: use rule mean (with norm_bound to limit each client) or turn "
        "secure_aggregation off"));
  }
  if (HoldsUpdates() && client_level_privacy) {
    return absl::InvalidArgumentError(absl::StrCat(
        "aggregation rule ", NameOf(rule),
        " does not go with client-level DP: DP's noise is calibrated to the sum of clipped "
        "updates, and a coordinate-wise ",
        NameOf(rule), " has another sensitivity; use rule mean or turn privacy off"));
  }
  if (norm_bound > 0 && client_level_privacy) {
    return absl::InvalidArgumentError(
        "aggregation norm_bound does not go with client-level DP: privacy.clip_norm already "
        "bounds every update's norm (and DP's noise is scaled to it); leave norm_bound at 0");
  }
  return absl::OkStatus();
}

}  // namespace equifl::aggregation
