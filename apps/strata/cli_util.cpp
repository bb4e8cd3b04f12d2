#include <sstream>

#include "commands.hpp"
#include "strata/error.hpp"

namespace strata::cli {

Shape parse_shape(const std::string& text, const char* flag) {
  Shape shape;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    STRATA_CHECK(used == item.size() && !item.empty() && v > 0, flag, ": expected positive integers separated by commas, got '",
                 text, "'");
    STRATA_CHECK(shape.ndim() < kMaxDims, flag, ": too many dimensions in '", text, "'");
    shape.push_back(v);
  }
  STRATA_CHECK(!shape.empty(), flag, ": expected a shape such as 1,1,28,28");
  return shape;
}

}  // namespace strata::cli
