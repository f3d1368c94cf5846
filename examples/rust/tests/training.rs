//! Training, cancelling, saving, loading and evaluating with the real library; each test trains its own model.

mod common;

use clipmatch::{Device, EpochMetrics, EvalParams, Model, Status};
use common::*;

#[test]
fn cancelling_training_keeps_the_model_usable() {
    let dir = TempDir::new("cancel");
    let data = dataset(&dir);
    let (mut model, _) = trained_model(&data, &dir.join("run1"));
    let (posters, intros) = read_movies(&data);
    let before_posters = model.encode_posters(&posters).unwrap();
    let before_intros = model.encode_intros(&intros).unwrap();

    let mut calls = 0usize;
    let mut cancel_at_once = |stage: &str, done: usize, total: usize| {
        calls += 1;
        assert!(!stage.is_empty() && done <= total, "{} {}/{}", stage, done, total);
        false
    };
    let err = model.train(&data, &train_params(&dir.join("run2")), Some(&mut cancel_at_once)).unwrap_err();
    assert_eq!(err.status, Status::Cancelled, "{}", err);
    assert_eq!(calls, 1);
    // Cancelled before any epoch ended: the weights are those from before.
    let after_posters = model.encode_posters(&posters).unwrap();
    let after_intros = model.encode_intros(&intros).unwrap();
    assert_normalised(&after_posters);
    assert_normalised(&after_intros);
    assert!(max_abs_diff(&before_posters.data, &after_posters.data) < 1e-6, "poster weights changed");
    assert!(max_abs_diff(&before_intros.data, &after_intros.data) < 1e-6, "intro weights changed");

    // Cancel during the "train" stage (after some steps): still a clean Err(Cancelled) and a usable model.
    let mut stages = Vec::new();
    let mut cancel_in_training = |stage: &str, done: usize, _total: usize| {
        if !stages.iter().any(|s| s == stage) {
            stages.push(stage.to_string());
        }
        !(stage == "train" && done >= 2)
    };
    let err = model.train(&data, &train_params(&dir.join("run3")), Some(&mut cancel_in_training)).unwrap_err();
    assert_eq!(err.status, Status::Cancelled, "{}", err);
    assert!(stages.iter().any(|s| s == "train"), "stages seen: {:?}", stages);
    assert_normalised(&model.encode_intros(&intros).unwrap());
    assert_normalised(&model.encode_posters(&posters[..5]).unwrap());
}

#[test]
fn progress_and_epoch_callbacks_see_the_training() {
    let dir = TempDir::new("epochs");
    let data = dataset(&dir);
    let mut model = Model::new(&model_params()).unwrap();
    let mut stages: Vec<String> = Vec::new();
    let mut progress = |stage: &str, done: usize, total: usize| {
        assert!(done <= total, "{} {}/{}", stage, done, total);
        if stages.last().map(|s| s.as_str()) != Some(stage) {
            stages.push(stage.to_string());
        }
        true
    };
    let mut epochs: Vec<EpochMetrics> = Vec::new();
    let mut on_epoch = |e: &EpochMetrics| epochs.push(*e);
    let metrics = model
        .train_with_callbacks(&data, &train_params(&dir.join("run")), Some(&mut progress), Some(&mut on_epoch))
        .unwrap();
    assert!(stages.iter().any(|s| s == "train"), "stages: {:?}", stages);
    assert_eq!(epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), vec![1, 2]);
    for e in &epochs {
        assert!(e.train_loss.is_finite() && e.train_loss > 0.0, "{:?}", e);
        assert!(e.learning_rate > 0.0 && e.logit_scale > 0.0 && e.seconds >= 0.0, "{:?}", e);
        if let Some(m) = &e.metrics {
            assert_eq!(m.all.n, MOVIES);
        }
    }
    assert_eq!(metrics.all.n, MOVIES);
    assert!(dir.join("run").is_dir(), "the run folder was not written");
}

#[test]
fn a_panic_in_on_epoch_cancels_training_and_is_resumed() {
    let dir = TempDir::new("epoch-panic");
    let data = dataset(&dir);
    let mut model = Model::new(&model_params()).unwrap();
    let params = train_params(&dir.join("run")).epochs(3);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut on_epoch = |e: &EpochMetrics| {
            if e.epoch == 1 {
                panic!("epoch one is enough");
            }
        };
        model.train_with_callbacks(&data, &params, None, Some(&mut on_epoch))
    }));
    let payload = outcome.expect_err("the panic must come through");
    assert_eq!(payload.downcast_ref::<&str>().copied(), Some("epoch one is enough"));
    // The model kept epoch 1 and encodes.
    let (_, intros) = read_movies(&data);
    assert_normalised(&model.encode_intros(&intros).unwrap());
}

#[test]
fn save_load_and_evaluate() {
    let dir = TempDir::new("save");
    let data = dataset(&dir);
    let (mut model, train_metrics) = trained_model(&data, &dir.join("run"));
    let (posters, intros) = read_movies(&data);
    let p = model.encode_posters(&posters).unwrap();
    let t = model.encode_intros(&intros).unwrap();

    let checkpoint = dir.join("model.safetensors");
    model.save(&checkpoint).unwrap();
    assert!(checkpoint.is_file());
    let loaded = Model::load(&checkpoint, Device::Cpu).unwrap();
    assert_eq!(loaded.embed_dim(), DIM);
    assert!(max_abs_diff(&p.data, &loaded.encode_posters(&posters).unwrap().data) < 1e-6);
    assert!(max_abs_diff(&t.data, &loaded.encode_intros(&intros).unwrap().data) < 1e-6);
    // A run folder loads as its best checkpoint.
    let from_run = Model::load(dir.join("run"), Device::Cpu).unwrap();
    assert_eq!(from_run.embed_dim(), DIM);

    let out = dir.join("eval");
    let mut stages = Vec::new();
    let mut progress = |stage: &str, _: usize, _: usize| {
        if !stages.iter().any(|s| s == stage) {
            stages.push(stage.to_string());
        }
        true
    };
    let metrics = model.evaluate(&data, &EvalParams::new().out_dir(&out), Some(&mut progress)).unwrap();
    assert_eq!(metrics.all.n, MOVIES);
    assert_eq!(metrics.train.n, train_metrics.train.n);
    assert_eq!(metrics.heldout.n, train_metrics.heldout.n);
    for name in ["metrics.json", "distance.npy", "posters.npy", "intros.npy", "heatmap.png", "topk.csv"] {
        assert!(out.join(name).is_file(), "evaluate wrote no {}", name);
    }
    assert!(!stages.is_empty(), "evaluate reported no progress");
    // The loaded copy evaluates alike; files can be switched off.
    let out2 = dir.join("eval2");
    let again = loaded
        .evaluate(&data, &EvalParams::new().out_dir(&out2).write_heatmap_png(false).write_distance_npy(false), None)
        .unwrap();
    assert_eq!(again.all.n, MOVIES);
    assert!((again.all.poster_to_intro.r1 - metrics.all.poster_to_intro.r1).abs() < 1e-9);
    assert!(out2.join("metrics.json").is_file());
    assert!(!out2.join("heatmap.png").exists() && !out2.join("distance.npy").exists());
    // No out_dir: nothing written, metrics only.
    let plain = model.evaluate(&data, &EvalParams::new(), None).unwrap();
    assert_eq!(plain, metrics);
    // A missing dataset is an error naming it.
    let err = model.evaluate(dir.join("nowhere"), &EvalParams::new(), None).unwrap_err();
    assert!(err.message.contains("nowhere"), "{}", err);
}
