// The transform classes of strata/data/image_transforms.hpp: torchvision.transforms' Resize,
// CenterCrop, RandomResizedCrop, RandomHorizontalFlip, RandomRotation and ColorJitter on
// C x H x W uint8 images. The random ones draw their parameters from the example's Generator in
// the order documented at each apply(), following torchvision's get_params logic (the numbers
// differ from torch's: the generator is Strata's).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "strata/data/image_transforms.hpp"
#include "strata/error.hpp"
#include "strata/random.hpp"

namespace strata::data {
namespace {

constexpr int64_t kMaxSide = 16384;

void check_size(int64_t height, int64_t width, const char* op) {
  STRATA_CHECK(height > 0 && width > 0 && height <= kMaxSide && width <= kMaxSide, op,
               ": size must be positive and at most ", kMaxSide, " per side, got (", height, ", ", width, ")");
}

// The shortest text that reads back as the same double ("0.08", "1", "1.3333333333333333").
std::string number(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string size_text(int64_t height, int64_t width) {
  return strata::detail::cat("(", height, ", ", width, ")");  // (not "(" + std::to_string: GCC 12 warns falsely)
}

const char* interpolation_name(Interpolation interpolation) {
  return interpolation == Interpolation::Nearest ? "nearest" : "bilinear";
}

// Uniform in [lo, hi] (hi itself only by rounding), as torch's uniform_(lo, hi).
double uniform_in(Generator& gen, double lo, double hi) { return lo + (hi - lo) * gen.uniform(); }

Shape with_size(const Shape& in, int64_t height, int64_t width) {
  STRATA_CHECK(in.ndim() == 3, "output_shape: the input shape must be (C, H, W), got ", in);
  return {in[0], height, width};
}

}  // namespace

// ---- Resize ----

Resize::Resize(int64_t height, int64_t width, bool antialias) : height_(height), width_(width), antialias_(antialias) {
  check_size(height, width, "Resize");
}

ImageTransformPtr Resize::shorter(int64_t size, bool antialias) {
  STRATA_CHECK(size > 0 && size <= kMaxSide, "Resize: the shorter side's size must be positive and at most ", kMaxSide,
               ", got ", size);
  auto resize = std::make_shared<Resize>(size, size, antialias);
  resize->height_ = 0;  // the shorter side becomes width_
  return resize;
}

Shape Resize::output_shape(const Shape& in) const {
  if (height_ != 0) return with_size(in, height_, width_);
  const Shape shape = with_size(in, 0, 0);
  const int64_t h = in[1], w = in[2];
  if (h <= 0 || w <= 0) return shape;  // the output varies as the input does
  // resize_shorter's arithmetic: the longer side int(size * long / short), truncated.
  const int64_t shorter = std::min(h, w), longer = std::max(h, w);
  const auto new_long = static_cast<int64_t>(static_cast<double>(width_ * longer) / static_cast<double>(shorter));
  return w <= h ? Shape{in[0], new_long, width_} : Shape{in[0], width_, new_long};
}

Image Resize::apply(const Image& image, Generator&) const {
  return height_ == 0 ? resize_shorter(image, width_, antialias_) : resize(image, height_, width_, antialias_);
}

std::string Resize::to_string() const {
  std::string s = "Resize(size=" + (height_ == 0 ? std::to_string(width_) : size_text(height_, width_));
  if (!antialias_) s += ", antialias=False";
  return s + ")";
}

// ---- CenterCrop ----

CenterCrop::CenterCrop(int64_t height, int64_t width) : height_(height), width_(width) {
  check_size(height, width, "CenterCrop");
}

Shape CenterCrop::output_shape(const Shape& in) const { return with_size(in, height_, width_); }

Image CenterCrop::apply(const Image& image, Generator&) const { return center_crop(image, height_, width_); }

std::string CenterCrop::to_string() const { return "CenterCrop(size=" + size_text(height_, width_) + ")"; }

// ---- RandomResizedCrop ----

RandomResizedCrop::RandomResizedCrop(int64_t height, int64_t width, std::array<double, 2> scale,
                                     std::array<double, 2> ratio, bool antialias)
    : height_(height), width_(width), scale_(scale), ratio_(ratio), antialias_(antialias) {
  check_size(height, width, "RandomResizedCrop");
  STRATA_CHECK(std::isfinite(scale[0]) && std::isfinite(scale[1]) && scale[0] > 0 && scale[0] <= scale[1] &&
                   scale[1] <= 1e6,
               "RandomResizedCrop: scale must be (lo, hi) with 0 < lo <= hi <= 1e6, got (", scale[0], ", ", scale[1],
               ")");
  STRATA_CHECK(std::isfinite(ratio[0]) && std::isfinite(ratio[1]) && ratio[0] > 0 && ratio[0] <= ratio[1] &&
                   ratio[0] >= 1e-6 && ratio[1] <= 1e6,
               "RandomResizedCrop: ratio must be (lo, hi) with 1e-6 <= lo <= hi <= 1e6, got (", ratio[0], ", ",
               ratio[1], ")");
}

Shape RandomResizedCrop::output_shape(const Shape& in) const { return with_size(in, height_, width_); }

// Draws (torchvision's RandomResizedCrop.get_params): up to ten tries, each drawing two uniforms,
// the area fraction from scale then the log aspect ratio from log(ratio); the first window that
// fits (0 < w <= W, 0 < h <= H) then draws its top with below(H - h + 1) and its left with
// below(W - w + 1). When no try fits, the central crop of the image's aspect ratio clamped to
// `ratio` is taken, drawing nothing more.
Image RandomResizedCrop::apply(const Image& image, Generator& gen) const {
  STRATA_CHECK(image.height > 0 && image.width > 0, "RandomResizedCrop: the image is empty (", image.height, " x ",
               image.width, ")");
  const int64_t H = image.height, W = image.width;
  const double area = static_cast<double>(H) * static_cast<double>(W);
  const double log_lo = std::log(ratio_[0]), log_hi = std::log(ratio_[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform_in(gen, scale_[0], scale_[1]);
    const double aspect = std::exp(uniform_in(gen, log_lo, log_hi));
    // int(round(...)): Python's round, half to even
    const double wf = std::nearbyint(std::sqrt(target_area * aspect));
    const double hf = std::nearbyint(std::sqrt(target_area / aspect));
    if (wf > 0 && wf <= static_cast<double>(W) && hf > 0 && hf <= static_cast<double>(H)) {
      const auto w = static_cast<int64_t>(wf), h = static_cast<int64_t>(hf);
      const auto top = static_cast<int64_t>(gen.below(static_cast<uint64_t>(H - h + 1)));
      const auto left = static_cast<int64_t>(gen.below(static_cast<uint64_t>(W - w + 1)));
      return resize(crop(image, top, left, h, w), height_, width_, antialias_);
    }
  }
  const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
  int64_t w = W, h = H;
  if (in_ratio < ratio_[0]) {
    h = std::clamp(static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / ratio_[0])), int64_t{1}, H);
  } else if (in_ratio > ratio_[1]) {
    w = std::clamp(static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * ratio_[1])), int64_t{1}, W);
  }
  return resize(crop(image, (H - h) / 2, (W - w) / 2, h, w), height_, width_, antialias_);
}

std::string RandomResizedCrop::to_string() const {
  std::string s = "RandomResizedCrop(size=" + size_text(height_, width_) + ", scale=(" + number(scale_[0]) + ", " +
                  number(scale_[1]) + "), ratio=(" + number(ratio_[0]) + ", " + number(ratio_[1]) + ")";
  if (!antialias_) s += ", antialias=False";
  return s + ")";
}

// ---- RandomHorizontalFlip ----

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  STRATA_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got ", p);
}

// Draws one uniform (flip when it is below p), none when p is 0.
Image RandomHorizontalFlip::apply(const Image& image, Generator& gen) const {
  if (p_ > 0 && gen.uniform() < p_) return horizontal_flip(image);
  return image;
}

std::string RandomHorizontalFlip::to_string() const { return "RandomHorizontalFlip(p=" + number(p_) + ")"; }

// ---- RandomRotation ----

RandomRotation::RandomRotation(double degrees, Interpolation interpolation, uint8_t fill)
    : degrees_(degrees), interpolation_(interpolation), fill_(fill) {
  STRATA_CHECK(degrees >= 0 && degrees <= 360, "RandomRotation: degrees must be in [0, 360], got ", degrees);
}

// Draws one uniform, the angle in [-degrees, degrees]; none when degrees is 0 (the image is then
// returned unchanged).
Image RandomRotation::apply(const Image& image, Generator& gen) const {
  if (degrees_ == 0) return image;
  return rotate(image, uniform_in(gen, -degrees_, degrees_), interpolation_, fill_);
}

std::string RandomRotation::to_string() const {
  return "RandomRotation(degrees=" + number(degrees_) + ", interpolation=" + interpolation_name(interpolation_) +
         ", fill=" + std::to_string(fill_) + ")";
}

// ---- ColorJitter ----

ColorJitter::ColorJitter(double brightness, double contrast, double saturation, double hue)
    : brightness_(brightness), contrast_(contrast), saturation_(saturation), hue_(hue) {
  for (const auto& [name, value] : {std::pair{"brightness", brightness}, std::pair{"contrast", contrast},
                                    std::pair{"saturation", saturation}})
    STRATA_CHECK(value >= 0 && value <= 1e6, "ColorJitter: ", name, " must be in [0, 1e6], got ", value);
  STRATA_CHECK(hue >= 0 && hue <= 0.5, "ColorJitter: hue must be in [0, 0.5], got ", hue);
}

// Draws (torchvision's ColorJitter.get_params), when any factor is non-zero: the order of the four
// adjustments, a Fisher-Yates shuffle of (brightness, contrast, saturation, hue) drawing
// below(4), below(3), below(2) for positions 3, 2, 1; then one uniform for each non-zero factor,
// in the order brightness, contrast, saturation, hue. All zero: nothing is drawn, the image is
// returned unchanged.
Image ColorJitter::apply(const Image& image, Generator& gen) const {
  if (brightness_ == 0 && contrast_ == 0 && saturation_ == 0 && hue_ == 0) return image;
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[gen.below(static_cast<uint64_t>(i + 1))]);
  const auto factor = [&](double x) { return x > 0 ? uniform_in(gen, std::max(0.0, 1.0 - x), 1.0 + x) : 1.0; };
  const double b = factor(brightness_), c = factor(contrast_), s = factor(saturation_);
  const double h = hue_ > 0 ? uniform_in(gen, -hue_, hue_) : 0.0;
  Image out = image;
  for (int step : order) {
    if (step == 0 && brightness_ > 0) out = adjust_brightness(out, b);
    if (step == 1 && contrast_ > 0) out = adjust_contrast(out, c);
    if (step == 2 && saturation_ > 0) out = adjust_saturation(out, s);
    if (step == 3 && hue_ > 0) out = adjust_hue(out, std::clamp(h, -0.5, 0.5));
  }
  return out;
}

std::string ColorJitter::to_string() const {
  return "ColorJitter(brightness=" + number(brightness_) + ", contrast=" + number(contrast_) +
         ", saturation=" + number(saturation_) + ", hue=" + number(hue_) + ")";
}

// ---- Composition ----

Shape output_shape(const ImageTransforms& transforms, const Shape& in) {
  Shape shape = in;
  for (const ImageTransformPtr& t : transforms) {
    STRATA_CHECK(t != nullptr, "output_shape: the transform list holds a null transform");
    shape = t->output_shape(shape);
  }
  return shape;
}

Image apply(const ImageTransforms& transforms, const Image& image, Generator& gen) {
  Image out = image;
  for (const ImageTransformPtr& t : transforms) {
    STRATA_CHECK(t != nullptr, "apply: the transform list holds a null transform");
    out = t->apply(out, gen);
  }
  return out;
}

std::string to_string(const ImageTransforms& transforms) {
  std::string s;
  for (const ImageTransformPtr& t : transforms) {
    STRATA_CHECK(t != nullptr, "to_string: the transform list holds a null transform");
    if (!s.empty()) s += ' ';
    s += t->to_string();
  }
  return s;
}

}  // namespace strata::data
