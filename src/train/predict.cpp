// Inputs for prediction (image files and .npy batches) and the top-k classes of logits.
#include "strata/train/predict.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <numeric>

#include "data/image_decode.hpp"
#include "strata/autograd.hpp"
#include "strata/data/image_transforms.hpp"
#include "strata/data/transforms.hpp"
#include "strata/error.hpp"
#include "strata/io.hpp"
#include "strata/ops.hpp"
#include "strata/random.hpp"

namespace strata::train {
namespace {

}  // namespace

Tensor load_image_input(const std::filesystem::path& path, const WeightsInfo& info) {
  const std::string where = detail::cat("'", path.string(), "': ");
  STRATA_CHECK(info.input.ndim() == 3, where, info.model, " takes ", info.input.ndim() - 1, "-D inputs (", info.input,
               "), not images; pass a .npy batch");
  const int64_t channels = info.input[0];
  STRATA_CHECK(channels == 1 || channels == 3, where, info.model, " takes ", channels,
               "-channel inputs; images convert to 1 (grey) or 3 (RGB) channels only; pass a .npy batch");
  std::error_code ec;
  STRATA_CHECK(std::filesystem::is_regular_file(path, ec), where, "no such image file");
  data::Image image;
  const std::string problem = data::read_image_file(path, static_cast<int>(channels), image);
  STRATA_CHECK(problem.empty(), where, problem, "; give a PNG, JPEG or BMP file");
  if (!info.eval_transforms.empty()) {
    Generator gen;  // evaluation transforms draw nothing; a random one draws the same for every image
    image = data::apply(data::parse_image_transforms(info.eval_transforms), image, gen);
  }
  const int64_t h = image.height, w = image.width;
  Tensor x = data::to_float(image.pixels, {1, channels, h, w});
  if (h != info.input[1] || w != info.input[2]) x = data::resize_bilinear(x, info.input[1], info.input[2]);
  if (!info.mean.empty()) x = data::normalize(x, info.mean, info.std);
  return x;
}

Tensor load_npy_input(const std::filesystem::path& path, const WeightsInfo& info) {
  const std::string where = detail::cat("'", path.string(), "': ");
  Tensor x = io::load_npy(path);
  STRATA_CHECK(is_floating(x.dtype()), where, "holds ", dtype_name(x.dtype()),
               " values; predict takes float32 inputs prepared as in training");
  const int k = info.input.ndim();
  if (x.ndim() == k) x = x.unsqueeze(0);
  bool fits = x.ndim() == k + 1 && x.size(0) > 0;
  for (int d = 0; fits && d < k; ++d) fits = x.size(d + 1) == info.input[d];
  std::string expected = "N";
  for (int64_t d : info.input) expected += detail::cat(",", d);
  STRATA_CHECK(fits, where, "has shape ", x.shape(), " but ", info.model, " takes inputs of shape [", expected,
               "] (float32, prepared as in training)");
  return x.to(DType::F32).contiguous();
}

Tensor load_input(const std::filesystem::path& path, const WeightsInfo& info) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".npy" ? load_npy_input(path, info) : load_image_input(path, info);
}

Tensor predict_logits(nn::Module& model, const Tensor& inputs, int64_t batch_size) {
  STRATA_CHECK(batch_size > 0, "predict_logits: batch_size must be positive, got ", batch_size);
  STRATA_CHECK(inputs.ndim() >= 2 && inputs.size(0) > 0, "predict_logits: expected a batch (N, ...), got ",
               inputs.shape());
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  try {
    for (int64_t i = 0; i < inputs.size(0); i += batch_size)
      parts.push_back(model(inputs.slice(0, i, std::min(i + batch_size, inputs.size(0))).contiguous()));
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return parts.size() == 1 ? parts[0] : cat(parts, 0);
}

std::vector<std::vector<ClassScore>> top_k(const Tensor& logits, int64_t k, const std::vector<std::string>& names) {
  STRATA_CHECK(logits.ndim() == 2, "top_k: expected logits (N, K), got ", logits.shape());
  const int64_t n = logits.size(0), classes = logits.size(1);
  STRATA_CHECK(static_cast<int64_t>(names.size()) == classes, "top_k: ", classes, " logits per row but ", names.size(),
               " class names");
  STRATA_CHECK(k >= 1, "top_k: k must be >= 1, got ", k);
  k = std::min(k, classes);
  const std::vector<double> values = logits.to_vector<double>();
  std::vector<std::vector<ClassScore>> out;
  std::vector<int64_t> order(static_cast<std::size_t>(classes));
  std::vector<double> prob(static_cast<std::size_t>(classes));
  for (int64_t r = 0; r < n; ++r) {
    const double* row = values.data() + r * classes;
    const double top = *std::max_element(row, row + classes);
    double sum = 0.0;
    for (int64_t c = 0; c < classes; ++c) sum += prob[c] = std::exp(row[c] - top);
    std::iota(order.begin(), order.end(), int64_t{0});
    // NaN logits (a diverged model) sort last instead of breaking the ordering.
    auto key = [&](int64_t c) { return std::isnan(prob[c]) ? -1.0 : prob[c]; };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key(a) > key(b); });
    std::vector<ClassScore> scores;
    for (int64_t i = 0; i < k; ++i) scores.push_back({order[i], names[order[i]], prob[order[i]] / sum});
    out.push_back(std::move(scores));
  }
  return out;
}

}  // namespace strata::train
