//! The safe wrapper against the real library: one model, trained once (2 epochs on 48 synthetic movies) and
//! shared by the tests of this file; each test that needs files makes its own temporary folder.

mod common;

use clipmatch::{sys, Distance, Embeddings, EncodeParams, Metrics, Model, ModelParams, Status};
use common::*;
use std::fs;
use std::mem::size_of;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

struct Fixture {
    model: Model,
    metrics: Metrics,
    intros: Vec<String>,
    /// Bytes of every poster file, in row order.
    poster_bytes: Vec<Vec<u8>>,
}

static FIXTURE: Mutex<Option<Arc<Fixture>>> = Mutex::new(None);

/// The shared trained model (trained by the first test that asks; the dataset folder is gone afterwards).
fn fixture() -> Arc<Fixture> {
    let mut slot = FIXTURE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = slot.as_ref() {
        return Arc::clone(f);
    }
    let dir = TempDir::new("fixture");
    let data = dataset(&dir);
    let (model, metrics) = trained_model(&data, &dir.join("run"));
    let (posters, intros) = read_movies(&data);
    let poster_bytes = posters.iter().map(|p| fs::read(p).expect("read poster")).collect();
    let f = Arc::new(Fixture { model, metrics, intros, poster_bytes });
    *slot = Some(Arc::clone(&f));
    f
}

/// Writes the fixture's posters into `dir` and returns their paths.
fn poster_files(f: &Fixture, dir: &TempDir) -> Vec<PathBuf> {
    f.poster_bytes
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let path = dir.join(&format!("{:06}.jpg", i));
            fs::write(&path, bytes).expect("write poster");
            path
        })
        .collect()
}

#[test]
fn versions_and_struct_sizes_agree_with_the_library() {
    assert_eq!(clipmatch::abi_version(), sys::CLIPMATCH_ABI_VERSION);
    clipmatch::check_abi().expect("ABI 2");
    let version = clipmatch::version();
    assert_eq!(version.split('.').count(), 3, "version {:?}", version);
    assert!(version.split('.').all(|p| p.parse::<u32>().is_ok()), "version {:?}", version);
    // The library's *_default_params / *_init set struct_size to the size its header declares: it must be the
    // size of the Rust declaration.
    unsafe {
        assert_eq!(sys::clipmatch_model_default_params().struct_size, size_of::<sys::clipmatch_model_params>());
        assert_eq!(sys::clipmatch_encode_default_params().struct_size, size_of::<sys::clipmatch_encode_params>());
        assert_eq!(sys::clipmatch_train_default_params().struct_size, size_of::<sys::clipmatch_train_params>());
        assert_eq!(sys::clipmatch_eval_default_params().struct_size, size_of::<sys::clipmatch_eval_params>());
        assert_eq!(sys::clipmatch_metrics_init().struct_size, size_of::<sys::clipmatch_metrics>());
        let p = sys::clipmatch_model_default_params();
        assert_eq!(p.embed_dim, 128, "header: embed_dim defaults to 128");
        let e = sys::clipmatch_encode_default_params();
        assert_eq!(e.batch_size, 64, "header: batch_size defaults to 64");
        assert!(e.progress.is_none());
    }
}

#[test]
fn model_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Model>();
    assert_send_sync::<clipmatch::Error>();
}

#[test]
fn training_metrics_have_the_dataset_sizes() {
    let f = fixture();
    let m = &f.metrics;
    assert_eq!(m.all.n, MOVIES);
    assert_eq!(m.train.n + m.heldout.n, MOVIES);
    assert_eq!(m.train.n, 29, "train_fraction 0.6 of 48, rounded");
    for split in [&m.all, &m.train, &m.heldout] {
        for d in [&split.poster_to_intro, &split.intro_to_poster] {
            assert!(0.0 <= d.r1 && d.r1 <= d.r5 && d.r5 <= d.r10 && d.r10 <= 1.0, "{:?}", d);
            assert!(d.median_rank >= 1.0 && d.median_rank <= split.n as f64, "{:?}", d);
            assert!(d.mean_rank >= 1.0 && d.mean_rank <= split.n as f64, "{:?}", d);
        }
        assert!((0.0..=1.0).contains(&split.acc_dim0) && (0.0..=1.0).contains(&split.acc_dim1), "{:?}", split);
    }
    assert_eq!(f.model.embed_dim(), DIM);
}

#[test]
fn embeddings_are_l2_normalised() {
    let f = fixture();
    let dir = TempDir::new("norm");
    let paths = poster_files(&f, &dir);
    let posters = f.model.encode_posters(&paths).unwrap();
    assert_eq!((posters.rows, posters.dim), (MOVIES, DIM));
    assert_normalised(&posters);
    let intros = f.model.encode_intros(&f.intros).unwrap();
    assert_eq!((intros.rows, intros.dim), (MOVIES, DIM));
    assert_normalised(&intros);
    // The _ex variants with another batch size give the same rows.
    let batched = f.model.encode_intros_with(&f.intros, &EncodeParams::new().batch_size(7), None).unwrap();
    assert!(max_abs_diff(&batched.data, &intros.data) < 1e-5);
    let empty = f.model.encode_intros::<&str>(&[]).unwrap();
    assert_eq!((empty.rows, empty.dim, empty.data.len()), (0, DIM, 0));
}

#[test]
fn poster_bytes_give_the_same_embeddings_as_poster_files() {
    let f = fixture();
    let dir = TempDir::new("bytes");
    let paths = poster_files(&f, &dir);
    let from_files = f.model.encode_posters(&paths[..10]).unwrap();
    let from_bytes = f.model.encode_poster_bytes(&f.poster_bytes[..10]).unwrap();
    let slices: Vec<&[u8]> = f.poster_bytes[..10].iter().map(|b| b.as_slice()).collect();
    let from_slices = f.model.encode_poster_bytes(&slices).unwrap();
    assert_eq!(from_bytes, from_slices);
    let diff = max_abs_diff(&from_files.data, &from_bytes.data);
    assert!(diff < 1e-6, "file vs bytes differ by {}", diff);
    let with = f.model.encode_poster_bytes_with(&slices, &EncodeParams::new().batch_size(3), None).unwrap();
    assert!(max_abs_diff(&with.data, &from_bytes.data) < 1e-5);
}

/// A 40 × 60 test picture: a gradient with a bright square.
fn picture(width: usize, height: usize) -> Vec<[u8; 3]> {
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let inside = (10..25).contains(&x) && (20..35).contains(&y);
            pixels.push(if inside { [250, 240, 20] } else { [(x * 255 / width) as u8, (y * 255 / height) as u8, 90] });
        }
    }
    pixels
}

#[test]
fn poster_pixels_give_the_same_embedding_as_the_image_file() {
    let f = fixture();
    let dir = TempDir::new("pixels");
    let (w, h) = (40usize, 60usize);
    let pic = picture(w, h);
    // As a binary PPM file (a format the library reads) ...
    let mut ppm = format!("P6\n{} {}\n255\n", w, h).into_bytes();
    pic.iter().for_each(|p| ppm.extend_from_slice(p));
    let path = dir.join("picture.ppm");
    fs::write(&path, &ppm).unwrap();
    let from_file = f.model.encode_posters(&[&path]).unwrap();
    let from_bytes = f.model.encode_poster_bytes(&[&ppm]).unwrap();
    // ... as RGB rows padded to a stride of 3w + 5 bytes ...
    let stride = 3 * w + 5;
    let mut rgb = vec![0xAAu8; stride * h];
    // ... and as RGBA with opaque alpha.
    let mut rgba = Vec::with_capacity(4 * w * h);
    for y in 0..h {
        for x in 0..w {
            rgb[y * stride + 3 * x..y * stride + 3 * x + 3].copy_from_slice(&pic[y * w + x]);
            rgba.extend_from_slice(&pic[y * w + x]);
            rgba.push(255);
        }
    }
    let from_rgb = f.model.encode_poster_pixels(&rgb, w, h, stride, 3).unwrap();
    let from_rgba = f.model.encode_poster_pixels(&rgba, w, h, 4 * w, 4).unwrap();
    assert_eq!((from_rgb.rows, from_rgb.dim), (1, DIM));
    assert_normalised(&from_rgb);
    for (what, e) in [("bytes", &from_bytes), ("rgb", &from_rgb), ("rgba", &from_rgba)] {
        let diff = max_abs_diff(&from_file.data, &e.data);
        assert!(diff < 1e-5, "file vs {} differ by {}", what, diff);
    }
    // The slice must hold every byte the image spans: checked here, before the library could over-read.
    let err = f.model.encode_poster_pixels(&rgb[..stride * (h - 1)], w, h, stride, 3).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    // Channels other than 3 or 4 are the library's INVALID_ARGUMENT.
    let err = f.model.encode_poster_pixels(&rgba, w, h, 4 * w, 2).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{}", err);
}

fn argmin(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, d) in row.iter().enumerate() {
        if *d < row[best] {
            best = j;
        }
    }
    best
}

#[test]
fn top_k_agrees_with_the_distance_matrix() {
    let f = fixture();
    let dir = TempDir::new("topk");
    let paths = poster_files(&f, &dir);
    let posters = f.model.encode_posters(&paths).unwrap();
    let intros = f.model.encode_intros(&f.intros).unwrap();
    for distance in [Distance::OneMinusCosine, Distance::NegativeCosine] {
        let matrix =
            clipmatch::distance_matrix(&posters.data, posters.rows, &intros.data, intros.rows, DIM, distance).unwrap();
        assert_eq!(matrix.len(), MOVIES * MOVIES);
        let k = 5;
        let (indices, distances) =
            clipmatch::top_k(&posters.data, posters.rows, &intros.data, intros.rows, DIM, k, distance).unwrap();
        assert_eq!((indices.len(), distances.len()), (MOVIES * k, MOVIES * k));
        for q in 0..MOVIES {
            let row = &matrix[q * MOVIES..(q + 1) * MOVIES];
            assert_eq!(indices[q * k], argmin(row) as i64, "query {} ({:?})", q, distance);
            for j in 0..k {
                let index = indices[q * k + j] as usize;
                assert!((distances[q * k + j] - row[index]).abs() < 1e-5, "query {} rank {}", q, j);
                if j > 0 {
                    assert!(distances[q * k + j - 1] <= distances[q * k + j], "query {} not sorted", q);
                }
            }
        }
        // The method forms agree with the free functions.
        assert_eq!(posters.distance_matrix(&intros, distance).unwrap(), matrix);
        assert_eq!(posters.top_k(&intros, k, distance).unwrap(), (indices, distances));
    }
    // 1 - cos and -cos differ by exactly 1.
    let a = posters.distance_matrix(&intros, Distance::OneMinusCosine).unwrap();
    let b = posters.distance_matrix(&intros, Distance::NegativeCosine).unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y - 1.0).abs() < 1e-5));
    // k beyond the catalog: index -1 and distance +inf.
    let catalog = Embeddings::new(3, DIM, intros.data[..3 * DIM].to_vec()).unwrap();
    let (indices, distances) = posters.top_k(&catalog, 5, Distance::OneMinusCosine).unwrap();
    for q in 0..MOVIES {
        let mut seen: Vec<i64> = indices[q * 5..q * 5 + 3].to_vec();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!(&indices[q * 5 + 3..q * 5 + 5], &[-1, -1]);
        assert!(distances[q * 5 + 3..q * 5 + 5].iter().all(|d| *d == f32::INFINITY));
    }
}

#[test]
fn top_k_on_hand_made_vectors_breaks_ties_by_index() {
    // Unit vectors in 2-D: the catalog holds two copies of the same vector (a tie) and its opposite.
    let queries = [1.0f32, 0.0, 0.0, 1.0];
    let catalog = [-1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    let (indices, distances) = clipmatch::top_k(&queries, 2, &catalog, 4, 2, 2, Distance::OneMinusCosine).unwrap();
    assert_eq!(indices, vec![2, 1, 1, 3]);
    assert_eq!(distances[0], 0.0);
    assert!((distances[1] - 1.0).abs() < 1e-6);
    assert_eq!(&distances[2..], &[0.0, 0.0]);
}

#[test]
fn wrong_lengths_and_bad_arguments_are_errors() {
    let v = [1.0f32, 0.0, 0.0, 1.0];
    let err = clipmatch::distance_matrix(&v, 3, &v, 2, 2, Distance::OneMinusCosine).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("posters"), "{}", err);
    let err = clipmatch::top_k(&v, 2, &v[..3], 2, 2, 1, Distance::OneMinusCosine).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("catalog"), "{}", err);
    let err = clipmatch::top_k(&v, 2, &v, 2, 2, usize::MAX, Distance::OneMinusCosine).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    // dim = 0 reaches the library, which must refuse it (a row of zero width cannot be L2-normalised).
    let r = clipmatch::distance_matrix(&[], 0, &[], 0, 0, Distance::OneMinusCosine);
    if let Err(e) = r {
        assert_eq!(e.status, Status::InvalidArgument, "{}", e);
    }
}

#[test]
fn bad_encoder_kind_is_invalid_argument_naming_it() {
    let err = Model::new(&model_params().image_encoder("no_such_cnn".into())).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{}", err);
    assert!(err.message.contains("no_such_cnn"), "message does not name the kind: {}", err);
    let shown = err.to_string();
    assert!(shown.contains("invalid argument") && shown.contains("no_such_cnn"), "{}", shown);
    let err = Model::new(&model_params().text_encoder("no_such_text".into())).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{}", err);
    assert!(err.message.contains("no_such_text"), "message does not name the kind: {}", err);
    // A string with an interior NUL is an error made here, not a panic.
    let err = Model::new(&model_params().image_encoder("tiny\0cnn".into())).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("image_encoder"), "{}", err);
    // std::error::Error is implemented.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(boxed.to_string().contains("NUL"));
}

#[test]
fn encode_errors_name_the_culprit() {
    let f = fixture();
    let err = f.model.encode_intros(&["fine", "bad\0intro"]).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("intros[1]"), "{}", err);
    let missing = std::env::temp_dir().join("clipmatch-rust-test-no-such-poster.jpg");
    let err = f.model.encode_posters(&[&missing]).unwrap_err();
    assert!(matches!(err.status, Status::Io | Status::InvalidArgument | Status::Format), "{}", err);
    assert!(err.message.contains("no-such-poster"), "message does not name the file: {}", err);
    let err = f.model.encode_poster_bytes(&[b"not an image".as_ref()]).unwrap_err();
    assert!(matches!(err.status, Status::Format | Status::InvalidArgument), "{}", err);
    assert!(!err.message.is_empty());
    // The model is still fine, and a success clears the thread's last error.
    f.model.encode_intros(&["a red circle"]).unwrap();
    let last = unsafe { std::ffi::CStr::from_ptr(sys::clipmatch_last_error()) };
    assert_eq!(last.to_bytes(), b"");
}

#[test]
fn encode_progress_reports_and_cancels() {
    let f = fixture();
    let mut calls = Vec::new();
    let mut record = |stage: &str, done: usize, total: usize| {
        calls.push((stage.to_string(), done, total));
        true
    };
    let all = f.model.encode_intros_with(&f.intros, &EncodeParams::new().batch_size(8), Some(&mut record)).unwrap();
    assert!(!calls.is_empty(), "no progress reported");
    assert!(calls.iter().all(|(_, done, total)| done <= total), "{:?}", calls);
    let (_, done, total) = calls.last().unwrap();
    assert_eq!(done, total, "{:?}", calls);
    assert_eq!(all, f.model.encode_intros(&f.intros).unwrap());

    let mut seen = 0;
    let mut cancel = |_: &str, _: usize, _: usize| {
        seen += 1;
        false
    };
    let err = f.model.encode_intros_with(&f.intros, &EncodeParams::new().batch_size(8), Some(&mut cancel)).unwrap_err();
    assert_eq!(err.status, Status::Cancelled, "{}", err);
    assert!(err.is_cancelled());
    assert_eq!(seen, 1, "the callback is not called again after it cancelled");
    // Still usable.
    assert_eq!(f.model.encode_intros(&f.intros).unwrap(), all);
}

#[test]
fn a_panic_in_a_progress_closure_is_resumed_after_the_call() {
    let f = fixture();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut boom = |_: &str, _: usize, _: usize| -> bool { panic!("boom from the closure") };
        let _ = f.model.encode_intros_with(&f.intros, &EncodeParams::new().batch_size(8), Some(&mut boom));
    }));
    let payload = outcome.expect_err("the panic must come through");
    let text = payload.downcast_ref::<&str>().copied().unwrap_or("");
    assert_eq!(text, "boom from the closure");
    let intros = f.model.encode_intros(&f.intros[..4]).unwrap();
    assert_normalised(&intros);
}

#[test]
fn one_model_encodes_from_many_threads_alike() {
    let f = fixture();
    let dir = TempDir::new("threads");
    let paths = poster_files(&f, &dir);
    let posters = f.model.encode_posters(&paths).unwrap();
    let intros = f.model.encode_intros(&f.intros).unwrap();
    let model: &Model = &f.model;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (paths, intros_text) = (&paths, &f.intros);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for round in 0..3 {
                        if (t + round) % 2 == 0 {
                            out.push(("posters", model.encode_posters(paths).unwrap()));
                        } else {
                            out.push(("intros", model.encode_intros(intros_text).unwrap()));
                        }
                    }
                    out
                })
            })
            .collect();
        for handle in handles {
            for (what, e) in handle.join().unwrap() {
                let expected = if what == "posters" { &posters } else { &intros };
                assert_eq!(&e, expected, "{} encoded on another thread differ", what);
            }
        }
    });
}

#[test]
fn model_params_reach_the_library() {
    let model = Model::new(&ModelParams::new().embed_dim(24).device(clipmatch::Device::Cpu)).unwrap();
    assert_eq!(model.embed_dim(), 24);
    assert_eq!(model.encode_posters::<&str>(&[]).unwrap(), Embeddings { rows: 0, dim: 24, data: vec![] });
    let err = Model::new(&ModelParams::new().embed_dim(0)).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{}", err);
    assert!(err.message.contains("embed_dim"), "{}", err);
    let err = Model::load(std::env::temp_dir().join("clipmatch-rust-test-no-such-model"), clipmatch::Device::Cpu)
        .unwrap_err();
    assert_ne!(err.status, Status::InvalidArgument, "a missing checkpoint is not a bad argument: {}", err);
    assert!(err.message.contains("no-such-model"), "{}", err);
}
