#include "kernels/dnnl/context.hpp"

#include <cstring>

#include "core/layout.hpp"
#include "core/page_allocator.hpp"
#include "core/parallel_copy.hpp"
#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"

namespace strata::dnnl_backend {

using dnnl::memory;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

Layout preferred_layout(const Shape& shape) { return blockable(shape) ? Layout::Blocked16 : Layout::Strided; }

Tensor in_layout(const Tensor& t, Layout layout) { return to_layout(t.detach(), layout); }

Tensor empty_preferred(const Shape& shape) {
  return empty_in(shape, DType::F32, Device::cpu(), preferred_layout(shape));
}


memory::dims dims_of(const Shape& shape) { return memory::dims(shape.begin(), shape.end()); }

memory::desc desc_of(const Shape& shape, Layout layout) {
  using tag = memory::format_tag;
  if (layout == Layout::Blocked16) {
    return memory::desc(dims_of(shape), memory::data_type::f32, shape.ndim() == 4 ? tag::nChw16c : tag::nCdhw16c);
  }
  static const tag plain[] = {tag::undef, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  STRATA_CHECK(shape.ndim() >= 1 && shape.ndim() <= 6, "dnnl: unsupported rank ", shape.ndim());
  return memory::desc(dims_of(shape), memory::data_type::f32, plain[shape.ndim()]);
}

memory memory_of(const memory::desc& desc, const Tensor& t) {
  return memory(desc, engine(), const_cast<void*>(t.raw_data()));
}

memory memory_of(const Tensor& t) {
  STRATA_CHECK(t.layout() != Layout::Strided || t.is_contiguous(), "dnnl: tensor of shape ", t.shape(),
               " is not dense");
  return memory_of(desc_of(t), t);
}

namespace {

// Whether `blocked` is `plain`'s dims in 16-channel blocks (nChw16c / nCdhw16c, the channels padded
// to whole blocks), `plain` dense row-major f32 of 4 or 5 dims.
bool plain_and_blocked(const memory::desc& plain, const memory::desc& blocked) {
  const memory::dims dims = plain.dims();
  if (dims.size() != 4 && dims.size() != 5) return false;
  const Shape shape{std::span<const int64_t>(dims.data(), dims.size())};
  return plain == desc_of(shape, Layout::Strided) && blocked == desc_of(shape, Layout::Blocked16);
}

}  // namespace

void reorder(const memory& from, const memory& to) {
  // Between plain and blocked activations Strata's own loop (core/layout.hpp): oneDNN 2.6's
  // reorder takes 0.05-0.09 ms for a 1x24x56x56 tensor whose channels it pads (MobileNetV2's).
  const memory::desc from_desc = from.get_desc(), to_desc = to.get_desc();
  const bool to_blocked = plain_and_blocked(from_desc, to_desc);
  if (to_blocked || plain_and_blocked(to_desc, from_desc)) {
    const memory::dims dims = from_desc.dims();
    int64_t spatial = 1;
    for (std::size_t i = 2; i < dims.size(); ++i) spatial *= dims[i];
    const auto* src = static_cast<const float*>(from.get_data_handle());
    auto* dst = static_cast<float*>(to.get_data_handle());
    if (to_blocked) plain_to_blocked(src, dst, dims[0], dims[1], spatial);
    else blocked_to_plain(src, dst, dims[0], dims[1], spatial);
    return;
  }
  // Keyed by both descriptors' bytes: oneDNN zero-fills a descriptor before writing its fields.
  // The scratchpad is the caller's (a Winograd weight reorder's is tens of MB): a cached primitive
  // with a scratchpad of its own would hold it for the process's life.
  struct Plan {
    memory::desc scratchpad;
    dnnl::reorder primitive;
  };
  static Cache<Plan> cache;
  std::string key(reinterpret_cast<const char*>(&from_desc.data), sizeof from_desc.data);
  key.append(reinterpret_cast<const char*>(&to_desc.data), sizeof to_desc.data);
  const Plan& plan = cache.get(key, [&] {
    const dnnl::reorder::primitive_desc pd(engine(), from_desc, engine(), to_desc, user_scratchpad());
    return Plan{pd.scratchpad_desc(), dnnl::reorder(pd)};
  });
  std::unordered_map<int, memory> args{{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  // The reorders that want a scratchpad are weight reorders (into Winograd's layout). In training
  // they run every step, and the caching allocator serves them again each time; at inference they
  // run once per weight (the weight cache), in pages of their own (core/page_allocator.hpp).
  Tensor scratchpad;
  add_scratchpad(plan.scratchpad, args, scratchpad, GradMode::is_enabled() ? cpu_allocator() : page_allocator());
  plan.primitive.execute(stream(), args);
}

memory reorder_to(const memory::desc& desc, const memory& from, Tensor& holder) {
  if (from.get_desc() == desc) return from;
  holder = empty({static_cast<int64_t>((desc.get_size() + 3) / 4)});
  memory to(desc, engine(), holder.mutable_raw_data());
  reorder(from, to);
  return to;
}

memory as_input(const memory::desc& desc, const Tensor& t, Tensor& holder) {
  const Tensor dense = t.layout() == Layout::Strided ? t.detach().contiguous() : t.detach();
  holder = dense;
  return reorder_to(desc, memory_of(dense), holder);
}

Output::Output(const memory::desc& desc, const Shape& shape) : result_(empty_preferred(shape)) {
  dnnl::memory own = memory_of(result_);
  if (own.get_desc() == desc) {
    memory_ = own;
  } else {
    scratch_ = empty({static_cast<int64_t>((desc.get_size() + 3) / 4)});
    memory_ = dnnl::memory(desc, engine(), scratch_.mutable_raw_data());
  }
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void add_scratchpad(const memory::desc& desc, std::unordered_map<int, memory>& args, Tensor& holder,
                    Allocator& allocator) {
  if (desc.get_size() == 0) return;
  holder = empty_from(allocator, {static_cast<int64_t>((desc.get_size() + 3) / 4)});
  args.emplace(DNNL_ARG_SCRATCHPAD, memory(desc, engine(), holder.mutable_raw_data()));
}

namespace {

// `to` = `from`: a plain copy, threads sharing it, where the two have one layout (a residual
// into a convolution's output before its sum post-op); else oneDNN's reorder. (oneDNN 2.6 copies
// equal layouts with its generic element-wise reorder, which moved a 1x64x56x56 residual in
// 0.078 ms at 2 threads.)
void copy_memory(const memory& from, memory& to) {
  if (from.get_desc() != to.get_desc()) {
    reorder(from, to);
    return;
  }
  const auto bytes = static_cast<int64_t>(from.get_desc().get_size());
  parallel_copy_runs(static_cast<char*>(to.get_data_handle()), bytes, static_cast<const char*>(from.get_data_handle()),
                     bytes, 1, bytes);
}

}  // namespace

void Output::fill(const Tensor& t) {
  const Tensor dense = t.layout() == Layout::Strided ? t.detach().contiguous() : t.detach();
  copy_memory(memory_of(dense), memory_);
}

Tensor Output::finish() {
  if (scratch_.defined()) {
    dnnl::memory own = memory_of(result_);
    reorder(memory_, own);
  }
  return result_;
}


}  // namespace strata::dnnl_backend
