// The communicator of a process that runs alone: every collective is the identity.
#include <cstdio>
#include <cstdlib>

#include "strata/dist/communicator.hpp"
#include "strata/error.hpp"

namespace strata::dist {
namespace {

class DoneRequest final : public Request {
 public:
  void wait() override {}
  bool done() override { return true; }
};

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single process"; }
  void all_reduce_sum(std::span<float>) override {}
  void all_reduce_sum(std::span<double>) override {}
  std::unique_ptr<Request> all_reduce_sum_async(std::span<float>) override { return std::make_unique<DoneRequest>(); }
  void broadcast(std::span<std::byte>, int root) override {
    STRATA_CHECK(root == 0, "broadcast: root ", root, " is not a rank of a single process (only 0 is)");
  }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message, int exit_code) override {
    std::fprintf(stderr, "strata: error: %s\n", message.c_str());
    std::fflush(stderr);
    std::exit(exit_code);
  }
};

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() { return std::make_unique<SingleProcess>(); }

}  // namespace strata::dist
