#include "data/pipeline.hpp"

#include "strata/error.hpp"
#include "strata/random.hpp"

namespace strata::data::detail {
namespace {

// Expands a per-channel list of 1 or `channels` values to `channels` values.
std::vector<float> per_channel(const std::vector<float>& v, int64_t channels, const char* name) {
  STRATA_CHECK(v.size() == 1 || static_cast<int64_t>(v.size()) == channels, "DataLoader transform: ", name, " has ",
               v.size(), " values but the images have ", channels, " channels (give one per channel, or one for all)");
  return v.size() == 1 ? std::vector<float>(static_cast<std::size_t>(channels), v[0]) : v;
}

}  // namespace

ExamplePipeline::ExamplePipeline(const Transform& t, int64_t channels, int64_t height, int64_t width)
    : channels_(channels), in_h_(height), in_w_(width) {
  STRATA_CHECK(t.crop_padding >= 0, "DataLoader transform: crop_padding must be >= 0, got ", t.crop_padding);
  STRATA_CHECK(t.crop_height >= 0 && t.crop_width >= 0, "DataLoader transform: crop size must be >= 0, got ",
               t.crop_height, "x", t.crop_width);
  padding_ = t.crop_padding;
  crop_h_ = t.crop_height > 0 ? t.crop_height : height;
  crop_w_ = t.crop_width > 0 ? t.crop_width : width;
  STRATA_CHECK(crop_h_ <= height + 2 * padding_ && crop_w_ <= width + 2 * padding_, "DataLoader transform: crop ",
               crop_h_, "x", crop_w_, " does not fit the ", height, "x", width, " images padded by ", padding_);
  crop_ = padding_ > 0 || crop_h_ < height || crop_w_ < width;

  STRATA_CHECK(t.flip_probability >= 0.0 && t.flip_probability <= 1.0,
               "DataLoader transform: flip_probability must be in [0, 1], got ", t.flip_probability);
  flip_probability_ = t.flip_probability;

  STRATA_CHECK((t.resize_height == 0 && t.resize_width == 0) || (t.resize_height > 0 && t.resize_width > 0),
               "DataLoader transform: resize size must be positive (or 0x0 for no resize), got ", t.resize_height, "x",
               t.resize_width);
  resize_ = t.resize_height > 0;
  out_h_ = resize_ ? t.resize_height : crop_h_;
  out_w_ = resize_ ? t.resize_width : crop_w_;
  if (resize_) {
    rows_ = bilinear_taps(crop_h_, out_h_);
    cols_ = bilinear_taps(crop_w_, out_w_);
  }

  STRATA_CHECK(t.mean.empty() == t.std.empty(), "DataLoader transform: give both mean and std, or neither (mean has ",
               t.mean.size(), " values, std ", t.std.size(), ")");
  normalize_ = !t.mean.empty();
  if (normalize_) {
    mean_ = per_channel(t.mean, channels, "mean");
    std_ = per_channel(t.std, channels, "std");
    for (float s : std_) STRATA_CHECK(s > 0.0f, "DataLoader transform: every std must be positive, got ", s);
  }

  lut_.resize(static_cast<std::size_t>(channels) * 256);
  for (int64_t c = 0; c < channels; ++c)
    for (int v = 0; v < 256; ++v) {
      // The same float operations as to_float and normalize, so the results agree exactly.
      float x = static_cast<float>(v) / 255.0f;
      if (normalize_ && !resize_) x = (x - mean_[c]) / std_[c];
      lut_[c * 256 + v] = x;
    }
}

void ExamplePipeline::apply(const uint8_t* src, Generator* gen, Scratch& scratch, float* dst) const {
  const uint8_t* image = src;
  if (random()) {
    int64_t top = 0, left = 0;
    if (crop_) {
      top = static_cast<int64_t>(gen->below(static_cast<uint64_t>(in_h_ + 2 * padding_ - crop_h_ + 1))) - padding_;
      left = static_cast<int64_t>(gen->below(static_cast<uint64_t>(in_w_ + 2 * padding_ - crop_w_ + 1))) - padding_;
    }
    const bool flip = flip_probability_ > 0.0 && gen->uniform() < flip_probability_;
    if (crop_ || flip) {
      scratch.cropped.resize(static_cast<std::size_t>(channels_ * crop_h_ * crop_w_));
      for (int64_t c = 0; c < channels_; ++c)
        crop_flip_plane(src + c * in_h_ * in_w_, in_h_, in_w_, top, left, crop_h_, crop_w_, flip,
                        scratch.cropped.data() + c * crop_h_ * crop_w_);
      image = scratch.cropped.data();
    }
  }
  const int64_t plane = crop_h_ * crop_w_;
  if (!resize_) {
    for (int64_t c = 0; c < channels_; ++c) {
      const float* lut = lut_.data() + c * 256;
      for (int64_t i = 0; i < plane; ++i) dst[c * plane + i] = lut[image[c * plane + i]];
    }
    return;
  }
  scratch.unit.resize(static_cast<std::size_t>(channels_ * plane));
  for (int64_t i = 0; i < channels_ * plane; ++i) scratch.unit[i] = lut_[image[i]];  // channel 0's table: pixel / 255
  const int64_t out_plane = out_h_ * out_w_;
  for (int64_t c = 0; c < channels_; ++c)
    resize_plane(scratch.unit.data() + c * plane, crop_h_, crop_w_, rows_, cols_, scratch.rows_w, dst + c * out_plane);
  if (normalize_)
    for (int64_t c = 0; c < channels_; ++c)
      for (int64_t i = 0; i < out_plane; ++i) dst[c * out_plane + i] = (dst[c * out_plane + i] - mean_[c]) / std_[c];
}

}  // namespace strata::data::detail
