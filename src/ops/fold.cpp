// fold_batch_norm: an evaluation-mode batch normalization folded into the convolution before it.
// With s[o] = gamma[o] / sqrt(running_var[o] + eps), for every output channel o:
//   bn(conv(x, w, b))[o] = (conv(x, w, b)[o] - mean[o]) s[o] + beta[o]
//                        = conv(x, w s, (b - mean) s + beta)[o]
// since the convolution is linear in its weights and bias. Computed in double on the host; the
// inputs are only read (their versions stay, see Storage::version).
#include <cmath>

#include "core/dtype_dispatch.hpp"
#include "core/tensor_impl.hpp"
#include "strata/ops.hpp"

namespace strata {

FoldedConv fold_batch_norm(const Tensor& conv_weight, const Tensor& conv_bias, const Tensor& bn_weight,
                           const Tensor& bn_bias, const Tensor& running_mean, const Tensor& running_var, double eps,
                           Allocator* allocator) {
  STRATA_CHECK(conv_weight.defined() && conv_weight.ndim() >= 3,
               "fold_batch_norm: expected a convolution weight (O, I/groups, k...), got ",
               conv_weight.defined() ? conv_weight.shape() : Shape{});
  const int64_t channels = conv_weight.shape()[0];
  struct Arg {
    const char* name;
    const Tensor& tensor;
    bool optional;
  };
  for (const auto& [name, t, optional] : {Arg{"conv bias", conv_bias, true}, Arg{"batch norm weight", bn_weight, true},
                                          Arg{"batch norm bias", bn_bias, true},
                                          Arg{"running_mean", running_mean, false},
                                          Arg{"running_var", running_var, false}}) {
    if (!t.defined() && optional) continue;
    STRATA_CHECK(t.defined() && t.ndim() == 1 && t.shape()[0] == channels, "fold_batch_norm: ", name,
                 " must have shape [", channels, "] (one per output channel of weight ", conv_weight.shape(), "), got ",
                 t.defined() ? t.shape() : Shape{});
    STRATA_CHECK(t.dtype() == conv_weight.dtype(), "fold_batch_norm: ", name, " is ", dtype_name(t.dtype()),
                 " but the weight is ", dtype_name(conv_weight.dtype()));
  }
  STRATA_CHECK(eps > 0.0, "fold_batch_norm: eps must be positive, got ", eps);

  const Tensor w = conv_weight.detach().contiguous();
  Allocator& memory = allocator != nullptr ? *allocator : cpu_allocator();
  FoldedConv folded{empty_from(memory, w.shape(), w.dtype(), w.device()),
                    empty_from(memory, {channels}, w.dtype(), w.device())};
  const int64_t per_channel = w.numel() / channels;
  visit_floating(w.dtype(), "fold_batch_norm", [&]<class T>() {
    auto values = [](const Tensor& t) { return t.defined() ? t.detach().contiguous() : Tensor(); };
    const Tensor b = values(conv_bias), gamma = values(bn_weight), beta = values(bn_bias);
    const Tensor mean = values(running_mean), var = values(running_var);
    auto read = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    const T *pw = read(w), *pb = read(b), *pg = read(gamma), *pbeta = read(beta), *pm = read(mean), *pv = read(var);
    T* out_w = folded.weight.mutable_data<T>();
    T* out_b = folded.bias.mutable_data<T>();
    for (int64_t o = 0; o < channels; ++o) {
      const double s = (pg ? double(pg[o]) : 1.0) / std::sqrt(double(pv[o]) + eps);
      for (int64_t i = 0; i < per_channel; ++i)
        out_w[o * per_channel + i] = static_cast<T>(double(pw[o * per_channel + i]) * s);
      const double bias = pb ? double(pb[o]) : 0.0, shift = pbeta ? double(pbeta[o]) : 0.0;
      out_b[o] = static_cast<T>((bias - double(pm[o])) * s + shift);
    }
  });
  return folded;
}

}  // namespace strata
