// Modules, layers and initialisers (torch.nn).
#pragma once

#include "strata/nn/init.hpp"
#include "strata/nn/layers.hpp"
#include "strata/nn/module.hpp"
#include "strata/nn/summary.hpp"
#include "strata/nn/weights.hpp"
