// .npy: round trips, files written by numpy (and the same bytes from save_npy), malformed files.
//
// Fixtures in tests/fixtures/io/, generated from the repository root (numpy 1.24) with:
//   /usr/bin/python3 -c "
//   import numpy as np; d = 'tests/fixtures/io/'
//   np.save(d + 'f32_2x3.npy', np.arange(6, dtype='<f4').reshape(2, 3) / 4)
//   np.save(d + 'f64_scalar.npy', np.float64(-2.5))
//   np.save(d + 'i64_5.npy', np.array([-3, 0, 1, 2**40, -2**62], dtype='<i8'))
//   np.save(d + 'f32_0x3.npy', np.zeros((0, 3), '<f4'))
//   np.save(d + 'f64_5d.npy', np.arange(12, dtype='<f8').reshape(1, 2, 1, 3, 2) - 5.5)
//   np.save(d + 'u8_2x2.npy', np.array([[0, 7], [128, 255]], np.uint8))
//   np.save(d + 'f16_3.npy', np.array([0.5, -1, 2048], np.float16))
//   np.save(d + 'fortran.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
//   np.save(d + 'big_endian.npy', np.ones(2, '>f4'))
//   np.lib.format.write_array(open(d + 'v2_i64.npy', 'wb'), np.arange(4, dtype='<i8'), version=(2, 0))
//   np.lib.format.write_array(open(d + 'v3_f32.npy', 'wb'), np.array([1.25, -8], '<f4'), version=(3, 0))
//   "
#include "common/test_util.hpp"
#include "io/io_test_util.hpp"
#include "strata/io.hpp"

using namespace strata;
using strata::test::data_file;
using strata::test::expect_file_error;
using strata::test::read_bytes;
using strata::test::ScratchDir;

namespace {

// A .npy file with this dict text (no padding needed by the reader) and these data bytes.
std::string npy(const std::string& dict, const std::string& data = "", int major = 1) {
  std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const std::size_t n = dict.size();
  bytes += static_cast<char>(n & 0xff);
  bytes += static_cast<char>(n >> 8 & 0xff);
  if (major != 1) bytes += std::string(2, '\0');
  return bytes + dict + data;
}

std::string f32_dict(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

class NpyMalformed : public ::testing::Test {
 protected:
  void expect_rejected(const std::string& bytes, const std::string& fragment) {
    const auto path = dir_ / "bad.npy";
    test::write_bytes(path, bytes);
    expect_file_error([&] { io::load_npy(path); }, "load_npy", path, fragment);
  }
  ScratchDir dir_;
};

}  // namespace

TEST(Npy, RoundTrip) {
  ScratchDir dir;
  const std::vector<Tensor> tensors = {
      test::random({3, 4}, 1, DType::F32),
      test::random({2, 1, 3, 2, 2}, 2, DType::F64),
      test::random({1, 2, 1, 2, 1, 2}, 3, DType::F32),
      from_data(std::vector<int64_t>{-(int64_t{1} << 62), -1, 0, 7}, {2, 2}),
      full({}, 3.25, DType::F64),
      empty({0, 3}),
      empty({4, 0}, DType::I64),
      test::random({3, 2}, 4, DType::F32).transpose(0, 1),
  };
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(i);
    const auto path = dir / (std::to_string(i) + ".npy");
    io::save_npy(path, tensors[i]);
    const Tensor back = io::load_npy(path);
    ASSERT_EQ(back.shape(), tensors[i].shape());
    ASSERT_EQ(back.dtype(), tensors[i].dtype());
    if (back.dtype() == DType::I64)
      EXPECT_EQ(back.to_vector<int64_t>(), tensors[i].to_vector<int64_t>());
    else
      EXPECT_EQ(back.to_vector<double>(), tensors[i].to_vector<double>());
  }
}

TEST(Npy, LoadsNumpyFiles) {
  test::expect_near(io::load_npy(data_file("f32_2x3.npy")), {2, 3}, {0, 0.25, 0.5, 0.75, 1, 1.25}, 0);
  EXPECT_EQ(io::load_npy(data_file("f32_2x3.npy")).dtype(), DType::F32);
  const Tensor scalar = io::load_npy(data_file("f64_scalar.npy"));
  EXPECT_EQ(scalar.dtype(), DType::F64);
  test::expect_near(scalar, {}, {-2.5}, 0);
  const Tensor i64 = io::load_npy(data_file("i64_5.npy"));
  EXPECT_EQ(i64.shape(), Shape{5});
  EXPECT_EQ(i64.to_vector<int64_t>(), (std::vector<int64_t>{-3, 0, 1, int64_t{1} << 40, -(int64_t{1} << 62)}));
  EXPECT_EQ(io::load_npy(data_file("f32_0x3.npy")).shape(), (Shape{0, 3}));
  test::expect_near(io::load_npy(data_file("f64_5d.npy")), {1, 2, 1, 3, 2},
                    {-5.5, -4.5, -3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5}, 0);
  EXPECT_EQ(io::load_npy(data_file("v2_i64.npy")).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  test::expect_near(io::load_npy(data_file("v3_f32.npy")), {2}, {1.25, -8}, 0);
}

TEST(Npy, WidensHalfFloatsAndNarrowIntegers) {
  const Tensor u8 = io::load_npy(data_file("u8_2x2.npy"));
  EXPECT_EQ(u8.dtype(), DType::I64);
  EXPECT_EQ(u8.shape(), (Shape{2, 2}));
  EXPECT_EQ(u8.to_vector<int64_t>(), (std::vector<int64_t>{0, 7, 128, 255}));
  const Tensor f16 = io::load_npy(data_file("f16_3.npy"));
  EXPECT_EQ(f16.dtype(), DType::F32);
  test::expect_near(f16, {3}, {0.5, -1, 2048}, 0);
}

TEST(Npy, SaveWritesTheBytesNumpyWrites) {
  ScratchDir dir;
  const std::vector<std::string> fixtures = {"f32_2x3.npy", "f64_scalar.npy", "i64_5.npy", "f32_0x3.npy",
                                             "f64_5d.npy"};
  for (const std::string& name : fixtures) {
    SCOPED_TRACE(name);
    io::save_npy(dir / name, io::load_npy(data_file(name)));
    EXPECT_EQ(read_bytes(dir / name), read_bytes(data_file(name)));
  }
}

TEST(Npy, RefusesFortranOrderAndBigEndian) {
  expect_file_error([] { io::load_npy(data_file("fortran.npy")); }, "load_npy", data_file("fortran.npy"),
                    "stored in Fortran (column-major) order");
  expect_file_error([] { io::load_npy(data_file("big_endian.npy")); }, "load_npy", data_file("big_endian.npy"),
                    "the array is big-endian ('>f4')");
}

TEST(Npy, SaveRefusesUndefinedTensor) {
  ScratchDir dir;
  expect_file_error([&] { io::save_npy(dir / "x.npy", Tensor()); }, "save_npy", dir / "x.npy", "the tensor is undefined");
  EXPECT_TRUE(dir.entries().empty());
}

TEST_F(NpyMalformed, MagicAndVersion) {
  expect_rejected("", "the file has 0 bytes, too few for a .npy header");
  expect_rejected("\x93NUMPY\x01", "the file has 7 bytes");
  expect_rejected("PK\x03\x04 this is a zip file", "does not start with the .npy magic");
  std::string v4 = npy(f32_dict("(1,)"), "abcd");
  v4[6] = 4;
  expect_rejected(v4, ".npy format version 4.0 is not supported");
  std::string v11 = npy(f32_dict("(1,)"), "abcd");
  v11[7] = 1;
  expect_rejected(v11, ".npy format version 1.1 is not supported");
  expect_rejected(std::string("\x93NUMPY\x02\x00\x01\x00", 10), "the file ends inside the header length");
}

TEST_F(NpyMalformed, HeaderLength) {
  expect_rejected(npy(f32_dict("(1,)")).substr(0, 30), "the header length is 57 bytes but the file has only 20");
  std::string huge = npy(f32_dict("(1,)"), "abcd", 2);
  huge[8] = '\0', huge[11] = '\x10';  // the 4-byte length field (bytes 8-11) now says 256 MiB
  expect_rejected(huge, "the header length is 268435456 bytes, beyond the 10000-byte limit");
}

TEST_F(NpyMalformed, HeaderDict) {
  expect_rejected(npy("['descr', '<f4']"), "the header has '[' at character 0 where '{' at the start");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False}"), "lacks one of descr, fortran_order, shape");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}"),
                  "unexpected key 'extra'");
  expect_rejected(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"),
                  "the key 'descr' twice");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}"), "where True or False should be");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x"), "text after its closing '}'");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)"), "the end at character");
  expect_rejected(npy("{'descr: '<f4'}"), "where ':' after a key should be");
  expect_rejected(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"), "structured dtype");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "abcd"), "Fortran");
}

TEST_F(NpyMalformed, Shape) {
  expect_rejected(npy(f32_dict("[2, 3]")), "where '(' to open the shape tuple should be");
  expect_rejected(npy(f32_dict("(2, -3)")), "where a non-negative integer size should be");
  expect_rejected(npy(f32_dict("(2.5,)")), "where ')' to close the shape tuple should be");
  expect_rejected(npy(f32_dict("(4)"), std::string(16, '\0')), "one size without a trailing comma");
  expect_rejected(npy(f32_dict("(99999999999999999999,)")), "a size that overflows 64 bits");
  expect_rejected(npy(f32_dict("(4294967296, 4294967296)")), "the shape's size in bytes overflows 64 bits");
  expect_rejected(npy(f32_dict("(1, 1, 1, 1, 1, 1, 1)"), std::string(4, '\0')),
                  "the array has 7 dimensions; Strata tensors have at most 6");
}

TEST_F(NpyMalformed, DtypeAndDataSize) {
  expect_rejected(npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
                  "dtype '<c8' is not supported (Strata loads '<f4', '<f8', '<i8'");
  expect_rejected(npy("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')),
                  "dtype '<u8' is not supported");
  expect_rejected(npy(f32_dict("(2, 3)"), std::string(20, '\0')),
                  "the array needs 24 bytes of data but the file has only 20 after the header; the file is truncated");
  expect_rejected(npy(f32_dict("(2, 3)"), std::string(25, '\0')),
                  "the array needs 24 bytes of data but the file has 25 after the header (trailing bytes)");
}
