// The PyTorch fixtures of tests/fixtures/golden (written by tools/make_golden.py) and the
// deterministic weight formula both sides compute.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "strata/strata.hpp"

namespace strata::test {

// The layout of the fixtures these tests read; tools/make_golden.py's FORMAT_VERSION.
inline constexpr int kGoldenFormatVersion = 1;

inline std::filesystem::path golden_dir() {
  return std::filesystem::path(STRATA_TEST_FIXTURES_DIR) / "golden";
}

// Reads a JSON fixture and checks its format version.
inline nlohmann::json load_golden(const std::string& file) {
  const std::filesystem::path path = golden_dir() / file;
  std::ifstream in(path);
  STRATA_CHECK(in.good(), "golden fixture '", path.string(), "' not found; regenerate it with ",
               "/usr/bin/python3 tools/make_golden.py");
  nlohmann::json j = nlohmann::json::parse(in);
  STRATA_CHECK(j.value("format_version", 0) == kGoldenFormatVersion, "golden fixture '", path.string(),
               "' has format_version ", j.value("format_version", 0), " but these tests read version ",
               kGoldenFormatVersion);
  return j;
}

inline Shape shape_of(const nlohmann::json& j) { return Shape(j.get<std::vector<int64_t>>()); }

// A (rows, cols) tensor from a JSON list of lists.
inline Tensor matrix_of(const nlohmann::json& j) {
  std::vector<double> v;
  for (const auto& row : j)
    for (const auto& x : row) v.push_back(x.get<double>());
  const auto rows = static_cast<int64_t>(j.size());
  return from_data(std::span<const double>(v), {rows, static_cast<int64_t>(v.size()) / rows});
}

// ---- The formula of tools/make_golden.py ----
// Tensor number k, flat index i: float32(offset + scale * (2u - 1)), u = (splitmix64(k * 2^32 + i)
// >> 11) * 2^-53, a uniform value in [-1, 1) from an integer hash.
inline float formula_value(uint64_t k, uint64_t i, double scale, double offset) {
  uint64_t z = (k << 32) + i + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * 0x1p-53;
  return static_cast<float>(offset + scale * (2.0 * u - 1.0));
}

inline Tensor formula_tensor(const Shape& shape, uint64_t k, double scale, double offset = 0.0) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = formula_value(k, i, scale, offset);
  return from_data(std::span<const float>(v), shape);
}

// Fills the k-th parameter (k = 1, 2, ... in named_parameters() order) by the formula: Conv and
// Linear weights with scale sqrt(6 / fan_in), their biases 1 / sqrt(fan_in), BatchNorm weights
// 1 + 0.2 u and biases 0.2 u.
inline void set_formula_weights(nn::Module& model) {
  std::map<std::string, nn::Module*> modules;
  for (auto& [name, m] : model.named_modules()) modules[name] = m;
  NoGradGuard no_grad;
  uint64_t k = 0;
  for (auto& [name, p] : model.named_parameters()) {
    ++k;
    const std::size_t dot = name.rfind('.');
    const nn::Module* owner = modules.at(name.substr(0, dot));
    const std::string leaf = name.substr(dot + 1);
    const Tensor* weight = nullptr;
    if (const auto* conv = dynamic_cast<const nn::ConvNd*>(owner)) weight = &conv->weight;
    if (const auto* fc = dynamic_cast<const nn::Linear*>(owner)) weight = &fc->weight;
    double scale = 0, offset = 0;
    if (dynamic_cast<const nn::BatchNormNd*>(owner) != nullptr) {
      scale = 0.2;
      offset = leaf == "weight" ? 1.0 : 0.0;
    } else if (weight != nullptr) {
      const double fan_in = static_cast<double>(weight->numel() / weight->size(0));
      scale = leaf == "weight" ? std::sqrt(6.0 / fan_in) : 1.0 / std::sqrt(fan_in);
    } else {
      fail("set_formula_weights: no rule for parameter ", name, " of a ", owner->type_name());
    }
    Tensor target = p;
    target.copy_(formula_tensor(p.shape(), k, scale, offset));
  }
}

}  // namespace strata::test
