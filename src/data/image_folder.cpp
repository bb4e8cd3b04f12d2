// Image-folder datasets (torchvision's ImageFolder): DIR/<class>/<image>, decoded with stb_image
// (PNG, JPEG, BMP) and converted to the requested channel count, either all at load time (in
// parallel, each straight into its slot of an ImageDataset, resized) or one by one on demand
// (ImageFolderDataset).
#include <algorithm>
#include <cctype>
#include <cmath>
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

// Reads and decodes `path` to `channels` planes; returns the error message, naming the file, instead
// on failure.
std::string decode(const fs::path& path, int channels, Image& out) {
  const std::string problem = read_image_file(path, channels, out);
  return problem.empty() ? problem : path.string() + ": " + problem + "; replace or remove the file";
}

// dst (C x height x width) = the image, bilinearly resized when its size differs (rounded to the
// nearest integer).
void store(const Image& img, int64_t height, int64_t width, uint8_t* dst) {
  const int64_t in_plane = img.height * img.width;
  if (img.height == height && img.width == width) {
    std::copy(img.pixels.begin(), img.pixels.end(), dst);
    return;
  }
  const BilinearTaps rows = bilinear_taps(img.height, height), cols = bilinear_taps(img.width, width);
  std::vector<float> plane(static_cast<std::size_t>(in_plane)), resized(static_cast<std::size_t>(height * width));
  std::vector<float> rows_w;
  for (int64_t c = 0; c < img.channels; ++c) {
    std::copy_n(img.pixels.begin() + c * in_plane, in_plane, plane.begin());
    resize_plane(plane.data(), img.height, img.width, rows, cols, rows_w, resized.data());
    for (int64_t i = 0; i < height * width; ++i)
      dst[c * height * width + i] = static_cast<uint8_t>(std::clamp(std::floor(resized[i] + 0.5f), 0.0f, 255.0f));
  }
}

void check_options(const ImageFolderOptions& options, const char* op) {
  STRATA_CHECK(options.channels == 1 || options.channels == 3, op, ": channels must be 1 or 3, got ",
               options.channels);
  STRATA_CHECK((options.height == 0 && options.width == 0) || (options.height > 0 && options.width > 0), op,
               ": size must be positive (or 0x0 to keep the images' own), got ", options.height, "x", options.width);
}

// The class names (sub-folders sorted by name) and every image file with its label, in order.
struct FolderListing {
  std::vector<std::string> class_names;
  std::vector<ImageFile> files;
};

FolderListing list_folder(const fs::path& dir) {
  std::error_code ec;
  STRATA_CHECK(fs::is_directory(dir, ec), "image folder ", dir.string(),
               " not found; pass a folder holding one sub-folder of images per class");
  FolderListing listing;
  for (const fs::path& class_dir : sorted_entries(dir, [](const fs::directory_entry& e) {
         std::error_code ec;
         return e.is_directory(ec);
       })) {
    const auto label = static_cast<int64_t>(listing.class_names.size());
    listing.class_names.push_back(class_dir.filename().string());
    const std::vector<fs::path> images = sorted_entries(class_dir, [](const fs::directory_entry& e) {
      std::error_code ec;
      return e.is_regular_file(ec) && has_image_extension(e.path());
    });
    STRATA_CHECK(!images.empty(), "image folder: class folder ", class_dir.string(),
                 " holds no .png, .jpg, .jpeg or .bmp images; add some or remove the folder");
    for (const fs::path& p : images) listing.files.push_back({p, label});
  }
  STRATA_CHECK(!listing.files.empty(), "image folder ", dir.string(),
               " has no class sub-folders; expected DIR/<class>/<image>.png|jpg|jpeg|bmp");
  return listing;
}

}  // namespace

ImageDataset load_image_folder(const fs::path& dir, const ImageFolderOptions& options) {
  check_options(options, "load_image_folder");
  FolderListing listing = list_folder(dir);
  std::vector<ImageFile>& files = listing.files;
  ImageDataset ds;
  ds.class_names = std::move(listing.class_names);

  // The first image fixes the size when none is requested.
  Image first;
  if (std::string error = decode(files[0].path, options.channels, first); !error.empty()) fail(error);
  ds.channels = options.channels;
  ds.height = options.height > 0 ? options.height : first.height;
  ds.width = options.width > 0 ? options.width : first.width;
  const int64_t numel = ds.image_numel();
  const auto n = static_cast<int64_t>(files.size());
  ds.pixels.resize(static_cast<std::size_t>(n * numel));
  ds.labels.resize(static_cast<std::size_t>(n));
  store(first, ds.height, ds.width, ds.pixels.data());
  ds.labels[0] = files[0].label;

  std::vector<std::string> errors(files.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 1; i < n; ++i) {
    Image img;
    errors[i] = decode(files[i].path, options.channels, img);
    if (!errors[i].empty()) continue;
    if (options.height == 0 && (img.height != ds.height || img.width != ds.width)) {
      errors[i] = files[i].path.string() + " is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                  " (width x height) but " + files[0].path.string() + " is " + std::to_string(ds.width) + "x" +
                  std::to_string(ds.height) + "; images of different sizes need a size to resize them to " +
                  "(ImageFolderOptions height and width)";
      continue;
    }
    store(img, ds.height, ds.width, ds.pixels.data() + i * numel);
    ds.labels[i] = files[i].label;
  }
  for (const std::string& error : errors)
    if (!error.empty()) fail(error);
  return ds;
}

// ---- ImageFolderDataset ----

ImageFolderDataset::ImageFolderDataset(const fs::path& dir, const ImageFolderOptions& options) : options_(options) {
  check_options(options, "ImageFolderDataset");
  FolderListing listing = list_folder(dir);
  class_names_ = std::move(listing.class_names);
  files_.reserve(listing.files.size());
  labels_.reserve(listing.files.size());
  for (ImageFile& f : listing.files) {
    files_.push_back(std::move(f.path));
    labels_.push_back(f.label);
  }
}

Example ImageFolderDataset::get(int64_t index) const {
  const fs::path& file = path(index);
  Image decoded;
  if (std::string error = decode(file, options_.channels, decoded); !error.empty()) fail(error);
  Example example{.image = {}, .label = labels_[static_cast<std::size_t>(index)]};
  if (options_.height == 0 || (decoded.height == options_.height && decoded.width == options_.width)) {
    example.image = std::move(decoded);
    return example;
  }
  example.image = {.channels = options_.channels, .height = options_.height, .width = options_.width, .pixels = {}};
  example.image.pixels.resize(static_cast<std::size_t>(example.image.numel()));
  store(decoded, options_.height, options_.width, example.image.pixels.data());
  return example;
}

Shape ImageFolderDataset::image_shape() const { return {options_.channels, options_.height, options_.width}; }

std::string ImageFolderDataset::describe(int64_t index) const { return path(index).string(); }

const fs::path& ImageFolderDataset::path(int64_t index) const {
  STRATA_CHECK(index >= 0 && index < size(), "ImageFolderDataset: index ", index, " is outside [0, ", size(), ")");
  return files_[static_cast<std::size_t>(index)];
}

int64_t ImageFolderDataset::label(int64_t index) const {
  path(index);  // checks the index
  return labels_[static_cast<std::size_t>(index)];
}

}  // namespace strata::data
