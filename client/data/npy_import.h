// Turns NumPy arrays of precomputed features into client shards.
//
// The Python-side counterpart of the CSV import: features already extracted (an
// embedding per sample, or a sequence of frame features) saved with numpy.save,
// next to integer arrays of labels, groups and optionally languages. A features
// array [N, D] becomes the vector modality "tabular"; [N, T, D] becomes a sequence
// modality ("sequence") with all T frames valid. Label, group and language values
// are indices into name lists the caller gives (default "0", "1", ... up to the
// largest value found). Rows go to clients by a seeded Dirichlet(alpha) draw over
// labels or uniformly at random, and each client's rows are split into train,
// validation and test, exactly as the CSV import does (import_split.h).
//
// Nothing is dropped: a value outside its names, arrays of different lengths and
// NaN or infinite features are errors naming the file, the row and the fix.
// No Torch here.
#ifndef EQUIFL_CLIENT_DATA_NPY_IMPORT_H_
#define EQUIFL_CLIENT_DATA_NPY_IMPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/data/import_split.h"
#include "client/data/npy_file.h"
#include "client/data/shard.h"

namespace equifl::client {

//! How arrays become shards.
struct NpyImportOptions {
  //! Names of label values 0, 1, ...; empty: "0", "1", ... up to the largest label.
  std::vector<std::string> label_names;
  std::vector<std::string> group_names;     //!< Like label_names, for groups.
  std::vector<std::string> language_names;  //!< Like label_names; needs a languages array.
  std::string group_attribute = "group";    //!< What the groups are, e.g. "gender".
  //! The modality's name; empty: "tabular" for [N, D] features, "sequence" for [N, T, D].
  std::string modality;

  //! Rows to clients and splits; at least one client (no automatic number here).
  RowSplitOptions split = {.clients = 1};

  //! Told how far the import has come, stage by stage; empty: nothing is told.
  ImportProgress progress;

  //! OK, or which option is wrong and what is allowed.
  absl::Status Validate() const;
};

//! The arrays of one import; each array's `source` names it in messages.
struct NpyImportArrays {
  NpyArray features;                  //!< Float [N, D] or [N, T, D].
  NpyArray labels;                    //!< Integer [N].
  NpyArray groups;                    //!< Integer [N].
  std::optional<NpyArray> languages;  //!< Integer [N]; without it every row is "und".
};

//! The files of one import.
struct NpyImportPaths {
  std::string features;   //!< Required.
  std::string labels;     //!< Required.
  std::string groups;     //!< Required.
  std::string languages;  //!< Optional; empty for none.
};

//! What an import did, for the user.
struct NpyImportSummary {
  int64_t rows = 0;                        //!< N.
  ShardModality modality;                  //!< What the features became.
  std::string features_type;               //!< The features' descr, e.g. "<f8".
  std::vector<std::string> labels;         //!< Label names, in index order.
  std::vector<std::string> groups;         //!< Group names.
  std::vector<std::string> languages;      //!< Language names.
  std::vector<std::string> client_names;   //!< E.g. "random part 0".
  std::vector<SplitCounts> client_counts;  //!< Rows per split of each client.
  std::vector<std::string> shard_dirs;     //!< Written folders (ImportNpy only).
};

//! Shards built in memory, with the summary.
struct NpyImport {
  NpyImportSummary summary;       //!< What happened.
  std::vector<ShardData> shards;  //!< One per client.
};

//! Builds shards from parsed arrays.
absl::StatusOr<NpyImport> BuildShardsFromNpy(const NpyImportArrays& arrays,
                                             const NpyImportOptions& options);

//! Reads the files and writes `out_dir`/client-000, ...; `out_dir` must not exist or
//! be empty.
absl::StatusOr<NpyImportSummary> ImportNpy(const NpyImportPaths& paths, const std::string& out_dir,
                                           const NpyImportOptions& options);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_NPY_IMPORT_H_
