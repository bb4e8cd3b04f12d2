// StridedLoop (core/strided.hpp): dimension merging with broadcast (stride 0) operands, and
// that running it visits every element exactly once with the right offsets.
#include <algorithm>
#include <mutex>

#include "common/test_util.hpp"
#include "core/strided.hpp"

using namespace strata;

namespace {

// Every (offset of operand 0, offset of operand 1) pair, by brute force over the full shape.
std::vector<std::pair<int64_t, int64_t>> naive_offsets(const Shape& shape, const Shape& s0, const Shape& s1) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t flat = 0; flat < shape.numel(); ++flat) {
    int64_t rem = flat, o0 = 0, o1 = 0;
    for (int d = shape.ndim() - 1; d >= 0; --d) {
      const int64_t i = rem % shape[d];
      rem /= shape[d];
      o0 += i * s0[d];
      o1 += i * s1[d];
    }
    out.emplace_back(o0, o1);
  }
  return out;
}

// The pairs the loop visits, sorted (rows may run in parallel in any order).
std::vector<std::pair<int64_t, int64_t>> visited(const StridedLoop<2>& loop, int64_t chunk) {
  std::vector<std::pair<int64_t, int64_t>> out;
  std::mutex m;
  loop.run(
      [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> st) {
        std::lock_guard<std::mutex> lock(m);
        for (int64_t i = 0; i < n; ++i) out.emplace_back(off[0] + i * st[0], off[1] + i * st[1]);
      },
      chunk);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(StridedLoop, MergesDenseDimsIntoOneRow) {
  const Shape shape{2, 3, 4};
  StridedLoop<2> loop(shape, {contiguous_strides(shape), contiguous_strides(shape)});
  EXPECT_EQ(loop.shape, (Shape{24}));
  EXPECT_EQ(loop.rows, 1);
  EXPECT_EQ(loop.row_length, 24);
  EXPECT_EQ(loop.row_strides(), (std::array<int64_t, 2>{1, 1}));
}

TEST(StridedLoop, BroadcastOperandsMergeOnlyWhereConsistent) {
  // (3,1) expanded to (3,4): strides (1,0); the output (4,1). Nothing merges.
  StridedLoop<2> col({3, 4}, {Shape{4, 1}, Shape{1, 0}});
  EXPECT_EQ(col.shape, (Shape{3, 4}));
  EXPECT_EQ(col.rows, 3);
  EXPECT_EQ(col.row_strides(), (std::array<int64_t, 2>{1, 0}));
  // (1,4) expanded to (3,4): strides (0,1).
  StridedLoop<2> row({3, 4}, {Shape{4, 1}, Shape{0, 1}});
  EXPECT_EQ(row.shape, (Shape{3, 4}));
  // A scalar expanded to (3,4): strides (0,0) merge along with the dense output.
  StridedLoop<2> scalar({3, 4}, {Shape{4, 1}, Shape{0, 0}});
  EXPECT_EQ(scalar.shape, (Shape{12}));
  EXPECT_EQ(scalar.row_strides(), (std::array<int64_t, 2>{1, 0}));
  // (2,1,4) expanded to (2,3,4): the broadcast middle dim splits the merge in two places.
  StridedLoop<2> mid({2, 3, 4}, {Shape{12, 4, 1}, Shape{4, 0, 1}});
  EXPECT_EQ(mid.shape, (Shape{2, 3, 4}));
  // (2,3,1) expanded to (2,3,5): outer dims merge, the broadcast inner one stays.
  StridedLoop<2> inner({2, 3, 5}, {Shape{15, 5, 1}, Shape{3, 1, 0}});
  EXPECT_EQ(inner.shape, (Shape{6, 5}));
  EXPECT_EQ(inner.strides[1], (Shape{1, 0}));
  // A transposed operand merges nothing.
  StridedLoop<2> t({3, 4}, {Shape{4, 1}, Shape{1, 3}});
  EXPECT_EQ(t.shape, (Shape{3, 4}));
}

TEST(StridedLoop, SizeOneAndEmptyShapes) {
  StridedLoop<1> ones_shape({1, 1, 1}, {Shape{7, 3, 1}});
  EXPECT_EQ(ones_shape.rows, 1);
  EXPECT_EQ(ones_shape.row_length, 1);
  StridedLoop<1> scalar(Shape{}, {Shape{}});
  EXPECT_EQ(scalar.rows, 1);
  EXPECT_EQ(scalar.row_length, 1);
  // Size-1 dims with arbitrary strides are skipped when merging.
  StridedLoop<1> squeezed({4, 1, 5}, {Shape{5, 99, 1}});
  EXPECT_EQ(squeezed.shape, (Shape{20}));
  for (const Shape& s : {Shape{0}, Shape{3, 0}, Shape{0, 4}, Shape{2, 0, 3}}) {
    StridedLoop<1> empty_loop(s, {contiguous_strides(s)});
    EXPECT_EQ(empty_loop.rows, 0) << s;
    int calls = 0;
    empty_loop.run([&](auto, int64_t, auto) { ++calls; });
    EXPECT_EQ(calls, 0) << s;
  }
}

TEST(StridedLoop, VisitsEveryElementOnceWithTheRightOffsets) {
  struct Case {
    Shape shape, s0, s1;
  };
  const Case cases[] = {
      {{2, 3, 4}, {12, 4, 1}, {12, 4, 1}},     // dense
      {{3, 4}, {4, 1}, {1, 3}},                // transposed operand
      {{2, 3, 4}, {12, 4, 1}, {0, 4, 1}},      // broadcast outer dim
      {{2, 3, 4}, {12, 4, 1}, {4, 0, 1}},      // broadcast middle dim
      {{2, 3, 5}, {15, 5, 1}, {3, 1, 0}},      // broadcast inner dim
      {{4, 1, 6}, {6, 6, 1}, {12, 5, 2}},      // stepped slice, size-1 dim
      {{300, 250}, {250, 1}, {0, 1}},          // large enough to run in parallel
      {{2, 70000}, {70000, 1}, {1, 2}},        // long rows split into chunks
  };
  for (const Case& c : cases) {
    StridedLoop<2> loop(c.shape, {c.s0, c.s1});
    const auto expected = [&] {
      auto v = naive_offsets(c.shape, c.s0, c.s1);
      std::sort(v.begin(), v.end());
      return v;
    }();
    EXPECT_EQ(visited(loop, 32768), expected) << c.shape << " strides " << c.s0 << " " << c.s1;
    EXPECT_EQ(visited(loop, 7), expected) << c.shape << " with chunks of 7";
  }
}
