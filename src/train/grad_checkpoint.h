// Gradient checkpointing of decoder layers: each layer runs under no-grad in the forward
// (only its input is kept) and again with grad in the backward, trading one more forward
// per layer for the activations it would have held.
#pragma once

#include "model/llama.h"

namespace zili::train {

// Turns checkpointing of every decoder layer of `model` on or off (a model::LayerRunner).
// The recompute sees the same random numbers as the forward (LoRA dropout): the CPU
// generator's state (and that of the activations' device) is saved before each layer and
// restored for the recompute, then put back. Checkpoints only in grad-enabled forwards without
// a KV cache; otherwise each layer runs directly.
void set_grad_checkpointing(model::LlamaModelImpl& model, bool on);

}  // namespace zili::train
