// clipmatch::Model: construction, encoding and the shared feature pipelines.
#include "model/model_state.hpp"

#include "model/batching.hpp"
#include "model/device_warm_up.hpp"

#include "core/autocast.hpp"
#include "core/precision.hpp"
#include "core/compute_threads.hpp"
#include "core/cpu_block_cache.hpp"
#include "core/progress.hpp"
#include "core/fail.hpp"
#include "core/seeded_init.hpp"
#include "io/image_impl.hpp"

#include <algorithm>

namespace clipmatch::model {

void MatchNetImpl::set_image_encoder(const std::shared_ptr<nn::ImageEncoderImpl>& encoder) {
  image_encoder = register_module("image_encoder", encoder);
}

void MatchNetImpl::set_text_encoder(const std::shared_ptr<nn::TextEncoderImpl>& encoder) {
  text_encoder = register_module("text_encoder", encoder);
}

void MatchNetImpl::set_image_head(ProjectionHead head) { image_head = register_module("image_head", std::move(head)); }

void MatchNetImpl::set_text_head(ProjectionHead head) { text_head = register_module("text_head", std::move(head)); }

void MatchNetImpl::set_logit_scale(double t) {
  if (!logit_scale.defined()) logit_scale = register_parameter("logit_scale", torch::zeros({}));
  torch::NoGradGuard no_grad;
  logit_scale.fill_(t);
}

void MatchNetImpl::ensure_logit_bias(double initial) {
  if (logit_bias.defined()) return;
  logit_bias = register_parameter("logit_bias", torch::full({}, initial));
}

torch::Device resolve_device(Device device) {
  ensure_compute_threads();
  ensure_cpu_block_cache();
  switch (device) {
    case Device::Cpu:
      return torch::kCPU;
    case Device::Cuda:
      if (!torch::cuda::is_available()) fail(ErrorKind::Unsupported, "device cuda requested but no CUDA GPU is usable");
      return torch::Device(torch::kCUDA, 0);
    case Device::Auto:
      break;
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

Matrix to_matrix(const torch::Tensor& tensor) {
  const auto cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (cpu.dim() != 2) fail(ErrorKind::Internal, "expected a 2-D tensor, got {} dimensions", cpu.dim());
  Matrix out(cpu.size(0), cpu.size(1));
  std::copy_n(cpu.data_ptr<float>(), cpu.numel(), out.data());
  return out;
}

torch::Tensor to_tensor(const Matrix& matrix) {
  return torch::from_blob(const_cast<float*>(matrix.data()), {matrix.rows(), matrix.cols()}, torch::kFloat32).clone();
}

}  // namespace clipmatch::model

namespace clipmatch {

using model::MatchNet;
using model::ProjectionHead;

void Model::Impl::require_ready(const char* what) const {
  if (!net->text_encoder || !net->text_head) {
    fail(ErrorKind::InvalidArgument,
         "{}: the intro encoder '{}' has no vocabulary yet; train the model first (or load a trained one)", what,
         config.text_encoder.to_string());
  }
}

// Both heads draw their initial weights from one stream seeded with seed + 1, the image head first. The image
// head exists from the start (posters can be encoded before training); tiny_text's head comes once its
// vocabulary exists, and replays the image head's draws first, so a seed gives the same heads either way.
void Model::Impl::build_heads() {
  const bool identity = config.use_pretrained_projection;
  const auto image_dim = net->image_encoder->feature_dim();
  auto make_image_head = [&] { return ProjectionHead(image_dim, config.embed_dim, config.head, config.mlp_hidden, identity); };
  if (net->text_encoder && identity && image_dim != net->text_encoder->feature_dim()) {
    fail(ErrorKind::InvalidArgument,
         "use_pretrained_projection needs encoders with one shared feature width (image {}, text {})", image_dim,
         net->text_encoder->feature_dim());
  }
  if (!net->image_head) {
    SeededInit init(config.seed + 1);
    net->set_image_head(make_image_head());
    net->image_head->to(device);
  }
  if (net->text_encoder && !net->text_head) {
    SeededInit init(config.seed + 1);
    make_image_head();  // replays the image head's draws
    net->set_text_head(ProjectionHead(net->text_encoder->feature_dim(), config.embed_dim, config.head,
                                      config.mlp_hidden, identity));
    net->text_head->to(device);
  }
}

torch::Tensor Model::Impl::load_pixels(const std::vector<std::string>& paths, io::BatchMemory memory) const {
  return io::preprocess_files(paths, image.preprocess, {}, nullptr, memory);
}

io::BatchMemory Model::Impl::batch_memory() const {
  return device.is_cuda() ? io::BatchMemory::PageLocked : io::BatchMemory::Pageable;
}

text::TokenBatch Model::Impl::tokenize(const std::vector<std::string>& texts) const {
  return text.tokenizer->encode_batch(texts, text.max_tokens, false);
}

torch::Tensor Model::Impl::encode_pixel_batch(const torch::Tensor& pixels, std::int64_t top_k) const {
  const auto on_device = model::host_to_device(pixels, device);
  CudaAutocast autocast(device, current_precision() == Precision::Bf16);
  return net->image_encoder->forward_lower(on_device, top_k);
}

torch::Tensor Model::Impl::encode_image_batch(const std::vector<std::string>& paths, std::int64_t top_k) const {
  return encode_pixel_batch(load_pixels(paths, batch_memory()), top_k);
}

torch::Tensor Model::Impl::encode_token_batch(text::TokenBatch batch, std::int64_t top_k) const {
  const auto max_tokens = static_cast<std::int64_t>(text.max_tokens);
  if (top_k > 0 && max_tokens <= 0) {
    fail(ErrorKind::Unsupported, "top-K caching of the {} intro encoder needs a fixed token limit",
         config.text_encoder.kind);
  }
  if (batch.attention_mask.device().is_cpu()) batch.padded = !batch.attention_mask.all().item<bool>();
  batch.ids = batch.ids.to(device);
  batch.attention_mask = batch.attention_mask.to(device);
  CudaAutocast autocast(device, current_precision() == Precision::Bf16);
  auto stage = net->text_encoder->forward_lower(batch, top_k);
  if (top_k == 0) return stage;
  // Every intro gets the same [max_tokens, D] shape whatever batch it came in: zero past its length (masked
  // out again by the upper part), then padded.
  stage = stage * batch.attention_mask.unsqueeze(-1).to(stage.scalar_type());
  return torch::constant_pad_nd(stage, {0, 0, 0, max_tokens - stage.size(1)});
}

torch::Tensor Model::Impl::image_features(std::size_t n, std::size_t batch_size, const PixelLoader& load) const {
  if (n == 0) return torch::empty({0, net->image_encoder->feature_dim()}, torch::TensorOptions(device));
  model::EvalPass pass(*net->image_encoder);
  Progress progress("encode posters", n, /*enabled=*/false);
  return model::batched(n, batch_size, [&](std::size_t begin, std::size_t end) {
    return encode_pixel_batch(load(begin, end), 0);
  }, &progress);
}

torch::Tensor Model::Impl::image_features(const std::vector<std::string>& paths, std::size_t batch_size) const {
  return image_features(paths.size(), batch_size, [&](std::size_t begin, std::size_t end) {
    return load_pixels({paths.begin() + begin, paths.begin() + end}, batch_memory());
  });
}

torch::Tensor Model::Impl::text_stage(const std::vector<std::string>& texts, std::int64_t top_k,
                                      std::size_t batch_size, bool to_cpu, Progress* progress) const {
  require_ready("encoding intros");
  const auto all = tokenize(texts);
  const auto lengths = all.attention_mask.sum(1);
  // Batches of similar length: each is padded only to its own longest intro, so almost no work is spent on
  // padding (intros range from a few tokens to the limit). Results go back to the callers' order.
  const auto order = std::get<1>(lengths.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  const auto sorted = model::batched(texts.size(), batch_size, [&](std::size_t begin, std::size_t end) {
    const auto rows = order.slice(0, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
    const auto longest = lengths.index_select(0, rows).max().item<std::int64_t>();
    text::TokenBatch batch{all.ids.index_select(0, rows).slice(1, 0, longest),
                           all.attention_mask.index_select(0, rows).slice(1, 0, longest)};
    auto out = encode_token_batch(std::move(batch), top_k);
    return to_cpu ? out.to(torch::kCPU) : out;
  }, progress);
  auto result = torch::empty_like(sorted);
  result.index_copy_(0, order.to(sorted.device()), sorted);
  return result;
}

torch::Tensor Model::Impl::text_features(const std::vector<std::string>& texts, std::size_t batch_size) const {
  require_ready("encoding intros");
  if (texts.empty()) return torch::empty({0, net->text_encoder->feature_dim()}, torch::TensorOptions(device));
  model::EvalPass pass(*net->text_encoder);
  Progress progress("encode intros", texts.size(), /*enabled=*/false);
  return text_stage(texts, 0, batch_size, /*to_cpu=*/false, &progress);
}

torch::Tensor Model::Impl::embed_image_features(const torch::Tensor& features) const {
  return torch::nn::functional::normalize(net->image_head->forward(features.to(torch::kFloat32)),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor Model::Impl::embed_text_features(const torch::Tensor& features) const {
  return torch::nn::functional::normalize(net->text_head->forward(features.to(torch::kFloat32)),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// --- the facade ------------------------------------------------------------------------------------------

namespace {

/// What every public encoding call holds for its duration: the caller's progress observer and precision for
/// this thread, and no autograd.
class EncodeCall {
 public:
  EncodeCall(const EncodeOptions& options, const torch::Device& device)
      : progress_(options.progress), precision_(options.precision, device.is_cuda()) {}

 private:
  ProgressScope progress_;
  PrecisionScope precision_;
  torch::NoGradGuard no_grad_;
};

EncodeOptions with_batch_size(std::size_t batch_size) {
  EncodeOptions options;
  options.batch_size = batch_size;
  return options;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::create(const ModelConfig& config, Device device) {
  if (config.embed_dim <= 0) fail(ErrorKind::InvalidArgument, "embed_dim must be positive, got {}", config.embed_dim);
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->device = model::resolve_device(device);
  const model::DeviceWarmUp warm_up(impl->device);  // while the towers load
  impl->net = MatchNet();
  impl->image = model::build_image_tower(config.image_encoder, config.seed);
  impl->text = model::build_text_tower(config.text_encoder, config.seed,
                                       static_cast<std::size_t>(std::max<std::int64_t>(0, config.max_text_tokens)),
                                       "", nullptr);
  impl->image_encoder_trained = !impl->image.pretrained;
  impl->text_encoder_trained = !impl->text.pretrained;
  impl->net->set_image_encoder(impl->image.encoder);
  if (impl->text.encoder) impl->net->set_text_encoder(impl->text.encoder);
  double t = config.temperature == TemperatureInit::Course ? 1.0 : std::log(1.0 / 0.07);
  if (config.use_pretrained_projection) {
    if (auto scale = model::pretrained_logit_scale(config.text_encoder)) t = *scale;
  }
  impl->net->set_logit_scale(t);
  impl->net->to(impl->device);
  impl->build_heads();
  impl->net->eval();  // at rest in eval mode: const encoding then never switches modes (thread safety)
  return Model(std::move(impl));
}

Model Model::load(const std::string& path, Device device) { return Model(Impl::load(path, device)); }

void Model::save(const std::string& path) const { impl_->save(path); }

const ModelConfig& Model::config() const { return impl_->config; }

std::string Model::device() const { return impl_->device.str(); }

double Model::logit_scale() const { return std::exp(impl_->net->logit_scale.item<double>()); }
double Model::fusion_weight() const { return impl_->fusion_weight; }

Matrix Model::poster_features(const std::vector<std::string>& image_paths, std::size_t batch_size) const {
  return poster_features(image_paths, with_batch_size(batch_size));
}

Matrix Model::poster_features(const std::vector<std::string>& image_paths, const EncodeOptions& options) const {
  EncodeCall call(options, impl_->device);
  return model::to_matrix(impl_->image_features(image_paths, options.batch_size));
}

Matrix Model::intro_features(const std::vector<std::string>& intros, std::size_t batch_size) const {
  return intro_features(intros, with_batch_size(batch_size));
}

Matrix Model::intro_features(const std::vector<std::string>& intros, const EncodeOptions& options) const {
  EncodeCall call(options, impl_->device);
  return model::to_matrix(impl_->text_features(intros, options.batch_size));
}

Embeddings Model::encode_posters(const std::vector<std::string>& image_paths, std::size_t batch_size) const {
  return encode_posters(image_paths, with_batch_size(batch_size));
}

Embeddings Model::encode_posters(const std::vector<std::string>& image_paths, const EncodeOptions& options) const {
  EncodeCall call(options, impl_->device);
  return model::to_matrix(impl_->embed_image_features(impl_->image_features(image_paths, options.batch_size)));
}

Embeddings Model::encode_poster_bytes(const std::vector<EncodedImage>& images, const EncodeOptions& options) const {
  EncodeCall call(options, impl_->device);
  const auto features = impl_->image_features(images.size(), options.batch_size, [&](std::size_t begin, std::size_t end) {
    return io::preprocess_encoded({images.begin() + begin, images.begin() + end}, impl_->image.preprocess, {},
                                  nullptr, impl_->batch_memory());
  });
  return model::to_matrix(impl_->embed_image_features(features));
}

Embeddings Model::encode_poster_pixels(const std::vector<PixelView>& images, const EncodeOptions& options) const {
  EncodeCall call(options, impl_->device);
  const auto features = impl_->image_features(images.size(), options.batch_size, [&](std::size_t begin, std::size_t end) {
    return io::preprocess_pixels({images.begin() + begin, images.begin() + end}, impl_->image.preprocess, {},
                                 nullptr, impl_->batch_memory());
  });
  return model::to_matrix(impl_->embed_image_features(features));
}

Embeddings Model::encode_intros(const std::vector<std::string>& intros, std::size_t batch_size) const {
  return encode_intros(intros, with_batch_size(batch_size));
}

Embeddings Model::encode_intros(const std::vector<std::string>& intros, const EncodeOptions& options) const {
  EncodeCall call(options, impl_->device);
  return model::to_matrix(impl_->embed_text_features(impl_->text_features(intros, options.batch_size)));
}

}  // namespace clipmatch
