#include "train/adamw.hpp"

#include "core/fail.hpp"

#include <cmath>
#include <map>
#include <sstream>

namespace clipmatch::train {

namespace {

// A template, so that only the branch of the LibTorch in use is compiled.
template <typename Key>
Key state_key(const torch::Tensor& param) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;  // LibTorch 1.x formats the pointer exactly so
    out << param.unsafeGetTensorImpl();
    return out.str();
  } else {
    return param.unsafeGetTensorImpl();
  }
}

/// Tensors of one group whose states have taken the same number of steps, so they share bias corrections.
struct Bucket {
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
  std::vector<torch::optim::AdamWParamState*> states;
};

}  // namespace

OptimizerStateKey optimizer_state_key(const torch::Tensor& param) { return state_key<OptimizerStateKey>(param); }

torch::Tensor MultiTensorAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (options.amsgrad()) fail(ErrorKind::Unsupported, "AdamW: amsgrad is not supported by the multi-tensor step");
    std::map<std::int64_t, Bucket> buckets;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (p.grad().is_sparse()) fail(ErrorKind::Unsupported, "AdamW: sparse gradients are not supported");
      auto& slot = state()[optimizer_state_key(p)];
      if (!slot) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      Bucket& bucket = buckets[s.step()];
      bucket.params.push_back(p);
      bucket.grads.push_back(p.grad());
      bucket.exp_avgs.push_back(s.exp_avg());
      bucket.exp_avg_sqs.push_back(s.exp_avg_sq());
      bucket.states.push_back(&s);
    }
    const double lr = options.lr(), beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
    for (auto& [steps_before, b] : buckets) {
      // LibTorch's AdamW::step, operation for operation: decoupled weight decay, the moment updates, then
      // p -= lr / (1 - β1^t) · m / (√v / √(1 - β2^t) + ε).
      if (options.weight_decay() != 0) at::_foreach_mul_(b.params, 1 - lr * options.weight_decay());
      const std::int64_t t = steps_before + 1;
      for (auto* s : b.states) s->step(t);
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(t));
      const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(t));
      at::_foreach_mul_(b.exp_avgs, beta1);
      at::_foreach_add_(b.exp_avgs, b.grads, 1 - beta1);
      at::_foreach_mul_(b.exp_avg_sqs, beta2);
      at::_foreach_addcmul_(b.exp_avg_sqs, b.grads, b.grads, 1 - beta2);
      auto denominators = at::_foreach_sqrt(b.exp_avg_sqs);
      at::_foreach_div_(denominators, std::sqrt(bias_correction2));
      at::_foreach_add_(denominators, options.eps());
      at::_foreach_addcdiv_(b.params, b.exp_avgs, denominators, -lr / bias_correction1);
    }
  }
  return loss;
}

}  // namespace clipmatch::train
