// Weights reordered once and kept while they do not change: for inference, where every call
// would otherwise reorder every layer's weights from PyTorch's layout into the primitive's (at
// batch 1 that took as long as the convolutions themselves).
//
// An entry is keyed by the weight's storage (Storage::id), offset and target format, and holds
// the storage's version when it was filled; any later write through Tensor::data bumps that
// version, so the next lookup reorders again. Training does not use the cache: weights change
// every step, and the copies would add a weight-sized buffer per layer to the peak memory; a
// training call drops its weight's entry (and those of freed weights), so that an evaluation
// between epochs leaves nothing held. Weights whose storage can compute its contents again
// (Storage::set_remake: a batch norm folded into a convolution's weights by a compiled model) give
// their bytes back once their copy is made: the copy is all a cached call reads. The copies'
// memory is outside the caching allocator (system_cpu_allocator, strata/storage.hpp).
#pragma once

#include <functional>

#include "kernels/dnnl/context.hpp"

namespace strata::dnnl_backend {

// `w` (dense, in the format `user`) as memory of `desc`. While gradients are off (GradMode) and
// weight caching is on (strata/backend.hpp), a cached reordered copy when `w` is unchanged since it
// was made; otherwise as reorder_to, with `holder` keeping a fresh copy alive.
dnnl::memory cached_weights(const dnnl::memory::desc& desc, const dnnl::memory::desc& user, const Tensor& w,
                            Tensor& holder);

// `w` (dense, float) transformed by a kernel's own `fill(w, out)` into `floats` floats, cached
// like cached_weights under the transform's `name` (a string literal: compared by address). The
// result stays valid while `holder` lives.
const float* cached_transform(const char* name, int64_t floats, const Tensor& w,
                              const std::function<void(const float*, float*)>& fill, Tensor& holder);

// The bytes of the cached copies.
std::size_t weight_cache_bytes();

}  // namespace strata::dnnl_backend
