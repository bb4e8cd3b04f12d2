// Strata: convolutional neural networks in C++. Include this one header.
#pragma once

#include "strata/autograd.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/gradcheck.hpp"
#include "strata/ops.hpp"
#include "strata/random.hpp"
#include "strata/shape.hpp"
#include "strata/storage.hpp"
#include "strata/tensor.hpp"
