#include "server/monitoring/client_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace equifl::server::monitoring {
namespace {

const prometheus::Histogram::BucketBoundaries& SecondsBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
  return *buckets;
}

}  // namespace

ClientMetrics::ClientMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& registry = *registry_;
  auto& rounds = prometheus::BuildCounter()
                     .Name("equifl_client_rounds_total")
                     .Help("Tasks this client completed and the server counted, by kind")
                     .Register(registry);
  train_rounds_ = &rounds.Add({{"kind", "train"}});
  evaluate_rounds_ = &rounds.Add({{"kind", "evaluate"}});
  train_seconds_ = &prometheus::BuildHistogram()
                        .Name("equifl_client_train_seconds")
                        .Help("Seconds of local training per round")
                        .Register(registry)
                        .Add({}, SecondsBuckets());
  samples_per_second_ = &prometheus::BuildGauge()
                             .Name("equifl_client_samples_per_second")
                             .Help("Training samples per second in the last round")
                             .Register(registry)
                             .Add({});
  upload_seconds_ = &prometheus::BuildHistogram()
                         .Name("equifl_client_upload_seconds")
                         .Help("Seconds to upload an update or evaluation")
                         .Register(registry)
                         .Add({}, SecondsBuckets());
}

ClientMetrics::~ClientMetrics() = default;

void ClientMetrics::Trained(double train_seconds, double samples, double upload_seconds) {
  train_rounds_->Increment();
  train_seconds_->Observe(train_seconds);
  if (train_seconds > 0) samples_per_second_->Set(samples / train_seconds);
  upload_seconds_->Observe(upload_seconds);
}

void ClientMetrics::Evaluated(double upload_seconds) {
  evaluate_rounds_->Increment();
  upload_seconds_->Observe(upload_seconds);
}

std::string ClientMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace equifl::server::monitoring
