#include <limits>

#include "commands.hpp"
#include "strata/error.hpp"

namespace strata::cli {

Shape parse_shape(const std::string& text, const char* flag) {
  const std::optional<Shape> shape = strata::parse_shape(text, std::numeric_limits<int64_t>::max());
  STRATA_CHECK(shape.has_value(), flag, ": expected at most ", kMaxDims,
               " positive integers separated by commas, such as 1,1,28,28; got '", text, "'");
  return *shape;
}

}  // namespace strata::cli
