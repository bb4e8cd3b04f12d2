// Image transforms (strata/data/image_transforms.hpp): the deterministic functions against
// torchvision 0.14's results (tests/fixtures/data/transforms_golden.safetensors, written by
// tools/make_transform_golden.py), the random transforms' draws and shapes, and the parser.
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "common/test_util.hpp"
#include "strata/data/image_transforms.hpp"
#include "strata/io.hpp"
#include "strata/random.hpp"

using namespace strata;
using namespace strata::data;
using strata::test::expect_error;

namespace {

// The formula of tools/make_transform_golden.py:
//   value(c, y, x) = (c*71 + y*37 + x*13 + ((x*y + seed) % 29)*5 + seed) % 256
Image xf_image(int64_t channels, int64_t height, int64_t width, int64_t seed) {
  Image img{channels, height, width, {}};
  img.pixels.resize(static_cast<std::size_t>(img.numel()));
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x)
        img.pixels[static_cast<std::size_t>((c * height + y) * width + x)] =
            static_cast<uint8_t>((c * 71 + y * 37 + x * 13 + ((x * y + seed) % 29) * 5 + seed) % 256);
  return img;
}

Image xf_a() { return xf_image(3, 13, 17, 0); }
Image xf_g() { return xf_image(1, 9, 11, 7); }
Image xf_big() { return xf_image(3, 40, 56, 3); }

const io::TensorFile& xf_golden() {
  static const io::TensorFile file =
      io::load_safetensors(std::filesystem::path(STRATA_TEST_FIXTURES_DIR) / "data" / "transforms_golden.safetensors");
  return file;
}

// A golden tensor (stored U8, loaded widened to I64) as an Image.
Image xf_expected(const std::string& name) {
  const Tensor& t = xf_golden().at(name);
  EXPECT_EQ(t.ndim(), 3) << name;
  Image img{t.shape()[0], t.shape()[1], t.shape()[2], {}};
  const int64_t* v = t.data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) img.pixels.push_back(static_cast<uint8_t>(v[i]));
  return img;
}

struct XfDiff {
  int max_abs = 0;
  int64_t count = 0;  // pixels that differ
};

XfDiff xf_compare(const Image& got, const Image& want) {
  XfDiff d;
  for (std::size_t i = 0; i < got.pixels.size() && i < want.pixels.size(); ++i) {
    const int diff = std::abs(int(got.pixels[i]) - int(want.pixels[i]));
    d.max_abs = std::max(d.max_abs, diff);
    d.count += diff != 0;
  }
  return d;
}

struct XfCase {
  std::string name;
  std::function<Image()> run;
};

std::string xf_tag(double f) {
  std::string s = std::to_string(f);
  s.erase(s.find_last_not_of('0') + 1);
  std::replace(s.begin(), s.end(), '.', 'p');
  std::replace(s.begin(), s.end(), '-', 'm');
  return s;
}

// Every case of tools/make_transform_golden.py, computed by Strata.
std::vector<XfCase> xf_cases() {
  std::vector<XfCase> cases;
  const std::vector<std::pair<std::string, Image>> images = {{"a", xf_a()}, {"g", xf_g()}, {"big", xf_big()}};
  const std::vector<std::pair<std::string, std::vector<std::pair<int64_t, int64_t>>>> resize_sizes = {
      {"a", {{20, 31}, {7, 9}, {20, 9}, {13, 17}}}, {"g", {{17, 5}, {4, 6}}}, {"big", {{15, 21}, {9, 50}, {44, 61}}}};
  for (std::size_t k = 0; k < images.size(); ++k) {
    const Image img = images[k].second;
    cases.push_back({"in_" + images[k].first, [img] { return img; }});
    for (const auto& [h, w] : resize_sizes[k].second)
      for (bool aa : {true, false})
        cases.push_back({"resize_" + images[k].first + "_" + std::to_string(h) + "x" + std::to_string(w) +
                             (aa ? "_aa" : "_noaa"),
                         [img, h = h, w = w, aa] { return resize(img, h, w, aa); }});
  }
  const std::vector<std::tuple<std::string, Image, int64_t>> shorter = {
      {"a", xf_a(), 10}, {"a", xf_a(), 30}, {"g", xf_g(), 5}, {"big", xf_big(), 25}};
  for (const auto& [name, img, size] : shorter)
    for (bool aa : {true, false})
      cases.push_back({"shorter_" + name + "_" + std::to_string(size) + (aa ? "_aa" : "_noaa"),
                       [img = img, size = size, aa] { return resize_shorter(img, size, aa); }});
  const std::vector<std::tuple<std::string, Image, std::array<int64_t, 4>>> crops = {
      {"a", xf_a(), {-2, 3, 10, 20}}, {"a", xf_a(), {2, 3, 5, 6}}, {"a", xf_a(), {5, -4, 12, 8}},
      {"g", xf_g(), {-3, -2, 15, 16}}};
  for (const auto& [name, img, b] : crops)
    cases.push_back({"crop_" + name + "_" + std::to_string(b[0]) + "_" + std::to_string(b[1]) + "_" +
                         std::to_string(b[2]) + "_" + std::to_string(b[3]),
                     [img = img, b = b] { return crop(img, b[0], b[1], b[2], b[3]); }});
  const std::vector<std::tuple<std::string, Image, int64_t, int64_t>> centers = {
      {"a", xf_a(), 6, 9},  {"a", xf_a(), 16, 20}, {"a", xf_a(), 10, 20}, {"a", xf_a(), 15, 4},
      {"g", xf_g(), 4, 4}, {"g", xf_g(), 12, 14}, {"g", xf_g(), 8, 11}};
  for (const auto& [name, img, h, w] : centers)
    cases.push_back({"center_" + name + "_" + std::to_string(h) + "x" + std::to_string(w),
                     [img = img, h = h, w = w] { return center_crop(img, h, w); }});
  cases.push_back({"hflip_a", [] { return horizontal_flip(xf_a()); }});
  cases.push_back({"hflip_g", [] { return horizontal_flip(xf_g()); }});
  for (const auto& [name, img] : {std::pair{std::string("a"), xf_a()}, std::pair{std::string("g"), xf_g()}}) {
    for (int angle : {30, -45, 90})
      for (Interpolation mode : {Interpolation::Nearest, Interpolation::Bilinear})
        for (int fill : {0, 200})
          cases.push_back({"rotate_" + name + "_" + std::to_string(angle) + "_" +
                               (mode == Interpolation::Nearest ? "nearest" : "bilinear") + "_" + std::to_string(fill),
                           [img = img, angle, mode, fill] {
                             return rotate(img, angle, mode, static_cast<uint8_t>(fill));
                           }});
    for (double f : {0.5, 1.7}) {
      cases.push_back({"brightness_" + name + "_" + xf_tag(f), [img = img, f] { return adjust_brightness(img, f); }});
      cases.push_back({"contrast_" + name + "_" + xf_tag(f), [img = img, f] { return adjust_contrast(img, f); }});
      cases.push_back({"saturation_" + name + "_" + xf_tag(f), [img = img, f] { return adjust_saturation(img, f); }});
    }
    for (double f : {0.1, -0.3, 0.5})
      cases.push_back({"hue_" + name + "_" + xf_tag(f), [img = img, f] { return adjust_hue(img, f); }});
  }
  return cases;
}

void xf_expect_identical(const Image& a, const Image& b) {
  EXPECT_EQ(a.shape(), b.shape());
  EXPECT_EQ(a.pixels, b.pixels);
}

}  // namespace

// ---- torchvision golden values ----

TEST(ImageTransformGolden, EveryFunctionMatchesTorchvisionExactly) {
  const std::vector<XfCase> cases = xf_cases();
  // Every tensor of the fixture is checked (in_* are the inputs, checking the formula).
  std::set<std::string> names;
  for (const auto& [name, tensor] : xf_golden().tensors) names.insert(name);
  EXPECT_EQ(names.size(), cases.size());
  for (const XfCase& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(names.count(c.name)) << "missing from the fixture: " << c.name;
    const Image want = xf_expected(c.name);
    const Image got = c.run();
    ASSERT_EQ(got.shape(), want.shape());
    ASSERT_EQ(got.pixels.size(), static_cast<std::size_t>(got.numel()));
    const XfDiff d = xf_compare(got, want);
    EXPECT_EQ(d.max_abs, 0) << d.count << " of " << got.numel() << " pixels differ";
  }
}

TEST(ImageTransformGolden, IdentitiesAndGreyImages) {
  const Image a = xf_a(), g = xf_g();
  xf_expect_identical(resize(a, 13, 17, true), a);
  xf_expect_identical(resize(a, 13, 17, false), a);
  xf_expect_identical(center_crop(a, 13, 17), a);
  xf_expect_identical(horizontal_flip(horizontal_flip(a)), a);
  xf_expect_identical(rotate(a, 0), a);
  xf_expect_identical(rotate(a, 360, Interpolation::Nearest), a);
  xf_expect_identical(adjust_brightness(a, 1.0), a);
  xf_expect_identical(adjust_contrast(a, 1.0), a);
  xf_expect_identical(adjust_saturation(a, 1.0), a);
  xf_expect_identical(adjust_saturation(g, 0.2), g);  // grey: unchanged
  xf_expect_identical(adjust_hue(g, 0.3), g);
  // Contrast 0 of a grey image: every pixel becomes the truncated mean.
  const Image flat = adjust_contrast(g, 0.0);
  double sum = 0;
  for (uint8_t v : g.pixels) sum += v;
  for (uint8_t v : flat.pixels) EXPECT_EQ(v, static_cast<uint8_t>(sum / static_cast<double>(g.numel())));
  // Brightness 0: black.
  for (uint8_t v : adjust_brightness(a, 0.0).pixels) EXPECT_EQ(v, 0);
}

TEST(ImageTransformGolden, BadArgumentsAreErrors) {
  const Image a = xf_a();
  expect_error([&] { resize(a, 0, 5); }, "resize: the output size must be positive and at most 16384 per side, got 0 x 5");
  expect_error([&] { resize(a, 5, 16385); }, "at most 16384");
  expect_error([&] { resize_shorter(a, -1); }, "resize_shorter: size must be positive");
  expect_error([&] { resize_shorter(xf_image(1, 1, 200, 0), 100); }, "makes the longer 20000");
  expect_error([&] { crop(a, 0, 0, 0, 3); }, "crop: the output size must be positive");
  expect_error([&] { center_crop(a, 3, -3); }, "center_crop: the output size");
  expect_error([&] { adjust_brightness(a, -0.5); }, "adjust_brightness: the factor must be a finite number >= 0, got -0.5");
  expect_error([&] { adjust_contrast(a, std::nan("")); }, "adjust_contrast: the factor");
  expect_error([&] { adjust_saturation(a, -1); }, "adjust_saturation: the factor");
  expect_error([&] { adjust_hue(a, 0.6); }, "adjust_hue: hue_factor must be in [-0.5, 0.5], got 0.6");
  expect_error([&] { rotate(a, std::nan("")); }, "rotate: degrees must be a finite number");
  expect_error([&] { horizontal_flip(Image{}); }, "horizontal_flip: the image must have 1 (grey) or 3 (RGB) channels, got 0");
  expect_error([&] { horizontal_flip(Image{2, 2, 2, std::vector<uint8_t>(8)}); }, "got 2");
  expect_error([&] { horizontal_flip(Image{1, 0, 4, {}}); }, "the image is empty (0 x 4)");
  expect_error([&] { horizontal_flip(Image{1, 2, 2, std::vector<uint8_t>(3)}); }, "holds 3 pixels but is 1 x 2 x 2");
}

// ---- Random transforms ----

TEST(ImageTransformRandom, SameSeedSameOutput) {
  const ImageTransforms t = {std::make_shared<RandomResizedCrop>(12, 10), std::make_shared<RandomHorizontalFlip>(),
                             std::make_shared<RandomRotation>(20.0, Interpolation::Bilinear, 9),
                             std::make_shared<ColorJitter>(0.4, 0.4, 0.4, 0.1)};
  const Image big = xf_big();
  Generator g1(42), g2(42), g3(43);
  const Image o1 = apply(t, big, g1), o2 = apply(t, big, g2), o3 = apply(t, big, g3);
  xf_expect_identical(o1, o2);
  EXPECT_EQ(g1.state(), g2.state());
  EXPECT_NE(o1.pixels, o3.pixels);
  EXPECT_EQ(o1.shape(), (Shape{3, 12, 10}));
  // Successive draws differ (the generator moves on).
  EXPECT_NE(apply(t, big, g1).pixels, o1.pixels);
}

TEST(ImageTransformRandom, RandomResizedCropWindowsWithinBounds) {
  // The documented draws are replayed on a copy of the generator: the window they give must lie
  // within the bounds, and the transform (output size = the window's own, so the resize is the
  // identity) must return exactly that crop and leave the generator where the replay does.
  const std::array<double, 2> scale = {0.2, 0.6}, ratio = {0.5, 2.0};
  const int64_t H = 40, W = 56;
  Generator gen(7);
  int fits = 0;
  for (int trial = 0; trial < 500; ++trial) {
    const Generator::State state = gen.state();
    // Replay the documented draws.
    Generator replay(0);
    replay.set_state(state);
    int64_t top = -1, left = -1, h = 0, w = 0;
    for (int attempt = 0; attempt < 10 && top < 0; ++attempt) {
      const double area = H * W * (scale[0] + (scale[1] - scale[0]) * replay.uniform());
      const double logr = std::log(ratio[0]) + (std::log(ratio[1]) - std::log(ratio[0])) * replay.uniform();
      const double ww = std::nearbyint(std::sqrt(area * std::exp(logr)));
      const double hh = std::nearbyint(std::sqrt(area / std::exp(logr)));
      if (ww > 0 && ww <= W && hh > 0 && hh <= H) {
        w = static_cast<int64_t>(ww);
        h = static_cast<int64_t>(hh);
        top = static_cast<int64_t>(replay.below(static_cast<uint64_t>(H - h + 1)));
        left = static_cast<int64_t>(replay.below(static_cast<uint64_t>(W - w + 1)));
      }
    }
    ASSERT_GE(top, 0) << "these bounds always fit within ten tries in practice";
    ++fits;
    // The window lies inside the image, its area and ratio within the bounds (up to rounding).
    EXPECT_LE(top + h, H);
    EXPECT_LE(left + w, W);
    const double frac = static_cast<double>(h * w) / (H * W);
    EXPECT_GE(frac, scale[0] - 0.05);
    EXPECT_LE(frac, scale[1] + 0.05);
    const double r = static_cast<double>(w) / static_cast<double>(h);
    EXPECT_GE(r, ratio[0] * 0.85);
    EXPECT_LE(r, ratio[1] / 0.85);
    // The transform draws exactly the same window.
    const RandomResizedCrop t(h, w, scale, ratio);
    const Image got = t.apply(xf_big(), gen);
    xf_expect_identical(got, crop(xf_big(), top, left, h, w));
    EXPECT_EQ(gen.state(), replay.state());
    // Re-synchronise the generators for the next trial.
    gen.set_state(replay.state());
  }
  EXPECT_EQ(fits, 500);
}

TEST(ImageTransformRandom, RandomResizedCropFallsBackToTheCentralCrop) {
  const Image big = xf_big();  // 40 x 56, aspect 1.4
  Generator gen(3);
  // An area four to five times the image's never fits: the central crop of the whole image.
  const RandomResizedCrop whole(40, 56, {4.0, 5.0}, {0.75, 4.0 / 3.0 + 0.1});
  xf_expect_identical(whole.apply(big, gen), big);
  // Ratio clamped: 1.4 > max 1.0 -> h = 40, w = round(40 * 1.0) = 40, left = (56 - 40) / 2 = 8.
  const RandomResizedCrop square(40, 40, {4.0, 5.0}, {0.5, 1.0});
  xf_expect_identical(square.apply(big, gen), crop(big, 0, 8, 40, 40));
  // 1.4 < min 2.0 -> w = 56, h = round(56 / 2) = 28, top = 6.
  const RandomResizedCrop wide(28, 56, {4.0, 5.0}, {2.0, 3.0});
  xf_expect_identical(wide.apply(big, gen), crop(big, 6, 0, 28, 56));
}

TEST(ImageTransformRandom, ColorJitterZeroIsIdentityAndRangesHold) {
  const Image a = xf_a();
  Generator gen(11);
  const Generator::State before = gen.state();
  xf_expect_identical(ColorJitter().apply(a, gen), a);
  EXPECT_EQ(gen.state(), before);  // nothing drawn
  // Brightness alone: the draw is one shuffle (3 draws) then one factor in [0.5, 1.5]; replayed.
  for (int trial = 0; trial < 50; ++trial) {
    Generator replay(0);
    replay.set_state(gen.state());
    for (uint64_t n : {4, 3, 2}) replay.below(n);
    const double factor = 0.5 + 1.0 * replay.uniform();
    EXPECT_GE(factor, 0.5);
    EXPECT_LT(factor, 1.5);
    xf_expect_identical(ColorJitter(0.5).apply(a, gen), adjust_brightness(a, factor));
    EXPECT_EQ(gen.state(), replay.state());
  }
  // A factor above 1 clips the lower bound at 0: brightness in [0, 3].
  const Image grey_out = ColorJitter(0, 0, 0.9, 0.3).apply(xf_g(), gen);  // grey: saturation and hue do nothing
  xf_expect_identical(grey_out, xf_g());
  const Image jittered = ColorJitter(2.0, 0.5, 0.5, 0.5).apply(a, gen);
  EXPECT_EQ(jittered.shape(), a.shape());
}

TEST(ImageTransformRandom, FlipAndRotationEdgeCases) {
  const Image a = xf_a();
  Generator gen(5);
  Generator::State s = gen.state();
  xf_expect_identical(RandomHorizontalFlip(0.0).apply(a, gen), a);
  EXPECT_EQ(gen.state(), s);  // p == 0 draws nothing
  for (int i = 0; i < 5; ++i) xf_expect_identical(RandomHorizontalFlip(1.0).apply(a, gen), horizontal_flip(a));
  int flips = 0;
  for (int i = 0; i < 400; ++i) flips += RandomHorizontalFlip(0.5).apply(a, gen).pixels != a.pixels;
  EXPECT_GT(flips, 150);
  EXPECT_LT(flips, 250);
  s = gen.state();
  xf_expect_identical(RandomRotation(0.0).apply(a, gen), a);
  EXPECT_EQ(gen.state(), s);
  // The angle is uniform in [-d, d]: replay the draw.
  for (int i = 0; i < 20; ++i) {
    Generator replay(0);
    replay.set_state(gen.state());
    const double angle = -30.0 + 60.0 * replay.uniform();
    EXPECT_LE(std::abs(angle), 30.0);
    xf_expect_identical(RandomRotation(30.0, Interpolation::Bilinear, 7).apply(a, gen),
                        rotate(a, angle, Interpolation::Bilinear, 7));
  }
}

TEST(ImageTransformRandom, OutputShapeAgreesWithApply) {
  Generator gen(1);
  const std::vector<ImageTransforms> lists = {
      {Resize::shorter(10)},
      {Resize::shorter(30, false), std::make_shared<CenterCrop>(24, 20)},
      {std::make_shared<Resize>(7, 9)},
      {std::make_shared<RandomResizedCrop>(11, 8), std::make_shared<RandomHorizontalFlip>(),
       std::make_shared<ColorJitter>(0.2, 0.2, 0.2, 0.05), std::make_shared<RandomRotation>(10)},
      {std::make_shared<CenterCrop>(50, 3)},
      {}};
  for (const Image& img : {xf_a(), xf_g(), xf_big()})
    for (const ImageTransforms& t : lists) {
      SCOPED_TRACE(to_string(t));
      const Shape predicted = output_shape(t, img.shape());
      EXPECT_EQ(predicted, apply(t, img, gen).shape());
    }
  // Varying input: the shorter-side resize varies too; a centre crop fixes it; channels pass.
  const ImageTransforms eval = {Resize::shorter(256), std::make_shared<CenterCrop>(224, 224)};
  EXPECT_EQ(output_shape({Resize::shorter(256)}, Shape{3, 0, 0}), (Shape{3, 0, 0}));
  EXPECT_EQ(output_shape(eval, Shape{3, 0, 0}), (Shape{3, 224, 224}));
  EXPECT_EQ(output_shape(eval, Shape{1, 0, 500}), (Shape{1, 224, 224}));
  EXPECT_EQ(output_shape({Resize::shorter(256)}, Shape{3, 480, 640}), (Shape{3, 256, 341}));
  EXPECT_EQ(output_shape({std::make_shared<RandomHorizontalFlip>()}, Shape{3, 0, 0}), (Shape{3, 0, 0}));
  EXPECT_EQ(output_shape({std::make_shared<RandomResizedCrop>(32, 30)}, Shape{3, 0, 7}), (Shape{3, 32, 30}));
}

TEST(ImageTransformRandom, ConstructorsRefuseBadArguments) {
  expect_error([] { Resize(0, 4); }, "Resize: size must be positive and at most 16384 per side, got (0, 4)");
  expect_error([] { Resize::shorter(20000); }, "Resize: the shorter side's size must be positive and at most 16384");
  expect_error([] { CenterCrop(4, -1); }, "CenterCrop: size must be positive");
  expect_error([] { RandomResizedCrop(4, 4, {0.5, 0.2}); }, "RandomResizedCrop: scale must be (lo, hi) with 0 < lo <= hi");
  expect_error([] { RandomResizedCrop(4, 4, {0.5, 1.0}, {0.0, 1.0}); }, "RandomResizedCrop: ratio must be");
  expect_error([] { RandomHorizontalFlip(1.5); }, "RandomHorizontalFlip: p must be in [0, 1], got 1.5");
  expect_error([] { RandomRotation(-5); }, "RandomRotation: degrees must be in [0, 360], got -5");
  expect_error([] { ColorJitter(-0.1); }, "ColorJitter: brightness must be in [0, 1e6], got -0.1");
  expect_error([] { ColorJitter(0, 0, 0, 0.7); }, "ColorJitter: hue must be in [0, 0.5], got 0.7");
}

// ---- Parsing ----

TEST(ImageTransformParse, EveryClassRoundTrips) {
  const ImageTransforms all = {Resize::shorter(256),
                               std::make_shared<Resize>(224, 200, false),
                               std::make_shared<CenterCrop>(224, 224),
                               std::make_shared<RandomResizedCrop>(224, 224),
                               std::make_shared<RandomResizedCrop>(32, 48, std::array{0.5, 0.9},
                                                                   std::array{0.3, 1.0 / 3.0}, false),
                               std::make_shared<RandomHorizontalFlip>(0.25),
                               std::make_shared<RandomRotation>(15.5, Interpolation::Bilinear, 128),
                               std::make_shared<ColorJitter>(0.4, 0.3, 0.2, 0.1)};
  const std::string text = to_string(all);
  EXPECT_EQ(text,
            "Resize(size=256) Resize(size=(224, 200), antialias=False) CenterCrop(size=(224, 224)) "
            "RandomResizedCrop(size=(224, 224), scale=(0.08, 1), ratio=(0.75, 1.3333333333333333)) "
            "RandomResizedCrop(size=(32, 48), scale=(0.5, 0.9), ratio=(0.3, 0.3333333333333333), antialias=False) "
            "RandomHorizontalFlip(p=0.25) RandomRotation(degrees=15.5, interpolation=bilinear, fill=128) "
            "ColorJitter(brightness=0.4, contrast=0.3, saturation=0.2, hue=0.1)");
  const ImageTransforms back = parse_image_transforms(text);
  ASSERT_EQ(back.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(back[i]->to_string(), all[i]->to_string());
  // Same transforms: same output for the same draws.
  Generator g1(9), g2(9);
  xf_expect_identical(apply(back, xf_big(), g1), apply(all, xf_big(), g2));
}

TEST(ImageTransformParse, TorchvisionSpellings) {
  const auto str = [](std::string_view spec) { return to_string(parse_image_transforms(spec)); };
  EXPECT_EQ(str("Resize(256) CenterCrop(224)"), "Resize(size=256) CenterCrop(size=(224, 224))");
  EXPECT_EQ(str("Resize((32, 40)), CenterCrop([24, 30]),RandomHorizontalFlip()"),
            "Resize(size=(32, 40)) CenterCrop(size=(24, 30)) RandomHorizontalFlip(p=0.5)");
  EXPECT_EQ(str("RandomResizedCrop(224, scale=(0.5, 1))"),
            "RandomResizedCrop(size=(224, 224), scale=(0.5, 1), ratio=(0.75, 1.3333333333333333))");
  EXPECT_EQ(str("RandomResizedCrop(size=96, interpolation=InterpolationMode.BILINEAR, antialias=True)"),
            "RandomResizedCrop(size=(96, 96), scale=(0.08, 1), ratio=(0.75, 1.3333333333333333))");
  EXPECT_EQ(str("  RandomRotation(15)  "), "RandomRotation(degrees=15, interpolation=nearest, fill=0)");
  EXPECT_EQ(str("RandomRotation(degrees=[-10.0, 10.0], interpolation=InterpolationMode.BILINEAR, fill=3)"),
            "RandomRotation(degrees=10, interpolation=bilinear, fill=3)");
  EXPECT_EQ(str("ColorJitter(brightness=0.4, hue=0.1)"),
            "ColorJitter(brightness=0.4, contrast=0, saturation=0, hue=0.1)");
  EXPECT_EQ(str("ColorJitter(0.1, 0.2, 0.3, 0.04,)"),
            "ColorJitter(brightness=0.1, contrast=0.2, saturation=0.3, hue=0.04)");
  EXPECT_EQ(str("RandomHorizontalFlip(p=1)"), "RandomHorizontalFlip(p=1)");
  EXPECT_EQ(str("Resize(size=64, antialias=False)"), "Resize(size=64, antialias=False)");
  EXPECT_TRUE(parse_image_transforms("").empty());
  EXPECT_TRUE(parse_image_transforms("   ").empty());
}

TEST(ImageTransformParse, MalformedSpecsAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"Rezise(256)", "unknown transform 'Rezise'"},
      {"Resize 256", "expected '(' after 'Resize'"},
      {"Resize(256", "expected ',' or ')' after an argument, found the end of the text"},
      {"Resize(256) extra", "in 'extra'"},
      {"Resize(256))", "expected a transform name at ')'"},
      {"Resize(0)", "Resize: the shorter side's size must be positive"},
      {"Resize(20000)", "at most 16384"},
      {"Resize(224.5)", "Resize: size must be an integer"},
      {"Resize((1, 2, 3))", "size must be an int or (height, width)"},
      {"CenterCrop(size=-4)", "CenterCrop: size must be positive"},
      {"CenterCrop(224, 224)", "CenterCrop takes at most 1 positional arguments"},
      {"RandomResizedCrop(224, scale=(0.9, 0.1))", "RandomResizedCrop: scale must be (lo, hi)"},
      {"RandomResizedCrop(224, scale=0.5)", "scale must be a tuple of two numbers"},
      {"RandomResizedCrop(224, interpolation=nearest)", "only bilinear interpolation"},
      {"RandomHorizontalFlip(q=0.5)", "RandomHorizontalFlip has no argument 'q' (its arguments: p)"},
      {"RandomHorizontalFlip(p=2)", "p must be in [0, 1], got 2"},
      {"RandomHorizontalFlip(p=0.5, p=0.5)", "got argument 'p' twice"},
      {"RandomRotation()", "RandomRotation: degrees is required"},
      {"RandomRotation(10, interpolation=bicubic)", "interpolation must be nearest or bilinear"},
      {"RandomRotation(10, fill=300)", "fill must be an integer in [0, 255]"},
      {"RandomRotation((-5, 10))", "must be symmetric"},
      {"ColorJitter(hue=0.9)", "ColorJitter: hue must be in [0, 0.5], got 0.9"},
      {"ColorJitter(brightness=abc)", "brightness must be a number"},
      {"ColorJitter(brightness=1e999)", "'1e999' is not a number"},
      {"ColorJitter(brightness=--1)", "'--1' is not a number"},
      {"ColorJitter(brightness=0.1 0.2)", "expected ',' or ')' after an argument"},
      {"Resize(((3)))", "nested tuples are not allowed"},
      {"Resize(size=)", "unexpected ')' where a value was expected"},
      {"Resize(\x01)", "\\x01"},
      {"Resize(1,2,3,4,5,6,7,8,9)", "more than 8 arguments"},
      {"123(4)", "expected a transform name"},
  };
  for (const auto& [spec, fragment] : bad) {
    SCOPED_TRACE(spec);
    expect_error([&] { parse_image_transforms(spec); }, fragment);
    // Every message names the function and lists the known transforms.
    expect_error([&] { parse_image_transforms(spec); }, "parse_image_transforms: in '");
    expect_error([&] { parse_image_transforms(spec); }, "known transforms: Resize(size");
  }
  std::string many;
  for (int i = 0; i < 65; ++i) many += "RandomHorizontalFlip() ";
  expect_error([&] { parse_image_transforms(many); }, "more than 64 transforms");
  expect_error([&] { parse_image_transforms(std::string(5000, ' ')); }, "the spec is 5000 characters long, more than 4096");
}
