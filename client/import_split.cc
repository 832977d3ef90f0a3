#include "client/import_split.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace equifl::client {
namespace {

constexpr int kMaxDirichletDraws = 1000;

}  // namespace

absl::Status ValidateRowSplit(int clients, double dirichlet_alpha, double train_fraction,
                              double validation_fraction) {
  if (clients < 0 || clients > 100'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("clients is ", clients, "; it must be in 1..100000 (0: automatic)"));
  }
  if (!(dirichlet_alpha >= 0) || !std::isfinite(dirichlet_alpha)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dirichlet alpha is ", dirichlet_alpha, "; it must be positive"));
  }
  if (dirichlet_alpha > 0 && clients < 2) {
    return absl::InvalidArgumentError("a Dirichlet split needs the number of clients (2 or more)");
  }
  for (double fraction : {train_fraction, validation_fraction}) {
    if (!(fraction >= 0 && fraction <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("split fraction ", fraction, " must be in [0, 1]"));
    }
  }
  if (train_fraction + validation_fraction > 1 + 1e-9) {
    return absl::InvalidArgumentError(absl::StrCat("train fraction ", train_fraction,
                                                   " plus validation fraction ",
                                                   validation_fraction, " exceed 1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RowPartition> PartitionRows(std::span<const int64_t> labels, size_t label_count,
                                           int clients_wanted, double dirichlet_alpha,
                                           random::Engine& engine) {
  RowPartition partition;
  std::vector<std::vector<size_t>>& client_rows = partition.client_rows;
  if (dirichlet_alpha > 0) {
    if (clients_wanted < 2) {
      return absl::InvalidArgumentError(
          "a Dirichlet split needs the number of clients (2 or more)");
    }
    const size_t clients = static_cast<size_t>(clients_wanted);
    std::vector<std::vector<size_t>> by_label(label_count);
    for (size_t index = 0; index < labels.size(); ++index) {
      if (labels[index] < 0 || static_cast<size_t>(labels[index]) >= label_count) {
        return absl::InvalidArgumentError(absl::StrCat("row ", index, " has label ", labels[index],
                                                       ", outside 0..", label_count - 1));
      }
      by_label[labels[index]].push_back(index);
    }
    bool every_client_has_rows = false;
    for (int draw = 0; draw < kMaxDirichletDraws && !every_client_has_rows; ++draw) {
      client_rows.assign(clients, {});
      for (std::vector<size_t> rows : by_label) {
        random::Shuffle(engine, rows);
        const std::vector<double> shares = random::Dirichlet(engine, dirichlet_alpha, clients);
        double cumulative = 0;
        size_t begin = 0;
        for (size_t client = 0; client < clients; ++client) {
          cumulative += shares[client];
          const size_t end =
              client + 1 == clients
                  ? rows.size()
                  : std::min(rows.size(),
                             static_cast<size_t>(std::llround(cumulative * rows.size())));
          for (size_t at = begin; at < std::max(begin, end); ++at) {
            client_rows[client].push_back(rows[at]);
          }
          begin = std::max(begin, end);
        }
      }
      every_client_has_rows = std::none_of(client_rows.begin(), client_rows.end(),
                                           [](const auto& rows) { return rows.empty(); });
    }
    if (!every_client_has_rows) {
      return absl::InvalidArgumentError(absl::StrCat(
          "in ", kMaxDirichletDraws, " Dirichlet(", dirichlet_alpha, ") draws some of the ",
          clients, " clients always got no rows; raise the alpha or lower the clients"));
    }
    for (size_t client = 0; client < clients; ++client) {
      partition.client_names.push_back(
          absl::StrCat("Dirichlet(", dirichlet_alpha, ") part ", client));
    }
    return partition;
  }
  const size_t clients = static_cast<size_t>(std::max(1, clients_wanted));
  if (clients > labels.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels.size(), " rows cannot give each of ", clients, " clients one"));
  }
  std::vector<size_t> order(labels.size());
  for (size_t index = 0; index < order.size(); ++index) order[index] = index;
  random::Shuffle(engine, order);
  client_rows.resize(clients);
  for (size_t index = 0; index < order.size(); ++index) {
    client_rows[index % clients].push_back(order[index]);
  }
  for (size_t client = 0; client < clients; ++client) {
    partition.client_names.push_back(absl::StrCat("random part ", client));
  }
  return partition;
}

std::vector<Split> SplitClientRows(std::vector<size_t>& rows, double train_fraction,
                                   double validation_fraction, random::Engine& engine) {
  std::sort(rows.begin(), rows.end());
  random::Shuffle(engine, rows);
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t train = std::min<int64_t>(n, std::llround(static_cast<double>(n) * train_fraction));
  const int64_t validation =
      std::min<int64_t>(n - train, std::llround(static_cast<double>(n) * validation_fraction));
  std::vector<Split> splits(rows.size(), Split::kTest);
  for (int64_t position = 0; position < train + validation; ++position) {
    splits[position] = position < train ? Split::kTrain : Split::kValidation;
  }
  return splits;
}

absl::StatusOr<std::vector<std::string>> WriteClientShards(const std::string& out_dir,
                                                           const std::vector<ShardData>& shards) {
  std::error_code error;
  if (std::filesystem::exists(out_dir, error) && !(std::filesystem::is_directory(out_dir, error) &&
                                                   std::filesystem::is_empty(out_dir, error))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "output folder ", out_dir, " exists and is not empty; choose another or remove it"));
  }
  std::vector<std::string> dirs;
  for (size_t client = 0; client < shards.size(); ++client) {
    const std::string dir =
        (std::filesystem::path(out_dir) / ClientShardName(static_cast<int>(client))).string();
    EQUIFL_RETURN_IF_ERROR(WriteShard(dir, shards[client]));
    dirs.push_back(dir);
  }
  return dirs;
}

}  // namespace equifl::client
