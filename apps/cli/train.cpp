// clipmatch train: contrastive training on a dataset folder, ending with the evaluation into the run folder.
#include "commands.hpp"

#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>

#include <fmt/format.h>

#include <map>

namespace clipmatch::cli {

namespace {

struct TrainArgs {
  std::string data, run, image_encoder = "tiny_cnn", text_encoder, clip_folder;
  ModelConfig config;
  TrainOptions options;
  Device device = Device::Auto;
  DistanceKind distance = DistanceKind::OneMinusCosine;
  bool skip_bad_rows = false;
  bool no_cache = false;
  bool quiet = false;
  bool zero_shot = false;
  int nproc = 1;
};

}  // namespace

void register_train(CLI::App& app, Action& action) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train poster/intro projection heads (and optionally encoder blocks) on a dataset");
  cmd->add_option("--data", args->data, "Dataset folder (movies.csv, train.txt)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--out", args->run, "Run folder: model.safetensors, epochs.jsonl, evaluation outputs")->required();
  cmd->add_option("--image-encoder", args->image_encoder, "Poster encoder KIND[:PATH] (" + encoder_help(EncoderSide::Poster) + ")")
      ->capture_default_str();
  cmd->add_option("--text-encoder", args->text_encoder,
                  "Intro encoder KIND[:PATH] (" + encoder_help(EncoderSide::Intro) +
                      ") [default: tiny_text, or the CLIP folder when --image-encoder is clip]");
  cmd->add_option("--clip", args->clip_folder, "A CLIPModel folder used for both towers");
  cmd->add_flag("--zero-shot", args->zero_shot,
                "With CLIP towers: use CLIP's own projections and temperature, skip training, only evaluate");
  cmd->add_option("--epochs", args->options.epochs, "Training epochs")->capture_default_str();
  cmd->add_option("--batch-size", args->options.batch_size, "Pairs per step (the contrastive batch)")->capture_default_str();
  cmd->add_option("--lr", args->options.learning_rate, "Learning rate of the heads and temperature")->capture_default_str();
  cmd->add_option("--encoder-lr", args->options.encoder_learning_rate, "Learning rate of unfrozen encoder weights")
      ->capture_default_str();
  cmd->add_option("--weight-decay", args->options.weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_option("--warmup", args->options.warmup_fraction, "Warm-up share of all steps (cosine schedule)")
      ->capture_default_str();
  add_enum_option(*cmd, "--schedule", args->options.schedule, "Learning-rate schedule");
  cmd->add_option("--plateau-factor", args->options.plateau_factor, "ReduceLROnPlateau factor")->capture_default_str();
  cmd->add_option("--plateau-patience", args->options.plateau_patience, "ReduceLROnPlateau patience (epochs)")
      ->capture_default_str();
  cmd->add_option("--grad-clip", args->options.grad_clip_norm, "Clip the global gradient norm (0 = off)")->capture_default_str();
  add_enum_option(*cmd, "--loss", args->options.loss, "Contrastive loss");
  cmd->add_option("--genre-weight", args->options.genre_positive_weight, "multi-positive: weight of a full genre match")
      ->capture_default_str();
  add_enum_option(*cmd, "--freeze", args->options.freeze, "What trains");
  cmd->add_option("--unfreeze-top", args->options.unfreeze_top,
                  "top-k: trainable top blocks/stages of each encoder (the frozen part below is encoded once and cached)")
      ->capture_default_str();
  cmd->add_option("--unfreeze-top-text", args->options.unfreeze_top_text,
                  "top-k: the intro encoder's own depth (-1 = --unfreeze-top; 0 keeps it frozen)")
      ->capture_default_str();
  add_enum_option(*cmd, "--head", args->config.head, "Projection head");
  cmd->add_option("--mlp-hidden", args->config.mlp_hidden, "Hidden width of the MLP head")->capture_default_str();
  cmd->add_option("--embed-dim", args->config.embed_dim, "Width of the shared embedding space")->capture_default_str();
  add_enum_option(*cmd, "--temperature", args->config.temperature, "Initial temperature");
  cmd->add_option("--max-tokens", args->config.max_text_tokens, "Intro token limit (0 = the encoder's default)")
      ->capture_default_str();
  cmd->add_option("--early-stopping", args->options.early_stopping_patience,
                  "Stop after this many epochs without held-out improvement (0 = off)")
      ->capture_default_str();
  add_enum_option(*cmd, "--precision", args->options.precision,
                  "How frozen encoders compute the cached features and how epochs are evaluated");
  add_ocr_options(*cmd, args->options.ocr, /*with_fusion=*/true);
  cmd->add_option("--cache-dir", args->options.cache_dir, "Feature cache folder [default: <run>/../.clipmatch-cache]");
  cmd->add_flag("--no-cache", args->no_cache, "Do not read or write the persistent feature cache");
  cmd->add_flag("--resume", args->options.resume,
                "Continue an interrupted run in --out from its last completed epoch (same options and data)");
  cmd->add_option("--seed", args->options.seed, "Seed of initialisation and shuffling")->capture_default_str();
  cmd->add_flag("--skip-bad-rows", args->skip_bad_rows, "Skip malformed dataset rows (counted) instead of failing");
  cmd->add_flag("--quiet", args->quiet, "No progress output");
  cmd->add_option("--nproc", args->nproc,
                  "Train as N processes on this machine (data-parallel over Gloo; --batch-size stays the global "
                  "batch). Under torchrun / SLURM leave it out: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT "
                  "from the environment make this process one rank")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--dist-timeout", args->options.distributed.timeout_seconds,
                  "Seconds a distributed rank waits for the others in a collective before failing")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_device_option(*cmd, args->device);
  add_distance_option(*cmd, args->distance);

  cmd->callback([args, &action] {
    action = [args] {
      auto& a = *args;
      if (a.nproc > 1) {
        launch_local_ranks(a.nproc);
        return;
      }
      const double timeout = a.options.distributed.timeout_seconds;
      a.options.distributed = DistributedOptions::from_environment();
      a.options.distributed.timeout_seconds = timeout;
      const bool rank0 = a.options.distributed.rank == 0;
      if (!rank0) a.quiet = true;  // rank 0 speaks for the run
      if (!a.clip_folder.empty()) {
        a.image_encoder = "clip:" + a.clip_folder;
        if (a.text_encoder.empty()) a.text_encoder = "clip:" + a.clip_folder;
      }
      if (a.text_encoder.empty()) {
        a.text_encoder = a.image_encoder.rfind("clip:", 0) == 0 ? a.image_encoder : std::string("tiny_text");
      }
      a.config.image_encoder = EncoderSpec::parse(a.image_encoder);
      a.config.text_encoder = EncoderSpec::parse(a.text_encoder);
      a.config.seed = a.options.seed;
      a.config.use_pretrained_projection = a.zero_shot;
      a.options.run_dir = a.run;
      a.options.use_cache = !a.no_cache;
      a.options.verbose = !a.quiet;

      DatasetOptions data_options;
      data_options.skip_bad_rows = a.skip_bad_rows;
      DatasetReport data_report;
      const auto data = load_dataset(a.data, data_options, &data_report);
      if (data_report.rows_skipped > 0) {
        log_message(LogLevel::Warning, fmt::format("skipped {} bad rows of {} ({} train indices dropped)",
                                                   data_report.rows_skipped, data_report.rows_read,
                                                   data_report.train_dropped));
      }
      if (rank0) fmt::print("dataset {}: {} movies, {} train, {} held-out\n", data.root, data.movies.size(), data.train.size(),
                 data.heldout().size());
      auto model = Model::create(a.config, a.device);
      if (rank0) fmt::print("model: posters {} | intros {} | device {}\n", a.config.image_encoder.to_string(),
                 a.config.text_encoder.to_string(), model.device());
      std::string cache_dir;
      if (a.zero_shot) {
        if (!rank0) return;
        model.save(a.run + "/model.safetensors");
      } else {
        const auto report = model.train(data, a.options);
        if (!rank0) return;  // rank 0 reports and evaluates once
        cache_dir = report.cache_dir;
        fmt::print("trained {} epochs in {:.1f} s; best epoch {} (selection score {:.4f}); feature cache {} hits, {} misses\n",
                   report.epochs_run, report.seconds, report.best_epoch, report.best_heldout_r1, report.cache_hits,
                   report.cache_misses);
        if (report.fusion_weight >= 0) {
          fmt::print("text channel: fusion weight {} ({})\n", report.fusion_weight,
                     report.calibration_rows.empty()
                         ? std::string("given")
                         : fmt::format("learned on {} calibration rows held back from the heads",
                                       report.calibration_rows.size()));
        }
      }
      EvalOptions outputs;
      outputs.distance = a.distance;
      // Frozen encoders' features are already in the training cache: evaluation reads them back.
      outputs.cache_dir = cache_dir;
      outputs.verbose = a.options.verbose;
      outputs.precision = a.options.precision;
      outputs.ocr = a.options.ocr;
      outputs.ocr.fusion_weight = -1;  // the weight the model now holds (learned or given)
      const auto evaluation = model.evaluate(data, a.run, outputs);
      print_metrics_table(evaluation);
      print_outputs(a.run);
    };
  });
}

}  // namespace clipmatch::cli
