#include "aggregation/coordinate_wise_aggregate.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <span>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace equifl::aggregation {
namespace {

// One client's value at the coordinate being combined.
struct Entry {
  float value;
  uint32_t client;  // Index into the weights.
};

// The value that holds a given point of the weight: the weight of the smaller
// values before it, and its own (all entries equal to it).
struct Located {
  float value = 0;
  double before = 0;
  double weight = 0;
};

// `weight` if `keep`, else +0, without a branch (the partition's outcome is a coin
// toss that a branch predictor cannot learn).
inline double WeightIf(bool keep, double weight) {
  return std::bit_cast<double>(std::bit_cast<uint64_t>(weight) & (0 - static_cast<uint64_t>(keep)));
}

// The coordinate-wise rules on one coordinate's entries, with two scratch arrays
// of as many entries for the selection's partitions.
class Kernel {
 public:
  Kernel(std::span<const double> weights, size_t clients)
      : weights_(weights), scratch_(2 * clients) {}

  // The weighted trimmed mean of `entries`, total weight `total`, dropping
  // `trim`·total at each end: the two cut values, then one pass summing what lies
  // strictly between them, plus the cut values' parts of the kept weight.
  double TrimmedMean(std::span<const Entry> entries, double total, double trim) {
    const double low = trim * total;
    const double high = total - low;
    const Located lower = Locate(entries, low);
    const double lower_end = lower.before + lower.weight;
    if (high <= lower_end) return lower.value;  // The kept weight is one value's.
    const Located upper = Locate(entries, high);
    if (upper.value == lower.value) return lower.value;
    double sum_even = 0, sum_odd = 0;
    const auto add_inside = [&](const Entry entry, double& sum) {
      const bool inside = entry.value > lower.value && entry.value < upper.value;
      sum += WeightIf(inside, weights_[entry.client]) * entry.value;
    };
    size_t i = 0;
    for (; i + 1 < entries.size(); i += 2) {
      add_inside(entries[i], sum_even);
      add_inside(entries[i + 1], sum_odd);
    }
    if (i < entries.size()) add_inside(entries[i], sum_even);
    const double sum = sum_even + sum_odd + lower.value * std::max(0.0, lower_end - low) +
                       upper.value * std::clamp(high - upper.before, 0.0, upper.weight);
    return sum / (high - low);
  }

  // The weighted median of `entries`, total weight `total`: the value at half the
  // weight, or the midpoint with its neighbour when half is its interval's end.
  double Median(std::span<const Entry> entries, double total) {
    const double half = total / 2;
    const Located middle = Locate(entries, half);
    if (half == middle.before && middle.before > 0) {
      float below = -std::numeric_limits<float>::infinity();
      for (const Entry& entry : entries) {
        if (entry.value < middle.value) below = std::max(below, entry.value);
      }
      return (static_cast<double>(below) + middle.value) / 2;
    }
    if (half == middle.before + middle.weight) {
      float above = std::numeric_limits<float>::infinity();
      for (const Entry& entry : entries) {
        if (entry.value > middle.value) above = std::min(above, entry.value);
      }
      if (above != std::numeric_limits<float>::infinity()) {
        return (static_cast<double>(middle.value) + above) / 2;
      }
    }
    return middle.value;
  }

 private:
  // Weighted quickselect: the value whose weight interval holds `point` (a point
  // past the total, by rounding, gives the largest value). Each pass splits the
  // entries around a median of three without branches: the smaller ones compacted
  // in place (into the first scratch array on the first pass, which leaves
  // `entries` as it was), the larger ones into the other array. Sorts what is left
  // once the passes have not shrunk it fast enough, so no arrangement of values
  // is quadratic.
  Located Locate(std::span<const Entry> entries, double point) {
    const Entry* source = entries.data();
    size_t count = entries.size();
    Entry* smaller = scratch_.data();
    Entry* larger = scratch_.data() + entries.size();
    double before = 0;  // Weight of the values below all of source's.
    for (int budget = 2 * static_cast<int>(std::bit_width(count)) + 4; budget > 0; --budget) {
      const float pivot =
          MedianOfThree(source[0].value, source[count / 2].value, source[count - 1].value);
      size_t smaller_count = 0;
      size_t larger_count = 0;
      // Two partial sums each (even and odd entries), so the adds do not wait on
      // one another; scalars, not arrays, so they stay in registers.
      double less_even = 0, less_odd = 0, equal_even = 0, equal_odd = 0;
      const auto split = [&](const Entry entry, double& less, double& equal) {
        const double weight = weights_[entry.client];
        const bool is_less = entry.value < pivot;
        const bool is_greater = entry.value > pivot;
        smaller[smaller_count] = entry;
        smaller_count += is_less;
        larger[larger_count] = entry;
        larger_count += is_greater;
        less += WeightIf(is_less, weight);
        equal += WeightIf(!is_less && !is_greater, weight);
      };
      size_t i = 0;
      for (; i + 1 < count; i += 2) {
        split(source[i], less_even, equal_even);
        split(source[i + 1], less_odd, equal_odd);
      }
      if (i < count) split(source[i], less_even, equal_even);
      const double less_weight = less_even + less_odd;
      const double equal_weight = equal_even + equal_odd;
      const double offset = point - before;
      if (offset < less_weight) {
        source = smaller;
        count = smaller_count;
      } else if (offset <= less_weight + equal_weight || larger_count == 0) {
        return {pivot, before + less_weight, equal_weight};
      } else {
        before += less_weight + equal_weight;
        source = larger;
        count = larger_count;
        std::swap(smaller, larger);  // Compact in place in the array now read.
      }
    }
    return LocateSorted(source, count, smaller, point, before);
  }

  // Locate's fallback: sorts source's `count` entries (copied to `sorted`, unless
  // already there) and walks their weights.
  Located LocateSorted(const Entry* source, size_t count, Entry* sorted, double point,
                       double before) const {
    if (source != sorted) std::copy(source, source + count, sorted);
    std::sort(sorted, sorted + count,
              [](const Entry& a, const Entry& b) { return a.value < b.value; });
    Located located{0, before, 0};
    for (size_t first = 0; first < count;) {
      size_t last = first;
      double weight = 0;
      while (last < count && sorted[last].value == sorted[first].value) {
        weight += weights_[sorted[last++].client];
      }
      located = {sorted[first].value, located.before, weight};
      if (point - located.before <= weight || last == count) return located;
      located.before += weight;
      first = last;
    }
    return located;
  }

  static float MedianOfThree(float a, float b, float c) {
    return std::max(std::min(a, b), std::min(std::max(a, b), c));
  }

  std::span<const double> weights_;
  std::vector<Entry> scratch_;
};

// Combines coordinates [begin, end) of `updates` into `result`, `block` coordinates
// at a time: each block's values are first copied into one contiguous array per
// coordinate (reading every update sequentially), then combined.
void CombineRange(AggregationRule rule, double trim, std::span<const std::vector<float>> updates,
                  std::span<const double> weights, double total, size_t begin, size_t end,
                  float* result) {
  const size_t clients = updates.size();
  // About 256 KiB of entries per block, so a block stays in the core's L2 cache.
  const size_t block = std::max<size_t>(16, (size_t{256} << 10) / (sizeof(Entry) * clients));
  std::vector<Entry> entries(clients * std::min(block, end - begin));
  Kernel kernel(weights, clients);
  for (size_t start = begin; start < end; start += block) {
    const size_t width = std::min(block, end - start);
    for (size_t k = 0; k < clients; ++k) {
      const float* values = updates[k].data() + start;
      for (size_t j = 0; j < width; ++j) {
        entries[j * clients + k] = {values[j], static_cast<uint32_t>(k)};
      }
    }
    for (size_t j = 0; j < width; ++j) {
      const std::span<const Entry> coordinate(entries.data() + j * clients, clients);
      const double value = rule == AggregationRule::kMedian
                               ? kernel.Median(coordinate, total)
                               : kernel.TrimmedMean(coordinate, total, trim);
      result[start + j] = static_cast<float>(value);
    }
  }
}

// Whether every value is finite: the first that is not, or values.size().
size_t FirstNonFinite(std::span<const float> values) {
  uint32_t non_finite = 0;
  for (float value : values) {
    non_finite |=
        static_cast<uint32_t>((std::bit_cast<uint32_t>(value) & 0x7FFFFFFFu) >= 0x7F800000u);
  }
  if (non_finite == 0) return values.size();
  size_t index = 0;
  while (std::isfinite(values[index])) ++index;
  return index;
}

}  // namespace

absl::StatusOr<CoordinateWiseAggregate> CoordinateWiseAggregate::Create(AggregationRule rule,
                                                                        double trim_fraction,
                                                                        size_t size) {
  if (rule != AggregationRule::kTrimmedMean && rule != AggregationRule::kMedian) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a coordinate-wise aggregate combines by trimmed_mean or median, not ", NameOf(rule)));
  }
  if (rule == AggregationRule::kTrimmedMean && !(trim_fraction > 0 && trim_fraction < 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trim fraction is ", trim_fraction, "; allowed: (0, 0.5)"));
  }
  return CoordinateWiseAggregate(rule, trim_fraction, size);
}

absl::Status CoordinateWiseAggregate::Accumulate(double weight, std::vector<float> update) {
  if (!std::isfinite(weight) || !(weight > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("update weight must be finite and > 0; got ", weight));
  }
  if (update.size() != size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "update has ", update.size(), " elements; the aggregate holds vectors of ", size_));
  }
  if (const size_t index = FirstNonFinite(update); index != update.size()) {
    return absl::InvalidArgumentError(absl::StrCat("update element ", index, " is ", update[index],
                                                   "; updates must be finite (update refused)"));
  }
  if (updates_.size() >= UINT32_MAX) {
    return absl::ResourceExhaustedError(
        "a coordinate-wise aggregate holds at most 2^32 - 1 updates");
  }
  updates_.push_back(std::move(update));
  weights_.push_back(weight);
  total_weight_ += weight;
  return absl::OkStatus();
}

absl::Status CoordinateWiseAggregate::MergeWith(CoordinateWiseAggregate&& other) {
  if (&other == this) {
    return absl::InvalidArgumentError("cannot merge a coordinate-wise aggregate with itself");
  }
  if (other.rule_ != rule_ || other.trim_fraction_ != trim_fraction_ || other.size_ != size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot merge a ", NameOf(other.rule_), " of ", other.size_, " values into a ",
                     NameOf(rule_), " of ", size_, " values (with the same trim fraction)"));
  }
  for (size_t k = 0; k < other.updates_.size(); ++k) {
    updates_.push_back(std::move(other.updates_[k]));
    weights_.push_back(other.weights_[k]);
  }
  total_weight_ += other.total_weight_;
  other.updates_.clear();
  other.weights_.clear();
  other.total_weight_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> CoordinateWiseAggregate::Report(unsigned threads) && {
  if (updates_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no update was accumulated; there is no ", NameOf(rule_), " to report"));
  }
  if (!std::isfinite(total_weight_)) {
    return absl::OutOfRangeError(
        absl::StrCat("the total weight of ", updates_.size(),
                     " updates overflowed; use smaller weights, e.g. sample counts"));
  }
  std::vector<float> result(size_);
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  // Whole blocks of coordinates per thread; every coordinate is combined the same
  // way whichever thread takes it.
  const size_t share = (size_ + threads - 1) / threads;
  std::vector<std::thread> workers;
  for (size_t begin = share; begin < size_; begin += share) {
    workers.emplace_back(CombineRange, rule_, trim_fraction_, std::span(updates_),
                         std::span(weights_), total_weight_, begin, std::min(size_, begin + share),
                         result.data());
  }
  CombineRange(rule_, trim_fraction_, updates_, weights_, total_weight_, 0, std::min(size_, share),
               result.data());
  for (std::thread& worker : workers) worker.join();
  updates_.clear();
  weights_.clear();
  total_weight_ = 0;
  return result;
}

}  // namespace equifl::aggregation
