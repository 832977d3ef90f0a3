// What the aggregator's service tells a watcher (the live dashboard and metrics,
// server/monitoring/) about the calls it serves: who joined, who took a task, which
// uploads counted or were refused and why, and how long each call took. Rounds
// themselves are reported through RoundObserver (server/round_loop.h).
//
// Called from the service's RPC threads, concurrently; implementations lock what
// they keep and must not call back into the aggregator. The defaults do nothing.
#ifndef EQUIFL_SERVER_SERVICE_OBSERVER_H_
#define EQUIFL_SERVER_SERVICE_OBSERVER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace equifl::server {

class ServiceObserver {
 public:
  virtual ~ServiceObserver() = default;
  //! `client_id` joined (or joined again).
  virtual void OnClientJoined(const std::string& client_id) {}
  //! `client_id` took its task of round `round_id`.
  virtual void OnTaskTaken(const std::string& client_id, uint64_t round_id) {}
  //! An upload of `client_id` for `round_id` ended: counted when `outcome` is OK,
  //! otherwise refused for `outcome`'s reason. `bytes` were received.
  virtual void OnUpload(const std::string& client_id, uint64_t round_id, uint64_t bytes,
                        const absl::Status& outcome) {}
  //! The service answered a call of `method` (its name in the .proto) for
  //! `client_id` (empty when the caller is not known yet) in `seconds`.
  virtual void OnCall(absl::string_view method, const std::string& client_id, double seconds) {}
};

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_SERVICE_OBSERVER_H_
