// Image transforms as torchvision.transforms knows them, on uint8 images of any size: the
// geometry and colour augmentation that runs on each example before a DataLoader's Transform
// (which scales to floats, normalises and batches). The deterministic functions follow
// torchvision.transforms.functional on uint8 tensors (torchvision 0.14); the random transforms
// draw their parameters from the example's Generator, so an epoch's augmentation is reproducible
// (see DataLoader).
//
//   data::ImageTransforms train = data::parse_image_transforms(
//       "RandomResizedCrop(224) RandomHorizontalFlip() ColorJitter(0.4, 0.4, 0.4)");
//   data::ImageTransforms eval = {data::Resize::shorter(256), std::make_shared<data::CenterCrop>(224, 224)};
#pragma once
#pragma GCC visibility push(default)

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/data/image.hpp"
#include "strata/shape.hpp"

namespace strata {
class Generator;
}

namespace strata::data {

// ---- Deterministic functions (torchvision.transforms.functional on uint8 tensors) ----

// Bilinear resize to height x width (align_corners=False); with antialias, a downscale averages
// over the source pixels it covers (PyTorch's antialiased bilinear, as PIL). Values are rounded to
// the nearest integer and clamped to [0, 255].
Image resize(const Image& image, int64_t height, int64_t width, bool antialias = true);
// torchvision's Resize(size) with one int: the shorter side becomes `size`, the longer
// int(size * long / short) (truncated, as torchvision).
Image resize_shorter(const Image& image, int64_t size, bool antialias = true);
// The height x width window with top-left corner (top, left); parts outside the image are 0.
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);
// The central height x width window (torchvision: top = round((H - height) / 2.0), same for left;
// an image smaller than the window is padded with 0 first, as torchvision pads).
Image center_crop(const Image& image, int64_t height, int64_t width);
Image horizontal_flip(const Image& image);
// Rotation by `degrees` counter-clockwise about the image centre, same size (expand=False), with
// nearest-neighbour sampling (torchvision's default) or bilinear; outside pixels are `fill`.
enum class Interpolation { Nearest, Bilinear };
Image rotate(const Image& image, double degrees, Interpolation interpolation = Interpolation::Nearest,
             uint8_t fill = 0);
// Colour: torchvision's adjust_brightness (blend with black), adjust_contrast (blend with the mean
// of the greyscale image), adjust_saturation (blend with the greyscale image), each factor >= 0,
// and adjust_hue (rotation of the hue in HSV by hue_factor turns, in [-0.5, 0.5]). Grey images:
// saturation and hue leave them unchanged.
Image adjust_brightness(const Image& image, double factor);
Image adjust_contrast(const Image& image, double factor);
Image adjust_saturation(const Image& image, double factor);
Image adjust_hue(const Image& image, double hue_factor);

// ---- Transforms (torchvision.transforms classes) ----

class ImageTransform {
 public:
  virtual ~ImageTransform() = default;
  // The shape (C, H, W) of the output for inputs of shape `in`; 0 for a size that varies from
  // image to image (in the input, or in the output of this transform).
  virtual Shape output_shape(const Shape& in) const = 0;
  // Thread-safe: the loader's workers share one transform. Random transforms draw from `gen`.
  virtual Image apply(const Image& image, Generator& gen) const = 0;
  // torchvision's spelling, which parse_image_transforms reads back: "RandomResizedCrop(size=(224,
  // 224), scale=(0.08, 1), ratio=(0.75, 1.33333))" and so on.
  virtual std::string to_string() const = 0;
};
using ImageTransformPtr = std::shared_ptr<const ImageTransform>;
using ImageTransforms = std::vector<ImageTransformPtr>;  // applied in order

// Resize(size): exact height x width, or the shorter side (see resize_shorter).
class Resize final : public ImageTransform {
 public:
  Resize(int64_t height, int64_t width, bool antialias = true);
  static ImageTransformPtr shorter(int64_t size, bool antialias = true);
  Shape output_shape(const Shape& in) const override;
  Image apply(const Image& image, Generator& gen) const override;
  std::string to_string() const override;

 private:
  int64_t height_, width_;  // height_ == 0: width_ is the shorter side's size
  bool antialias_;
};

class CenterCrop final : public ImageTransform {
 public:
  CenterCrop(int64_t height, int64_t width);
  Shape output_shape(const Shape& in) const override;
  Image apply(const Image& image, Generator& gen) const override;
  std::string to_string() const override;

 private:
  int64_t height_, width_;
};

// A window of a random area (scale: fraction of the image's area) and aspect ratio (width /
// height, drawn log-uniformly) resized to height x width: torchvision's get_params, ten tries,
// then the central crop of the image's aspect ratio clamped to `ratio`.
class RandomResizedCrop final : public ImageTransform {
 public:
  RandomResizedCrop(int64_t height, int64_t width, std::array<double, 2> scale = {0.08, 1.0},
                    std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0}, bool antialias = true);
  Shape output_shape(const Shape& in) const override;
  Image apply(const Image& image, Generator& gen) const override;
  std::string to_string() const override;

 private:
  int64_t height_, width_;
  std::array<double, 2> scale_, ratio_;
  bool antialias_;
};

class RandomHorizontalFlip final : public ImageTransform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Shape output_shape(const Shape& in) const override { return in; }
  Image apply(const Image& image, Generator& gen) const override;
  std::string to_string() const override;

 private:
  double p_;
};

// Rotation by an angle drawn uniformly from [-degrees, degrees].
class RandomRotation final : public ImageTransform {
 public:
  explicit RandomRotation(double degrees, Interpolation interpolation = Interpolation::Nearest, uint8_t fill = 0);
  Shape output_shape(const Shape& in) const override { return in; }
  Image apply(const Image& image, Generator& gen) const override;
  std::string to_string() const override;

 private:
  double degrees_;
  Interpolation interpolation_;
  uint8_t fill_;
};

// torchvision's ColorJitter: brightness, contrast and saturation factors drawn from
// [max(0, 1 - x), 1 + x], the hue shift from [-hue, hue] (hue <= 0.5), applied in a random order;
// a 0 leaves that adjustment out.
class ColorJitter final : public ImageTransform {
 public:
  explicit ColorJitter(double brightness = 0, double contrast = 0, double saturation = 0, double hue = 0);
  Shape output_shape(const Shape& in) const override { return in; }
  Image apply(const Image& image, Generator& gen) const override;
  std::string to_string() const override;

 private:
  double brightness_, contrast_, saturation_, hue_;
};

// The shape after every transform in order (0 where a size varies).
Shape output_shape(const ImageTransforms& transforms, const Shape& in);
// Applies every transform in order.
Image apply(const ImageTransforms& transforms, const Image& image, Generator& gen);

// Reads transforms written in torchvision's spelling, separated by spaces or commas between the
// calls: "Resize(256) CenterCrop(224)", "RandomResizedCrop(224, scale=(0.5, 1))",
// "RandomRotation(15)", "ColorJitter(brightness=0.4, hue=0.1)", "RandomHorizontalFlip(p=0.5)".
// Sizes are one int (square; for Resize: the shorter side) or (height, width). Throws
// strata::Error naming the bad call and listing the transforms and their arguments.
ImageTransforms parse_image_transforms(std::string_view spec);
// The transforms' to_string() joined by spaces (parse_image_transforms reads it back).
std::string to_string(const ImageTransforms& transforms);

}  // namespace strata::data

#pragma GCC visibility pop
