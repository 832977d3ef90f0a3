#include "client/model/gradient_reversal.h"

#include <torch/torch.h>

namespace equifl::client {
namespace {

struct GradientReversalFunction : public torch::autograd::Function<GradientReversalFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& input,
                            double lambda) {
    context->saved_data["lambda"] = lambda;
    return input.view_as(input);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    const double lambda = context->saved_data["lambda"].toDouble();
    // No gradient for `lambda`, a plain number.
    return {grad_outputs[0] * -lambda, at::Tensor()};
  }
};

}  // namespace

at::Tensor ReverseGradient(const at::Tensor& input, double lambda) {
  return GradientReversalFunction::apply(input, lambda);
}

}  // namespace equifl::client
