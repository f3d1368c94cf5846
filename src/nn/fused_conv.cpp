#include "nn/fused_conv.hpp"

#include "core/precision.hpp"

namespace clipmatch::nn {

FusedConv fuse_conv_bn(const torch::nn::Conv2d& conv, const torch::nn::BatchNorm2d& bn) {
  torch::NoGradGuard no_grad;
  const auto& bn_options = bn->options;
  torch::Tensor weight = conv->weight.detach();
  torch::Tensor conv_bias = conv->bias.defined() ? conv->bias.detach() : torch::zeros({weight.size(0)}, weight.options());
  torch::Tensor scale = torch::ones({weight.size(0)}, weight.options());
  torch::Tensor shift = torch::zeros({weight.size(0)}, weight.options());
  if (bn_options.affine()) {
    scale = bn->weight.detach().clone();
    shift = bn->bias.detach().clone();
  }
  torch::Tensor inv_std = torch::rsqrt(bn->running_var.detach() + bn_options.eps());
  scale = scale * inv_std;
  FusedConv fused;
  fused.weight = (weight * scale.view({-1, 1, 1, 1})).contiguous(at::MemoryFormat::ChannelsLast);
  fused.bias = (shift + (conv_bias - bn->running_mean.detach()) * scale).contiguous();
  fused.weight_bf16 = fused.weight.to(torch::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  fused.bias_bf16 = fused.bias.to(torch::kBFloat16);
  const auto& stride = *conv->options.stride();
  fused.stride.assign(stride.begin(), stride.end());
  // Every convolution in these networks pads "same" for odd kernels; the options' padding is a variant whose
  // type differs between LibTorch versions, so it is recomputed from the kernel instead.
  fused.padding = {(weight.size(2) - 1) / 2, (weight.size(3) - 1) / 2};
  fused.groups = conv->options.groups();
  if (DirectConv::available() && weight.device().is_cpu()) {
    fused.direct = std::make_shared<const DirectConv>(fused.weight, fused.bias, fused.stride, fused.padding, fused.groups);
  }
  return fused;
}

torch::Tensor FusedConv::run(const torch::Tensor& x, ConvActivation activation, const torch::Tensor& residual) const {
  if (direct) {
    if (auto out = (*direct)(x, activation, residual); out.defined()) return out;
  }
  auto out = (*this)(x);
  if (residual.defined()) out.add_(residual);
  if (activation == ConvActivation::Relu) out.relu_();
  if (activation == ConvActivation::Relu6) out.clamp_(0.0, 6.0);
  return out;
}

Int8PathActivation FusedConv::run_int8(const Int8PathActivation& x, ConvActivation activation, bool uint8_output,
                                        const torch::Tensor& residual) const {
  if (direct) {
    const QuantizedTensor input = x.quantized.values.defined() ? x.quantized : quantize_int8(x.real);
    const bool to_uint8 = uint8_output && activation == ConvActivation::Relu6 && !residual.defined();
    const auto output = to_uint8 ? QuantizedOutput::Uint8Relu6 : QuantizedOutput::Float32;
    if (input.values.defined()) {
      if (auto out = direct->quantized(input, activation, output, residual); out.defined()) {
        if (to_uint8) return {{}, {out, kRelu6Uint8Scale}};
        return {out, {}};
      }
    }
  }
  return {run(x.to_float(), activation, residual), {}};
}

torch::Tensor to_fused_input(const torch::Tensor& x) {
  const auto dtype = current_precision() == Precision::Bf16 ? torch::kBFloat16 : torch::kFloat32;
  const auto converted = x.to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
  return converted.is_alias_of(x) ? converted.clone(at::MemoryFormat::ChannelsLast) : converted;
}

bool can_use_fused_path(const torch::nn::Module& module) {
  if (module.is_training()) return false;
  if (!torch::GradMode::is_enabled()) return true;
  for (const auto& parameter : module.parameters()) {
    if (parameter.requires_grad()) return false;
  }
  return true;
}

bool can_use_fused_path(const torch::nn::Module& module, const std::vector<const torch::nn::Module*>& parts,
                        const torch::Tensor& input) {
  if (module.is_training()) return false;
  if (!torch::GradMode::is_enabled()) return true;
  if (input.defined() && input.requires_grad()) return false;
  for (const torch::nn::Module* part : parts) {
    for (const auto& parameter : part->parameters()) {
      if (parameter.requires_grad()) return false;
    }
  }
  return true;
}

std::vector<std::pair<const void*, std::uint32_t>> FusedConvCache::signature(const torch::nn::Module& module) {
  std::vector<std::pair<const void*, std::uint32_t>> result;
  for (const auto& tensor : module.parameters()) result.emplace_back(tensor.data_ptr(), tensor._version());
  for (const auto& tensor : module.buffers()) result.emplace_back(tensor.data_ptr(), tensor._version());
  return result;
}

bool FusedConvCache::is_current(const torch::nn::Module& module) const {
  return !signature_.empty() && signature_ == signature(module);
}

void FusedConvCache::mark_built(const torch::nn::Module& module) { signature_ = signature(module); }

}  // namespace clipmatch::nn
