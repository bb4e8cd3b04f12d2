// Training, evaluation and prediction for the model zoo (what `strata train|eval|predict` run).
#pragma once
#pragma GCC visibility push(default)

#include "strata/train/config.hpp"
#include "strata/train/data.hpp"
#include "strata/train/evaluate.hpp"
#include "strata/train/model_file.hpp"
#include "strata/train/predict.hpp"
#include "strata/train/report.hpp"
#include "strata/train/trainer.hpp"

#pragma GCC visibility pop
