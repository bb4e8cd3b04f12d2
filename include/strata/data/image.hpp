// A decoded uint8 image, the unit that datasets hand out and image transforms work on.
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>
#include <vector>

#include "strata/shape.hpp"

namespace strata::data {

// C planes of H x W pixels, row-major (C = 1 grey, or 3 RGB); 0 = black, 255 = white.
struct Image {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // C x H x W

  int64_t numel() const { return channels * height * width; }
  Shape shape() const { return {channels, height, width}; }
};

}  // namespace strata::data

#pragma GCC visibility pop
