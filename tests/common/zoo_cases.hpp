// The zoo models with the input each test that runs every model uses (the backends' agreement,
// compiled against eager): the smallest input each architecture takes at reasonable cost, with
// batch statistics over at least 4 values per channel (batch norm over 2 values is
// ill-conditioned: x_hat = +-1).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "strata/shape.hpp"

namespace strata::test {

struct ZooCase {
  const char* model;
  Shape input;
  bool quick = true;  // seconds on the reference kernels: also run there, and under the sanitizers
};
inline void PrintTo(const ZooCase& c, std::ostream* os) { *os << c.model; }

inline std::vector<ZooCase> zoo_case_list() {
  return {ZooCase{"lenet", {8, 1, 28, 28}},           ZooCase{"lenet-bn", {8, 1, 28, 28}},
          ZooCase{"lenet-gluon", {8, 1, 28, 28}},     ZooCase{"lenet-bn-gluon", {8, 1, 28, 28}},
          ZooCase{"alexnet", {2, 1, 224, 224}, false}, ZooCase{"vgg11-small", {2, 1, 224, 224}, false},
          ZooCase{"nin", {2, 1, 96, 96}},             ZooCase{"googlenet", {2, 1, 96, 96}, false},
          ZooCase{"resnet18", {2, 1, 64, 64}},        ZooCase{"resnet3d18", {4, 1, 8, 32, 32}, false}};
}
inline auto zoo_cases() { return ::testing::ValuesIn(zoo_case_list()); }

// Test names: the model's name with '-' as '_'.
inline std::string zoo_case_name(const ::testing::TestParamInfo<ZooCase>& info) {
  std::string name = info.param.model;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace strata::test
