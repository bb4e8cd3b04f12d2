#include "core/layout.hpp"

#include <utility>

#include "core/dtype_dispatch.hpp"
#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"
#include "strata/storage.hpp"

namespace strata {
namespace {

// plain (N, C, S) <-> blocked (N, C/16, S, 16), S = product of the spatial sizes.
template <class T>
void reorder(const T* src, T* dst, int64_t n, int64_t c, int64_t s, bool to_blocked) {
  const int64_t cb = c / kChannelBlock;
#pragma omp parallel for collapse(2) schedule(static) if (n * c * s > 65536)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < cb; ++b) {
      const int64_t plain_base = (i * c + b * kChannelBlock) * s;
      const int64_t blocked_base = (i * cb + b) * s * kChannelBlock;
      for (int64_t p = 0; p < s; ++p)
        for (int64_t k = 0; k < kChannelBlock; ++k) {
          const int64_t plain = plain_base + k * s + p, blocked = blocked_base + p * kChannelBlock + k;
          if (to_blocked) dst[blocked] = src[plain];
          else dst[plain] = src[blocked];
        }
    }
}

}  // namespace

bool blockable(const Shape& shape) {
  return (shape.ndim() == 4 || shape.ndim() == 5) && shape[1] > 0 && shape[1] % kChannelBlock == 0;
}

namespace {
thread_local Tensor placed_output;
}  // namespace

PlacedOutput::PlacedOutput(Tensor view) : previous_(std::exchange(placed_output, std::move(view))) {}
PlacedOutput::~PlacedOutput() { placed_output = std::move(previous_); }

Tensor empty_in(const Shape& shape, DType dtype, Device device, Layout layout) {
  if (layout == Layout::Blocked16 && placed_output.defined() && placed_output.shape() == shape &&
      placed_output.dtype() == dtype && placed_output.device() == device)
    return std::exchange(placed_output, Tensor());
  Tensor t = empty(shape, dtype, device);
  if (layout == Layout::Blocked16) {
    STRATA_CHECK(blockable(shape), "layout: shape ", shape, " cannot be stored blocked (needs 4 or 5 dims and "
                 "channels a multiple of 16)");
    t.impl()->layout = Layout::Blocked16;
  }
  return t;
}

Tensor to_layout(const Tensor& t, Layout layout) {
  if (layout == Layout::Strided && t.is_contiguous()) return t;
  if (layout == Layout::Blocked16 && t.layout() == Layout::Blocked16) return t;
  STRATA_CHECK(t.device().is_cpu(), "layout: conversion of a ", t.device().str(), " tensor is not supported");
  Tensor out;
  if (layout == Layout::Strided && t.layout() == Layout::Strided) {
    out = t.detach().clone();  // a strided view made dense
  } else {
    const Tensor src = t.layout() == Layout::Strided ? t.detach().contiguous() : t.detach();
    out = empty_in(t.shape(), t.dtype(), t.device(), layout);
    const int64_t n = t.shape()[0], c = t.shape()[1], s = n * c > 0 ? t.numel() / (n * c) : 0;
    visit_any(t.dtype(), [&]<class T>() {
      reorder<T>(src.data<T>(), out.mutable_data<T>(), n, c, s, layout == Layout::Blocked16);
    });
  }
  if (autograd::needs_grad({t}))
    autograd::record("to_layout", out, {t}, [](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy};
    });
  return out;
}

Tensor flat_view(const Tensor& t) {
  STRATA_CHECK(t.layout() != Layout::Strided || t.is_contiguous(), "flat_view: tensor is not dense");
  Tensor flat = make_view(t, {t.numel()}, {1}, t.offset());
  flat.impl()->layout = Layout::Strided;
  return flat;
}

}  // namespace strata
