#include "client/data/modality_kind.h"

#include "client/internal/enum_names.h"

namespace equifl::client {
namespace {

constexpr internal::EnumName<ModalityKind> kModalityKinds[] = {
    {ModalityKind::kSequence, "sequence"}, {ModalityKind::kVector, "vector"}};

}  // namespace

absl::string_view ModalityKindName(ModalityKind kind) {
  return internal::NameOf(kModalityKinds, kind);
}
absl::StatusOr<ModalityKind> ParseModalityKind(absl::string_view name) {
  return internal::Parse(kModalityKinds, "modality kind", name);
}

}  // namespace equifl::client
