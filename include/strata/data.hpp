// The data pipeline (torch.utils.data + torchvision's datasets and transforms): in-memory image
// datasets (IDX, CIFAR-10, image folders), transforms from uint8 images to float tensors, and a
// DataLoader with reproducible shuffling and augmentation and background prefetch.
#pragma once
#pragma GCC visibility push(default)

#include "strata/data/dataset.hpp"
#include "strata/data/image.hpp"
#include "strata/data/image_transforms.hpp"
#include "strata/data/loader.hpp"
#include "strata/data/transforms.hpp"

#pragma GCC visibility pop
