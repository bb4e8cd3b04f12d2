// Errors: every user-facing failure is a strata::Error naming the op, the argument and the values.
#pragma once
#pragma GCC visibility push(default)

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strata {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// Concatenates anything printable with operator<< into one string.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// Text from a file or another outside source, made safe to put in a message: at most `max_bytes`
// of it (then "..." and the full length), control characters and bytes that are not UTF-8 written
// as \xNN, so that a hostile name cannot drive the terminal or fill the screen.
std::string printable(std::string_view text, std::size_t max_bytes = 120);
}  // namespace detail

// Throws strata::Error with the concatenated message.
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::cat(args...));
}

}  // namespace strata

// STRATA_CHECK(cond, "conv2d: stride must be positive, got ", s) throws strata::Error when cond is false.
#define STRATA_CHECK(cond, ...)                          \
  do {                                                   \
    if (!(cond)) ::strata::fail(__VA_ARGS__);            \
  } while (0)

#pragma GCC visibility pop
