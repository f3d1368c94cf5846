#include "model/trainer.hpp"

#include "core/autocast.hpp"
#include "core/fail.hpp"
#include "core/precision.hpp"
#include "core/progress.hpp"
#include "core/seeded_init.hpp"
#include "dist/gradient_sync.hpp"
#include "eval/metrics_json.hpp"
#include "eval/splits.hpp"
#include "io/atomic_file.hpp"
#include "train/loss.hpp"
#include "model/encoder_stages.hpp"

#include <clipmatch/log.hpp>
#include <clipmatch/names.hpp>

#include <chrono>
#include <cmath>
#include <exception>
#include <tuple>

#include <unistd.h>

namespace clipmatch {

namespace fs = std::filesystem;

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

namespace model {

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

/// A run refused before it wrote anything (a poster that cannot be decoded, …) leaves no empty folder behind.
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
};

}  // namespace

Trainer::Trainer(Model::Impl& model, const Dataset& data, const TrainOptions& options)
    : m_(model), data_(data), options_(options) {
  validate_train_options(options_);
  // Distributed: this process is one rank of options.distributed; rank 0 alone writes run_dir and evaluates.
  if (options_.distributed.enabled()) group_ = std::make_unique<dist::Group>(options_.distributed);
  writer_ = !group_ || group_->rank() == 0;
}

Trainer::~Trainer() = default;

TrainReport Trainer::run() {
  ProgressScope progress_scope(options_.progress);
  PrecisionScope precision(options_.precision, m_.device.is_cuda());
  const auto start = std::chrono::steady_clock::now();
  const auto n = static_cast<std::int64_t>(data_.movies.size());
  if (n < 2) {
    fail(ErrorKind::InvalidArgument, "train: {} has {} movies; at least 2 are needed",
         (fs::path(data_.root) / "movies.csv").string(), n);
  }
  train_rows_.assign(data_.train.begin(), data_.train.end());
  if (train_rows_.empty()) {
    for (std::int64_t i = 0; i < n; ++i) train_rows_.push_back(i);
  }
  const bool run_dir_existed = !writer_ || fs::exists(options_.run_dir);
  if (writer_) {
    io::create_directories(options_.run_dir, "run folder");
    io::remove_stale_temporaries(options_.run_dir);  // left by a run killed mid-write
  }
  RemoveIfNothingWritten cleanup{options_.run_dir, run_dir_existed};
  for (const auto& movie : data_.movies) {
    posters_.push_back(movie.poster);
    intros_.push_back(movie.intro);
  }
  resume_path_ = resume_file(options_.run_dir);
  log_path_ = fs::path(options_.run_dir) / "epochs.jsonl";

  read_resume_state();
  ensure_vocabulary();
  set_up_freezing();
  const auto initial_state = snapshot_trainable(*m_.net);
  const auto initial_tuned = std::pair{m_.image_tuned, m_.text_tuned};
  const auto initial_trained = std::pair{m_.image_encoder_trained, m_.text_encoder_trained};
  try {
    m_.image_tuned = {image_top_, std::nullopt};
    m_.text_tuned = {text_top_, std::nullopt};
    if (feed_stage(image_top_, m_.net->image_encoder->num_blocks()) == FeedStage::Lower)
      m_.image_tuned.lower_key = image_stage_key(m_, image_top_);
    if (feed_stage(text_top_, m_.net->text_encoder->num_blocks()) == FeedStage::Lower)
      m_.text_tuned.lower_key = text_stage_key(m_, text_top_);
    m_.image_encoder_trained = m_.image_encoder_trained || image_top_ > 0;
    m_.text_encoder_trained = m_.text_encoder_trained || text_top_ > 0;
    if (options_.loss == LossKind::SigLip) {
      m_.net->ensure_logit_bias(-10.0);
      m_.net->logit_bias.set_data(m_.net->logit_bias.data().to(m_.device));
      if (m_.config.temperature == TemperatureInit::Clip) m_.net->set_logit_scale(std::log(10.0));
    }
    build_feeds();
    build_optimizer();
    restore_resumed_progress();
    if (writer_) log_file_.open(log_path_, resumed_ ? std::ios::app : std::ios::trunc);
    set_training_modes();
    run_steps_.emplace("train", static_cast<std::size_t>(total_steps_ - step_), /*enabled=*/false);

    for (int epoch = first_epoch_; epoch <= options_.epochs && !finished_; ++epoch) {
      const auto epoch_start = std::chrono::steady_clock::now();
      EpochLog log;
      log.epoch = epoch;
      log.train_loss = train_epoch(epoch);
      log.learning_rate = train::learning_rates(*optimizer_).front();
      log.temperature = std::exp(m_.net->logit_scale.item<double>());
      const bool evaluate_now = epoch % std::max(1, options_.eval_every) == 0 || epoch == options_.epochs;
      if (evaluate_now && writer_) {
        const auto [p, t] = embed_all();
        log.splits = eval::evaluate_splits(p, t, data_.train.empty() ? train_rows_
                                                                    : std::vector<std::int64_t>(data_.train.begin(), data_.train.end()));
      }
      log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      finish_epoch(log, evaluate_now);
      report_.history.push_back(log);
      report_.epochs_run = epoch;
      finished_ = options_.early_stopping_patience > 0 && epochs_without_improvement_ >= options_.early_stopping_patience;
      save_resume_state(epoch);
      if (options_.on_epoch) options_.on_epoch(log);
    }

    if (!best_state_.empty()) restore_tensors(*m_.net, best_state_, "training");
    m_.net->eval();
    // No rank leaves (and rank 0 stops hosting the store) while another still reads from it.
    if (group_) group_->barrier();
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report_;
  } catch (...) {
    log_file_.close();
    if (!best_state_.empty()) {
      restore_tensors(*m_.net, best_state_, "training");
    } else {
      restore_tensors(*m_.net, initial_state, "training");
      std::tie(m_.image_tuned, m_.text_tuned) = initial_tuned;
      std::tie(m_.image_encoder_trained, m_.text_encoder_trained) = initial_trained;
    }
    m_.net->eval();
    throw;
  }
}

// An interrupted run continues from its last completed epoch; a fresh run drops any older state.
void Trainer::read_resume_state() {
  if (options_.resume) {
    resumed_ = model::read_resume_state(resume_path_);
    if (!resumed_ && writer_) {
      log_message(LogLevel::Info, fmt::format("resume: no {} yet; starting afresh", resume_path_.string()));
    }
  } else if (writer_) {
    fs::remove(resume_path_);
  }
  // Hashes every poster path and intro: taken once, it serves the resume check, the ranks' agreement and every
  // epoch's resume state.
  fingerprint_ = run_fingerprint(options_, m_.config, data_);
  if (resumed_) require_same_run(resumed_->fingerprint, fingerprint_, resume_path_.string());
  if (group_) {
    // Every rank must run the same collectives: the same options, model and data as rank 0.
    auto mine = fingerprint_;
    mine["use_cache"] = options_.use_cache;
    mine["resume"] = options_.resume;
    const auto first = nlohmann::json::parse(group_->share_from_rank0("options", mine.dump()));
    for (const auto& [key, value] : first.items()) {
      if (!mine.contains(key) || mine.at(key) != value) {
        fail(ErrorKind::InvalidArgument, "distributed training: rank {} has {} = {}, rank 0 has {}; every rank must "
             "train with the same options and data", group_->rank(), key,
             mine.contains(key) ? mine.at(key).dump() : std::string("(none)"), value.dump());
      }
    }
  }
  if (group_) {
    // Every rank must continue from the same epoch: resuming needs run_dir on a filesystem all ranks share.
    const auto mine = std::to_string(resumed_ ? resumed_->epoch : 0);
    const auto first = group_->share_from_rank0("resume-epoch", mine);
    if (first != mine) {
      fail(ErrorKind::InvalidArgument, "resume: rank {} finds {} completed epochs in {}, rank 0 finds {} (is the run "
           "folder on a filesystem every rank shares?)", group_->rank(), mine, resume_path_.string(), first);
    }
  }
}

// tiny_text learns its vocabulary from the training intros (or takes the interrupted run's), then gets its
// encoder and heads.
void Trainer::ensure_vocabulary() {
  if (m_.net->text_encoder) return;
  std::vector<std::string> texts;
  for (auto row : train_rows_) texts.push_back(intros_[static_cast<std::size_t>(row)]);
  const auto max_tokens = static_cast<std::size_t>(std::max<std::int64_t>(0, m_.config.max_text_tokens));
  const std::string stored = resumed_ ? resumed_->tokenizer_model : "";
  if (group_ && stored.empty()) {
    // Rank 0 learns the vocabulary and the other ranks take it, rather than each learning one.
    if (writer_) m_.text = build_text_tower(m_.config.text_encoder, m_.config.seed, max_tokens, "", &texts);
    const auto learned = group_->share_from_rank0("vocabulary", writer_ ? m_.text.tokenizer_model : std::string());
    if (!writer_) m_.text = build_text_tower(m_.config.text_encoder, m_.config.seed, max_tokens, learned, &texts);
  } else {
    m_.text = build_text_tower(m_.config.text_encoder, m_.config.seed, max_tokens, stored, &texts);
  }
  m_.net->set_text_encoder(m_.text.encoder);
  m_.text.encoder->to(m_.device);
  m_.build_heads();
}

// How deep each encoder trains (0 = frozen, its num_blocks() = entirely).
void Trainer::set_up_freezing() {
  auto split_depth = [&](const auto& encoder, int requested) -> std::int64_t {
    switch (options_.freeze) {
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
  image_top_ = split_depth(m_.net->image_encoder, options_.unfreeze_top);
  text_top_ = split_depth(m_.net->text_encoder,
                          options_.unfreeze_top_text < 0 ? options_.unfreeze_top : options_.unfreeze_top_text);
  configure_encoder(m_.net->image_encoder, image_top_);
  configure_encoder(m_.net->text_encoder, text_top_);
}

// Distributed, with a persistent feature cache: each rank encodes its share of the cached stages (every size-th
// poster and intro, from its own position) into a folder of its own, and rank 0 merges the folders into the
// cache. The feeds then find every entry there, and the encoding took 1/size of the time. Stages that are not
// cached (an encoder that trains entirely) are left to the feeds.
void Trainer::fill_cache_in_shares(const std::filesystem::path& dir) {
  const int rank = group_->rank(), size = group_->size();
  // Share folders are named per run (rank 0's process id and clock), so runs sharing a cache folder keep apart.
  const auto run_token = group_->share_from_rank0(
      "share-token", fmt::format("{}-{}", ::getpid(), std::chrono::steady_clock::now().time_since_epoch().count()));
  const auto share_dir = [&](int r) { return dir / fmt::format("share-{}-rank-{}-of-{}", run_token, r, size); };
  // Entries the cache already holds are read from it; only what it lacks is encoded, into this rank's folder.
  StageCache share{dir, options_.verbose && writer_, &cache_stats_};
  share.share_dir = share_dir(rank);
  const auto my_share = [&](const std::vector<std::string>& all) {
    std::vector<std::string> out;
    for (std::size_t i = static_cast<std::size_t>(rank); i < all.size(); i += static_cast<std::size_t>(size)) {
      out.push_back(all[i]);
    }
    return out;
  };
  // The cached depth of each tower and its cache key, as the feeds will ask for them.
  std::optional<cache::ContentKey> image_key, text_key;
  const auto image_stage = feed_stage(image_top_, m_.net->image_encoder->num_blocks());
  if (image_stage != FeedStage::Raw) {
    const auto depth = image_stage == FeedStage::Features ? 0 : image_top_;
    image_key = m_.image_tuned.lower_key ? *m_.image_tuned.lower_key : image_stage_key(m_, depth);
    (void)cached_image_stage(m_, my_share(posters_), depth, share, image_key);
  }
  const auto text_stage = feed_stage(text_top_, m_.net->text_encoder->num_blocks());
  if (text_stage != FeedStage::Raw) {
    const auto depth = text_stage == FeedStage::Features ? 0 : text_top_;
    text_key = m_.text_tuned.lower_key ? *m_.text_tuned.lower_key : text_stage_key(m_, depth);
    (void)cached_text_stage(m_, my_share(intros_), depth, share, text_key);
  }
  group_->arrive_at_rank0("cache-shares");
  if (writer_) {
    for (const auto& key : {image_key, text_key}) {
      if (!key) continue;
      cache::FeatureCache whole(dir, *key);
      for (int r = 0; r < size; ++r) whole.merge_from(cache::FeatureCache(share_dir(r), *key));
      whole.save();
    }
    for (int r = 0; r < size; ++r) {
      std::error_code ec;
      fs::remove_all(share_dir(r), ec);
    }
  }
  group_->share_from_rank0("cache-merged", "1");
}

// Inputs of the trainable part: cached features / cached lower-part outputs / decoded inputs.
void Trainer::build_feeds() {
  const auto dir = training_cache_dir(options_);
  const bool shared_fill = group_ && !dir.empty();
  if (shared_fill) fill_cache_in_shares(dir);
  // After a shared fill the report counts this rank's share; the feeds then only read.
  cache_.emplace(StageCache{dir, options_.verbose && writer_, shared_fill ? nullptr : &cache_stats_});
  image_feed_.emplace(m_, posters_, image_top_, *cache_, m_.image_tuned.lower_key);
  text_feed_.emplace(m_, intros_, text_top_, *cache_, m_.text_tuned.lower_key);
  report_.cache_dir = cache_->dir.string();
  report_.cache_hits = cache_stats_.hits;
  report_.cache_misses = cache_stats_.misses;
  encoders_run_ = image_feed_->stage() != FeedStage::Features || text_feed_->stage() != FeedStage::Features;
  if (options_.loss == LossKind::MultiPositive) genres_ = genre_matrix(data_).to(m_.device);
}

// Heads + temperature at learning_rate, unfrozen encoder weights at encoder_learning_rate; the schedule; the
// batch split.
void Trainer::build_optimizer() {
  std::vector<torch::Tensor> head_params = trainable(*m_.net->image_head);
  for (const auto& p : trainable(*m_.net->text_head)) head_params.push_back(p);
  shared_params_ = {m_.net->logit_scale};
  if (m_.net->logit_bias.defined()) shared_params_.push_back(m_.net->logit_bias);
  std::vector<torch::Tensor> encoder_params = trainable(*m_.net->image_encoder);
  for (const auto& p : trainable(*m_.net->text_encoder)) encoder_params.push_back(p);
  std::vector<train::ParamGroupSpec> groups{{"heads", head_params, options_.learning_rate, options_.weight_decay},
                                            {"temperature", shared_params_, options_.learning_rate, 0.0}};
  if (!encoder_params.empty())
    groups.push_back({"encoders", encoder_params, options_.encoder_learning_rate, options_.weight_decay});
  optimizer_ = train::make_adamw(groups);
  per_row_params_ = head_params;
  per_row_params_.insert(per_row_params_.end(), encoder_params.begin(), encoder_params.end());

  const auto n_train = static_cast<std::int64_t>(train_rows_.size());
  batch_size_ = std::min<std::int64_t>(options_.batch_size, n_train);
  steps_per_epoch_ = std::max<std::int64_t>(1, n_train / batch_size_);
  total_steps_ = steps_per_epoch_ * options_.epochs;
  // Each rank takes a contiguous share of every global batch, in rank order, so the gathered batch is the batch
  // one process would see.
  const std::int64_t ranks = group_ ? group_->size() : 1;
  if (batch_size_ % ranks != 0) {
    fail(ErrorKind::InvalidArgument, "train: the global batch of {} pairs does not split evenly across {} ranks",
         batch_size_, ranks);
  }
  local_batch_ = batch_size_ / ranks;
  if (options_.schedule == Schedule::WarmupCosine) {
    cosine_.emplace(*optimizer_, static_cast<std::int64_t>(std::llround(options_.warmup_fraction * total_steps_)),
                    total_steps_);
  } else if (options_.schedule == Schedule::Plateau) {
    train::ReduceLROnPlateau::Options plateau_options;
    plateau_options.factor = options_.plateau_factor;
    plateau_options.patience = options_.plateau_patience;
    plateau_.emplace(*optimizer_, plateau_options);
  }
  train_index_ = torch::tensor(train_rows_, torch::kInt64);
}

void Trainer::restore_resumed_progress() {
  if (!resumed_) return;
  const auto where = resume_path_.string();
  restore_tensors(*m_.net, resumed_->current, where);
  restore_adamw_state(*optimizer_, resumed_->optimizer, where);
  train::set_learning_rates(*optimizer_, resumed_->learning_rates);
  if (plateau_ && !resumed_->plateau.is_null()) {
    plateau_->restore({resumed_->plateau.at("best").get<double>(), resumed_->plateau.at("bad_epochs").get<std::int64_t>(),
                       resumed_->plateau.at("cooldown_left").get<std::int64_t>(),
                       resumed_->plateau.at("reductions").get<std::int64_t>()});
  }
  best_state_ = resumed_->best;
  best_score_ = resumed_->best_score;
  report_.best_epoch = resumed_->best_epoch;
  report_.best_heldout_r1 = std::max(0.0, best_score_);
  epochs_without_improvement_ = resumed_->epochs_without_improvement;
  step_ = resumed_->step;
  first_epoch_ = resumed_->epoch + 1;
  finished_ = resumed_->finished;
  auto [lines, logs] = completed_epochs(log_path_, resumed_->epoch);
  if (writer_) io::write_bytes_atomically(log_path_, lines.data(), lines.size());
  report_.history = std::move(logs);
  report_.epochs_run = resumed_->epoch;
  if (writer_) {
    log_message(LogLevel::Info, fmt::format("resume: {} epochs of {} done, continuing", resumed_->epoch, options_.epochs));
  }
}

// Encoders read from the cache stay in eval mode whenever the rest trains; their lower layers never run.
void Trainer::set_training_modes() {
  m_.net->train();
  if (image_feed_->stage() == FeedStage::Features) m_.net->image_encoder->eval();
  if (text_feed_->stage() == FeedStage::Features) m_.net->text_encoder->eval();
}

std::pair<torch::Tensor, torch::Tensor> Trainer::embed_all() {
  torch::NoGradGuard no_grad;
  m_.net->eval();
  const bool mixed = options_.mixed_precision && encoders_run_;
  auto out = std::pair{m_.embed_image_features(image_feed_->all_features(m_, mixed)),
                       m_.embed_text_features(text_feed_->all_features(m_, mixed))};
  set_training_modes();
  return out;
}

double Trainer::train_epoch(int epoch) {
  // The shuffle has a generator of its own per epoch: the same order as manual_seed(seed + epoch) gave, with no
  // global state touched, and the same on every rank.
  const auto n_train = train_index_.size(0);
  const auto order = train_index_.index_select(
      0, torch::randperm(n_train, make_generator(options_.seed + static_cast<std::uint64_t>(epoch)), torch::kInt64));
  // Summed on the device: reading each step's loss back would stall the GPU once per step.
  auto loss_sum = torch::zeros({}, torch::TensorOptions(torch::kFloat64).device(m_.device));
  Progress progress(fmt::format("epoch {}/{}", epoch, options_.epochs), static_cast<std::size_t>(steps_per_epoch_),
                    options_.verbose && encoders_run_ && writer_, /*observed=*/false);
  for (std::int64_t s = 0; s < steps_per_epoch_; ++s, ++step_) {
    if (cosine_) cosine_->apply(step_);
    const auto loss = batch_loss(order.slice(0, s * batch_size_, (s + 1) * batch_size_));
    optimizer_->zero_grad();
    loss.backward();
    if (group_) dist::sum_gradients(*group_, per_row_params_, shared_params_);
    if (options_.grad_clip_norm > 0) train::clip_gradients(per_row_params_, options_.grad_clip_norm);
    optimizer_->step();
    {
      torch::NoGradGuard no_grad;
      m_.net->logit_scale.clamp_(0.0, kMaxLogitScale);
    }
    if (group_ && encoders_run_) dist::broadcast_buffers(*group_, *m_.net);
    loss_sum += loss.detach().to(torch::kFloat64);
    progress.advance(1);
    run_steps_->advance(1);
  }
  progress.finish();
  return loss_sum.item<double>() / static_cast<double>(steps_per_epoch_);
}

torch::Tensor Trainer::batch_loss(const torch::Tensor& rows) {
  const std::int64_t rank = group_ ? group_->rank() : 0;
  const auto local_rows = rows.slice(0, rank * local_batch_, (rank + 1) * local_batch_);
  torch::Tensor image_emb, text_emb;
  {
    CudaAutocast autocast(m_.device, options_.mixed_precision && encoders_run_);
    image_emb = m_.embed_image_features(image_feed_->features(m_, local_rows));
    text_emb = m_.embed_text_features(text_feed_->features(m_, local_rows));
  }
  if (group_) {
    image_emb = dist::gather_keeping_local_grad(*group_, image_emb);
    text_emb = dist::gather_keeping_local_grad(*group_, text_emb);
  }
  switch (options_.loss) {
    case LossKind::InfoNce:
      return train::clip_infonce_loss(image_emb, text_emb, m_.net->logit_scale);
    case LossKind::SigLip:
      return train::siglip_loss(image_emb, text_emb, m_.net->logit_scale, m_.net->logit_bias);
    case LossKind::MultiPositive:
      return train::multi_positive_infonce_loss(
          image_emb, text_emb, m_.net->logit_scale,
          train::genre_soft_targets(genres_.index_select(0, rows.to(m_.device)), options_.genre_positive_weight));
  }
  fail(ErrorKind::Internal, "train: unknown loss kind");
}

void Trainer::finish_epoch(EpochLog& log, bool evaluate_now) {
  nlohmann::ordered_json line{{"epoch", log.epoch}, {"train_loss", log.train_loss}, {"lr", log.learning_rate},
                              {"logit_scale", log.temperature}, {"seconds", log.seconds}};
  for (const auto& [name, metrics] : log.splits) line["splits"][name] = eval::split_json(metrics);
  if (writer_) log_file_ << line.dump() << "\n" << std::flush;
  if (!evaluate_now) return;

  double score = writer_ ? selection_score(log.splits) : 0.0;
  // The other ranks take rank 0's score, so that all keep the same best epoch, schedule and stopping.
  if (group_) {
    score = std::stod(group_->share_from_rank0(fmt::format("epoch-{}-score", log.epoch), fmt::format("{:.17g}", score)));
  }
  if (plateau_) plateau_->step(score);
  if (score > best_score_) {
    best_score_ = score;
    report_.best_epoch = log.epoch;
    report_.best_heldout_r1 = score;
    best_state_ = snapshot_trainable(*m_.net);
    epochs_without_improvement_ = 0;
    if (writer_) m_.save((fs::path(options_.run_dir) / "model.safetensors").string());
  } else {
    ++epochs_without_improvement_;
  }
  if (options_.verbose && writer_) {
    const auto& shown = log.splits.count("heldout") ? log.splits.at("heldout") : log.splits.at("train");
    log_message(LogLevel::Info,
                fmt::format("epoch {:>3}  loss {:.4f}  scale {:.1f}  {} R@1 p→i {:.3f} i→p {:.3f}  ({:.1f} s)", log.epoch,
                            log.train_loss, log.temperature, log.splits.count("heldout") ? "held-out" : "train",
                            shown.poster_to_intro.r1, shown.intro_to_poster.r1, log.seconds));
  }
}

void Trainer::save_resume_state(int epoch) {
  if (!writer_) return;
  ResumeState state;
  state.epoch = epoch;
  state.step = step_;
  state.finished = finished_;
  state.best_score = best_score_;
  state.best_epoch = report_.best_epoch;
  state.epochs_without_improvement = epochs_without_improvement_;
  if (plateau_) {
    const auto p = plateau_->state();
    state.plateau = {{"best", p.best}, {"bad_epochs", p.bad_epochs}, {"cooldown_left", p.cooldown_left},
                     {"reductions", p.reductions}};
  }
  state.learning_rates = train::learning_rates(*optimizer_);
  state.fingerprint = fingerprint_;
  state.tokenizer_model = m_.text.tokenizer_model;
  state.current = snapshot_trainable(*m_.net);
  state.best = best_state_;
  state.optimizer = adamw_state(*optimizer_);
  write_resume_state(resume_path_, state);
}

TrainReport train_contrastive(Model::Impl& model, const Dataset& data, const TrainOptions& options) {
  return Trainer(model, data, options).run();
}

}  // namespace model

}  // namespace clipmatch
