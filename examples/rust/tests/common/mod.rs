//! Helpers shared by the integration tests (each tests/*.rs file is its own crate and uses a part of them).
#![allow(dead_code)]

use clipmatch::{Freeze, Model, ModelParams, TrainParams};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const MOVIES: usize = 48;
pub const SEED: u64 = 5;
pub const DIM: usize = 32;

/// A fresh folder under the system temp folder, removed (with its contents) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("clipmatch-rust-test-{}-{}-{}", std::process::id(), n, tag));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp folder");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Writes the synthetic dataset (MOVIES movies, SEED) into `dir`/data and returns that folder.
pub fn dataset(dir: &TempDir) -> PathBuf {
    let data = dir.join("data");
    clipmatch::synthesize_dataset(&data, MOVIES, SEED).expect("synthesize_dataset");
    data
}

pub fn model_params() -> ModelParams {
    ModelParams::new().embed_dim(DIM as i64).device(clipmatch::Device::Cpu).seed(3)
}

pub fn train_params(run_dir: &Path) -> TrainParams {
    TrainParams::new(run_dir)
        .epochs(2)
        .batch_size(16)
        .freeze(Freeze::Full)
        .learning_rate(2e-3)
        .encoder_learning_rate(2e-3)
        .seed(11)
}

/// A CPU model (embed_dim 32, tiny_cnn + tiny_text) trained 2 epochs on the dataset in `data`.
pub fn trained_model(data: &Path, run_dir: &Path) -> (Model, clipmatch::Metrics) {
    let mut model = Model::new(&model_params()).expect("Model::new");
    let metrics = model.train(data, &train_params(run_dir), None).expect("train");
    (model, metrics)
}

/// Minimal RFC 4180 reader: rows of fields (quoted fields may hold commas, newlines and "").
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut any = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                any = true;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' => {}
            '\n' => {
                if any || !field.is_empty() {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                any = false;
            }
            _ => {
                field.push(c);
                any = true;
            }
        }
    }
    if any || !field.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// (poster paths, intros) of a dataset folder, in row order.
pub fn read_movies(data: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let text = fs::read_to_string(data.join("movies.csv")).expect("read movies.csv");
    let rows = parse_csv(&text);
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {} column", name));
    let (p, i) = (col("poster"), col("intro"));
    let mut posters = Vec::new();
    let mut intros = Vec::new();
    for row in &rows[1..] {
        let path = PathBuf::from(&row[p]);
        posters.push(if path.is_absolute() { path } else { data.join(path) });
        intros.push(row[i].clone());
    }
    (posters, intros)
}

pub fn assert_normalised(e: &clipmatch::Embeddings) {
    assert_eq!(e.data.len(), e.rows * e.dim);
    for (r, row) in e.iter_rows().enumerate() {
        let norm = row.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "row {} has L2 norm {}", r, norm);
        assert!(row.iter().all(|x| x.is_finite()), "row {} has a non-finite value", r);
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
