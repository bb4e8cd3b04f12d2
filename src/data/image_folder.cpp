// Image-folder datasets (torchvision's ImageFolder): DIR/<class>/<image>, decoded with stb_image
// (PNG, JPEG, BMP), converted to the requested channel count and resized at load time. Files are
// decoded in parallel, each straight into its slot of the dataset.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <system_error>

#include "data/image_decode.hpp"
#include "data/image_kernels.hpp"
#include "strata/data/dataset.hpp"
#include "strata/error.hpp"

namespace strata::data {
namespace {

namespace fs = std::filesystem;

struct ImageFile {
  fs::path path;
  int64_t label;
};

bool is_hidden(const fs::path& p) { return p.filename().string().starts_with('.'); }

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// Entries of `dir` accepted by `keep`, sorted by name.
template <class Keep>
std::vector<fs::path> sorted_entries(const fs::path& dir, Keep keep) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!is_hidden(it->path()) && keep(*it)) entries.push_back(it->path());
  if (ec) fail("image folder: cannot list ", dir.string(), " (", ec.message(), ")");
  std::sort(entries.begin(), entries.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return entries;
}

// Reads and decodes `path` to `channels` channels; returns the error message instead on failure.
std::string decode(const fs::path& path, int channels, DecodedImage& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return path.string() + ": cannot open (" + std::strerror(errno) + "); fix its permissions or remove it";
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (std::size_t got; (got = std::fread(chunk, 1, sizeof chunk, f)) > 0;)
    bytes.insert(bytes.end(), chunk, chunk + got);
  const bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return path.string() + ": read error; check the file system or remove the file";
  const std::string problem = decode_image(bytes, channels, out);
  return problem.empty() ? problem : path.string() + ": " + problem + "; replace or remove the file";
}

// dst (C x height x width) = the interleaved image, bilinearly resized when its size differs.
void store(const DecodedImage& img, int channels, int64_t height, int64_t width, uint8_t* dst) {
  const uint8_t* src = img.pixels.get();
  const int64_t in_plane = int64_t{img.width} * img.height;
  if (img.height == height && img.width == width) {
    for (int c = 0; c < channels; ++c)
      for (int64_t i = 0; i < in_plane; ++i) dst[c * in_plane + i] = src[i * channels + c];
    return;
  }
  const BilinearTaps rows = bilinear_taps(img.height, height), cols = bilinear_taps(img.width, width);
  std::vector<float> plane(static_cast<std::size_t>(in_plane)), resized(static_cast<std::size_t>(height * width));
  std::vector<float> rows_w;
  for (int c = 0; c < channels; ++c) {
    for (int64_t i = 0; i < in_plane; ++i) plane[i] = src[i * channels + c];
    resize_plane(plane.data(), img.height, img.width, rows, cols, rows_w, resized.data());
    for (int64_t i = 0; i < height * width; ++i)
      dst[c * height * width + i] = static_cast<uint8_t>(std::clamp(std::floor(resized[i] + 0.5f), 0.0f, 255.0f));
  }
}

}  // namespace

ImageDataset load_image_folder(const fs::path& dir, const ImageFolderOptions& options) {
  STRATA_CHECK(options.channels == 1 || options.channels == 3, "load_image_folder: channels must be 1 or 3, got ",
               options.channels);
  STRATA_CHECK((options.height == 0 && options.width == 0) || (options.height > 0 && options.width > 0),
               "load_image_folder: size must be positive (or 0x0 to keep the images' own), got ", options.height, "x",
               options.width);
  std::error_code ec;
  STRATA_CHECK(fs::is_directory(dir, ec), "image folder ", dir.string(),
               " not found; pass a folder holding one sub-folder of images per class");

  ImageDataset ds;
  std::vector<ImageFile> files;
  for (const fs::path& class_dir : sorted_entries(dir, [](const fs::directory_entry& e) {
         std::error_code ec;
         return e.is_directory(ec);
       })) {
    const auto label = static_cast<int64_t>(ds.class_names.size());
    ds.class_names.push_back(class_dir.filename().string());
    const std::vector<fs::path> images = sorted_entries(class_dir, [](const fs::directory_entry& e) {
      std::error_code ec;
      return e.is_regular_file(ec) && has_image_extension(e.path());
    });
    STRATA_CHECK(!images.empty(), "image folder: class folder ", class_dir.string(),
                 " holds no .png, .jpg, .jpeg or .bmp images; add some or remove the folder");
    for (const fs::path& p : images) files.push_back({p, label});
  }
  STRATA_CHECK(!files.empty(), "image folder ", dir.string(),
               " has no class sub-folders; expected DIR/<class>/<image>.png|jpg|jpeg|bmp");

  // The first image fixes the size when none is requested.
  DecodedImage first;
  if (std::string error = decode(files[0].path, options.channels, first); !error.empty()) fail(error);
  ds.channels = options.channels;
  ds.height = options.height > 0 ? options.height : first.height;
  ds.width = options.width > 0 ? options.width : first.width;
  const int64_t numel = ds.image_numel();
  const auto n = static_cast<int64_t>(files.size());
  ds.pixels.resize(static_cast<std::size_t>(n * numel));
  ds.labels.resize(static_cast<std::size_t>(n));
  store(first, ds.channels, ds.height, ds.width, ds.pixels.data());
  ds.labels[0] = files[0].label;

  std::vector<std::string> errors(files.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 1; i < n; ++i) {
    DecodedImage img;
    errors[i] = decode(files[i].path, options.channels, img);
    if (!errors[i].empty()) continue;
    if (options.height == 0 && (img.height != ds.height || img.width != ds.width)) {
      errors[i] = files[i].path.string() + " is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                  " (width x height) but " + files[0].path.string() + " is " + std::to_string(ds.width) + "x" +
                  std::to_string(ds.height) + "; images of different sizes need a size to resize them to " +
                  "(ImageFolderOptions height and width)";
      continue;
    }
    store(img, ds.channels, ds.height, ds.width, ds.pixels.data() + i * numel);
    ds.labels[i] = files[i].label;
  }
  for (const std::string& error : errors)
    if (!error.empty()) fail(error);
  return ds;
}

}  // namespace strata::data
