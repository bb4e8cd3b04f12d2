// Shared plumbing of the oneDNN (2.x API) CPU backend: the engine and stream, memory
// descriptors for Strata tensors, layout policy, and a cache of primitives keyed by geometry.
//
// Layout policy: every oneDNN kernel reads and writes activations in preferred_layout(shape):
// Blocked16 (nChw16c / nCdhw16c) for 4-D/5-D tensors whose channels are a multiple of 16, Strided
// (nchw / ncdhw) otherwise. Inputs in the other layout are reordered on entry, so consecutive
// oneDNN layers pass blocked activations to each other with no reorder. Weights stay in PyTorch's
// OIHW layout in their tensors and are reordered to what the primitive wants on each call in
// training, once while they do not change in inference (weight_cache.hpp).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/layout.hpp"
#include "strata/storage.hpp"
#include "strata/tensor.hpp"

namespace strata::dnnl_backend {

dnnl::engine& engine();
dnnl::stream& stream();

// Blocked16 when the shape can be blocked, else Strided.
Layout preferred_layout(const Shape& shape);
// `t` (detached) in `layout`, reordering when it is not already.
Tensor in_layout(const Tensor& t, Layout layout);
inline Tensor in_preferred_layout(const Tensor& t) { return in_layout(t, preferred_layout(t.shape())); }
// A new f32 tensor of `shape` in preferred_layout(shape).
Tensor empty_preferred(const Shape& shape);

dnnl::memory::dims dims_of(const Shape& shape);
// Descriptor of a dense f32 tensor in `layout` (plain row-major tag or nChw16c / nCdhw16c).
dnnl::memory::desc desc_of(const Shape& shape, Layout layout);
inline dnnl::memory::desc desc_of(const Tensor& t) { return desc_of(t.shape(), t.layout()); }
// A oneDNN memory object over the tensor's data (no copy). The tensor must be dense. It leaves
// the storage's version as it is: for a primitive's inputs, and for outputs into tensors the
// kernel has just made (a new storage has nothing derived from it to invalidate). A kernel that
// writes in place into a tensor it was given fetches t.mutable_raw_data() first.
dnnl::memory memory_of(const Tensor& t);
dnnl::memory memory_of(const dnnl::memory::desc& desc, const Tensor& t);

// to = from in to's format, by a oneDNN reorder primitive made once per pair of formats.
void reorder(const dnnl::memory& from, const dnnl::memory& to);
// `from` as memory of `desc`: `from` itself when the descriptors are equal, else a reordered copy
// whose buffer `holder` keeps alive.
dnnl::memory reorder_to(const dnnl::memory::desc& desc, const dnnl::memory& from, Tensor& holder);
// The tensor `t` (any layout) as memory of `desc` (a primitive's chosen input format): its own
// memory when the formats agree, else a reordered copy kept alive by `holder`.
dnnl::memory as_input(const dnnl::memory::desc& desc, const Tensor& t, Tensor& holder);

// A primitive's output of logical `shape` in the format `desc` it chose: written straight into
// a tensor in preferred_layout(shape) when that is the same format, else into a scratch buffer
// that finish() reorders into such a tensor.
class Output {
 public:
  Output(const dnnl::memory::desc& desc, const Shape& shape);
  const dnnl::memory& memory() const { return memory_; }
  // Writes `t` (of the output's shape, any layout) into the output's memory: a primitive with a
  // sum post-op then adds its result to it.
  void fill(const Tensor& t);
  Tensor finish();

 private:
  Tensor result_, scratch_;
  dnnl::memory memory_;
};

// Primitive attributes whose scratchpad (a primitive's temporary memory, large for Winograd
// convolutions of big batches) the caller passes (DNNL_ARG_SCRATCHPAD, from add_scratchpad):
// allocated as a tensor, it comes from Strata's allocators, and a compiled model's memory plan
// holds it.
dnnl::primitive_attr user_scratchpad();
// Adds the scratchpad a primitive made with user_scratchpad() wants to `args`, kept alive by
// `holder` through the primitive's execution; from `allocator` (the CPU allocator by default).
void add_scratchpad(const dnnl::memory::desc& desc, std::unordered_map<int, dnnl::memory>& args, Tensor& holder,
                    Allocator& allocator = cpu_allocator());

// Whether the oneDNN path handles tensors of this dtype (f32 only).
inline bool supported_dtype(DType dtype) { return dtype == DType::F32; }

// A thread-safe cache of objects built from a string key (primitive descriptors and primitives;
// building them costs tens of microseconds, a lot for small layers called thousands of times).
template <class Value>
class Cache {
 public:
  const Value& get(const std::string& key, const std::function<Value()>& build) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      if (map_.size() >= kCapacity) map_.clear();
      it = map_.emplace(key, std::make_unique<Value>(build())).first;
    }
    return *it->second;
  }

 private:
  static constexpr std::size_t kCapacity = 4096;
  std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<Value>> map_;
};

// Cache keys: every value's 8 bytes appended (a shape's dimensions after its rank), so two keys
// are equal only when their values are; built once per call of a kernel.
class Key {
 public:
  Key() { text_.reserve(256); }
  Key& add(int64_t value) {
    text_.append(reinterpret_cast<const char*>(&value), sizeof value);
    return *this;
  }
  Key& add(const Shape& shape) {
    add(shape.ndim());
    for (int64_t d : shape) add(d);
    return *this;
  }
  Key& add(Layout layout) { return add(static_cast<int64_t>(layout)); }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

}  // namespace strata::dnnl_backend
