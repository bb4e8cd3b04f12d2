// Registers the reference softmax and cross-entropy kernels (kernels/ref/loss.hpp) for tensors.
#include "kernels/ref/loss.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {
namespace {

Tensor softmax_forward(const SoftmaxGeom& g, const Tensor& x, bool log) {
  Tensor y = empty(g.shape, x.dtype(), x.device());
  const Tensor xc = x.contiguous();
  visit_floating(x.dtype(), g.op, [&]<class T>() { ref::softmax_forward<T>(g, xc.data<T>(), log, y.mutable_data<T>()); });
  return y;
}

Tensor softmax_backward(const SoftmaxGeom& g, const Tensor& gy, const Tensor& y, bool log) {
  Tensor gx = empty(g.shape, y.dtype(), y.device());
  const Tensor gyc = gy.contiguous(), yc = y.contiguous();
  visit_floating(y.dtype(), g.op, [&]<class T>() {
    ref::softmax_backward<T>(g, gyc.data<T>(), yc.data<T>(), log, gx.mutable_data<T>());
  });
  return gx;
}

CrossEntropyForward cross_entropy_forward(const CrossEntropyGeom& g, const Tensor& logits, const Tensor& targets) {
  CrossEntropyForward f{empty({}, logits.dtype(), logits.device()),
                        empty({g.batch, g.classes}, logits.dtype(), logits.device())};
  const Tensor lc = logits.contiguous(), tc = targets.contiguous();
  visit_floating(logits.dtype(), "cross_entropy", [&]<class T>() {
    ref::cross_entropy_forward<T>(g, lc.data<T>(), tc.data<int64_t>(), f.log_probs.mutable_data<T>(), f.loss.mutable_data<T>());
  });
  return f;
}

Tensor cross_entropy_backward(const CrossEntropyGeom& g, const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& targets) {
  Tensor gx = empty({g.batch, g.classes}, log_probs.dtype(), log_probs.device());
  const Tensor lc = log_probs.contiguous(), tc = targets.contiguous();
  visit_floating(log_probs.dtype(), "cross_entropy", [&]<class T>() {
    ref::cross_entropy_backward<T>(g, grad_loss.item(), lc.data<T>(), tc.data<int64_t>(), gx.mutable_data<T>());
  });
  return gx;
}

const SoftmaxKernels kRefSoftmax{[](const SoftmaxGeom&, DType) { return true; }, softmax_forward, softmax_backward};
STRATA_REGISTER_KERNELS(SoftmaxKernels, Backend::Ref, kRefSoftmax);

const CrossEntropyKernels kRefCrossEntropy{[](const CrossEntropyGeom&, DType) { return true; }, cross_entropy_forward,
                                           cross_entropy_backward};
STRATA_REGISTER_KERNELS(CrossEntropyKernels, Backend::Ref, kRefCrossEntropy);

}  // namespace
}  // namespace strata
