#include "nn/resnet.hpp"

#include "core/fail.hpp"

#include <cstdio>

namespace clipmatch::nn {

namespace {

torch::nn::Conv2d make_conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                            std::int64_t groups = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding((kernel - 1) / 2)
                               .groups(groups)
                               .bias(false));
}

torch::nn::BatchNorm2d make_bn(std::int64_t channels, double eps) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(eps));
}

std::int64_t bottleneck_width(const ResNetConfig& config, std::int64_t planes) {
  return planes * config.width_per_group / 64 * config.groups;
}

}  // namespace

std::int64_t ResNetConfig::feature_dim() const {
  return base_planes * (std::int64_t{1} << (layers.size() - 1)) * expansion();
}

ResNetConfig ResNetConfig::resnet18() {
  ResNetConfig config;
  config.block = ResNetBlock::Basic;
  config.layers = {2, 2, 2, 2};
  return config;
}

ResNetConfig ResNetConfig::resnet50() { return ResNetConfig{}; }

ResNetConfig ResNetConfig::tiny() {
  ResNetConfig config;
  config.block = ResNetBlock::Basic;
  config.layers = {1, 1, 1, 1};
  config.stem_width = 16;
  config.base_planes = 16;
  return config;
}

void ResNetConfig::validate() const {
  if (layers.empty()) fail(ErrorKind::InvalidArgument, "ResNetConfig.layers: at least one stage is needed");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (layers[i] < 1) fail(ErrorKind::InvalidArgument, "ResNetConfig.layers[{}] = {}: must be >= 1", i, layers[i]);
  }
  if (layers.size() > 8) fail(ErrorKind::InvalidArgument, "ResNetConfig.layers: {} stages is too many", layers.size());
  if (stem_width < 1) fail(ErrorKind::InvalidArgument, "ResNetConfig.stem_width = {}: must be >= 1", stem_width);
  if (base_planes < 1) fail(ErrorKind::InvalidArgument, "ResNetConfig.base_planes = {}: must be >= 1", base_planes);
  if (groups < 1) fail(ErrorKind::InvalidArgument, "ResNetConfig.groups = {}: must be >= 1", groups);
  if (width_per_group < 1) {
    fail(ErrorKind::InvalidArgument, "ResNetConfig.width_per_group = {}: must be >= 1", width_per_group);
  }
  if (block == ResNetBlock::Basic && (groups != 1 || width_per_group != 64)) {
    fail(ErrorKind::InvalidArgument, "ResNetConfig: BasicBlock supports only groups=1 and width_per_group=64");
  }
  if (block == ResNetBlock::Bottleneck && base_planes * width_per_group / 64 < 1) {
    fail(ErrorKind::InvalidArgument, "ResNetConfig: base_planes·width_per_group/64 must be >= 1");
  }
  if (num_classes < 0) fail(ErrorKind::InvalidArgument, "ResNetConfig.num_classes = {}: must be >= 0", num_classes);
}

ResNetConfig ResNetConfig::infer(const CheckpointShapes& shapes) {
  ResNetConfig config;
  config.block = shapes.contains("layer1.0.conv3.weight") ? ResNetBlock::Bottleneck : ResNetBlock::Basic;
  // Blocks per stage from the highest "layer{s}.{b}." seen; a block lacking its conv1 is reported by name.
  config.layers.clear();
  for (const auto& [name, shape] : shapes.shapes) {
    int stage = 0, block = 0, consumed = 0;
    if (std::sscanf(name.c_str(), "layer%d.%d.%n", &stage, &block, &consumed) != 2 || consumed == 0) continue;
    if (stage < 1 || stage > 8 || block < 0 || block > 1000) {
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' is outside any plausible ResNet stage", shapes.source, name);
    }
    if (static_cast<int>(config.layers.size()) < stage) config.layers.resize(stage, 0);
    config.layers[stage - 1] = std::max<std::int64_t>(config.layers[stage - 1], block + 1);
  }
  if (config.layers.empty()) shapes.at("layer1.0.conv1.weight");  // reports the missing tensor
  for (std::size_t stage = 0; stage < config.layers.size(); ++stage) {
    if (config.layers[stage] == 0) config.layers[stage] = 1;  // so the check below names layer{s}.0
    for (std::int64_t block = 0; block < config.layers[stage]; ++block) {
      shapes.at(fmt::format("layer{}.{}.conv1.weight", stage + 1, block));
    }
  }
  config.stem_width = shapes.dim("conv1.weight", 4, 0);
  if (config.block == ResNetBlock::Bottleneck) {
    config.base_planes = shapes.dim("layer1.0.conv3.weight", 4, 0) / 4;
    const std::int64_t width = shapes.dim("layer1.0.conv1.weight", 4, 0);
    const std::int64_t per_group = shapes.dim("layer1.0.conv2.weight", 4, 1);
    if (per_group < 1 || width % per_group != 0) {
      fail(ErrorKind::Checkpoint, "{}: tensor 'layer1.0.conv2.weight' has {} input channels per group, which "
           "does not divide the block width {}", shapes.source, per_group, width);
    }
    config.groups = width / per_group;
    config.width_per_group = per_group * 64 / std::max<std::int64_t>(config.base_planes, 1);
  } else {
    config.base_planes = shapes.dim("layer1.0.conv1.weight", 4, 0);
  }
  config.num_classes = shapes.contains("fc.weight") ? shapes.dim("fc.weight", 2, 0) : 0;
  config.validate();
  return config;
}

ResidualBlockImpl::ResidualBlockImpl(const ResNetConfig& config, std::int64_t in_channels, std::int64_t planes,
                                     std::int64_t stride) {
  const std::int64_t out_channels = planes * config.expansion();
  if (config.block == ResNetBlock::Bottleneck) {
    const std::int64_t width = bottleneck_width(config, planes);
    conv1 = register_module("conv1", make_conv(in_channels, width, 1, 1));
    bn1 = register_module("bn1", make_bn(width, config.bn_eps));
    conv2 = register_module("conv2", make_conv(width, width, 3, stride, config.groups));
    bn2 = register_module("bn2", make_bn(width, config.bn_eps));
    conv3 = register_module("conv3", make_conv(width, out_channels, 1, 1));
    bn3 = register_module("bn3", make_bn(out_channels, config.bn_eps));
  } else {
    conv1 = register_module("conv1", make_conv(in_channels, planes, 3, stride));
    bn1 = register_module("bn1", make_bn(planes, config.bn_eps));
    conv2 = register_module("conv2", make_conv(planes, planes, 3, 1));
    bn2 = register_module("bn2", make_bn(planes, config.bn_eps));
  }
  if (stride != 1 || in_channels != out_channels) {
    downsample = register_module(
        "downsample", torch::nn::Sequential(make_conv(in_channels, out_channels, 1, stride),
                                            make_bn(out_channels, config.bn_eps)));
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = torch::relu(bn1(conv1(x)));
  out = bn2(conv2(out));
  if (conv3) out = bn3(conv3(torch::relu(out)));
  torch::Tensor identity = downsample ? downsample->forward(x) : x;
  return torch::relu(out + identity);
}

ResNetImpl::ResNetImpl(const ResNetConfig& config) : config_(config) {
  config_.validate();
  conv1_ = register_module("conv1", make_conv(3, config_.stem_width, 7, 2));
  bn1_ = register_module("bn1", make_bn(config_.stem_width, config_.bn_eps));
  std::int64_t channels = config_.stem_width;
  for (std::size_t stage = 0; stage < config_.layers.size(); ++stage) {
    const std::int64_t planes = config_.base_planes << stage;
    torch::nn::Sequential blocks;
    for (std::int64_t i = 0; i < config_.layers[stage]; ++i) {
      const std::int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      blocks->push_back(ResidualBlock(config_, channels, planes, stride));
      channels = planes * config_.expansion();
    }
    stages_.push_back(register_module(fmt::format("layer{}", stage + 1), blocks));
  }
  if (config_.num_classes > 0) {
    fc_ = register_module("fc", torch::nn::Linear(channels, config_.num_classes));
  }
  // torchvision's initialisation, so a from-scratch network trains like theirs.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    }
  }
}

torch::Tensor ResNetImpl::stem_modules(const torch::Tensor& x) {
  return torch::max_pool2d(torch::relu(bn1_(conv1_(x))), 3, 2, 1);
}

torch::Tensor ResNetImpl::stages_modules(torch::Tensor x, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) x = stages_[static_cast<std::size_t>(i)]->forward(x);
  return x;
}

void ResNetImpl::ensure_fused() {
  std::lock_guard<std::mutex> lock(fused_mutex_);
  if (!fused_cache_.is_current(*this)) build_fused();
}

void ResNetImpl::build_fused() {
  fused_stem_ = fuse_conv_bn(conv1_, bn1_);
  fused_stages_.clear();
  for (auto& stage : stages_) {
    std::vector<FusedBlock> fused_blocks;
    for (const auto& child : stage->children()) {
      auto& block = *child->as<ResidualBlockImpl>();
      FusedBlock fused;
      fused.conv1 = fuse_conv_bn(block.conv1, block.bn1);
      fused.conv2 = fuse_conv_bn(block.conv2, block.bn2);
      if (block.conv3) {
        fused.conv3 = fuse_conv_bn(block.conv3, block.bn3);
        fused.has_conv3 = true;
      }
      if (block.downsample) {
        fused.downsample =
            fuse_conv_bn(torch::nn::Conv2d(std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(block.downsample->ptr(0))),
                         torch::nn::BatchNorm2d(
                             std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(block.downsample->ptr(1))));
        fused.has_downsample = true;
      }
      fused_blocks.push_back(std::move(fused));
    }
    fused_stages_.push_back(std::move(fused_blocks));
  }
  fused_cache_.mark_built(*this);
}

torch::Tensor ResNetImpl::stem_fused(const torch::Tensor& x) {
  ensure_fused();
  return torch::max_pool2d(fused_stem_.run(to_fused_input(x), ConvActivation::Relu), 3, 2, 1);
}

torch::Tensor ResNetImpl::stages_fused(torch::Tensor x, std::int64_t begin, std::int64_t end) {
  ensure_fused();
  x = to_fused_input(x);
  for (std::int64_t i = begin; i < end; ++i) {
    for (const auto& block : fused_stages_[static_cast<std::size_t>(i)]) {
      // The identity becomes the block's output buffer: the fused path's own tensor (to_fused_input).
      const torch::Tensor identity = block.has_downsample ? block.downsample(x) : x;
      torch::Tensor y = block.conv1.run(x, ConvActivation::Relu);
      if (block.has_conv3) {
        y = block.conv2.run(y, ConvActivation::Relu);
        y = block.conv3.run(y, ConvActivation::Relu, identity);
      } else {
        y = block.conv2.run(y, ConvActivation::Relu, identity);
      }
      x = std::move(y);
    }
  }
  return x.to(torch::kFloat32);
}

bool ResNetImpl::use_fused(bool with_stem, std::int64_t begin, std::int64_t end, const torch::Tensor& input) const {
  if (!fast_inference_) return false;
  std::vector<const torch::nn::Module*> parts;
  if (with_stem) parts = {conv1_.get(), bn1_.get()};
  for (std::int64_t i = begin; i < end; ++i) parts.push_back(stages_[static_cast<std::size_t>(i)].get());
  return can_use_fused_path(*this, parts, input);
}

void ResNetImpl::check_pixels(const torch::Tensor& pixel_values) const {
  if (pixel_values.dim() != 4 || pixel_values.size(1) != 3) {
    fail(ErrorKind::InvalidArgument, "ResNet: pixel_values must be [B, 3, H, W], got {}",
         fmt::format("{}", fmt::join(pixel_values.sizes(), "x")));
  }
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& pixel_values) {
  check_pixels(pixel_values);
  if (fast_inference_ && can_use_fused_path(*this)) {
    torch::NoGradGuard no_grad;
    return stages_fused(stem_fused(pixel_values), 0, num_blocks()).mean({2, 3});
  }
  return stages_modules(stem_modules(pixel_values), 0, num_blocks()).mean({2, 3});
}

torch::Tensor ResNetImpl::forward_lower(const torch::Tensor& pixel_values, std::int64_t top_k) {
  check_split(top_k, "ResNet");
  if (top_k == 0) return ImageEncoderImpl::forward_lower(pixel_values, 0);
  check_pixels(pixel_values);
  const std::int64_t end = num_blocks() - top_k;
  // Cached by the caller as a plain tensor, so always NCHW-contiguous whichever path produced it.
  if (use_fused(/*with_stem=*/true, 0, end, pixel_values)) {
    torch::NoGradGuard no_grad;
    return stages_fused(stem_fused(pixel_values), 0, end).contiguous();
  }
  return stages_modules(stem_modules(pixel_values), 0, end).contiguous();
}

torch::Tensor ResNetImpl::forward_upper(const torch::Tensor& lower, std::int64_t top_k) {
  check_split(top_k, "ResNet");
  if (top_k == 0) return lower;
  const std::int64_t begin = num_blocks() - top_k;
  const std::int64_t channels =
      stages_[static_cast<std::size_t>(begin)]->ptr(0)->as<ResidualBlockImpl>()->conv1->options.in_channels();
  if (lower.dim() != 4 || lower.size(1) != channels) {
    fail(ErrorKind::InvalidArgument, "ResNet: forward_upper(top_k = {}) needs feature maps [B, {}, H, W], got {}",
         top_k, channels, fmt::format("{}", fmt::join(lower.sizes(), "x")));
  }
  if (use_fused(/*with_stem=*/false, begin, num_blocks(), lower)) {
    torch::NoGradGuard no_grad;
    return stages_fused(lower, begin, num_blocks()).mean({2, 3});
  }
  return stages_modules(lower, begin, num_blocks()).mean({2, 3});
}

torch::Tensor ResNetImpl::logits(const torch::Tensor& pixel_values) {
  if (!fc_) fail(ErrorKind::InvalidArgument, "ResNet: this network has no fc layer (num_classes = 0)");
  return fc_(forward(pixel_values));
}

void ResNetImpl::set_trainable_top(std::int64_t k) {
  const auto stages = num_blocks();
  const std::int64_t top = std::clamp<std::int64_t>(k, 0, stages);
  for (auto& parameter : conv1_->parameters()) parameter.set_requires_grad(top >= stages);
  for (auto& parameter : bn1_->parameters()) parameter.set_requires_grad(top >= stages);
  for (std::int64_t i = 0; i < stages; ++i) {
    for (auto& parameter : stages_[i]->parameters()) parameter.set_requires_grad(i >= stages - top);
  }
}

}  // namespace clipmatch::nn
