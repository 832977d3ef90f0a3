#include "fairness/baselines.h"

#include <algorithm>
#include <cmath>
#include <numeric>

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

std::vector<double> ProjectOntoSimplex(const std::vector<double>& point) {
  if (point.empty()) return {};
  std::vector<double> sorted = point;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  // θ = (Σ_{i<=ρ} u_i − 1)/ρ for the largest ρ with u_ρ − (Σ_{i<=ρ} u_i − 1)/ρ > 0.
  double prefix = 0;
  double threshold = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    prefix += sorted[i];
    const double candidate = (prefix - 1) / static_cast<double>(i + 1);
    if (sorted[i] - candidate > 0) threshold = candidate;
  }
  std::vector<double> projected(point.size());
  for (size_t i = 0; i < point.size(); ++i) projected[i] = std::max(0.0, point[i] - threshold);
  return projected;
}

FedMinMaxController::FedMinMaxController(double learning_rate, std::string view)
    : learning_rate_(learning_rate), view_(std::move(view)) {}

void FedMinMaxController::Update(const StatisticsTable& statistics) {
  const GroupsOfCell pooled = PoolModality(statistics, view_);
  uint64_t total = 0;
  for (const auto& [group, sums] : pooled) total += sums.count;
  if (total == 0) return;
  if (weights_.empty()) {
    for (const auto& [group, sums] : pooled) {
      if (sums.count > 0) weights_[group] = 0;
    }
    for (auto& [group, weight] : weights_) weight = 1.0 / static_cast<double>(weights_.size());
  }
  for (const auto& [group, sums] : pooled) {
    if (sums.count > 0) weights_.try_emplace(group, 0.0);
  }
  std::vector<std::string> names;
  std::vector<double> ascended;
  for (const auto& [group, weight] : weights_) {
    const auto found = pooled.find(group);
    const double risk = found == pooled.end() ? 0.0 : found->second.mean_loss();
    names.push_back(group);
    ascended.push_back(weight + learning_rate_ * risk);
  }
  const std::vector<double> projected = ProjectOntoSimplex(ascended);
  for (size_t i = 0; i < names.size(); ++i) weights_[names[i]] = projected[i];

  directive_ = FairnessDirective{};
  for (const auto& [cell, groups] : statistics) {
    if (cell.modality != view_) continue;
    const Cell pooled_cell{cell.language, cell.modality, ""};
    for (const auto& [group, weight] : weights_) {
      const auto found = pooled.find(group);
      if (found == pooled.end() || found->second.count == 0) continue;
      const double share = static_cast<double>(found->second.count) / static_cast<double>(total);
      directive_.weights.push_back({pooled_cell, group, weight / share - 1.0});
    }
  }
  std::sort(directive_.weights.begin(), directive_.weights.end(),
            [](const CellGroupWeight& a, const CellGroupWeight& b) {
              return std::tie(a.cell, a.group) < std::tie(b.cell, b.group);
            });
  directive_.weights.erase(std::unique(directive_.weights.begin(), directive_.weights.end(),
                                       [](const CellGroupWeight& a, const CellGroupWeight& b) {
                                         return a.cell == b.cell && a.group == b.group;
                                       }),
                           directive_.weights.end());
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
