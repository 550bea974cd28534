// AdamW over the trainable tensors (fp32, with their fp32 moments), and its state saved to
// and restored from a safetensors file exactly, so a resumed run takes the same steps.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace zili::train {

struct AdamWSettings {
  double lr = 2e-4;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // transformers' defaults
};

// Two groups: `decayed` gets the weight decay, `not_decayed` none (biases and norm weights,
// as transformers excludes them). Either may be empty.
std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& decayed,
                                                const std::vector<torch::Tensor>& not_decayed,
                                                const AdamWSettings& settings);

// Sets the learning rate of every group.
void set_learning_rate(torch::optim::AdamW& optimizer, double lr);

// Every parameter's step count and moments, in group order ("state.N.exp_avg",
// "state.N.exp_avg_sq", "state.N.step"), written atomically. Parameters without state yet
// (no step taken) are left out.
void save_adamw_state(torch::optim::AdamW& optimizer, const std::string& path);

// Restores what save_adamw_state wrote, bit for bit; zili::Error naming the file when it
// holds another number of parameters or other shapes (a checkpoint of another run).
void load_adamw_state(torch::optim::AdamW& optimizer, const std::string& path);

}  // namespace zili::train
