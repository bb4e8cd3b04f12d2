#include "kernels/dnnl/weight_cache.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"
#include "strata/backend.hpp"
#include "strata/storage.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;

struct Entry {
  std::weak_ptr<Storage> storage;  // expired: the weights are gone, so is the entry
  uint64_t id, version = 0;
  int64_t offset;
  // The copy's format: a oneDNN memory desc, or (transform != nullptr) a kernel's own transform.
  memory::desc desc;
  const char* transform = nullptr;
  std::size_t bytes = 0;
  Tensor copy;  // the reordered or transformed weights
  memory reordered;
};

// The cached copies' bytes at most; past it the cache starts over (the weights of any zoo model
// fit several times over).
constexpr std::size_t kCapacityBytes = std::size_t{1} << 31;

class WeightCache {
 public:
  // The entry's copy also goes to `holder`, which keeps it alive through the caller's primitive.
  memory get(const memory::desc& desc, const memory::desc& user, const Tensor& w, Tensor& holder) {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = current(
        w, desc.get_size(), [&](const Entry& e) { return e.transform == nullptr && e.desc == desc; },
        [&](Entry& e) {
          e.desc = desc;
          e.reordered = memory(desc, engine(), e.copy.mutable_raw_data());
        },
        [&](Entry& e) { reorder(memory(user, engine(), const_cast<void*>(w.raw_data())), e.reordered); });
    holder = entry.copy;
    return entry.reordered;
  }

  // As get, for a kernel's own transform `name` of `floats` floats, made by `fill`.
  const float* get_transformed(const char* name, int64_t floats, const Tensor& w,
                               const std::function<void(const float*, float*)>& fill, Tensor& holder) {
    const std::size_t bytes = static_cast<std::size_t>(floats) * sizeof(float);
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = current(
        w, bytes, [&](const Entry& e) { return e.transform == name && e.bytes == bytes; },
        [&](Entry& e) { e.transform = name; },
        [&](Entry& e) { fill(static_cast<const float*>(w.raw_data()), e.copy.mutable_data<float>()); });
    holder = entry.copy;
    return entry.copy.data<float>();
  }

  // Drops the entries of `w`'s storage and of freed ones: training does not use them, and an
  // evaluation between epochs must not leave its copies held through the next epoch.
  void forget(const Tensor& w) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!entries_.empty()) drop_locked(w.storage()->id());
  }

  std::size_t bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }

 private:
  // Drops the entries of freed storages and of storage `id` (0: of none; ids start at 1).
  void drop_locked(uint64_t id) {
    std::erase_if(entries_, [&](const Entry& e) {
      if (e.id != id && !e.storage.expired()) return false;
      bytes_ -= e.bytes;
      return true;
    });
  }

  // The entry of w's storage and offset whose format `matches` (a new one of `bytes`, its format
  // set by `describe`, when there is none), its copy made again by `make` unless w is unchanged
  // since it was made. The version is noted first, then w is read without bumping it: a write
  // after this (through a pointer fetched later) bumps it past the noted one. Weights that can be
  // made again (Storage::set_remake: folded ones) give their bytes back once the copy is current.
  template <class Matches, class Describe, class Make>
  Entry& current(const Tensor& w, std::size_t bytes, Matches matches, Describe describe, Make make) {
    const std::shared_ptr<Storage>& storage = w.storage();
    Entry* slot = nullptr;
    for (Entry& e : entries_) {
      if (e.id == storage->id() && e.offset == w.offset() && matches(e)) {
        slot = &e;
        break;
      }
    }
    if (slot == nullptr) {
      slot = &add(storage, w.offset(), bytes, describe);
    } else if (slot->version == storage->version()) {
      storage->release_contents();
      return *slot;
    }
    slot->version = storage->version();
    make(*slot);
    storage->release_contents();
    return *slot;
  }

  // A new entry for `storage` at `offset` with a buffer of `bytes`, its format set by `describe`,
  // after dropping those of freed weights (or all, past capacity). Its version and copy are
  // filled in by current.
  template <class Describe>
  Entry& add(const std::shared_ptr<Storage>& storage, int64_t offset, std::size_t bytes, Describe describe) {
    drop_locked(0);
    if (bytes_ + bytes > kCapacityBytes) {
      entries_.clear();
      bytes_ = 0;
    }
    Entry& e = entries_.emplace_back();
    e.storage = storage;
    e.id = storage->id();
    e.offset = offset;
    e.bytes = bytes;
    e.copy = empty_from(system_cpu_allocator(), {static_cast<int64_t>((bytes + 3) / 4)});
    describe(e);
    bytes_ += bytes;
    return e;
  }

  std::mutex mutex_;
  std::vector<Entry> entries_;  // a few per layer at most: a linear search costs nothing next to a reorder
  std::size_t bytes_ = 0;
};

WeightCache& cache() {
  static WeightCache* c = new WeightCache;  // never destroyed: entries hold tensors past static destruction
  return *c;
}

// Whether w's derived copies are cached now (inference, caching on); when not, w's entries are
// dropped.
bool caching(const Tensor& w) {
  if (!GradMode::is_enabled() && weight_caching_enabled()) return true;
  cache().forget(w);
  return false;
}

}  // namespace

memory cached_weights(const memory::desc& desc, const memory::desc& user, const Tensor& w, Tensor& holder) {
  if (!caching(w)) return reorder_to(desc, memory_of(user, w), holder);
  if (desc == user) return memory_of(user, w);
  return cache().get(desc, user, w, holder);
}

const float* cached_transform(const char* name, int64_t floats, const Tensor& w,
                              const std::function<void(const float*, float*)>& fill, Tensor& holder) {
  if (!caching(w)) {
    holder = empty_from(system_cpu_allocator(), {floats});
    fill(static_cast<const float*>(w.raw_data()), holder.mutable_data<float>());
    return holder.data<float>();
  }
  return cache().get_transformed(name, floats, w, fill, holder);
}

std::size_t weight_cache_bytes() { return cache().bytes(); }

}  // namespace strata::dnnl_backend
