#include "strata/gradcheck.hpp"

#include <cmath>

#include "core/dtype_dispatch.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"
#include "strata/random.hpp"

namespace strata {
namespace {

// The scalar sum(y * r) in double.
double project(const Tensor& y, const Tensor& r) { return (y * r).sum().item(); }

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  // Private dense copies: the analytic pass uses them as leaves, the numeric pass perturbs them.
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      leaves.emplace_back();
      continue;
    }
    Tensor leaf = t.detach().clone();
    if (t.requires_grad()) leaf.set_requires_grad(true);
    leaves.push_back(leaf);
  }

  Tensor y = fn(leaves);
  STRATA_CHECK(y.defined() && is_floating(y.dtype()), "gradcheck: fn must return a floating-point tensor");
  Generator gen(options.seed);
  const Tensor r = y.numel() == 1 ? ones(y.shape(), y.dtype()) : uniform(y.shape(), -1.0, 1.0, gen, y.dtype());
  GradcheckResult result;
  if (!y.requires_grad()) {
    result.ok = false;
    result.message = "gradcheck: the output does not depend on any input that requires grad";
    return result;
  }
  (y * r).sum().backward();

  NoGradGuard no_grad;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i].defined() || !leaves[i].requires_grad()) continue;
    Tensor x = leaves[i].detach();  // same storage: perturbing it perturbs what fn sees
    const Tensor analytic_t = leaves[i].grad();
    const std::vector<double> analytic =
        analytic_t.defined() ? analytic_t.to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    visit_floating(x.dtype(), "gradcheck", [&]<class T>() {
      T* p = x.mutable_data<T>();
      for (int64_t j = 0; j < x.numel(); ++j) {
        const T original = p[j];
        const double f0 = project(fn(leaves), r);
        p[j] = static_cast<T>(original + options.eps);
        const double fp = project(fn(leaves), r);
        p[j] = static_cast<T>(original - options.eps);
        const double fm = project(fn(leaves), r);
        p[j] = original;
        const double numeric = (fp - fm) / (2 * options.eps);
        const double forward = (fp - f0) / options.eps, backward = (f0 - fm) / options.eps;
        const double tol = options.atol + options.rtol * std::abs(numeric);
        // Where fn is smooth the one-sided slopes differ by about |f''| eps (a curvature term that
        // is not small relative to the slope at a stationary point); at a kink by the jump of the
        // derivative, which does not shrink with eps. sqrt(eps) separates the two.
        const double kink_gap = 2 * tol + 1e-3 * (std::abs(forward) + std::abs(backward)) + std::sqrt(options.eps);
        if (std::abs(forward - backward) > kink_gap) {
          ++result.skipped_kinks;
          continue;
        }
        const double err = std::abs(analytic[j] - numeric);
        result.max_abs_error = std::max(result.max_abs_error, err);
        ++result.checked;
        if (err > tol && result.ok) {
          result.ok = false;
          result.message = detail::cat("gradcheck: input ", i, " element ", j, ": analytic ", analytic[j],
                                       ", numeric ", numeric, " (error ", err, ", tolerance ", tol, ")");
        }
      }
    });
  }
  return result;
}

}  // namespace strata
