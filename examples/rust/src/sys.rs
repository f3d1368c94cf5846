//! Raw declarations of `capi/clipmatch.h` (ABI version 2), one for one.
//!
//! Everything here is `unsafe` to call and follows the header's rules exactly; use the safe wrapper in the
//! crate root instead unless you need something it does not offer.
//!
//! C enums are declared as `c_int`-sized integer aliases with constants, never as Rust enums: a newer
//! library may return a status (or pass a level) this code does not know, and turning such a value into a
//! Rust enum would be undefined behaviour. Struct layouts follow the header field by field (`size_t` =
//! `usize`, `int` = `c_int`, `int64_t` = `i64`, `uint64_t` = `u64`, enums = `c_int`).
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

/// `CLIPMATCH_ABI_VERSION` of the header these declarations mirror.
pub const CLIPMATCH_ABI_VERSION: c_int = 2;

pub type clipmatch_status = c_int;
pub const CLIPMATCH_OK: clipmatch_status = 0;
pub const CLIPMATCH_ERROR_INVALID_ARGUMENT: clipmatch_status = 1;
pub const CLIPMATCH_ERROR_IO: clipmatch_status = 2;
pub const CLIPMATCH_ERROR_FORMAT: clipmatch_status = 3;
pub const CLIPMATCH_ERROR_CHECKPOINT: clipmatch_status = 4;
pub const CLIPMATCH_ERROR_UNSUPPORTED: clipmatch_status = 5;
pub const CLIPMATCH_ERROR_INTERNAL: clipmatch_status = 6;
pub const CLIPMATCH_ERROR_BUFFER_TOO_SMALL: clipmatch_status = 7;
pub const CLIPMATCH_ERROR_CANCELLED: clipmatch_status = 8;

pub type clipmatch_device = c_int;
pub const CLIPMATCH_DEVICE_AUTO: clipmatch_device = 0;
pub const CLIPMATCH_DEVICE_CPU: clipmatch_device = 1;
pub const CLIPMATCH_DEVICE_CUDA: clipmatch_device = 2;

pub type clipmatch_distance = c_int;
pub const CLIPMATCH_DISTANCE_ONE_MINUS_COSINE: clipmatch_distance = 0;
pub const CLIPMATCH_DISTANCE_NEGATIVE_COSINE: clipmatch_distance = 1;

pub type clipmatch_loss = c_int;
pub const CLIPMATCH_LOSS_INFONCE: clipmatch_loss = 0;
pub const CLIPMATCH_LOSS_SIGLIP: clipmatch_loss = 1;
pub const CLIPMATCH_LOSS_MULTI_POSITIVE: clipmatch_loss = 2;

pub type clipmatch_freeze = c_int;
pub const CLIPMATCH_FREEZE_FROZEN: clipmatch_freeze = 0;
pub const CLIPMATCH_FREEZE_TOP_K: clipmatch_freeze = 1;
pub const CLIPMATCH_FREEZE_FULL: clipmatch_freeze = 2;

pub type clipmatch_head = c_int;
pub const CLIPMATCH_HEAD_LINEAR: clipmatch_head = 0;
pub const CLIPMATCH_HEAD_MLP: clipmatch_head = 1;

pub type clipmatch_temperature = c_int;
pub const CLIPMATCH_TEMPERATURE_CLIP: clipmatch_temperature = 0;
pub const CLIPMATCH_TEMPERATURE_COURSE: clipmatch_temperature = 1;

pub type clipmatch_schedule = c_int;
pub const CLIPMATCH_SCHEDULE_CONSTANT: clipmatch_schedule = 0;
pub const CLIPMATCH_SCHEDULE_WARMUP_COSINE: clipmatch_schedule = 1;
pub const CLIPMATCH_SCHEDULE_PLATEAU: clipmatch_schedule = 2;

pub type clipmatch_log_level = c_int;
pub const CLIPMATCH_LOG_DEBUG: clipmatch_log_level = 0;
pub const CLIPMATCH_LOG_INFO: clipmatch_log_level = 1;
pub const CLIPMATCH_LOG_WARNING: clipmatch_log_level = 2;
pub const CLIPMATCH_LOG_ERROR: clipmatch_log_level = 3;

/// Opaque model handle (`typedef struct clipmatch_model clipmatch_model;`). Only ever used behind a pointer.
#[repr(C)]
pub struct clipmatch_model {
    _private: [u8; 0],
}

pub type clipmatch_progress_callback =
    Option<unsafe extern "C" fn(stage: *const c_char, done: usize, total: usize, user_data: *mut c_void) -> c_int>;
pub type clipmatch_log_callback =
    Option<unsafe extern "C" fn(level: c_int, message: *const c_char, user_data: *mut c_void)>;
pub type clipmatch_epoch_callback =
    Option<unsafe extern "C" fn(epoch: *const clipmatch_epoch_metrics, user_data: *mut c_void)>;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct clipmatch_model_params {
    pub struct_size: usize,
    pub image_encoder: *const c_char,
    pub text_encoder: *const c_char,
    pub embed_dim: i64,
    pub head: clipmatch_head,
    pub mlp_hidden: i64,
    pub temperature: clipmatch_temperature,
    pub max_text_tokens: i64,
    pub seed: u64,
    pub device: clipmatch_device,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct clipmatch_encode_params {
    pub struct_size: usize,
    pub batch_size: usize,
    pub progress: clipmatch_progress_callback,
    pub progress_user_data: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct clipmatch_direction_metrics {
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub median_rank: f64,
    pub mean_rank: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct clipmatch_split_metrics {
    pub n: usize,
    pub acc_dim0: f64,
    pub acc_dim1: f64,
    pub poster_to_intro: clipmatch_direction_metrics,
    pub intro_to_poster: clipmatch_direction_metrics,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct clipmatch_metrics {
    pub struct_size: usize,
    pub all: clipmatch_split_metrics,
    pub train: clipmatch_split_metrics,
    pub heldout: clipmatch_split_metrics,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct clipmatch_epoch_metrics {
    pub struct_size: usize,
    pub epoch: c_int,
    pub train_loss: f64,
    pub learning_rate: f64,
    pub logit_scale: f64,
    pub seconds: f64,
    pub evaluated: c_int,
    pub metrics: clipmatch_metrics,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct clipmatch_train_params {
    pub struct_size: usize,
    pub run_dir: *const c_char,
    pub epochs: c_int,
    pub batch_size: c_int,
    pub learning_rate: f64,
    pub encoder_learning_rate: f64,
    pub weight_decay: f64,
    pub schedule: clipmatch_schedule,
    pub warmup_fraction: f64,
    pub grad_clip_norm: f64,
    pub loss: clipmatch_loss,
    pub freeze: clipmatch_freeze,
    pub unfreeze_top: c_int,
    pub unfreeze_top_text: c_int,
    pub early_stopping_patience: c_int,
    pub cache_dir: *const c_char,
    pub use_cache: c_int,
    pub seed: u64,
    pub verbose: c_int,
    pub progress: clipmatch_progress_callback,
    pub progress_user_data: *mut c_void,
    pub on_epoch: clipmatch_epoch_callback,
    pub on_epoch_user_data: *mut c_void,
    pub resume: c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct clipmatch_eval_params {
    pub struct_size: usize,
    pub out_dir: *const c_char,
    pub distance: clipmatch_distance,
    pub cache_dir: *const c_char,
    pub write_distance_npy: c_int,
    pub write_embeddings_npy: c_int,
    pub write_heatmap_png: c_int,
    pub write_topk_csv: c_int,
    pub heatmap_size: usize,
    pub verbose: c_int,
    pub progress: clipmatch_progress_callback,
    pub progress_user_data: *mut c_void,
}

// The library itself is linked by build.rs (`cargo:rustc-link-lib=clipmatch`).
extern "C" {
    pub fn clipmatch_version() -> *const c_char;
    pub fn clipmatch_abi_version() -> c_int;
    pub fn clipmatch_last_error() -> *const c_char;
    pub fn clipmatch_set_log_callback(callback: clipmatch_log_callback, user_data: *mut c_void);

    pub fn clipmatch_model_default_params_sized(out: *mut clipmatch_model_params, struct_size: usize);
    pub fn clipmatch_model_create(
        params: *const clipmatch_model_params,
        out_model: *mut *mut clipmatch_model,
    ) -> clipmatch_status;
    pub fn clipmatch_model_load(
        path: *const c_char,
        device: clipmatch_device,
        out_model: *mut *mut clipmatch_model,
    ) -> clipmatch_status;
    pub fn clipmatch_model_save(model: *const clipmatch_model, path: *const c_char) -> clipmatch_status;
    pub fn clipmatch_model_free(model: *mut clipmatch_model);
    pub fn clipmatch_model_embed_dim(model: *const clipmatch_model) -> i64;

    pub fn clipmatch_encode_default_params_sized(out: *mut clipmatch_encode_params, struct_size: usize);
    pub fn clipmatch_encode_posters(
        model: *const clipmatch_model,
        image_paths: *const *const c_char,
        n: usize,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;
    pub fn clipmatch_encode_intros(
        model: *const clipmatch_model,
        intros: *const *const c_char,
        n: usize,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;
    pub fn clipmatch_encode_poster_bytes(
        model: *const clipmatch_model,
        data: *const *const c_void,
        sizes: *const usize,
        n: usize,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;
    pub fn clipmatch_encode_poster_pixels(
        model: *const clipmatch_model,
        pixels: *const u8,
        width: usize,
        height: usize,
        stride: usize,
        channels: usize,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;
    pub fn clipmatch_encode_posters_ex(
        model: *const clipmatch_model,
        image_paths: *const *const c_char,
        n: usize,
        params: *const clipmatch_encode_params,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;
    pub fn clipmatch_encode_intros_ex(
        model: *const clipmatch_model,
        intros: *const *const c_char,
        n: usize,
        params: *const clipmatch_encode_params,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;
    pub fn clipmatch_encode_poster_bytes_ex(
        model: *const clipmatch_model,
        data: *const *const c_void,
        sizes: *const usize,
        n: usize,
        params: *const clipmatch_encode_params,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;

    pub fn clipmatch_distance_matrix(
        posters: *const f32,
        n_posters: usize,
        intros: *const f32,
        n_intros: usize,
        dim: usize,
        kind: clipmatch_distance,
        out: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;
    pub fn clipmatch_topk(
        queries: *const f32,
        n_queries: usize,
        catalog: *const f32,
        n_catalog: usize,
        dim: usize,
        k: usize,
        kind: clipmatch_distance,
        out_indices: *mut i64,
        out_distances: *mut f32,
        out_len: usize,
    ) -> clipmatch_status;

    pub fn clipmatch_metrics_init_sized(out: *mut clipmatch_metrics, struct_size: usize);

    pub fn clipmatch_train_default_params_sized(out: *mut clipmatch_train_params, struct_size: usize);
    pub fn clipmatch_train(
        model: *mut clipmatch_model,
        dataset_dir: *const c_char,
        params: *const clipmatch_train_params,
        out_metrics: *mut clipmatch_metrics,
    ) -> clipmatch_status;

    pub fn clipmatch_eval_default_params_sized(out: *mut clipmatch_eval_params, struct_size: usize);
    pub fn clipmatch_evaluate(
        model: *const clipmatch_model,
        dataset_dir: *const c_char,
        params: *const clipmatch_eval_params,
        out_metrics: *mut clipmatch_metrics,
    ) -> clipmatch_status;

    pub fn clipmatch_synthesize_dataset(out_dir: *const c_char, n: usize, seed: u64) -> clipmatch_status;
}

#[cfg(all(test, target_pointer_width = "64"))]
mod layout {
    //! Sizes and offsets as gcc reports them for capi/clipmatch.h on x86-64 / aarch64 Linux (LP64).
    use super::*;
    use std::mem::{align_of, size_of};

    macro_rules! offset_of {
        ($t:ty, $f:ident) => {{
            let value = std::mem::MaybeUninit::<$t>::uninit();
            let base = value.as_ptr();
            // SAFETY: only the address of the field is computed, nothing is read.
            let field = unsafe { std::ptr::addr_of!((*base).$f) };
            field as usize - base as usize
        }};
    }

    #[test]
    fn struct_layouts_match_the_header() {
        assert_eq!(size_of::<clipmatch_model_params>(), 80);
        assert_eq!(align_of::<clipmatch_model_params>(), 8);
        assert_eq!(offset_of!(clipmatch_model_params, temperature), 48);
        assert_eq!(offset_of!(clipmatch_model_params, max_text_tokens), 56);
        assert_eq!(offset_of!(clipmatch_model_params, device), 72);
        assert_eq!(size_of::<clipmatch_encode_params>(), 32);
        assert_eq!(size_of::<clipmatch_direction_metrics>(), 40);
        assert_eq!(size_of::<clipmatch_split_metrics>(), 104);
        assert_eq!(size_of::<clipmatch_metrics>(), 320);
        assert_eq!(size_of::<clipmatch_epoch_metrics>(), 376);
        assert_eq!(offset_of!(clipmatch_epoch_metrics, evaluated), 48);
        assert_eq!(offset_of!(clipmatch_epoch_metrics, metrics), 56);
        assert_eq!(size_of::<clipmatch_train_params>(), 168);
        assert_eq!(offset_of!(clipmatch_train_params, resume), 160);
        assert_eq!(offset_of!(clipmatch_train_params, seed), 112);
        assert_eq!(offset_of!(clipmatch_train_params, verbose), 120);
        assert_eq!(offset_of!(clipmatch_train_params, on_epoch_user_data), 152);
        assert_eq!(size_of::<clipmatch_eval_params>(), 80);
        assert_eq!(offset_of!(clipmatch_eval_params, heatmap_size), 48);
        assert_eq!(offset_of!(clipmatch_eval_params, progress_user_data), 72);
    }
}

/// The header's inline `clipmatch_model_default_params()`: the library fills exactly `size_of::<clipmatch_model_params>()` bytes (no struct
/// crosses the ABI by value, so a newer library's larger struct can never overrun this one).
///
/// # Safety
/// Calls into the C library, which must be loaded (it is linked by build.rs).
pub unsafe fn clipmatch_model_default_params() -> clipmatch_model_params {
    let mut value: clipmatch_model_params = std::mem::zeroed();
    clipmatch_model_default_params_sized(&mut value, std::mem::size_of::<clipmatch_model_params>());
    value
}

/// The header's inline `clipmatch_encode_default_params()`: the library fills exactly `size_of::<clipmatch_encode_params>()` bytes (no struct
/// crosses the ABI by value, so a newer library's larger struct can never overrun this one).
///
/// # Safety
/// Calls into the C library, which must be loaded (it is linked by build.rs).
pub unsafe fn clipmatch_encode_default_params() -> clipmatch_encode_params {
    let mut value: clipmatch_encode_params = std::mem::zeroed();
    clipmatch_encode_default_params_sized(&mut value, std::mem::size_of::<clipmatch_encode_params>());
    value
}

/// The header's inline `clipmatch_metrics_init()`: the library fills exactly `size_of::<clipmatch_metrics>()` bytes (no struct
/// crosses the ABI by value, so a newer library's larger struct can never overrun this one).
///
/// # Safety
/// Calls into the C library, which must be loaded (it is linked by build.rs).
pub unsafe fn clipmatch_metrics_init() -> clipmatch_metrics {
    let mut value: clipmatch_metrics = std::mem::zeroed();
    clipmatch_metrics_init_sized(&mut value, std::mem::size_of::<clipmatch_metrics>());
    value
}

/// The header's inline `clipmatch_train_default_params()`: the library fills exactly `size_of::<clipmatch_train_params>()` bytes (no struct
/// crosses the ABI by value, so a newer library's larger struct can never overrun this one).
///
/// # Safety
/// Calls into the C library, which must be loaded (it is linked by build.rs).
pub unsafe fn clipmatch_train_default_params() -> clipmatch_train_params {
    let mut value: clipmatch_train_params = std::mem::zeroed();
    clipmatch_train_default_params_sized(&mut value, std::mem::size_of::<clipmatch_train_params>());
    value
}

/// The header's inline `clipmatch_eval_default_params()`: the library fills exactly `size_of::<clipmatch_eval_params>()` bytes (no struct
/// crosses the ABI by value, so a newer library's larger struct can never overrun this one).
///
/// # Safety
/// Calls into the C library, which must be loaded (it is linked by build.rs).
pub unsafe fn clipmatch_eval_default_params() -> clipmatch_eval_params {
    let mut value: clipmatch_eval_params = std::mem::zeroed();
    clipmatch_eval_default_params_sized(&mut value, std::mem::size_of::<clipmatch_eval_params>());
    value
}
