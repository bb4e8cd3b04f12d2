// strata: train, evaluate, inspect, benchmark and export the model zoo from the command line.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "commands.hpp"
#include "strata/error.hpp"

namespace {

// OpenMP's threads spin about 300,000 times waiting for work before they sleep (libgomp's default
// spin count): on a machine where another process takes a core, the spinning threads take turns
// with it and training slows down many times over. A spin count of 1000 keeps the idle speed and
// degrades gracefully (measured in docs/BENCHMARKS.md, "Threads on a loaded machine"). libgomp
// reads the count from the environment when it loads, before main(), so the tool runs itself once
// more with it set; an OMP_WAIT_POLICY or GOMP_SPINCOUNT of the user's stands, and if the exec
// fails the run goes on with the default.
void prefer_short_openmp_spins(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  ::setenv("GOMP_SPINCOUNT", "1000", 0);
  ::execv("/proc/self/exe", argv);
}

}  // namespace

int main(int argc, char** argv) {
  prefer_short_openmp_spins(argv);
  CLI::App app{"strata: convolutional neural networks in C++ (models, summary, train, eval, predict, bench, export)"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  strata::cli::add_models_command(app);
  strata::cli::add_summary_command(app);
  strata::cli::add_train_command(app);
  strata::cli::add_eval_command(app);
  strata::cli::add_predict_command(app);
  strata::cli::add_bench_command(app);
  strata::cli::add_export_command(app);
  try {
    strata::cli::check_thread_environment();
    app.parse(argc, argv);
    // A full disk or closed pipe behind stdout is an error, not a silent success.
    std::cout.flush();
    STRATA_CHECK(std::cout && std::fflush(stdout) == 0 && !std::ferror(stdout), "writing to the standard output failed",
                 errno ? std::string(": ") + std::strerror(errno) : std::string());
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const strata::Error& e) {
    std::cerr << "strata: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "strata: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
