// Transforms from uint8 images to float tensors (torchvision.transforms): scaling to [0, 1],
// bilinear resizing, per-channel normalisation, random crops with zero padding and random
// horizontal flips. Image batches are f32 (N, C, H, W); results are new dense tensors. These are
// data transforms, not differentiable ops: they record no autograd history.
//
// A DataLoader applies the same steps to each example in one fused pass, described by Transform.
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>
#include <span>
#include <vector>

#include "strata/shape.hpp"
#include "strata/tensor.hpp"

namespace strata {
class Generator;
}

namespace strata::data {

// uint8 pixels of `shape` (row-major, any rank) -> f32 tensor of `shape` holding pixel / 255.
Tensor to_float(std::span<const uint8_t> pixels, const Shape& shape);

// Resizes every H x W plane of `images` (N, C, H, W) to height x width exactly as PyTorch's
// F.interpolate(mode="bilinear", align_corners=False, antialias=False) with an output size.
// Along each axis (input size n, output size m, scale = n / m), output position o reads
//   s  = max((o + 0.5) * scale - 0.5, 0)
//   i0 = min(floor(s), n - 1),  i1 = min(i0 + 1, n - 1),  w1 = s - i0,  w0 = 1 - w1
// and mixes the four neighbours (i0|i1 rows x i0|i1 columns) with weights w0/w1 per axis. An axis
// whose size does not change is copied. Downsampling samples without anti-aliasing, as PyTorch.
Tensor resize_bilinear(const Tensor& images, int64_t height, int64_t width);

// (x - mean[c]) / std[c] for each channel c of `images` (N, C, H, W); mean and std have C
// entries (or one, used for every channel), every std > 0.
Tensor normalize(const Tensor& images, const std::vector<float>& mean, const std::vector<float>& std);

// Pads each image of `images` (N, C, H, W) with `padding` zeros on every side, then cuts a
// height x width window at a random offset: for each image in order, top = gen.below(H + 2p -
// height + 1), then left = gen.below(W + 2p - width + 1), in padded coordinates.
Tensor random_crop(const Tensor& images, int64_t height, int64_t width, int64_t padding, Generator& gen);

// Mirrors each image of `images` (N, C, H, W) left-right when gen.uniform() < p, drawing once per
// image in order (no draw when p is 0).
Tensor random_horizontal_flip(const Tensor& images, double p, Generator& gen);

// The per-example pipeline of a DataLoader, applied in this order:
//   uint8 C x H x W -> random crop (zero padding) -> random horizontal flip -> / 255
//   -> bilinear resize -> normalize -> f32 C x H' x W'
// One example gives what the tensor transforms give for it as a batch of one:
//   x = to_float(pixels, {1, C, H, W}); x = random_crop(x, ..., gen);
//   x = random_horizontal_flip(x, p, gen); x = normalize(resize_bilinear(x, ...), mean, std)
// (padding is black, 0 before normalisation; the crop draws from gen only when active, the flip
// only when p > 0).
struct Transform {
  // Random crop: pad by crop_padding zeros, then cut crop_height x crop_width (0: the image's own
  // size) at a random offset. Active when crop_padding > 0 or the crop is smaller than the image.
  int64_t crop_padding = 0;
  int64_t crop_height = 0;
  int64_t crop_width = 0;
  double flip_probability = 0.0;  // random horizontal flip, in [0, 1]
  // Bilinear resize of the (cropped) image to resize_height x resize_width; 0 x 0: no resize.
  int64_t resize_height = 0;
  int64_t resize_width = 0;
  // Per-channel normalisation after scaling to [0, 1]; empty: none. C entries, or one for all.
  std::vector<float> mean{};
  std::vector<float> std{};
};

}  // namespace strata::data

#pragma GCC visibility pop
