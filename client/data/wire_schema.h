// A shard manifest's schema as the wire carries it (equifl.v1.DataSchema): what
// a client sends when it joins and what the server keeps as the run's, so that
// protocol/schema_agreement.h can compare them.
#ifndef EQUIFL_CLIENT_DATA_WIRE_SCHEMA_H_
#define EQUIFL_CLIENT_DATA_WIRE_SCHEMA_H_

#include "client/data/shard.h"
#include "equifl/v1/aggregator.pb.h"

namespace equifl::client {

//! The modalities (name, kind, frames, dim, feature names, front end), labels, groups and
//! languages of `manifest`; not its sample counts.
v1::DataSchema ToWireSchema(const ShardManifest& manifest);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_DATA_WIRE_SCHEMA_H_
