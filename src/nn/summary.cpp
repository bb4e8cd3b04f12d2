#include "strata/nn/summary.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "strata/autograd.hpp"
#include "strata/backend.hpp"
#include "strata/nn/layers.hpp"

namespace strata::nn {
namespace {

int64_t own_macs(const Module& m, const Shape& output) {
  if (const auto* conv = dynamic_cast<const ConvNd*>(&m)) {
    int64_t k = 1;
    for (int i = 2; i < conv->weight.ndim(); ++i) k *= conv->weight.shape()[i];
    return output.numel() * conv->weight.shape()[1] * k;
  }
  if (const auto* fc = dynamic_cast<const Linear*>(&m)) return output.numel() * fc->in_features();
  return 0;
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > (s[0] == '-' ? 1 : 0); i -= 3) s.insert(static_cast<std::size_t>(i), 1, ',');
  return s;
}

}  // namespace

ModelSummary summarize(Module& model, const Shape& input) {
  // Output shape and return order of every module called (a layer called twice keeps its last).
  struct Call {
    Shape output;
    int64_t order = 0;
  };
  std::map<const Module*, Call> calls;
  int64_t returned = 0;
  const bool was_training = model.is_training();
  model.eval();
  Tensor y;
  try {
    NoGradGuard no_grad;
    NoWeightCachingGuard no_caching;  // one eager pass: no weight copies left held for it
    ForwardObserver observer(
        [&](const Module& m, const Tensor&, const Tensor& out) { calls[&m] = {out.shape(), returned++}; });
    y = model(zeros(input));
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);

  ModelSummary s;
  s.input = input;
  s.output = y.shape();
  s.params = model.num_parameters();
  const int64_t batch = input.ndim() > 0 && input[0] > 0 ? input[0] : 1;
  struct Row {
    LayerSummary layer;
    int64_t first = 0;  // earliest return in the subtree: a parent sorts just before its first child
  };
  std::vector<Row> rows;
  for (auto& [name, m] : model.named_modules()) {
    auto it = calls.find(m);
    if (name.empty() || it == calls.end()) continue;
    LayerSummary l;
    l.name = name;
    l.type = m->type_name();
    l.depth = static_cast<int>(std::count(name.begin(), name.end(), '.'));
    l.leaf = m->children().empty();
    l.output = it->second.output;
    l.params = m->num_parameters();
    l.macs = own_macs(*m, l.output);
    rows.push_back({l, it->second.order});
  }
  for (Row& parent : rows)
    for (const Row& r : rows)
      if (r.layer.name.rfind(parent.layer.name + ".", 0) == 0) parent.first = std::min(parent.first, r.first);
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.first != b.first ? a.first < b.first : a.layer.depth < b.layer.depth;
  });
  for (const Row& r : rows) {
    if (r.layer.leaf) {
      s.macs += r.layer.macs;
      s.activation_bytes += r.layer.output.numel() / batch * 4;
    }
    s.layers.push_back(r.layer);
  }
  return s;
}

std::string format_summary(const ModelSummary& s) {
  std::size_t name_w = 5, type_w = 4, shape_w = 12;
  for (const LayerSummary& l : s.layers) {
    name_w = std::max(name_w, l.name.size() + 2 * l.depth);
    type_w = std::max(type_w, l.type.size());
    shape_w = std::max(shape_w, l.output.str().size());
  }
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %12s  %15s\n", static_cast<int>(name_w), "layer",
                static_cast<int>(type_w), "type", static_cast<int>(shape_w), "output shape", "params", "MACs");
  out += line;
  out += std::string(name_w + type_w + shape_w + 12 + 15 + 8, '-') + "\n";
  for (const LayerSummary& l : s.layers) {
    const std::string name = std::string(2 * l.depth, ' ') + l.name;
    std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %12s  %15s\n", static_cast<int>(name_w), name.c_str(),
                  static_cast<int>(type_w), l.type.c_str(), static_cast<int>(shape_w), l.output.str().c_str(),
                  with_commas(l.params).c_str(), l.macs ? with_commas(l.macs).c_str() : "-");
    out += line;
  }
  out += std::string(name_w + type_w + shape_w + 12 + 15 + 8, '-') + "\n";
  out += "input " + s.input.str() + " -> output " + s.output.str() + "\n";
  out += "parameters: " + with_commas(s.params) + " (" + with_commas(s.params * 4) + " bytes as f32)\n";
  out += "multiply-accumulates: " + with_commas(s.macs) + " per forward pass\n";
  char mem[64];
  std::snprintf(mem, sizeof mem, "%.2f MB", static_cast<double>(s.activation_bytes) / 1e6);
  out += std::string("activations (one sample, f32): ") + mem + "\n";
  return out;
}

}  // namespace strata::nn
