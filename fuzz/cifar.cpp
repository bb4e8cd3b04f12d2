// Fuzz harness: CIFAR-10 binary batches (data::load_cifar10 on a folder the harness fills). The
// first input byte is a set of flags, the rest a batch file's bytes (3073-byte records):
//   bit 0  the test split (test_batch.bin), else the training split: the rest is then each of
//          data_batch_1.bin .. data_batch_5.bin
//   bit 1  the files are gzip-compressed and named *.bin.gz
//   bit 2  the files sit in DIR/cifar-10-batches-bin/, as the archive extracts (else in DIR)
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "gzip.hpp"
#include "strata/data/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const bool test = flags & 1, compressed = flags & 2, nested = flags & 4;
  std::string file(strata::fuzz::as_chars(data + 1, size - 1));
  if (compressed) file = strata::fuzz::gzip(file);
  const auto dir = strata::fuzz::fresh_subdir("cifar");
  const auto files_dir = nested ? dir / "cifar-10-batches-bin" : dir;
  std::filesystem::create_directories(files_dir);
  std::vector<std::string> names;
  if (test) names = {"test_batch.bin"};
  for (int i = 1; !test && i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  for (const std::string& name : names) strata::fuzz::write_file(files_dir / (compressed ? name + ".gz" : name), file);
  strata::fuzz::expect_strata_errors_only([&] {
    strata::data::load_cifar10(dir, test ? strata::data::Split::Test : strata::data::Split::Train);
  });
  return 0;
}
