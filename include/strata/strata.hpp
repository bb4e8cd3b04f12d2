// Strata: convolutional neural networks in C++. Include this one header.
#pragma once
#pragma GCC visibility push(default)

#include "strata/autograd.hpp"
#include "strata/backend.hpp"
#include "strata/data.hpp"
#include "strata/dist.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/gradcheck.hpp"
#include "strata/io.hpp"
#include "strata/models.hpp"
#include "strata/nn.hpp"
#include "strata/ops.hpp"
#include "strata/onnx.hpp"
#include "strata/optim.hpp"
#include "strata/random.hpp"
#include "strata/shape.hpp"
#include "strata/storage.hpp"
#include "strata/tensor.hpp"
#include "strata/train.hpp"

#pragma GCC visibility pop
