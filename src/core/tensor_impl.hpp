// The shared state behind a Tensor handle. Internal: users see only Tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "strata/storage.hpp"
#include "strata/tensor.hpp"

namespace strata {

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<autograd::Node> grad_fn;       // null for leaves
  std::weak_ptr<autograd::Node> grad_accumulator;  // a leaf's accumulator, shared by all uses
  // A leaf's autograd::add_grad_ready_hook callbacks, with their ids, in the order added.
  std::vector<std::pair<uint64_t, std::function<void(const Tensor&)>>> grad_ready_hooks;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;
  DType dtype = DType::F32;
  Layout layout = Layout::Strided;
  std::unique_ptr<AutogradMeta> autograd;  // created on first use

  AutogradMeta& meta() {
    if (!autograd) autograd = std::make_unique<AutogradMeta>();
    return *autograd;
  }
};

// empty(), with its memory from `allocator` (system_cpu_allocator(): a long-lived buffer that
// should not count in the caching allocator's working set).
Tensor empty_from(Allocator& allocator, const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());

// While set on a thread, called with the storage of every tensor whose memory that thread hands
// out (Tensor::raw_data with write = false, mutable_raw_data with write = true): how the graph
// tracer sees code that reads or writes tensors outside the ops it records.
using AccessObserver = void (*)(const Storage& storage, bool write);
void set_access_observer(AccessObserver observer);

// A new tensor viewing `base`'s storage with other shape/strides/offset (no autograd state),
// in base's layout.
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

}  // namespace strata
