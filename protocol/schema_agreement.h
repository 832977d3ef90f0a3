// Whether a client's data fits the run: the server compares the schema a client
// sends when it joins (its shard manifest's modalities, feature names, front ends, classes,
// groups and languages) with the run's, so that a client whose table was
// imported with other category lists or another feature set is refused at the
// door, with the difference named, instead of training on misaligned features.
#ifndef EQUIFL_PROTOCOL_SCHEMA_AGREEMENT_H_
#define EQUIFL_PROTOCOL_SCHEMA_AGREEMENT_H_

#include "absl/status/status.h"
#include "equifl/v1/aggregator.pb.h"

namespace equifl::protocol {

//! OK when `client` equals `run`; otherwise FailedPrecondition naming the first
//! difference (a modality, its kind, frames, dim, a feature name or a front-end
//! field such as the mel bands, a class,
//! group or language list), the run's value beside the client's.
absl::Status CheckSchemaAgreement(const v1::DataSchema& run, const v1::DataSchema& client);

}  // namespace equifl::protocol

#endif  // EQUIFL_PROTOCOL_SCHEMA_AGREEMENT_H_
