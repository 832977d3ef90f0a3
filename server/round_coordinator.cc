#include "server/round_coordinator.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/random.h"

namespace equifl::server {

absl::Status RoundOptions::Validate() const {
  if (rounds == 0) return absl::InvalidArgumentError("rounds is 0; allowed: 1 or more");
  if (min_clients == 0) {
    return absl::InvalidArgumentError("min_clients is 0; allowed: 1 or more");
  }
  if (!(client_fraction > 0 && client_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_fraction is ", client_fraction, "; allowed: (0, 1]"));
  }
  if (!(quorum > 0 && quorum <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("quorum is ", quorum, "; allowed: (0, 1]"));
  }
  if (round_deadline <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("round_deadline must be positive");
  }
  return absl::OkStatus();
}

namespace {

// An engine seeded with 256 bits from OpenSSL's CSPRNG, or should that fail, from
// the operating system's through std::random_device: either way unpredictable.
random::Engine UnpredictableEngine() {
  std::array<uint32_t, 8> seed;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), static_cast<int>(sizeof(seed))) !=
      1) {
    std::random_device device;
    for (uint32_t& word : seed) word = device();
  }
  std::seed_seq sequence(seed.begin(), seed.end());
  return random::Engine(sequence);
}

}  // namespace

RoundCoordinator::RoundCoordinator(const RoundOptions& options, uint64_t completed_rounds,
                                   bool unpredictable_selection)
    : options_(options),
      unpredictable_selection_(unpredictable_selection),
      completed_rounds_(completed_rounds) {
  if (completed_rounds_ >= TotalRounds()) phase_ = Phase::kFinished;
  feature_moments_pending_ = options_.feature_moments && completed_rounds_ == 0;
}

void RoundCoordinator::Join(const std::string& client_id) {
  absl::MutexLock lock(&mutex_);
  joined_.insert(client_id);
  changed_.SignalAll();
}

bool RoundCoordinator::IsJoined(const std::string& client_id) const {
  absl::MutexLock lock(&mutex_);
  return joined_.contains(client_id);
}

std::optional<Assignment> RoundCoordinator::TakeTaskLocked(const std::string& client_id) {
  if (phase_ != Phase::kCollecting ||
      !std::binary_search(selected_.begin(), selected_.end(), client_id) ||
      !tasked_.insert(client_id).second) {
    return std::nullopt;
  }
  Assignment::Kind kind = Assignment::Kind::kTrain;
  if (IsEvaluationRound(open_round_)) kind = Assignment::Kind::kEvaluate;
  if (IsFeatureMomentsRound(open_round_)) kind = Assignment::Kind::kFeatureMoments;
  return Assignment{kind, open_round_, deadline_};
}

size_t RoundCoordinator::JoinedCount() const {
  absl::MutexLock lock(&mutex_);
  return joined_.size();
}

Assignment RoundCoordinator::WaitForAssignment(const std::string& client_id,
                                               std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mutex_);
  const absl::Time give_up = absl::Now() + absl::FromChrono(timeout);
  while (true) {
    if (phase_ == Phase::kFinished) return {Assignment::Kind::kFinished, 0, {}};
    if (phase_ == Phase::kStopped) return {Assignment::Kind::kStopped, 0, {}};
    if (std::optional<Assignment> task = TakeTaskLocked(client_id)) return *task;
    if (changed_.WaitWithDeadline(&mutex_, give_up)) return {Assignment::Kind::kWait, 0, {}};
  }
}

std::vector<std::pair<std::string, Assignment>> RoundCoordinator::WaitForAssignments(
    const std::vector<std::string>& client_ids, std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mutex_);
  const absl::Time give_up = absl::Now() + absl::FromChrono(timeout);
  std::vector<std::pair<std::string, Assignment>> tasks;
  // Tasks appear only when a round opens: scan each open round once, not at every
  // commit (which would cost O(clients) per update).
  uint64_t scanned_opening = 0;
  while (true) {
    if (phase_ == Phase::kFinished || phase_ == Phase::kStopped) {
      return {{"", {Assignment::Kind::kFinished, 0, {}}}};
    }
    if (phase_ == Phase::kCollecting && openings_ != scanned_opening) {
      scanned_opening = openings_;
      for (const std::string& client_id : client_ids) {
        if (std::optional<Assignment> task = TakeTaskLocked(client_id)) {
          tasks.emplace_back(client_id, *task);
        }
      }
      if (!tasks.empty()) return tasks;
    }
    if (changed_.WaitWithDeadline(&mutex_, give_up)) return {};
  }
}

absl::Status RoundCoordinator::CheckUploadLocked(const std::string& client_id,
                                                 uint64_t round_id) const {
  if (phase_ != Phase::kCollecting || round_id != open_round_) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", round_id, " is not collecting updates",
                     phase_ == Phase::kCollecting ? absl::StrCat("; round ", open_round_, " is")
                                                  : std::string()));
  }
  if (!tasked_.contains(client_id)) {
    return absl::PermissionDeniedError(
        absl::StrCat("client '", client_id, "' was not given a task in round ", round_id));
  }
  if (committed_set_.contains(client_id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("client '", client_id, "' already sent its update for round ", round_id));
  }
  return absl::OkStatus();
}

absl::Status RoundCoordinator::CheckUpload(const std::string& client_id, uint64_t round_id) const {
  absl::MutexLock lock(&mutex_);
  return CheckUploadLocked(client_id, round_id);
}

absl::Status RoundCoordinator::TryCommit(const std::string& client_id, uint64_t round_id,
                                         const std::function<absl::Status()>& fold) {
  absl::MutexLock lock(&mutex_);
  if (absl::Status status = CheckUploadLocked(client_id, round_id); !status.ok()) return status;
  if (absl::Status status = fold(); !status.ok()) return status;
  committed_.push_back(client_id);
  committed_set_.insert(client_id);
  changed_.SignalAll();
  return absl::OkStatus();
}

size_t RoundCoordinator::QuorumCount() const {
  const auto needed = static_cast<size_t>(std::ceil(options_.quorum * selected_.size() - 1e-9));
  return std::max<size_t>(1, needed);
}

std::optional<uint64_t> RoundCoordinator::OpenNextRound(const SelectionHook& on_selected) {
  absl::MutexLock lock(&mutex_);
  while (phase_ != Phase::kFinished && phase_ != Phase::kStopped &&
         joined_.size() < options_.min_clients) {
    changed_.Wait(&mutex_);
  }
  if (phase_ == Phase::kFinished || phase_ == Phase::kStopped) return std::nullopt;

  open_round_ = feature_moments_pending_ ? 0 : completed_rounds_ + 1;
  ++openings_;
  // A shuffle of the sorted client ids: seeded, the same run selects the same clients.
  std::vector<std::string> candidates(joined_.begin(), joined_.end());
  population_ = candidates.size();
  random::Engine generator = unpredictable_selection_
                                 ? UnpredictableEngine()
                                 : random::Engine(random::RoundSeed(options_.seed, open_round_));
  std::shuffle(candidates.begin(), candidates.end(), generator);
  // Every joined client evaluates the final model and reports its moments;
  // training rounds take a sample.
  const double fraction = IsEvaluationRound(open_round_) || IsFeatureMomentsRound(open_round_)
                              ? 1.0
                              : options_.client_fraction;
  const auto count = static_cast<size_t>(std::ceil(fraction * candidates.size() - 1e-9));
  candidates.resize(std::clamp<size_t>(count, 1, candidates.size()));
  std::sort(candidates.begin(), candidates.end());
  selected_ = std::move(candidates);
  if (on_selected) on_selected(open_round_, selected_);
  tasked_.clear();
  excluded_.clear();
  committed_.clear();
  committed_set_.clear();
  deadline_ = std::chrono::system_clock::now() + options_.round_deadline;
  phase_ = Phase::kCollecting;
  changed_.SignalAll();
  return open_round_;
}

bool RoundCoordinator::CanCloseLocked() const {
  const size_t able = selected_.size() - excluded_.size();
  return phase_ != Phase::kCollecting || committed_.size() >= std::min(QuorumCount(), able);
}

RoundOutcome RoundCoordinator::AwaitClose() {
  absl::MutexLock lock(&mutex_);
  const absl::Time deadline = absl::FromChrono(deadline_);
  while (!CanCloseLocked() && !changed_.WaitWithDeadline(&mutex_, deadline)) {
  }
  const bool reached = CanCloseLocked();
  const bool stopped = phase_ != Phase::kCollecting;
  RoundOutcome outcome{open_round_,         selected_, committed_,
                       reached && !stopped, stopped,   population_};
  if (phase_ == Phase::kCollecting && IsFeatureMomentsRound(open_round_)) {
    feature_moments_pending_ = false;  // round 1 comes next
    phase_ = Phase::kIdle;
  } else if (phase_ == Phase::kCollecting) {
    completed_rounds_ = open_round_;
    phase_ = completed_rounds_ >= TotalRounds() ? Phase::kFinished : Phase::kIdle;
  }
  changed_.SignalAll();
  return outcome;
}

void RoundCoordinator::ExcludeFromRound(uint64_t round_id,
                                        const std::vector<std::string>& clients) {
  absl::MutexLock lock(&mutex_);
  if (phase_ != Phase::kCollecting || round_id != open_round_) return;
  for (const std::string& client_id : clients) {
    if (std::binary_search(selected_.begin(), selected_.end(), client_id)) {
      excluded_.insert(client_id);
    }
  }
  changed_.SignalAll();
}

void RoundCoordinator::Stop() {
  absl::MutexLock lock(&mutex_);
  phase_ = Phase::kStopped;
  changed_.SignalAll();
}

uint64_t RoundCoordinator::completed_rounds() const {
  absl::MutexLock lock(&mutex_);
  return completed_rounds_;
}

}  // namespace equifl::server
