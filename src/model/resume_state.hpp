// What an interrupted train() needs to continue exactly as if it had not stopped, kept in <run>/resume.safetensors
// and rewritten atomically after every epoch: the tensors training changes (trainable parameters and buffers),
// the best epoch's copy of them, AdamW's moments and step counts, the plateau controller, the counters of
// early stopping, and tiny_text's vocabulary. Nothing random needs saving: each epoch's shuffle comes from a
// generator seeded with seed + epoch. A fingerprint of the options, the model configuration and the data refuses
// a resume that would not reproduce the run.
#pragma once

#include <clipmatch/model.hpp>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace clipmatch::model {

using TensorMap = std::map<std::string, torch::Tensor>;

struct ResumeState {
  int epoch = 0;               ///< epochs completed
  std::int64_t step = 0;       ///< optimiser steps taken
  bool finished = false;       ///< early stopping ended the run
  double best_score = -1;
  int best_epoch = 0;
  int epochs_without_improvement = 0;
  nlohmann::json plateau;      ///< ReduceLROnPlateau state; null without one
  std::vector<double> learning_rates;
  nlohmann::json fingerprint;  ///< what must be equal to resume (options, model, data)
  std::string tokenizer_model; ///< tiny_text's sentencepiece model bytes; empty for other encoders
  TensorMap current;           ///< the trainable tensors and buffers now
  TensorMap best;              ///< the same at the best epoch (empty before any evaluation)
  TensorMap optimizer;         ///< adamw_state()
};

/// <run>/resume.safetensors.
std::filesystem::path resume_file(const std::string& run_dir);

/// Writes the state atomically: a reader (or a resume after SIGKILL) sees the previous state or this one.
void write_resume_state(const std::filesystem::path& path, const ResumeState& state);

/// The state in `path`; nullopt when there is none. Throws clipmatch::Error (Checkpoint) naming the file when
/// it is damaged or of another format.
std::optional<ResumeState> read_resume_state(const std::filesystem::path& path);

/// AdamW's per-parameter state as tensors "g<group>.p<index>.{step,exp_avg,exp_avg_sq}" (parameters without a
/// state yet are left out).
TensorMap adamw_state(torch::optim::AdamW& optimizer);
/// Puts that state back into an optimiser built over the same parameter groups; throws clipmatch::Error
/// (Checkpoint) naming `where` when a tensor does not fit.
void restore_adamw_state(torch::optim::AdamW& optimizer, const TensorMap& state, const std::string& where);

/// Copies `state` into the tensors of `module` with the same names (all of `state` must exist in `module`).
void restore_tensors(torch::nn::Module& module, const TensorMap& state, const std::string& where);

/// What must be equal for a resumed run to reproduce the interrupted one: every option that shapes training,
/// the model configuration and the data (rows, split, poster paths and intros).
nlohmann::json run_fingerprint(const TrainOptions& options, const ModelConfig& config, const Dataset& data);

/// Refuses a resume whose run differs from the interrupted one, naming the first field that differs.
void require_same_run(const nlohmann::json& stored, const nlohmann::json& now, const std::string& file);

/// The epochs.jsonl lines of epochs 1..last (a line of an epoch after the resume state is dropped: that epoch
/// runs again) and their logs.
std::pair<std::string, std::vector<EpochLog>> completed_epochs(const std::filesystem::path& path, int last);

}  // namespace clipmatch::model
