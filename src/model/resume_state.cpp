#include "model/resume_state.hpp"

#include "core/fail.hpp"
#include "io/torch_tensor.hpp"

#include <clipmatch/safetensors.hpp>

#include <cstring>
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

/// The optimiser's state key of a parameter: LibTorch 1.x keys by the TensorImpl address printed as a string
/// (what c10::guts::to_string gives), 2.x by the address itself.
template <typename Key>
Key state_key(const torch::Tensor& param) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;
    out << param.unsafeGetTensorImpl();
    return out.str();
  } else {
    return param.unsafeGetTensorImpl();
  }
}

using StateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

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
      const auto it = states.find(state_key<StateKey>(params[i]));
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
      states[state_key<StateKey>(params[i])] = std::move(s);
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

}  // namespace clipmatch::model
