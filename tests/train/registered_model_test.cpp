// A model registered by the program (models::register_model) trains, resumes and loads by name,
// with no builder passed anywhere (issue 21: such a model was refused as unknown).
#include "train_util.hpp"

using namespace strata;

TEST(RegisteredModel, TrainsResumesAndLoadsByName) {
  models::register_model({"tiny-registered", "the tests' tiny model", {1, 1, 28, 28}, {0.1, 32, 2, 28},
                          test::tiny_model});
  test::TempDir dir;
  train::TrainConfig config = test::tiny_config(dir / "run", 256, 128);
  config.model = "tiny-registered";
  config.epochs = 1;
  {
    train::Trainer trainer(config, test::fashion());
    trainer.run();
  }
  train::Trainer resumed = train::Trainer::resume(dir / "run", {.epochs = 2}, test::fashion());
  resumed.run();
  EXPECT_EQ(resumed.completed_epochs(), 2);
  const train::LoadedModel loaded = train::load_model(dir / "run" / "model.safetensors");
  EXPECT_EQ(loaded.info.model, "tiny-registered");
  test::expect_bitwise_equal(loaded.module->state_dict(), resumed.model().state_dict());
}
