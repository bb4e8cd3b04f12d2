#include "strata/train/evaluate.hpp"

#include <cmath>
#include <limits>

#include "strata/autograd.hpp"
#include "strata/error.hpp"

namespace strata::train {

int64_t Evaluation::count() const {
  int64_t n = 0;
  for (const auto& row : confusion)
    for (int64_t v : row) n += v;
  return n;
}

int64_t Evaluation::correct() const {
  int64_t n = 0;
  for (std::size_t k = 0; k < confusion.size(); ++k) n += confusion[k][k];
  return n;
}

double Evaluation::accuracy() const {
  const int64_t n = count();
  return n > 0 ? static_cast<double>(correct()) / static_cast<double>(n) : 0.0;
}

int64_t Evaluation::class_count(int64_t k) const {
  STRATA_CHECK(k >= 0 && k < static_cast<int64_t>(confusion.size()), "Evaluation: class ", k, " is outside [0, ",
               confusion.size(), ")");
  int64_t n = 0;
  for (int64_t v : confusion[k]) n += v;
  return n;
}

double Evaluation::class_accuracy(int64_t k) const {
  const int64_t n = class_count(k);
  return n > 0 ? static_cast<double>(confusion[k][k]) / static_cast<double>(n)
               : std::numeric_limits<double>::quiet_NaN();
}

Evaluation evaluate(nn::Module& model, const data::DataLoader& loader,
                    const std::function<void(int64_t batch, int64_t num_batches)>& on_batch) {
  const int64_t classes = loader.dataset().num_classes();
  Evaluation ev;
  ev.class_names = loader.dataset().class_names();
  ev.confusion.assign(static_cast<std::size_t>(classes), std::vector<int64_t>(static_cast<std::size_t>(classes), 0));
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  try {
    int64_t done = 0;
    for (data::Batch& batch : loader.epoch(0)) {
      if (batch.labels.numel() == 0) {  // a shard of a batch smaller than the shard count
        if (on_batch) on_batch(++done, loader.num_batches());
        continue;
      }
      const Tensor logits = model(batch.images);
      STRATA_CHECK(logits.ndim() == 2 && logits.size(1) == classes && logits.size(0) == batch.labels.numel(),
                   "evaluate: the model gives logits of shape ", logits.shape(), " for a batch of ",
                   batch.labels.numel(), " images, but the dataset has ", classes, " classes (expected [",
                   batch.labels.numel(), ",", classes, "])");
      const std::vector<int64_t> predicted = logits.argmax(1).to_vector<int64_t>();
      const int64_t* labels = batch.labels.data<int64_t>();
      for (std::size_t i = 0; i < predicted.size(); ++i) ++ev.confusion[labels[i]][predicted[i]];
      if (on_batch) on_batch(++done, loader.num_batches());
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return ev;
}

}  // namespace strata::train
