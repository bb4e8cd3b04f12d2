// The README's library example, as a user's program: one SGD step of lenet-bn, weights saved.
#include <strata/strata.hpp>

#include <cstdio>
#include <filesystem>

using namespace strata;

int main() {
  auto model = models::build("lenet-bn");  // or compose nn::Sequential yourself
  Tensor x = uniform({8, 1, 28, 28}, 0, 1, default_generator());
  Tensor labels = from_data(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  optim::SGD sgd(model->parameters(), 0.1);
  Tensor loss = cross_entropy((*model)(x), labels);
  loss.backward();
  sgd.step();
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "strata-consumer-lenet-bn.safetensors";
  nn::save_weights(*model, path, {{"strata.model", "lenet-bn"}});
  const bool saved = io::load_safetensors(path).tensors.size() == model->state_dict().size();
  std::filesystem::remove(path);
  std::printf("loss %.4f, weights %s\n", loss.item(), saved ? "saved and read back" : "NOT saved");
  return saved && loss.item() > 0.0 ? 0 : 1;
}
