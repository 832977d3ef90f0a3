#include "server/upload_guard.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace equifl::server {

UploadGuard::UploadGuard(std::chrono::milliseconds idle_timeout) : idle_timeout_(idle_timeout) {}

std::unique_ptr<UploadGuard::Watch> UploadGuard::Start(grpc::ServerContext& context) {
  absl::MutexLock lock(&mutex_);
  if (!checker_) {
    checker_.emplace(absl::FromChrono(std::max(idle_timeout_ / 10, std::chrono::milliseconds(10))),
                     [this] { CancelIdle(); });
  }
  const uint64_t id = next_id_++;
  uploads_[id].context = &context;
  return std::unique_ptr<Watch>(new Watch(*this, id));
}

void UploadGuard::CancelIdle() {
  const Clock::time_point now = Clock::now();
  absl::MutexLock lock(&mutex_);
  for (auto& [id, upload] : uploads_) {
    if (upload.cancelled || !upload.reading_since || now - *upload.reading_since < idle_timeout_) {
      continue;
    }
    // Under the lock: the Watch, and with it the context, outlives this call.
    upload.cancelled = true;
    upload.context->TryCancel();
    spdlog::warn("upload of client '{}' cancelled: nothing received for {} ms",
                 upload.client_id.empty() ? "(unknown)" : upload.client_id, idle_timeout_.count());
  }
}

UploadGuard::Watch::~Watch() {
  absl::MutexLock lock(&guard_.mutex_);
  const auto found = guard_.uploads_.find(id_);
  if (!found->second.client_id.empty()) guard_.clients_.erase(found->second.client_id);
  guard_.uploads_.erase(found);
}

void UploadGuard::Watch::BeginRead() {
  absl::MutexLock lock(&guard_.mutex_);
  guard_.uploads_[id_].reading_since = Clock::now();
}

void UploadGuard::Watch::EndRead() {
  absl::MutexLock lock(&guard_.mutex_);
  guard_.uploads_[id_].reading_since.reset();
}

absl::Status UploadGuard::Watch::ClaimClient(const std::string& client_id) {
  absl::MutexLock lock(&guard_.mutex_);
  Upload& upload = guard_.uploads_[id_];
  if (upload.client_id == client_id) return absl::OkStatus();
  if (!guard_.clients_.insert(client_id).second) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "client '", client_id, "' is already uploading; one upload per client at a time"));
  }
  upload.client_id = client_id;
  return absl::OkStatus();
}

bool UploadGuard::Watch::cancelled_for_idling() const {
  absl::MutexLock lock(&guard_.mutex_);
  return guard_.uploads_.at(id_).cancelled;
}

}  // namespace equifl::server
