// A modality view: the subset of a model's modalities a forward pass may see.
//
// The fairness engine evaluates each modality alone (MSFD) and keeps MinMaxGAP
// cells per (language, modality view); the model masks every modality outside
// the view as if it were absent. Plain data, so options and reports can carry it.
#ifndef EQUIFL_CLIENT_MODEL_MODALITY_VIEW_H_
#define EQUIFL_CLIENT_MODEL_MODALITY_VIEW_H_

#include <string>
#include <utility>
#include <vector>

namespace equifl::client {

//! The modalities a forward pass may see; the others count as absent for every
//! sample. Empty means all of the model's modalities.
struct ModalityView {
  std::vector<std::string> modalities;  //!< Names from ModelOptions::modalities.

  //! Every modality.
  static ModalityView All() { return {}; }
  //! Only `name`.
  static ModalityView Only(std::string name) { return {{std::move(name)}}; }
  //! "all", or the names joined by '+', e.g. "video+text" (for cell labels).
  std::string Name() const;
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_MODALITY_VIEW_H_
