// The model zoo: the CNNs of Dive into Deep Learning, composed from nn modules at run time, with
// parameter names equal to the PyTorch module trees in MODELS.md.
#pragma once
#pragma GCC visibility push(default)

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/nn.hpp"

namespace strata::models {

struct ModelOptions {
  int64_t in_channels = 1;   // 1 for Fashion-MNIST, 3 for CIFAR-10 / RGB folders
  int64_t num_classes = 10;
};

// The book's training recipe (plain SGD, Xavier-uniform weights, zero biases).
struct Recipe {
  double lr = 0.1;
  int64_t batch_size = 256;
  int64_t epochs = 10;
  int64_t resize = 28;  // images are bilinearly resized to resize x resize
};

struct ModelInfo {
  std::string name;
  std::string description;
  Shape input;  // default input of one sample, batch dim included: {1,1,28,28} or {1,1,D,H,W}
  Recipe recipe;
  std::function<std::shared_ptr<nn::Module>(const ModelOptions&)> build;
};

// Every model of the book, in the book's order.
const std::vector<ModelInfo>& zoo();
// Adds a model of your own to find() and build(), and so to everything that names a model: a
// Trainer whose config names it (no builder needed), resume, load_model, predict and eval from
// C++. `info.name` must be new (not a zoo model's or another registered one's), `info.input`
// {1, C, H, W} or {1, C, D, H, W} with positive sizes, `info.build` set. Thread-safe; entries
// stay for the process's life.
void register_model(ModelInfo info);
// The zoo's entry named `name`, else the registered one; an unknown name is an error listing both.
const ModelInfo& find(const std::string& name);
// The entry named `name`, or nullptr.
const ModelInfo* lookup(const std::string& name);
std::shared_ptr<nn::Module> build(const std::string& name, const ModelOptions& options = {});
// The parameters of model `name` with its default input's channels and 10 classes: known for the
// zoo's models without building them (`strata models`), counted by building a registered one.
int64_t parameter_count(const std::string& name);

// The book's initialisation: Xavier-uniform weights and zero biases for every Conv and Linear.
void init_book(nn::Module& model, Generator* gen = nullptr);

// ---- Blocks (ordinary user-level modules) ----

// Seq[(Conv(cin, cout, 3, p=1), ReLU) x num_convs, MaxPool(2, 2)].
std::shared_ptr<nn::Sequential> vgg_block(int num_convs, int64_t in_channels, int64_t out_channels);
// Seq[Conv(cin, cout, k, s, p), ReLU, Conv(cout, cout, 1), ReLU, Conv(cout, cout, 1), ReLU].
std::shared_ptr<nn::Sequential> nin_block(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                                          int64_t padding);

// GoogLeNet's Inception block: four paths concatenated on channels.
// Children p1_1, p2_1, p2_2, p3_1, p3_2, p4_1, p4_2 (MODELS.md).
class Inception : public nn::Module {
 public:
  Inception(int64_t in_channels, int64_t c1, std::pair<int64_t, int64_t> c2, std::pair<int64_t, int64_t> c3,
            int64_t c4);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Conv2d> p1_1, p2_1, p2_2, p3_1, p3_2, p4_2;
  std::shared_ptr<nn::Module> p4_1;
};

// ResNet's residual block, 2-D or 3-D: y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
// shortcut = conv3 (1x1, stride) when use_1x1conv, else identity. Children conv1, conv2,
// [conv3], bn1, bn2 in that order (MODELS.md). Each convolution runs with its batch norm through
// ConvNd::with_batch_norm (folded into one convolution for inference).
class Residual : public nn::Module {
 public:
  Residual(int nd, int64_t in_channels, int64_t channels, bool use_1x1conv = false, int64_t stride = 1);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::ConvNd> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNormNd> bn1, bn2;
};

}  // namespace strata::models

#pragma GCC visibility pop
