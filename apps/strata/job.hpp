// Subcommands run by every rank of a data-parallel job (mpirun -np N strata train ...).
#pragma once

#include <cstdio>
#include <functional>

namespace strata::cli {

// The callback of a subcommand that runs as one rank of the job dist::world(): `command(report)`
// with report true in a single process and on rank 0 of a job; on the other ranks the standard
// output goes to /dev/null (they print only errors). What the command throws on any rank of a
// job ends the whole job with that rank's number and the message (dist::Communicator::abort),
// since the other ranks would wait for it forever.
std::function<void()> on_every_rank(std::function<void(bool report)> command);

// Where a rank that does not report writes its progress: /dev/null.
std::FILE* quiet_stream();

}  // namespace strata::cli
