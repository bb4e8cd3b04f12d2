// Moving a module's tensors between ranks: rank 0's values to every rank, and the check that
// every rank holds tensors of the same names, shapes and dtypes.
#pragma once

#include <string>

#include "strata/dist/communicator.hpp"
#include "strata/nn/module.hpp"

namespace strata::dist {

// Every tensor := rank root's, in one broadcast of all of them packed end to end (each
// row-major). Every rank passes tensors of the same shapes and dtypes in the same order.
void broadcast_tensors(Communicator& comm, const nn::NamedTensors& tensors, int root);

// Throws on every rank (check_same_on_all_ranks) when the names, shapes or dtypes of `tensors`
// differ from rank 0's, naming the first that differs; `what` names the caller.
void check_same_tensors(Communicator& comm, const std::string& what, const nn::NamedTensors& tensors);

}  // namespace strata::dist
