// Modules, layers and initialisers (torch.nn).
#pragma once
#pragma GCC visibility push(default)

#include "strata/nn/init.hpp"
#include "strata/nn/layers.hpp"
#include "strata/nn/module.hpp"
#include "strata/nn/summary.hpp"
#include "strata/nn/weights.hpp"

#pragma GCC visibility pop
