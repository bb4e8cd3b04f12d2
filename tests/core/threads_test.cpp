// set_num_threads / num_threads: the library's thread count, for programs that share a machine.
#include <omp.h>

#include "common/test_util.hpp"
#include "strata/backend.hpp"

using namespace strata;

TEST(Threads, SetAndReadBackTheCount) {
  const int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  EXPECT_EQ(omp_get_max_threads(), 1);
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  test::expect_error([] { set_num_threads(0); }, "set_num_threads: expected 1 to 1024 threads, got 0");
  test::expect_error([] { set_num_threads(100000); }, "got 100000");
  EXPECT_EQ(num_threads(), 3);
  set_num_threads(before);
}
