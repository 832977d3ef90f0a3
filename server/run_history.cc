#include "server/run_history.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"

namespace equifl::server {
namespace {

constexpr const char* kSchema = R"sql(
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = FULL;
  CREATE TABLE IF NOT EXISTS run (
    run_id TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now')));
  CREATE TABLE IF NOT EXISTS rounds (
    round_id INTEGER PRIMARY KEY,
    checkpoint TEXT NOT NULL,
    seconds REAL NOT NULL,
    reached_quorum INTEGER NOT NULL,
    train_samples INTEGER NOT NULL,
    train_loss REAL NOT NULL,
    validation_samples INTEGER NOT NULL,
    validation_loss REAL NOT NULL,
    validation_accuracy REAL,
    fairness_lambda REAL NOT NULL DEFAULT 0,
    validation_gap REAL NOT NULL DEFAULT 0,
    fairness_report TEXT NOT NULL DEFAULT '',
    privacy_epsilon REAL NOT NULL DEFAULT 0,
    completed TEXT NOT NULL DEFAULT (datetime('now')));
  CREATE TABLE IF NOT EXISTS participants (
    round_id INTEGER NOT NULL REFERENCES rounds(round_id),
    client_id TEXT NOT NULL,
    contributed INTEGER NOT NULL,
    PRIMARY KEY (round_id, client_id));
  CREATE TABLE IF NOT EXISTS checkpoint_digests (
    round_id INTEGER PRIMARY KEY,
    model_sha256 TEXT NOT NULL,
    optimizer_sha256 TEXT NOT NULL DEFAULT '');
  CREATE TABLE IF NOT EXISTS minmax_gap_weights (
    round_id INTEGER NOT NULL,
    language TEXT NOT NULL,
    view TEXT NOT NULL,
    client_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    weight REAL NOT NULL);
  CREATE TABLE IF NOT EXISTS group_weights (
    round_id INTEGER NOT NULL,
    language TEXT NOT NULL,
    view TEXT NOT NULL,
    group_name TEXT NOT NULL,
    weight REAL NOT NULL,
    share REAL NOT NULL);
  CREATE TABLE IF NOT EXISTS group_dro_weights (
    round_id INTEGER NOT NULL,
    language TEXT NOT NULL,
    view TEXT NOT NULL,
    client_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    weight REAL NOT NULL,
    share REAL NOT NULL,
    reference REAL,
    reference_error REAL NOT NULL,
    measured INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS model_selection (
    round_id INTEGER PRIMARY KEY,
    model_round INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    accuracy REAL,
    accuracy_lower REAL,
    accuracy_upper REAL,
    verdict TEXT NOT NULL,
    estimate REAL NOT NULL,
    lower REAL NOT NULL,
    upper REAL NOT NULL,
    verdict_text TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS floor_probe (
    round_id INTEGER NOT NULL,
    language TEXT NOT NULL,
    view TEXT NOT NULL,
    client_id TEXT NOT NULL,
    lowest REAL,
    stalls INTEGER NOT NULL,
    floor_round INTEGER,
    worst_group TEXT NOT NULL,
    best_group TEXT NOT NULL,
    gap REAL NOT NULL,
    bias_corrected REAL NOT NULL,
    lower REAL NOT NULL,
    upper REAL NOT NULL);
  CREATE TABLE IF NOT EXISTS client_weights (
    round_id INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    weight REAL NOT NULL,
    samples INTEGER NOT NULL);
)sql";

// The tables keyed by round, in the order ForgetRoundsAfter deletes from them.
constexpr const char* kRoundTables[] = {"participants",  "checkpoint_digests", "minmax_gap_weights",
                                        "group_weights", "client_weights",     "group_dro_weights",
                                        "floor_probe",   "model_selection",    "rounds"};

absl::Status SqliteError(sqlite3* database, absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(database)));
}

// A prepared statement that finalises itself.
class Statement {
 public:
  static absl::StatusOr<Statement> Prepare(sqlite3* database, const char* sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(database, sql, -1, &statement, nullptr) != SQLITE_OK) {
      return SqliteError(database, "preparing a run-history query");
    }
    return Statement(statement);
  }
  sqlite3_stmt* get() const { return statement_.get(); }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
  };
  explicit Statement(sqlite3_stmt* statement) : statement_(statement) {}
  std::unique_ptr<sqlite3_stmt, Finalizer> statement_;
};

absl::Status Execute(sqlite3* database, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(database, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status = absl::InternalError(absl::StrCat("run history: ", error ? error : "?"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

std::string Text(sqlite3_stmt* statement, int column) {
  const unsigned char* text = sqlite3_column_text(statement, column);
  return text ? reinterpret_cast<const char*>(text) : "";
}

absl::Status InsertDigests(sqlite3* database, uint64_t round_id, const CheckpointDigests& digests) {
  EQUIFL_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(database, "INSERT OR REPLACE INTO checkpoint_digests VALUES (?, ?, ?)"));
  sqlite3_bind_int64(insert.get(), 1, static_cast<sqlite3_int64>(round_id));
  sqlite3_bind_text(insert.get(), 2, digests.model_sha256.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.get(), 3, digests.optimizer_sha256.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(insert.get()) != SQLITE_DONE) {
    return SqliteError(database, absl::StrCat("recording round ", round_id, "'s digests"));
  }
  return absl::OkStatus();
}

void BindText(sqlite3_stmt* statement, int index, const std::string& text) {
  sqlite3_bind_text(statement, index, text.c_str(), -1, SQLITE_TRANSIENT);
}

// Inserts one row per weight with `bind` filling the columns after round_id.
template <typename Weight, typename Bind>
absl::Status InsertWeights(sqlite3* database, const char* sql, uint64_t round_id,
                           const std::vector<Weight>& weights, Bind bind) {
  EQUIFL_ASSIGN_OR_RETURN(Statement insert, Statement::Prepare(database, sql));
  for (const Weight& weight : weights) {
    sqlite3_reset(insert.get());
    sqlite3_bind_int64(insert.get(), 1, static_cast<sqlite3_int64>(round_id));
    bind(insert.get(), weight);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) {
      return SqliteError(database, absl::StrCat("recording round ", round_id, "'s weights"));
    }
  }
  return absl::OkStatus();
}

// Binds a (cell, group) row's language, view, client and group (columns 2 to 5).
void BindCellAndGroup(sqlite3_stmt* row, const fairness::Cell& cell, const std::string& group) {
  BindText(row, 2, cell.language);
  BindText(row, 3, cell.modality);
  BindText(row, 4, cell.client);
  BindText(row, 5, group);
}

absl::Status InsertControllerWeights(sqlite3* database, uint64_t round_id,
                                     const ControllerWeights& controller) {
  EQUIFL_RETURN_IF_ERROR(InsertWeights(
      database, "INSERT INTO minmax_gap_weights VALUES (?, ?, ?, ?, ?, ?)", round_id,
      controller.minmax_gap_weights, [](sqlite3_stmt* row, const fairness::CellGroupWeight& w) {
        BindCellAndGroup(row, w.cell, w.group);
        sqlite3_bind_double(row, 6, w.weight);
      }));
  EQUIFL_RETURN_IF_ERROR(InsertWeights(
      database, "INSERT INTO group_weights VALUES (?, ?, ?, ?, ?, ?)", round_id,
      controller.group_weights, [](sqlite3_stmt* row, const fairness::GroupWeight& w) {
        BindText(row, 2, w.cell.language);
        BindText(row, 3, w.cell.modality);
        BindText(row, 4, w.group);
        sqlite3_bind_double(row, 5, w.weight);
        sqlite3_bind_double(row, 6, w.share);
      }));
  EQUIFL_RETURN_IF_ERROR(InsertWeights(
      database, "INSERT INTO group_dro_weights VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", round_id,
      controller.group_dro_weights, [](sqlite3_stmt* row, const fairness::GroupDroWeight& w) {
        BindCellAndGroup(row, w.cell, w.group);
        sqlite3_bind_double(row, 6, w.weight);
        sqlite3_bind_double(row, 7, w.share);
        if (w.reference) {
          sqlite3_bind_double(row, 8, *w.reference);
        } else {
          sqlite3_bind_null(row, 8);
        }
        sqlite3_bind_double(row, 9, w.reference_error);
        sqlite3_bind_int64(row, 10, w.measured);
      }));
  // A cell without a settled floor has a NULL floor_round (and zeros after it).
  EQUIFL_RETURN_IF_ERROR(InsertWeights(
      database, "INSERT INTO floor_probe VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", round_id,
      controller.floor_probe, [](sqlite3_stmt* row, const fairness::ProbeCell& probe) {
        BindText(row, 2, probe.cell.language);
        BindText(row, 3, probe.cell.modality);
        BindText(row, 4, probe.cell.client);
        if (probe.lowest) {
          sqlite3_bind_double(row, 5, *probe.lowest);
        } else {
          sqlite3_bind_null(row, 5);
        }
        sqlite3_bind_int64(row, 6, probe.stalls);
        const fairness::CellFloor floor = probe.floor.value_or(fairness::CellFloor{});
        if (probe.floor) {
          sqlite3_bind_int64(row, 7, static_cast<sqlite3_int64>(floor.round));
        } else {
          sqlite3_bind_null(row, 7);
        }
        BindText(row, 8, floor.gap.worst_group);
        BindText(row, 9, floor.gap.best_group);
        sqlite3_bind_double(row, 10, floor.gap.gap);
        sqlite3_bind_double(row, 11, floor.gap.bias_corrected);
        sqlite3_bind_double(row, 12, floor.gap.lower);
        sqlite3_bind_double(row, 13, floor.gap.upper);
      }));
  return InsertWeights(database, "INSERT INTO client_weights VALUES (?, ?, ?, ?)", round_id,
                       controller.client_weights,
                       [](sqlite3_stmt* row, const fairness::ClientWeight& w) {
                         BindText(row, 2, w.client);
                         sqlite3_bind_double(row, 3, w.weight);
                         sqlite3_bind_int64(row, 4, static_cast<sqlite3_int64>(w.samples));
                       });
}

// Reads the rows of round `round_id` from `sql` with `read` turning each into a Weight.
template <typename Weight, typename Read>
absl::StatusOr<std::vector<Weight>> SelectWeights(sqlite3* database, const char* sql,
                                                  uint64_t round_id, Read read) {
  EQUIFL_ASSIGN_OR_RETURN(Statement select, Statement::Prepare(database, sql));
  sqlite3_bind_int64(select.get(), 1, static_cast<sqlite3_int64>(round_id));
  std::vector<Weight> weights;
  int step = 0;
  while ((step = sqlite3_step(select.get())) == SQLITE_ROW) weights.push_back(read(select.get()));
  if (step != SQLITE_DONE) {
    return SqliteError(database, absl::StrCat("reading round ", round_id, "'s weights"));
  }
  return weights;
}

// Records round `round_id`'s judgement of its start model on the selection split.
absl::Status InsertSelection(sqlite3* database, uint64_t round_id,
                             const fairness::SelectionJudgement& judgement) {
  EQUIFL_ASSIGN_OR_RETURN(
      Statement insert,
      Statement::Prepare(database,
                         "INSERT INTO model_selection VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  sqlite3_stmt* row = insert.get();
  sqlite3_bind_int64(row, 1, static_cast<sqlite3_int64>(round_id));
  sqlite3_bind_int64(row, 2, static_cast<sqlite3_int64>(judgement.model_round));
  sqlite3_bind_int64(row, 3, static_cast<sqlite3_int64>(judgement.samples));
  if (judgement.accuracy) {
    sqlite3_bind_double(row, 4, judgement.accuracy->estimate);
    sqlite3_bind_double(row, 5, judgement.accuracy->lower);
    sqlite3_bind_double(row, 6, judgement.accuracy->upper);
  } else {
    for (int column : {4, 5, 6}) sqlite3_bind_null(row, column);
  }
  sqlite3_bind_text(row, 7, fairness::VerdictName(judgement.bound.verdict), -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(row, 8, judgement.bound.estimate);
  sqlite3_bind_double(row, 9, judgement.bound.lower);
  sqlite3_bind_double(row, 10, judgement.bound.upper);
  sqlite3_bind_text(row, 11, judgement.bound.text.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(row) != SQLITE_DONE) {
    return SqliteError(database, absl::StrCat("recording round ", round_id, "'s model selection"));
  }
  return absl::OkStatus();
}

// Commits a transaction whose work ended with `status`, or rolls it back.
absl::Status Finish(sqlite3* database, const absl::Status& status) {
  if (!status.ok()) {
    Execute(database, "ROLLBACK").IgnoreError();
    return status;
  }
  return Execute(database, "COMMIT");
}

}  // namespace

absl::StatusOr<RunHistory> RunHistory::Open(const std::string& path, const std::string& run_id) {
  sqlite3* raw = nullptr;
  const int opened =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  RunHistory history(raw);
  if (opened != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("cannot open the run history '", path,
                                               "': ", raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(raw, 5000);
  EQUIFL_RETURN_IF_ERROR(Execute(raw, kSchema));
  EQUIFL_ASSIGN_OR_RETURN(Statement select, Statement::Prepare(raw, "SELECT run_id FROM run"));
  if (sqlite3_step(select.get()) == SQLITE_ROW) {
    const std::string recorded = Text(select.get(), 0);
    history.run_id_ = recorded;
    if (!run_id.empty() && recorded != run_id) {
      return absl::FailedPreconditionError(absl::StrCat("the run history '", path,
                                                        "' belongs to run '", recorded, "', not '",
                                                        run_id, "'; use another run folder"));
    }
  } else {
    if (run_id.empty()) {
      return absl::NotFoundError(
          absl::StrCat("the run history '", path, "' records no run to resume"));
    }
    history.run_id_ = run_id;
    EQUIFL_ASSIGN_OR_RETURN(Statement insert,
                            Statement::Prepare(raw, "INSERT INTO run (run_id) VALUES (?)"));
    sqlite3_bind_text(insert.get(), 1, run_id.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) return SqliteError(raw, "recording the run");
  }
  return history;
}

absl::Status RunHistory::RecordRound(const RoundRecord& record) {
  sqlite3* database = database_.get();
  EQUIFL_RETURN_IF_ERROR(Execute(database, "BEGIN IMMEDIATE"));
  absl::Status status = [&]() -> absl::Status {
    EQUIFL_ASSIGN_OR_RETURN(
        Statement insert,
        Statement::Prepare(database,
                           "INSERT INTO rounds (round_id, checkpoint, seconds, reached_quorum, "
                           "train_samples, train_loss, validation_samples, validation_loss, "
                           "validation_accuracy, fairness_lambda, validation_gap, fairness_report, "
                           "privacy_epsilon) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    sqlite3_stmt* row = insert.get();
    sqlite3_bind_int64(row, 1, static_cast<sqlite3_int64>(record.round_id));
    sqlite3_bind_text(row, 2, record.checkpoint.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(row, 3, record.seconds);
    sqlite3_bind_int(row, 4, record.reached_quorum ? 1 : 0);
    sqlite3_bind_int64(row, 5, static_cast<sqlite3_int64>(record.train_samples));
    sqlite3_bind_double(row, 6, record.train_loss);
    sqlite3_bind_int64(row, 7, static_cast<sqlite3_int64>(record.validation_samples));
    sqlite3_bind_double(row, 8, record.validation_loss);
    if (record.validation_accuracy) {
      sqlite3_bind_double(row, 9, *record.validation_accuracy);
    } else {
      sqlite3_bind_null(row, 9);
    }
    sqlite3_bind_double(row, 10, record.fairness_lambda);
    sqlite3_bind_double(row, 11, record.validation_gap);
    sqlite3_bind_text(row, 12, record.fairness_report.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(row, 13, record.privacy_epsilon);
    if (sqlite3_step(row) != SQLITE_DONE) {
      return SqliteError(database, absl::StrCat("recording round ", record.round_id));
    }
    EQUIFL_ASSIGN_OR_RETURN(
        Statement participant,
        Statement::Prepare(database, "INSERT INTO participants VALUES (?, ?, ?)"));
    const std::set<std::string> contributors(record.contributors.begin(),
                                             record.contributors.end());
    for (const std::string& client : record.selected) {
      const bool contributed = contributors.contains(client);
      sqlite3_reset(participant.get());
      sqlite3_bind_int64(participant.get(), 1, static_cast<sqlite3_int64>(record.round_id));
      sqlite3_bind_text(participant.get(), 2, client.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(participant.get(), 3, contributed ? 1 : 0);
      if (sqlite3_step(participant.get()) != SQLITE_DONE) {
        return SqliteError(database, "recording a participant");
      }
    }
    EQUIFL_RETURN_IF_ERROR(InsertControllerWeights(database, record.round_id, record.controller));
    if (record.selection) {
      EQUIFL_RETURN_IF_ERROR(InsertSelection(database, record.round_id, *record.selection));
    }
    if (!record.model_sha256.empty()) {
      return InsertDigests(database, record.round_id,
                           {record.model_sha256, record.optimizer_sha256});
    }
    return absl::OkStatus();
  }();
  return Finish(database, status);
}

absl::Status RunHistory::RecordDigests(uint64_t round_id, const CheckpointDigests& digests) {
  return InsertDigests(database_.get(), round_id, digests);
}

absl::StatusOr<std::optional<CheckpointDigests>> RunHistory::Digests(uint64_t round_id) const {
  sqlite3* database = database_.get();
  EQUIFL_ASSIGN_OR_RETURN(
      Statement select,
      Statement::Prepare(database,
                         "SELECT model_sha256, optimizer_sha256 FROM checkpoint_digests "
                         "WHERE round_id = ?"));
  sqlite3_bind_int64(select.get(), 1, static_cast<sqlite3_int64>(round_id));
  const int step = sqlite3_step(select.get());
  if (step == SQLITE_DONE) return std::nullopt;
  if (step != SQLITE_ROW) return SqliteError(database, "reading checkpoint digests");
  return CheckpointDigests{Text(select.get(), 0), Text(select.get(), 1)};
}

absl::Status RunHistory::ForgetRoundsAfter(uint64_t round_id) {
  sqlite3* database = database_.get();
  EQUIFL_RETURN_IF_ERROR(Execute(database, "BEGIN IMMEDIATE"));
  absl::Status status = [&]() -> absl::Status {
    for (const char* table : kRoundTables) {
      const std::string sql = absl::StrCat("DELETE FROM ", table, " WHERE round_id > ?");
      EQUIFL_ASSIGN_OR_RETURN(Statement remove, Statement::Prepare(database, sql.c_str()));
      sqlite3_bind_int64(remove.get(), 1, static_cast<sqlite3_int64>(round_id));
      if (sqlite3_step(remove.get()) != SQLITE_DONE) {
        return SqliteError(database, absl::StrCat("forgetting the rounds after ", round_id));
      }
    }
    return absl::OkStatus();
  }();
  return Finish(database, status);
}

absl::StatusOr<ControllerWeights> RunHistory::ControllerWeightsAfter(uint64_t round_id) const {
  sqlite3* database = database_.get();
  ControllerWeights controller;
  EQUIFL_ASSIGN_OR_RETURN(controller.minmax_gap_weights,
                          SelectWeights<fairness::CellGroupWeight>(
                              database,
                              "SELECT language, view, client_id, group_name, weight "
                              "FROM minmax_gap_weights WHERE round_id = ? ORDER BY rowid",
                              round_id, [](sqlite3_stmt* row) {
                                return fairness::CellGroupWeight{
                                    {Text(row, 0), Text(row, 1), Text(row, 2)},
                                    Text(row, 3),
                                    sqlite3_column_double(row, 4)};
                              }));
  EQUIFL_ASSIGN_OR_RETURN(controller.group_weights,
                          SelectWeights<fairness::GroupWeight>(
                              database,
                              "SELECT language, view, group_name, weight, share FROM group_weights "
                              "WHERE round_id = ? ORDER BY rowid",
                              round_id, [](sqlite3_stmt* row) {
                                return fairness::GroupWeight{{Text(row, 0), Text(row, 1), ""},
                                                             Text(row, 2),
                                                             sqlite3_column_double(row, 3),
                                                             sqlite3_column_double(row, 4)};
                              }));
  EQUIFL_ASSIGN_OR_RETURN(
      controller.client_weights,
      SelectWeights<fairness::ClientWeight>(
          database,
          "SELECT client_id, weight, samples FROM client_weights WHERE round_id = ? "
          "ORDER BY rowid",
          round_id, [](sqlite3_stmt* row) {
            return fairness::ClientWeight{Text(row, 0), sqlite3_column_double(row, 1),
                                          static_cast<uint64_t>(sqlite3_column_int64(row, 2))};
          }));
  EQUIFL_ASSIGN_OR_RETURN(
      controller.group_dro_weights,
      SelectWeights<fairness::GroupDroWeight>(
          database,
          "SELECT language, view, client_id, group_name, weight, share, reference, "
          "reference_error, measured FROM group_dro_weights WHERE round_id = ? ORDER BY rowid",
          round_id, [](sqlite3_stmt* row) {
            fairness::GroupDroWeight weight;
            weight.cell = {Text(row, 0), Text(row, 1), Text(row, 2)};
            weight.group = Text(row, 3);
            weight.weight = sqlite3_column_double(row, 4);
            weight.share = sqlite3_column_double(row, 5);
            if (sqlite3_column_type(row, 6) != SQLITE_NULL) {
              weight.reference = sqlite3_column_double(row, 6);
            }
            weight.reference_error = sqlite3_column_double(row, 7);
            weight.measured = static_cast<uint32_t>(sqlite3_column_int64(row, 8));
            return weight;
          }));
  EQUIFL_ASSIGN_OR_RETURN(
      controller.floor_probe,
      SelectWeights<fairness::ProbeCell>(
          database,
          "SELECT language, view, client_id, lowest, stalls, floor_round, worst_group, "
          "best_group, gap, bias_corrected, lower, upper FROM floor_probe WHERE round_id = ? "
          "ORDER BY rowid",
          round_id, [](sqlite3_stmt* row) {
            fairness::ProbeCell probe;
            probe.cell = {Text(row, 0), Text(row, 1), Text(row, 2)};
            if (sqlite3_column_type(row, 3) != SQLITE_NULL) {
              probe.lowest = sqlite3_column_double(row, 3);
            }
            probe.stalls = static_cast<int>(sqlite3_column_int64(row, 4));
            if (sqlite3_column_type(row, 5) != SQLITE_NULL) {
              fairness::CellFloor floor;
              floor.settled = true;
              floor.source = fairness::FloorSource::kProbe;
              floor.round = static_cast<uint64_t>(sqlite3_column_int64(row, 5));
              floor.gap.cell = probe.cell;
              floor.gap.worst_group = Text(row, 6);
              floor.gap.best_group = Text(row, 7);
              floor.gap.gap = sqlite3_column_double(row, 8);
              floor.gap.bias_corrected = sqlite3_column_double(row, 9);
              floor.gap.lower = sqlite3_column_double(row, 10);
              floor.gap.upper = sqlite3_column_double(row, 11);
              probe.floor = floor;
            }
            return probe;
          }));
  return controller;
}

absl::StatusOr<std::vector<RoundRecord>> RunHistory::Rounds() const {
  sqlite3* database = database_.get();
  EQUIFL_ASSIGN_OR_RETURN(
      Statement select,
      Statement::Prepare(database,
                         "SELECT round_id, checkpoint, seconds, reached_quorum, train_samples, "
                         "train_loss, validation_samples, validation_loss, validation_accuracy, "
                         "fairness_lambda, validation_gap, fairness_report, privacy_epsilon, "
                         "(SELECT group_concat(client_id, ' ') FROM participants p "
                         " WHERE p.round_id = r.round_id), "
                         "(SELECT group_concat(client_id, ' ') FROM participants p "
                         " WHERE p.round_id = r.round_id AND contributed) "
                         "FROM rounds r ORDER BY round_id"));
  std::vector<RoundRecord> records;
  int step = 0;
  while ((step = sqlite3_step(select.get())) == SQLITE_ROW) {
    sqlite3_stmt* row = select.get();
    RoundRecord record;
    record.round_id = static_cast<uint64_t>(sqlite3_column_int64(row, 0));
    record.checkpoint = Text(row, 1);
    record.seconds = sqlite3_column_double(row, 2);
    record.reached_quorum = sqlite3_column_int(row, 3) != 0;
    record.train_samples = static_cast<uint64_t>(sqlite3_column_int64(row, 4));
    record.train_loss = sqlite3_column_double(row, 5);
    record.validation_samples = static_cast<uint64_t>(sqlite3_column_int64(row, 6));
    record.validation_loss = sqlite3_column_double(row, 7);
    if (sqlite3_column_type(row, 8) != SQLITE_NULL) {
      record.validation_accuracy = sqlite3_column_double(row, 8);
    }
    record.fairness_lambda = sqlite3_column_double(row, 9);
    record.validation_gap = sqlite3_column_double(row, 10);
    record.fairness_report = Text(row, 11);
    record.privacy_epsilon = sqlite3_column_double(row, 12);
    record.selected = absl::StrSplit(Text(row, 13), ' ', absl::SkipEmpty());
    record.contributors = absl::StrSplit(Text(row, 14), ' ', absl::SkipEmpty());
    records.push_back(std::move(record));
  }
  if (step != SQLITE_DONE) return SqliteError(database, "reading the run history");
  return records;
}

absl::StatusOr<std::vector<fairness::SelectionJudgement>> RunHistory::SelectionJudgements() const {
  sqlite3* database = database_.get();
  EQUIFL_ASSIGN_OR_RETURN(
      Statement select,
      Statement::Prepare(database,
                         "SELECT model_round, samples, accuracy, accuracy_lower, accuracy_upper, "
                         "verdict, estimate, lower, upper, verdict_text FROM model_selection "
                         "ORDER BY round_id"));
  std::vector<fairness::SelectionJudgement> judged;
  int step = 0;
  while ((step = sqlite3_step(select.get())) == SQLITE_ROW) {
    sqlite3_stmt* row = select.get();
    fairness::SelectionJudgement judgement;
    judgement.model_round = static_cast<uint64_t>(sqlite3_column_int64(row, 0));
    judgement.samples = static_cast<uint64_t>(sqlite3_column_int64(row, 1));
    if (sqlite3_column_type(row, 2) != SQLITE_NULL) {
      judgement.accuracy =
          fairness::ProportionInterval{sqlite3_column_double(row, 2), sqlite3_column_double(row, 3),
                                       sqlite3_column_double(row, 4)};
    }
    judgement.bound.verdict = ParseEnum<fairness::BoundVerdict>("verdict", Text(row, 5))
                                  .value_or(fairness::BoundVerdict::kUndetermined);
    judgement.bound.estimate = sqlite3_column_double(row, 6);
    judgement.bound.lower = sqlite3_column_double(row, 7);
    judgement.bound.upper = sqlite3_column_double(row, 8);
    judgement.bound.text = Text(row, 9);
    judged.push_back(std::move(judgement));
  }
  if (step != SQLITE_DONE) return SqliteError(database, "reading the model selection");
  return judged;
}

absl::StatusOr<std::optional<RoundRecord>> RunHistory::LastRound() const {
  EQUIFL_ASSIGN_OR_RETURN(std::vector<RoundRecord> records, Rounds());
  if (records.empty()) return std::nullopt;
  return records.back();
}

}  // namespace equifl::server
