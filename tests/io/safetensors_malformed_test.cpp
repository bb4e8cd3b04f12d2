// Malformed safetensors files, crafted byte by byte: each is a strata::Error naming the file and
// the problem, never a crash or a huge allocation.
#include <sys/stat.h>

#include "common/test_util.hpp"
#include "io/io_test_util.hpp"
#include "strata/io.hpp"

using namespace strata;
using strata::test::le64;
using strata::test::ScratchDir;

namespace {

class SafetensorsMalformed : public ::testing::Test {
 protected:
  // Writes `bytes` and expects load_safetensors (and, unless only the data is wrong,
  // read_safetensors_metadata) to fail with `fragment`.
  void expect_rejected(const std::string& bytes, const std::string& fragment, bool header_is_valid = false) {
    const auto path = dir_ / "bad.safetensors";
    test::write_bytes(path, bytes);
    test::expect_file_error([&] { io::load_safetensors(path); }, "load_safetensors", path, fragment);
    if (!header_is_valid)
      test::expect_file_error([&] { io::read_safetensors_metadata(path); }, "read_safetensors_metadata", path,
                              fragment);
  }
  // A file with this header text (unpadded) followed by `data_bytes` zero bytes.
  static std::string file(const std::string& header, std::size_t data_bytes = 0) {
    return le64(header.size()) + header + std::string(data_bytes, '\0');
  }
  ScratchDir dir_;
};

}  // namespace

TEST_F(SafetensorsMalformed, TooShortForTheLength) {
  expect_rejected("", "the file has 0 bytes, fewer than the 8-byte header length");
  expect_rejected(std::string("\x05\x00\x00", 3), "the file has 3 bytes");
}

TEST_F(SafetensorsMalformed, HeaderLengthBeyondTheFileOrAbsurd) {
  expect_rejected(le64(1000) + "{}", "the header length is 1000 bytes but only 2 bytes follow it");
  expect_rejected(le64(200'000'000) + "{}", "beyond the 100000000-byte limit");
  expect_rejected(le64(~uint64_t{0}) + "{}", "beyond the 100000000-byte limit");
}

TEST_F(SafetensorsMalformed, HeaderNotAJsonObject) {
  expect_rejected(file("not json"), "the header is not valid JSON");
  expect_rejected(file(""), "the header is not valid JSON");
  expect_rejected(file("{\"a\":\"\xff\"}"), "the header is not valid JSON");  // not UTF-8
  expect_rejected(file("{} trailing"), "the header is not valid JSON");
  expect_rejected(file("[1,2]"), "the header must be a JSON object, got array");
  expect_rejected(file("42"), "the header must be a JSON object, got number");
}

TEST_F(SafetensorsMalformed, EntryNotAnObjectOrMissingFields) {
  expect_rejected(file(R"({"w":3})"), "tensor 'w' must be an object with dtype, shape and data_offsets, got number");
  expect_rejected(file(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4), "tensor 'w' has no 'dtype'");
  expect_rejected(file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), "tensor 'w' has no 'shape'");
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[1]}})", 4), "tensor 'w' has no 'data_offsets'");
}

TEST_F(SafetensorsMalformed, UnknownOrMistypedDtype) {
  expect_rejected(file(R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", 4),
                  "tensor 'w' has unknown dtype \"Q7\" (safetensors dtypes: BOOL, U8,");
  expect_rejected(file(R"({"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", 4), "unknown dtype \"f32\"");
  expect_rejected(file(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", 4),
                  "tensor 'w' has a dtype that is a number, not a string");
}

TEST_F(SafetensorsMalformed, ShapeNotNonNegativeIntegers) {
  for (const char* shape : {"[2,-1]", "[1.5]", "[\"2\"]", "3", "[1e2]", "[18446744073709551616]"})
    expect_rejected(file(std::string(R"({"w":{"dtype":"F32","shape":)") + shape + R"(,"data_offsets":[0,8]}})", 8),
                    "; it must be a list of non-negative integers");
}

TEST_F(SafetensorsMalformed, BadDataOffsets) {
  for (const char* offsets : {"[8,0]", "[0]", "[0,4,8]", "[\"0\",\"4\"]", "[-4,0]", "{}"})
    expect_rejected(file(std::string(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":)") + offsets + "}}", 4),
                    "; they must be [begin, end] with integers 0 <= begin <= end");
}

TEST_F(SafetensorsMalformed, ShapeAndDtypeDisagreeWithOffsets) {
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4),
                  "tensor 'w' has shape [2] of F32, which needs 8 bytes, but its data_offsets [0,4] hold 4");
  expect_rejected(file(R"({"w":{"dtype":"F64","shape":[],"data_offsets":[0,4]}})", 4), "which needs 8 bytes");
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4),
                  "whose size in bytes overflows 64 bits");
}

TEST_F(SafetensorsMalformed, OffsetsOutsideTheDataAreaOrTruncated) {
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
                  "tensor 'w' has data_offsets [0,8] but the data area after the header has only 4 bytes (the "
                  "file is truncated or the offsets are wrong)");
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4000000000,4000000004]}})", 4),
                  "tensor 'w' has data_offsets [4000000000,4000000004] but the data area after the header has only 4");
  // A valid file cut short.
  const std::string whole = file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16);
  expect_rejected(whole.substr(0, whole.size() - 5), "tensor 'a' has data_offsets [0,16] but the data area after the header has only 11");
}

TEST_F(SafetensorsMalformed, OverlappingOrGappedOffsets) {
  expect_rejected(file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                       12),
                  "tensor 'b' (data_offsets [4,12]) overlaps tensor 'a' ([0,8])");
  expect_rejected(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                       4),
                  "overlaps tensor");
  expect_rejected(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                       12),
                  "bytes [4,8) of the data area belong to no tensor (next is 'b')");
  expect_rejected(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                  "bytes [0,4) of the data area belong to no tensor");
}

TEST_F(SafetensorsMalformed, TrailingBytesAfterTheLastTensor) {
  expect_rejected(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 6),
                  "the data area has 6 bytes but the tensors cover only 4 (trailing bytes");
  expect_rejected(file("{}", 1), "the data area has 1 bytes but the tensors cover only 0");
}

TEST_F(SafetensorsMalformed, DuplicateKeys) {
  expect_rejected(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       8),
                  "the header has the key 'a' twice in one object");
  expect_rejected(file(R"({"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}})", 4),
                  "the key 'dtype' twice");
  expect_rejected(file(R"({"__metadata__":{"k":"1","k":"2"}})"), "the key 'k' twice");
}

TEST_F(SafetensorsMalformed, MetadataNotStrings) {
  expect_rejected(file(R"({"__metadata__":{"epoch":3}})"),
                  "'__metadata__' value for key 'epoch' is 3; metadata values must be strings");
  expect_rejected(file(R"({"__metadata__":{"a":{"b":"c"}}})"), "value for key 'a' is {\"b\":\"c\"}");
  expect_rejected(file(R"({"__metadata__":["a"]})"), "'__metadata__' must be an object of strings, got array");
}

TEST_F(SafetensorsMalformed, DtypesStrataCannotLoad) {
  for (const char* dtype : {"BOOL", "U64", "F8_E4M3", "F8_E5M2"}) {
    const std::size_t size = std::string(dtype) == "U64" ? 8 : 1;
    const std::string header = std::string(R"({"__metadata__":{"k":"v"},"m":{"dtype":")") + dtype +
                               R"(","shape":[1],"data_offsets":[0,)" + std::to_string(size) + "]}}";
    expect_rejected(file(header, size), std::string("tensor 'm' has dtype ") + dtype + ", which Strata cannot load",
                    true);
    // The header itself is valid, so its metadata can be read.
    EXPECT_EQ(io::read_safetensors_metadata(dir_ / "bad.safetensors"), (io::Metadata{{"k", "v"}}));
  }
}

TEST_F(SafetensorsMalformed, ShapesStrataCannotHold) {
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4),
                  "tensor 'w' has 7 dimensions; Strata tensors have at most 6", true);
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}})"),
                  "tensor 'w' has size 9223372036854775808, which is too large for a tensor", true);
}

TEST_F(SafetensorsMalformed, NotAFile) {
  test::expect_file_error([&] { io::load_safetensors(dir_ / "missing.safetensors"); }, "load_safetensors",
                          dir_ / "missing.safetensors", "cannot open for reading: No such file or directory");
  test::expect_file_error([&] { io::load_safetensors(dir_.path()); }, "load_safetensors", dir_.path(),
                          "is not a regular file");
  // A FIFO is refused at once (opening it for reading used to wait for a writer forever).
  const std::filesystem::path fifo = dir_ / "pipe.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  test::expect_file_error([&] { io::load_safetensors(fifo); }, "load_safetensors", fifo, "is not a regular file");
}

// Issue 22, defect 1: JSON nested 100,000 deep overflowed the stack (while a message dumped it).
TEST_F(SafetensorsMalformed, DeepNestingIsRefused) {
  const std::string deep_list = std::string(100'000, '[') + std::string(100'000, ']');
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":)" + deep_list + R"(,"data_offsets":[0,4]}})", 4),
                  "the header nests objects and lists deeper than 128 levels");
  std::string deep_object;
  for (int i = 0; i < 100'000; ++i) deep_object += R"({"a":)";
  expect_rejected(file(R"({"__metadata__":)" + deep_object + "1" + std::string(100'000, '}') + "}"),
                  "deeper than 128 levels");
  // 128 levels are fine (the header object is the first).
  expect_rejected(file(R"({"__metadata__":{"k":)" + std::string(126, '[') + std::string(126, ']') + "}}"),
                  "'__metadata__' value for key 'k' is [[[[");
}

// Issue 22, defect 3: parsing was quadratic in the number of entries (100k entries took minutes).
// 100,000 one-float tensors load (a quadratic parse would run past the test's timeout).
TEST_F(SafetensorsMalformed, ManyEntriesParseInLinearTime) {
  std::string header = "{";
  for (int i = 0; i < 100'000; ++i) {
    if (i) header += ',';
    header.append("\"t").append(std::to_string(i)).append(R"(":{"dtype":"F32","shape":[1],"data_offsets":[)");
    header.append(std::to_string(4 * i)).append(",").append(std::to_string(4 * i + 4)).append("]}");
  }
  header += "}";
  const auto path = dir_ / "many.safetensors";
  test::write_bytes(path, file(header, 400'000));
  EXPECT_EQ(io::load_safetensors(path).tensors.size(), 100'000u);
}

// Issue 22, defect 10: bytes after a NUL were ignored, a huge number was an "internal error",
// control bytes of a name reached the terminal.
TEST_F(SafetensorsMalformed, NulBytesHugeNumbersAndControlBytes) {
  expect_rejected(file(std::string("{}\0junk", 7)), "the header has a NUL byte at offset 2");
  expect_rejected(file(R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", 4),
                  "the header is not valid JSON (");
  expect_rejected(file("{\"w\\u001b[2J\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4),
                  "tensor 'w\\x1b[2J' has shape [2]");
  const std::string long_name(5000, 'n');
  expect_rejected(file(R"({")" + long_name + R"(":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4),
                  "... (5000 bytes)' has shape [2]");
}
