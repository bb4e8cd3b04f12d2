// Loading and saving safetensors files; the header format and its checks are in
// safetensors_header.cpp.
#include <algorithm>
#include <set>

#include "io/elements.hpp"
#include "io/file.hpp"
#include "io/safetensors_header.hpp"
#include "strata/error.hpp"
#include "strata/io.hpp"

namespace strata::io {

const Tensor* TensorFile::find(std::string_view name) const {
  for (const auto& [key, tensor] : tensors)
    if (key == name) return &tensor;
  return nullptr;
}

const Tensor& TensorFile::at(std::string_view name) const {
  const Tensor* t = find(name);
  STRATA_CHECK(t, "TensorFile::at: no tensor named '", name, "' (the file has ", tensors.size(), " tensors)");
  return *t;
}

void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata) {
  const std::string prefix = file_prefix("save_safetensors", path);
  struct Item {
    SafetensorsEntry entry;
    Tensor data;  // dense
  };
  std::vector<Item> items;
  std::set<std::string_view> names;
  for (const auto& [name, tensor] : tensors) {
    STRATA_CHECK(name != "__metadata__", prefix, "'__metadata__' is reserved for the metadata; rename that tensor");
    STRATA_CHECK(names.insert(name).second, prefix, "two tensors are named '", name, "'");
    STRATA_CHECK(tensor.defined(), prefix, "tensor '", name, "' is undefined");
    STRATA_CHECK(tensor.device().is_cpu(), prefix, "tensor '", name, "' is on ", tensor.device().str(),
                 "; copy it to the cpu first");
    Item item{{name, &safetensors_dtype_of(tensor.dtype()), {}, 0, 0}, tensor.detach().contiguous()};
    for (int64_t d : tensor.shape()) item.entry.shape.push_back(static_cast<uint64_t>(d));
    items.push_back(std::move(item));
  }
  // The reference's order: descending dtype rank, then name (dtype points into
  // kSafetensorsDtypes, which is in rank order).
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.entry.dtype != b.entry.dtype) return a.entry.dtype > b.entry.dtype;
    return a.entry.name < b.entry.name;
  });
  std::vector<SafetensorsEntry> entries;
  uint64_t offset = 0;
  for (Item& item : items) {
    item.entry.begin = offset;
    offset += static_cast<uint64_t>(item.data.numel()) * item.entry.dtype->size;
    item.entry.end = offset;
    entries.push_back(item.entry);
  }
  const std::string header = encode_safetensors_header(entries, metadata, prefix);

  AtomicOutputFile out(path, "save_safetensors");
  const uint64_t n = header.size();
  out.write(&n, sizeof n);
  out.write(header.data(), header.size());
  for (const Item& item : items)
    out.write(item.data.raw_data(), static_cast<std::size_t>(item.entry.end - item.entry.begin));
  out.commit();
}

std::vector<SafetensorsRead> plan_safetensors_reads(const InputFile& file, const SafetensorsHeader& header) {
  std::vector<SafetensorsRead> reads;
  for (const SafetensorsEntry& e : header.entries) {
    const std::string what = detail::cat(file.prefix(), "tensor '", detail::printable(e.name), "' ");
    STRATA_CHECK(e.dtype->stored, what, "has dtype ", e.dtype->name,
                 ", which Strata cannot load (it reads F32, F64, I64, F16, BF16, I8, U8, I16, U16, I32, U32)");
    reads.push_back({*e.dtype->stored, make_shape(e.shape, what), header.data_start + e.begin});
  }
  return reads;
}

TensorFile load_safetensors(const std::filesystem::path& path) {
  const InputFile file(path, "load_safetensors");
  SafetensorsHeader header = read_safetensors_header(file);
  const std::vector<SafetensorsRead> reads = plan_safetensors_reads(file, header);  // all checked first
  TensorFile result;
  result.metadata = std::move(header.metadata);
  for (std::size_t i = 0; i < reads.size(); ++i) {
    const SafetensorsEntry& e = header.entries[i];
    Tensor t = read_tensor(file, reads[i].offset, reads[i].stored, reads[i].shape);
    if (reads[i].stored != stored_type(t.dtype()))
      result.notes.push_back(detail::cat("tensor '", e.name, "' is stored as ", e.dtype->name, " and was loaded as ",
                                         dtype_name(t.dtype())));
    result.tensors.emplace_back(e.name, std::move(t));
  }
  return result;
}

Metadata read_safetensors_metadata(const std::filesystem::path& path) {
  const InputFile file(path, "read_safetensors_metadata");
  return read_safetensors_header(file).metadata;
}

}  // namespace strata::io
