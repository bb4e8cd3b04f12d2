// The recording, placing and serving of a program's planned buffers (see graph/memory_plan.hpp).
#include "graph/memory_plan.hpp"

#include <algorithm>
#include <numeric>

#include "strata/error.hpp"

namespace strata::graph {
namespace {

std::size_t aligned(std::size_t bytes) { return (bytes + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment; }

bool lives_overlap(const MemoryPlan::Block& a, const MemoryPlan::Block& b) {
  return a.allocated < b.freed && b.allocated < a.freed;
}

}  // namespace

void plan_offsets(MemoryPlan& plan) {
  std::vector<std::size_t> order(plan.blocks.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return plan.blocks[a].bytes > plan.blocks[b].bytes; });
  std::vector<std::size_t> placed;
  plan.arena_bytes = plan.total_bytes = 0;
  for (std::size_t i : order) {
    MemoryPlan::Block& b = plan.blocks[i];
    if (b.outlives_run()) continue;
    plan.total_bytes += aligned(b.bytes);
    // The ranges taken while b lives, by offset; b goes in the first gap that holds it.
    std::vector<std::pair<std::size_t, std::size_t>> taken;
    for (std::size_t j : placed)
      if (lives_overlap(b, plan.blocks[j])) taken.emplace_back(plan.blocks[j].offset, aligned(plan.blocks[j].bytes));
    std::sort(taken.begin(), taken.end());
    std::size_t offset = 0;
    for (const auto& [start, size] : taken) {
      if (start >= offset + aligned(b.bytes)) break;
      offset = std::max(offset, start + size);
    }
    b.offset = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + aligned(b.bytes));
    placed.push_back(i);
  }
}

// ---- RecordingAllocator ----

void* RecordingAllocator::allocate(std::size_t nbytes) {
  void* ptr = base_.allocate(nbytes);
  if (!retired_) {
    block_of_[ptr] = plan_.blocks.size();
    plan_.blocks.push_back({nbytes, events_++, -1, 0});
  }
  return ptr;
}

void RecordingAllocator::deallocate(void* ptr, std::size_t nbytes) {
  base_.deallocate(ptr, nbytes);
  auto it = block_of_.find(ptr);
  if (it != block_of_.end()) {
    if (!retired_) plan_.blocks[it->second].freed = events_++;
    block_of_.erase(it);
  }
  if (retired_ && block_of_.empty()) delete this;
}

MemoryPlan RecordingAllocator::finish() {
  MemoryPlan plan = std::move(plan_);
  retired_ = true;
  if (block_of_.empty()) delete this;
  return plan;
}

// ---- ArenaAllocator ----

ArenaAllocator::ArenaAllocator(const MemoryPlan& plan, Allocator& base) : plan_(plan), base_(base) {
  if (plan_.arena_bytes > 0) arena_ = static_cast<char*>(system_cpu_allocator().allocate(plan_.arena_bytes));
}

ArenaAllocator::~ArenaAllocator() {
  if (arena_ != nullptr) system_cpu_allocator().deallocate(arena_, plan_.arena_bytes);
}

bool ArenaAllocator::begin_run() {
  next_ = 0;
  on_plan_ = true;
  return live_.empty();
}

bool ArenaAllocator::overlaps_live(const MemoryPlan::Block& b) const {
  for (const auto& [_, k] : live_) {
    const MemoryPlan::Block& other = plan_.blocks[k];
    if (b.offset < other.offset + aligned(other.bytes) && other.offset < b.offset + aligned(b.bytes)) return true;
  }
  return false;
}

void* ArenaAllocator::allocate(std::size_t nbytes) {
  if (on_plan_ && !retired_) {
    if (next_ >= plan_.blocks.size() || plan_.blocks[next_].bytes != nbytes) {
      on_plan_ = false;  // more requests than planned, or another size
    } else {
      const std::size_t k = next_++;
      const MemoryPlan::Block& b = plan_.blocks[k];
      if (!b.outlives_run()) {
        if (!overlaps_live(b)) {
          void* ptr = arena_ + b.offset;
          live_[ptr] = k;
          return ptr;
        }
        on_plan_ = false;  // its bytes are still in use: lives differ from the plan's
      }
    }
  }
  void* ptr = base_.allocate(nbytes);
  ++elsewhere_;
  return ptr;
}

void ArenaAllocator::deallocate(void* ptr, std::size_t nbytes) {
  if (arena_ != nullptr && ptr >= arena_ && ptr < arena_ + plan_.arena_bytes) {
    live_.erase(ptr);
  } else {
    base_.deallocate(ptr, nbytes);
    --elsewhere_;
  }
  delete_if_done();
}

void ArenaAllocator::retire() {
  retired_ = true;
  delete_if_done();
}

void ArenaAllocator::delete_if_done() {
  if (retired_ && live_.empty() && elsewhere_ == 0) delete this;
}

}  // namespace strata::graph
