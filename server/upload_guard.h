// Keeps one client from holding the server's upload slots. Decoding an upload
// needs one of max_concurrent_uploads scratch buffers; a client that opens a
// stream, sends its header and goes silent would hold its buffer, and every other
// client's upload would queue behind it until its deadline. The guard
//   - cancels an upload whose client sent nothing for `idle_timeout` while the
//     server was waiting to read from it (the stream ends, the buffer returns);
//   - lets each client hold at most one upload at a time.
// Time spent waiting for a free buffer is not idle time: the client is not being
// read then.
#ifndef EQUIFL_SERVER_UPLOAD_GUARD_H_
#define EQUIFL_SERVER_UPLOAD_GUARD_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/periodic_task.h"

namespace equifl::server {

class UploadGuard {
 public:
  //! One upload under watch, from its stream's start to the handler's return.
  class Watch {
   public:
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch();

    //! Marks a read from the client starting and ending: idle time runs between.
    void BeginRead();
    void EndRead();
    //! Claims the client's one upload slot; fails when `client_id` already holds one.
    absl::Status ClaimClient(const std::string& client_id);
    //! Whether the guard cancelled this upload for idling.
    bool cancelled_for_idling() const;

   private:
    friend class UploadGuard;
    Watch(UploadGuard& guard, uint64_t id) : guard_(guard), id_(id) {}
    UploadGuard& guard_;
    const uint64_t id_;
  };

  //! Cancels uploads idle for longer than `idle_timeout` (checked every tenth of it, on a
  //! thread that starts with the first upload: a server that receives none has none).
  explicit UploadGuard(std::chrono::milliseconds idle_timeout);

  //! Starts watching the upload served on `context` (which must outlive the Watch).
  std::unique_ptr<Watch> Start(grpc::ServerContext& context);

 private:
  using Clock = std::chrono::steady_clock;
  struct Upload {
    grpc::ServerContext* context = nullptr;
    std::string client_id;                           //!< Empty until claimed.
    std::optional<Clock::time_point> reading_since;  //!< Set while a read waits.
    bool cancelled = false;
  };

  void CancelIdle();

  const std::chrono::milliseconds idle_timeout_;
  mutable absl::Mutex mutex_;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 0;
  std::map<uint64_t, Upload> uploads_ ABSL_GUARDED_BY(mutex_);
  std::set<std::string> clients_ ABSL_GUARDED_BY(mutex_);  //!< Clients holding a slot.
  //! Last: destroyed, and its thread joined, before what it reads.
  std::optional<PeriodicTask> checker_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_UPLOAD_GUARD_H_
