// A captioner's CNN encoder as the trainer sees it: found by name, optionally frozen
// (optim.freeze_encoder), and left out of pruning while frozen.
#pragma once

#include <memory>
#include <vector>

#include "engine/nn/module.h"
#include "models/captioner.h"
#include "train/run_config.h"

namespace sparsecap::train {

// The encoder module of `model` (its child called "encoder"), or null when it has none.
std::shared_ptr<nn::Module> encoder_of(const models::Captioner& model);

// `parameters` less the encoder's (all of them when the model has no encoder), in their order.
std::vector<nn::ParameterPtr> without_encoder(std::vector<nn::ParameterPtr> parameters,
                                              const models::Captioner& model);

// Stops gradients at the encoder: its parameters no longer require one, so backward does not
// reach the CNN. Throws when the model has no encoder.
void freeze_encoder(models::Captioner& model);

// The weights the run's pruning method works on: every prunable weight, less the encoder's when
// optim.freeze_encoder (a frozen encoder is neither trained nor pruned: its batch-norm statistics
// belong to its dense weights). The trainer and a trained run's reload attach the method to the
// same list, so a checkpoint's gates and masks match.
std::vector<nn::ParameterPtr> pruned_parameters(const models::Captioner& model, const RunConfig& config);

}  // namespace sparsecap::train
