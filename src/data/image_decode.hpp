// Decoding an image file's bytes with stb_image, for image folders and `predict`: only the
// documented formats (PNG, JPEG, BMP, recognised by their first bytes whatever the file is called;
// stb_image would also take GIF, TGA, HDR, PSD, PIC and PNM), truncated files refused, and the
// pixel count bounded before any pixel is decoded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "strata/data/image.hpp"

namespace strata::data {

// More pixels than this (16.7 M, 4096x4096) are refused before decoding: no model input needs them,
// and a 400 KB PNG can declare 20000x20000.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 24;

// Interleaved height x width x channels pixels, owned by stb_image.
struct DecodedImage {
  std::unique_ptr<uint8_t, void (*)(void*)> pixels{nullptr, nullptr};  // deleter: stbi_image_free
  int width = 0, height = 0;
};

// Decodes `bytes` to `channels` channels (1: grey, 3: RGB) into `out`. Returns what is wrong
// (a sentence without the file's name, such as "not a PNG, JPEG or BMP file") or "" on success.
std::string decode_image(std::span<const uint8_t> bytes, int channels, DecodedImage& out);

// Reads the image file `path` (a regular file of at most 1 GiB) and decodes it to `channels`
// planes (C x H x W). Returns what is wrong, as decode_image, or "" on success.
std::string read_image_file(const std::filesystem::path& path, int channels, Image& out);

}  // namespace strata::data
