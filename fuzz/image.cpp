// Fuzz harness: image files decoded with stb_image, through both readers that take them:
// data::load_image_folder (a folder of two classes holding the input once each) and the predict
// path's train::load_image_input; both check the format by its first bytes (PNG, JPEG, BMP) and
// the declared pixel count before decoding (data/image_decode.hpp). The first input byte is a set
// of flags, the rest the file:
//   bits 0-1  the file's extension: .png, .jpg, .jpeg, .bmp (the format is told from the bytes;
//             the folder reader only picks files by extension)
//   bit 2     decode to 1 channel (grey), else 3 (RGB)
//   bit 3     the predict path (load_image_input to C x 8 x 8), else the image folder
//   bit 4     image folder: resize to 8 x 8, else keep the image's size; predict: normalise
// stb_image is Debian's prebuilt library, so the fuzzer sees no coverage inside the decoders; the
// sanitizers still check Strata's use of the pixels, and the malloc limit the sizes it allocates.
#include "fuzz_util.hpp"
#include "strata/data/dataset.hpp"
#include "strata/train/predict.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  static const char* const kExtensions[] = {".png", ".jpg", ".jpeg", ".bmp"};
  const std::string name = std::string("image") + kExtensions[flags & 3];
  const int channels = (flags & 4) ? 1 : 3;
  const bool predict = flags & 8, option = flags & 16;
  const std::string_view file = strata::fuzz::as_chars(data + 1, size - 1);
  if (predict) {
    const auto path = strata::fuzz::write_scratch(name, file);
    strata::train::WeightsInfo info;
    info.model = "fuzz";
    info.input = {channels, 8, 8};
    if (option) {
      info.mean.assign(channels, 0.5f);
      info.std.assign(channels, 0.25f);
    }
    strata::fuzz::expect_strata_errors_only([&] { strata::train::load_image_input(path, info); });
    return 0;
  }
  const auto dir = strata::fuzz::fresh_subdir("images");
  for (const char* cls : {"a", "b"}) {
    std::filesystem::create_directory(dir / cls);
    strata::fuzz::write_file(dir / cls / name, file);
  }
  strata::data::ImageFolderOptions options{.channels = channels};
  if (option) options.height = options.width = 8;
  strata::fuzz::expect_strata_errors_only([&] { strata::data::load_image_folder(dir, options); });
  return 0;
}
