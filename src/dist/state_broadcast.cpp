#include "dist/state_broadcast.hpp"

#include <cstring>
#include <sstream>
#include <vector>

#include "strata/error.hpp"

namespace strata::dist {
namespace {

std::size_t bytes_of(const Tensor& t) { return static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()); }

// One line per tensor: "name shape dtype".
std::vector<std::string> describe(const nn::NamedTensors& tensors) {
  std::vector<std::string> lines;
  for (const auto& [name, t] : tensors) lines.push_back(detail::cat(name, " ", t.shape(), " ", dtype_name(t.dtype())));
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

void broadcast_tensors(Communicator& comm, const nn::NamedTensors& tensors, int root) {
  if (comm.size() == 1 || tensors.empty()) return;
  std::size_t total = 0;
  for (const auto& [_, t] : tensors) total += bytes_of(t);
  std::vector<std::byte> packed(total);
  const bool sending = comm.rank() == root;
  if (sending) {
    std::size_t at = 0;
    for (const auto& [_, t] : tensors) {
      const Tensor c = t.contiguous();
      std::memcpy(packed.data() + at, c.raw_data(), bytes_of(c));
      at += bytes_of(c);
    }
  }
  comm.broadcast(packed, root);
  if (sending) return;
  std::size_t at = 0;
  for (const auto& [_, t] : tensors) {
    if (t.is_contiguous()) {
      std::memcpy(t.mutable_raw_data(), packed.data() + at, bytes_of(t));
    } else {
      const Tensor c = empty(t.shape(), t.dtype());
      std::memcpy(c.mutable_raw_data(), packed.data() + at, bytes_of(c));
      t.detach().copy_(c);
    }
    at += bytes_of(t);
  }
}

void check_same_tensors(Communicator& comm, const std::string& what, const nn::NamedTensors& tensors) {
  if (comm.size() == 1) return;
  const std::vector<std::string> mine = describe(tensors);
  check_same_on_all_ranks(comm, what + ": the model (its parameters and buffers)", join(mine), [&](const std::string& rank0) {
    const std::vector<std::string> theirs = split_lines(rank0);
    for (std::size_t i = 0; i < std::max(mine.size(), theirs.size()); ++i) {
      const std::string a = i < theirs.size() ? theirs[i] : "(none)", b = i < mine.size() ? mine[i] : "(none)";
      if (a != b)
        return detail::cat("tensor ", i, " is ", b, " on rank ", comm.rank(), " but ", a, " on rank 0 (", mine.size(),
                           " tensors against ", theirs.size(), "); every rank must build the same model");
    }
    return std::string("the tensors differ");
  });
}

}  // namespace strata::dist
