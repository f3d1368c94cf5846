#include "model/resume_state.hpp"

#include "core/fail.hpp"
#include "io/torch_tensor.hpp"
#include "cache/content_hash.hpp"
#include "eval/metrics_json.hpp"
#include "model/model_config_json.hpp"
#include "train/adamw.hpp"

#include <clipmatch/names.hpp>

#include <clipmatch/safetensors.hpp>

#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>

namespace clipmatch::model {

namespace {

constexpr const char* kFormat = "clipmatch-resume-v1";
constexpr const char* kCurrent = "current.";
constexpr const char* kBest = "best.";
constexpr const char* kOptimizer = "adamw.";
constexpr const char* kTokenizer = "tokenizer_model";

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

std::filesystem::path resume_file(const std::string& run_dir) {
  return std::filesystem::path(run_dir) / "resume.safetensors";
}

void write_resume_state(const std::filesystem::path& path, const ResumeState& state) {
  std::vector<io::OwnedTensor> owned;
  for (const auto& [prefix, tensors] :
       {std::pair{kCurrent, &state.current}, std::pair{kBest, &state.best}, std::pair{kOptimizer, &state.optimizer}}) {
    for (const auto& [name, tensor] : *tensors) owned.push_back(io::from_torch(prefix + name, tensor.detach().cpu()));
  }
  if (!state.tokenizer_model.empty()) {
    auto bytes = torch::empty({static_cast<std::int64_t>(state.tokenizer_model.size())}, torch::kUInt8);
    std::memcpy(bytes.data_ptr(), state.tokenizer_model.data(), state.tokenizer_model.size());
    owned.push_back(io::from_torch(kTokenizer, bytes));
  }
  const nlohmann::json meta{{"epoch", state.epoch},
                            {"step", state.step},
                            {"finished", state.finished},
                            {"best_score", state.best_score},
                            {"best_epoch", state.best_epoch},
                            {"epochs_without_improvement", state.epochs_without_improvement},
                            {"plateau", state.plateau},
                            {"learning_rates", state.learning_rates},
                            {"fingerprint", state.fingerprint}};
  std::vector<TensorView> views;
  for (const auto& tensor : owned) views.push_back(tensor.view);
  write_safetensors(path.string(), views, {{"format", kFormat}, {"clipmatch.resume", meta.dump()}});
}

std::optional<ResumeState> read_resume_state(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  try {
    const auto file = SafetensorsFile::open(path.string());
    const auto& meta = file.metadata();
    const auto format = meta.find("format");
    const auto body = meta.find("clipmatch.resume");
    if (format == meta.end() || format->second != kFormat || body == meta.end())
      fail(ErrorKind::Checkpoint, "not a {} file", kFormat);
    const auto json = nlohmann::json::parse(body->second);
    ResumeState state;
    state.epoch = json.at("epoch").get<int>();
    state.step = json.at("step").get<std::int64_t>();
    state.finished = json.at("finished").get<bool>();
    state.best_score = json.at("best_score").get<double>();
    state.best_epoch = json.at("best_epoch").get<int>();
    state.epochs_without_improvement = json.at("epochs_without_improvement").get<int>();
    state.plateau = json.at("plateau");
    state.learning_rates = json.at("learning_rates").get<std::vector<double>>();
    state.fingerprint = json.at("fingerprint");
    for (const auto& name : file.names()) {
      const auto& view = file.tensor(name);
      if (name == kTokenizer) {
        state.tokenizer_model.assign(static_cast<const char*>(view.data), view.nbytes);
        continue;
      }
      auto tensor = io::to_torch(view, io::kKeepDType);
      if (starts_with(name, kCurrent)) state.current[name.substr(std::strlen(kCurrent))] = tensor;
      else if (starts_with(name, kBest)) state.best[name.substr(std::strlen(kBest))] = tensor;
      else if (starts_with(name, kOptimizer)) state.optimizer[name.substr(std::strlen(kOptimizer))] = tensor;
      else fail(ErrorKind::Checkpoint, "unexpected tensor '{}'", name);
    }
    return state;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Checkpoint, "{}: damaged resume state: {}", path.string(), e.what());
  } catch (const Error& e) {
    fail(ErrorKind::Checkpoint, "{}: damaged resume state: {}", path.string(), e.what());
  }
}

TensorMap adamw_state(torch::optim::AdamW& optimizer) {
  TensorMap out;
  auto& states = optimizer.state();
  const auto& groups = optimizer.param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto it = states.find(train::optimizer_state_key(params[i]));
      if (it == states.end()) continue;
      const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      const auto prefix = fmt::format("g{}.p{}.", g, i);
      out[prefix + "step"] = torch::tensor({static_cast<std::int64_t>(s.step())}, torch::kInt64);
      out[prefix + "exp_avg"] = s.exp_avg().detach().clone();
      out[prefix + "exp_avg_sq"] = s.exp_avg_sq().detach().clone();
    }
  }
  return out;
}

void restore_adamw_state(torch::optim::AdamW& optimizer, const TensorMap& state, const std::string& where) {
  auto& states = optimizer.state();
  states.clear();
  const auto& groups = optimizer.param_groups();
  std::size_t restored = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto prefix = fmt::format("g{}.p{}.", g, i);
      const auto step = state.find(prefix + "step");
      if (step == state.end()) continue;
      const auto& avg = state.at(prefix + "exp_avg");
      const auto& avg_sq = state.at(prefix + "exp_avg_sq");
      if (!avg.sizes().equals(params[i].sizes()) || !avg_sq.sizes().equals(params[i].sizes()))
        fail(ErrorKind::Checkpoint, "{}: optimiser state {} does not fit its parameter", where, prefix);
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->step(step->second.item<std::int64_t>());
      s->exp_avg(avg.to(params[i].device()).clone());
      s->exp_avg_sq(avg_sq.to(params[i].device()).clone());
      states[train::optimizer_state_key(params[i])] = std::move(s);
      ++restored;
    }
  }
  if (restored * 3 != state.size())
    fail(ErrorKind::Checkpoint, "{}: the optimiser state has {} tensors for {} parameters", where, state.size(), restored);
}

void restore_tensors(torch::nn::Module& module, const TensorMap& state, const std::string& where) {
  TensorMap targets;
  for (const auto& item : module.named_parameters(true)) targets.emplace(item.key(), item.value());
  for (const auto& item : module.named_buffers(true)) targets.emplace(item.key(), item.value());
  torch::NoGradGuard no_grad;
  for (const auto& [name, value] : state) {
    const auto it = targets.find(name);
    if (it == targets.end()) fail(ErrorKind::Checkpoint, "{}: tensor '{}' has no place in this model", where, name);
    if (!it->second.sizes().equals(value.sizes()))
      fail(ErrorKind::Checkpoint, "{}: tensor '{}' has another shape than the model's", where, name);
    it->second.copy_(value);
  }
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
          {"data", {{"movies", data.movies.size()}, {"content", cache::hash_text(content).hex()}}}};
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

/// The epochs.jsonl lines of epochs 1..last (a line of an epoch after the resume state is dropped: that epoch
/// runs again) and their logs.
std::pair<std::string, std::vector<EpochLog>> completed_epochs(const std::filesystem::path& path, int last) {
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

}  // namespace clipmatch::model
