// The fairness engine's types on the wire: group statistics (what clients report)
// and the fairness directive (what the server sends with every task).
//
// This is the one place where fairness::StatisticsTable and fairness::
// FairnessDirective meet their equifl.v1 messages; everything else works on the
// in-memory types. A received message is checked as it is converted: confusion
// counts must match their number of classes and loss sums must be finite and
// non-negative, so nothing malformed reaches a sum.
#ifndef EQUIFL_PROTOCOL_FAIRNESS_WIRE_H_
#define EQUIFL_PROTOCOL_FAIRNESS_WIRE_H_

#include "absl/status/statusor.h"
#include "equifl/v1/aggregator.pb.h"
#include "fairness/fairness_method.h"
#include "fairness/group_statistics.h"
#include "fairness/minmax_gap.h"

namespace equifl::protocol {

//! Every (cell, group) of `table` as one wire cell, in the table's order.
v1::GroupStatistics StatisticsToProto(const fairness::StatisticsTable& table);

//! The table a message carries; cells it repeats add up. Fails, naming the cell
//! and group, on malformed statistics (fairness::AddInto's checks).
absl::StatusOr<fairness::StatisticsTable> StatisticsFromProto(const v1::GroupStatistics& message);

//! The method as the directive names it (FedAvg is the unspecified default).
v1::FairnessMethod FairnessMethodToProto(fairness::FairnessMethod method);

//! Writes `directive`'s multiplier, bound, β and weights into `message` (its
//! method, q and views are the run's options, set by the caller).
void DirectiveToProto(const fairness::FairnessDirective& directive, v1::FairnessDirective& message);

//! The multiplier, bound, β and weights of a received directive.
fairness::FairnessDirective DirectiveFromProto(const v1::FairnessDirective& message);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_FAIRNESS_WIRE_H_
