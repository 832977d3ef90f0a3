#include "base/progress_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace equifl {
namespace {

std::string FormatBytes(double bytes) {
  if (bytes < 1e3) return absl::StrFormat("%.0f B", bytes);
  if (bytes < 1e6) return absl::StrFormat("%.1f kB", bytes / 1e3);
  if (bytes < 1e9) return absl::StrFormat("%.1f MB", bytes / 1e6);
  return absl::StrFormat("%.2f GB", bytes / 1e9);
}

// Seconds as "12.3 s" below two minutes, "4m05s" below an hour, else "2h07m".
std::string FormatDuration(double seconds) {
  if (seconds < 120) return absl::StrFormat("%.1f s", seconds);
  const int64_t whole = static_cast<int64_t>(seconds);
  if (whole < 3600) return absl::StrFormat("%dm%02ds", whole / 60, whole % 60);
  return absl::StrFormat("%dh%02dm", whole / 3600, whole % 3600 / 60);
}

std::string FormatCount(uint64_t units, bool bytes) {
  return bytes ? FormatBytes(static_cast<double>(units)) : absl::StrCat(units);
}

// `units` in `seconds` as units per second; below one a second, as the time each
// unit takes ("20.5 s each").
std::string FormatRate(uint64_t units, double seconds, bool bytes) {
  const double rate = static_cast<double>(units) / seconds;
  if (bytes) return absl::StrCat(FormatBytes(rate), "/s");
  if (rate >= 100) return absl::StrFormat("%.0f/s", rate);
  if (rate >= 10) return absl::StrFormat("%.1f/s", rate);
  if (rate >= 1) return absl::StrFormat("%.2f/s", rate);
  return absl::StrCat(FormatDuration(seconds / static_cast<double>(units)), " each");
}

}  // namespace

bool IsTerminal(std::FILE* stream) { return isatty(fileno(stream)) == 1; }

ProgressLine::ProgressLine(Options options)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : std::function<absl::Time()>(&absl::Now)),
      terminal_(options_.terminal.value_or(IsTerminal(options_.stream))),
      start_(options_.start.value_or(clock_())) {
  absl::MutexLock lock(&mutex_);
  MaybeShowLocked();
}

ProgressLine::~ProgressLine() {
  absl::MutexLock lock(&mutex_);
  if (!finished_ && terminal_ && last_shown_) {
    std::fputc('\n', options_.stream);
    std::fflush(options_.stream);
  }
}

void ProgressLine::Advance(uint64_t units) {
  absl::MutexLock lock(&mutex_);
  if (units > 0) last_progress_ = clock_();
  done_ += units;
  MaybeShowLocked();
}

void ProgressLine::Update(uint64_t done) {
  absl::MutexLock lock(&mutex_);
  if (done != done_) last_progress_ = clock_();
  done_ = done;
  MaybeShowLocked();
}

void ProgressLine::Skip(uint64_t units) {
  absl::MutexLock lock(&mutex_);
  done_ += units;
  skipped_ += units;
  MaybeShowLocked();
}

void ProgressLine::SetDetail(std::string detail) {
  absl::MutexLock lock(&mutex_);
  detail_ = std::move(detail);
}

void ProgressLine::Refresh() {
  absl::MutexLock lock(&mutex_);
  MaybeShowLocked();
}

void ProgressLine::Finish() {
  absl::MutexLock lock(&mutex_);
  if (finished_) return;
  finished_ = true;
  const absl::Time now = clock_();
  const std::string text = TextLocked(now, /*final=*/true);
  if (terminal_ && options_.transient) {
    std::fprintf(options_.stream, "\r%s\r", std::string(drawn_length_, ' ').c_str());
    drawn_length_ = 0;
  } else if (terminal_) {
    DrawLocked(text);
    std::fputc('\n', options_.stream);
  } else if (last_shown_ || now - start_ >= options_.plain_interval) {
    std::fprintf(options_.stream, "%s\n", text.c_str());
  }
  std::fflush(options_.stream);
}

std::string ProgressLine::Text() {
  absl::MutexLock lock(&mutex_);
  return TextLocked(clock_(), /*final=*/false);
}

std::string ProgressLine::TextLocked(absl::Time now, bool final) const {
  const bool bytes = options_.bytes;
  const uint64_t total = options_.total;
  std::string text = options_.what.empty() ? "" : absl::StrCat(options_.what, " ");
  if (total > 0) {
    const double percent = std::min(100.0, 100.0 * static_cast<double>(done_) / total);
    absl::StrAppend(&text, FormatCount(done_, bytes), "/", FormatCount(total, bytes), " (",
                    static_cast<int>(percent), "%)");
  } else {
    absl::StrAppend(&text, FormatCount(done_, bytes));
  }
  const double seconds = absl::ToDoubleSeconds(std::max(now - start_, absl::ZeroDuration()));
  // The rate is that of the units done since the start (not skipped ones) up to the
  // last progress, so it holds still while a slow unit runs.
  const uint64_t counted = done_ > skipped_ ? done_ - skipped_ : 0;
  const double working =
      last_progress_
          ? absl::ToDoubleSeconds(std::max(*last_progress_ - start_, absl::ZeroDuration()))
          : 0;
  const bool has_rate = counted > 0 && working > 0;
  if (final) {
    absl::StrAppend(&text, " in ", FormatDuration(seconds));
    if (has_rate) absl::StrAppend(&text, " (", FormatRate(counted, working, bytes), ")");
  } else {
    if (has_rate) absl::StrAppend(&text, "  ", FormatRate(counted, working, bytes));
    absl::StrAppend(&text, "  elapsed ", FormatDuration(seconds));
    if (has_rate && total > done_) {
      // The remaining units at that rate, less the time since the last one finished;
      // once a unit is overdue, it is assumed about to finish.
      const double each = working / static_cast<double>(counted);
      const double remaining = static_cast<double>(total - done_);
      const double since = seconds - working;
      absl::StrAppend(&text, "  ETA ",
                      FormatDuration(std::max(remaining * each - since, (remaining - 1) * each)));
    }
  }
  if (!detail_.empty()) absl::StrAppend(&text, "  ", detail_);
  return text;
}

void ProgressLine::MaybeShowLocked() {
  if (finished_) return;
  const absl::Time now = clock_();
  if (terminal_) {
    if (last_shown_ && now - *last_shown_ < options_.terminal_interval) return;
    DrawLocked(TextLocked(now, /*final=*/false));
    std::fflush(options_.stream);
    last_shown_ = now;
    return;
  }
  if (now - start_ < options_.plain_interval) return;
  const uint64_t total = options_.total;
  const uint64_t tenth = total == 0 ? 0 : std::min<uint64_t>(10, done_ * 10 / total);
  if (last_shown_) {
    const absl::Duration since = now - *last_shown_;
    if (since < options_.plain_interval) return;
    if (tenth <= last_shown_tenth_ && since < options_.plain_max_interval) return;
  }
  std::fprintf(options_.stream, "%s\n", TextLocked(now, /*final=*/false).c_str());
  std::fflush(options_.stream);
  last_shown_ = now;
  last_shown_tenth_ = tenth;
}

void ProgressLine::DrawLocked(const std::string& text) {
  std::string line = text;
  const size_t room = static_cast<size_t>(std::max(1, Columns() - 1));
  if (line.size() > room) line.resize(room);
  const size_t clear = drawn_length_ > line.size() ? drawn_length_ - line.size() : 0;
  std::fprintf(options_.stream, "\r%s%s", line.c_str(), std::string(clear, ' ').c_str());
  drawn_length_ = line.size();
}

int ProgressLine::Columns() const {
  if (options_.width > 0) return options_.width;
  winsize size{};
  if (ioctl(fileno(options_.stream), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 80;
}

}  // namespace equifl
