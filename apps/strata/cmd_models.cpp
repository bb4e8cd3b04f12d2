// strata models: the zoo with parameter counts and default inputs.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "strata/models.hpp"

namespace strata::cli {

void add_models_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "List the model zoo with parameter counts and default input sizes");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print one JSON record per model, one per line");
  cmd->callback([json] {
    int width = 5;  // of the name column: the longest name
    for (const models::ModelInfo& m : models::zoo()) width = std::max(width, static_cast<int>(m.name.size()));
    if (!*json) std::printf("%-*s %12s  %-16s %s\n", width, "model", "parameters", "input", "description");
    for (const models::ModelInfo& m : models::zoo()) {
      Shape input = m.input;
      const int64_t params = models::parameter_count(m.name);
      if (*json) {
        const nlohmann::json record = {{"name", m.name},
                       {"parameters", params},
                       {"input", std::vector<int64_t>(input.begin(), input.end())},
                       {"description", m.description},
                       {"recipe",
                        {{"lr", m.recipe.lr}, {"batch_size", m.recipe.batch_size}, {"epochs", m.recipe.epochs},
                         {"resize", m.recipe.resize}}}};
        std::cout << record.dump() << "\n";
      } else {
        std::printf("%-*s %12lld  %-16s %s\n", width, m.name.c_str(), static_cast<long long>(params),
                    input.str().c_str(), m.description.c_str());
      }
    }
  });
}

}  // namespace strata::cli
