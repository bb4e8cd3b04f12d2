// Tensor creation, metadata, element access, dtype conversion, allocation and edge cases
// (0-d, zero-size, undefined, huge shapes).
#include <algorithm>
#include <cmath>
#include <new>
#include <type_traits>

#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

#ifdef __SANITIZE_ADDRESS__
// AddressSanitizer aborts on an allocation it cannot serve; ask it to return null as malloc does,
// so that the out-of-memory path (HugeShapesAreErrorsNotCrashes) is tested under it too.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace {
Tensor i64(const std::vector<int64_t>& v, const Shape& shape = {}) {
  return from_data(std::span<const int64_t>(v), shape);
}

bool aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % kStorageAlignment == 0; }

}  // namespace

TEST(Tensor, CreationAndMetadata) {
  Tensor t = zeros({2, 3});
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.strides(), (Shape{3, 1}));
  EXPECT_EQ(t.offset(), 0);
  EXPECT_EQ(t.ndim(), 2);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.is_leaf());
  EXPECT_FALSE(t.requires_grad());
  EXPECT_FALSE(t.grad().defined());
  EXPECT_EQ(t.storage()->nbytes(), 6 * sizeof(float));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>(6, 0.0f)));
}

TEST(Tensor, FillsEveryDtype) {
  EXPECT_EQ(ones({3}).to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(full({2}, 7.5).to_vector<float>(), (std::vector<float>{7.5, 7.5}));
  EXPECT_EQ(full({2, 2}, -1.25, DType::F64).to_vector<double>(), (std::vector<double>(4, -1.25)));
  EXPECT_EQ(zeros({2}, DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(full({3}, 42, DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{42, 42, 42}));
  Tensor like = ones_like(full({2, 2}, 3.0, DType::F64));
  EXPECT_EQ(like.dtype(), DType::F64);
  EXPECT_EQ(like.shape(), (Shape{2, 2}));
  EXPECT_EQ(like.to_vector<double>(), (std::vector<double>(4, 1.0)));
  EXPECT_EQ(zeros_like(like).to_vector<double>(), (std::vector<double>(4, 0.0)));
  EXPECT_EQ(empty_like(like).shape(), (Shape{2, 2}));
}

TEST(Tensor, StorageIsAlignedTo64Bytes) {
  for (int64_t n : {0, 1, 3, 17, 1000, 4097}) {
    for (DType dt : {DType::F32, DType::F64, DType::I64}) {
      Tensor t = empty({n}, dt);
      EXPECT_TRUE(aligned(t.raw_data())) << "n=" << n << " dtype " << dtype_name(dt);
      EXPECT_EQ(t.storage()->nbytes(), static_cast<std::size_t>(n) * dtype_size(dt));
    }
  }
}

TEST(Tensor, Arange) {
  EXPECT_EQ(arange(5).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(2.0, 8.0, 2.0).to_vector<float>(), (std::vector<float>{2, 4, 6}));
  EXPECT_EQ(arange(2.0, 7.0, 2.0).to_vector<float>(), (std::vector<float>{2, 4, 6}));
  // Negative step counts down and stops above `end`.
  EXPECT_EQ(arange(5.0, 0.0, -1.5).to_vector<float>(), (std::vector<float>{5, 3.5, 2, 0.5}));
  EXPECT_EQ(arange(3.0, 0.0, -1.0).to_vector<float>(), (std::vector<float>{3, 2, 1}));
  expect_near(arange(0.0, 1.0, 0.25, DType::F64), {4}, {0, 0.25, 0.5, 0.75}, 0);
  // Empty ranges, including a step pointing away from `end`.
  EXPECT_EQ(arange(0).shape(), (Shape{0}));
  EXPECT_EQ(arange(1.0, 1.0).numel(), 0);
  EXPECT_EQ(arange(0.0, 5.0, -1.0).numel(), 0);
  Tensor ints = arange(4, DType::I64);
  EXPECT_EQ(ints.dtype(), DType::I64);
  EXPECT_EQ(ints.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  expect_error([] { arange(0.0, 1.0, 0.0); }, "arange: step must be finite and non-zero, got 0");
  expect_error([] { arange(0.0, INFINITY); }, "arange: start and end must be finite");
}

TEST(Tensor, FromData) {
  Tensor a = from_data({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.dtype(), DType::F32);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  Tensor b = f64({0.5, -1.5});
  EXPECT_EQ(b.shape(), (Shape{2}));
  EXPECT_EQ(b.dtype(), DType::F64);
  EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{0.5, -1.5}));
  Tensor c = i64({7, -8, 9}, {3, 1});
  EXPECT_EQ(c.dtype(), DType::I64);
  EXPECT_EQ(c.shape(), (Shape{3, 1}));
  // The tensor owns a copy: changing the source afterwards changes nothing.
  std::vector<float> src{1, 2};
  Tensor d = from_data(std::span<const float>(src));
  src[0] = 100;
  EXPECT_EQ(d.to_vector<float>(), (std::vector<float>{1, 2}));
  expect_error([] { from_data({1, 2, 3, 4, 5}, {2, 3}); },
               "from_data: 5 values do not fill shape [2,3] (6 elements)");
}

TEST(Tensor, UniformIsReproducibleAndHasTheRightMoments) {
  Generator g1(7), g2(7), g3(8);
  Tensor a = uniform({100000}, -2.0, 4.0, g1);
  Tensor b = uniform({100000}, -2.0, 4.0, g2);
  Tensor c = uniform({100000}, -2.0, 4.0, g3);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  const std::vector<double> v = a.to_vector<double>();
  double mean = 0, var = 0, lo = 1e9, hi = -1e9;
  for (double x : v) mean += x, lo = std::min(lo, x), hi = std::max(hi, x);
  mean /= v.size();
  for (double x : v) var += (x - mean) * (x - mean);
  var /= v.size();
  EXPECT_GE(lo, -2.0);
  EXPECT_LE(hi, 4.0);
  EXPECT_NEAR(mean, 1.0, 0.03);       // (low + high) / 2
  EXPECT_NEAR(var, 36.0 / 12, 0.05);  // (high - low)^2 / 12
  EXPECT_EQ(uniform({3}, 0, 1, g1, DType::F64).dtype(), DType::F64);
  expect_error([&] { uniform({3}, 1.0, 0.0, g1); }, "uniform: low 1 is greater than high 0");
  expect_error([&] { uniform({3}, 0.0, 1.0, g1, DType::I64); }, "uniform: expected a floating-point tensor");
}

TEST(Tensor, NormalIsReproducibleAndHasTheRightMoments) {
  Generator g1(11), g2(11);
  Tensor a = normal({200000}, 3.0, 0.5, g1, DType::F64);
  EXPECT_EQ(a.to_vector<double>(), normal({200000}, 3.0, 0.5, g2, DType::F64).to_vector<double>());
  const std::vector<double> v = a.to_vector<double>();
  double mean = 0, var = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  for (double x : v) var += (x - mean) * (x - mean);
  var /= v.size();
  EXPECT_NEAR(mean, 3.0, 0.01);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.01);
  expect_error([&] { normal({3}, 0.0, -1.0, g1); }, "normal: standard deviation must be non-negative, got -1");
}

TEST(Tensor, ItemAndToVector) {
  EXPECT_EQ(full({1, 1}, 2.5).item(), 2.5);
  EXPECT_EQ(full({}, -3.0, DType::F64).item(), -3.0);
  EXPECT_EQ(full({1}, 9, DType::I64).item(), 9.0);
  expect_error([] { zeros({2}).item(); }, "item: tensor of shape [2] has 2 elements, expected exactly one");
  // to_vector follows the logical (row-major) order of a view, not the memory order.
  Tensor t = from_data({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
  expect_error([&] { (void)t.data<double>(); }, "data: tensor has dtype f32, expected f64");
}

TEST(Tensor, I64KeepsLargeValuesExactly) {
  const int64_t big = (int64_t{1} << 53) + 1;  // not representable in double
  Tensor t = i64({big, -big});
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{big, -big}));
  EXPECT_EQ(t.clone().to_vector<int64_t>(), (std::vector<int64_t>{big, -big}));
  EXPECT_EQ(t.slice(0, 1, 2).contiguous().data<int64_t>()[0], -big);
  expect_error([&] { (void)(t + t); }, "add: expected floating-point operands, got i64");
  expect_error([&] { t.set_requires_grad(true); }, "only floating-point tensors can require grad, this one is i64");
}

TEST(Tensor, DtypeConversion) {
  Tensor x = from_data({1.5f, -2.75f, 3.0f});
  Tensor d = x.to(DType::F64);
  EXPECT_EQ(d.dtype(), DType::F64);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{1.5, -2.75, 3.0}));
  EXPECT_NE(d.storage(), x.storage());
  // Float to integer truncates toward zero, as a C++ cast and PyTorch do.
  EXPECT_EQ(x.to(DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(i64({4, -5}).to(DType::F32).to_vector<float>(), (std::vector<float>{4, -5}));
  // The same dtype gives the same tensor back.
  EXPECT_TRUE(x.to(DType::F32).is_same(x));
  // A non-contiguous source converts in logical order.
  EXPECT_EQ(from_data({1, 2, 3, 4}, {2, 2}).transpose(0, 1).to(DType::F64).to_vector<double>(),
            (std::vector<double>{1, 3, 2, 4}));
}

TEST(Tensor, DTypeAndDeviceNames) {
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_STREQ(dtype_name(DType::F32), "f32");
  EXPECT_STREQ(dtype_name(DType::F64), "f64");
  EXPECT_STREQ(dtype_name(DType::I64), "i64");
  EXPECT_TRUE(is_floating(DType::F64));
  EXPECT_FALSE(is_floating(DType::I64));
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_EQ(Device::cuda(1).str(), "cuda:1");
  expect_error([] { empty({2}, DType::F32, Device::cuda()); }, "storage: device cuda:0 is not available");
}

TEST(Tensor, SizeChecksItsDimension) {
  Tensor t = zeros({2, 3});
  expect_error([&] { t.size(2); },
               "size: dimension 2 is out of range for a tensor with 2 dimensions (expected -2 to 1)");
  expect_error([&] { t.size(-3); }, "size: dimension -3 is out of range");
  expect_error([] { full({}, 1.0).size(0); }, "size: dimension 0 of a 0-dimensional tensor");
}

// ---- 0-d tensors ----

TEST(Tensor, ScalarsWorkEverywhere) {
  Tensor s = full({}, 3.0);
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_TRUE(s.is_contiguous());
  EXPECT_EQ(s.item(), 3.0);
  EXPECT_EQ((s * s + 1.0).item(), 10.0);
  EXPECT_EQ((s + ones({2, 2})).shape(), (Shape{2, 2}));
  EXPECT_EQ(s.sum().shape(), Shape{});
  EXPECT_EQ(s.sum().item(), 3.0);
  EXPECT_EQ(s.sum({0}).item(), 3.0);  // dim 0 and -1 name the scalar itself, as in PyTorch
  EXPECT_EQ(s.mean({-1}).item(), 3.0);
  EXPECT_EQ(s.max().item(), 3.0);
  EXPECT_EQ(s.max(0).item(), 3.0);
  EXPECT_EQ(s.argmax(0).item(), 0.0);
  EXPECT_EQ(s.flatten().shape(), (Shape{1}));
  EXPECT_EQ(s.unsqueeze(0).shape(), (Shape{1}));
  EXPECT_EQ(s.view({1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(ones({1, 1}).reshape({}).shape(), Shape{});
  EXPECT_EQ(s.exp().shape(), Shape{});
  EXPECT_EQ(s.clone().item(), 3.0);
  EXPECT_EQ(s.to(DType::I64).item(), 3.0);
  expect_error([&] { matmul(s, s); }, "matmul: operands must have at least one dimension, got [] and []");
  expect_error([&] { cat({s, s}, 0); }, "cat: 0-dimensional tensors cannot be concatenated");
}

TEST(Tensor, ScalarGradient) {
  Tensor s = requires_grad(full({}, 2.0, DType::F64));
  Tensor y = (s * s).max(0);
  y.backward();
  EXPECT_EQ(s.grad().shape(), Shape{});
  EXPECT_EQ(s.grad().item(), 4.0);
}

// ---- Zero-size tensors ----

TEST(Tensor, ZeroSizeTensors) {
  Tensor z = zeros({0, 3});
  EXPECT_EQ(z.numel(), 0);
  EXPECT_TRUE(z.to_vector<float>().empty());
  EXPECT_EQ((z + ones({3})).shape(), (Shape{0, 3}));
  EXPECT_EQ((z * 2.0).exp().shape(), (Shape{0, 3}));
  expect_near(z.sum({0}), {3}, {0, 0, 0});
  EXPECT_EQ(z.sum({1}).shape(), (Shape{0}));
  EXPECT_EQ(z.sum().item(), 0.0);
  EXPECT_EQ(z.max(1).shape(), (Shape{0}));
  expect_error([&] { z.max(0); }, "max: reducing over an empty dimension of shape [0,3]");
  expect_error([&] { z.max(); }, "max: reducing over an empty dimension");
  expect_error([&] { z.mean(); }, "mean: reducing over an empty dimension of shape [0,3]");
  expect_error([&] { z.argmax(0); }, "argmax: reducing over an empty dimension");
  EXPECT_EQ(matmul(z, ones({3, 4})).shape(), (Shape{0, 4}));
  expect_near(matmul(ones({2, 0}), ones({0, 3})), {2, 3}, {0, 0, 0, 0, 0, 0});
  EXPECT_EQ(z.clone().shape(), (Shape{0, 3}));
  EXPECT_EQ(z.transpose(0, 1).contiguous().shape(), (Shape{3, 0}));
  EXPECT_EQ(z.view({-1}).shape(), (Shape{0}));
  EXPECT_EQ(z.reshape({3, 0, 5}).shape(), (Shape{3, 0, 5}));
  EXPECT_EQ(cat({z, ones({2, 3})}, 0).shape(), (Shape{2, 3}));
  EXPECT_EQ(ones({4}).slice(0, 3, 1).numel(), 0);
  z.fill_(1.0);
  z.copy_(ones({3}));
  z.add_(ones({0, 3}));

  Tensor x = requires_grad(zeros({0, 3}, DType::F64));
  (x * 2.0).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().shape(), (Shape{0, 3}));
}

// ---- Undefined tensors ----

TEST(Tensor, UndefinedTensorsGiveClearErrors) {
  Tensor u;
  Tensor x = ones({2});
  EXPECT_FALSE(u.defined());
  EXPECT_EQ(u.str(), "tensor(undefined)");
  expect_error([&] { (void)u.shape(); }, "tensor: operation on an undefined tensor");
  expect_error([&] { u.item(); }, "operation on an undefined tensor");
  expect_error([&] { (void)(u + x); }, "add: operand is an undefined tensor");
  expect_error([&] { (void)(x * u); }, "mul: operand is an undefined tensor");
  expect_error([&] { u.exp(); }, "exp: operand is an undefined tensor");
  expect_error([&] { (void)(u * 2.0); }, "mul: operand is an undefined tensor");
  expect_error([&] { u.sum(); }, "sum: called on an undefined tensor");
  expect_error([&] { u.sum({0}); }, "sum: called on an undefined tensor");
  expect_error([&] { u.mean(); }, "mean: called on an undefined tensor");
  expect_error([&] { u.max(); }, "max: called on an undefined tensor");
  expect_error([&] { u.argmax(0); }, "argmax: called on an undefined tensor");
  expect_error([&] { matmul(u, x); }, "matmul: left operand is an undefined tensor");
  expect_error([&] { matmul(x, u); }, "matmul: right operand is an undefined tensor");
  expect_error([&] { cat({x, u}, 0); }, "cat: tensor 1 is undefined");
  expect_error([&] { x.copy_(u); }, "copy_: source is an undefined tensor");
  expect_error([&] { x.add_(u); }, "add_: operand is an undefined tensor");
  expect_error([&] { u.fill_(1.0); }, "fill_: called on an undefined tensor");
  expect_error([&] { u.view({1}); }, "operation on an undefined tensor");
  expect_error([&] { u.backward(); }, "backward: called on an undefined tensor");
  expect_error([&] { u.set_grad(x); }, "set_grad: called on an undefined tensor");
  expect_error([&] { u.set_grad(Tensor()); }, "set_grad: called on an undefined tensor");
  u.zero_grad();  // nothing to drop
}

// ---- Huge shapes and allocation failures ----

TEST(Tensor, HugeShapesAreErrorsNotCrashes) {
  const int64_t big = int64_t{1} << 40;
  expect_error([&] { empty({big, big}); }, "empty: shape [1099511627776,1099511627776] has too many elements");
  expect_error([&] { zeros({big, big, big}); }, "too many elements");
  // Representable, but 4 PiB: the allocator's failure arrives as a strata::Error.
  expect_error([] { empty({int64_t{1} << 50}); }, "out of memory: could not allocate 4503599627370496 bytes on cpu");
  expect_error([] { empty({2, -1}); }, "empty: negative size in shape [2,-1]");
  // A shape whose element count overflows is refused wherever it is used.
  expect_error([&] { (void)Shape({big, big, big}).numel(); }, "overflows int64");
  expect_error([&] { ones({4}).view({big, big, big}); }, "overflows int64");
}

namespace {

// Counts allocations and fails those above a limit the standard way (std::bad_alloc).
class LimitedAllocator final : public Allocator {
 public:
  explicit LimitedAllocator(std::size_t limit) : limit_(limit) {}
  void* allocate(std::size_t nbytes) override {
    if (nbytes > limit_) throw std::bad_alloc();
    ++live;
    return cpu_default.allocate(nbytes);
  }
  void deallocate(void* ptr, std::size_t nbytes) override {
    --live;
    cpu_default.deallocate(ptr, nbytes);
  }
  int live = 0;
  Allocator& cpu_default = cpu_allocator();

 private:
  std::size_t limit_;
};

}  // namespace

TEST(Tensor, InstalledAllocatorIsUsedAndItsFailuresBecomeErrors) {
  LimitedAllocator limited(1024);
  set_cpu_allocator(&limited);
  {
    Tensor a = ones({16});
    Tensor b = a * 2.0;
    EXPECT_EQ(limited.live, 2);
    EXPECT_EQ(b.to_vector<float>(), std::vector<float>(16, 2.0f));
    expect_error([] { ones({1000}); }, "out of memory: could not allocate 4000 bytes on cpu");
  }
  EXPECT_EQ(limited.live, 0);
  set_cpu_allocator(nullptr);
  EXPECT_EQ(ones({1000}).numel(), 1000);
}

// Contents that can be computed again (a compiled model's folded weights) give their bytes back
// and are made again on the next read, under the same id and version.
TEST(Storage, ReleasedContentsAreMadeAgainOnRead) {
  Tensor t = zeros({1000});
  Storage& s = *t.storage();
  s.release_contents();
  EXPECT_FALSE(s.contents_released()) << "nothing to make them again with: kept";
  int fills = 0;
  s.set_remake([&fills](void* out) {
    ++fills;
    std::fill_n(static_cast<float*>(out), 1000, 7.0f);
  });
  const uint64_t id = s.id(), version = s.version();
  s.release_contents();
  EXPECT_TRUE(s.contents_released());
  EXPECT_EQ(t.data<float>()[999], 7.0f);
  EXPECT_EQ(t.data<float>()[0], 7.0f);
  EXPECT_EQ(fills, 1) << "made once, then read";
  EXPECT_FALSE(s.contents_released());
  EXPECT_EQ(s.id(), id);
  EXPECT_EQ(s.version(), version);
  // A remake that fails leaves the contents released, and the next read tries again.
  s.set_remake([](void*) { fail("cannot"); });
  s.release_contents();
  expect_error([&] { t.data<float>(); }, "cannot");
  EXPECT_TRUE(s.contents_released());
}

// Storage versions: what caches of derived values (inference's reordered weights) rely on.
TEST(StorageVersion, WritableAccessBumpsItReadsDoNot) {
  Tensor t = zeros({4});
  const uint64_t v0 = t.storage()->version();
  EXPECT_EQ(*t.data<float>(), 0.0f);
  t.raw_data();
  t.to_vector<float>();
  EXPECT_EQ(t.storage()->version(), v0) << "reads leave the version";
  // A pointer for reading cannot be written through (which would leave derived caches stale).
  static_assert(std::is_same_v<decltype(t.data<float>()), const float*>);
  static_assert(std::is_same_v<decltype(t.raw_data()), const void*>);
  t.mutable_data<float>()[0] = 1.0f;
  const uint64_t v1 = t.storage()->version();
  EXPECT_GT(v1, v0);
  t.fill_(2.0);
  EXPECT_GT(t.storage()->version(), v1);
  const Tensor view = t.view({2, 2});
  const uint64_t v2 = t.storage()->version();
  view.mutable_data<float>();
  EXPECT_GT(t.storage()->version(), v2) << "a view writes the same storage";
  EXPECT_NE(t.clone().storage()->id(), t.storage()->id());
}
