#include "client/model/modality_view.h"

#include "absl/strings/str_join.h"

namespace equifl::client {

std::string ModalityView::Name() const {
  return modalities.empty() ? std::string("all") : absl::StrJoin(modalities, "+");
}

}  // namespace equifl::client
