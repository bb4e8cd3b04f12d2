// DataParallel: gradient buckets all-reduced as backward produces them (see
// strata/dist/data_parallel.hpp for the scheme).
#include "strata/dist/data_parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "dist/state_broadcast.hpp"
#include "strata/autograd.hpp"
#include "strata/dist/sync_batch_norm.hpp"
#include "strata/error.hpp"

namespace strata::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// dst[i] = src[i] * weight for n floats; many threads for large gradients.
void copy_scaled(const float* src, float* dst, int64_t n, float weight) {
#pragma omp parallel for schedule(static) if (n >= (int64_t{1} << 18))
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * weight;
}

}  // namespace

struct DataParallel::State {
  // One parameter's place in its bucket.
  struct Slot {
    std::string name;
    Tensor param;
    std::size_t bucket = 0;
    int64_t offset = 0;  // in floats, into the bucket's buffer
    bool ready = false;  // its gradient of this step is in the buffer
    uint64_t hook = 0;
  };
  // Parameters' gradients laid end to end: buffer[offset .. offset + numel) is one parameter's
  // gradient, row-major in its shape.
  struct Bucket {
    std::vector<float> buffer;
    std::vector<std::size_t> slots;  // indices into State::slots, in the bucket's order
    std::size_t pending = 0;         // slots not yet ready this step
    std::unique_ptr<Request> request;
  };

  nn::Module& module;
  Communicator& comm;
  DataParallelOptions options;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  // The synchronized batch norms' groups in the module (convert_sync_batch_norm), which weight
  // their backward's sums by this rank's gradient weight.
  std::vector<std::shared_ptr<SyncBatchNorm>> sync_groups;
  std::size_t next_launch = 0;  // buckets before it have their all-reduce started
  float weight = 1.0f;
  double wait_seconds = 0.0;  // of the last finish()

  State(nn::Module& m, Communicator& c, DataParallelOptions o) : module(m), comm(c), options(o) {}

  void find_sync_groups() {
    for (const auto& [name, m] : module.named_modules()) {
      const auto* bn = dynamic_cast<const nn::BatchNormNd*>(m);
      auto group = bn ? std::dynamic_pointer_cast<SyncBatchNorm>(bn->sync()) : nullptr;
      if (!group || std::find(sync_groups.begin(), sync_groups.end(), group) != sync_groups.end()) continue;
      STRATA_CHECK(&group->communicator() == &comm, "DataParallel: the batch norm '", name,
                   "' is synchronized over another communicator than DataParallel's");
      sync_groups.push_back(group);
    }
  }

  void set_weight(double w) {
    STRATA_CHECK(w > 0.0 || sync_groups.empty(),
                 "DataParallel: gradient weight 0 (a rank without examples), but the model has synchronized batch "
                 "norms, whose forward and backward every rank must run; give every rank at least one example of "
                 "each batch");
    weight = static_cast<float>(w);
    for (const auto& group : sync_groups) group->set_gradient_weight(w);
  }

  // Buckets of about options.bucket_bytes over the parameters in reverse registration order.
  void make_buckets() {
    const std::size_t limit = std::max<std::size_t>(options.bucket_bytes / sizeof(float), 1);
    for (std::size_t k = slots.size(); k-- > 0;) {
      const int64_t numel = slots[k].param.numel();
      const std::size_t filled = buckets.empty() ? 0 : buckets.back().buffer.size();
      if (buckets.empty() || (filled > 0 && filled + static_cast<std::size_t>(numel) > limit))
        buckets.emplace_back();
      Bucket& b = buckets.back();
      slots[k].bucket = buckets.size() - 1;
      slots[k].offset = static_cast<int64_t>(b.buffer.size());
      b.buffer.resize(b.buffer.size() + static_cast<std::size_t>(numel));
      b.slots.push_back(k);
    }
    for (Bucket& b : buckets) b.pending = b.slots.size();
  }

  void put(Slot& slot, const Tensor& grad) {
    float* dst = buckets[slot.bucket].buffer.data() + slot.offset;
    if (grad.defined()) {
      const Tensor g = grad.contiguous();
      copy_scaled(g.data<float>(), dst, g.numel(), weight);
    } else {
      std::fill(dst, dst + slot.param.numel(), 0.0f);
    }
    slot.ready = true;
  }

  void on_ready(std::size_t k, const Tensor& leaf) {
    Slot& slot = slots[k];
    STRATA_CHECK(!slot.ready, "DataParallel: parameter '", slot.name,
                 "' got a gradient from a second backward before finish_gradients(); call finish_gradients() "
                 "after each backward");
    put(slot, leaf.grad());
    if (--buckets[slot.bucket].pending == 0 && options.overlap) launch_ready();
  }

  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      b.request = comm.all_reduce_sum_async(b.buffer);
    }
  }

  void finish() {
    const auto start = Clock::now();
    for (std::size_t i = next_launch; i < buckets.size(); ++i) {
      for (std::size_t k : buckets[i].slots)
        if (!slots[k].ready) put(slots[k], slots[k].param.grad());
      buckets[i].pending = 0;
    }
    launch_ready();
    for (Bucket& b : buckets) {
      b.request->wait();
      b.request.reset();
    }
    const auto reduced = Clock::now();
    for (Slot& slot : slots) {
      const float* sum = buckets[slot.bucket].buffer.data() + slot.offset;
      Tensor grad = slot.param.grad();
      if (!grad.defined() || !grad.is_contiguous() || grad.layout() != Layout::Strided) {
        grad = empty(slot.param.shape());
        slot.param.set_grad(grad);
      }
      std::memcpy(grad.mutable_data<float>(), sum, static_cast<std::size_t>(grad.numel()) * sizeof(float));
      slot.ready = false;
    }
    for (Bucket& b : buckets) b.pending = b.slots.size();
    next_launch = 0;
    if (options.broadcast_buffers) broadcast_tensors(comm, module.named_buffers(), 0);
    wait_seconds = seconds_between(start, reduced);
  }
};

DataParallel::DataParallel(nn::Module& module, Communicator& comm, DataParallelOptions options)
    : s_(std::make_unique<State>(module, comm, options)) {
  State& s = *s_;
  STRATA_CHECK(options.bucket_bytes > 0, "DataParallel: bucket_bytes must be positive");
  s.find_sync_groups();
  s.set_weight(1.0 / static_cast<double>(comm.size()));
  check_same_tensors(comm, "DataParallel", module.state_dict());
  for (const auto& [name, p] : module.named_parameters()) {
    if (!p.requires_grad()) continue;
    STRATA_CHECK(p.dtype() == DType::F32, "DataParallel: parameter '", name, "' is ", dtype_name(p.dtype()),
                 "; the gradient buckets hold f32");
    s.slots.push_back({name, p});
  }
  s.make_buckets();
  broadcast_state();
  for (std::size_t k = 0; k < s.slots.size(); ++k)
    s.slots[k].hook =
        autograd::add_grad_ready_hook(s.slots[k].param, [state = s_.get(), k](const Tensor& leaf) { state->on_ready(k, leaf); });
}

DataParallel::~DataParallel() {
  for (State::Slot& slot : s_->slots) autograd::remove_grad_ready_hook(slot.param, slot.hook);
  for (State::Bucket& b : s_->buckets)
    if (b.request) {
      try {
        b.request->wait();
      } catch (const Error&) {
        // the job is failing already; whoever called finish_gradients() has seen or will see it
      }
    }
}

void DataParallel::set_gradient_weight(double weight) {
  STRATA_CHECK(weight >= 0.0 && weight <= 1.0, "DataParallel: the gradient weight must be in [0, 1], got ", weight);
  STRATA_CHECK(std::none_of(s_->slots.begin(), s_->slots.end(), [](const State::Slot& slot) { return slot.ready; }),
               "DataParallel: set_gradient_weight between a backward and finish_gradients(); set it before the "
               "backward");
  s_->set_weight(weight);
}

double DataParallel::gradient_weight() const { return s_->weight; }
void DataParallel::finish_gradients() { s_->finish(); }
void DataParallel::broadcast_state() { broadcast_tensors(s_->comm, s_->module.state_dict(), 0); }
std::size_t DataParallel::num_buckets() const { return s_->buckets.size(); }
double DataParallel::last_wait_seconds() const { return s_->wait_seconds; }

}  // namespace strata::dist
