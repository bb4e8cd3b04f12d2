// Test-set evaluation: accuracy, per-class accuracy and the confusion matrix.
#pragma once
#pragma GCC visibility push(default)

#include <functional>

#include <cstdint>
#include <string>
#include <vector>

#include "strata/data/loader.hpp"
#include "strata/nn/module.hpp"

namespace strata::train {

struct Evaluation {
  std::vector<std::string> class_names;
  // confusion[t][p]: examples of true class t predicted as class p (argmax of the logits).
  std::vector<std::vector<int64_t>> confusion;

  int64_t count() const;                   // examples evaluated (the sum of the matrix)
  int64_t correct() const;                 // its trace
  double accuracy() const;                 // correct / count (0 for no examples)
  int64_t class_count(int64_t k) const;    // examples of true class k (row sum)
  double class_accuracy(int64_t k) const;  // confusion[k][k] / class_count(k); NaN when 0
};

// Runs `model` in evaluation mode without autograd over one epoch of `loader` (its mode is
// restored afterwards). The model must give (B, K) logits for the dataset's K classes.
// `on_batch(batch, num_batches)`, when given, is called after each batch (1-based).
Evaluation evaluate(nn::Module& model, const data::DataLoader& loader,
                    const std::function<void(int64_t batch, int64_t num_batches)>& on_batch = {});

}  // namespace strata::train

#pragma GCC visibility pop
