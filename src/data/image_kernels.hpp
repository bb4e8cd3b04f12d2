// Plain loops over one image plane (H x W, row-major) shared by the tensor transforms, the
// DataLoader's fused per-example pipeline and the image-folder loader.
#pragma once

#include <cstdint>
#include <vector>

namespace strata::data {

// Where each output position along one axis reads the input, by PyTorch's bilinear rule with
// align_corners=False (see resize_bilinear in strata/data/transforms.hpp): output o mixes input
// i0[o] with weight w0[o] and i1[o] with weight w1[o]. Computed in float, as PyTorch does for f32.
struct BilinearTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;
};
BilinearTaps bilinear_taps(int64_t in_size, int64_t out_size);

// dst (out_h x out_w, the sizes of the taps) = bilinear resize of src (in_h x in_w), in two passes:
// every input row is resized along W into `rows_w` (in_h x out_w, resized as needed), then each
// output row blends two of those rows. The arithmetic is PyTorch's order,
//   h0 * (w0 * a + w1 * b) + h1 * (w0 * c + w1 * d),
// so the passes change nothing but the speed.
void resize_plane(const float* src, int64_t in_h, int64_t in_w, const BilinearTaps& rows, const BilinearTaps& cols,
                  std::vector<float>& rows_w, float* dst);

// Cuts the out_h x out_w window whose top-left corner is (top, left) in src's coordinates (negative
// or past the edge reads zeros: the zero padding of a random crop) and, when `flip`, mirrors it
// left-right: dst[y][x] = src[top + y][left + (flip ? out_w - 1 - x : x)], 0 outside src.
template <class T>
void crop_flip_plane(const T* src, int64_t in_h, int64_t in_w, int64_t top, int64_t left, int64_t out_h, int64_t out_w,
                     bool flip, T* dst) {
  for (int64_t y = 0; y < out_h; ++y) {
    T* row = dst + y * out_w;
    const int64_t sy = top + y;
    for (int64_t x = 0; x < out_w; ++x) {
      const int64_t sx = left + (flip ? out_w - 1 - x : x);
      row[x] = (sy >= 0 && sy < in_h && sx >= 0 && sx < in_w) ? src[sy * in_w + sx] : T{0};
    }
  }
}

}  // namespace strata::data
