// Shared helpers for window ops (convolution, pooling): per-dimension arguments.
// Spatial arrays always have 3 slots in D,H,W order; a 2-D op fills the D slot with a neutral
// value (size 1, stride 1, padding 0), so one 3-D kernel serves 2-D and 3-D.
#pragma once

#include <array>
#include <string>

#include "strata/ops.hpp"

namespace strata {

using Spatial = std::array<int64_t, 3>;

// `dims` expanded to the last `nd` slots (one value repeats); the leading slots get `neutral`;
// empty `dims` gives `fallback`. Throws naming op and argument when the count is wrong.
Spatial spatial_arg(const Dims& dims, int nd, int64_t neutral, const Spatial& fallback, const char* op,
                    const char* arg);

// (a, b, then the last nd slots of s): an (N, C, [D,] H, W) or (O, C, [kD,] kH, kW) shape.
Shape with_spatial(int64_t a, int64_t b, const Spatial& s, int nd);

// "5x5" (2-D) or "3x5x5" (3-D): the last nd slots joined with 'x'.
std::string spatial_str(const Spatial& s, int nd);

}  // namespace strata
