#include "job.hpp"

#include <exception>

#include "strata/dist.hpp"
#include "strata/error.hpp"

namespace strata::cli {

std::FILE* quiet_stream() {
  static std::FILE* const null = std::fopen("/dev/null", "w");
  STRATA_CHECK(null != nullptr, "cannot open /dev/null for writing");
  return null;
}

std::function<void()> on_every_rank(std::function<void(bool report)> command) {
  return [command = std::move(command)] {
    dist::Communicator& comm = dist::world();
    if (comm.size() == 1) return command(true);
    const bool report = comm.rank() == 0;
    try {
      if (!report) STRATA_CHECK(std::freopen("/dev/null", "w", stdout) != nullptr, "cannot silence the standard output");
      command(report);
    } catch (const std::exception& e) {
      comm.abort(e.what());
    }
  };
}

}  // namespace strata::cli
