// The per-example Transform of a DataLoader, validated once against the dataset's image shape and
// run as one fused pass from uint8 C x H x W pixels to f32 C x H' x W' values (the steps and their
// order are described at Transform in strata/data/transforms.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "data/image_kernels.hpp"
#include "strata/data/transforms.hpp"
#include "strata/shape.hpp"

namespace strata {
class Generator;
}

namespace strata::data::detail {

class ExamplePipeline {
 public:
  // Throws strata::Error naming the field when `transform` does not fit C x H x W images.
  ExamplePipeline(const Transform& transform, int64_t channels, int64_t height, int64_t width);

  Shape output_shape() const { return {channels_, out_h_, out_w_}; }  // (C, H', W')
  Shape input_shape() const { return {channels_, in_h_, in_w_}; }     // (C, H, W)
  int64_t input_numel() const { return channels_ * in_h_ * in_w_; }
  int64_t output_numel() const { return channels_ * out_h_ * out_w_; }
  // Whether apply() draws random numbers (a random crop or a flip with probability > 0).
  bool random() const { return crop_ || flip_probability_ > 0.0; }

  // Buffers of one thread, reused from example to example.
  struct Scratch {
    std::vector<uint8_t> cropped;  // C x crop_h x crop_w
    std::vector<float> unit;       // C x crop_h x crop_w, pixel / 255 (before a resize)
    std::vector<float> rows_w;     // crop_h x resize_w, rows resized along W (resize_plane)
  };
  // dst (output_numel() floats) = the transform of src (input_numel() pixels). When random(),
  // draws the crop's top then left offset, then the flip, from *gen; gen may be null otherwise.
  void apply(const uint8_t* src, Generator* gen, Scratch& scratch, float* dst) const;

 private:
  int64_t channels_, in_h_, in_w_;
  bool crop_ = false;
  int64_t padding_ = 0, crop_h_, crop_w_;  // crop_h_ x crop_w_ = in_h_ x in_w_ without a crop
  double flip_probability_ = 0.0;
  bool resize_ = false;
  int64_t out_h_, out_w_;
  BilinearTaps rows_, cols_;
  bool normalize_ = false;
  std::vector<float> mean_, std_;  // one per channel
  // C x 256: the value pixel v of channel c has after scaling (and normalising, when there is no
  // resize between the two steps).
  std::vector<float> lut_;
};

}  // namespace strata::data::detail
