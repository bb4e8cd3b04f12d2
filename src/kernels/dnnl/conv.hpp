// What the oneDNN convolution chooses for a geometry, for tests and diagnostics.
#pragma once

#include <string>

#include "ops/conv.hpp"

namespace strata::dnnl_backend {

// oneDNN's name of the forward kernel it runs for `g` ("jit_wino_4x3:avx512_core", "jit:avx512_core").
std::string conv_forward_implementation(const ConvGeom& g);

// Whether oneDNN runs `g` (with a depthwise convolution in its epilogue) as one fused kernel.
bool conv_depthwise_fuses(const ConvGeom& g);

}  // namespace strata::dnnl_backend
