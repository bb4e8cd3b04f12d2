#include "kernels/dnnl/weight_cache.hpp"

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
  memory::desc desc;
  Tensor copy;  // the reordered weights
  memory reordered;
};

// The cached copies' bytes at most; past it the cache starts over (the weights of any zoo model
// fit several times over).
constexpr std::size_t kCapacityBytes = std::size_t{1} << 31;

class WeightCache {
 public:
  // The entry's copy also goes to `holder`, which keeps it alive through the caller's primitive.
  memory get(const memory::desc& desc, const memory::desc& user, const Tensor& w, Tensor& holder) {
    const std::shared_ptr<Storage>& storage = w.storage();
    std::lock_guard<std::mutex> lock(mutex_);
    Entry* slot = nullptr;
    for (Entry& e : entries_) {
      if (e.id == storage->id() && e.offset == w.offset() && e.desc == desc) {
        slot = &e;
        break;
      }
    }
    if (slot == nullptr) {
      slot = &add(desc, storage, w.offset());
    } else if (slot->version == storage->version()) {
      holder = slot->copy;
      return slot->reordered;
    }
    // Note the version first, then read without bumping it: a write after this reorder (through
    // a pointer fetched later) bumps it past the noted one.
    slot->version = storage->version();
    memory from(user, engine(), const_cast<void*>(w.raw_data()));
    reorder(from, slot->reordered);
    holder = slot->copy;
    return slot->reordered;
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
      bytes_ -= e.desc.get_size();
      return true;
    });
  }

  // A new entry for `storage` at `offset`, with its buffer, after dropping those of freed
  // weights (or all, past capacity). Its version is filled in by the caller's reorder.
  Entry& add(const memory::desc& desc, const std::shared_ptr<Storage>& storage, int64_t offset) {
    drop_locked(0);
    if (bytes_ + desc.get_size() > kCapacityBytes) {
      entries_.clear();
      bytes_ = 0;
    }
    Entry& e = entries_.emplace_back();
    e.storage = storage;
    e.id = storage->id();
    e.offset = offset;
    e.desc = desc;
    e.copy = empty_from(system_cpu_allocator(), {static_cast<int64_t>((desc.get_size() + 3) / 4)});
    e.reordered = memory(desc, engine(), e.copy.mutable_raw_data());
    bytes_ += desc.get_size();
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

}  // namespace

memory cached_weights(const memory::desc& desc, const memory::desc& user, const Tensor& w, Tensor& holder) {
  if (GradMode::is_enabled() || !weight_caching_enabled()) {
    cache().forget(w);
    return reorder_to(desc, memory_of(user, w), holder);
  }
  if (desc == user) return memory_of(user, w);
  return cache().get(desc, user, w, holder);
}

std::size_t weight_cache_bytes() { return cache().bytes(); }

}  // namespace strata::dnnl_backend
