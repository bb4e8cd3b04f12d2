#include "io/safetensors_header.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "io/json.hpp"
#include "strata/error.hpp"

namespace strata::io {
namespace {

using json = nlohmann::json;

std::string dtype_list() {
  std::string names;
  for (const SafetensorsDtype& d : kSafetensorsDtypes) {
    if (!names.empty()) names += ", ";
    names += d.name;
  }
  return names;
}

const json& field(const json& entry, const char* key, const std::string& what) {
  const auto it = entry.find(key);
  STRATA_CHECK(it != entry.end(), what, "has no '", key, "' (an entry needs dtype, shape and data_offsets)");
  return *it;
}

SafetensorsEntry parse_entry(const std::string& name, const json& value, const std::string& prefix) {
  const std::string what = detail::cat(prefix, "tensor '", detail::printable(name), "' ");
  STRATA_CHECK(value.is_object(), what, "must be an object with dtype, shape and data_offsets, got ",
               value.type_name());
  SafetensorsEntry entry;
  entry.name = name;

  const json& dtype = field(value, "dtype", what);
  STRATA_CHECK(dtype.is_string(), what, "has a dtype that is a ", dtype.type_name(), ", not a string");
  entry.dtype = find_safetensors_dtype(dtype.get_ref<const std::string&>());
  STRATA_CHECK(entry.dtype, what, "has unknown dtype ", json_excerpt(dtype), " (safetensors dtypes: ", dtype_list(), ")");

  const json& shape = field(value, "shape", what);
  const bool shape_ok = shape.is_array() && std::all_of(shape.begin(), shape.end(), [](const json& d) {
                          return d.is_number_unsigned();
                        });
  STRATA_CHECK(shape_ok, what, "has shape ", json_excerpt(shape), "; it must be a list of non-negative integers");
  for (const json& d : shape) entry.shape.push_back(d.get<uint64_t>());

  const json& offsets = field(value, "data_offsets", what);
  const bool offsets_ok = offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                          offsets[1].is_number_unsigned() && offsets[0].get<uint64_t>() <= offsets[1].get<uint64_t>();
  STRATA_CHECK(offsets_ok, what, "has data_offsets ", json_excerpt(offsets),
               "; they must be [begin, end] with integers 0 <= begin <= end");
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();

  const std::optional<uint64_t> nbytes = byte_size(entry.shape, entry.dtype->size);
  STRATA_CHECK(nbytes, what, "has shape ", json_excerpt(shape), " of ", entry.dtype->name,
               ", whose size in bytes overflows 64 bits");
  STRATA_CHECK(*nbytes == entry.end - entry.begin, what, "has shape ", json_excerpt(shape), " of ", entry.dtype->name,
               ", which needs ", *nbytes, " bytes, but its data_offsets ", json_excerpt(offsets), " hold ",
               entry.end - entry.begin);
  return entry;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& prefix) {
  STRATA_CHECK(value.is_object(), prefix, "'__metadata__' must be an object of strings, got ", value.type_name());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    STRATA_CHECK(v.is_string(), prefix, "'__metadata__' value for key '", detail::printable(key), "' is ", json_excerpt(v),
                 "; metadata values must be strings");
    metadata.emplace(key, v.get<std::string>());
  }
  return metadata;
}

// The tensors, ordered by offset, must lie inside the data area [0, data_size) and tile it
// without gaps or overlaps.
void check_coverage(const std::vector<SafetensorsEntry>& entries, uint64_t data_size, const std::string& prefix) {
  for (const SafetensorsEntry& e : entries)
    STRATA_CHECK(e.end <= data_size, prefix, "tensor '", detail::printable(e.name), "' has data_offsets [", e.begin, ",", e.end,
                 "] but the data area after the header has only ", data_size,
                 " bytes (the file is truncated or the offsets are wrong)");
  uint64_t covered = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const SafetensorsEntry& e = entries[i];
    if (e.begin < covered) {
      const SafetensorsEntry& prev = entries[i - 1];
      fail(prefix, "tensor '", detail::printable(e.name), "' (data_offsets [", e.begin, ",", e.end, "]) overlaps tensor '",
           detail::printable(prev.name), "' ([", prev.begin, ",", prev.end, "])");
    }
    STRATA_CHECK(e.begin == covered, prefix, "bytes [", covered, ",", e.begin, ") of the data area belong to no tensor (next is '",
                 detail::printable(e.name), "'); the tensors must cover the data area exactly");
    covered = e.end;
  }
  STRATA_CHECK(covered == data_size, prefix, "the data area has ", data_size, " bytes but the tensors cover only ",
               covered, " (trailing bytes after the last tensor)");
}

}  // namespace

const SafetensorsDtype* find_safetensors_dtype(std::string_view name) {
  for (const SafetensorsDtype& d : kSafetensorsDtypes)
    if (d.name == name) return &d;
  return nullptr;
}

const SafetensorsDtype& safetensors_dtype_of(DType dtype) {
  const StoredType stored = stored_type(dtype);
  for (const SafetensorsDtype& d : kSafetensorsDtypes)
    if (d.stored == stored) return d;
  fail("safetensors: no safetensors dtype for ", dtype_name(dtype));
}

SafetensorsHeader read_safetensors_header(const InputFile& file) {
  const std::string& prefix = file.prefix();
  STRATA_CHECK(file.size() >= 8, prefix, "the file has ", file.size(),
               " bytes, fewer than the 8-byte header length a safetensors file starts with");
  uint64_t n = 0;
  file.read(0, &n, 8);
  STRATA_CHECK(n <= kMaxSafetensorsHeader, prefix, "the header length is ", n, " bytes, beyond the ",
               kMaxSafetensorsHeader, "-byte limit; the file is corrupt or not a safetensors file");
  STRATA_CHECK(n <= file.size() - 8, prefix, "the header length is ", n, " bytes but only ", file.size() - 8,
               " bytes follow it; the file is truncated or not a safetensors file");

  std::string text(static_cast<std::size_t>(n), '\0');
  file.read(8, text.data(), text.size());
  const json root = parse_json(text, prefix, "the header");
  STRATA_CHECK(root.is_object(), prefix, "the header must be a JSON object, got ", root.type_name());

  SafetensorsHeader header;
  header.data_start = 8 + n;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__")
      header.metadata = parse_metadata(value, prefix);
    else
      header.entries.push_back(parse_entry(key, value, prefix));
  }
  std::sort(header.entries.begin(), header.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  check_coverage(header.entries, file.size() - header.data_start, prefix);
  return header;
}

std::string encode_safetensors_header(const std::vector<SafetensorsEntry>& entries,
                                      const std::map<std::string, std::string>& metadata,
                                      const std::string& prefix) {
  // ordered_json keeps insertion order: "__metadata__" first, then the tensors in file order,
  // each with dtype, shape, data_offsets, as the reference's serde serialisation does.
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  if (!metadata.empty()) root["__metadata__"] = metadata;
  for (const SafetensorsEntry& e : entries) {
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = std::string(e.dtype->name);
    info["shape"] = e.shape;
    info["data_offsets"] = nlohmann::ordered_json::array({e.begin, e.end});
    root[e.name] = std::move(info);
  }
  std::string text;
  try {
    text = root.dump();
  } catch (const nlohmann::ordered_json::type_error& e) {
    fail(prefix, "a tensor name or metadata string is not valid UTF-8 (", e.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace strata::io
