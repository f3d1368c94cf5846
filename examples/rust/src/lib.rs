//! Safe Rust bindings to clipmatch's stable C ABI (`capi/clipmatch.h`, ABI version 2): match movie posters to
//! plot synopses ("intros") CLIP-style.
//!
//! ```no_run
//! use clipmatch::{Freeze, Model, ModelParams, TrainParams, Distance};
//! # fn main() -> clipmatch::Result<()> {
//! clipmatch::synthesize_dataset("/tmp/movies", 200, 1)?;
//! let mut model = Model::new(&ModelParams::new().embed_dim(64))?;
//! let train = TrainParams::new("/tmp/run").epochs(5).batch_size(32).freeze(Freeze::Full);
//! let metrics = model.train("/tmp/movies", &train, Some(&mut |stage: &str, done, total| {
//!     eprintln!("{stage}: {done}/{total}");
//!     true // false cancels the training
//! }))?;
//! println!("held-out R@1 {}", metrics.heldout.poster_to_intro.r1);
//! let posters = model.encode_posters(&["/tmp/movies/posters/000000.jpg"])?;
//! let intros = model.encode_intros(&["A red circle on a blue background."])?;
//! let (indices, distances) = posters.top_k(&intros, 1, Distance::OneMinusCosine)?;
//! # let _ = (indices, distances); Ok(()) }
//! ```
//!
//! Safety and threading follow the header: a [`Model`] is `Send + Sync`; the calls that only read it (the
//! `encode_*` family, [`Model::evaluate`], [`Model::embed_dim`]) take `&self` and may run from many threads at
//! once, while [`Model::train`] and [`Model::save`] take `&mut self`, so the borrow checker gives them the
//! model to themselves as the header requires. Every fallible call returns [`Result`]; the [`Error`] carries the
//! library's status and its message (copied from `clipmatch_last_error()` right away).

pub mod sys;

use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::fmt;
use std::io::Write;
use std::mem;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::{Mutex, MutexGuard};

// ------------------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------------------

/// What went wrong, from the library's `clipmatch_status` (or from a check made here before calling it).
/// Codes this version does not know are kept as [`Status::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    InvalidArgument,
    Io,
    Format,
    Checkpoint,
    Unsupported,
    Internal,
    BufferTooSmall,
    Cancelled,
    /// A status code these bindings do not know (from a newer library).
    Unknown(i32),
}

impl Status {
    /// The status of a non-zero `clipmatch_status` code.
    pub fn from_code(code: c_int) -> Status {
        match code {
            sys::CLIPMATCH_ERROR_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::CLIPMATCH_ERROR_IO => Status::Io,
            sys::CLIPMATCH_ERROR_FORMAT => Status::Format,
            sys::CLIPMATCH_ERROR_CHECKPOINT => Status::Checkpoint,
            sys::CLIPMATCH_ERROR_UNSUPPORTED => Status::Unsupported,
            sys::CLIPMATCH_ERROR_INTERNAL => Status::Internal,
            sys::CLIPMATCH_ERROR_BUFFER_TOO_SMALL => Status::BufferTooSmall,
            sys::CLIPMATCH_ERROR_CANCELLED => Status::Cancelled,
            other => Status::Unknown(other),
        }
    }

    /// The `clipmatch_status` code.
    pub fn code(self) -> c_int {
        match self {
            Status::InvalidArgument => sys::CLIPMATCH_ERROR_INVALID_ARGUMENT,
            Status::Io => sys::CLIPMATCH_ERROR_IO,
            Status::Format => sys::CLIPMATCH_ERROR_FORMAT,
            Status::Checkpoint => sys::CLIPMATCH_ERROR_CHECKPOINT,
            Status::Unsupported => sys::CLIPMATCH_ERROR_UNSUPPORTED,
            Status::Internal => sys::CLIPMATCH_ERROR_INTERNAL,
            Status::BufferTooSmall => sys::CLIPMATCH_ERROR_BUFFER_TOO_SMALL,
            Status::Cancelled => sys::CLIPMATCH_ERROR_CANCELLED,
            Status::Unknown(code) => code,
        }
    }

    fn describe(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Status::InvalidArgument => "invalid argument",
            Status::Io => "I/O error",
            Status::Format => "format error",
            Status::Checkpoint => "checkpoint error",
            Status::Unsupported => "unsupported",
            Status::Internal => "internal error",
            Status::BufferTooSmall => "buffer too small",
            Status::Cancelled => "cancelled",
            Status::Unknown(code) => return Cow::Owned(format!("status {}", code)),
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A failed clipmatch call: its status and the message `clipmatch_last_error()` gave (or one made here for
/// checks done before calling the library, e.g. a string with an interior NUL byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }

    /// The error for a non-OK status just returned by the library; reads the calling thread's last-error
    /// message at once (it is only valid until the next clipmatch call on this thread).
    fn from_last(code: c_int) -> Error {
        Error { status: Status::from_code(code), message: last_error_message() }
    }

    fn invalid(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// True for [`Status::Cancelled`] (a progress callback returned `false`).
    pub fn is_cancelled(&self) -> bool {
        self.status == Status::Cancelled
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "clipmatch: {}", self.status)
        } else {
            write!(f, "clipmatch: {}: {}", self.status, self.message)
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

fn last_error_message() -> String {
    // SAFETY: the library returns a NUL-terminated string valid until the next clipmatch call on this thread;
    // it is copied before anything else runs.
    unsafe {
        let message = sys::clipmatch_last_error();
        if message.is_null() {
            String::new()
        } else {
            CStr::from_ptr(message).to_string_lossy().into_owned()
        }
    }
}

fn check(code: c_int) -> Result<()> {
    if code == sys::CLIPMATCH_OK {
        Ok(())
    } else {
        Err(Error::from_last(code))
    }
}

fn c_string(what: &str, text: &str) -> Result<CString> {
    CString::new(text).map_err(|e| {
        Error::invalid(format!("{}: contains a NUL byte at position {}: {:?}", what, e.nul_position(), text))
    })
}

fn c_path(what: &str, path: &Path) -> Result<CString> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        CString::new(path.as_os_str().as_bytes()).map_err(|e| {
            Error::invalid(format!("{}: contains a NUL byte at position {}: {:?}", what, e.nul_position(), path))
        })
    }
    #[cfg(not(unix))]
    {
        match path.to_str() {
            Some(text) => c_string(what, text),
            None => Err(Error::invalid(format!("{}: not valid UTF-8: {:?}", what, path))),
        }
    }
}

fn c_path_opt(what: &str, path: &Option<PathBuf>) -> Result<Option<CString>> {
    match path {
        Some(p) => c_path(what, p).map(Some),
        None => Ok(None),
    }
}

fn c_string_opt(what: &str, text: &Option<String>) -> Result<Option<CString>> {
    match text {
        Some(t) => c_string(what, t).map(Some),
        None => Ok(None),
    }
}

fn product(what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| Error::invalid(format!("{}: {} × {} overflows usize", what, a, b)))
}

// ------------------------------------------------------------------------------------------------------------
// Versions
// ------------------------------------------------------------------------------------------------------------

/// The library's version, "MAJOR.MINOR.PATCH".
pub fn version() -> &'static str {
    // SAFETY: a static NUL-terminated string.
    unsafe {
        let v = sys::clipmatch_version();
        if v.is_null() {
            ""
        } else {
            CStr::from_ptr(v).to_str().unwrap_or("")
        }
    }
}

/// The ABI version of the loaded library (compare with [`sys::CLIPMATCH_ABI_VERSION`]).
pub fn abi_version() -> i32 {
    // SAFETY: no arguments, no state.
    unsafe { sys::clipmatch_abi_version() }
}

/// Err(Unsupported) unless the loaded library speaks the ABI these declarations mirror. Checked before any
/// call whose signature or structs depend on it (structs are returned by value, so a mismatch would corrupt
/// memory rather than fail).
pub fn check_abi() -> Result<()> {
    let found = abi_version();
    if found == sys::CLIPMATCH_ABI_VERSION {
        Ok(())
    } else {
        Err(Error::new(
            Status::Unsupported,
            format!(
                "libclipmatch {} has ABI version {}, but these bindings were written for ABI version {}",
                version(),
                found,
                sys::CLIPMATCH_ABI_VERSION
            ),
        ))
    }
}

// ------------------------------------------------------------------------------------------------------------
// Enumerations (inputs only: they are turned into the header's integer constants)
// ------------------------------------------------------------------------------------------------------------

macro_rules! c_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:path),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }
        impl $name {
            /// The header's integer value.
            pub fn raw(self) -> c_int {
                match self { $($name::$variant => $value),+ }
            }
        }
    };
}

c_enum!(
    /// Where a model runs.
    Device { Auto = sys::CLIPMATCH_DEVICE_AUTO, Cpu = sys::CLIPMATCH_DEVICE_CPU, Cuda = sys::CLIPMATCH_DEVICE_CUDA }
);
c_enum!(
    /// How embeddings are compared.
    Distance {
        /// 1 − cos, the default.
        OneMinusCosine = sys::CLIPMATCH_DISTANCE_ONE_MINUS_COSINE,
        /// −cos, as the course project did.
        NegativeCosine = sys::CLIPMATCH_DISTANCE_NEGATIVE_COSINE,
    }
);
c_enum!(
    /// Training loss.
    Loss {
        InfoNce = sys::CLIPMATCH_LOSS_INFONCE,
        SigLip = sys::CLIPMATCH_LOSS_SIGLIP,
        MultiPositive = sys::CLIPMATCH_LOSS_MULTI_POSITIVE,
    }
);
c_enum!(
    /// Which encoder weights training may change.
    Freeze { Frozen = sys::CLIPMATCH_FREEZE_FROZEN, TopK = sys::CLIPMATCH_FREEZE_TOP_K, Full = sys::CLIPMATCH_FREEZE_FULL }
);
c_enum!(
    /// Projection head.
    Head { Linear = sys::CLIPMATCH_HEAD_LINEAR, Mlp = sys::CLIPMATCH_HEAD_MLP }
);
c_enum!(
    /// Initial temperature.
    Temperature {
        /// t = log(1/0.07).
        Clip = sys::CLIPMATCH_TEMPERATURE_CLIP,
        /// t = 1.0.
        Course = sys::CLIPMATCH_TEMPERATURE_COURSE,
    }
);
c_enum!(
    /// Learning-rate schedule.
    Schedule {
        Constant = sys::CLIPMATCH_SCHEDULE_CONSTANT,
        WarmupCosine = sys::CLIPMATCH_SCHEDULE_WARMUP_COSINE,
        Plateau = sys::CLIPMATCH_SCHEDULE_PLATEAU,
    }
);

#[allow(clippy::derivable_impls)] // the variants come from a macro
impl Default for Distance {
    fn default() -> Distance {
        Distance::OneMinusCosine
    }
}

/// Level of a log message; levels this version does not know are kept as `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Other(i32),
}

impl LogLevel {
    pub fn from_raw(level: c_int) -> LogLevel {
        match level {
            sys::CLIPMATCH_LOG_DEBUG => LogLevel::Debug,
            sys::CLIPMATCH_LOG_INFO => LogLevel::Info,
            sys::CLIPMATCH_LOG_WARNING => LogLevel::Warning,
            sys::CLIPMATCH_LOG_ERROR => LogLevel::Error,
            other => LogLevel::Other(other),
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// Metrics
// ------------------------------------------------------------------------------------------------------------

/// Retrieval metrics in one direction (fractions in [0, 1] and 1-based ranks).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DirectionMetrics {
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub median_rank: f64,
    pub mean_rank: f64,
}

/// Metrics of one split; `n` is 0 when the split is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SplitMetrics {
    pub n: usize,
    pub acc_dim0: f64,
    pub acc_dim1: f64,
    pub poster_to_intro: DirectionMetrics,
    pub intro_to_poster: DirectionMetrics,
}

/// Metrics of a dataset: all rows, the training rows (train.txt) and the held-out rest.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    pub all: SplitMetrics,
    pub train: SplitMetrics,
    pub heldout: SplitMetrics,
}

impl From<sys::clipmatch_direction_metrics> for DirectionMetrics {
    fn from(m: sys::clipmatch_direction_metrics) -> Self {
        DirectionMetrics { r1: m.r1, r5: m.r5, r10: m.r10, median_rank: m.median_rank, mean_rank: m.mean_rank }
    }
}

impl From<sys::clipmatch_split_metrics> for SplitMetrics {
    fn from(m: sys::clipmatch_split_metrics) -> Self {
        SplitMetrics {
            n: m.n,
            acc_dim0: m.acc_dim0,
            acc_dim1: m.acc_dim1,
            poster_to_intro: m.poster_to_intro.into(),
            intro_to_poster: m.intro_to_poster.into(),
        }
    }
}

impl From<sys::clipmatch_metrics> for Metrics {
    fn from(m: sys::clipmatch_metrics) -> Self {
        Metrics { all: m.all.into(), train: m.train.into(), heldout: m.heldout.into() }
    }
}

/// What one training epoch measured (passed to the `on_epoch` closure of [`Model::train_with_callbacks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: i32,
    pub train_loss: f64,
    pub learning_rate: f64,
    /// exp(t).
    pub logit_scale: f64,
    pub seconds: f64,
    /// None when this epoch was not evaluated.
    pub metrics: Option<Metrics>,
}

impl EpochMetrics {
    /// Reads the library's struct, copying only the bytes its `struct_size` covers (an older library may pass a
    /// shorter struct; a newer one a longer one whose extra fields are not known here).
    ///
    /// # Safety
    /// `raw` must point to a valid `clipmatch_epoch_metrics` of at least `struct_size` bytes.
    unsafe fn from_raw(raw: *const sys::clipmatch_epoch_metrics) -> EpochMetrics {
        let mut copy = sys::clipmatch_epoch_metrics::default();
        let size = ptr::read_unaligned(raw as *const usize).min(mem::size_of::<sys::clipmatch_epoch_metrics>());
        ptr::copy_nonoverlapping(raw as *const u8, &mut copy as *mut _ as *mut u8, size);
        EpochMetrics {
            epoch: copy.epoch,
            train_loss: copy.train_loss,
            learning_rate: copy.learning_rate,
            logit_scale: copy.logit_scale,
            seconds: copy.seconds,
            metrics: if copy.evaluated != 0 { Some(copy.metrics.into()) } else { None },
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// Callbacks
// ------------------------------------------------------------------------------------------------------------

/// A progress closure: `(stage, done, total)`; return `false` to cancel the call (it then fails with
/// [`Status::Cancelled`]). A panic inside it cancels the call too and is resumed once the call has returned.
pub type Progress<'a> = &'a mut dyn FnMut(&str, usize, usize) -> bool;

/// What the trampolines reach through `user_data`: the caller's closures and a panic caught in them.
struct CallbackState<'p, 'e> {
    progress: Option<Progress<'p>>,
    on_epoch: Option<&'e mut dyn FnMut(&EpochMetrics)>,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

impl<'p, 'e> CallbackState<'p, 'e> {
    fn new(progress: Option<Progress<'p>>, on_epoch: Option<&'e mut dyn FnMut(&EpochMetrics)>) -> Self {
        CallbackState { progress, on_epoch, panic: None }
    }

    fn active(&self) -> bool {
        self.progress.is_some() || self.on_epoch.is_some()
    }

    fn user_data(&mut self) -> *mut c_void {
        self as *mut CallbackState<'p, 'e> as *mut c_void
    }

    /// After the call: a panic caught in a closure continues here, on the caller's side of the FFI boundary.
    fn finish<T>(self, result: T) -> T {
        if let Some(payload) = self.panic {
            panic::resume_unwind(payload);
        }
        result
    }
}

unsafe extern "C" fn progress_trampoline(
    stage: *const c_char,
    done: usize,
    total: usize,
    user_data: *mut c_void,
) -> c_int {
    if user_data.is_null() {
        return 1;
    }
    // SAFETY: user_data is the CallbackState of the call in progress on this very thread (callbacks run on the
    // calling thread), alive until the call returns; nothing else touches it meanwhile.
    let state = &mut *(user_data as *mut CallbackState<'_, '_>);
    if state.panic.is_some() {
        return 0;
    }
    let stage = if stage.is_null() { Cow::Borrowed("") } else { CStr::from_ptr(stage).to_string_lossy() };
    let progress = &mut state.progress;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match progress {
        Some(f) => f(&stage, done, total),
        None => true,
    }));
    match outcome {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(payload) => {
            state.panic = Some(payload);
            0
        }
    }
}

unsafe extern "C" fn epoch_trampoline(epoch: *const sys::clipmatch_epoch_metrics, user_data: *mut c_void) {
    if user_data.is_null() || epoch.is_null() {
        return;
    }
    // SAFETY: as in progress_trampoline.
    let state = &mut *(user_data as *mut CallbackState<'_, '_>);
    if state.panic.is_some() {
        return;
    }
    let metrics = EpochMetrics::from_raw(epoch);
    let on_epoch = &mut state.on_epoch;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        if let Some(f) = on_epoch {
            f(&metrics)
        }
    }));
    if let Err(payload) = outcome {
        // The progress trampoline (installed whenever on_epoch is) cancels the training at its next call.
        state.panic = Some(payload);
    }
}

/// A log closure for [`set_log_callback`]: `(level, message)`.
pub type LogCallback = Box<dyn FnMut(LogLevel, &str) + Send + 'static>;

static LOG_SINK: Mutex<Option<LogCallback>> = Mutex::new(None);

thread_local! {
    static IN_LOG_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn log_sink() -> MutexGuard<'static, Option<LogCallback>> {
    LOG_SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn in_log_callback() -> bool {
    IN_LOG_CALLBACK.try_with(|flag| flag.get()).unwrap_or(false)
}

unsafe extern "C" fn log_trampoline(level: c_int, message: *const c_char, _user_data: *mut c_void) {
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        let text = if message.is_null() { Cow::Borrowed("") } else { CStr::from_ptr(message).to_string_lossy() };
        if in_log_callback() {
            // The log closure itself called into clipmatch, which logged: the sink is busy on this thread.
            let _ = writeln!(std::io::stderr(), "{}", text);
            return;
        }
        let _ = IN_LOG_CALLBACK.try_with(|flag| flag.set(true));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut sink = log_sink();
            match sink.as_mut() {
                Some(f) => f(LogLevel::from_raw(level), &text),
                None => {
                    let _ = writeln!(std::io::stderr(), "{}", text);
                }
            }
        }));
        let _ = IN_LOG_CALLBACK.try_with(|flag| flag.set(false));
        if outcome.is_err() {
            let _ = writeln!(std::io::stderr(), "clipmatch: the log callback panicked on message: {}", text);
        }
    }));
}

/// Sends every message the library prints (progress lines, per-epoch lines, warnings) to `callback`, process
/// wide; `None` restores the default (standard error). The closure is kept in a static until it is replaced,
/// may be called from any thread that runs library code, one message at a time, and must not call
/// `set_log_callback` itself (that panics, and the panic is reported on standard error). Replacing a closure
/// waits until a message it is handling is done, then drops it.
pub fn set_log_callback(callback: Option<LogCallback>) {
    if in_log_callback() {
        panic!("clipmatch::set_log_callback called from inside the log callback");
    }
    let old = match callback {
        Some(callback) => {
            let old = log_sink().replace(callback);
            // SAFETY: a static function; its user data is unused (the closure lives in LOG_SINK).
            unsafe { sys::clipmatch_set_log_callback(Some(log_trampoline), ptr::null_mut()) };
            old
        }
        None => {
            // SAFETY: as above; afterwards the library no longer calls the trampoline.
            unsafe { sys::clipmatch_set_log_callback(None, ptr::null_mut()) };
            log_sink().take()
        }
    };
    drop(old); // outside the lock
}

// ------------------------------------------------------------------------------------------------------------
// Parameters
// ------------------------------------------------------------------------------------------------------------

macro_rules! setters {
    ($($(#[$meta:meta])* $name:ident: $type:ty),* $(,)?) => {
        $(
            $(#[$meta])*
            pub fn $name(mut self, value: $type) -> Self {
                self.$name = Some(value);
                self
            }
        )*
    };
}

/// How to build a [`Model`]: every field left unset keeps the library's default
/// (`clipmatch_model_default_params()`, read only after the ABI check).
#[derive(Clone, Debug, Default)]
pub struct ModelParams {
    image_encoder: Option<String>,
    text_encoder: Option<String>,
    embed_dim: Option<i64>,
    head: Option<Head>,
    mlp_hidden: Option<i64>,
    temperature: Option<Temperature>,
    max_text_tokens: Option<i64>,
    seed: Option<u64>,
    device: Option<Device>,
}

impl ModelParams {
    pub fn new() -> Self {
        Self::default()
    }

    setters!(
        /// "KIND" or "KIND:PATH", e.g. "mobilenet_v2:/w/mnv2" (default "tiny_cnn").
        image_encoder: String,
        /// e.g. "glove:/w/glove" (default "tiny_text").
        text_encoder: String,
        embed_dim: i64,
        head: Head,
        mlp_hidden: i64,
        temperature: Temperature,
        /// 0 = the intro encoder's own limit.
        max_text_tokens: i64,
        seed: u64,
        device: Device,
    );
}

/// Options of a training run; `run_dir` (checkpoints, epochs.jsonl) is required, everything left unset keeps
/// the library's default (`clipmatch_train_default_params()`).
#[derive(Clone, Debug)]
pub struct TrainParams {
    run_dir: PathBuf,
    epochs: Option<i32>,
    batch_size: Option<i32>,
    learning_rate: Option<f64>,
    encoder_learning_rate: Option<f64>,
    weight_decay: Option<f64>,
    schedule: Option<Schedule>,
    warmup_fraction: Option<f64>,
    grad_clip_norm: Option<f64>,
    loss: Option<Loss>,
    freeze: Option<Freeze>,
    unfreeze_top: Option<i32>,
    unfreeze_top_text: Option<i32>,
    early_stopping_patience: Option<i32>,
    cache_dir: Option<PathBuf>,
    use_cache: Option<bool>,
    seed: Option<u64>,
    verbose: Option<bool>,
    resume: Option<bool>,
}

impl TrainParams {
    pub fn new(run_dir: impl AsRef<Path>) -> Self {
        TrainParams {
            run_dir: run_dir.as_ref().to_path_buf(),
            epochs: None,
            batch_size: None,
            learning_rate: None,
            encoder_learning_rate: None,
            weight_decay: None,
            schedule: None,
            warmup_fraction: None,
            grad_clip_norm: None,
            loss: None,
            freeze: None,
            unfreeze_top: None,
            unfreeze_top_text: None,
            early_stopping_patience: None,
            cache_dir: None,
            use_cache: None,
            seed: None,
            verbose: None,
            resume: None,
        }
    }

    setters!(
        epochs: i32,
        batch_size: i32,
        /// Heads and temperature.
        learning_rate: f64,
        /// Unfrozen encoder weights.
        encoder_learning_rate: f64,
        weight_decay: f64,
        schedule: Schedule,
        warmup_fraction: f64,
        /// 0 = no clipping.
        grad_clip_norm: f64,
        loss: Loss,
        freeze: Freeze,
        /// Top-k: trainable top blocks/stages of each encoder.
        unfreeze_top: i32,
        /// Top-k: the intro encoder's own depth; −1 = `unfreeze_top`.
        unfreeze_top_text: i32,
        /// 0 = off.
        early_stopping_patience: i32,
        /// false = neither read nor write the feature cache.
        use_cache: bool,
        seed: u64,
        /// Progress lines and one line per epoch to the log sink (see [`set_log_callback`]).
        verbose: bool,
        /// Continue the run in `run_dir` from its last completed epoch.
        resume: bool,
    );

    /// Feature cache folder (default `<run_dir>/../.clipmatch-cache`).
    pub fn cache_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cache_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }
}

/// Options of [`Model::evaluate`]; unset fields keep `clipmatch_eval_default_params()`'s values.
#[derive(Clone, Debug, Default)]
pub struct EvalParams {
    out_dir: Option<PathBuf>,
    distance: Option<Distance>,
    cache_dir: Option<PathBuf>,
    write_distance_npy: Option<bool>,
    write_embeddings_npy: Option<bool>,
    write_heatmap_png: Option<bool>,
    write_topk_csv: Option<bool>,
    heatmap_size: Option<usize>,
    verbose: Option<bool>,
}

impl EvalParams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Write metrics.json, distance.npy, posters.npy, intros.npy, heatmap.png, topk.csv there (default: none).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Feature cache to read frozen encoders' features from (e.g. the training run's).
    pub fn cache_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cache_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    setters!(
        distance: Distance,
        write_distance_npy: bool,
        write_embeddings_npy: bool,
        write_heatmap_png: bool,
        write_topk_csv: bool,
        /// Rows/columns of the matrix block drawn.
        heatmap_size: usize,
        verbose: bool,
    );
}

/// Options of the `encode_*_with` calls.
#[derive(Clone, Debug, Default)]
pub struct EncodeParams {
    batch_size: Option<usize>,
}

impl EncodeParams {
    pub fn new() -> Self {
        Self::default()
    }

    setters!(
        /// Items per encoder batch (default 64).
        batch_size: usize,
    );
}

// ------------------------------------------------------------------------------------------------------------
// Embeddings and comparisons
// ------------------------------------------------------------------------------------------------------------

/// `rows` × `dim` row-major float32 embeddings (L2-normalised when they come from a [`Model`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embeddings {
    pub rows: usize,
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Embeddings {
    /// Wraps `data`; its length must be `rows × dim`.
    pub fn new(rows: usize, dim: usize, data: Vec<f32>) -> Result<Embeddings> {
        let expected = product("Embeddings", rows, dim)?;
        if data.len() != expected {
            return Err(Error::invalid(format!(
                "Embeddings: data has {} floats, rows × dim = {} × {} = {}",
                data.len(),
                rows,
                dim,
                expected
            )));
        }
        Ok(Embeddings { rows, dim, data })
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn iter_rows(&self) -> impl Iterator<Item = &[f32]> + '_ {
        (0..self.rows).map(move |i| self.row(i))
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// [`top_k`] of these rows (queries) against `catalog`.
    pub fn top_k(&self, catalog: &Embeddings, k: usize, distance: Distance) -> Result<(Vec<i64>, Vec<f32>)> {
        same_width(self, catalog)?;
        top_k(&self.data, self.rows, &catalog.data, catalog.rows, self.dim, k, distance)
    }

    /// [`distance_matrix`] of these rows (posters) against `intros`: `self.rows × intros.rows` distances.
    pub fn distance_matrix(&self, intros: &Embeddings, distance: Distance) -> Result<Vec<f32>> {
        same_width(self, intros)?;
        distance_matrix(&self.data, self.rows, &intros.data, intros.rows, self.dim, distance)
    }
}

fn same_width(a: &Embeddings, b: &Embeddings) -> Result<()> {
    if a.dim == b.dim {
        Ok(())
    } else {
        Err(Error::invalid(format!("embeddings of width {} and {} cannot be compared", a.dim, b.dim)))
    }
}

fn check_matrix(what: &str, data: &[f32], rows: usize, dim: usize) -> Result<()> {
    let expected = product(what, rows, dim)?;
    if data.len() == expected {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{}: {} floats given, but {} rows × dim {} = {}",
            what,
            data.len(),
            rows,
            dim,
            expected
        )))
    }
}

/// `out[i * n_intros + j]` = distance(poster i, intro j) for L2-normalised row-major embeddings of width `dim`.
pub fn distance_matrix(
    posters: &[f32],
    n_posters: usize,
    intros: &[f32],
    n_intros: usize,
    dim: usize,
    distance: Distance,
) -> Result<Vec<f32>> {
    check_abi()?;
    check_matrix("posters", posters, n_posters, dim)?;
    check_matrix("intros", intros, n_intros, dim)?;
    let len = product("distance matrix", n_posters, n_intros)?;
    let mut out = vec![0f32; len];
    // SAFETY: the inputs hold exactly n × dim floats (checked above); out holds out_len floats.
    check(unsafe {
        sys::clipmatch_distance_matrix(
            posters.as_ptr(),
            n_posters,
            intros.as_ptr(),
            n_intros,
            dim,
            distance.raw(),
            out.as_mut_ptr(),
            out.len(),
        )
    })?;
    Ok(out)
}

/// The `k` nearest catalog rows of every query row, nearest first: `(indices, distances)`, each
/// `n_queries × k` row-major. Ties go to the lower index; when `k > n_catalog` the missing entries are index −1
/// and distance +∞.
pub fn top_k(
    queries: &[f32],
    n_queries: usize,
    catalog: &[f32],
    n_catalog: usize,
    dim: usize,
    k: usize,
    distance: Distance,
) -> Result<(Vec<i64>, Vec<f32>)> {
    check_abi()?;
    check_matrix("queries", queries, n_queries, dim)?;
    check_matrix("catalog", catalog, n_catalog, dim)?;
    let len = product("top-k output", n_queries, k)?;
    let mut indices = vec![0i64; len];
    let mut distances = vec![0f32; len];
    // SAFETY: as in distance_matrix; both outputs hold out_len elements.
    check(unsafe {
        sys::clipmatch_topk(
            queries.as_ptr(),
            n_queries,
            catalog.as_ptr(),
            n_catalog,
            dim,
            k,
            distance.raw(),
            indices.as_mut_ptr(),
            distances.as_mut_ptr(),
            len,
        )
    })?;
    Ok((indices, distances))
}

/// Writes a synthetic poster/intro dataset of `n` movies into `dir` (movies.csv, train.txt,
/// posters/NNNNNN.jpg), deterministic for a seed.
pub fn synthesize_dataset(dir: impl AsRef<Path>, n: usize, seed: u64) -> Result<()> {
    check_abi()?;
    let dir = c_path("out_dir", dir.as_ref())?;
    // SAFETY: a NUL-terminated string that outlives the call.
    check(unsafe { sys::clipmatch_synthesize_dataset(dir.as_ptr(), n, seed) })
}

// ------------------------------------------------------------------------------------------------------------
// The model
// ------------------------------------------------------------------------------------------------------------

/// A poster/intro model (`clipmatch_model*`), freed on drop.
pub struct Model {
    raw: NonNull<sys::clipmatch_model>,
}

// SAFETY: the header lets a model be used from any thread ("different models are independent", callbacks run on
// the calling thread; nothing is tied to the creating thread), so it may move between threads (Send). Through
// &Model only the calls the header declares safe to run concurrently are reachable — the encode functions,
// evaluate and embed_dim, which "change nothing in the model" (Sync). train and save, which need the model to
// themselves, take &mut self, and clipmatch_model_free runs in Drop, which also has exclusive access.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the handle came from create/load and is freed exactly once.
        unsafe { sys::clipmatch_model_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("embed_dim", &self.embed_dim()).finish()
    }
}

/// Pointer arrays for a list of C strings (kept alive by the caller).
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings.iter().map(|s| s.as_ptr()).collect()
}

impl Model {
    /// A new (untrained) model. Fails with [`Status::Unsupported`] if the loaded library's ABI is not version 2.
    pub fn new(params: &ModelParams) -> Result<Model> {
        check_abi()?;
        let image_encoder = c_string_opt("image_encoder", &params.image_encoder)?;
        let text_encoder = c_string_opt("text_encoder", &params.text_encoder)?;
        // SAFETY: ABI checked; the struct is returned by value.
        let mut raw = unsafe { sys::clipmatch_model_default_params() };
        if let Some(s) = &image_encoder {
            raw.image_encoder = s.as_ptr();
        }
        if let Some(s) = &text_encoder {
            raw.text_encoder = s.as_ptr();
        }
        if let Some(v) = params.embed_dim {
            raw.embed_dim = v;
        }
        if let Some(v) = params.head {
            raw.head = v.raw();
        }
        if let Some(v) = params.mlp_hidden {
            raw.mlp_hidden = v;
        }
        if let Some(v) = params.temperature {
            raw.temperature = v.raw();
        }
        if let Some(v) = params.max_text_tokens {
            raw.max_text_tokens = v;
        }
        if let Some(v) = params.seed {
            raw.seed = v;
        }
        if let Some(v) = params.device {
            raw.device = v.raw();
        }
        let mut out = ptr::null_mut();
        // SAFETY: raw and the strings it points to outlive the call; the library copies what it keeps.
        check(unsafe { sys::clipmatch_model_create(&raw, &mut out) })?;
        // SAFETY: a handle the library just made.
        unsafe { Model::from_raw(out) }
    }

    /// A model with all of the library's defaults.
    pub fn with_defaults() -> Result<Model> {
        Model::new(&ModelParams::new())
    }

    /// Loads a checkpoint (model.safetensors) or a run folder (its best checkpoint).
    pub fn load(path: impl AsRef<Path>, device: Device) -> Result<Model> {
        check_abi()?;
        let path = c_path("path", path.as_ref())?;
        let mut out = ptr::null_mut();
        // SAFETY: a NUL-terminated path that outlives the call.
        check(unsafe { sys::clipmatch_model_load(path.as_ptr(), device.raw(), &mut out) })?;
        // SAFETY: a handle the library just made.
        unsafe { Model::from_raw(out) }
    }

    /// Takes ownership of a handle made by `clipmatch_model_create` / `clipmatch_model_load`.
    ///
    /// # Safety
    /// `raw` must be such a handle (or null, which is an error), owned by nobody else.
    pub unsafe fn from_raw(raw: *mut sys::clipmatch_model) -> Result<Model> {
        NonNull::new(raw)
            .map(|raw| Model { raw })
            .ok_or_else(|| Error::new(Status::Internal, "the library reported success but returned no model"))
    }

    /// The handle, for calls into [`sys`] (the model keeps owning it).
    pub fn as_ptr(&self) -> *const sys::clipmatch_model {
        self.raw.as_ptr()
    }

    /// Writes a checkpoint atomically. Takes `&mut self`: saving needs the model to itself.
    pub fn save(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = c_path("path", path.as_ref())?;
        // SAFETY: exclusive access (&mut self); the path outlives the call.
        check(unsafe { sys::clipmatch_model_save(self.raw.as_ptr(), path.as_ptr()) })
    }

    /// Width of the embeddings.
    pub fn embed_dim(&self) -> usize {
        // SAFETY: a valid handle; this call only reads the model.
        let dim = unsafe { sys::clipmatch_model_embed_dim(self.raw.as_ptr()) };
        usize::try_from(dim).unwrap_or(0)
    }

    /// Runs one encode call writing `n` rows. Nothing to encode is answered here, without calling the library
    /// (which fails on an empty batch; see docs/rust.md).
    fn encode(&self, n: usize, call: impl FnOnce(*mut f32, usize) -> c_int) -> Result<Embeddings> {
        let dim = self.embed_dim();
        if n == 0 {
            return Ok(Embeddings { rows: 0, dim, data: Vec::new() });
        }
        let len = product("embeddings", n, dim)?;
        let mut data = vec![0f32; len];
        check(call(data.as_mut_ptr(), data.len()))?;
        Ok(Embeddings { rows: n, dim, data })
    }

    /// Runs one `_ex` encode call with encode parameters and an optional progress closure.
    fn encode_ex(
        &self,
        n: usize,
        options: &EncodeParams,
        progress: Option<Progress<'_>>,
        call: impl FnOnce(*const sys::clipmatch_encode_params, *mut f32, usize) -> c_int,
    ) -> Result<Embeddings> {
        // SAFETY: the model's existence proves the ABI check passed.
        let mut raw = unsafe { sys::clipmatch_encode_default_params() };
        if let Some(v) = options.batch_size {
            raw.batch_size = v;
        }
        let mut state = CallbackState::new(progress, None);
        if state.active() {
            raw.progress = Some(progress_trampoline);
            raw.progress_user_data = state.user_data();
        }
        let result = self.encode(n, |out, len| call(&raw, out, len));
        state.finish(result)
    }

    /// Embeds posters given as image files (JPEG, PNG, BMP, GIF, TGA, PNM).
    pub fn encode_posters<P: AsRef<Path>>(&self, paths: &[P]) -> Result<Embeddings> {
        self.encode_posters_with(paths, &EncodeParams::default(), None)
    }

    /// [`encode_posters`](Model::encode_posters) with a batch size and a progress closure.
    pub fn encode_posters_with<P: AsRef<Path>>(
        &self,
        paths: &[P],
        options: &EncodeParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Embeddings> {
        let strings = paths
            .iter()
            .enumerate()
            .map(|(i, p)| c_path(&format!("image_paths[{}]", i), p.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let ptrs = pointers(&strings);
        let model = self.raw.as_ptr();
        // SAFETY: n valid strings; out holds out_len floats; params outlive the call; &self calls are thread-safe
        // per the header.
        self.encode_ex(paths.len(), options, progress, |params, out, len| unsafe {
            sys::clipmatch_encode_posters_ex(model, ptrs.as_ptr(), ptrs.len(), params, out, len)
        })
    }

    /// Embeds intros (UTF-8 text).
    pub fn encode_intros<S: AsRef<str>>(&self, intros: &[S]) -> Result<Embeddings> {
        self.encode_intros_with(intros, &EncodeParams::default(), None)
    }

    /// [`encode_intros`](Model::encode_intros) with a batch size and a progress closure.
    pub fn encode_intros_with<S: AsRef<str>>(
        &self,
        intros: &[S],
        options: &EncodeParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Embeddings> {
        let strings = intros
            .iter()
            .enumerate()
            .map(|(i, s)| c_string(&format!("intros[{}]", i), s.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let ptrs = pointers(&strings);
        let model = self.raw.as_ptr();
        // SAFETY: as in encode_posters_with.
        self.encode_ex(intros.len(), options, progress, |params, out, len| unsafe {
            sys::clipmatch_encode_intros_ex(model, ptrs.as_ptr(), ptrs.len(), params, out, len)
        })
    }

    /// Embeds posters given as encoded image files held in memory.
    pub fn encode_poster_bytes<B: AsRef<[u8]>>(&self, data: &[B]) -> Result<Embeddings> {
        self.encode_poster_bytes_with(data, &EncodeParams::default(), None)
    }

    /// [`encode_poster_bytes`](Model::encode_poster_bytes) with a batch size and a progress closure.
    pub fn encode_poster_bytes_with<B: AsRef<[u8]>>(
        &self,
        data: &[B],
        options: &EncodeParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Embeddings> {
        let ptrs: Vec<*const c_void> = data.iter().map(|b| b.as_ref().as_ptr() as *const c_void).collect();
        let sizes: Vec<usize> = data.iter().map(|b| b.as_ref().len()).collect();
        let model = self.raw.as_ptr();
        // SAFETY: data[i] holds sizes[i] bytes; out holds out_len floats; params outlive the call.
        self.encode_ex(data.len(), options, progress, |params, out, len| unsafe {
            sys::clipmatch_encode_poster_bytes_ex(model, ptrs.as_ptr(), sizes.as_ptr(), ptrs.len(), params, out, len)
        })
    }

    /// Embeds one decoded poster: `height` rows of `width` pixels, `stride` bytes from one row to the next,
    /// `channels` 3 (RGB) or 4 (RGBA, alpha composited over white). Same embedding as the poster's file.
    pub fn encode_poster_pixels(
        &self,
        pixels: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        channels: usize,
    ) -> Result<Embeddings> {
        // The library cannot know the slice's length: make sure every byte it may read is inside it.
        let needed = if width == 0 || height == 0 {
            0
        } else {
            product("pixels", height - 1, stride)?
                .checked_add(product("pixels", width, channels)?)
                .ok_or_else(|| Error::invalid("pixels: size overflows usize"))?
        };
        if pixels.len() < needed {
            return Err(Error::invalid(format!(
                "pixels: {} bytes given, but {} rows of stride {} with {} pixels × {} channels need {}",
                pixels.len(),
                height,
                stride,
                width,
                channels,
                needed
            )));
        }
        // SAFETY: pixels holds every byte the image spans (checked); out holds out_len floats.
        self.encode(1, |out, len| unsafe {
            sys::clipmatch_encode_poster_pixels(
                self.raw.as_ptr(),
                pixels.as_ptr(),
                width,
                height,
                stride,
                channels,
                out,
                len,
            )
        })
    }

    /// Trains on a dataset folder (movies.csv + train.txt) and returns the best epoch's metrics. A progress
    /// closure (stages "encode posters", "encode intros", "train") returning `false` cancels: the result is
    /// then `Err` with [`Status::Cancelled`] and the model keeps the best epoch reached (else its weights
    /// before). Takes `&mut self`: training needs the model to itself.
    pub fn train(
        &mut self,
        dataset_dir: impl AsRef<Path>,
        params: &TrainParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Metrics> {
        self.train_with_callbacks(dataset_dir, params, progress, None)
    }

    /// [`train`](Model::train) with a closure called after every epoch as well.
    pub fn train_with_callbacks(
        &mut self,
        dataset_dir: impl AsRef<Path>,
        params: &TrainParams,
        progress: Option<Progress<'_>>,
        on_epoch: Option<&mut dyn FnMut(&EpochMetrics)>,
    ) -> Result<Metrics> {
        let dataset_dir = c_path("dataset_dir", dataset_dir.as_ref())?;
        let run_dir = c_path("run_dir", &params.run_dir)?;
        let cache_dir = c_path_opt("cache_dir", &params.cache_dir)?;
        // SAFETY: the model's existence proves the ABI check passed.
        let mut raw = unsafe { sys::clipmatch_train_default_params() };
        raw.run_dir = run_dir.as_ptr();
        if let Some(dir) = &cache_dir {
            raw.cache_dir = dir.as_ptr();
        }
        if let Some(v) = params.epochs {
            raw.epochs = v;
        }
        if let Some(v) = params.batch_size {
            raw.batch_size = v;
        }
        if let Some(v) = params.learning_rate {
            raw.learning_rate = v;
        }
        if let Some(v) = params.encoder_learning_rate {
            raw.encoder_learning_rate = v;
        }
        if let Some(v) = params.weight_decay {
            raw.weight_decay = v;
        }
        if let Some(v) = params.schedule {
            raw.schedule = v.raw();
        }
        if let Some(v) = params.warmup_fraction {
            raw.warmup_fraction = v;
        }
        if let Some(v) = params.grad_clip_norm {
            raw.grad_clip_norm = v;
        }
        if let Some(v) = params.loss {
            raw.loss = v.raw();
        }
        if let Some(v) = params.freeze {
            raw.freeze = v.raw();
        }
        if let Some(v) = params.unfreeze_top {
            raw.unfreeze_top = v;
        }
        if let Some(v) = params.unfreeze_top_text {
            raw.unfreeze_top_text = v;
        }
        if let Some(v) = params.early_stopping_patience {
            raw.early_stopping_patience = v;
        }
        if let Some(v) = params.use_cache {
            raw.use_cache = v as c_int;
        }
        if let Some(v) = params.seed {
            raw.seed = v;
        }
        if let Some(v) = params.verbose {
            raw.verbose = v as c_int;
        }
        if let Some(v) = params.resume {
            raw.resume = v as c_int;
        }
        let has_epoch_callback = on_epoch.is_some();
        let mut state = CallbackState::new(progress, on_epoch);
        if state.active() {
            let user_data = state.user_data();
            // Installed with on_epoch too, so that a panic in on_epoch can cancel the training.
            raw.progress = Some(progress_trampoline);
            raw.progress_user_data = user_data;
            if has_epoch_callback {
                raw.on_epoch = Some(epoch_trampoline);
                raw.on_epoch_user_data = user_data;
            }
        }
        // SAFETY: ABI checked.
        let mut metrics = unsafe { sys::clipmatch_metrics_init() };
        // SAFETY: exclusive access (&mut self); raw, its strings and the callback state outlive the call, and
        // the callbacks run on this thread.
        let status = unsafe { sys::clipmatch_train(self.raw.as_ptr(), dataset_dir.as_ptr(), &raw, &mut metrics) };
        let result = check(status).map(|()| Metrics::from(metrics));
        state.finish(result)
    }

    /// Evaluates on a dataset folder (train / held-out / all splits); writes report files when
    /// [`EvalParams::out_dir`] is set. May run concurrently with other `&self` calls.
    pub fn evaluate(
        &self,
        dataset_dir: impl AsRef<Path>,
        params: &EvalParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Metrics> {
        let dataset_dir = c_path("dataset_dir", dataset_dir.as_ref())?;
        let out_dir = c_path_opt("out_dir", &params.out_dir)?;
        let cache_dir = c_path_opt("cache_dir", &params.cache_dir)?;
        // SAFETY: the model's existence proves the ABI check passed.
        let mut raw = unsafe { sys::clipmatch_eval_default_params() };
        if let Some(dir) = &out_dir {
            raw.out_dir = dir.as_ptr();
        }
        if let Some(dir) = &cache_dir {
            raw.cache_dir = dir.as_ptr();
        }
        if let Some(v) = params.distance {
            raw.distance = v.raw();
        }
        if let Some(v) = params.write_distance_npy {
            raw.write_distance_npy = v as c_int;
        }
        if let Some(v) = params.write_embeddings_npy {
            raw.write_embeddings_npy = v as c_int;
        }
        if let Some(v) = params.write_heatmap_png {
            raw.write_heatmap_png = v as c_int;
        }
        if let Some(v) = params.write_topk_csv {
            raw.write_topk_csv = v as c_int;
        }
        if let Some(v) = params.heatmap_size {
            raw.heatmap_size = v;
        }
        if let Some(v) = params.verbose {
            raw.verbose = v as c_int;
        }
        let mut state = CallbackState::new(progress, None);
        if state.active() {
            raw.progress = Some(progress_trampoline);
            raw.progress_user_data = state.user_data();
        }
        // SAFETY: ABI checked.
        let mut metrics = unsafe { sys::clipmatch_metrics_init() };
        // SAFETY: evaluate only reads the model (thread-safe per the header); everything outlives the call.
        let status = unsafe { sys::clipmatch_evaluate(self.raw.as_ptr(), dataset_dir.as_ptr(), &raw, &mut metrics) };
        let result = check(status).map(|()| Metrics::from(metrics));
        state.finish(result)
    }
}
