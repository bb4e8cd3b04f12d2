// Image folders with PNG, BMP and JPEG files written by the test (stb_image_write).
#include <stb_image_write.h>

#include "common/test_util.hpp"
#include "data/files.hpp"

using namespace strata;
using namespace strata::data;
using strata::test::Bytes;
using strata::test::expect_error;
using strata::test::TempDir;
using strata::test::write_file;

namespace {

// Writes interleaved RGB pixels (h x w x 3) as PNG, BMP or JPEG according to the extension.
void write_image(const std::filesystem::path& path, int w, int h, const Bytes& rgb) {
  std::filesystem::create_directories(path.parent_path());
  const std::string ext = path.extension().string();
  int ok = 0;
  if (ext == ".png" || ext == ".PNG") ok = stbi_write_png(path.c_str(), w, h, 3, rgb.data(), w * 3);
  if (ext == ".bmp") ok = stbi_write_bmp(path.c_str(), w, h, 3, rgb.data());
  if (ext == ".jpg") ok = stbi_write_jpg(path.c_str(), w, h, 3, rgb.data(), 95);
  ASSERT_TRUE(ok) << "cannot write " << path;
}

Bytes solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Bytes out;
  for (int i = 0; i < w * h; ++i) out.insert(out.end(), {r, g, b});
  return out;
}

}  // namespace

TEST(ImageFolder, ClassesSortedAndPixelsInChannelMajorOrder) {
  TempDir dir;
  // 2x2 image: pixel (y, x) = (10y + x, 100 + 10y + x, 200 + 10y + x).
  const Bytes ramp = {0, 100, 200, 1, 101, 201, 10, 110, 210, 11, 111, 211};
  write_image(dir / "zebra" / "b.png", 2, 2, ramp);
  write_image(dir / "zebra" / "a.bmp", 2, 2, solid(2, 2, 5, 6, 7));
  write_image(dir / "ant" / "only.PNG", 2, 2, solid(2, 2, 50, 60, 70));
  write_file(dir / "zebra" / "notes.txt", {1, 2, 3});
  write_file(dir / "zebra" / ".hidden.png", {1, 2, 3});
  std::filesystem::create_directories(dir / ".cache");

  const ImageDataset ds = load_image_folder(dir.path());
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"ant", "zebra"}));
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.channels, 3);
  EXPECT_EQ(ds.height, 2);
  EXPECT_EQ(ds.width, 2);
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 1, 1}));
  const auto first = ds.image(0);
  EXPECT_EQ(Bytes(first.begin(), first.end()), (Bytes{50, 50, 50, 50, 60, 60, 60, 60, 70, 70, 70, 70}));
  const auto bmp = ds.image(1);  // a.bmp sorts before b.png
  EXPECT_EQ(Bytes(bmp.begin(), bmp.end()), (Bytes{5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7}));
  const auto png = ds.image(2);
  EXPECT_EQ(Bytes(png.begin(), png.end()), (Bytes{0, 1, 10, 11, 100, 101, 110, 111, 200, 201, 210, 211}));
}

TEST(ImageFolder, GreyConversionAndResize) {
  TempDir dir;
  write_image(dir / "red" / "r.png", 3, 1, solid(3, 1, 255, 0, 0));
  write_image(dir / "white" / "w.jpg", 8, 8, solid(8, 8, 255, 255, 255));
  // 2x2 grey levels [[0, 100], [200, 100]] to be resized to 4x4.
  write_image(dir / "zz" / "g.png", 2, 2, {0, 0, 0, 100, 100, 100, 200, 200, 200, 100, 100, 100});

  const ImageDataset ds = load_image_folder(dir.path(), {.channels = 1, .height = 4, .width = 4});
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.channels, 1);
  EXPECT_EQ(ds.height, 4);
  EXPECT_EQ(ds.width, 4);
  // stb_image's luma: (77 r + 150 g + 29 b) >> 8; red gives 76 everywhere after any resize.
  for (uint8_t v : ds.image(0)) EXPECT_EQ(v, 76);
  for (uint8_t v : ds.image(1)) EXPECT_NEAR(v, 255, 2);  // JPEG is lossy
  // Bilinear 2 -> 4 samples input positions 0, 0.25, 0.75, 1 along each axis; results are rounded.
  // Row 1 (y = 0.25): x = 0: 0.75*0 + 0.25*200 = 50; x = 1: 0.75*25 + 0.25*175 = 62.5 -> 63;
  // x = 2: 0.75*75 + 0.25*125 = 87.5 -> 88; x = 3: 100.
  const auto g = ds.image(2);
  EXPECT_EQ(Bytes(g.begin(), g.begin() + 4), (Bytes{0, 25, 75, 100}));
  EXPECT_EQ(Bytes(g.begin() + 4, g.begin() + 8), (Bytes{50, 63, 88, 100}));
  EXPECT_EQ(Bytes(g.begin() + 12, g.end()), (Bytes{200, 175, 125, 100}));
}

TEST(ImageFolder, Errors) {
  TempDir dir;
  expect_error([&] { load_image_folder(dir / "missing"); },
               "image folder " + (dir / "missing").string() + " not found");
  expect_error([&] { load_image_folder(dir.path()); }, "has no class sub-folders");
  expect_error([&] { load_image_folder(dir.path(), {.channels = 4}); }, "channels must be 1 or 3, got 4");
  expect_error([&] { load_image_folder(dir.path(), {.channels = 3, .height = 4, .width = 0}); },
               "size must be positive");

  write_image(dir / "a" / "x.png", 2, 2, solid(2, 2, 1, 2, 3));
  std::filesystem::create_directories(dir / "b");
  write_file(dir / "b" / "readme.txt", {1});
  expect_error([&] { load_image_folder(dir.path()); }, "class folder " + (dir / "b").string() + " holds no .png");

  write_file(dir / "b" / "broken.png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3});
  expect_error([&] { load_image_folder(dir.path()); },
               (dir / "b" / "broken.png").string() + ": cannot read the image header");

  // A file that decodes to no pixels is named, not resized (it crashed the resize).
  std::filesystem::remove(dir / "b" / "broken.png");
  write_file(dir / "b" / "empty.bmp", strata::test::bmp_declaring(2, 0));
  expect_error([&] { load_image_folder(dir.path(), {.channels = 3, .height = 5, .width = 5}); },
               (dir / "b" / "empty.bmp").string() + ": the image is 2x0 pixels: it holds no pixels");
  std::filesystem::remove(dir / "b" / "empty.bmp");

  write_image(dir / "b" / "broken.png", 3, 2, solid(3, 2, 1, 2, 3));
  expect_error([&] { load_image_folder(dir.path()); },
               (dir / "b" / "broken.png").string() + " is 3x2 (width x height) but");
  const ImageDataset resized = load_image_folder(dir.path(), {.channels = 3, .height = 5, .width = 5});
  EXPECT_EQ(resized.size(), 2);
  for (uint8_t v : resized.image(1).subspan(0, 25)) EXPECT_EQ(v, 1);
}

// Issue 22, defects 5 and 11: only PNG, JPEG and BMP are decoded (recognised by their bytes, not
// the file name); files cut short are refused (stb_image decoded truncated BMPs as zeros); an image
// declaring more than 4096x4096 pixels is refused before decoding (two 389 KB PNGs of 20000x20000
// took 3.9 GB, then aborted).
TEST(ImageFolder, OnlyWholeImagesOfTheDocumentedFormats) {
  TempDir dir;
  write_image(dir / "a" / "x.png", 2, 2, solid(2, 2, 1, 2, 3));
  auto refused = [&](const std::string& name, const Bytes& bytes, const std::string& fragment) {
    SCOPED_TRACE(name);
    write_file(dir / "b" / name, bytes);
    expect_error([&] { load_image_folder(dir.path()); }, (dir / "b" / name).string() + ": " + fragment);
    std::filesystem::remove(dir / "b" / name);
  };
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';'};
  refused("gif.png", gif, "not a PNG, JPEG or BMP file (Strata reads these three)");
  refused("pnm.bmp", Bytes{'P', '5', ' ', '1', ' ', '1', ' ', '2', '5', '5', '\n', 7}, "not a PNG, JPEG or BMP file");

  write_image(dir / "w" / "whole.bmp", 16, 16, solid(16, 16, 9, 9, 9));
  const Bytes bmp = strata::test::read_file(dir / "w" / "whole.bmp");
  refused("cut.bmp", Bytes(bmp.begin(), bmp.end() - 10),
          "the BMP is cut short: its 16x16 pixels need " + std::to_string(bmp.size()) + " bytes, the file has " +
              std::to_string(bmp.size() - 10));
  write_image(dir / "w" / "whole.jpg", 16, 16, solid(16, 16, 9, 9, 9));
  const Bytes jpg = strata::test::read_file(dir / "w" / "whole.jpg");
  refused("cut.jpg", Bytes(jpg.begin(), jpg.end() - 20), "the JPEG is cut short");
  write_image(dir / "w" / "whole.png", 16, 16, solid(16, 16, 9, 9, 9));
  const Bytes png = strata::test::read_file(dir / "w" / "whole.png");
  refused("cut.png", Bytes(png.begin(), png.end() - 20), "the PNG is cut short or corrupt: a chunk at byte");
  refused("no_end.png", Bytes(png.begin(), png.end() - 12), "the PNG is cut short (it has no IEND chunk)");
  std::filesystem::remove_all(dir / "w");

  // A grey PNG header declaring 20000x20000 (stb_image checks no chunk CRC).
  Bytes huge(png.begin(), png.begin() + 33);
  for (int at : {16, 20}) huge[at] = 0, huge[at + 1] = 0, huge[at + 2] = 0x4e, huge[at + 3] = 0x20;
  huge[25] = 0;  // colour type: grey
  refused("huge.png", huge, "the image is 20000x20000 pixels, more than the 16777216 Strata decodes (4096x4096)");

  // The whole files decode, whatever their names say.
  write_file(dir / "b" / "really_a_bmp.png", bmp);
  EXPECT_EQ(load_image_folder(dir.path(), {.channels = 3, .height = 4, .width = 4}).size(), 2);
}
