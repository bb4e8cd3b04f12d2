// dist::world(): the communicator of the job this process belongs to (the one place that knows
// whether the build has MPI), and the helpers over any communicator.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "strata/dist/communicator.hpp"
#include "strata/error.hpp"
#ifdef STRATA_WITH_MPI
#include "dist/mpi_communicator.hpp"
#endif

namespace strata::dist {
#ifndef STRATA_WITH_MPI
namespace {

// The job's size as the launcher states it; 0 when no launcher variable gives it.
long launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* value = std::getenv(name)) return std::strtol(value, nullptr, 10);
  return 0;
}

}  // namespace
#endif

bool built_with_mpi() {
#ifdef STRATA_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched_as_job() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

Communicator& world() {
  static const std::unique_ptr<Communicator> comm = []() -> std::unique_ptr<Communicator> {
    if (launched_as_job()) {
#ifdef STRATA_WITH_MPI
      return make_mpi_communicator();
#else
      STRATA_CHECK(launcher_size() <= 1, "this process is one of ", launcher_size(),
                   " started by mpirun or srun, but this build of Strata has no MPI: each would run alone. "
                   "Install MPI (apt install libopenmpi-dev openmpi-bin, or make deps) and rebuild with "
                   "-DSTRATA_WITH_MPI=ON, or run one process without mpirun");
#endif
    }
    return make_single_process_communicator();
  }();
  return *comm;
}

void broadcast_string(Communicator& comm, std::string& text, int root) {
  uint64_t length = text.size();
  comm.broadcast(std::as_writable_bytes(std::span(&length, 1)), root);
  text.resize(length);
  comm.broadcast(std::as_writable_bytes(std::span(text.data(), text.size())), root);
}

void check_same_on_all_ranks(Communicator& comm, const std::string& what, const std::string& text,
                             const std::function<std::string(const std::string& rank0_text)>& explain) {
  std::string rank0 = text;
  broadcast_string(comm, rank0, 0);
  // differs[r] = 1 where rank r's text is not rank 0's: each rank sets its own entry.
  std::vector<double> differs(static_cast<std::size_t>(comm.size()), 0.0);
  differs[static_cast<std::size_t>(comm.rank())] = text != rank0 ? 1.0 : 0.0;
  comm.all_reduce_sum(differs);
  std::string ranks;
  int count = 0, first = -1;
  for (std::size_t r = 0; r < differs.size(); ++r)
    if (differs[r] != 0.0) {
      ranks += detail::cat(count++ ? ", " : "", r);
      if (first < 0) first = static_cast<int>(r);
    }
  if (count == 0) return;
  // What differs, as the first differing rank sees it, for every rank's message.
  std::string difference;
  if (comm.rank() == first)
    difference = explain ? explain(rank0) : detail::cat("rank 0 has\n", rank0, "\nrank ", first, " has\n", text);
  broadcast_string(comm, difference, first);
  fail(what, " differs between the ranks: rank", count > 1 ? "s " : " ", ranks, count > 1 ? " differ" : " differs",
       " from rank 0; on rank ", first, ": ", difference);
}

}  // namespace strata::dist
