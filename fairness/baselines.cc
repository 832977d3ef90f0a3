#include "fairness/baselines.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace equifl::fairness {

QFedAvgScaling ComputeQFedAvgScaling(double loss, double squared_update_norm, double q,
                                     double learning_rate) {
  const double f = std::max(loss, 1e-10);
  const double lipschitz = 1.0 / learning_rate;
  // ‖Δw‖² = L²·‖w_k − w‖².
  const double h = q * std::pow(f, q - 1) * lipschitz * lipschitz * squared_update_norm +
                   lipschitz * std::pow(f, q);
  return {std::pow(f, q) * lipschitz / h, h};
}

std::string GroupWeightName(const GroupWeight& weight) {
  return absl::StrCat(CellName(weight.cell), ": ", weight.group);
}

FedMinMaxController::FedMinMaxController(double learning_rate, std::string view)
    : learning_rate_(learning_rate), view_(std::move(view)) {}

void FedMinMaxController::Update(const StatisticsTable& statistics) {
  std::map<CellGroupPair, const GroupStatistics*> present;
  uint64_t total = 0;
  const StatisticsTable pooled = WithoutClients(statistics);
  for (const auto& [cell, groups] : pooled) {
    if (cell.modality != view_) continue;
    for (const auto& [group, sums] : groups) {
      if (sums.count == 0) continue;
      present[{cell, group}] = &sums;
      total += sums.count;
    }
  }
  if (total == 0) return;

  std::vector<CellGroupPair> pairs;
  for (const auto& [pair, sums] : present) pairs.push_back(pair);
  weights_.Join(pairs);
  // The gain r_i − r̄: the mean cancels in the ratio but keeps exponents small.
  double mean_risk = 0;
  for (const auto& [pair, sums] : present) mean_risk += sums->mean_loss();
  mean_risk /= static_cast<double>(present.size());
  std::map<CellGroupPair, double> gains;
  for (const auto& [pair, sums] : present) gains[pair] = sums->mean_loss() - mean_risk;
  weights_.Step(gains, learning_rate_);

  shares_.clear();
  for (const auto& [pair, sums] : present) {
    shares_[pair] = static_cast<double>(sums->count) / static_cast<double>(total);
  }
  RecomputeDirective();
}

void FedMinMaxController::Restore(const std::vector<GroupWeight>& weights) {
  std::map<CellGroupPair, double> recorded;
  shares_.clear();
  for (const GroupWeight& weight : weights) {
    const CellGroupPair pair{weight.cell, weight.group};
    recorded[pair] = weight.weight;
    if (std::isfinite(weight.weight) && std::isfinite(weight.share) && weight.share > 0) {
      shares_[pair] = weight.share;
    }
  }
  weights_.Restore(recorded);
  RecomputeDirective();
}

std::vector<GroupWeight> FedMinMaxController::group_weights() const {
  std::vector<GroupWeight> weights;
  for (const auto& [pair, weight] : weights_.weights()) {
    const auto share = shares_.find(pair);
    weights.push_back(
        {pair.first, pair.second, weight, share == shares_.end() ? 0.0 : share->second});
  }
  return weights;
}

void FedMinMaxController::RecomputeDirective() {
  directive_ = FairnessDirective{};
  for (const auto& [pair, share] : shares_) {
    const auto weight = weights_.weights().find(pair);
    if (weight == weights_.weights().end()) continue;
    directive_.weights.push_back({pair.first, pair.second, weight->second / share - 1.0});
  }
}

FairFedWeights::FairFedWeights(double beta, SliceMetric metric)
    : beta_(beta), metric_(std::move(metric)) {}

void FairFedWeights::Update(const std::map<std::string, GroupsOfCell>& by_client,
                            const std::map<std::string, uint64_t>& train_samples) {
  for (const auto& [client, samples] : train_samples) samples_[client] = samples;
  const double total_samples = static_cast<double>(
      std::accumulate(samples_.begin(), samples_.end(), uint64_t{0},
                      [](uint64_t sum, const auto& entry) { return sum + entry.second; }));
  for (const auto& [client, samples] : samples_) {
    if (total_samples > 0)
      weights_.try_emplace(client, static_cast<double>(samples) / total_samples);
  }
  if (by_client.empty()) return;

  GroupsOfCell federation;
  for (const auto& [client, groups] : by_client) {
    for (const auto& [group, sums] : groups) (void)AddInto(federation[group], sums);
  }
  const double global = metric_(federation);
  std::map<std::string, double> deviation;
  double mean_deviation = 0;
  for (const auto& [client, groups] : by_client) {
    deviation[client] = std::abs(metric_(groups) - global);
    mean_deviation += deviation[client];
  }
  mean_deviation /= static_cast<double>(deviation.size());
  for (const auto& [client, delta] : deviation) {
    auto& weight = weights_[client];
    weight = std::max(0.0, weight - beta_ * (delta - mean_deviation));
  }
  double sum = 0;
  for (const auto& [client, weight] : weights_) sum += weight;
  if (sum <= 0) {
    // Every weight hit 0: start again from the FedAvg shares.
    weights_.clear();
    for (const auto& [client, samples] : samples_) {
      weights_[client] = static_cast<double>(samples) / total_samples;
    }
    return;
  }
  for (auto& [client, weight] : weights_) weight /= sum;
}

void FairFedWeights::Restore(const std::vector<ClientWeight>& weights) {
  weights_.clear();
  samples_.clear();
  for (const ClientWeight& weight : weights) {
    if (!std::isfinite(weight.weight) || weight.weight < 0) continue;
    weights_[weight.client] = weight.weight;
    samples_[weight.client] = weight.samples;
  }
}

std::vector<ClientWeight> FairFedWeights::client_weights() const {
  std::vector<ClientWeight> weights;
  for (const auto& [client, weight] : weights_) {
    const auto samples = samples_.find(client);
    weights.push_back({client, weight, samples == samples_.end() ? 0 : samples->second});
  }
  return weights;
}

double FairFedWeights::Weight(const std::string& client, uint64_t train_samples) const {
  if (const auto found = weights_.find(client); found != weights_.end()) {
    return std::max(found->second, kMinimumWeight);
  }
  double total = 0;
  for (const auto& [name, samples] : samples_) total += static_cast<double>(samples);
  if (total == 0) return static_cast<double>(train_samples);
  return static_cast<double>(train_samples) / total;
}

}  // namespace equifl::fairness
