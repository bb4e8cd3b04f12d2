// Module: registration, traversal, state dicts, modes, printing and layer-naming errors.
#include "strata/nn/module.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/tensor_impl.hpp"
#include "nn/state_dict.hpp"
#include "strata/autograd.hpp"

namespace strata::nn {
namespace {

thread_local ForwardObserver::Callback* active_observer = nullptr;

// Makes every handle of `dst` see `src`'s data (PyTorch's `param.data = src`): storage, shape,
// strides and dtype are replaced; autograd state (requires_grad, grad) stays with dst.
void replace_data(const Tensor& dst, const Tensor& src) {
  TensorImpl* d = dst.impl();
  const TensorImpl* s = src.impl();
  d->storage = s->storage;
  d->shape = s->shape;
  d->strides = s->strides;
  d->offset = s->offset;
  d->dtype = s->dtype;
}

void check_name(const std::string& name, const std::string& type, const char* what) {
  STRATA_CHECK(!name.empty() && name.find('.') == std::string::npos, type, ": ", what, " name '", name,
               "' must be non-empty and contain no '.'");
}

// Parameters, buffers and children share one namespace: their state_dict keys would clash.
void check_unused(const std::string& name, const std::string& type, const char* what, const NamedTensors& parameters,
                  const NamedTensors& buffers,
                  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children) {
  auto has = [&name](const auto& entries) {
    for (const auto& entry : entries)
      if (entry.first == name) return true;
    return false;
  };
  STRATA_CHECK(!has(parameters) && !has(buffers) && !has(children), type, ": cannot register ", what, " '", name,
               "': a parameter, buffer or child module of that name already exists");
}

}  // namespace

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

Tensor Module::call_as_layer(const Tensor& x, const std::function<Tensor(const Tensor&)>& compute) {
  Tensor y;
  try {
    y = compute(x);
  } catch (const LayerError&) {
    throw;  // already names the innermost layer
  } catch (const Error& e) {
    throw LayerError(path(), type_name_, x.defined() ? x.shape() : Shape{}, e.what());
  }
  if (active_observer != nullptr) (*active_observer)(*this, x, y);
  return y;
}

std::string Module::path() const {
  std::string p = name_in_parent_;
  for (const Module* m = parent_; m != nullptr && m->parent_ != nullptr; m = m->parent_) p = m->name_in_parent_ + "." + p;
  return p;
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_name(name, type_name_, "parameter");
  check_unused(name, type_name_, "parameter", parameters_, buffers_, children_);
  STRATA_CHECK(tensor.defined(), type_name_, ": parameter '", name, "' is undefined");
  if (!tensor.requires_grad()) tensor.set_requires_grad(true);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_name(name, type_name_, "buffer");
  check_unused(name, type_name_, "buffer", parameters_, buffers_, children_);
  STRATA_CHECK(tensor.defined(), type_name_, ": buffer '", name, "' is undefined");
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, type_name_, "child module");
  STRATA_CHECK(module != nullptr, type_name_, ": child module '", name, "' is null");
  check_unused(name, type_name_, "child module", parameters_, buffers_, children_);
  module->parent_ = this;
  module->name_in_parent_ = name;
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool parameters, bool buffers) const {
  if (parameters)
    for (const auto& [name, t] : parameters_) out.emplace_back(prefix + name, t);
  if (buffers)
    for (const auto& [name, t] : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, parameters, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, true, false);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, false, true);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", out, true, true);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [_, t] : named_parameters()) n += t.numel();
  return n;
}

NamedTensors check_state_fits(const Module& module,
                              const std::vector<std::pair<std::string, std::optional<Shape>>>& given) {
  std::map<std::string, const std::optional<Shape>*> by_name;
  std::vector<std::string> duplicated, missing, unexpected, mismatched;
  for (const auto& [name, shape] : given)
    if (!by_name.emplace(name, &shape).second) duplicated.push_back(name);
  std::set<std::string> known;
  NamedTensors state = module.state_dict();
  for (const auto& [name, t] : state) {
    known.insert(name);
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      missing.push_back(name);
    } else if (*it->second != t.shape()) {
      mismatched.push_back(name + " (expected " + t.shape().str() + ", got " +
                           (it->second->has_value() ? (*it->second)->str() : "undefined") + ")");
    }
  }
  for (const auto& [name, _] : given)
    if (!known.count(name)) unexpected.push_back(name);
  if (duplicated.empty() && missing.empty() && unexpected.empty() && mismatched.empty()) return state;
  std::ostringstream msg;
  msg << "load_state_dict: the weights do not fit this " << module.type_name() << ":";
  // The first few of each kind: a file of 10k foreign keys gives a message of a few lines.
  static constexpr std::size_t kShown = 10;
  auto list = [&msg](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    msg << "\n  " << what << " (" << names.size() << "):";
    for (std::size_t i = 0; i < std::min(names.size(), kShown); ++i) msg << " " << detail::printable(names[i]);
    if (names.size() > kShown) msg << " ... and " << names.size() - kShown << " more";
  };
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  list("shape mismatches", mismatched);
  list("duplicated keys", duplicated);
  throw Error(msg.str());
}

void Module::load_state_dict(const NamedTensors& state) {
  std::vector<std::pair<std::string, std::optional<Shape>>> shapes;
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : state) {
    shapes.emplace_back(name, t.defined() ? std::optional<Shape>(t.shape()) : std::nullopt);
    given.emplace(name, &t);
  }
  const NamedTensors mine = check_state_fits(*this, shapes);
  NoGradGuard no_grad;
  for (const auto& [name, t] : mine) {
    Tensor dst = t;
    dst.copy_(*given.at(name));
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::to(DType dtype) {
  NoGradGuard no_grad;
  for (auto& [_, t] : state_dict()) {
    if (!is_floating(t.dtype()) || t.dtype() == dtype) continue;
    replace_data(t, t.detach().to(dtype));
    t.zero_grad();
  }
}

void Module::zero_grad() {
  for (auto& [_, t] : named_parameters()) t.zero_grad();
}

std::string Module::str() const {
  // As torch.nn.Module.__repr__: the lines of extra_repr() and then one "(name): child" per
  // child, each child's own lines indented by two more spaces; a single extra line without
  // children stays inside the parentheses.
  std::vector<std::string> lines;
  std::istringstream extra(extra_repr());
  for (std::string line; std::getline(extra, line);) lines.push_back(line);
  const std::size_t extra_lines = lines.size();
  for (const auto& [name, child] : children_) {
    std::string line = "(" + name + "): ";
    for (char c : child->str()) line += c == '\n' ? std::string("\n  ") : std::string(1, c);
    lines.push_back(line);
  }
  std::string out = type_name_ + "(";
  if (extra_lines == 1 && children_.empty()) {
    out += lines[0];
  } else if (!lines.empty()) {
    out += "\n";
    for (const std::string& line : lines) out += "  " + line + "\n";
  }
  return out + ")";
}

ForwardObserver::ForwardObserver(Callback callback) {
  STRATA_CHECK(active_observer == nullptr, "ForwardObserver: another observer is already active on this thread");
  active_observer = new Callback(std::move(callback));
}

bool ForwardObserver::active() { return active_observer != nullptr; }

ForwardObserver::~ForwardObserver() {
  delete active_observer;
  active_observer = nullptr;
}

LayerError::LayerError(std::string layer_path, std::string layer_type, Shape input_shape, const std::string& message)
    : Error("layer " + (layer_path.empty() ? std::string("<root>") : layer_path) + " (" + layer_type +
            ") cannot take input " + input_shape.str() + ": " + message),
      path_(std::move(layer_path)),
      type_(std::move(layer_type)),
      input_shape_(input_shape),
      op_message_(message) {}

}  // namespace strata::nn
