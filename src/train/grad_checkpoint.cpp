// Gradient checkpointing as a custom autograd function around one decoder layer: the forward
// runs the layer without a graph and keeps its input; the backward runs it again with a graph
// and back-propagates through that (reentrant, as torch.utils.checkpoint(use_reentrant=True)).
#include "train/grad_checkpoint.h"

#include <optional>
#include <utility>
#include <vector>

#include <torch/custom_class.h>

namespace zili::train {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A generator and the state it had at one moment.
using RngStates = std::vector<std::pair<at::Generator, torch::Tensor>>;

// The generators a layer may draw from (LoRA dropout): the CPU one, and the default one of
// the activations' device when that is another.
RngStates capture_rng(torch::Device device) {
  std::vector<at::Generator> generators{at::detail::getDefaultCPUGenerator()};
  if (!device.is_cpu()) generators.push_back(at::globalContext().defaultGenerator(device));
  RngStates states;
  for (auto& generator : generators) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    states.emplace_back(generator, generator.get_state());
  }
  return states;
}

void restore_rng(const RngStates& states) {
  for (const auto& [generator, state] : states) {
    at::Generator g = generator;
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_state(state);
  }
}

// Puts the generators back where they were when it was made, also when the recompute throws:
// training goes on drawing as if no recompute had happened.
class RngRestorer {
 public:
  explicit RngRestorer(torch::Device device) : states_(capture_rng(device)) {}
  ~RngRestorer() { restore_rng(states_); }
  RngRestorer(const RngRestorer&) = delete;
  RngRestorer& operator=(const RngRestorer&) = delete;

 private:
  RngStates states_;
};

// What the backward needs besides tensors, carried in the autograd context (an IValue can hold
// a C++ object as a registered custom class): the layer, kept alive as long as the graph is,
// and the generators' states before the forward.
struct CheckpointState : torch::CustomClassHolder {
  std::shared_ptr<model::DecoderLayerImpl> layer;
  RngStates rng;
  bool input_needs_grad = false;  // the layer's real input; false for the first layer under LoRA
};
const auto checkpoint_state_class = torch::class_<CheckpointState>("zili", "CheckpointState");

// y [B, T, C] = layer(x [B, T, C]). Forward: no graph inside the layer (Function::apply runs
// it under no-grad); saved: x, cos, sin, mask. Backward: with the saved generator states,
// y' = layer(x') for x' = x detached (requiring grad as x did), then backward(y', dL/dy)
// accumulates .grad into every trainable leaf the layer reaches (LoRA A/B, or the layer's
// weights in full fine-tuning) and into x', whose .grad is dL/dx.
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin,
                               const std::optional<torch::Tensor>& mask,
                               c10::intrusive_ptr<CheckpointState> state) {
    state->rng = capture_rng(x.device());
    model::AttentionInputs in;
    in.cos = cos, in.sin = sin, in.mask = mask.value_or(torch::Tensor());
    torch::Tensor y = state->layer->forward(x, in);
    ctx->save_for_backward({x, cos, sin, in.mask});
    ctx->saved_data["state"] = c10::IValue(std::move(state));
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(grad_outputs.size() == 1, "checkpointed layer backward: expected 1 gradient, got ",
                grad_outputs.size());
    const auto saved = ctx->get_saved_variables();
    const auto state = ctx->saved_data["state"].toCustomClass<CheckpointState>();
    model::AttentionInputs in;
    in.cos = saved[1], in.sin = saved[2], in.mask = saved[3];
    const torch::Tensor x = saved[0].detach().requires_grad_(state->input_needs_grad);
    torch::Tensor y;
    {
      RngRestorer put_back(x.device());
      restore_rng(state->rng);  // the forward's dropout masks
      torch::AutoGradMode grad_mode(true);
      y = state->layer->forward(x, in);
    }
    // Nothing trainable in reach (frozen layer, frozen input): no gradient to give.
    if (y.requires_grad()) torch::autograd::backward({y}, {grad_outputs[0]});
    // One entry per forward argument: x, cos, sin, mask, state.
    return {state->input_needs_grad ? x.grad() : torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
  }
};

class CheckpointRunner : public model::LayerRunner {
 public:
  torch::Tensor run(model::DecoderLayerImpl& layer, const torch::Tensor& x,
                    const model::AttentionInputs& in) override {
    // No graph to save memory on; and with a KV cache the recompute would append twice.
    if (!torch::GradMode::is_enabled() || in.cache) return layer.forward(x, in);
    auto state = c10::make_intrusive<CheckpointState>();
    state->layer = std::static_pointer_cast<model::DecoderLayerImpl>(layer.shared_from_this());
    state->input_needs_grad = x.requires_grad();
    // The function's output must require grad for its backward to run at all. Under LoRA the
    // first layer's input (a lookup in the frozen embedding) does not, so a leaf that does
    // stands in for it (transformers' enable_input_require_grads, for the same reason);
    // its gradient is never made.
    const torch::Tensor input = x.requires_grad() ? x : x.detach().requires_grad_(true);
    const auto mask = in.mask.defined() ? std::optional<torch::Tensor>(in.mask) : std::nullopt;
    return CheckpointedLayer::apply(input, in.cos, in.sin, mask, std::move(state));
  }
};

}  // namespace

void set_grad_checkpointing(model::LlamaModelImpl& model, bool on) {
  model.layer_runner = on ? std::make_shared<CheckpointRunner>() : nullptr;
}

}  // namespace zili::train
