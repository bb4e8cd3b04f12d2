// rebatch: one trace for every batch size (see graph/trace.hpp).
#include "graph/trace.hpp"

namespace strata::graph {
namespace {

enum class Batch { Same, Scaled, Mismatch };

// How `b` (traced for batch 2n) relates to `a` (traced for batch n).
Batch compare(const Shape& a, const Shape& b, int64_t n) {
  if (a == b) return Batch::Same;
  if (a.ndim() != b.ndim() || a.ndim() == 0 || a[0] != n || b[0] != 2 * n) return Batch::Mismatch;
  for (int i = 1; i < a.ndim(); ++i)
    if (a[i] != b[i]) return Batch::Mismatch;
  return Batch::Scaled;
}

Shape with_batch(Shape s, int64_t batch) {
  s[0] = batch;
  return s;
}

bool same_node(const Node& a, const Node& b) {
  if (a.op != b.op || a.inputs != b.inputs || a.outputs != b.outputs || !(a.epilogue == b.epilogue) ||
      a.scope != b.scope || a.layer != b.layer || a.folded != b.folded)
    return false;
  if (a.op == OpKind::Reshape) return true;  // the target shape is compared as a value's
  return a.attrs == b.attrs;
}

}  // namespace

std::optional<Graph> rebatch(const Graph& small, const Graph& twice, int64_t batch) {
  if (small.values.size() != twice.values.size() || small.nodes.size() != twice.nodes.size() ||
      small.input != twice.input || small.output != twice.output)
    return std::nullopt;
  const int64_t n = small.values[small.input].shape[0];
  Graph out = small;
  for (std::size_t v = 0; v < small.values.size(); ++v) {
    const Value &a = small.values[v], &b = twice.values[v];
    if (a.kind != b.kind || a.name != b.name || a.dtype != b.dtype) return std::nullopt;
    const Batch relation = compare(a.shape, b.shape, n);
    if (relation == Batch::Mismatch || (is_leaf(a.kind) && a.kind != ValueKind::Input && relation != Batch::Same))
      return std::nullopt;
    if (relation == Batch::Scaled) out.values[v].shape = with_batch(a.shape, batch);
  }
  if (compare(small.values[small.input].shape, twice.values[twice.input].shape, n) != Batch::Scaled)
    return std::nullopt;
  for (std::size_t i = 0; i < small.nodes.size(); ++i) {
    const Node &a = small.nodes[i], &b = twice.nodes[i];
    if (!same_node(a, b) || a.op == OpKind::Call) return std::nullopt;
    if (a.op != OpKind::Reshape) continue;
    const Shape &ta = a.get<ReshapeAttrs>().shape, &tb = b.get<ReshapeAttrs>().shape;
    const Batch relation = compare(ta, tb, n);
    if (relation == Batch::Mismatch) return std::nullopt;
    if (relation == Batch::Scaled) out.nodes[i].attrs = ReshapeAttrs{with_batch(ta, batch)};
  }
  return out;
}

}  // namespace strata::graph
