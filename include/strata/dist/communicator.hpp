// Communicators: the processes of a data-parallel job and the collectives between them.
//
// A job is `size()` processes ("ranks" 0 .. size-1), started together by mpirun or srun. Every
// rank calls each collective in the same order with buffers of the same length (MPI's rule):
// the blocking ones return when the result is in place on this rank; all_reduce_sum_async starts
// a sum and returns a Request to wait on, so that the sum runs while the caller computes (the
// gradient buckets of dist::DataParallel). Operations run in the order they were called, the
// non-blocking ones included. Call them from one thread at a time.
//
//   dist::Communicator& comm = dist::world();   // MPI under mpirun/srun, else one process
//   std::vector<float> g = ...;
//   comm.all_reduce_sum(g);                     // g = the sum of every rank's g
//
// A rank that cannot go on must end the whole job with abort(): the other ranks would otherwise
// wait for it in their next collective forever.
#pragma once
#pragma GCC visibility push(default)

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace strata::dist {

// A non-blocking collective in flight. wait() returns once it is complete (rethrowing its error,
// if any); the buffer it works on must stay alive and untouched until then. Destroying a request
// that was not waited for waits.
class Request {
 public:
  virtual ~Request() = default;
  virtual void wait() = 0;
  virtual bool done() = 0;  // complete (wait() would not block)
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // this process, in [0, size())
  virtual int size() const = 0;  // processes in the job
  // What carries the collectives, for messages: "single process", "MPI (Open MPI v4.1.4)".
  virtual std::string name() const = 0;

  // data := the element-wise sum of every rank's data, in place.
  virtual void all_reduce_sum(std::span<float> data) = 0;
  virtual void all_reduce_sum(std::span<double> data) = 0;
  // The same, started now and completed by the request's wait().
  virtual std::unique_ptr<Request> all_reduce_sum_async(std::span<float> data) = 0;
  // data := rank `root`'s data on every rank (the same length everywhere).
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  // Returns once every rank has called it.
  virtual void barrier() = 0;
  // Prints "strata: error: rank R of N: message" to stderr and ends every process of the job
  // with `exit_code` (MPI_Abort); in a single process, that process.
  [[noreturn]] virtual void abort(const std::string& message, int exit_code = 1) = 0;
};

// One process alone: the collectives leave their buffers as they are.
std::unique_ptr<Communicator> make_single_process_communicator();

// Whether this build has the MPI communicator (CMake's STRATA_WITH_MPI found MPI).
bool built_with_mpi();
// Whether a launcher started this process as part of a job: OMPI_COMM_WORLD_SIZE (Open MPI's
// mpirun), PMI_SIZE or PMIX_RANK (Slurm's srun, MPICH's and other PMI launchers) is set.
bool launched_as_job();

// The communicator of this process's job, created on first use: MPI's world (MPI_Init_thread
// then, MPI_Finalize at exit) when launched_as_job() and built_with_mpi(); otherwise a single
// process. Launched as a job by a build without MPI, world() is an error saying so.
Communicator& world();

// ---- Helpers over any communicator ----

// `text` := rank root's text on every rank (lengths may differ before the call).
void broadcast_string(Communicator& comm, std::string& text, int root);

// Checks that every rank holds the same `text` as rank 0 (a description of its configuration,
// its model's parameters). Otherwise every rank throws the same strata::Error: "<what> differs
// between the ranks: rank R (, ...) differ(s) from rank 0; on rank R: <difference>", the
// difference being `explain(rank0_text)` on the first differing rank R (by default both texts).
void check_same_on_all_ranks(Communicator& comm, const std::string& what, const std::string& text,
                             const std::function<std::string(const std::string& rank0_text)>& explain = {});

}  // namespace strata::dist

#pragma GCC visibility pop
