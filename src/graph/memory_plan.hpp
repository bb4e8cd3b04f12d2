// Memory planning for inference (onnxruntime's memory pattern, TFLite's arena planner): one
// arena for every buffer a program's run allocates on its own thread (node outputs and the
// kernels' temporaries alike), each at an offset chosen so that buffers alive at the same time
// never share bytes, and buffers whose lives do not overlap do.
//
// A run's allocations are the same, in size and order, every time it runs on inputs of its
// shape: the plan records them from one run (RecordingAllocator), places them
// (plan_offsets), and later runs take them from the arena in that order (ArenaAllocator). A
// request that does not match the plan (its size differs, or its bytes are still taken) is served
// by the ordinary allocator instead, and the program plans again; a buffer the run hands out (its
// output) or keeps is never in the arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "strata/storage.hpp"

namespace strata::graph {

struct MemoryPlan {
  struct Block {
    std::size_t bytes = 0;
    int64_t allocated = 0, freed = -1;  // event numbers of the run; freed -1: outlives the run
    std::size_t offset = 0;             // in the arena (blocks that outlive the run: unused)
    bool outlives_run() const { return freed < 0; }
  };
  std::vector<Block> blocks;  // in the order the run allocates them
  std::size_t arena_bytes = 0;  // the arena: the peak of the run's planned buffers
  std::size_t total_bytes = 0;  // the planned buffers' sizes summed: the arena without reuse
};

// Places the blocks: greedily by size, each at the lowest offset (a multiple of the storage
// alignment) free of every placed block whose life overlaps its own; sets arena_bytes.
void plan_offsets(MemoryPlan& plan);

// Records the sizes and lives of the storages allocated through it (forwarding to `base`).
// Heap-allocated and deleted by itself: after retire(), when the last storage it gave out is freed
// (storages it gave out keep pointing at it, however long they live).
class RecordingAllocator final : public Allocator {
 public:
  static RecordingAllocator* create(Allocator& base) { return new RecordingAllocator(base); }
  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  // What was recorded so far (blocks still alive outlive the run), then retire().
  MemoryPlan finish();

 private:
  explicit RecordingAllocator(Allocator& base) : base_(base) {}
  Allocator& base_;
  MemoryPlan plan_;
  int64_t events_ = 0;
  std::unordered_map<void*, std::size_t> block_of_;  // live pointer -> its block
  bool retired_ = false;
};

// Serves allocations from one arena in the order of a plan (see the top of this file), the rest
// from `base`; heap-allocated and deleted by itself like RecordingAllocator, once retired and every
// buffer it gave out (from the arena or not) is freed.
class ArenaAllocator final : public Allocator {
 public:
  static ArenaAllocator* create(const MemoryPlan& plan, Allocator& base) { return new ArenaAllocator(plan, base); }
  // Starts a run: the plan's first block next. False when a buffer of the last run is still in
  // the arena (then this arena cannot serve another run).
  bool begin_run();
  // Whether every request of the run so far matched the plan.
  bool on_plan() const { return on_plan_; }
  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  // No more runs: deleted once its last buffer is freed.
  void retire();

 private:
  ArenaAllocator(const MemoryPlan& plan, Allocator& base);
  ~ArenaAllocator() override;
  bool overlaps_live(const MemoryPlan::Block& b) const;
  void delete_if_done();

  const MemoryPlan plan_;
  Allocator& base_;
  char* arena_ = nullptr;
  std::size_t next_ = 0;  // the plan's block the next request should be
  bool on_plan_ = true, retired_ = false;
  std::unordered_map<const void*, std::size_t> live_;  // arena pointer -> its block, while in use
  int64_t elsewhere_ = 0;  // buffers given out from `base` and not freed yet
};

}  // namespace strata::graph
