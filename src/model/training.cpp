// Model::train — the contrastive training loop.
//
// Each tower feeds its head from the stage its split depth selects (model/tower_feed.hpp): cached features
// of a frozen encoder, the cached output of the frozen lower part under top-K unfreezing, or decoded inputs
// when the whole encoder trains. Every epoch is evaluated on train / held-out / all; the best epoch (held-out
// mean R@1, or train when there is no held-out set) is checkpointed and restored at the end.
#include "model/model_config_json.hpp"
#include "model/model_state.hpp"
#include "model/resume_state.hpp"
#include "model/tower_feed.hpp"

#include "core/autocast.hpp"
#include "core/fail.hpp"
#include "core/precision.hpp"
#include "core/progress.hpp"
#include "core/seeded_init.hpp"
#include "dist/process_group.hpp"
#include "eval/metrics_json.hpp"
#include "eval/splits.hpp"
#include "io/atomic_file.hpp"
#include "io/image_impl.hpp"
#include "train/loss.hpp"
#include "train/content_hash.hpp"
#include "train/optim.hpp"

#include <clipmatch/log.hpp>
#include <clipmatch/names.hpp>

#include <chrono>
#include <exception>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>

namespace clipmatch {

namespace {

namespace fs = std::filesystem;

}  // namespace

void model::validate_train_options(const TrainOptions& o) {
  if (o.run_dir.empty()) fail(ErrorKind::InvalidArgument, "train: run_dir is required");
  if (o.epochs <= 0) fail(ErrorKind::InvalidArgument, "train: epochs must be positive, got {}", o.epochs);
  if (o.batch_size < 2) fail(ErrorKind::InvalidArgument, "train: batch_size must be at least 2, got {}", o.batch_size);
  // Finite as well as in range: an infinite rate would only surface epochs later as NaN embeddings.
  auto require = [](bool ok, const char* field, double value, const char* rule) {
    if (!ok) fail(ErrorKind::InvalidArgument, "train: {} must be {}, got {}", field, rule, value);
  };
  require(std::isfinite(o.learning_rate) && o.learning_rate > 0, "learning_rate", o.learning_rate, "finite and positive");
  require(std::isfinite(o.encoder_learning_rate) && o.encoder_learning_rate >= 0, "encoder_learning_rate",
          o.encoder_learning_rate, "finite and >= 0");
  require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "weight_decay", o.weight_decay, "finite and >= 0");
  require(o.warmup_fraction >= 0 && o.warmup_fraction <= 1, "warmup_fraction", o.warmup_fraction, "in [0, 1]");
  require(std::isfinite(o.grad_clip_norm) && o.grad_clip_norm >= 0, "grad_clip_norm", o.grad_clip_norm,
          "finite and >= 0 (0 = off)");
  if (o.freeze == FreezeMode::TopK && o.unfreeze_top <= 0 && o.unfreeze_top_text <= 0) {
    fail(ErrorKind::InvalidArgument, "train: freeze mode top-k needs unfreeze_top > 0 or unfreeze_top_text > 0");
  }
}

namespace {

double selection_score(const SplitMetricsMap& splits) {
  const auto it = splits.count("heldout") ? splits.find("heldout") : splits.find("train");
  if (it == splits.end()) return 0;
  return (it->second.poster_to_intro.r1 + it->second.intro_to_poster.r1) / 2;
}

/// Multi-hot genre matrix [N, G] of the dataset (G = number of distinct genres; 0 columns if none).
torch::Tensor genre_matrix(const Dataset& data) {
  std::map<std::string, std::int64_t> ids;
  for (const auto& movie : data.movies)
    for (const auto& genre : movie.genres) ids.emplace(genre, static_cast<std::int64_t>(ids.size()));
  auto out = torch::zeros({static_cast<std::int64_t>(data.movies.size()), static_cast<std::int64_t>(ids.size())});
  auto acc = out.accessor<float, 2>();
  for (std::size_t i = 0; i < data.movies.size(); ++i)
    for (const auto& genre : data.movies[i].genres) acc[static_cast<std::int64_t>(i)][ids[genre]] = 1.0f;
  return out;
}

std::vector<torch::Tensor> trainable(const torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& p : module.parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

void set_all_trainable(torch::nn::Module& module, bool trainable) {
  for (auto& p : module.parameters()) p.set_requires_grad(trainable);
}

/// The tensors training may change: trainable parameters and every buffer (BatchNorm statistics).
std::map<std::string, torch::Tensor> snapshot_trainable(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : module.named_parameters(true))
    if (item.value().requires_grad()) out[item.key()] = item.value().detach().clone();
  for (const auto& item : module.named_buffers(true)) out[item.key()] = item.value().detach().clone();
  return out;
}

/// What must be equal for a resumed run to reproduce the interrupted one: every option that shapes training,
/// the model configuration and the data (rows, split, poster paths and intros).
nlohmann::json run_fingerprint(const TrainOptions& o, const ModelConfig& config, const Dataset& data) {
  std::string content;
  for (const auto& movie : data.movies) content += movie.poster + '\n' + movie.intro + '\n';
  for (auto row : data.train) content += std::to_string(row) + ',';
  nlohmann::json fingerprint{{"epochs", o.epochs}, {"batch_size", o.batch_size}, {"learning_rate", o.learning_rate},
          {"encoder_learning_rate", o.encoder_learning_rate}, {"weight_decay", o.weight_decay},
          {"warmup_fraction", o.warmup_fraction}, {"schedule", to_name(o.schedule)},
          {"plateau_factor", o.plateau_factor}, {"plateau_patience", o.plateau_patience},
          {"grad_clip_norm", o.grad_clip_norm}, {"loss", to_name(o.loss)},
          {"genre_positive_weight", o.genre_positive_weight}, {"freeze", to_name(o.freeze)},
          {"unfreeze_top", o.unfreeze_top}, {"unfreeze_top_text", o.unfreeze_top_text},
          {"mixed_precision", o.mixed_precision}, {"early_stopping_patience", o.early_stopping_patience},
          {"eval_every", o.eval_every}, {"seed", o.seed}, {"model", model::config_to_json(config)},
          {"data", {{"movies", data.movies.size()}, {"content", train::hash_text(content).hex()}}}};
  // Only when it differs from the default, so that runs interrupted before the option existed still resume.
  if (o.precision != Precision::Fp32) fingerprint["precision"] = to_name(o.precision);
  return fingerprint;
}

/// Refuses a resume whose run differs from the interrupted one, naming the first field that differs.
void require_same_run(const nlohmann::json& stored, const nlohmann::json& now, const std::string& file) {
  for (const auto& [key, value] : now.items()) {
    if (!stored.contains(key) || stored.at(key) != value) {
      fail(ErrorKind::InvalidArgument, "resume: {} belongs to a run with {} = {}, this run has {}", file, key,
           stored.contains(key) ? stored.at(key).dump() : std::string("(none)"), value.dump());
    }
  }
}

/// Sums the gradients of every rank in one collective. Each rank computed the whole global loss, but its
/// per-row parameters (heads, encoders) got gradient only through its own rows: their sum is the gradient of
/// one process. `shared` parameters (the temperature, the SigLIP bias) entered every rank's loss whole, so each
/// rank already holds their full gradient: the sum is divided by the number of ranks.
void reduce_gradients(dist::Group& group, const std::vector<torch::Tensor>& per_row,
                      const std::vector<torch::Tensor>& shared) {
  std::vector<torch::Tensor> grads;
  std::vector<bool> is_shared;
  for (const auto* list : {&per_row, &shared}) {
    for (const auto& p : *list) {
      if (!p.grad().defined()) continue;  // the same on every rank: all run the same graph
      grads.push_back(p.mutable_grad());
      is_shared.push_back(list == &shared);
    }
  }
  if (grads.empty()) return;
  std::vector<torch::Tensor> flat;
  for (const auto& g : grads) flat.push_back(g.reshape({-1}));
  auto buffer = torch::cat(flat).contiguous();
  group.all_reduce_sum(buffer);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const auto n = grads[i].numel();
    auto part = buffer.slice(0, offset, offset + n).view_as(grads[i]);
    if (is_shared[i]) part = part / static_cast<double>(group.size());
    grads[i].copy_(part);
    offset += n;
  }
}

/// Gives every rank rank 0's floating-point buffers (BatchNorm running statistics), as torch DDP's
/// broadcast_buffers does: a training BatchNorm normalises with its own rank's share of the batch, so the ranks'
/// running statistics would drift apart.
void broadcast_buffers(dist::Group& group, torch::nn::Module& net) {
  std::vector<torch::Tensor> buffers;
  for (const auto& buffer : net.buffers(true)) {
    if (buffer.is_floating_point()) buffers.push_back(buffer);
  }
  if (buffers.empty()) return;
  std::vector<torch::Tensor> flat;
  for (const auto& b : buffers) flat.push_back(b.reshape({-1}).to(torch::kFloat32));
  auto buffer = torch::cat(flat).contiguous();
  group.broadcast_from_rank0(buffer);
  std::int64_t offset = 0;
  torch::NoGradGuard no_grad;
  for (auto& b : buffers) {
    b.copy_(buffer.slice(0, offset, offset + b.numel()).view_as(b));
    offset += b.numel();
  }
}

/// The epochs.jsonl lines of epochs 1..last (a line of an epoch after the resume state is dropped: that epoch
/// runs again) and their logs.
std::pair<std::string, std::vector<EpochLog>> completed_epochs(const fs::path& path, int last) {
  std::ifstream in(path);
  std::string kept;
  std::vector<EpochLog> logs;
  for (std::string line; std::getline(in, line);) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.contains("epoch") || json.at("epoch").get<int>() > last) continue;
    EpochLog log;
    log.epoch = json.at("epoch").get<int>();
    log.train_loss = json.at("train_loss").get<double>();
    log.learning_rate = json.at("lr").get<double>();
    log.temperature = json.at("logit_scale").get<double>();
    log.seconds = json.at("seconds").get<double>();
    if (json.contains("splits")) {
      for (const auto& [name, split] : json.at("splits").items()) log.splits[name] = eval::split_from_json(split, path.string());
    }
    kept += line + "\n";
    logs.push_back(std::move(log));
  }
  if (static_cast<int>(logs.size()) != last)
    fail(ErrorKind::Format, "resume: {} holds {} of the {} completed epochs", path.string(), logs.size(), last);
  return {kept, logs};
}

}  // namespace

namespace model {

TrainReport train_contrastive(Model::Impl& m, const Dataset& data, const TrainOptions& options) {
  validate_train_options(options);
  // Distributed: this process is one rank of options.distributed; rank 0 alone writes run_dir and evaluates.
  std::unique_ptr<dist::Group> group;
  if (options.distributed.enabled()) group = std::make_unique<dist::Group>(options.distributed);
  const bool writer = !group || group->rank() == 0;
  ProgressScope progress_scope(options.progress);
  PrecisionScope precision(options.precision, m.device.is_cuda());
  const auto start = std::chrono::steady_clock::now();
  const auto n = static_cast<std::int64_t>(data.movies.size());
  if (n < 2) {
    fail(ErrorKind::InvalidArgument, "train: {} has {} movies; at least 2 are needed",
         (fs::path(data.root) / "movies.csv").string(), n);
  }
  std::vector<std::int64_t> train_rows(data.train.begin(), data.train.end());
  if (train_rows.empty()) {
    for (std::int64_t i = 0; i < n; ++i) train_rows.push_back(i);
  }
  const bool run_dir_existed = !writer || fs::exists(options.run_dir);
  if (writer) {
    io::create_directories(options.run_dir, "run folder");
    io::remove_stale_temporaries(options.run_dir);  // left by a run killed mid-write
  }
  // A run refused before it wrote anything (a poster that cannot be decoded, …) leaves no empty folder behind.
  struct RemoveIfNothingWritten {
    const std::string& dir;
    bool existed;
    int exceptions = std::uncaught_exceptions();
    ~RemoveIfNothingWritten() {
      if (existed || std::uncaught_exceptions() == exceptions) return;
      std::error_code ec;
      const auto log = fs::path(dir) / "epochs.jsonl";
      if (fs::exists(log, ec) && fs::file_size(log, ec) == 0) fs::remove(log, ec);
      if (fs::is_empty(dir, ec)) fs::remove(dir, ec);
    }
  } cleanup{options.run_dir, run_dir_existed};

  std::vector<std::string> posters, intros;
  for (const auto& movie : data.movies) {
    posters.push_back(movie.poster);
    intros.push_back(movie.intro);
  }

  // An interrupted run continues from its last completed epoch; a fresh run drops any older state.
  const auto resume_path = model::resume_file(options.run_dir);
  std::optional<model::ResumeState> resumed;
  if (options.resume) {
    resumed = model::read_resume_state(resume_path);
    if (!resumed) log_message(LogLevel::Info, fmt::format("resume: no {} yet; starting afresh", resume_path.string()));
  } else if (writer) {
    fs::remove(resume_path);
  }
  if (resumed) require_same_run(resumed->fingerprint, run_fingerprint(options, m.config, data), resume_path.string());
  if (group) {
    // Every rank must continue from the same epoch: resuming needs run_dir on a filesystem all ranks share.
    const auto mine = std::to_string(resumed ? resumed->epoch : 0);
    const auto first = group->share_from_rank0("resume-epoch", mine);
    if (first != mine) {
      fail(ErrorKind::InvalidArgument, "resume: rank {} finds {} completed epochs in {}, rank 0 finds {} (is the run "
           "folder on a filesystem every rank shares?)", group->rank(), mine, resume_path.string(), first);
    }
  }

  // tiny_text learns its vocabulary from the training intros (or takes the interrupted run's), then gets its
  // encoder and heads.
  if (!m.net->text_encoder) {
    std::vector<std::string> texts;
    for (auto row : train_rows) texts.push_back(intros[static_cast<std::size_t>(row)]);
    const auto max_tokens = static_cast<std::size_t>(std::max<std::int64_t>(0, m.config.max_text_tokens));
    const std::string stored = resumed ? resumed->tokenizer_model : "";
    if (group && stored.empty()) {
      // Rank 0 learns the vocabulary and the other ranks take it, rather than each learning one.
      if (writer) m.text = model::build_text_tower(m.config.text_encoder, m.config.seed, max_tokens, "", &texts);
      const auto learned = group->share_from_rank0("vocabulary", writer ? m.text.tokenizer_model : std::string());
      if (!writer) m.text = model::build_text_tower(m.config.text_encoder, m.config.seed, max_tokens, learned, &texts);
    } else {
      m.text = model::build_text_tower(m.config.text_encoder, m.config.seed, max_tokens, stored, &texts);
    }
    m.net->set_text_encoder(m.text.encoder);
    m.text.encoder->to(m.device);
    m.build_heads();
  }

  // Freezing: how deep each encoder trains (0 = frozen, its num_blocks() = entirely).
  auto split_depth = [&](const auto& encoder, int requested) -> std::int64_t {
    switch (options.freeze) {
      case FreezeMode::Frozen:
        return 0;
      case FreezeMode::Full:
        return encoder->num_blocks();
      case FreezeMode::TopK:
        break;
    }
    return std::clamp<std::int64_t>(requested, 0, encoder->num_blocks());
  };
  auto configure_encoder = [](auto& encoder, std::int64_t top_k) {
    if (top_k <= 0 || top_k >= encoder->num_blocks()) {
      set_all_trainable(*encoder, top_k > 0);
    } else {
      encoder->set_trainable_top(top_k);
    }
  };
  const auto image_top = split_depth(m.net->image_encoder, options.unfreeze_top);
  const auto text_top = split_depth(m.net->text_encoder,
                                    options.unfreeze_top_text < 0 ? options.unfreeze_top : options.unfreeze_top_text);
  configure_encoder(m.net->image_encoder, image_top);
  configure_encoder(m.net->text_encoder, text_top);
  // Whatever stops training early (a cancel, an error) leaves a usable model: the best epoch reached, else the
  // weights and bookkeeping it started from, and eval mode.
  const auto initial_state = snapshot_trainable(*m.net);
  const auto initial_tuned = std::pair{m.image_tuned, m.text_tuned};
  const auto initial_trained = std::pair{m.image_encoder_trained, m.text_encoder_trained};
  std::map<std::string, torch::Tensor> best_state;
  try {
  m.image_tuned = {image_top, std::nullopt};
  m.text_tuned = {text_top, std::nullopt};
  if (model::feed_stage(image_top, m.net->image_encoder->num_blocks()) == model::FeedStage::Lower)
    m.image_tuned.lower_key = model::image_stage_key(m, image_top);
  if (model::feed_stage(text_top, m.net->text_encoder->num_blocks()) == model::FeedStage::Lower)
    m.text_tuned.lower_key = model::text_stage_key(m, text_top);
  m.image_encoder_trained = m.image_encoder_trained || image_top > 0;
  m.text_encoder_trained = m.text_encoder_trained || text_top > 0;
  if (options.loss == LossKind::SigLip) {
    m.net->ensure_logit_bias(-10.0);
    m.net->logit_bias.set_data(m.net->logit_bias.data().to(m.device));
    if (m.config.temperature == TemperatureInit::Clip) m.net->set_logit_scale(std::log(10.0));
  }

  // Inputs of the trainable part: cached features / cached lower-part outputs / decoded inputs.
  TrainReport report;
  train::CacheStats stats;
  const model::StageCache cache{model::training_cache_dir(options), options.verbose, &stats};
  // Rank 0 fills the feature cache first; the others then read it rather than all encoding the same items.
  std::optional<model::ImageFeed> image_feed_storage;
  std::optional<model::TextFeed> text_feed_storage;
  const auto build_feeds = [&] {
    image_feed_storage.emplace(m, posters, image_top, cache, m.image_tuned.lower_key);
    text_feed_storage.emplace(m, intros, text_top, cache, m.text_tuned.lower_key);
  };
  if (writer) build_feeds();
  if (group) group->share_from_rank0("feeds-ready", "1");
  if (!writer) build_feeds();
  const model::ImageFeed& image_feed = *image_feed_storage;
  const model::TextFeed& text_feed = *text_feed_storage;
  report.cache_dir = cache.dir.string();
  report.cache_hits = stats.hits;
  report.cache_misses = stats.misses;
  const bool encoders_run =
      image_feed.stage() != model::FeedStage::Features || text_feed.stage() != model::FeedStage::Features;
  // Encoders read from the cache stay in eval mode whenever the rest trains; their lower layers never run.
  auto set_training_modes = [&] {
    m.net->train();
    if (image_feed.stage() == model::FeedStage::Features) m.net->image_encoder->eval();
    if (text_feed.stage() == model::FeedStage::Features) m.net->text_encoder->eval();
  };
  const auto genres = options.loss == LossKind::MultiPositive ? genre_matrix(data).to(m.device) : torch::Tensor();

  // Optimiser: heads + temperature at learning_rate, unfrozen encoder weights at encoder_learning_rate.
  std::vector<torch::Tensor> head_params = trainable(*m.net->image_head);
  for (const auto& p : trainable(*m.net->text_head)) head_params.push_back(p);
  std::vector<torch::Tensor> temperature_params{m.net->logit_scale};
  if (m.net->logit_bias.defined()) temperature_params.push_back(m.net->logit_bias);
  std::vector<torch::Tensor> encoder_params = trainable(*m.net->image_encoder);
  for (const auto& p : trainable(*m.net->text_encoder)) encoder_params.push_back(p);
  std::vector<train::ParamGroupSpec> groups{{"heads", head_params, options.learning_rate, options.weight_decay},
                                            {"temperature", temperature_params, options.learning_rate, 0.0}};
  if (!encoder_params.empty())
    groups.push_back({"encoders", encoder_params, options.encoder_learning_rate, options.weight_decay});
  auto optimizer = train::make_adamw(groups);
  std::vector<torch::Tensor> all_params = head_params;
  all_params.insert(all_params.end(), encoder_params.begin(), encoder_params.end());

  const auto n_train = static_cast<std::int64_t>(train_rows.size());
  const auto batch_size = std::min<std::int64_t>(options.batch_size, n_train);
  const std::int64_t steps_per_epoch = std::max<std::int64_t>(1, n_train / batch_size);
  // Each rank takes a contiguous share of every global batch, in rank order, so the gathered batch is the
  // batch one process would see.
  const std::int64_t ranks = group ? group->size() : 1;
  const std::int64_t rank = group ? group->rank() : 0;
  if (batch_size % ranks != 0) {
    fail(ErrorKind::InvalidArgument, "train: the global batch of {} pairs does not split evenly across {} ranks",
         batch_size, ranks);
  }
  const std::int64_t local_batch = batch_size / ranks;
  const std::int64_t total_steps = steps_per_epoch * options.epochs;
  std::optional<train::WarmupCosineSchedule> cosine;
  std::optional<train::ReduceLROnPlateau> plateau;
  if (options.schedule == Schedule::WarmupCosine) {
    cosine.emplace(*optimizer, static_cast<std::int64_t>(std::llround(options.warmup_fraction * total_steps)),
                   total_steps);
  } else if (options.schedule == Schedule::Plateau) {
    train::ReduceLROnPlateau::Options plateau_options;
    plateau_options.factor = options.plateau_factor;
    plateau_options.patience = options.plateau_patience;
    plateau.emplace(*optimizer, plateau_options);
  }

  const auto train_index = torch::tensor(train_rows, torch::kInt64);
  const std::vector<std::int64_t> train_indices(train_rows.begin(), train_rows.end());
  auto embed_all = [&]() {
    torch::NoGradGuard no_grad;
    m.net->eval();
    const bool mixed = options.mixed_precision && encoders_run;
    auto out = std::pair{m.embed_image_features(image_feed.all_features(m, mixed)),
                         m.embed_text_features(text_feed.all_features(m, mixed))};
    set_training_modes();
    return out;
  };

  const auto log_path = fs::path(options.run_dir) / "epochs.jsonl";
  const auto checkpoint = (fs::path(options.run_dir) / "model.safetensors").string();
  auto generator_seed = options.seed;
  double best_score = -1;
  int epochs_without_improvement = 0;
  std::int64_t step = 0;
  int first_epoch = 1;
  bool finished = false;
  if (resumed) {
    const auto where = resume_path.string();
    model::restore_tensors(*m.net, resumed->current, where);
    model::restore_adamw_state(*optimizer, resumed->optimizer, where);
    train::set_learning_rates(*optimizer, resumed->learning_rates);
    if (plateau && !resumed->plateau.is_null()) {
      plateau->restore({resumed->plateau.at("best").get<double>(), resumed->plateau.at("bad_epochs").get<std::int64_t>(),
                        resumed->plateau.at("cooldown_left").get<std::int64_t>(),
                        resumed->plateau.at("reductions").get<std::int64_t>()});
    }
    best_state = resumed->best;
    best_score = resumed->best_score;
    report.best_epoch = resumed->best_epoch;
    report.best_heldout_r1 = std::max(0.0, best_score);
    epochs_without_improvement = resumed->epochs_without_improvement;
    step = resumed->step;
    first_epoch = resumed->epoch + 1;
    finished = resumed->finished;
    auto [lines, logs] = completed_epochs(log_path, resumed->epoch);
    if (writer) io::write_bytes_atomically(log_path, lines.data(), lines.size());
    report.history = std::move(logs);
    report.epochs_run = resumed->epoch;
    log_message(LogLevel::Info, fmt::format("resume: {} epochs of {} done, continuing", resumed->epoch, options.epochs));
  }
  std::ofstream log_file;
  if (writer) log_file.open(log_path, resumed ? std::ios::app : std::ios::trunc);
  set_training_modes();
  Progress steps("train", static_cast<std::size_t>(total_steps - step), /*enabled=*/false);

  for (int epoch = first_epoch; epoch <= options.epochs && !finished; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    // The shuffle has a generator of its own per epoch: the same order as manual_seed(seed + epoch) gave, with
    // no global state touched.
    const auto order = train_index.index_select(
        0, torch::randperm(n_train, make_generator(generator_seed + static_cast<std::uint64_t>(epoch)), torch::kInt64));
    // Summed on the device: reading each step's loss back would stall the GPU once per step.
    auto loss_sum = torch::zeros({}, torch::TensorOptions(torch::kFloat64).device(m.device));
    Progress progress(fmt::format("epoch {}/{}", epoch, options.epochs), static_cast<std::size_t>(steps_per_epoch),
                      options.verbose && encoders_run, /*observed=*/false);
    for (std::int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      if (cosine) cosine->apply(step);
      const auto rows = order.slice(0, s * batch_size, (s + 1) * batch_size);
      const auto rows_device = rows.to(m.device);
      const auto local_rows = rows.slice(0, rank * local_batch, (rank + 1) * local_batch);
      torch::Tensor image_emb, text_emb;
      {
        CudaAutocast autocast(m.device, options.mixed_precision && encoders_run);
        image_emb = m.embed_image_features(image_feed.features(m, local_rows));
        text_emb = m.embed_text_features(text_feed.features(m, local_rows));
      }
      if (group) {
        image_emb = dist::gather_keeping_local_grad(*group, image_emb);
        text_emb = dist::gather_keeping_local_grad(*group, text_emb);
      }
      torch::Tensor loss;
      switch (options.loss) {
        case LossKind::InfoNce:
          loss = train::clip_infonce_loss(image_emb, text_emb, m.net->logit_scale);
          break;
        case LossKind::SigLip:
          loss = train::siglip_loss(image_emb, text_emb, m.net->logit_scale, m.net->logit_bias);
          break;
        case LossKind::MultiPositive:
          loss = train::multi_positive_infonce_loss(
              image_emb, text_emb, m.net->logit_scale,
              train::genre_soft_targets(genres.index_select(0, rows_device), options.genre_positive_weight));
          break;
      }
      optimizer->zero_grad();
      loss.backward();
      if (group) reduce_gradients(*group, all_params, temperature_params);
      if (options.grad_clip_norm > 0) train::clip_gradients(all_params, options.grad_clip_norm);
      optimizer->step();
      {
        torch::NoGradGuard no_grad;
        m.net->logit_scale.clamp_(0.0, model::kMaxLogitScale);
      }
      if (group && encoders_run) broadcast_buffers(*group, *m.net);
      loss_sum += loss.detach().to(torch::kFloat64);
      progress.advance(1);
      steps.advance(1);
    }
    progress.finish();

    EpochLog log;
    log.epoch = epoch;
    log.train_loss = loss_sum.item<double>() / static_cast<double>(steps_per_epoch);
    log.learning_rate = train::learning_rates(*optimizer).front();
    log.temperature = std::exp(m.net->logit_scale.item<double>());
    const bool evaluate_now = epoch % std::max(1, options.eval_every) == 0 || epoch == options.epochs;
    if (evaluate_now && writer) {
      const auto [p, t] = embed_all();
      log.splits = eval::evaluate_splits(p, t, data.train.empty() ? train_indices : std::vector<std::int64_t>(data.train.begin(), data.train.end()));
    }
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();

    nlohmann::ordered_json line{{"epoch", log.epoch}, {"train_loss", log.train_loss}, {"lr", log.learning_rate},
                        {"logit_scale", log.temperature}, {"seconds", log.seconds}};
    for (const auto& [name, metrics] : log.splits) line["splits"][name] = eval::split_json(metrics);
    if (writer) log_file << line.dump() << "\n" << std::flush;

    if (evaluate_now) {
      double score = writer ? selection_score(log.splits) : 0.0;
      // The other ranks take rank 0's score, so that all keep the same best epoch, schedule and stopping.
      if (group) {
        score = std::stod(group->share_from_rank0(fmt::format("epoch-{}-score", epoch), fmt::format("{:.17g}", score)));
      }
      if (plateau) plateau->step(score);
      if (score > best_score) {
        best_score = score;
        report.best_epoch = epoch;
        report.best_heldout_r1 = score;
        best_state = snapshot_trainable(*m.net);
        epochs_without_improvement = 0;
        if (writer) m.save(checkpoint);
      } else {
        ++epochs_without_improvement;
      }
      if (options.verbose && writer) {
        const auto& shown = log.splits.count("heldout") ? log.splits.at("heldout") : log.splits.at("train");
        log_message(LogLevel::Info,
                    fmt::format("epoch {:>3}  loss {:.4f}  scale {:.1f}  {} R@1 p→i {:.3f} i→p {:.3f}  ({:.1f} s)", epoch,
                                log.train_loss, log.temperature, log.splits.count("heldout") ? "held-out" : "train",
                                shown.poster_to_intro.r1, shown.intro_to_poster.r1, log.seconds));
      }
    }
    report.history.push_back(log);
    report.epochs_run = epoch;
    finished = options.early_stopping_patience > 0 && epochs_without_improvement >= options.early_stopping_patience;
    if (writer) {
      model::ResumeState state;
      state.epoch = epoch;
      state.step = step;
      state.finished = finished;
      state.best_score = best_score;
      state.best_epoch = report.best_epoch;
      state.epochs_without_improvement = epochs_without_improvement;
      if (plateau) {
        const auto p = plateau->state();
        state.plateau = {{"best", p.best}, {"bad_epochs", p.bad_epochs}, {"cooldown_left", p.cooldown_left},
                         {"reductions", p.reductions}};
      }
      state.learning_rates = train::learning_rates(*optimizer);
      state.fingerprint = run_fingerprint(options, m.config, data);
      state.tokenizer_model = m.text.tokenizer_model;
      state.current = snapshot_trainable(*m.net);
      state.best = best_state;
      state.optimizer = model::adamw_state(*optimizer);
      model::write_resume_state(resume_path, state);
    }
    if (options.on_epoch) options.on_epoch(log);
  }

  if (!best_state.empty()) model::restore_tensors(*m.net, best_state, "training");
  m.net->eval();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
  } catch (...) {
    if (!best_state.empty()) {
      model::restore_tensors(*m.net, best_state, "training");
    } else {
      model::restore_tensors(*m.net, initial_state, "training");
      std::tie(m.image_tuned, m.text_tuned) = initial_tuned;
      std::tie(m.image_encoder_trained, m.text_encoder_trained) = initial_trained;
    }
    m.net->eval();
    throw;
  }
}

}  // namespace model

}  // namespace clipmatch
