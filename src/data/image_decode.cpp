#include "data/image_decode.hpp"

#include <stb_image.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "io/file.hpp"
#include "strata/error.hpp"

namespace strata::data {
namespace {

enum class Format { Png, Jpeg, Bmp, Other };

Format format_of(std::span<const uint8_t> b) {
  static constexpr uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= sizeof kPng && std::memcmp(b.data(), kPng, sizeof kPng) == 0) return Format::Png;
  if (b.size() >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return Format::Jpeg;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return Format::Bmp;
  return Format::Other;
}

uint32_t le32(std::span<const uint8_t> b, std::size_t at) {
  return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
}

uint32_t be32(std::span<const uint8_t> b, std::size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | uint32_t{b[at + 3]};
}

// A PNG's chunks (length, type, data, CRC) must each fit in the file, up to IEND: stb_image
// allocates what a chunk's length declares before it reads the data (an 88-byte file declaring a
// 1 GB IDAT made it allocate 1 GB; found by fuzz/image.cpp).
std::string png_chunk_problem(std::span<const uint8_t> b) {
  std::size_t at = 8;  // after the signature
  while (at + 12 <= b.size()) {
    const uint64_t length = be32(b, at);
    if (length > b.size() - at - 12)
      return detail::cat("the PNG is cut short or corrupt: a chunk at byte ", at, " declares ", length,
                         " bytes of data, the file has ", b.size() - at - 12, " after its header");
    if (std::memcmp(b.data() + at + 4, "IEND", 4) == 0) return {};
    at += 12 + length;
  }
  return "the PNG is cut short (it has no IEND chunk)";
}

// stb_image decodes a file cut short as if the missing bytes were zeros (BMP), stops quietly
// (JPEG), or first allocates what a chunk declares (PNG); these checks find the cut. Returns what
// is wrong, or "".
std::string truncation(Format format, std::span<const uint8_t> b, int width, int height) {
  if (format == Format::Png) return png_chunk_problem(b);
  if (format == Format::Bmp) {
    // An uncompressed BMP (BI_RGB, BI_BITFIELDS; stb reads no other) has its rows, padded to 4
    // bytes, from the pixel-data offset on.
    if (b.size() < 34) return "the BMP header is cut short";
    const uint64_t offset = le32(b, 10), bits = uint64_t{b[28]} | uint64_t{b[29]} << 8;
    const uint64_t row = (bits * static_cast<uint64_t>(width) + 31) / 32 * 4;
    const uint64_t needed = offset + row * static_cast<uint64_t>(height);
    if (b.size() < needed)
      return detail::cat("the BMP is cut short: its ", width, "x", height, " pixels need ", needed, " bytes, the file has ",
                         b.size());
  } else if (format == Format::Jpeg) {
    // The end-of-image marker after the last start of scan (inside a scan's data, 0xff is always
    // followed by 0; the last, as an EXIF thumbnail has scans of its own).
    static constexpr uint8_t kScan[] = {0xff, 0xda}, kEnd[] = {0xff, 0xd9};
    const auto scan = std::find_end(b.begin(), b.end(), std::begin(kScan), std::end(kScan));
    if (scan == b.end() || std::search(scan, b.end(), std::begin(kEnd), std::end(kEnd)) == b.end())
      return "the JPEG is cut short (it has no end-of-image marker after its image data)";
  }
  return {};
}

}  // namespace

std::string decode_image(std::span<const uint8_t> bytes, int channels, DecodedImage& out) {
  const Format format = format_of(bytes);
  if (format == Format::Other) return "not a PNG, JPEG or BMP file (Strata reads these three)";
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return "the file is too large to decode (over 2 GiB)";
  const int size = static_cast<int>(bytes.size());
  int w = 0, h = 0, file_channels = 0;
  if (!stbi_info_from_memory(bytes.data(), size, &w, &h, &file_channels))
    return detail::cat("cannot read the image header (stb_image: ", stbi_failure_reason(), ")");
  if (w <= 0 || h <= 0) return detail::cat("the image is ", w, "x", h, " pixels: it holds no pixels");
  if (int64_t{w} * h > kMaxImagePixels)
    return detail::cat("the image is ", w, "x", h, " pixels, more than the ", kMaxImagePixels,
                       " Strata decodes (4096x4096)");
  if (std::string cut = truncation(format, bytes, w, h); !cut.empty()) return cut;
  out.pixels = {stbi_load_from_memory(bytes.data(), size, &w, &h, &file_channels, channels), stbi_image_free};
  if (!out.pixels) return detail::cat("cannot decode the image (stb_image: ", stbi_failure_reason(), ")");
  out.width = w;
  out.height = h;
  return {};
}

std::string read_image_file(const std::filesystem::path& path, int channels, Image& out) {
  std::vector<uint8_t> bytes;
  try {
    const io::InputFile file(path, "read image");
    if (file.size() > (uint64_t{1} << 30))
      return detail::cat("the file has ", file.size(), " bytes, more than an image Strata decodes (1 GiB)");
    bytes.resize(static_cast<std::size_t>(file.size()));
    file.read(0, bytes.data(), bytes.size());
  } catch (const Error& e) {  // "read image: 'PATH': cannot open ...": the caller names the file
    const std::string message = e.what(), prefix = io::file_prefix("read image", path);
    return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
  }
  DecodedImage decoded;
  if (std::string problem = decode_image(bytes, channels, decoded); !problem.empty()) return problem;
  // Interleaved H x W x C -> planar C x H x W.
  out.channels = channels;
  out.height = decoded.height;
  out.width = decoded.width;
  const int64_t plane = out.height * out.width;
  out.pixels.resize(static_cast<std::size_t>(plane * channels));
  const uint8_t* src = decoded.pixels.get();
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < plane; ++i) out.pixels[c * plane + i] = src[i * channels + c];
  return "";
}

}  // namespace strata::data
