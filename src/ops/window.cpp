#include "ops/window.hpp"

#include "strata/error.hpp"

namespace strata {

Dims::Dims(std::initializer_list<int64_t> values) {
  STRATA_CHECK(values.size() <= 3, "dims: at most 3 values (D, H, W), got ", values.size());
  for (int64_t v : values) v_[n_++] = v;
}

Spatial spatial_arg(const Dims& dims, int nd, int64_t neutral, const Spatial& fallback, const char* op,
                    const char* arg) {
  if (dims.empty()) return fallback;
  STRATA_CHECK(dims.size() == 1 || dims.size() == nd, op, ": ", arg, " must have 1 or ", nd, " values, got ",
               dims.size());
  Spatial out{neutral, neutral, neutral};
  for (int i = 0; i < nd; ++i) out[3 - nd + i] = dims[dims.size() == 1 ? 0 : i];
  return out;
}

Shape with_spatial(int64_t a, int64_t b, const Spatial& s, int nd) {
  Shape shape{a, b};
  for (int i = 3 - nd; i < 3; ++i) shape.push_back(s[i]);
  return shape;
}

std::string spatial_str(const Spatial& s, int nd) {
  std::string out;
  for (int i = 3 - nd; i < 3; ++i) {
    if (!out.empty()) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

}  // namespace strata
