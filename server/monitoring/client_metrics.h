// A client's Prometheus metrics, as `equifl client --metrics ADDR` serves them at
// `/metrics`: rounds taken part in, local training time and speed, upload time.
// The names are a contract with deploy/grafana/ (see server_metrics.h).
//
// Thread-safe.
#ifndef EQUIFL_SERVER_MONITORING_CLIENT_METRICS_H_
#define EQUIFL_SERVER_MONITORING_CLIENT_METRICS_H_

#include <memory>
#include <string>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace equifl::server::monitoring {

class ClientMetrics {
 public:
  ClientMetrics();
  ~ClientMetrics();
  ClientMetrics(const ClientMetrics&) = delete;
  ClientMetrics& operator=(const ClientMetrics&) = delete;

  //! A training task counted: `samples` trained on in `train_seconds`, the update
  //! uploaded in `upload_seconds`.
  void Trained(double train_seconds, double samples, double upload_seconds);
  //! A final-evaluation task counted.
  void Evaluated(double upload_seconds);

  //! Every metric in the text format.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* train_rounds_;
  prometheus::Counter* evaluate_rounds_;
  prometheus::Histogram* train_seconds_;
  prometheus::Gauge* samples_per_second_;
  prometheus::Histogram* upload_seconds_;
};

}  // namespace equifl::server::monitoring

#endif  // EQUIFL_SERVER_MONITORING_CLIENT_METRICS_H_
