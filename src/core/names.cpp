// The one table of user-visible enumeration names (clipmatch/names.hpp).
#include <clipmatch/names.hpp>

namespace clipmatch {

template <>
const std::vector<NamedValue<Device>>& enum_names<Device>() {
  static const std::vector<NamedValue<Device>> names{
      {Device::Auto, "auto", "CUDA when a GPU is usable, else the CPU"},
      {Device::Cpu, "cpu", "the CPU"},
      {Device::Cuda, "cuda", "the first CUDA GPU (an error when none is usable)"}};
  return names;
}

template <>
const std::vector<NamedValue<DistanceKind>>& enum_names<DistanceKind>() {
  static const std::vector<NamedValue<DistanceKind>> names{
      {DistanceKind::OneMinusCosine, "1-cos", "1 - cosine, in [0, 2]"},
      {DistanceKind::NegativeCosine, "-cos", "-cosine, in [-1, 1] (the course's convention)"}};
  return names;
}

template <>
const std::vector<NamedValue<LossKind>>& enum_names<LossKind>() {
  static const std::vector<NamedValue<LossKind>> names{
      {LossKind::InfoNce, "infonce", "symmetric InfoNCE, as CLIP and the course"},
      {LossKind::SigLip, "siglip", "pairwise sigmoid loss with a learnt bias"},
      {LossKind::MultiPositive, "multi-positive", "InfoNCE where movies sharing genres are partial positives"}};
  return names;
}

template <>
const std::vector<NamedValue<FreezeMode>>& enum_names<FreezeMode>() {
  static const std::vector<NamedValue<FreezeMode>> names{
      {FreezeMode::Frozen, "frozen", "encoders fixed, their features cached; only heads and temperature train"},
      {FreezeMode::TopK, "top-k", "the top unfreeze_top blocks of each encoder train; the part below is cached"},
      {FreezeMode::Full, "full", "whole encoders train"}};
  return names;
}

template <>
const std::vector<NamedValue<Schedule>>& enum_names<Schedule>() {
  static const std::vector<NamedValue<Schedule>> names{
      {Schedule::Constant, "constant", "the learning rates stay as given"},
      {Schedule::WarmupCosine, "cosine", "linear warm-up, then cosine decay to zero"},
      {Schedule::Plateau, "plateau", "multiply by plateau_factor when held-out R@1 stalls"}};
  return names;
}

template <>
const std::vector<NamedValue<HeadKind>>& enum_names<HeadKind>() {
  static const std::vector<NamedValue<HeadKind>> names{
      {HeadKind::Linear, "linear", "Linear → embed_dim (the course's head)"},
      {HeadKind::Mlp, "mlp", "Linear → GELU → Linear"}};
  return names;
}

template <>
const std::vector<NamedValue<TemperatureInit>>& enum_names<TemperatureInit>() {
  static const std::vector<NamedValue<TemperatureInit>> names{
      {TemperatureInit::Clip, "clip", "t = log(1/0.07), as CLIP"},
      {TemperatureInit::Course, "course", "t = 1, as the course"}};
  return names;
}

template <>
const std::vector<NamedValue<LogLevel>>& enum_names<LogLevel>() {
  static const std::vector<NamedValue<LogLevel>> names{{LogLevel::Debug, "debug", "details"},
                                                       {LogLevel::Info, "info", "progress and epoch lines"},
                                                       {LogLevel::Warning, "warning", "something was skipped"},
                                                       {LogLevel::Error, "error", "a failure"}};
  return names;
}

template <>
const std::vector<NamedValue<ResizeFilter>>& enum_names<ResizeFilter>() {
  static const std::vector<NamedValue<ResizeFilter>> names{
      {ResizeFilter::Bilinear, "bilinear", "PIL BILINEAR"}, {ResizeFilter::Bicubic, "bicubic", "PIL BICUBIC"}};
  return names;
}

template <>
const std::vector<NamedValue<ResizeMode>>& enum_names<ResizeMode>() {
  static const std::vector<NamedValue<ResizeMode>> names{
      {ResizeMode::Stretch, "stretch", "resize straight to size × size"},
      {ResizeMode::ShorterSideThenCenterCrop, "shorter_side_then_center_crop",
       "shorter side to resize_to, then centre crop"}};
  return names;
}

template <>
const std::vector<NamedValue<EncoderSide>>& enum_names<EncoderSide>() {
  static const std::vector<NamedValue<EncoderSide>> names{{EncoderSide::Poster, "poster", "encodes posters"},
                                                          {EncoderSide::Intro, "intro", "encodes intros"},
                                                          {EncoderSide::Both, "both", "a tower for each side"}};
  return names;
}

template <>
const std::vector<NamedValue<Precision>>& enum_names<Precision>() {
  static const std::vector<NamedValue<Precision>> names{
      {Precision::Fp32, "fp32", "float32 throughout (the parity-tested default)"},
      {Precision::Bf16, "bf16", "bfloat16 encoders (CPUs with AVX512-BF16 or AMX, and CUDA)"},
      {Precision::Int8, "int8", "int8 transformer Linear layers with bf16 attention, int8 MobileNetV2 convolutions (CPU)"}};
  return names;
}

template <>
const std::vector<NamedValue<IndexKind>>& enum_names<IndexKind>() {
  static const std::vector<NamedValue<IndexKind>> names{
      {IndexKind::Flat, "flat", "exact inner-product search over every row"},
      {IndexKind::Hnsw, "hnsw", "HNSW graph search (approximate, the default)"},
      {IndexKind::IvfPq, "ivf-pq", "inverted lists of product-quantised codes (approximate, smallest)"}};
  return names;
}

}  // namespace clipmatch
