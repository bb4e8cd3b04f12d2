// The header of a safetensors file (https://github.com/huggingface/safetensors): an 8-byte
// little-endian length N, then N bytes of JSON
//   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [2, 3],
//    "data_offsets": [begin, end]}, ...}
// then the data area, which the tensors' [begin, end) byte ranges must cover exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/elements.hpp"
#include "io/file.hpp"

namespace strata::io {

struct SafetensorsDtype {
  std::string_view name;
  std::size_t size;
  std::optional<StoredType> stored;  // nullopt: Strata cannot load it
};

// Every dtype of the format, in the reference's order of increasing alignment. The reference
// writer puts tensors in descending order of this rank, then by name; so does Strata's.
inline constexpr SafetensorsDtype kSafetensorsDtypes[] = {
    {"BOOL", 1, std::nullopt},        {"U8", 1, StoredType::U8},       {"I8", 1, StoredType::I8},
    {"F8_E5M2", 1, std::nullopt},     {"F8_E4M3", 1, std::nullopt},    {"I16", 2, StoredType::I16},
    {"U16", 2, StoredType::U16},      {"F16", 2, StoredType::F16},     {"BF16", 2, StoredType::BF16},
    {"I32", 4, StoredType::I32},      {"U32", 4, StoredType::U32},     {"F32", 4, StoredType::F32},
    {"F64", 8, StoredType::F64},      {"I64", 8, StoredType::I64},     {"U64", 8, std::nullopt},
};

// The dtype named `name`, or nullptr when the format has no such dtype.
const SafetensorsDtype* find_safetensors_dtype(std::string_view name);
// The dtype a Strata dtype is written as.
const SafetensorsDtype& safetensors_dtype_of(DType dtype);

struct SafetensorsEntry {
  std::string name;
  const SafetensorsDtype* dtype = nullptr;
  std::vector<uint64_t> shape;
  uint64_t begin = 0;  // data_offsets, relative to the start of the data area
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in order of their data
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // file offset of the data area: 8 + N
};

// The reference's limit on N; a longer header means a corrupt file, not a big model.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

// Reads and checks the header of `file` against the file's size: every problem is an Error
// starting with file.prefix(). Reads no tensor data.
SafetensorsHeader read_safetensors_header(const InputFile& file);

// How one entry of a checked header is read: its stored type and shape (read_tensor's arguments)
// and its data's offset in the file.
struct SafetensorsRead {
  StoredType stored;
  Shape shape;
  uint64_t offset = 0;
};
// One per entry, in the header's order; an entry of a dtype Strata cannot load, or whose sizes do
// not make a Shape, is an Error naming it. Reads no tensor data.
std::vector<SafetensorsRead> plan_safetensors_reads(const InputFile& file, const SafetensorsHeader& header);

// The JSON header for `entries` (in file order, data_offsets set) and `metadata`, padded with
// spaces to a multiple of 8 bytes, exactly as the reference writes it. `prefix` starts messages.
std::string encode_safetensors_header(const std::vector<SafetensorsEntry>& entries,
                                      const std::map<std::string, std::string>& metadata,
                                      const std::string& prefix);

}  // namespace strata::io
