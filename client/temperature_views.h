// The statistics of the fusion view at other temperatures, which the server fits
// per-group temperature scaling from (fairness/calibration.h). They come from one
// evaluation: the fused model's probabilities p give its logits up to a per-sample
// constant, log p, which softmax ignores, so a sample's loss at temperature T is
// −log softmax(log p / T)[label], without another forward pass. Predictions, and so
// confusion counts, do not change with T.
#ifndef EQUIFL_CLIENT_TEMPERATURE_VIEWS_H_
#define EQUIFL_CLIENT_TEMPERATURE_VIEWS_H_

#include <string>
#include <vector>

#include "client/local_trainer.h"
#include "client/model/dataset.h"
#include "fairness/group_statistics.h"

namespace equifl::client {

//! The cells of view `view` (a temperature view, TemperatureViewName) for the
//! samples of `dataset` that `fusion` evaluated, at `temperature`. Languages and
//! groups are named as the client's other statistics name them. A probability
//! that underflowed to 0 is read as 1e-45 (float's smallest), so its loss stays
//! finite (about 103.6/T nats).
fairness::StatisticsTable TemperatureViewStatistics(const EvaluationResult& fusion,
                                                    const Dataset& dataset, double temperature,
                                                    const std::string& view,
                                                    const std::vector<std::string>& languages,
                                                    const std::vector<std::string>& groups);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_TEMPERATURE_VIEWS_H_
