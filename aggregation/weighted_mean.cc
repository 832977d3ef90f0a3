#include "aggregation/weighted_mean.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace equifl::aggregation {
namespace {

constexpr uint32_t kMagnitudeMask = 0x7FFFFFFFu;
constexpr uint32_t kInfinityBits = 0x7F800000u;

// 1 if the float with these bits is infinite or NaN, else 0.
inline uint32_t NonFiniteBit(uint32_t bits) {
  return static_cast<uint32_t>((bits & kMagnitudeMask) >= kInfinityBits);
}

// The value with these bits, or +0 if it is not finite. Integer masking instead of
// a branch or a floating-point select keeps the loops below as fast as a bare fold.
inline double FiniteOrZero(uint32_t bits) {
  return static_cast<double>(std::bit_cast<float>(bits & (NonFiniteBit(bits) - 1u)));
}

// sum[i] += weight * x[i] for every finite x[i]; returns whether any x[i] was not
// finite (those contribute nothing). The server's hot loop: it reads 12 bytes and
// writes 8 per element, and GCC vectorises it at -O3 (see CMakeLists.txt).
bool FoldFinite(double* __restrict sum, const float* __restrict x, double weight, size_t size) {
  uint32_t non_finite = 0;
  for (size_t i = 0; i < size; ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(x[i]);
    non_finite |= NonFiniteBit(bits);
    sum[i] += weight * FiniteOrZero(bits);
  }
  return non_finite != 0;
}

// Undoes FoldFinite, up to one rounding per element.
void UnfoldFinite(double* __restrict sum, const float* __restrict x, double weight, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    sum[i] -= weight * FiniteOrZero(std::bit_cast<uint32_t>(x[i]));
  }
}

// FoldFinite for kCount updates in one pass: sum[i] += w[0]·x[0][i], then
// += w[1]·x[1][i], ... (the order of kCount separate folds, so the same bits).
// Returns a bit per update that held a non-finite value.
template <size_t kCount>
uint32_t FoldFiniteBatch(double* __restrict sum, const float* const* updates, const double* weights,
                         size_t size) {
  const float* x[kCount];
  double w[kCount];
  uint32_t non_finite[kCount] = {};
  for (size_t k = 0; k < kCount; ++k) {
    x[k] = updates[k];
    w[k] = weights[k];
  }
  for (size_t i = 0; i < size; ++i) {
    double value = sum[i];
    for (size_t k = 0; k < kCount; ++k) {
      const uint32_t bits = std::bit_cast<uint32_t>(x[k][i]);
      non_finite[k] |= NonFiniteBit(bits);
      value += w[k] * FiniteOrZero(bits);
    }
    sum[i] = value;
  }
  uint32_t mask = 0;
  for (size_t k = 0; k < kCount; ++k) mask |= non_finite[k] << k;
  return mask;
}

template <size_t... kCounts>
uint32_t DispatchFoldBatch(std::index_sequence<kCounts...>, size_t count, double* sum,
                           const float* const* updates, const double* weights, size_t size) {
  uint32_t mask = 0;
  ((count == kCounts + 1 ? (mask = FoldFiniteBatch<kCounts + 1>(sum, updates, weights, size), 0)
                         : 0),
   ...);
  return mask;
}

void AddInPlace(double* __restrict sum, const double* __restrict other, size_t size) {
  for (size_t i = 0; i < size; ++i) sum[i] += other[i];
}

// mean[i] = float(sum[i] / total); returns whether any result is not finite.
bool Divide(const double* __restrict sum, double total, float* __restrict mean, size_t size) {
  uint32_t non_finite = 0;
  for (size_t i = 0; i < size; ++i) {
    mean[i] = static_cast<float>(sum[i] / total);
    non_finite |= NonFiniteBit(std::bit_cast<uint32_t>(mean[i]));
  }
  return non_finite != 0;
}

}  // namespace

WeightedMean::WeightedMean(size_t size) : sum_(size, 0.0) {}

WeightedMean::WeightedMean(WeightedMean&& other) noexcept
    : sum_(std::move(other.sum_)),
      total_weight_(std::exchange(other.total_weight_, 0.0)),
      count_(std::exchange(other.count_, 0)) {
  other.sum_.clear();
}

WeightedMean& WeightedMean::operator=(WeightedMean&& other) noexcept {
  if (this != &other) {
    sum_ = std::move(other.sum_);
    other.sum_.clear();
    total_weight_ = std::exchange(other.total_weight_, 0.0);
    count_ = std::exchange(other.count_, 0);
  }
  return *this;
}

absl::Status WeightedMean::Accumulate(double weight, std::span<const float> update) {
  if (!std::isfinite(weight) || !(weight > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("update weight must be finite and > 0; got ", weight));
  }
  if (update.size() != sum_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "update has ", update.size(), " elements; the aggregate holds vectors of ", sum_.size()));
  }
  if (FoldFinite(sum_.data(), update.data(), weight, update.size())) {
    UnfoldFinite(sum_.data(), update.data(), weight, update.size());
    size_t index = 0;
    while (std::isfinite(update[index])) ++index;
    return absl::InvalidArgumentError(absl::StrCat("update element ", index, " is ", update[index],
                                                   "; updates must be finite (update refused)"));
  }
  total_weight_ += weight;
  ++count_;
  return absl::OkStatus();
}

absl::Status WeightedMean::AccumulateBatch(std::span<const double> weights,
                                           std::span<const std::span<const float>> updates) {
  if (updates.empty() || updates.size() > kMaxBatch || weights.size() != updates.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch takes 1 to ", kMaxBatch, " updates with one weight each; got ",
                     updates.size(), " updates and ", weights.size(), " weights"));
  }
  const float* data[kMaxBatch];
  for (size_t k = 0; k < updates.size(); ++k) {
    if (!std::isfinite(weights[k]) || !(weights[k] > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("update ", k, " of the batch has weight ",
                                                     weights[k],
                                                     "; weights must be finite and > 0"));
    }
    if (updates[k].size() != sum_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("update ", k, " of the batch has ",
                                                     updates[k].size(),
                                                     " elements; the aggregate "
                                                     "holds vectors of ",
                                                     sum_.size()));
    }
    data[k] = updates[k].data();
  }
  const uint32_t non_finite =
      DispatchFoldBatch(std::make_index_sequence<kMaxBatch>(), updates.size(), sum_.data(), data,
                        weights.data(), sum_.size());
  if (non_finite == 0) {
    for (double weight : weights) total_weight_ += weight;
    count_ += updates.size();
    return absl::OkStatus();
  }
  // Rare: take the batch out again and fold the finite updates one by one.
  for (size_t k = 0; k < updates.size(); ++k) {
    UnfoldFinite(sum_.data(), data[k], weights[k], sum_.size());
  }
  std::string refused;
  for (size_t k = 0; k < updates.size(); ++k) {
    if (absl::Status status = Accumulate(weights[k], updates[k]); !status.ok()) {
      absl::StrAppend(&refused, refused.empty() ? "" : "; ", "update ", k, ": ", status.message());
    }
  }
  return absl::InvalidArgumentError(refused);
}

absl::Status WeightedMean::MergeWith(WeightedMean&& other) {
  if (&other == this) {
    return absl::InvalidArgumentError("cannot merge a weighted mean with itself");
  }
  if (other.size() != size()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot merge a weighted mean of ", other.size(),
                                                   " elements into one of ", size()));
  }
  AddInPlace(sum_.data(), other.sum_.data(), sum_.size());
  total_weight_ += other.total_weight_;
  count_ += other.count_;
  WeightedMean consumed = std::move(other);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> WeightedMean::Report() && {
  if (count_ == 0) {
    return absl::FailedPreconditionError("no update was accumulated; there is no mean to report");
  }
  std::vector<float> mean(sum_.size());
  const bool non_finite = Divide(sum_.data(), total_weight_, mean.data(), mean.size());
  if (non_finite || !std::isfinite(total_weight_)) {
    return absl::OutOfRangeError(
        absl::StrCat("the weighted sum of ", count_, " updates (total weight ", total_weight_,
                     ") overflowed; use smaller weights, e.g. sample counts"));
  }
  WeightedMean consumed = std::move(*this);
  return mean;
}

}  // namespace equifl::aggregation
