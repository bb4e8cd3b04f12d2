// IDX files (the MNIST format): a 4-byte magic 00 00 <type> <ndim>, ndim big-endian uint32 sizes,
// then the elements in row-major order. Only unsigned bytes (type 0x08) occur in MNIST-style
// datasets: images N x H x W, labels N.
#include <array>
#include <initializer_list>
#include <string>
#include <utility>

#include "data/byte_reader.hpp"
#include "strata/data/dataset.hpp"

namespace strata::data {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;
constexpr uint64_t kMaxElements = uint64_t{1} << 40;  // far beyond any real IDX file
// What one IDX file may load into memory: 2.7 million 28x28 images (EMNIST, the largest MNIST-style
// set, has 0.8 million). A gzip bomb declaring more is refused before it is inflated.
constexpr uint64_t kMaxBytes = uint64_t{1} << 31;

// "00 00 08 03"
std::string hex(std::initializer_list<uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    if (!s.empty()) s += ' ';
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}
std::string hex(const std::array<uint8_t, 4>& b) { return hex({b[0], b[1], b[2], b[3]}); }

struct IdxArray {
  std::vector<uint64_t> dims;
  std::vector<uint8_t> data;
};

std::string dims_str(const std::vector<uint64_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

// Reads an IDX file of unsigned bytes with `ndim` dimensions holding `what` ("images N x H x W").
// Memory for the data grows with the bytes actually read (ByteReader::read_up_to), so a header
// that claims more than the file holds costs no more than the file's contents.
IdxArray read_idx(const std::filesystem::path& path, uint8_t ndim, const char* what, const std::string& hint) {
  ByteReader in(path, hint);
  std::array<uint8_t, 4> magic{};
  const std::size_t got = in.read(magic.data(), magic.size());
  if (got < magic.size()) in.fail("only ", got, " bytes, too short for an IDX header");
  const std::array<uint8_t, 4> expected = {0, 0, kUnsignedByte, ndim};
  if (magic[0] != 0 || magic[1] != 0)
    in.fail("not an IDX file: it begins with bytes ", hex(magic), " where an IDX file of ", what, " begins ",
            hex(expected));
  if (magic[2] != kUnsignedByte)
    in.fail("IDX element type 0x", hex({magic[2]}), " is not supported; ", what, " must be unsigned bytes (0x",
            hex({kUnsignedByte}), ")");
  if (magic[3] != ndim)
    in.fail("IDX file has ", int(magic[3]), " dimensions but ", what, " needs ", int(ndim),
            " (is this the right file?)");

  IdxArray array;
  uint64_t count = 1;
  for (uint8_t d = 0; d < ndim; ++d) {
    std::array<uint8_t, 4> b{};
    if (in.read(b.data(), b.size()) < b.size())
      in.fail("the IDX header ends inside its dimension sizes (truncated file)");
    const uint64_t size = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
    if (size == 0) in.fail("dimension ", int(d), " of the IDX header is 0; ", what, " cannot be empty");
    array.dims.push_back(size);
    if (size > kMaxElements / count)
      in.fail("the IDX header's sizes ", dims_str(array.dims), " are implausibly large (corrupt header)");
    count *= size;
  }
  if (!in.compressed() && count > in.max_data_left())
    in.fail("truncated: the header promises ", what, " of ", dims_str(array.dims), " = ", count,
            " bytes after the header, but the file holds only ", in.max_data_left());
  if (count > in.max_data_left())
    in.fail("the IDX header declares ", what, " of ", dims_str(array.dims), " = ", count, " bytes, more than the compressed ",
            "file can hold (at most ", in.max_data_left(), "); it is corrupt");
  if (count > kMaxBytes)
    in.fail("the IDX header declares ", what, " of ", dims_str(array.dims), " = ", count,
            " bytes, more than the ", kMaxBytes, " Strata loads from one IDX file into memory");
  array.data = in.read_up_to(static_cast<std::size_t>(count));
  if (array.data.size() < count)
    in.fail("truncated: the header promises ", what, " of ", dims_str(array.dims), " = ", count,
            " bytes after the header, but the file holds only ", array.data.size());
  if (!in.at_end())
    in.fail("more data than the header describes (", what, " of ", dims_str(array.dims), " = ", count, " bytes)");
  return array;
}

ImageDataset load_idx_pair(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                           std::vector<std::string> class_names, const std::string& hint) {
  STRATA_CHECK(!class_names.empty(), "load_idx: no class names given for ", labels_file.string());
  IdxArray images = read_idx(images_file, 3, "images N x H x W", hint);
  IdxArray labels = read_idx(labels_file, 1, "labels N", hint);
  STRATA_CHECK(images.dims[0] == labels.dims[0], images_file.string(), " holds ", images.dims[0], " images but ",
               labels_file.string(), " holds ", labels.dims[0], " labels; both files must come from the same split; ",
               hint);
  ImageDataset ds;
  ds.channels = 1;
  ds.height = static_cast<int64_t>(images.dims[1]);
  ds.width = static_cast<int64_t>(images.dims[2]);
  ds.pixels = std::move(images.data);
  ds.labels.assign(labels.data.begin(), labels.data.end());
  ds.class_names = std::move(class_names);
  for (std::size_t i = 0; i < ds.labels.size(); ++i)
    STRATA_CHECK(ds.labels[i] < ds.num_classes(), labels_file.string(), ": label ", ds.labels[i], " of example ", i,
                 " is outside [0, ", ds.num_classes(), "); the file is corrupt or not a label file of this dataset; ",
                 hint);
  return ds;
}

// MNIST-style directory: DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
ImageDataset load_mnist_style(const std::filesystem::path& dir, Split split, const char* dataset,
                              const std::vector<std::string>& class_names, const std::string& get_it,
                              const std::string& hint) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  std::filesystem::path files[2];
  const std::string names[2] = {prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"};
  for (int i = 0; i < 2; ++i) {
    auto found = find_data_file(dir, names[i]);
    if (!found) fail(dataset, " not found in ", dir.string(), ": expected ", names[i], "(.gz); ", get_it);
    files[i] = *found;
  }
  return load_idx_pair(files[0], files[1], class_names, hint);
}

}  // namespace

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

const std::vector<std::string>& mnist_class_names() {
  static const std::vector<std::string> names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return names;
}

ImageDataset load_idx(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                      std::vector<std::string> class_names) {
  return load_idx_pair(images_file, labels_file, std::move(class_names),
                       "check the path and that it is an intact IDX file");
}

ImageDataset load_fashion_mnist(const std::filesystem::path& dir, Split split) {
  return load_mnist_style(
      dir, split, "Fashion-MNIST", fashion_mnist_class_names(),
      "install the Debian package dataset-fashion-mnist (make deps) or pass --data DIR",
      "reinstall the Debian package dataset-fashion-mnist (apt-get install --reinstall dataset-fashion-mnist) or "
      "pass --data DIR with intact files");
}

ImageDataset load_mnist(const std::filesystem::path& dir, Split split) {
  return load_mnist_style(dir, split, "MNIST", mnist_class_names(),
                          "download the four MNIST files (train/t10k images and labels) into it or pass --data DIR",
                          "download the MNIST files again or pass --data DIR with intact files");
}

}  // namespace strata::data
