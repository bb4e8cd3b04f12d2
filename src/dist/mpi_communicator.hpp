// The MPI communicator (mpi_communicator.cpp), built only when CMake finds MPI (STRATA_WITH_MPI).
#pragma once

#include <memory>

#include "strata/dist/communicator.hpp"

namespace strata::dist {

// MPI_COMM_WORLD of a process started by mpirun or srun; initialises MPI (MPI_Init_thread with
// MPI_THREAD_SERIALIZED) and finalises it when destroyed.
std::unique_ptr<Communicator> make_mpi_communicator();

}  // namespace strata::dist
