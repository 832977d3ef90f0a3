// How far a long piece of work has come (`done` of `total` units of named work,
// e.g. "import rows", "rounds", "evaluation samples"): the count, percent, rate,
// elapsed time and ETA, so a user knows whether to wait or to stop it.
//
// The rate is the mean over the units done so far, up to the last one done, so it
// holds still while a slow unit (a round) runs, and the ETA counts down meanwhile.
//
// On a terminal one line is rewritten in place ('\r'), at most every
// terminal_interval (0.1 s), and Finish ends it with the total time and a newline
// (or, `transient`, erases it, for a step whose caller prints its own summary).
// Elsewhere (a pipe, a log file, CI) lines are appended, and rarely, so logs stay
// readable: none before plain_interval (5 s) has passed, so short work prints
// nothing; then one at once, later ones when another tenth of the total is done or
// plain_max_interval (30 s) has passed since the last, never two within
// plain_interval. A run of T seconds prints at most 1 + 10 + T/30 lines before
// Finish, whose closing line (in plain output only for work that lasted
// plain_interval or more) is printed once. A total of 0 means unknown: no percent
// and no ETA. The clock and the terminal decision are options, for tests.
//
// Thread-safe: any thread may Advance; lines are written under one lock.
#ifndef EQUIFL_BASE_PROGRESS_LINE_H_
#define EQUIFL_BASE_PROGRESS_LINE_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace equifl {

//! Whether `stream` writes to a terminal (where a progress line is redrawn in place).
bool IsTerminal(std::FILE* stream);

class ProgressLine {
 public:
  struct Options {
    std::string what;       //!< The work, e.g. "import rows"; starts every line.
    uint64_t total = 0;     //!< Units in all; 0: unknown (no percent, no ETA).
    bool bytes = false;     //!< Units are bytes: counts and rates shown in kB, MB, GB.
    FILE* stream = stdout;  //!< Where lines go; flushed after each.
    //! Rewrite one line in place; default: whether `stream` is a terminal.
    std::optional<bool> terminal = std::nullopt;
    int width = 0;  //!< Terminal columns a line may fill; 0: ask the terminal (else 80).
    //! On a terminal, Finish erases the line instead of leaving the closing line.
    bool transient = false;
    std::function<absl::Time()> clock = nullptr;  //!< Default absl::Now.
    //! When the work began (elapsed time and rate count from it); default: now.
    std::optional<absl::Time> start = std::nullopt;
    absl::Duration terminal_interval = absl::Milliseconds(100);  //!< Between redraws.
    absl::Duration plain_interval = absl::Seconds(5);       //!< Before the first, between lines.
    absl::Duration plain_max_interval = absl::Seconds(30);  //!< At most between plain lines.
  };

  //! Starts the clock (unless options.start); on a terminal draws the line at once.
  explicit ProgressLine(Options options);
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  //! Without Finish, ends a drawn terminal line (as it stands) with a newline.
  ~ProgressLine();

  //! `units` more are done.
  void Advance(uint64_t units = 1);
  //! `done` units are done in all.
  void Update(uint64_t done);
  //! `units` more are done, but were done before this line started (a resumed run's
  //! earlier rounds): they count towards done, not towards the rate or the ETA.
  void Skip(uint64_t units);
  //! Text shown after the numbers (e.g. the last round's accuracy) from the next
  //! line on (Advance, Update, Refresh or Finish).
  void SetDetail(std::string detail);
  //! Redraws if due, so the elapsed time moves while no unit finishes.
  void Refresh();
  //! Prints the closing line (done, total time, mean rate) once; later calls and
  //! later updates print nothing.
  void Finish();

  //! The line as it would be drawn now, without '\r' or newline (for tests).
  std::string Text();

 private:
  std::string TextLocked(absl::Time now, bool final) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  //! Draws or prints a line if the mode's rules say it is due.
  void MaybeShowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void DrawLocked(const std::string& text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  int Columns() const;

  const Options options_;
  const std::function<absl::Time()> clock_;
  const bool terminal_;
  const absl::Time start_;
  absl::Mutex mutex_;
  uint64_t done_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t skipped_ ABSL_GUARDED_BY(mutex_) = 0;  //!< Of done_, not counted in the rate.
  //! When done_ last grew (by Advance or Update); the rate runs up to it.
  std::optional<absl::Time> last_progress_ ABSL_GUARDED_BY(mutex_);
  std::string detail_ ABSL_GUARDED_BY(mutex_);
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  //! Terminal: when the line was last drawn; plain: when a line was last printed.
  std::optional<absl::Time> last_shown_ ABSL_GUARDED_BY(mutex_);
  uint64_t last_shown_tenth_ ABSL_GUARDED_BY(mutex_) = 0;  //!< Plain: tenths done then.
  size_t drawn_length_ ABSL_GUARDED_BY(mutex_) = 0;        //!< Terminal: last line's length.
};

}  // namespace equifl

#endif  // EQUIFL_BASE_PROGRESS_LINE_H_
