// Loading and saving .npy files; the header dict is read and written in npy_header.cpp.
#include <cstring>
#include <optional>
#include <string_view>

#include "io/elements.hpp"
#include "io/file.hpp"
#include "io/npy_header.hpp"
#include "strata/error.hpp"
#include "strata/io.hpp"

namespace strata::io {
namespace {

struct NpyDtype {
  std::string_view descr;
  StoredType stored;
};

// What numpy writes on a little-endian machine for each type Strata loads; the first three are
// also what Strata writes.
constexpr NpyDtype kNpyDtypes[] = {
    {"<f4", StoredType::F32}, {"<f8", StoredType::F64}, {"<i8", StoredType::I64}, {"<f2", StoredType::F16},
    {"|i1", StoredType::I8},  {"|u1", StoredType::U8},  {"<i2", StoredType::I16}, {"<u2", StoredType::U16},
    {"<i4", StoredType::I32}, {"<u4", StoredType::U32},
};

std::optional<StoredType> find_descr(std::string_view descr) {
  for (const NpyDtype& d : kNpyDtypes)
    if (d.descr == descr) return d.stored;
  return std::nullopt;
}

std::string_view descr_of(StoredType stored) {
  for (const NpyDtype& d : kNpyDtypes)
    if (d.stored == stored) return d.descr;
  fail("save_npy: no .npy descr for stored type ", static_cast<int>(stored));
}

std::string descr_list() {
  std::string names;
  for (const NpyDtype& d : kNpyDtypes) names += detail::cat(names.empty() ? "" : ", ", "'", d.descr, "'");
  return names;
}

}  // namespace

void save_npy(const std::filesystem::path& path, const Tensor& tensor) {
  const std::string prefix = file_prefix("save_npy", path);
  STRATA_CHECK(tensor.defined(), prefix, "the tensor is undefined");
  STRATA_CHECK(tensor.device().is_cpu(), prefix, "the tensor is on ", tensor.device().str(), "; copy it to the cpu first");
  const Tensor dense = tensor.detach().contiguous();
  const std::string header = encode_npy_header(descr_of(stored_type(dense.dtype())), dense.shape());
  AtomicOutputFile out(path, "save_npy");
  out.write(header.data(), header.size());
  out.write(dense.raw_data(), static_cast<std::size_t>(dense.numel()) * dtype_size(dense.dtype()));
  out.commit();
}

Tensor load_npy(const std::filesystem::path& path) {
  const InputFile file(path, "load_npy");
  const std::string& prefix = file.prefix();
  constexpr std::string_view kMagic("\x93NUMPY", 6);
  STRATA_CHECK(file.size() >= 10, prefix, "the file has ", file.size(), " bytes, too few for a .npy header");
  char start[8];
  file.read(0, start, sizeof start);
  STRATA_CHECK(std::string_view(start, 6) == kMagic, prefix,
               "the file does not start with the .npy magic \"\\x93NUMPY\"; is it a .npy file?");
  const int major = static_cast<unsigned char>(start[6]), minor = static_cast<unsigned char>(start[7]);
  STRATA_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, prefix, ".npy format version ", major, ".",
               minor, " is not supported (Strata reads 1.0, 2.0 and 3.0)");

  // Version 1.0 stores the header length in 2 bytes, later versions in 4, little-endian.
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  unsigned char length_field[4] = {};
  STRATA_CHECK(file.size() >= 8 + length_bytes, prefix, "the file ends inside the header length");
  file.read(8, length_field, length_bytes);
  uint64_t length = 0;
  for (std::size_t i = length_bytes; i-- > 0;) length = length << 8 | length_field[i];
  const uint64_t data_start = 8 + length_bytes + length;
  STRATA_CHECK(length <= kMaxNpyHeader, prefix, "the header length is ", length, " bytes, beyond the ", kMaxNpyHeader,
               "-byte limit numpy also applies; the file is corrupt");
  STRATA_CHECK(data_start <= file.size(), prefix, "the header length is ", length, " bytes but the file has only ",
               file.size() - 8 - length_bytes, " bytes after the length field; the file is truncated");
  std::string text(static_cast<std::size_t>(length), '\0');
  file.read(8 + length_bytes, text.data(), text.size());
  const NpyHeader header = parse_npy_header(text, prefix);

  STRATA_CHECK(!header.fortran_order, prefix,
               "the array is stored in Fortran (column-major) order, which Strata does not load; save it in C "
               "order: numpy.save(path, numpy.ascontiguousarray(a))");
  const std::optional<StoredType> stored = find_descr(header.descr);
  if (!stored) {
    STRATA_CHECK(!header.descr.starts_with('>'), prefix, "the array is big-endian ('", detail::printable(header.descr, 20),
                 "'), which Strata does not load; save it little-endian: a.astype(a.dtype.newbyteorder('<'))");
    fail(prefix, "dtype '", detail::printable(header.descr, 20), "' is not supported (Strata loads ", descr_list(), ")");
  }
  const std::optional<uint64_t> nbytes = byte_size(header.shape, stored_size(*stored));
  STRATA_CHECK(nbytes, prefix, "the shape's size in bytes overflows 64 bits");
  const uint64_t present = file.size() - data_start;
  STRATA_CHECK(*nbytes <= present, prefix, "the array needs ", *nbytes, " bytes of data but the file has only ", present,
               " after the header; the file is truncated");
  STRATA_CHECK(*nbytes == present, prefix, "the array needs ", *nbytes, " bytes of data but the file has ", present,
               " after the header (trailing bytes)");
  return read_tensor(file, data_start, *stored, make_shape(header.shape, prefix + "the array "));
}

}  // namespace strata::io
