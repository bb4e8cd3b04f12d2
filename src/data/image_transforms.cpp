// The deterministic image functions of strata/data/image_transforms.hpp, written as
// torchvision 0.14's functional_tensor computes them on uint8 tensors (PyTorch 1.13 kernels): the
// same float32 operations in the same order, so that results match torchvision pixel for pixel.
// Every image is C x H x W uint8, row-major (plane c, row y, column x at (c * H + y) * W + x).
#include "strata/data/image_transforms.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "data/image_kernels.hpp"
#include "strata/error.hpp"

namespace strata::data {
namespace {

constexpr int64_t kMaxOutputSide = 16384;  // largest output height or width an argument may ask for
constexpr int64_t kMaxInputSide = int64_t{1} << 20;

void check_image(const Image& image, const char* op) {
  STRATA_CHECK(image.channels == 1 || image.channels == 3, op, ": the image must have 1 (grey) or 3 (RGB) channels, got ",
               image.channels);
  STRATA_CHECK(image.height > 0 && image.width > 0, op, ": the image is empty (", image.height, " x ", image.width,
               "); height and width must be positive");
  STRATA_CHECK(image.height <= kMaxInputSide && image.width <= kMaxInputSide, op, ": the image is ", image.height, " x ",
               image.width, ", larger than ", kMaxInputSide, " per side");
  STRATA_CHECK(static_cast<int64_t>(image.pixels.size()) == image.numel(), op, ": the image holds ", image.pixels.size(),
               " pixels but is ", image.channels, " x ", image.height, " x ", image.width, " (", image.numel(), ")");
}

void check_output_size(int64_t height, int64_t width, const char* op) {
  STRATA_CHECK(height > 0 && width > 0 && height <= kMaxOutputSide && width <= kMaxOutputSide, op,
               ": the output size must be positive and at most ", kMaxOutputSide, " per side, got ", height, " x ", width);
}

void check_factor(double factor, const char* op) {
  STRATA_CHECK(std::isfinite(factor) && factor >= 0, op, ": the factor must be a finite number >= 0, got ", factor);
}

Image blank(int64_t channels, int64_t height, int64_t width) {
  Image out;
  out.channels = channels;
  out.height = height;
  out.width = width;
  out.pixels.assign(static_cast<std::size_t>(channels * height * width), 0);
  return out;
}

// torchvision's _cast_squeeze_out for uint8: torch.round (half to even), then the cast (the
// values are clamped to [0, 255] first; torchvision's are in range already).
uint8_t round_to_u8(float v) { return static_cast<uint8_t>(std::clamp(std::nearbyint(v), 0.0f, 255.0f)); }

// _blend's end: clamp(0, 255), then .to(uint8), which truncates.
uint8_t clamp_truncate_u8(float v) { return static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f)); }

// ---- Bilinear resize without antialiasing: PyTorch 1.13's upsample_bilinear2d on the CPU ----

// Along one axis, output o mixes input i0[o] with weight l0[o] and i1[o] with l1[o]. The scale is
// a float (in / out); the source position scale * (o + 0.5) - 0.5 is a double (clamped at 0), and
// l1 = float(position - i0), l0 = 1 - l1 in float: the weights PyTorch's kernel gives (measured
// against it; rounding the position to float first, as its source reads, misses the last bit).
struct LinearTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> l0, l1;
};

LinearTaps linear_taps(int64_t in_size, int64_t out_size) {
  LinearTaps t;
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int64_t o = 0; o < out_size; ++o) {
    int64_t i0 = o, i1 = o;  // an axis whose size does not change is copied
    float l0 = 1.0f, l1 = 0.0f;
    if (in_size != out_size) {
      const double real = std::max(static_cast<double>(scale) * (static_cast<double>(o) + 0.5) - 0.5, 0.0);
      i0 = std::min(static_cast<int64_t>(std::floor(real)), in_size - 1);
      l1 = static_cast<float>(std::clamp(real - static_cast<double>(i0), 0.0, 1.0));
      i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
      l0 = 1.0f - l1;
    }
    t.i0.push_back(i0);
    t.i1.push_back(i1);
    t.l0.push_back(l0);
    t.l1.push_back(l1);
  }
  return t;
}

// dst (C x height x width) = bilinear resize of the image. Each output blends the two rows' values
// along W, then the two results along H, each blend a * wa + b * wb computed as PyTorch's build
// computes t0 * w0 + t1 * w1 (a fused multiply-add: fma(a, wa, b * wb)).
void bilinear(const Image& image, int64_t height, int64_t width, std::vector<float>& dst) {
  const LinearTaps rows = linear_taps(image.height, height), cols = linear_taps(image.width, width);
  const int64_t H = image.height, W = image.width;
  const auto blend2 = [](float a, float wa, float b, float wb) { return std::fma(a, wa, b * wb); };
  for (int64_t c = 0; c < image.channels; ++c) {
    const uint8_t* p = image.pixels.data() + c * H * W;
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* r0 = p + rows.i0[static_cast<std::size_t>(y)] * W;
      const uint8_t* r1 = p + rows.i1[static_cast<std::size_t>(y)] * W;
      const float h0 = rows.l0[static_cast<std::size_t>(y)], h1 = rows.l1[static_cast<std::size_t>(y)];
      for (int64_t x = 0; x < width; ++x) {
        const auto k = static_cast<std::size_t>(x);
        const int64_t j0 = cols.i0[k], j1 = cols.i1[k];
        const float w0 = cols.l0[k], w1 = cols.l1[k];
        const float t0 = blend2(r0[j0], w0, r0[j1], w1), t1 = blend2(r1[j0], w0, r1[j1], w1);
        dst[static_cast<std::size_t>((c * height + y) * width + x)] = blend2(t0, h0, t1, h1);
      }
    }
  }
}

// ---- Antialiased bilinear resize: PyTorch 1.13's _upsample_bilinear2d_aa on the CPU ----

// Where each output position along one axis reads the input: taps[o] covers input positions
// start[o] .. start[o] + size[o] - 1 with weights weights[o * stride + j]. PyTorch computes them in
// float with the double literals of its source (0.5, 1.0), reproduced here literally.
struct AaTaps {
  std::vector<int64_t> start, size;
  std::vector<float> weights;
  int64_t stride = 0;
};

float aa_triangle(float x) {  // HelperInterpLinear::aa_filter
  if (x < 0.0f) x = -x;
  if (x < 1.0) return static_cast<float>(1.0 - x);
  return 0.0f;
}

AaTaps aa_taps(int64_t in_size, int64_t out_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  // support: half the filter width, widened by the scale when shrinking (the antialiasing)
  const float support = scale >= 1.0f ? static_cast<float>((2 * 0.5) * scale) : 1.0f;
  const auto interp_size = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  const float invscale = scale >= 1.0f ? static_cast<float>(1.0 / scale) : 1.0f;
  AaTaps t;
  t.stride = interp_size;
  t.start.resize(static_cast<std::size_t>(out_size));
  t.size.resize(static_cast<std::size_t>(out_size));
  t.weights.assign(static_cast<std::size_t>(out_size * interp_size), 0.0f);
  for (int64_t o = 0; o < out_size; ++o) {
    const auto center = static_cast<float>(scale * (static_cast<double>(o) + 0.5));
    const int64_t lo = std::max(static_cast<int64_t>(static_cast<double>(center - support) + 0.5), int64_t{0});
    const int64_t hi = std::min(static_cast<int64_t>(static_cast<double>(center + support) + 0.5), in_size);
    const int64_t n = std::min(hi - lo, interp_size);
    float* w = t.weights.data() + o * interp_size;
    float total = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      const auto offset = static_cast<float>(j + lo) - center;  // int64 - float: float
      w[j] = aa_triangle(static_cast<float>((static_cast<double>(offset) + 0.5) * invscale));
      total += w[j];
    }
    if (total != 0.0f)
      for (int64_t j = 0; j < n; ++j) w[j] /= total;
    t.start[static_cast<std::size_t>(o)] = lo;
    t.size[static_cast<std::size_t>(o)] = n;
  }
  return t;
}

// One separable pass along an axis. Each output
// is t0 * w0, then each further t_j * w_j accumulated in order with a fused multiply-add, as
// PyTorch's build computes interpolate_aa_single_dim's `output += t * wts`.
void aa_pass(const float* src, float* dst, const AaTaps& taps, int64_t out_size, int64_t outer, int64_t inner,
             int64_t in_size) {
  // Layout: src is outer x in_size x inner, dst is outer x out_size x inner.
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t o = 0; o < out_size; ++o) {
      const float* w = taps.weights.data() + o * taps.stride;
      const int64_t lo = taps.start[static_cast<std::size_t>(o)];
      const int64_t n = taps.size[static_cast<std::size_t>(o)];
      for (int64_t b = 0; b < inner; ++b) {
        const float* s = src + (a * in_size + lo) * inner + b;
        float acc = s[0] * w[0];
        for (int64_t j = 1; j < n; ++j) acc = std::fma(s[j * inner], w[j], acc);
        dst[(a * out_size + o) * inner + b] = acc;
      }
    }
}

}  // namespace

Image resize(const Image& image, int64_t height, int64_t width, bool antialias) {
  check_image(image, "resize");
  check_output_size(height, width, "resize");
  const int64_t C = image.channels, H = image.height, W = image.width;
  std::vector<float> src(image.pixels.begin(), image.pixels.end());  // C x H x W as float
  std::vector<float> dst(static_cast<std::size_t>(C * height * width));
  if (antialias) {
    // Width first (C x H x W -> C x H x width), then height (-> C x height x width), as PyTorch's
    // separable_upsample_generic_Nd_kernel_impl.
    std::vector<float> mid(static_cast<std::size_t>(C * H * width));
    aa_pass(src.data(), mid.data(), aa_taps(W, width), width, C * H, 1, W);
    aa_pass(mid.data(), dst.data(), aa_taps(H, height), height, C, width, H);
  } else {
    bilinear(image, height, width, dst);
  }
  Image out = blank(C, height, width);
  for (std::size_t i = 0; i < dst.size(); ++i) out.pixels[i] = round_to_u8(dst[i]);
  return out;
}

Image resize_shorter(const Image& image, int64_t size, bool antialias) {
  check_image(image, "resize_shorter");
  STRATA_CHECK(size > 0 && size <= kMaxOutputSide, "resize_shorter: size must be positive and at most ", kMaxOutputSide,
               ", got ", size);
  // torchvision's _compute_resized_output_size: new_long = int(size * long / short), truncated.
  const int64_t shorter = std::min(image.height, image.width), longer = std::max(image.height, image.width);
  const auto new_long = static_cast<int64_t>(static_cast<double>(size * longer) / static_cast<double>(shorter));
  STRATA_CHECK(new_long <= kMaxOutputSide, "resize_shorter: resizing the ", image.height, " x ", image.width,
               " image's shorter side to ", size, " makes the longer ", new_long, ", more than ", kMaxOutputSide);
  return image.width <= image.height ? resize(image, new_long, size, antialias) : resize(image, size, new_long, antialias);
}

Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  check_image(image, "crop");
  check_output_size(height, width, "crop");
  constexpr int64_t kMaxOffset = int64_t{1} << 31;
  STRATA_CHECK(std::abs(top) <= kMaxOffset && std::abs(left) <= kMaxOffset, "crop: top and left must be within +-",
               kMaxOffset, ", got ", top, " and ", left);
  Image out = blank(image.channels, height, width);
  for (int64_t c = 0; c < image.channels; ++c)
    crop_flip_plane(image.pixels.data() + c * image.height * image.width, image.height, image.width, top, left, height,
                    width, false, out.pixels.data() + c * height * width);
  return out;
}

Image center_crop(const Image& image, int64_t height, int64_t width) {
  check_image(image, "center_crop");
  check_output_size(height, width, "center_crop");
  // torchvision pads a side smaller than the window with (window - side) // 2 zeros before it (and
  // the rest after), then takes top = round((padded - window) / 2.0), Python's round (half to even).
  const int64_t pad_top = height > image.height ? (height - image.height) / 2 : 0;
  const int64_t pad_left = width > image.width ? (width - image.width) / 2 : 0;
  const int64_t padded_h = std::max(height, image.height), padded_w = std::max(width, image.width);
  const auto top = static_cast<int64_t>(std::nearbyint(static_cast<double>(padded_h - height) / 2.0)) - pad_top;
  const auto left = static_cast<int64_t>(std::nearbyint(static_cast<double>(padded_w - width) / 2.0)) - pad_left;
  return crop(image, top, left, height, width);
}

Image horizontal_flip(const Image& image) {
  check_image(image, "horizontal_flip");
  Image out = blank(image.channels, image.height, image.width);
  for (int64_t c = 0; c < image.channels; ++c)
    crop_flip_plane(image.pixels.data() + c * image.height * image.width, image.height, image.width, 0, 0, image.height,
                    image.width, true, out.pixels.data() + c * image.height * image.width);
  return out;
}

Image rotate(const Image& image, double degrees, Interpolation interpolation, uint8_t fill) {
  check_image(image, "rotate");
  STRATA_CHECK(std::isfinite(degrees) && std::abs(degrees) <= 1e6, "rotate: degrees must be a finite number within +-1e6, got ",
               degrees);
  const int64_t C = image.channels, H = image.height, W = image.width;
  // torchvision's F.rotate: the inverse affine matrix of a rotation by -degrees about the centre
  // (_get_inverse_affine_matrix, in double), [cos r, sin r, 0; -sin r, cos r, 0] with
  // r = math.radians(-degrees), made a float32 theta.
  const double r = -degrees * (std::numbers::pi / 180.0);
  const auto m0 = static_cast<float>(std::cos(r)), m1 = static_cast<float>(std::sin(r));
  const auto m3 = static_cast<float>(-std::sin(r)), m4 = static_cast<float>(std::cos(r));
  // _gen_affine_grid: theta^T divided by (0.5 W, 0.5 H), in float32; the output pixel (x, y) sits
  // at base (x - W/2 + 0.5, y - H/2 + 0.5) and maps to the normalised grid point
  //   gx = bx * m0 / (W/2) + by * m1 / (W/2),   gy = bx * m3 / (H/2) + by * m4 / (H/2)
  // (a float32 batched matrix product; the translation terms are 0).
  const float half_w = 0.5f * static_cast<float>(W), half_h = 0.5f * static_cast<float>(H);
  const float r00 = m0 / half_w, r10 = m1 / half_w, r01 = m3 / half_h, r11 = m4 / half_h;
  Image out = blank(C, H, W);
  const auto plane = static_cast<std::size_t>(H * W);
  for (int64_t y = 0; y < H; ++y) {
    const float by = static_cast<float>(-static_cast<double>(H) * 0.5 + 0.5) + static_cast<float>(y);
    for (int64_t x = 0; x < W; ++x) {
      const float bx = static_cast<float>(-static_cast<double>(W) * 0.5 + 0.5) + static_cast<float>(x);
      const float gx = bx * r00 + by * r10;
      const float gy = bx * r01 + by * r11;
      // grid_sample, align_corners=False, padding zeros: unnormalise to input pixel coordinates.
      const float ix = (gx + 1.0f) * (static_cast<float>(W) / 2) - 0.5f;
      const float iy = (gy + 1.0f) * (static_cast<float>(H) / 2) - 0.5f;
      const std::size_t o = static_cast<std::size_t>(y * W + x);
      if (interpolation == Interpolation::Nearest) {
        // Round half to even; outside the image the sample (and the coverage mask) is 0: fill.
        const float nx = std::nearbyint(ix), ny = std::nearbyint(iy);
        const bool inside = nx >= 0.0f && nx < static_cast<float>(W) && ny >= 0.0f && ny < static_cast<float>(H);
        for (int64_t c = 0; c < C; ++c)
          out.pixels[c * plane + o] =
              inside ? image.pixels[c * plane + static_cast<std::size_t>(static_cast<int64_t>(ny) * W +
                                                                          static_cast<int64_t>(nx))]
                     : fill;
        continue;
      }
      // Bilinear: the four neighbours weighted by the distances to the opposite sides (PyTorch's
      // vectorised grid sampler), a neighbour outside the image reads 0.
      const float x_w = std::floor(ix), y_n = std::floor(iy);
      const float w = ix - x_w, e = 1.0f - w, n = iy - y_n, s = 1.0f - n;
      const float wnw = s * e, wne = s * w, wsw = n * e, wse = n * w;
      const bool finite_pos = std::abs(x_w) < 1e9f && std::abs(y_n) < 1e9f;
      const int64_t xw = finite_pos ? static_cast<int64_t>(x_w) : -2, yn = finite_pos ? static_cast<int64_t>(y_n) : -2;
      const bool in_w = xw >= 0 && xw < W, in_e = xw + 1 >= 0 && xw + 1 < W;
      const bool in_n = yn >= 0 && yn < H, in_s = yn + 1 >= 0 && yn + 1 < H;
      // The coverage mask: torchvision samples a plane of ones alongside the image and blends
      // the result with the fill by it: v * mask + (1 - mask) * fill.
      const float mask = ((in_n && in_w ? 1.0f : 0.0f) * wnw + (in_n && in_e ? 1.0f : 0.0f) * wne) +
                         (in_s && in_w ? 1.0f : 0.0f) * wsw + (in_s && in_e ? 1.0f : 0.0f) * wse;
      for (int64_t c = 0; c < C; ++c) {
        const uint8_t* p = image.pixels.data() + c * plane;
        const float vnw = in_n && in_w ? p[yn * W + xw] : 0.0f, vne = in_n && in_e ? p[yn * W + xw + 1] : 0.0f;
        const float vsw = in_s && in_w ? p[(yn + 1) * W + xw] : 0.0f, vse = in_s && in_e ? p[(yn + 1) * W + xw + 1] : 0.0f;
        const float v = ((vnw * wnw + vne * wne) + vsw * wsw) + vse * wse;
        out.pixels[c * plane + o] = round_to_u8(v * mask + (1.0f - mask) * static_cast<float>(fill));
      }
    }
  }
  return out;
}

// ---- Colour (functional_tensor's _blend: ratio * img1 + (1 - ratio) * img2 in float32, clamped
// to [0, 255] and truncated to uint8) ----

namespace {

// rgb_to_grayscale of a 3 x H x W image: (0.2989 r + 0.587 g + 0.114 b) in float32, truncated.
std::vector<uint8_t> grayscale(const Image& image) {
  const auto plane = static_cast<std::size_t>(image.height * image.width);
  std::vector<uint8_t> grey(plane);
  const uint8_t *r = image.pixels.data(), *g = r + plane, *b = g + plane;
  for (std::size_t i = 0; i < plane; ++i)
    grey[i] = static_cast<uint8_t>(0.2989f * static_cast<float>(r[i]) + 0.587f * static_cast<float>(g[i]) +
                                   0.114f * static_cast<float>(b[i]));
  return grey;
}

float blend(uint8_t a, float b, float ratio, float one_minus_ratio) {
  return ratio * static_cast<float>(a) + one_minus_ratio * b;
}

}  // namespace

Image adjust_brightness(const Image& image, double factor) {
  check_image(image, "adjust_brightness");
  check_factor(factor, "adjust_brightness");
  const auto ratio = static_cast<float>(factor), rest = static_cast<float>(1.0 - factor);
  Image out = image;
  for (uint8_t& v : out.pixels) v = clamp_truncate_u8(blend(v, 0.0f, ratio, rest));  // blend with black
  return out;
}

Image adjust_contrast(const Image& image, double factor) {
  check_image(image, "adjust_contrast");
  check_factor(factor, "adjust_contrast");
  // The mean of the greyscale image (of the image itself when grey): torch.mean in float32, a sum
  // then a division; the sum is exact here (torch's float32 sum is too below 2^24, so up to
  // 65793 pixels torchvision's mean is this one exactly).
  const std::vector<uint8_t> grey = image.channels == 3 ? grayscale(image) : image.pixels;
  double sum = 0;
  for (uint8_t v : grey) sum += v;
  const float mean = static_cast<float>(sum) / static_cast<float>(grey.size());
  const auto ratio = static_cast<float>(factor), rest = static_cast<float>(1.0 - factor);
  Image out = image;
  for (uint8_t& v : out.pixels) v = clamp_truncate_u8(blend(v, mean, ratio, rest));
  return out;
}

Image adjust_saturation(const Image& image, double factor) {
  check_image(image, "adjust_saturation");
  check_factor(factor, "adjust_saturation");
  if (image.channels == 1) return image;  // as torchvision (and PIL)
  const std::vector<uint8_t> grey = grayscale(image);
  const auto ratio = static_cast<float>(factor), rest = static_cast<float>(1.0 - factor);
  Image out = image;
  const std::size_t plane = grey.size();
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < plane; ++i) {
      uint8_t& v = out.pixels[c * plane + i];
      v = clamp_truncate_u8(blend(v, static_cast<float>(grey[i]), ratio, rest));
    }
  return out;
}

Image adjust_hue(const Image& image, double hue_factor) {
  check_image(image, "adjust_hue");
  STRATA_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue: hue_factor must be in [-0.5, 0.5], got ",
               hue_factor);
  if (image.channels == 1) return image;  // as torchvision (and PIL)
  const auto shift = static_cast<float>(hue_factor);
  Image out = image;
  const auto plane = static_cast<std::size_t>(image.height * image.width);
  for (std::size_t i = 0; i < plane; ++i) {
    // To [0, 1] floats, then _rgb2hsv, float32 throughout as torchvision.
    const float r = static_cast<float>(image.pixels[i]) / 255.0f;
    const float g = static_cast<float>(image.pixels[plane + i]) / 255.0f;
    const float b = static_cast<float>(image.pixels[2 * plane + i]) / 255.0f;
    const float maxc = std::max(std::max(r, g), b), minc = std::min(std::min(r, g), b);
    const bool eqc = maxc == minc;
    const float cr = maxc - minc;
    const float s = cr / (eqc ? 1.0f : maxc);
    const float divisor = eqc ? 1.0f : cr;
    const float rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor;
    const float hr = maxc == r ? bc - gc : 0.0f;
    const float hg = maxc == g && maxc != r ? (2.0f + rc) - bc : 0.0f;
    const float hb = maxc != g && maxc != r ? (4.0f + gc) - rc : 0.0f;
    float h = std::fmod((hr + hg + hb) / 6.0f + 1.0f, 1.0f);
    // (h + hue_factor) % 1.0: Python's remainder, non-negative.
    h = std::fmod(h + shift, 1.0f);
    if (h < 0.0f) h += 1.0f;
    // _hsv2rgb
    const float h6 = h * 6.0f;
    const float fi = std::floor(h6);
    const float f = h6 - fi;
    const int sector = ((static_cast<int>(fi) % 6) + 6) % 6;
    const float v = maxc;
    const float p = std::clamp(v * (1.0f - s), 0.0f, 1.0f);
    const float q = std::clamp(v * (1.0f - s * f), 0.0f, 1.0f);
    const float t = std::clamp(v * (1.0f - s * (1.0f - f)), 0.0f, 1.0f);
    static constexpr int kPick[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};
    const float values[4] = {v, p, q, t};  // indices of kPick: 0 v, 1 p, 2 q, 3 t
    for (std::size_t c = 0; c < 3; ++c)
      out.pixels[c * plane + i] = static_cast<uint8_t>(values[kPick[sector][c]] * 255.0f);  // truncation, as .to(uint8)
  }
  return out;
}

}  // namespace strata::data
