#include "nn/trace_module.hpp"

#include "graph/trace.hpp"
#include "strata/autograd.hpp"
#include "strata/backend.hpp"

namespace strata::nn {

StateGuard::StateGuard(const Module& m) : buffers_(m.named_buffers()), rng_(default_generator().state()) {
  NoGradGuard no_grad;
  for (const auto& [_, t] : buffers_) saved_.push_back(t.detach().clone());
}

StateGuard::~StateGuard() {
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < buffers_.size(); ++i) {
    Tensor t = buffers_[i].second;
    t.copy_(saved_[i]);
  }
  default_generator().set_state(rng_);
}

graph::Graph trace_module(Module& m, const Shape& shape, DType dtype) {
  StateGuard state(m);
  NoGradGuard no_grad;
  NoWeightCachingGuard no_caching;  // a compiled graph may run other weights (folded batch norms)
  auto eager = [&m](const Tensor& x) { return m.call_as_layer(x, [&m](const Tensor& in) { return m.forward(in); }); };
  return graph::trace(eager, zeros(shape, dtype), m.named_parameters(), m.named_buffers(), m.type_name());
}

}  // namespace strata::nn
