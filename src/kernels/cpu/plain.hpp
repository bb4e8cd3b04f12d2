// Strata's own CPU kernels (this folder): kernels for the shapes oneDNN handles poorly, registered
// for the fast CPU backend (Backend::Dnnl) above oneDNN's own kernels (see core/dispatch.hpp).
// They work in the plain layout: dense row-major N,C,H,W. These helpers bring tensors there.
#pragma once

#include "core/layout.hpp"
#include "strata/ops.hpp"

namespace strata::cpu {

// `t` (detached) dense and row-major (Strided, contiguous), converting from Blocked16.
inline Tensor in_plain_layout(const Tensor& t) { return to_layout(t.detach(), Layout::Strided).contiguous(); }

}  // namespace strata::cpu
