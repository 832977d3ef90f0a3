#include "client/data/import_split.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/quoted_input.h"
#include "base/status_macros.h"
#include "client/data/shard_set_writer.h"
#include "protocol/file_io.h"

namespace equifl::client {

absl::Status CheckGivenNames(const std::vector<std::string>& names, absl::string_view flag) {
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " has an empty name; list the names comma-separated, one per value"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " lists ", QuoteInput(name),
                                                     " twice; every value needs its own name"));
    }
  }
  return absl::OkStatus();
}

StageProgress::StageProgress(const ImportProgress& progress, ImportStage stage, uint64_t total,
                             uint64_t every)
    : progress_(progress), stage_(stage), total_(total), every_(std::max<uint64_t>(1, every)) {
  if (progress_) progress_(stage_, 0, total_);
}

void StageProgress::Finish() {
  if (!progress_ || finished_) return;
  finished_ = true;
  const uint64_t done = total_ > 0 ? total_ : done_;
  if (done != reported_) Report(done);
}

void StageProgress::Report(uint64_t done) {
  reported_ = done;
  progress_(stage_, done, total_);
}

absl::StatusOr<std::vector<std::string>> ReadImportFiles(const std::vector<std::string>& paths,
                                                         const ImportProgress& progress,
                                                         uint64_t max_file_bytes) {
  // Every file is opened, and its size checked, before any is read.
  std::vector<protocol::RegularFile> files;
  uint64_t total = 0;
  for (const std::string& path : paths) {
    absl::StatusOr<protocol::RegularFile> file = protocol::RegularFile::Open(path, max_file_bytes);
    if (!file.ok()) return file.status();
    total += file->size();
    files.push_back(*std::move(file));
  }
  StageProgress reading(progress, ImportStage::kRead, total, /*every=*/uint64_t{4} << 20);
  uint64_t before = 0;  // bytes of the files already read
  std::vector<std::string> contents;
  for (const protocol::RegularFile& file : files) {
    EQUIFL_ASSIGN_OR_RETURN(std::string bytes,
                            file.ReadAll([&](uint64_t done) { reading.Update(before + done); }));
    before += bytes.size();
    contents.push_back(std::move(bytes));
  }
  reading.Finish();
  return contents;
}

absl::Status RowSplitOptions::Validate() const {
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

absl::Status PartitionOptions::Validate() const {
  if (clients < 0 || clients > 1'000'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("clients is ", clients, "; it must be in 1..1000000 (0: one)"));
  }
  for (const auto& [name, alpha] : {std::pair{"Dirichlet alpha", dirichlet_alpha},
                                    std::pair{"quantity alpha", quantity_alpha}}) {
    if (!(alpha >= 0) || !std::isfinite(alpha)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " is ", alpha, "; it must be positive (0: off)"));
    }
  }
  if (dirichlet_alpha > 0 && clients < 2) {
    return absl::InvalidArgumentError("a Dirichlet split needs the number of clients (2 or more)");
  }
  if (dirichlet_alpha > 0 && quantity_alpha > 0) {
    return absl::InvalidArgumentError(
        "quantity skew applies to random (IID) splits; a Dirichlet split already skews sizes");
  }
  return absl::OkStatus();
}

namespace {

// Rows [begin, end) of `rows` dealt to the clients in `shares` (summing to 1).
void DealByShares(const std::vector<size_t>& rows, const std::vector<double>& shares,
                  std::vector<std::vector<size_t>>& client_rows) {
  double cumulative = 0;
  size_t begin = 0;
  for (size_t client = 0; client < shares.size(); ++client) {
    cumulative += shares[client];
    const size_t end =
        client + 1 == shares.size()
            ? rows.size()
            : std::min(rows.size(), static_cast<size_t>(std::llround(cumulative * rows.size())));
    for (size_t at = begin; at < std::max(begin, end); ++at)
      client_rows[client].push_back(rows[at]);
    begin = std::max(begin, end);
  }
}

// Gives every client with fewer than `min_rows` rows the last rows of the client
// that currently has the most, so a skewed draw keeps its shape elsewhere.
void TopUp(size_t min_rows, std::vector<std::vector<size_t>>& client_rows) {
  std::priority_queue<std::pair<size_t, size_t>> largest;  // (rows, client)
  for (size_t client = 0; client < client_rows.size(); ++client) {
    largest.emplace(client_rows[client].size(), client);
  }
  for (std::vector<size_t>& rows : client_rows) {
    while (rows.size() < min_rows) {
      auto [size, donor] = largest.top();
      largest.pop();
      if (client_rows[donor].size() != size) {  // stale entry: re-queue the true size
        largest.emplace(client_rows[donor].size(), donor);
        continue;
      }
      rows.push_back(client_rows[donor].back());
      client_rows[donor].pop_back();
      largest.emplace(client_rows[donor].size(), donor);
    }
  }
}

}  // namespace

absl::StatusOr<RowPartition> PartitionRows(std::span<const int64_t> column, size_t value_count,
                                           const PartitionOptions& options,
                                           random::Engine& engine) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  const size_t clients = static_cast<size_t>(std::max(1, options.clients));
  if (clients * options.min_rows > column.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(column.size(), " rows cannot give each of ", clients, " clients ",
                     options.min_rows == 1 ? "one" : absl::StrCat(options.min_rows, " rows")));
  }
  RowPartition partition;
  std::vector<std::vector<size_t>>& client_rows = partition.client_rows;
  client_rows.assign(clients, {});
  std::string kind;
  if (options.dirichlet_alpha > 0) {
    std::vector<std::vector<size_t>> by_value(value_count);
    for (size_t index = 0; index < column.size(); ++index) {
      if (column[index] < 0 || static_cast<size_t>(column[index]) >= value_count) {
        return absl::InvalidArgumentError(absl::StrCat("row ", index, " has value ", column[index],
                                                       ", outside 0..", value_count - 1));
      }
      by_value[column[index]].push_back(index);
    }
    for (std::vector<size_t>& rows : by_value) {
      random::Shuffle(engine, rows);
      DealByShares(rows, random::Dirichlet(engine, options.dirichlet_alpha, clients), client_rows);
    }
    kind = absl::StrCat("Dirichlet(", options.dirichlet_alpha, ")");
  } else {
    std::vector<size_t> order(column.size());
    for (size_t index = 0; index < order.size(); ++index) order[index] = index;
    random::Shuffle(engine, order);
    if (options.quantity_alpha > 0) {
      DealByShares(order, random::Dirichlet(engine, options.quantity_alpha, clients), client_rows);
      kind = absl::StrCat("quantity-skewed(", options.quantity_alpha, ")");
    } else {
      for (size_t index = 0; index < order.size(); ++index) {
        client_rows[index % clients].push_back(order[index]);
      }
      kind = "random";
    }
  }
  TopUp(options.min_rows, client_rows);
  for (size_t client = 0; client < clients; ++client) {
    partition.client_names.push_back(absl::StrCat(kind, " part ", client));
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
                                                           const std::vector<ShardData>& shards,
                                                           const ImportProgress& progress) {
  EQUIFL_ASSIGN_OR_RETURN(ShardSetWriter writer, ShardSetWriter::Begin(out_dir));
  std::vector<std::string> dirs;
  StageProgress writing(progress, ImportStage::kWrite, shards.size(), /*every=*/1);
  for (size_t client = 0; client < shards.size(); ++client) {
    EQUIFL_ASSIGN_OR_RETURN(std::string dir,
                            writer.Write(static_cast<int>(client), shards[client]));
    dirs.push_back(std::move(dir));
    writing.Update(client + 1);
  }
  EQUIFL_RETURN_IF_ERROR(std::move(writer).Commit());
  writing.Finish();
  return dirs;
}

}  // namespace equifl::client
