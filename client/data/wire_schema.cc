#include "client/data/wire_schema.h"

#include <string>

#include "base/enum_names.h"

namespace equifl::client {

v1::DataSchema ToWireSchema(const ShardManifest& manifest) {
  v1::DataSchema schema;
  for (const ShardModality& modality : manifest.modalities) {
    v1::DataSchema::Modality* entry = schema.add_modalities();
    entry->set_name(modality.name);
    entry->set_kind(std::string(equifl::NameOf(modality.kind)));
    entry->set_frames(static_cast<uint64_t>(modality.frames));
    entry->set_dim(static_cast<uint64_t>(modality.dim));
    for (const std::string& name : modality.feature_names) entry->add_feature_names(name);
    entry->set_front_end(modality.front_end);
  }
  for (const std::string& label : manifest.labels) schema.add_labels(label);
  for (const std::string& group : manifest.groups) schema.add_groups(group);
  for (const std::string& language : manifest.languages) schema.add_languages(language);
  return schema;
}

}  // namespace equifl::client
