// Builders of each zoo architecture (MODELS.md); the registry in zoo.cpp names them.
#pragma once

#include "strata/models.hpp"

namespace strata::models {

std::shared_ptr<nn::Module> build_lenet(const ModelOptions& o);
std::shared_ptr<nn::Module> build_lenet_bn(const ModelOptions& o);
std::shared_ptr<nn::Module> build_lenet_gluon(const ModelOptions& o);
std::shared_ptr<nn::Module> build_lenet_bn_gluon(const ModelOptions& o);
std::shared_ptr<nn::Module> build_alexnet(const ModelOptions& o);
// conv_arch: (number of convs, output channels) per block.
std::shared_ptr<nn::Module> build_vgg(const ModelOptions& o, const std::vector<std::pair<int, int64_t>>& conv_arch);
std::shared_ptr<nn::Module> build_nin(const ModelOptions& o);
std::shared_ptr<nn::Module> build_googlenet(const ModelOptions& o);
std::shared_ptr<nn::Module> build_resnet18(const ModelOptions& o, int nd);

}  // namespace strata::models
