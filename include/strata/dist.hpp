// Data-parallel training over processes and machines (MPI): the communicator and the
// data-parallel wrapper of a module. See docs/distributed.md.
#pragma once
#pragma GCC visibility push(default)

#include "strata/dist/communicator.hpp"
#include "strata/dist/data_parallel.hpp"
#include "strata/dist/sync_batch_norm.hpp"

#pragma GCC visibility pop
