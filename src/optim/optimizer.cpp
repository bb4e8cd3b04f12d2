// Optimizer base: parameter checks, the step loop over parameters, dropping gradients, and the
// export and checked import of the per-parameter state ("state.<index>.<key>").
#include <charconv>
#include <cmath>

#include "strata/autograd.hpp"
#include "strata/optim.hpp"

namespace strata::optim {
namespace {

// Whether two dense tensors share any byte of storage.
bool overlaps(const Tensor& a, const Tensor& b) {
  if (a.storage() != b.storage()) return false;
  const auto begin = [](const Tensor& t) { return static_cast<const char*>(t.raw_data()); };
  const auto end = [&](const Tensor& t) { return begin(t) + t.numel() * dtype_size(t.dtype()); };
  return begin(a) < end(b) && begin(b) < end(a);
}

// Fresh state for `param`: zero buffers of its shape and dtype, and step counts of 0.
std::vector<Tensor> initial_state(const Tensor& param, const std::vector<bool>& is_count) {
  std::vector<Tensor> state;
  state.reserve(is_count.size());
  for (const bool count : is_count)
    state.push_back(count ? full(Shape{}, 0.0, DType::F64)
                          : empty(param.shape(), param.dtype(), param.device()).zero_());
  return state;
}

// Splits "state.<index>.<key>"; false when `name` has another form.
bool parse_state_name(const std::string& name, std::size_t& index, std::string& key) {
  static const std::string prefix = "state.";
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(first, last, index);
  if (ec != std::errc() || ptr == first || ptr == last || *ptr != '.' || ptr + 1 == last) return false;
  key.assign(ptr + 1, last);
  return true;
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

}  // namespace

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double lr)
    : name_(std::move(name)), params_(std::move(params)), state_(params_.size()), lr_(0.0) {
  STRATA_CHECK(!params_.empty(), name_, ": got an empty parameter list");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    STRATA_CHECK(p.defined(), name_, ": parameter ", i, " is an undefined tensor");
    STRATA_CHECK(is_floating(p.dtype()), name_, ": parameter ", i, " has dtype ", dtype_name(p.dtype()),
                 "; only f32 and f64 parameters can be optimized");
    STRATA_CHECK(p.is_leaf(), name_, ": parameter ", i, " of shape ", p.shape(),
                 " is not a leaf (it is the output of '", p.grad_fn()->name(), "')");
    STRATA_CHECK(p.is_contiguous(), name_, ": parameter ", i, " of shape ", p.shape(), " has strides ", p.strides(),
                 "; parameters must be contiguous to be updated in place");
    for (std::size_t j = 0; j < i; ++j)
      STRATA_CHECK(!overlaps(p, params_[j]), name_, ": parameter ", i, " shares memory with parameter ", j,
                   " (a parameter may be listed only once)");
  }
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  STRATA_CHECK(lr >= 0.0, name_, ": invalid learning rate ", lr, " (must be >= 0)");
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<bool> is_count;
  for (const StateSlot& slot : state_slots()) is_count.push_back(slot.is_count);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor g = p.grad();  // set_grad and backward guarantee the parameter's shape, dtype and device
    if (!g.defined()) continue;
    if (!g.is_contiguous()) g = g.contiguous();
    const bool fresh = state_[i].empty() && !is_count.empty();
    if (fresh) state_[i] = initial_state(p, is_count);
    update(p, g, state_[i], fresh);
  }
}

void Optimizer::zero_grad() {
  for (const Tensor& p : params_) p.zero_grad();
}

NamedTensors Optimizer::state_dict() const {
  const std::vector<StateSlot> slots = state_slots();
  NamedTensors out;
  for (std::size_t i = 0; i < params_.size(); ++i)
    for (std::size_t k = 0; k < state_[i].size(); ++k)
      out.emplace_back(detail::cat("state.", i, ".", slots[k].key), state_[i][k]);
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  const std::vector<StateSlot> slots = state_slots();
  std::vector<std::string> keys;
  for (const StateSlot& slot : slots) keys.push_back(slot.key);
  std::vector<std::vector<Tensor>> loaded(params_.size(), std::vector<Tensor>(slots.size()));
  std::vector<std::vector<bool>> seen(params_.size(), std::vector<bool>(slots.size(), false));
  std::vector<std::string> problems;

  for (const auto& [name, t] : state) {
    std::size_t i = 0;
    std::string key;
    if (!parse_state_name(name, i, key)) {
      problems.push_back(detail::cat("'", detail::printable(name), "' is not of the form state.<parameter index>.<key>"));
      continue;
    }
    if (i >= params_.size()) {
      problems.push_back(detail::cat("'", detail::printable(name), "' names parameter ", i, " but the optimizer has ", params_.size()));
      continue;
    }
    std::size_t k = 0;
    while (k < slots.size() && key != slots[k].key) ++k;
    if (k == slots.size()) {
      problems.push_back(slots.empty()
                             ? detail::cat("'", name, "': this ", name_, " keeps no state")
                             : detail::cat("'", detail::printable(name), "': unknown key '", detail::printable(key), "' (expected ", join(keys, ", "), ")"));
      continue;
    }
    if (seen[i][k]) {
      problems.push_back(detail::cat("'", name, "' appears more than once"));
      continue;
    }
    seen[i][k] = true;
    const Tensor& p = params_[i];
    if (!t.defined()) {
      problems.push_back(detail::cat("'", name, "' is an undefined tensor"));
    } else if (slots[k].is_count) {
      const double value = t.numel() == 1 ? t.item() : -1.0;
      if (t.numel() != 1 || !(value >= 0.0) || value != std::floor(value))
        problems.push_back(detail::cat("'", name, "' must be one whole number >= 0, got a tensor of shape ", t.shape(),
                                       t.numel() == 1 ? detail::cat(" holding ", value) : std::string()));
      else
        loaded[i][k] = full(Shape{}, value, DType::F64);
    } else if (!is_floating(t.dtype()) || t.shape() != p.shape()) {
      problems.push_back(detail::cat("'", name, "' is ", dtype_name(t.dtype()), " ", t.shape(), " but parameter ", i,
                                     " is ", dtype_name(p.dtype()), " ", p.shape()));
    } else {
      NoGradGuard no_grad;
      loaded[i][k] = empty(p.shape(), p.dtype(), p.device()).copy_(t);
    }
  }

  for (std::size_t i = 0; i < params_.size(); ++i) {
    std::vector<std::string> missing;
    for (std::size_t k = 0; k < slots.size(); ++k)
      if (!seen[i][k]) missing.push_back(slots[k].key);
    if (missing.size() == slots.size()) {
      loaded[i].clear();  // no state for this parameter: it starts afresh on its next update
    } else if (!missing.empty()) {
      problems.push_back(detail::cat("state.", i, " lacks ", join(missing, ", ")));
    }
  }
  if (!problems.empty()) {
    constexpr std::size_t kShown = 10;  // a file of 10k foreign entries gives a message of a few lines
    const std::size_t more = problems.size() > kShown ? problems.size() - kShown : 0;
    problems.resize(problems.size() - more);
    fail(name_, ".load_state_dict: the state does not fit this optimizer (", problems.size() + more,
         problems.size() + more == 1 ? " problem): " : " problems): ", join(problems, "; "),
         more ? detail::cat("; ... and ", more, " more") : std::string());
  }
  state_ = std::move(loaded);
}

}  // namespace strata::optim
