// A model registered by the program (models::register_model) trains, resumes and loads by name,
// with no builder passed anywhere (issue 21: such a model was refused as unknown); its run writes
// model.onnx, which the strata tool, which does not know the model, evaluates.
#include <nlohmann/json.hpp>

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
  const train::TrainResult result = resumed.run();
  EXPECT_EQ(resumed.completed_epochs(), 2);
  const train::LoadedModel loaded = train::load_model(dir / "run" / "model.safetensors");
  EXPECT_EQ(loaded.info.model, "tiny-registered");
  test::expect_bitwise_equal(loaded.module->state_dict(), resumed.model().state_dict());

  // The strata tool does not know the model; the run's model.onnx carries it.
  const test::CommandResult by_name = test::run_strata_env("", "eval " + (dir / "run" / "model.safetensors").string());
  EXPECT_EQ(by_name.exit_code, 1);
  EXPECT_NE(by_name.output.find("its run wrote " + (dir / "run" / "model.onnx").string()), std::string::npos)
      << by_name.output;
  const test::CommandResult onnx =
      test::run_strata_env("", "eval " + (dir / "run" / "model.onnx").string() + " --limit 128 --json");
  ASSERT_EQ(onnx.exit_code, 0) << onnx.output;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(onnx.output)["accuracy"].get<double>(), result.test_acc) << onnx.output;
}
