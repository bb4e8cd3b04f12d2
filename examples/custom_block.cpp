// A block of your own: define it, compose it with the library's layers, print it, summarise it
// and check its gradients.
//
// The block is squeeze-and-excitation (Hu et al., "Squeeze-and-Excitation Networks", 2018): it
// rescales every channel of a feature map by a weight in (0, 1) computed from the whole map,
//   s = sigmoid(fc2(relu(fc1(mean over H, W of x))))    (N, C)
//   y = x * s                                            s broadcast over H and W
// so the network can learn which channels matter for each input.
//
// Build and run (part of the normal build; also run by `make test`):
//   cmake --build build --target custom_block && ./build/examples/custom_block
// Exits with status 1 if the gradient check fails.
#include <cstdio>
#include <iostream>
#include <memory>

#include "strata/strata.hpp"

using namespace strata;

// A block subclasses nn::Module: register parameters, buffers and child modules in the
// constructor, override forward(), and optionally extra_repr() for printing.
class SqueezeExcitation : public nn::Module {
 public:
  SqueezeExcitation(int64_t channels, int64_t reduction)
      : Module("SqueezeExcitation"), channels_(channels), reduction_(reduction) {
    STRATA_CHECK(reduction > 0 && channels % reduction == 0, "SqueezeExcitation: channels ", channels,
                 " must be a multiple of reduction ", reduction);
    // The registration names become the state_dict keys: "fc1.weight", "fc1.bias", ... (and
    // "3.fc1.weight" once the block is child "3" of a Sequential), as in PyTorch.
    pool_ = register_module("pool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
    fc1_ = register_module("fc1", std::make_shared<nn::Linear>(channels, channels / reduction));
    fc2_ = register_module("fc2", std::make_shared<nn::Linear>(channels / reduction, channels));
  }

  Tensor forward(const Tensor& x) override {
    // Call children with operator(), not forward(): errors then name the failing layer and
    // summaries see every call. Ops record autograd history, so backward needs no code here.
    const Tensor squeezed = (*pool_)(x).flatten(1);                     // (N, C)
    const Tensor weights = sigmoid((*fc2_)(relu((*fc1_)(squeezed))));   // (N, C)
    return x * weights.view({x.size(0), channels_, 1, 1});
  }

  // What str() prints inside the parentheses, before the children.
  std::string extra_repr() const override {
    return "channels=" + std::to_string(channels_) + ", reduction=" + std::to_string(reduction_);
  }

 private:
  int64_t channels_, reduction_;
  std::shared_ptr<nn::Module> pool_, fc1_, fc2_;
};

int main() {
  try {
    // Compose the block with library layers at run time.
    auto model = nn::sequential({
        std::make_shared<nn::Conv2d>(1, 8, 3, ConvOptions{.padding = 1}),
        std::make_shared<nn::BatchNorm2d>(8),
        std::make_shared<nn::ReLU>(),
        std::make_shared<SqueezeExcitation>(8, 4),
        std::make_shared<nn::MaxPool2d>(2),
        std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(8 * 4 * 4, 10),
    });

    // The module tree as PyTorch prints the same tree, then a layer-by-layer summary.
    std::cout << model->str() << "\n\n";
    std::cout << nn::format_summary(nn::summarize(*model, {1, 1, 8, 8})) << "\n";
    std::cout << "state_dict keys of the block:";
    for (const auto& [name, t] : model->state_dict())
      if (name.rfind("3.", 0) == 0) std::cout << " " << name << t.shape();
    std::cout << "\n\n";

    // Check the gradients: autograd's against central finite differences, in double precision
    // (to() converts every parameter and buffer in place). gradcheck perturbs the inputs it is
    // given, so the function rebuilds the output from them on every call. In training mode
    // BatchNorm normalises with the batch statistics, so the whole computation is checked.
    model->to(DType::F64);
    model->train();
    Generator gen(42);
    const Tensor x = uniform({2, 1, 8, 8}, -1.0, 1.0, gen, DType::F64).set_requires_grad(true);
    const GradcheckResult whole = gradcheck([&](const std::vector<Tensor>& in) { return (*model)(in[0]); }, {x});
    std::printf("gradcheck of the whole model: %s, %lld elements compared, max error %.2e, %lld kinks skipped\n",
                whole.ok ? "ok" : "FAILED", static_cast<long long>(whole.checked), whole.max_abs_error,
                static_cast<long long>(whole.skipped_kinks));

    // The block alone, on a feature map of its own.
    SqueezeExcitation block(8, 2);
    block.to(DType::F64);
    const Tensor features = uniform({2, 8, 3, 3}, -1.0, 1.0, gen, DType::F64).set_requires_grad(true);
    const GradcheckResult alone = gradcheck([&](const std::vector<Tensor>& in) { return block(in[0]); }, {features});
    std::printf("gradcheck of the block alone: %s, %lld elements compared, max error %.2e\n",
                alone.ok ? "ok" : "FAILED", static_cast<long long>(alone.checked), alone.max_abs_error);

    if (!whole.ok || !alone.ok) {
      std::fprintf(stderr, "%s\n", (whole.ok ? alone : whole).message.c_str());
      return 1;
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "custom_block: %s\n", e.what());
    return 1;
  }
}
