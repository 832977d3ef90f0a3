// The parts of an import that do not depend on where the rows came from: spreading
// rows over clients (a seeded Dirichlet(alpha) draw over labels, or uniformly at
// random), splitting each client's rows into train, validation and test, and
// writing the shards as `out_dir`/client-000, ... (all at once, at the end). The CSV and the .npy
// importers share them, so the same options split the same rows the same way. They also share how a
// long import reports its progress (ImportProgress): the library prints nothing, the caller draws
// it. No Torch here.
#ifndef EQUIFL_CLIENT_DATA_IMPORT_SPLIT_H_
#define EQUIFL_CLIENT_DATA_IMPORT_SPLIT_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/random.h"
#include "client/data/shard.h"

namespace equifl::client {

//! The stages of an import, in the order they run, for progress reports.
enum class ImportStage {
  kRead,    //!< Bytes of the input files read.
  kParse,   //!< CSV: bytes of the text parsed into rows.
  kDetect,  //!< CSV without named feature columns: columns examined for numbers.
  kCheck,   //!< CSV: rows checked; .npy: feature values checked to be finite.
  kBuild,   //!< Rows copied into the client shards.
  kWrite,   //!< Client shards written.
};

//! Told how far a long import has come: `done` of `total` units of `stage` (total
//! 0: unknown). Called on the importing thread when a stage starts (done 0), every
//! few thousand units or MiB, and when it ends (done == total); a stage that does
//! not apply is not reported. Empty: no reports.
using ImportProgress = std::function<void(ImportStage stage, uint64_t done, uint64_t total)>;

//! Reports one stage to an ImportProgress: at the start, whenever `every` more
//! units are done, and at the end. Does nothing for an empty ImportProgress.
class StageProgress {
 public:
  //! Reports done 0 of `total`.
  StageProgress(const ImportProgress& progress, ImportStage stage, uint64_t total,
                uint64_t every = 4096);
  //! `done` units are done; reported when `every` more are done than last time.
  void Update(uint64_t done) {
    done_ = done;
    if (progress_ && done - reported_ >= every_) Report(done);
  }
  //! The stage is done: reports total of total (of an unknown total: the last
  //! done) unless that was the last report.
  void Finish();

 private:
  void Report(uint64_t done);

  const ImportProgress& progress_;
  const ImportStage stage_;
  const uint64_t total_;
  const uint64_t every_;
  uint64_t done_ = 0;      //!< Last Update's.
  uint64_t reported_ = 0;  //!< Last reported.
  bool finished_ = false;
};

//! The largest input file an import reads (64 GiB): far more than fits in memory
//! on most machines, so a sparse or mistaken file is refused before its bytes are
//! allocated rather than after the machine runs out of memory.
inline constexpr uint64_t kMaxImportFileBytes = uint64_t{64} << 30;

//! Reads each of `paths` whole, reporting ImportStage::kRead in bytes of them all.
//! Every path must be a regular file (not a FIFO, a device or a folder) of at most
//! `max_file_bytes`, checked for all of them before any is read; a missing,
//! unreadable or refused file is an error naming it.
absl::StatusOr<std::vector<std::string>> ReadImportFiles(
    const std::vector<std::string>& paths, const ImportProgress& progress,
    uint64_t max_file_bytes = kMaxImportFileBytes);

//! The language of rows whose importer is given none (ISO 639-2 "undetermined").
inline constexpr char kUndeterminedLanguage[] = "und";

//! OK when `names` (label, group or language names a user lists with `flag`) are
//! non-empty and distinct; otherwise the first bad one, named. (Names that are not
//! UTF-8 are the shard manifest's to refuse.)
absl::Status CheckGivenNames(const std::vector<std::string>& names, absl::string_view flag);

//! How an importer spreads rows over clients and splits each client's rows: the
//! options the CSV and the .npy importers share.
struct RowSplitOptions {
  //! Client shards, 0..100000; 0: automatic (the CSV importer: one per value of
  //! its split_by column, or 1).
  int clients = 0;
  double dirichlet_alpha = 0;         //!< > 0: Dirichlet(alpha) over labels; needs clients >= 2.
  uint64_t seed = 1;                  //!< Partition and split draws.
  double train_fraction = 0.7;        //!< Of each client's rows.
  double validation_fraction = 0.15;  //!< The rest is test.

  //! OK, or which option is out of range: `clients` outside 0..100000,
  //! `dirichlet_alpha` negative or not finite (or > 0 with fewer than 2 clients),
  //! a fraction outside [0, 1], fractions that sum to more than 1.
  absl::Status Validate() const;
};

//! Rows to clients, as indices into `labels` (each label in [0, label_count)).
struct RowPartition {
  std::vector<std::vector<size_t>> client_rows;  //!< Rows of each client.
  std::vector<std::string> client_names;         //!< E.g. "Dirichlet(0.5) part 1".
};

//! How rows are spread over clients (importers and `equifl sim` share it).
struct PartitionOptions {
  int clients = 0;  //!< Clients to fill, 0..1000000 (0: one).
  //! > 0: the rows of each value of the partitioned column (labels, groups or
  //! languages) go to the clients in Dirichlet(alpha) shares (Hsu et al. 2019); small
  //! alpha gives each client few values. 0: rows are shuffled and dealt out (IID).
  double dirichlet_alpha = 0;
  //! > 0, IID only: client sizes in Dirichlet(quantity_alpha) shares, the quantity
  //! skew of Li et al. (NIID-Bench, 2022); 0: equal sizes.
  double quantity_alpha = 0;
  //! Every client ends with at least this many rows: after the draw, short clients
  //! take rows from the client that has the most.
  size_t min_rows = 1;

  //! OK, or which option is out of range and what is allowed.
  absl::Status Validate() const;
};

//! Spreads the rows of `column` (each value in [0, value_count)) over clients as
//! `options` say. An error when the rows cannot give every client min_rows.
absl::StatusOr<RowPartition> PartitionRows(std::span<const int64_t> column, size_t value_count,
                                           const PartitionOptions& options, random::Engine& engine);

//! Sorts and shuffles one client's `rows` and returns the split of each position:
//! the first round(n * train_fraction) train, the next round(n * validation_fraction)
//! validation, the rest test.
std::vector<Split> SplitClientRows(std::vector<size_t>& rows, double train_fraction,
                                   double validation_fraction, random::Engine& engine);

//! Writes `shards` as `out_dir`/client-000, ...; `out_dir` must not exist or be
//! empty (checked before anything is written). The shards are written beside it
//! and moved into place at the end (shard_set_writer.h), so a failure leaves
//! nothing under `out_dir`. Returns the folders written. Reports
//! ImportStage::kWrite in shards to `progress`.
absl::StatusOr<std::vector<std::string>> WriteClientShards(const std::string& out_dir,
                                                           const std::vector<ShardData>& shards,
                                                           const ImportProgress& progress = {});

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_IMPORT_SPLIT_H_
