#include "kernels/dnnl/weight_cache.hpp"

#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"
#include "strata/storage.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;

struct Entry {
  std::weak_ptr<Storage> storage;  // expired: the weights are gone, so is the entry
  uint64_t id, version;
  int64_t offset;
  memory::desc desc;
  Tensor copy;  // the reordered weights
  memory reordered;
};

// The cached copies' bytes at most; past it the cache starts over (a model's weights once, for
// any model of the zoo, in about a tenth of it).
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
    if (slot != nullptr && slot->version == storage->version()) {
      holder = slot->copy;
      return slot->reordered;
    }
    if (slot == nullptr) slot = &add(desc);
    // Read without bumping the version, and note the version first: a write after this reorder
    // (through a pointer fetched later) bumps it past the noted one.
    slot->storage = storage;
    slot->id = storage->id();
    slot->version = storage->version();
    slot->offset = w.offset();
    memory from(user, engine(), const_cast<void*>(w.raw_read_data()));
    dnnl::reorder(from, slot->reordered).execute(stream(), from, slot->reordered);
    holder = slot->copy;
    return slot->reordered;
  }

  // Drops the entries of `w`'s storage and of freed ones: training does not use them, and an
  // evaluation between epochs must not leave its copies held through the next epoch.
  void forget(const Tensor& w) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.empty()) return;
    const uint64_t id = w.storage()->id();
    std::erase_if(entries_, [&](const Entry& e) {
      if (e.id != id && !e.storage.expired()) return false;
      bytes_ -= e.desc.get_size();
      return true;
    });
  }

  std::size_t bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }

 private:
  // A new entry with its buffer, after dropping those of freed weights (or all, past capacity).
  Entry& add(const memory::desc& desc) {
    std::erase_if(entries_, [&](const Entry& e) {
      if (!e.storage.expired()) return false;
      bytes_ -= e.desc.get_size();
      return true;
    });
    if (bytes_ + desc.get_size() > kCapacityBytes) {
      entries_.clear();
      bytes_ = 0;
    }
    Entry& e = entries_.emplace_back();
    e.desc = desc;
    e.copy = empty_from(system_cpu_allocator(), {static_cast<int64_t>((desc.get_size() + 3) / 4)});
    e.reordered = memory(desc, engine(), e.copy.raw_data());
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
  if (GradMode::is_enabled()) {
    cache().forget(w);
    return reorder_to(desc, memory_of(user, w), holder);
  }
  if (desc == user) return memory_of(user, w);
  return cache().get(desc, user, w, holder);
}

std::size_t weight_cache_bytes() { return cache().bytes(); }

}  // namespace strata::dnnl_backend
