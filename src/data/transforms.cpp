// The tensor transforms of strata/data/transforms.hpp: each loops over the N x C planes of a
// dense f32 (N, C, H, W) batch with the plane kernels of data/image_kernels.hpp.
#include "strata/data/transforms.hpp"

#include "data/image_kernels.hpp"
#include "strata/random.hpp"

namespace strata::data {
namespace {

// Below this many elements, a parallel region costs more than it saves.
constexpr int64_t kParallelTransformElements = int64_t{1} << 15;

// The dense f32 (N, C, H, W) form of `images`; throws naming `op` otherwise.
Tensor image_batch(const Tensor& images, const char* op) {
  STRATA_CHECK(images.defined(), op, ": images is an undefined tensor");
  STRATA_CHECK(images.ndim() == 4, op, ": images must be (N, C, H, W), got shape ", images.shape());
  STRATA_CHECK(images.dtype() == DType::F32, op, ": images must be f32, got ", dtype_name(images.dtype()),
               " (convert uint8 pixels with to_float)");
  STRATA_CHECK(images.device().is_cpu(), op, ": images must be on the CPU, got ", images.device().str());
  return images.detach().contiguous();
}

}  // namespace

Tensor to_float(std::span<const uint8_t> pixels, const Shape& shape) {
  STRATA_CHECK(static_cast<int64_t>(pixels.size()) == shape.numel(), "to_float: ", pixels.size(),
               " pixels do not fill shape ", shape, " (", shape.numel(), " elements)");
  Tensor out = empty(shape, DType::F32);
  float* dst = out.mutable_data<float>();
  for (std::size_t i = 0; i < pixels.size(); ++i) dst[i] = static_cast<float>(pixels[i]) / 255.0f;
  return out;
}

Tensor resize_bilinear(const Tensor& images, int64_t height, int64_t width) {
  const Tensor x = image_batch(images, "resize_bilinear");
  STRATA_CHECK(height > 0 && width > 0, "resize_bilinear: output size must be positive, got ", height, "x", width);
  const int64_t planes = x.size(0) * x.size(1), in_h = x.size(2), in_w = x.size(3);
  STRATA_CHECK(in_h > 0 && in_w > 0, "resize_bilinear: the images are ", in_w, "x", in_h,
               " (width x height): there are no pixels to interpolate");
  const BilinearTaps rows = bilinear_taps(in_h, height), cols = bilinear_taps(in_w, width);
  Tensor out = empty({x.size(0), x.size(1), height, width}, DType::F32);
  const float* src = x.data<float>();
  float* dst = out.mutable_data<float>();
#pragma omp parallel if (planes * height * width >= kParallelTransformElements)
  {
    std::vector<float> rows_w;
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p)
      resize_plane(src + p * in_h * in_w, in_h, in_w, rows, cols, rows_w, dst + p * height * width);
  }
  return out;
}

Tensor normalize(const Tensor& images, const std::vector<float>& mean, const std::vector<float>& std) {
  const Tensor x = image_batch(images, "normalize");
  const int64_t n = x.size(0), c = x.size(1), plane = x.size(2) * x.size(3);
  const auto per_channel = [&](const std::vector<float>& v, const char* name) {
    STRATA_CHECK(v.size() == 1 || static_cast<int64_t>(v.size()) == c, "normalize: ", name, " has ", v.size(),
                 " values but the images have ", c, " channels (give one per channel, or one for all)");
  };
  per_channel(mean, "mean");
  per_channel(std, "std");
  for (float s : std) STRATA_CHECK(s > 0.0f, "normalize: every std must be positive, got ", s);
  Tensor out = empty(x.shape(), DType::F32);
  const float* src = x.data<float>();
  float* dst = out.mutable_data<float>();
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelTransformElements)
  for (int64_t p = 0; p < n * c; ++p) {
    const std::size_t ch = mean.size() == 1 ? 0 : static_cast<std::size_t>(p % c);
    const float m = mean[ch], s = std[std.size() == 1 ? 0 : ch];
    for (int64_t i = 0; i < plane; ++i) dst[p * plane + i] = (src[p * plane + i] - m) / s;
  }
  return out;
}

Tensor random_crop(const Tensor& images, int64_t height, int64_t width, int64_t padding, Generator& gen) {
  const Tensor x = image_batch(images, "random_crop");
  const int64_t n = x.size(0), c = x.size(1), in_h = x.size(2), in_w = x.size(3);
  STRATA_CHECK(padding >= 0, "random_crop: padding must be >= 0, got ", padding);
  STRATA_CHECK(height > 0 && width > 0 && height <= in_h + 2 * padding && width <= in_w + 2 * padding,
               "random_crop: crop ", height, "x", width, " must be positive and fit the padded image ",
               in_h + 2 * padding, "x", in_w + 2 * padding, " (", in_h, "x", in_w, " padded by ", padding, ")");
  Tensor out = empty({n, c, height, width}, DType::F32);
  const float* src = x.data<float>();
  float* dst = out.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const auto top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(in_h + 2 * padding - height + 1)));
    const auto left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(in_w + 2 * padding - width + 1)));
    for (int64_t ch = 0; ch < c; ++ch)
      crop_flip_plane(src + (i * c + ch) * in_h * in_w, in_h, in_w, top - padding, left - padding, height, width, false,
                      dst + (i * c + ch) * height * width);
  }
  return out;
}

Tensor random_horizontal_flip(const Tensor& images, double p, Generator& gen) {
  const Tensor x = image_batch(images, "random_horizontal_flip");
  STRATA_CHECK(p >= 0.0 && p <= 1.0, "random_horizontal_flip: probability must be in [0, 1], got ", p);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = empty(x.shape(), DType::F32);
  const float* src = x.data<float>();
  float* dst = out.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const bool flip = p > 0.0 && gen.uniform() < p;
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t at = (i * c + ch) * h * w;
      crop_flip_plane(src + at, h, w, 0, 0, h, w, flip, dst + at);
    }
  }
  return out;
}

}  // namespace strata::data
