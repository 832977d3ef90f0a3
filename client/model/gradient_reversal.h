// The gradient-reversal layer of adversarial debiasing (Ganin & Lempitsky, 2015).
//
// The adversary head sits behind it: forward it is the identity, backward it
// multiplies the gradient by -lambda. The adversary therefore learns to predict the
// sensitive group from the fused latent while the encoders below receive the
// opposite gradient and learn to hide the group.
#ifndef EQUIFL_CLIENT_MODEL_GRADIENT_REVERSAL_H_
#define EQUIFL_CLIENT_MODEL_GRADIENT_REVERSAL_H_

#include <ATen/core/Tensor.h>

namespace equifl::client {

//! `input` unchanged (a view) forward; backward, the incoming gradient times -lambda.
//! `lambda` >= 0 is the caller's to check (ModelOptions::Validate does).
at::Tensor ReverseGradient(const at::Tensor& input, double lambda);

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MODEL_GRADIENT_REVERSAL_H_
