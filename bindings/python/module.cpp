// pybind11 module `clipmatch._clipmatch`: the public C++ API with NumPy arrays for matrices, Python callables for
// progress / per-epoch / log callbacks and Python exceptions (clipmatch.Error, clipmatch.Cancelled) for
// clipmatch::Error.
//
// Rules this file keeps:
//   * Every enumeration value the user spells as text goes through names.hpp (from_name / to_name /
//     enum_names); no choice is spelled here. Every default comes from the C++ option structs.
//   * The GIL is released around all library work (so other Python threads run, and so library threads that
//     call back into Python, e.g. the log sink, can never deadlock against a thread waiting in the library).
//   * Every long call (train, evaluate, encode_*) installs a C++ progress callback, even when the user passed
//     none: it re-acquires the GIL, runs pending signal handlers (PyErr_CheckSignals, so Ctrl-C in a notebook
//     works) and the user's callable. A Python exception there (KeyboardInterrupt, or one raised by the
//     user's callable) makes the callback return false, the library cancels cleanly, and the original
//     Python exception is re-raised once the C++ call has returned. A plain False from the callable raises
//     clipmatch.Cancelled.
//   * No Python object is touched without the GIL, and none outlives the interpreter (the log callback is
//     cleared by an atexit hook).
#include <clipmatch/catalog.hpp>
#include <clipmatch/dataset.hpp>
#include <clipmatch/distributed.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/image.hpp>
#include <clipmatch/log.hpp>
#include <clipmatch/metrics.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/names.hpp>
#include <clipmatch/search.hpp>
#include <clipmatch/synth.hpp>
#include <clipmatch/version.hpp>

#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;
using namespace clipmatch;

namespace {

// --- exceptions ------------------------------------------------------------------------------------------

// Module-lifetime exception types; deliberately never released (they must outlive every translator call).
PyObject* g_error = nullptr;
PyObject* g_cancelled = nullptr;

[[noreturn]] void invalid(const std::string& message) { throw Error(ErrorKind::InvalidArgument, message); }

bool interpreter_gone() {
#if PY_VERSION_HEX >= 0x030D0000
  return !Py_IsInitialized() || Py_IsFinalizing();
#else
  return !Py_IsInitialized() || _Py_IsFinalizing();
#endif
}

// --- text and paths --------------------------------------------------------------------------------------

// A Python str from library text that is UTF-8 except, possibly, for bytes of a file name.
py::str lenient_str(const std::string& text) {
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

// A path argument (str, bytes or os.PathLike) as the bytes the operating system uses.
std::string fspath(py::handle object, const char* what) {
  PyObject* path = PyOS_FSPath(object.ptr());
  if (path == nullptr) {
    PyErr_Clear();
    throw py::type_error(std::string(what) + " must be a str, bytes or os.PathLike path, got " +
                         std::string(py::str(py::type::handle_of(object).attr("__name__"))));
  }
  py::object owned = py::reinterpret_steal<py::object>(path);
  if (PyUnicode_Check(path)) {
    PyObject* encoded = PyUnicode_EncodeFSDefault(path);
    if (encoded == nullptr) throw py::error_already_set();
    owned = py::reinterpret_steal<py::object>(encoded);
  }
  char* data = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(owned.ptr(), &data, &size) != 0) throw py::error_already_set();
  return std::string(data, static_cast<std::size_t>(size));
}

bool is_single_path(py::handle object) {
  return PyUnicode_Check(object.ptr()) || PyBytes_Check(object.ptr()) || py::hasattr(object, "__fspath__");
}

std::vector<std::string> path_list(py::handle paths, const char* what) {
  if (is_single_path(paths))
    throw py::type_error(std::string(what) + " must be a list of paths, not a single path (wrap it: [path])");
  std::vector<std::string> out;
  std::size_t i = 0;
  for (py::handle item : paths) {
    const std::string name = std::string(what) + "[" + std::to_string(i++) + "]";
    out.push_back(fspath(item, name.c_str()));
  }
  return out;
}

std::vector<std::string> text_list(py::handle texts, const char* what) {
  if (PyUnicode_Check(texts.ptr()))
    throw py::type_error(std::string(what) + " must be a list of str, not a single str (wrap it: [text])");
  std::vector<std::string> out;
  std::size_t i = 0;
  for (py::handle item : texts) {
    if (!PyUnicode_Check(item.ptr()))
      throw py::type_error(std::string(what) + "[" + std::to_string(i) + "] must be str, got " +
                           std::string(py::str(py::type::handle_of(item).attr("__name__"))));
    out.push_back(item.cast<std::string>());
    ++i;
  }
  return out;
}

// --- enumerations ----------------------------------------------------------------------------------------

template <typename E>
py::dict name_table() {
  py::dict out;
  for (const auto& entry : enum_names<E>()) out[py::str(entry.name)] = py::str(entry.help);
  return out;
}

// The tables names() exposes, keyed by the option they belong to.
using TableFn = py::dict (*)();
const std::vector<std::pair<const char*, TableFn>>& name_tables() {
  static const std::vector<std::pair<const char*, TableFn>> tables = {
      {"device", &name_table<Device>},
      {"distance", &name_table<DistanceKind>},
      {"loss", &name_table<LossKind>},
      {"freeze", &name_table<FreezeMode>},
      {"schedule", &name_table<Schedule>},
      {"head", &name_table<HeadKind>},
      {"temperature", &name_table<TemperatureInit>},
      {"log_level", &name_table<LogLevel>},
      {"resize_filter", &name_table<ResizeFilter>},
      {"resize_mode", &name_table<ResizeMode>},
      {"encoder_side", &name_table<EncoderSide>},
      {"precision", &name_table<Precision>},
      {"index_kind", &name_table<IndexKind>},
  };
  return tables;
}

// An enum-valued attribute exposed as its name (str) with validation on assignment.
template <typename Class, typename E>
void enum_property(py::class_<Class>& cls, const char* name, E Class::*member, const char* doc) {
  const std::string field = name;
  cls.def_property(
      name, [member](const Class& c) { return std::string(to_name(c.*member)); },
      [member, field](Class& c, const std::string& value) { c.*member = from_name<E>(value, field); }, doc);
}

// --- reports as dicts ------------------------------------------------------------------------------------

py::dict retrieval_dict(const RetrievalMetrics& r) {
  py::dict d;
  d["r1"] = r.r1;
  d["r5"] = r.r5;
  d["r10"] = r.r10;
  d["median_rank"] = r.median_rank;
  d["mean_rank"] = r.mean_rank;
  return d;
}

py::dict splits_dict(const std::map<std::string, SplitMetrics>& splits) {
  py::dict out;
  for (const auto& [name, m] : splits) {
    py::dict split;
    split["n"] = m.n;
    split["acc_dim0"] = m.acc_dim0;
    split["acc_dim1"] = m.acc_dim1;
    split["poster_to_intro"] = retrieval_dict(m.poster_to_intro);
    split["intro_to_poster"] = retrieval_dict(m.intro_to_poster);
    out[py::str(name)] = split;
  }
  return out;
}

py::dict epoch_dict(const EpochLog& e) {
  py::dict d;
  d["epoch"] = e.epoch;
  d["train_loss"] = e.train_loss;
  d["learning_rate"] = e.learning_rate;
  d["temperature"] = e.temperature;
  d["seconds"] = e.seconds;
  d["splits"] = splits_dict(e.splits);
  return d;
}

py::dict train_report_dict(const TrainReport& r) {
  py::dict out;
  out["epochs_run"] = r.epochs_run;
  out["best_epoch"] = r.best_epoch;
  out["best_heldout_r1"] = r.best_heldout_r1;
  out["seconds"] = r.seconds;
  out["cache_dir"] = lenient_str(r.cache_dir);
  out["cache_hits"] = r.cache_hits;
  out["cache_misses"] = r.cache_misses;
  out["fusion_weight"] = r.fusion_weight;
  out["calibration_rows"] = r.calibration_rows;
  py::list history;
  for (const auto& epoch : r.history) history.append(epoch_dict(epoch));
  out["history"] = history;
  return out;
}

py::dict evaluation_dict(const EvaluationReport& r) {
  py::dict out;
  out["n"] = r.n;
  out["distance"] = to_name(r.distance);
  out["splits"] = splits_dict(r.splits);
  out["cache_hits"] = r.cache_hits;
  out["cache_misses"] = r.cache_misses;
  out["fusion_weight"] = r.fusion_weight;
  if (r.fusion_weight >= 0) {
    py::list texts;
    for (const auto& text : r.poster_text) texts.append(lenient_str(text.text()));
    out["poster_text"] = texts;
    out["ocr_cache_hits"] = r.ocr_cache_hits;
    out["posters_read"] = r.posters_read;
    out["ocr_seconds"] = r.ocr_seconds;
  }
  return out;
}

// --- callbacks into Python ---------------------------------------------------------------------------------

// The Python side of one long call: the user's progress / on_epoch callables and the first Python exception
// any callback raised (kept until the C++ call returns, then re-raised). Lives on the stack of the binding
// function for the whole C++ call; every member is only touched with the GIL held.
class PyCall {
 public:
  explicit PyCall(py::object progress, py::object on_epoch = py::none())
      : progress_(std::move(progress)), on_epoch_(std::move(on_epoch)) {
    if (!progress_.is_none() && !PyCallable_Check(progress_.ptr()))
      throw py::type_error("progress must be a callable(stage, done, total) or None");
    if (!on_epoch_.is_none() && !PyCallable_Check(on_epoch_.ptr()))
      throw py::type_error("on_epoch must be a callable(epoch: dict) or None");
  }
  PyCall(const PyCall&) = delete;
  PyCall& operator=(const PyCall&) = delete;

  bool has_on_epoch() const { return !on_epoch_.is_none(); }

  // Always installed: checks for signals (Ctrl-C) even when the user passed no callable.
  ProgressCallback progress_callback() {
    return [this](const std::string& stage, std::size_t done, std::size_t total) -> bool {
      py::gil_scoped_acquire gil;
      if (pending_) return false;
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (progress_.is_none()) return true;
        py::object result = progress_(lenient_str(stage), done, total);
        if (result.is_none()) return true;
        const int truth = PyObject_IsTrue(result.ptr());
        if (truth < 0) throw py::error_already_set();
        return truth != 0;  // False: a plain cancel, raised as clipmatch.Cancelled
      } catch (py::error_already_set& e) {
        pending_.emplace(std::move(e));
      } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        pending_.emplace();
      }
      return false;
    };
  }

  // An exception in on_epoch cannot stop the library directly (the observer returns nothing): it is kept, the
  // next progress call cancels, and it is re-raised after the call.
  std::function<void(const EpochLog&)> epoch_callback() {
    return [this](const EpochLog& log) {
      py::gil_scoped_acquire gil;
      if (pending_) return;
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        on_epoch_(epoch_dict(log));
      } catch (py::error_already_set& e) {
        pending_.emplace(std::move(e));
      } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        pending_.emplace();
      }
    };
  }

  // Runs `work` with the GIL released. A Python exception kept by a callback wins over whatever the library
  // reported (normally Error(Cancelled)) and over a normal return.
  template <typename Work>
  auto run(Work&& work) -> decltype(work()) {
    std::optional<decltype(work())> result;
    try {
      py::gil_scoped_release release;
      result.emplace(work());
    } catch (...) {
      rethrow_pending();
      throw;
    }
    rethrow_pending();
    return std::move(*result);
  }

 private:
  void rethrow_pending() {
    if (!pending_) return;
    py::error_already_set error = std::move(*pending_);
    pending_.reset();
    throw error;
  }

  py::object progress_;
  py::object on_epoch_;
  std::optional<py::error_already_set> pending_;
};

template <typename Work>
auto without_gil(Work&& work) -> decltype(work()) {
  py::gil_scoped_release release;
  return work();
}

// The Python callable behind the log sink. Deleted with the GIL (the library may drop its copy on any thread),
// and leaked rather than touched once the interpreter is going away.
std::shared_ptr<py::object> hold_callable(py::object fn) {
  return std::shared_ptr<py::object>(new py::object(std::move(fn)), [](py::object* p) {
    if (interpreter_gone()) return;  // leak: too late to decref
    py::gil_scoped_acquire gil;
    delete p;
  });
}

void install_log_callback(py::object fn) {
  LogCallback callback;
  if (!fn.is_none()) {
    if (!PyCallable_Check(fn.ptr())) throw py::type_error("set_log_callback takes a callable(level, message) or None");
    auto holder = hold_callable(std::move(fn));
    callback = [holder](LogLevel level, const std::string& message) {
      if (interpreter_gone()) return;
      py::gil_scoped_acquire gil;
      try {
        (*holder)(py::str(to_name(level)), lenient_str(message));
      } catch (py::error_already_set& e) {
        // Ctrl-C may land in the callback's Python code (it runs on the main thread too): it cannot propagate
        // from here, so it is re-armed for the next signal check (the progress hook then cancels the call).
        if (e.matches(PyExc_KeyboardInterrupt))
          PyErr_SetInterrupt();
        else
          e.discard_as_unraisable("clipmatch log callback");
      } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        PyErr_WriteUnraisable(holder->ptr());
      }
    };
  }
  // Released: a library thread may be inside the current callback, waiting for the GIL.
  py::gil_scoped_release release;
  set_log_callback(std::move(callback));
}

// --- arrays -----------------------------------------------------------------------------------------------

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

void require_matrix(const FloatArray& a, const char* what) {
  if (a.ndim() != 2)
    invalid(std::string(what) + " must be a 2-D array [rows, dim], got " + std::to_string(a.ndim()) + " dimension(s)");
}

Embeddings to_matrix(const FloatArray& a) {
  return Eigen::Map<const Matrix>(a.data(), a.shape(0), a.shape(1));
}

// Keeps the buffers of encoded images (bytes, bytearray, memoryview, …) exported for the duration of a call.
class HeldBuffers {
 public:
  HeldBuffers() = default;
  HeldBuffers(const HeldBuffers&) = delete;
  HeldBuffers& operator=(const HeldBuffers&) = delete;
  ~HeldBuffers() {
    for (auto& view : views_) PyBuffer_Release(view.get());
  }
  EncodedImage add(py::handle object, std::size_t index) {
    if (PyUnicode_Check(object.ptr()))
      throw py::type_error("images[" + std::to_string(index) + "] must be bytes (an encoded image file), got str");
    auto view = std::make_unique<Py_buffer>();
    if (PyObject_GetBuffer(object.ptr(), view.get(), PyBUF_C_CONTIGUOUS) != 0) throw py::error_already_set();
    views_.push_back(std::move(view));
    const Py_buffer& v = *views_.back();
    return EncodedImage{static_cast<const std::uint8_t*>(v.buf), static_cast<std::size_t>(v.len)};
  }

 private:
  std::vector<std::unique_ptr<Py_buffer>> views_;
};

bool is_bytes_like(py::handle object) {
  return PyBytes_Check(object.ptr()) || PyByteArray_Check(object.ptr()) || PyMemoryView_Check(object.ptr());
}

// Pixel arrays: uint8 [H, W, 3|4] (or [N, H, W, 3|4]) with contiguous pixels; rows may be strided (a view of a
// wider image). Anything else that is uint8 is copied to C order first; other dtypes are refused.
class HeldPixels {
 public:
  void add(py::handle object) {
    py::array array = py::array::ensure(object);
    if (!array) throw py::type_error("images must be NumPy uint8 arrays [H, W, 3|4]");
    if (!py::array_t<std::uint8_t>::check_(array))
      invalid("pixel arrays must have dtype uint8, got " + std::string(py::str(array.dtype())) +
              " (convert with .astype(numpy.uint8) after scaling to 0..255)");
    if (array.ndim() == 4) {
      for (py::ssize_t i = 0; i < array.shape(0); ++i) {
        py::object image = array[py::int_(i)];
        add_image(py::array::ensure(image));
      }
    } else {
      add_image(array);
    }
  }
  const std::vector<PixelView>& views() const { return views_; }

 private:
  void add_image(py::array array) {
    if (array.ndim() != 3)
      invalid("a pixel array must be [H, W, 3] or [H, W, 4] (or a stack [N, H, W, C]), got " +
              std::to_string(array.ndim()) + " dimension(s)");
    const py::ssize_t height = array.shape(0), width = array.shape(1), channels = array.shape(2);
    if (channels != 3 && channels != 4)
      invalid("a pixel array must have 3 (RGB) or 4 (RGBA) channels, got " + std::to_string(channels));
    const bool rows_ok = array.strides(2) == 1 && array.strides(1) == channels &&
                         array.strides(0) >= width * channels;
    if (!rows_ok) array = py::array_t<std::uint8_t, py::array::c_style>::ensure(array);
    if (!array) throw py::type_error("cannot make a C-contiguous uint8 copy of a pixel array");
    arrays_.push_back(array);
    views_.push_back(PixelView{static_cast<const std::uint8_t*>(array.data()), static_cast<std::size_t>(width),
                               static_cast<std::size_t>(height), static_cast<std::size_t>(array.strides(0)),
                               static_cast<std::size_t>(channels)});
  }

  std::vector<py::array> arrays_;
  std::vector<PixelView> views_;
};

// --- the model --------------------------------------------------------------------------------------------

// clipmatch::Model plus a use count, so that misuse from several Python threads (or from a callback) is an
// error instead of undefined behaviour: encode/evaluate/save share the model, train needs it alone.
struct PyModel {
  explicit PyModel(Model m) : model(std::move(m)) {}
  Model model;
  std::mutex mutex;
  int readers = 0;
  bool training = false;
};

class SharedUse {
 public:
  explicit SharedUse(PyModel& m) : m_(m) {
    std::lock_guard<std::mutex> lock(m_.mutex);
    if (m_.training)
      invalid("this Model is being trained by another call; encode, evaluate and save it after train() returns");
    ++m_.readers;
  }
  ~SharedUse() {
    std::lock_guard<std::mutex> lock(m_.mutex);
    --m_.readers;
  }
  SharedUse(const SharedUse&) = delete;
  SharedUse& operator=(const SharedUse&) = delete;

 private:
  PyModel& m_;
};

class ExclusiveUse {
 public:
  explicit ExclusiveUse(PyModel& m) : m_(m) {
    std::lock_guard<std::mutex> lock(m_.mutex);
    if (m_.training || m_.readers > 0)
      invalid("train() needs the Model to itself, but another call (train, encode_*, evaluate or save) is using it");
    m_.training = true;
  }
  ~ExclusiveUse() {
    std::lock_guard<std::mutex> lock(m_.mutex);
    m_.training = false;
  }
  ExclusiveUse(const ExclusiveUse&) = delete;
  ExclusiveUse& operator=(const ExclusiveUse&) = delete;

 private:
  PyModel& m_;
};

std::string repr_model_config(const ModelConfig& c) {
  return "ModelConfig(image_encoder='" + c.image_encoder.to_string() + "', text_encoder='" +
         c.text_encoder.to_string() + "', embed_dim=" + std::to_string(c.embed_dim) + ", head='" +
         to_name(c.head) + "', mlp_hidden=" + std::to_string(c.mlp_hidden) + ", temperature='" +
         to_name(c.temperature) + "', max_text_tokens=" + std::to_string(c.max_text_tokens) +
         ", use_pretrained_projection=" + (c.use_pretrained_projection ? "True" : "False") +
         ", seed=" + std::to_string(c.seed) + ")";
}

std::string py_repr(const py::object& o) { return std::string(py::repr(o)); }

const char* kThreadsNote =
    "\n\nThreads: the GIL is released while the library works, and one Model may run encode_*, evaluate and "
    "save from several Python threads at once (the results equal serial calls). train() needs the Model to "
    "itself: calling anything else on it while it trains raises clipmatch.Error.";

const char* kProgressNote =
    "\n\nprecision: names('precision') — 'fp32' (default), 'bf16' or 'int8' (CPU).\n\nprogress: None or a callable(stage: str, done: int, total: int) returning None/True to go on or False "
    "to cancel (raises clipmatch.Cancelled). An exception raised by the callable, and KeyboardInterrupt "
    "(Ctrl-C), cancel the call cleanly and are re-raised; the Model stays usable.";

}  // namespace

PYBIND11_MODULE(_clipmatch, m) {
  m.doc() =
      "clipmatch native module: match movie posters to their synopses, CLIP-style. Use it through the "
      "`clipmatch` package.";

  // --- errors ---
  g_error = PyErr_NewExceptionWithDoc(
      "clipmatch.Error",
      "Every failure the library reports: the message names what went wrong and where (file, row, field).",
      nullptr, nullptr);
  if (g_error == nullptr) throw py::error_already_set();
  g_cancelled = PyErr_NewExceptionWithDoc(
      "clipmatch.Cancelled",
      "A progress callback returned False: the call stopped, leaving only complete files and a usable model.",
      g_error, nullptr);
  if (g_cancelled == nullptr) throw py::error_already_set();
  m.attr("Error") = py::handle(g_error);
  m.attr("Cancelled") = py::handle(g_cancelled);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(e.kind() == ErrorKind::Cancelled ? g_cancelled : g_error, e.what());
    }
  });

  // --- library facts ---
  m.def("version", &version, "The library version, 'MAJOR.MINOR.PATCH'.");
  m.def("build_info", &build_info,
        "One line naming the LibTorch version, whether CUDA is usable and how many CPU threads compute uses.");
  m.def(
      "encoder_kinds",
      [] {
        py::list out;
        for (const auto& kind : encoder_kinds()) {
          py::dict d;
          d["name"] = kind.name;
          d["side"] = to_name(kind.side);
          d["needs_path"] = kind.needs_path;
          d["description"] = kind.description;
          out.append(d);
        }
        return out;
      },
      "Every encoder kind as a dict(name, side, needs_path, description). `side` is one of names('encoder_side'); "
      "kinds with needs_path are written 'KIND:PATH' (a checkpoint folder), the others just 'KIND'.");
  m.def(
      "names",
      [](py::object kind) -> py::object {
        if (kind.is_none()) {
          py::dict all;
          for (const auto& [name, table] : name_tables()) all[py::str(name)] = table();
          return std::move(all);
        }
        const std::string wanted = kind.cast<std::string>();
        std::string known;
        for (const auto& [name, table] : name_tables()) {
          if (wanted == name) return table();
          known += (known.empty() ? "" : ", ") + std::string(name);
        }
        invalid("kind must be one of " + known + ", got '" + wanted + "'");
      },
      py::arg("kind") = py::none(),
      "The accepted names of a text-valued option, in documentation order, as a dict name -> short help: "
      "names('loss'), names('freeze'), names('distance'), names('device'), … names() returns every table.");

  m.def("set_log_callback", &install_log_callback, py::arg("callback"),
        "Routes the library's messages (progress lines, one line per epoch with verbose=True, warnings) to "
        "callback(level: str, message: str), level being one of names('log_level'); None restores the default "
        "(standard error). The callback may be called from library threads (it runs with the GIL, calls are "
        "serialised); exceptions it raises are reported as unraisable and otherwise ignored. Cleared "
        "automatically at interpreter exit.");
  py::module_::import("atexit").attr("register")(py::cpp_function([] {
    py::gil_scoped_release release;
    set_log_callback(nullptr);
  }));

  // --- configuration ---
  const ModelConfig model_defaults{};
  py::class_<ModelConfig> model_config(m, "ModelConfig",
                                       "Encoders, heads and temperature of a new model. Attributes are readable and "
                                       "writable; enum-valued ones take the names listed by clipmatch.names().");
  model_config
      .def(py::init([](const std::string& image_encoder, const std::string& text_encoder, std::int64_t embed_dim,
                       const std::string& head, std::int64_t mlp_hidden, const std::string& temperature,
                       std::int64_t max_text_tokens, std::uint64_t seed, bool use_pretrained_projection) {
             ModelConfig c;
             c.image_encoder = EncoderSpec::parse(image_encoder);
             c.text_encoder = EncoderSpec::parse(text_encoder);
             c.embed_dim = embed_dim;
             c.head = from_name<HeadKind>(head, "head");
             c.mlp_hidden = mlp_hidden;
             c.temperature = from_name<TemperatureInit>(temperature, "temperature");
             c.max_text_tokens = max_text_tokens;
             c.seed = seed;
             c.use_pretrained_projection = use_pretrained_projection;
             return c;
           }),
           py::arg("image_encoder") = model_defaults.image_encoder.to_string(),
           py::arg("text_encoder") = model_defaults.text_encoder.to_string(),
           py::arg("embed_dim") = model_defaults.embed_dim, py::arg("head") = to_name(model_defaults.head),
           py::arg("mlp_hidden") = model_defaults.mlp_hidden,
           py::arg("temperature") = to_name(model_defaults.temperature),
           py::arg("max_text_tokens") = model_defaults.max_text_tokens, py::arg("seed") = model_defaults.seed,
           py::arg("use_pretrained_projection") = model_defaults.use_pretrained_projection,
           "image_encoder / text_encoder: 'KIND' or 'KIND:PATH' with a kind from encoder_kinds() "
           "(from-scratch presets 'tiny_cnn', 'tiny_text'; pretrained ones need the checkpoint folder). "
           "head: names('head'); temperature: names('temperature'); max_text_tokens 0 = the text encoder's own "
           "default.")
      .def_property(
          "image_encoder", [](const ModelConfig& c) { return c.image_encoder.to_string(); },
          [](ModelConfig& c, const std::string& v) { c.image_encoder = EncoderSpec::parse(v); },
          "Poster encoder, 'KIND' or 'KIND:PATH'.")
      .def_property(
          "text_encoder", [](const ModelConfig& c) { return c.text_encoder.to_string(); },
          [](ModelConfig& c, const std::string& v) { c.text_encoder = EncoderSpec::parse(v); },
          "Intro encoder, 'KIND' or 'KIND:PATH'.")
      .def_readwrite("embed_dim", &ModelConfig::embed_dim, "Width of the shared embedding space.")
      .def_readwrite("mlp_hidden", &ModelConfig::mlp_hidden, "Hidden width of 'mlp' heads.")
      .def_readwrite("max_text_tokens", &ModelConfig::max_text_tokens,
                     "Token limit of intros; 0 = the text encoder's default.")
      .def_readwrite("use_pretrained_projection", &ModelConfig::use_pretrained_projection,
                     "'clip' towers used zero-shot: CLIP's own projections as heads.")
      .def_readwrite("seed", &ModelConfig::seed, "Seed of the heads' initialisation.")
      .def("__repr__", &repr_model_config);
  enum_property(model_config, "head", &ModelConfig::head, "Projection head kind: names('head').");
  enum_property(model_config, "temperature", &ModelConfig::temperature,
                "Initial temperature: names('temperature').");

  py::class_<DistributedOptions>(
      m, "DistributedOptions",
      "This process as one rank of a data-parallel training run (docs/distributed.md). world_size 1 = alone. "
      "Under torchrun or SLURM use DistributedOptions.from_environment().")
      .def(py::init([](int rank, int world_size, int local_rank, const std::string& master_addr, int master_port,
                       double timeout_seconds) {
             DistributedOptions o;
             o.rank = rank;
             o.world_size = world_size;
             o.local_rank = local_rank;
             o.master_addr = master_addr;
             o.master_port = master_port;
             o.timeout_seconds = timeout_seconds;
             o.validate();
             return o;
           }),
           py::kw_only(), py::arg("rank") = 0, py::arg("world_size") = 1, py::arg("local_rank") = 0,
           py::arg("master_addr") = DistributedOptions{}.master_addr,
           py::arg("master_port") = DistributedOptions{}.master_port,
           py::arg("timeout_seconds") = DistributedOptions{}.timeout_seconds)
      .def_static("from_environment", &DistributedOptions::from_environment,
                  "From RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (unset: the defaults).")
      .def_readwrite("rank", &DistributedOptions::rank)
      .def_readwrite("world_size", &DistributedOptions::world_size)
      .def_readwrite("local_rank", &DistributedOptions::local_rank)
      .def_readwrite("master_addr", &DistributedOptions::master_addr)
      .def_readwrite("master_port", &DistributedOptions::master_port)
      .def_readwrite("timeout_seconds", &DistributedOptions::timeout_seconds,
                     "How long a collective waits for the other ranks before the run fails.")
      .def_property_readonly("enabled", &DistributedOptions::enabled)
      .def("__repr__", [](const DistributedOptions& o) {
        return "DistributedOptions(rank=" + std::to_string(o.rank) + ", world_size=" + std::to_string(o.world_size) +
               ", local_rank=" + std::to_string(o.local_rank) + ", master_addr='" + o.master_addr +
               "', master_port=" + std::to_string(o.master_port) + ")";
      });
  m.def("distributed_available", [] { return distributed_available(); },
        "Whether this library can train across processes (LibTorch's Gloo backend at build time).");

  const TrainOptions train_defaults{};
  py::class_<TrainOptions> train_options(
      m, "TrainOptions",
      "Training settings (the same as `clipmatch train` options). Attributes are readable and writable; "
      "enum-valued ones take the names listed by clipmatch.names().");
  train_options
      .def(py::init([](py::object run_dir, int epochs, int batch_size, double lr, double encoder_lr,
                       double weight_decay, double warmup, const std::string& schedule, double grad_clip,
                       const std::string& loss, const std::string& freeze, int unfreeze_top, int unfreeze_top_text,
                       int early_stopping, py::object cache_dir, bool use_cache, std::uint64_t seed, bool verbose,
                       double plateau_factor, int plateau_patience, double genre_positive_weight,
                       bool mixed_precision, int eval_every, bool resume, const std::string& precision, bool ocr,
                       double fusion_weight) {
             TrainOptions o;
             o.precision = from_name<Precision>(precision, "precision");
             o.ocr.enabled = ocr;
             o.ocr.fusion_weight = fusion_weight;
             o.run_dir = fspath(run_dir, "run_dir");
             o.epochs = epochs;
             o.batch_size = batch_size;
             o.learning_rate = lr;
             o.encoder_learning_rate = encoder_lr;
             o.weight_decay = weight_decay;
             o.warmup_fraction = warmup;
             o.schedule = from_name<Schedule>(schedule, "schedule");
             o.grad_clip_norm = grad_clip;
             o.loss = from_name<LossKind>(loss, "loss");
             o.freeze = from_name<FreezeMode>(freeze, "freeze");
             o.unfreeze_top = unfreeze_top;
             o.unfreeze_top_text = unfreeze_top_text;
             o.early_stopping_patience = early_stopping;
             o.cache_dir = cache_dir.is_none() ? std::string() : fspath(cache_dir, "cache_dir");
             o.use_cache = use_cache;
             o.seed = seed;
             o.verbose = verbose;
             o.plateau_factor = plateau_factor;
             o.plateau_patience = plateau_patience;
             o.genre_positive_weight = genre_positive_weight;
             o.mixed_precision = mixed_precision;
             o.eval_every = eval_every;
             o.resume = resume;
             return o;
           }),
           py::arg("run_dir"), py::kw_only(), py::arg("epochs") = train_defaults.epochs,
           py::arg("batch_size") = train_defaults.batch_size, py::arg("lr") = train_defaults.learning_rate,
           py::arg("encoder_lr") = train_defaults.encoder_learning_rate,
           py::arg("weight_decay") = train_defaults.weight_decay, py::arg("warmup") = train_defaults.warmup_fraction,
           py::arg("schedule") = to_name(train_defaults.schedule), py::arg("grad_clip") = train_defaults.grad_clip_norm,
           py::arg("loss") = to_name(train_defaults.loss), py::arg("freeze") = to_name(train_defaults.freeze),
           py::arg("unfreeze_top") = train_defaults.unfreeze_top,
           py::arg("unfreeze_top_text") = train_defaults.unfreeze_top_text,
           py::arg("early_stopping") = train_defaults.early_stopping_patience,
           py::arg("cache_dir") = train_defaults.cache_dir, py::arg("use_cache") = train_defaults.use_cache,
           py::arg("seed") = train_defaults.seed, py::arg("verbose") = train_defaults.verbose,
           py::arg("plateau_factor") = train_defaults.plateau_factor,
           py::arg("plateau_patience") = train_defaults.plateau_patience,
           py::arg("genre_positive_weight") = train_defaults.genre_positive_weight,
           py::arg("mixed_precision") = train_defaults.mixed_precision,
           py::arg("eval_every") = train_defaults.eval_every, py::arg("resume") = train_defaults.resume,
           py::arg("precision") = to_name(train_defaults.precision), py::arg("ocr") = train_defaults.ocr.enabled,
           py::arg("fusion_weight") = train_defaults.ocr.fusion_weight,
           "run_dir: the run folder (checkpoints, epochs.jsonl, evaluation outputs). lr: heads and temperature; "
           "encoder_lr: unfrozen encoder blocks; warmup: fraction of steps; schedule: names('schedule'); "
           "grad_clip: max gradient norm (0 = off); loss: names('loss'); freeze: names('freeze'); unfreeze_top / "
           "unfreeze_top_text: trainable top blocks with freeze='top-k' (-1 = unfreeze_top); early_stopping: "
           "epochs without held-out improvement before stopping (0 = off); cache_dir: feature cache folder "
           "('' = <run_dir>/../.clipmatch-cache); verbose: one line per epoch to the log sink; resume: continue the "
           "interrupted run in run_dir from its last completed epoch. ocr: the poster-text channel (Tesseract reads "
           "each poster; score = cos + w·bm25 in the final evaluation); fusion_weight: w, negative = learned on a "
           "calibration slice of the training rows held back from the heads.")
      .def_property(
          "run_dir", [](const TrainOptions& o) { return lenient_str(o.run_dir); },
          [](TrainOptions& o, py::object v) { o.run_dir = fspath(v, "run_dir"); }, "Run folder.")
      .def_readwrite("epochs", &TrainOptions::epochs)
      .def_readwrite("batch_size", &TrainOptions::batch_size)
      .def_readwrite("lr", &TrainOptions::learning_rate, "Learning rate of the heads and the temperature.")
      .def_readwrite("encoder_lr", &TrainOptions::encoder_learning_rate, "Learning rate of unfrozen encoder blocks.")
      .def_readwrite("weight_decay", &TrainOptions::weight_decay)
      .def_readwrite("warmup", &TrainOptions::warmup_fraction, "Warm-up as a fraction of all steps.")
      .def_readwrite("grad_clip", &TrainOptions::grad_clip_norm, "Maximum gradient norm; 0 disables clipping.")
      .def_readwrite("unfreeze_top", &TrainOptions::unfreeze_top)
      .def_readwrite("unfreeze_top_text", &TrainOptions::unfreeze_top_text)
      .def_readwrite("early_stopping", &TrainOptions::early_stopping_patience,
                     "Epochs without held-out improvement before stopping; 0 = off.")
      .def_property(
          "cache_dir", [](const TrainOptions& o) { return lenient_str(o.cache_dir); },
          [](TrainOptions& o, py::object v) { o.cache_dir = v.is_none() ? std::string() : fspath(v, "cache_dir"); },
          "Feature cache folder; '' = <run_dir>/../.clipmatch-cache.")
      .def_readwrite("use_cache", &TrainOptions::use_cache)
      .def_readwrite("seed", &TrainOptions::seed)
      .def_readwrite("verbose", &TrainOptions::verbose)
      .def_readwrite("plateau_factor", &TrainOptions::plateau_factor)
      .def_readwrite("plateau_patience", &TrainOptions::plateau_patience)
      .def_readwrite("genre_positive_weight", &TrainOptions::genre_positive_weight)
      .def_readwrite("mixed_precision", &TrainOptions::mixed_precision)
      .def_readwrite("eval_every", &TrainOptions::eval_every)
      .def_readwrite("resume", &TrainOptions::resume,
                     "Continue the run in run_dir from its last completed epoch (run_dir/resume.safetensors).")
      .def_property(
          "ocr", [](const TrainOptions& o) { return o.ocr.enabled; },
          [](TrainOptions& o, bool on) { o.ocr.enabled = on; }, "The poster-text channel (OCR + BM25 fusion).")
      .def_property(
          "fusion_weight", [](const TrainOptions& o) { return o.ocr.fusion_weight; },
          [](TrainOptions& o, double w) { o.ocr.fusion_weight = w; },
          "Text-channel weight w; negative = learned on a calibration slice.")
      .def_property(
          "calibration_fraction", [](const TrainOptions& o) { return o.ocr.calibration_fraction; },
          [](TrainOptions& o, double f) { o.ocr.calibration_fraction = f; },
          "Share of the training rows held back from the heads to learn w.");
  train_options.def_readwrite("distributed", &TrainOptions::distributed,
                              "DistributedOptions: this process as one rank of a data-parallel run (default: alone).");
  enum_property(train_options, "schedule", &TrainOptions::schedule, "Learning-rate schedule: names('schedule').");
  enum_property(train_options, "loss", &TrainOptions::loss, "Contrastive loss: names('loss').");
  enum_property(train_options, "freeze", &TrainOptions::freeze, "What trains of the encoders: names('freeze').");
  enum_property(train_options, "precision", &TrainOptions::precision,
                "How frozen encoders compute the cached features and how epochs are evaluated: names('precision').");
  train_options.def("__repr__", [](py::object self) {
    static const char* fields[] = {"run_dir", "epochs", "batch_size", "lr", "encoder_lr", "weight_decay", "warmup",
                                   "schedule", "grad_clip", "loss", "freeze", "unfreeze_top", "unfreeze_top_text",
                                   "early_stopping", "cache_dir", "use_cache", "seed", "verbose", "resume", "precision",
                                   "ocr", "fusion_weight"};
    std::string out = "TrainOptions(";
    bool first = true;
    for (const char* field : fields) {
      out += (first ? "" : ", ") + std::string(field) + "=" + py_repr(self.attr(field));
      first = false;
    }
    return out + ")";
  });

  // --- datasets ---
  py::class_<Dataset>(m, "Dataset",
                      "A loaded dataset folder (movies.csv + optional train.txt). Read-only; len() is the number of "
                      "movies, d[i] one movie as a dict.")
      .def_property_readonly("root", [](const Dataset& d) { return lenient_str(d.root); }, "The folder, absolute.")
      .def_readonly("train", &Dataset::train, "Indices of the training movies, ascending (empty: no split).")
      .def("heldout", &Dataset::heldout, "Indices of the movies not in train, ascending.")
      .def("__len__", [](const Dataset& d) { return d.movies.size(); })
      .def("__getitem__",
           [](const Dataset& d, py::ssize_t i) {
             const auto n = static_cast<py::ssize_t>(d.movies.size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw py::index_error("movie index out of range");
             const Movie& movie = d.movies[static_cast<std::size_t>(i)];
             py::dict out;
             out["poster"] = lenient_str(movie.poster);
             out["intro"] = movie.intro;
             out["title"] = movie.title;
             out["genres"] = movie.genres;
             out["movie_id"] = movie.movie_id;
             out["year"] = movie.year;
             out["row"] = movie.row;
             return out;
           })
      .def_property_readonly(
          "posters",
          [](const Dataset& d) {
            py::list out;
            for (const auto& movie : d.movies) out.append(lenient_str(movie.poster));
            return out;
          },
          "Poster paths, one per movie.")
      .def_property_readonly(
          "intros",
          [](const Dataset& d) {
            std::vector<std::string> out;
            for (const auto& movie : d.movies) out.push_back(movie.intro);
            return out;
          },
          "Intros (synopses), one per movie.")
      .def_property_readonly("titles",
                             [](const Dataset& d) {
                               std::vector<std::string> out;
                               for (const auto& movie : d.movies) out.push_back(movie.title);
                               return out;
                             })
      .def_property_readonly("genres",
                             [](const Dataset& d) {
                               std::vector<std::vector<std::string>> out;
                               for (const auto& movie : d.movies) out.push_back(movie.genres);
                               return out;
                             })
      .def_property_readonly("movie_ids",
                             [](const Dataset& d) {
                               std::vector<std::string> out;
                               for (const auto& movie : d.movies) out.push_back(movie.movie_id);
                               return out;
                             })
      .def_property_readonly("years",
                             [](const Dataset& d) {
                               std::vector<int> out;
                               for (const auto& movie : d.movies) out.push_back(movie.year);
                               return out;
                             })
      .def("__repr__", [](const Dataset& d) {
        return "<clipmatch.Dataset " + std::to_string(d.movies.size()) + " movies (" +
               std::to_string(d.train.size()) + " train) in " + d.root + ">";
      });

  const OcrOptions ocr_defaults{};
  m.def(
      "ocr_available",
      []() {
        std::string why;
        const bool available = ocr_available({}, &why);
        return py::make_tuple(available, why);
      },
      "(True, '') when this library can read posters (built with Tesseract, English data installed), else "
      "(False, why).");
  m.def(
      "read_poster_text",
      [](py::object paths, int min_height, std::vector<int> page_modes, bool title_bands, float min_confidence,
         py::object cache_dir, std::size_t threads, py::object progress) {
        OcrOptions options;
        options.min_height = min_height;
        options.page_modes = std::move(page_modes);
        options.title_bands = title_bands;
        options.min_confidence = min_confidence;
        options.cache_dir = cache_dir.is_none() ? std::string() : fspath(cache_dir, "cache_dir");
        options.threads = threads;
        std::vector<std::string> files;
        for (const auto& item : paths) files.push_back(fspath(py::reinterpret_borrow<py::object>(item), "paths"));
        PyCall call(std::move(progress));
        const auto callback = call.progress_callback();
        const auto texts = call.run([&] { return read_poster_text(files, options, callback); });
        py::list out;
        for (const auto& text : texts) {
          py::list words;
          for (const auto& word : text.words) words.append(py::make_tuple(lenient_str(word.text), word.confidence));
          out.append(words);
        }
        return out;
      },
      py::arg("paths"), py::kw_only(), py::arg("min_height") = ocr_defaults.min_height,
      py::arg("page_modes") = ocr_defaults.page_modes, py::arg("title_bands") = ocr_defaults.title_bands,
      py::arg("min_confidence") = ocr_defaults.min_confidence, py::arg("cache_dir") = py::none(),
      py::arg("threads") = ocr_defaults.threads, py::arg("progress") = py::none(),
      "The words printed on each poster image file, as a list per poster of (word, confidence 0-100) tuples, read "
      "with Tesseract (upscaled to min_height, one pass per page-segmentation mode, plus the top and bottom bands "
      "with title_bands). cache_dir keeps the readings by image content. Progress stage 'read posters'.");

  const DatasetOptions dataset_defaults{};
  m.def(
      "load_dataset",
      [](py::object folder, bool skip_bad_rows, bool check_posters_exist) {
        DatasetOptions options;
        options.skip_bad_rows = skip_bad_rows;
        options.check_posters_exist = check_posters_exist;
        const std::string path = fspath(folder, "folder");
        DatasetReport report;
        Dataset data = without_gil([&] { return load_dataset(path, options, &report); });
        if (report.rows_skipped > 0 || report.train_dropped > 0) {
          std::string message = "clipmatch.load_dataset skipped " + std::to_string(report.rows_skipped) +
                                " bad row(s) of " + std::to_string(report.rows_read);
          for (std::size_t i = 0; i < report.messages.size() && i < 5; ++i) message += "\n  " + report.messages[i];
          if (report.messages.size() > 5) message += "\n  …";
          if (PyErr_WarnEx(PyExc_UserWarning, message.c_str(), 1) != 0) throw py::error_already_set();
        }
        return data;
      },
      py::arg("folder"), py::arg("skip_bad_rows") = dataset_defaults.skip_bad_rows,
      py::arg("check_posters_exist") = dataset_defaults.check_posters_exist,
      "Loads movies.csv (+ train.txt) from a folder; raises clipmatch.Error naming file and line. With "
      "skip_bad_rows, malformed rows are dropped and a UserWarning lists them.");

  const SynthOptions synth_defaults{};
  m.def(
      "synthesize_dataset",
      [](py::object out, std::size_t n, std::uint64_t seed, int width, int height, double train_fraction,
         int jpeg_quality) {
        SynthOptions options;
        options.out = fspath(out, "out");
        options.n = n;
        options.seed = seed;
        options.width = width;
        options.height = height;
        options.train_fraction = train_fraction;
        options.jpeg_quality = jpeg_quality;
        SynthReport report = without_gil([&] { return synthesize_dataset(options); });
        return lenient_str(report.folder);
      },
      py::arg("out"), py::arg("n") = synth_defaults.n, py::arg("seed") = synth_defaults.seed, py::kw_only(),
      py::arg("width") = synth_defaults.width, py::arg("height") = synth_defaults.height,
      py::arg("train_fraction") = synth_defaults.train_fraction, py::arg("jpeg_quality") = synth_defaults.jpeg_quality,
      "Writes a synthetic poster/synopsis dataset (movies.csv, train.txt, posters/*.jpg) into `out` and returns "
      "its absolute path; the same arguments give the same bytes on every platform.");

  // --- distances and search ---
  m.def(
      "distance_matrix",
      [](const FloatArray& posters, const FloatArray& intros, const std::string& distance) {
        const DistanceKind kind = from_name<DistanceKind>(distance, "distance");
        require_matrix(posters, "posters");
        require_matrix(intros, "intros");
        if (posters.shape(1) != intros.shape(1))
          invalid("posters and intros must have the same width, got " + std::to_string(posters.shape(1)) + " and " +
                  std::to_string(intros.shape(1)));
        const Embeddings p = to_matrix(posters), t = to_matrix(intros);
        return without_gil([&] { return distance_matrix(p, t, kind); });
      },
      py::arg("posters"), py::arg("intros"), py::arg("distance") = to_name(DistanceKind::OneMinusCosine),
      "Distances float32 [posters, intros] between the rows of two L2-normalised embedding matrices; distance: "
      "names('distance'). For large catalogues use top_k, which never builds the whole matrix.");

  m.def(
      "top_k",
      [](const FloatArray& queries, const FloatArray& catalog, std::size_t k, const std::string& distance) {
        const DistanceKind kind = from_name<DistanceKind>(distance, "distance");
        require_matrix(queries, "queries");
        require_matrix(catalog, "catalog");
        if (queries.shape(1) != catalog.shape(1))
          invalid("queries and catalog must have the same width, got " + std::to_string(queries.shape(1)) + " and " +
                  std::to_string(catalog.shape(1)));
        const auto nq = static_cast<std::size_t>(queries.shape(0));
        const auto nc = static_cast<std::size_t>(catalog.shape(0));
        const auto dim = static_cast<std::size_t>(queries.shape(1));
        py::array_t<std::int64_t> indices({static_cast<py::ssize_t>(nq), static_cast<py::ssize_t>(k)});
        py::array_t<float> distances({static_cast<py::ssize_t>(nq), static_cast<py::ssize_t>(k)});
        const float* q = queries.data();
        const float* c = catalog.data();
        std::int64_t* out_i = indices.mutable_data();
        float* out_d = distances.mutable_data();
        without_gil([&] {
          top_k(q, nq, c, nc, dim, k, kind, out_i, out_d);
          return 0;
        });
        return py::make_tuple(indices, distances);
      },
      py::arg("queries"), py::arg("catalog"), py::arg("k"), py::arg("distance") = to_name(DistanceKind::OneMinusCosine),
      "The k nearest catalog rows of every query row: (indices int64 [queries, k], distances float32 [queries, k]), "
      "nearest first, ties to the lower index (column 0 equals argmin of distance_matrix rows); index -1 and "
      "distance inf where the catalog has fewer than k rows. Works in bounded memory whatever the sizes; C-contiguous "
      "float32 inputs are used in place (others are converted). The GIL is released.");

  // --- catalog indexes ---
  py::class_<CatalogIndex>(m, "CatalogIndex",
                           "A FAISS index over catalog embeddings (inner product on L2-normalised rows) for catalogs too "
                           "large for a distance matrix. Build with CatalogIndex.build, or load a folder written by "
                           "save() or `clipmatch index`.")
      .def_static(
          "build",
          [](const FloatArray& rows, std::vector<std::string> ids, std::vector<std::string> titles,
             const std::string& kind) {
            require_matrix(rows, "rows");
            CatalogIndexOptions options;
            options.kind = from_name<IndexKind>(kind, "kind");
            const Embeddings matrix = to_matrix(rows);
            return without_gil([&] { return CatalogIndex::build(matrix, std::move(ids), std::move(titles), options); });
          },
          py::arg("rows"), py::arg("ids") = std::vector<std::string>{}, py::arg("titles") = std::vector<std::string>{},
          py::arg("kind") = to_name(CatalogIndexOptions{}.kind),
          "Indexes rows (float32 [N, D], L2-normalised); ids / titles: empty or one per row. kind: "
          "names('index_kind').")
      .def_static(
          "load", [](py::object folder) {
            const std::string path = fspath(folder, "folder");
            return without_gil([&] { return CatalogIndex::load(path); });
          },
          py::arg("folder"), "Loads an index folder (index.faiss + catalog.json); IVF-PQ lists are memory-mapped.")
      .def(
          "save",
          [](const CatalogIndex& self, py::object folder) {
            const std::string path = fspath(folder, "folder");
            without_gil([&] {
              self.save(path);
              return 0;
            });
          },
          py::arg("folder"), "Writes folder/index.faiss and folder/catalog.json, each atomically.")
      .def(
          "search",
          [](const CatalogIndex& self, const FloatArray& queries, std::size_t k) {
            require_matrix(queries, "queries");
            const Embeddings matrix = to_matrix(queries);
            const auto hits = without_gil([&] { return self.search(matrix, k); });
            py::array_t<std::int64_t> indices({static_cast<py::ssize_t>(hits.queries), static_cast<py::ssize_t>(hits.k)});
            py::array_t<float> distances({static_cast<py::ssize_t>(hits.queries), static_cast<py::ssize_t>(hits.k)});
            std::copy(hits.indices.begin(), hits.indices.end(), indices.mutable_data());
            std::copy(hits.distances.begin(), hits.distances.end(), distances.mutable_data());
            return py::make_tuple(indices, distances);
          },
          py::arg("queries"), py::arg("k"),
          "(indices int64 [Q, k], distances float32 [Q, k]) of the k nearest rows, nearest first; distance = 1 - "
          "inner product; -1 / inf where fewer were found. The GIL is released.")
      .def("__len__", &CatalogIndex::size)
      .def_property_readonly("dim", &CatalogIndex::dim)
      .def_property_readonly("kind", [](const CatalogIndex& self) { return std::string(to_name(self.kind())); })
      .def_property_readonly("ids", &CatalogIndex::ids)
      .def_property_readonly("titles", &CatalogIndex::titles);
  m.def("catalog_index_available", &catalog_index_available, "Whether this library was built with FAISS.");

  // --- the model ---
  const EncodeOptions encode_defaults{};
  const EvalOptions eval_defaults{};
  const std::string model_doc =
      std::string("A poster encoder and an intro encoder, projection heads into a shared space and a learnable "
                  "temperature. Model(config=ModelConfig(), device='auto') builds a fresh one (device: "
                  "names('device')); Model.load(path) reads a checkpoint or run folder.") +
      kThreadsNote;
  py::class_<PyModel>(m, "Model", model_doc.c_str())
      .def(py::init([](const ModelConfig& config, const std::string& device) {
             const Device d = from_name<Device>(device, "device");
             const ModelConfig c = config;
             return std::make_unique<PyModel>(without_gil([&] { return Model::create(c, d); }));
           }),
           py::arg("config") = ModelConfig{}, py::arg("device") = to_name(Device::Auto))
      .def_static(
          "load",
          [](py::object path, const std::string& device) {
            const Device d = from_name<Device>(device, "device");
            const std::string p = fspath(path, "path");
            return std::make_unique<PyModel>(without_gil([&] { return Model::load(p, d); }));
          },
          py::arg("path"), py::arg("device") = to_name(Device::Auto),
          "Loads a checkpoint file (model.safetensors) or a run folder (its best checkpoint).")
      .def(
          "save",
          [](PyModel& self, py::object path) {
            const std::string p = fspath(path, "path");
            SharedUse use(self);
            without_gil([&] {
              self.model.save(p);
              return 0;
            });
          },
          py::arg("path"), "Writes a safetensors checkpoint atomically (configuration in its metadata).")
      .def_property_readonly("device", [](PyModel& self) { return self.model.device(); }, "'cpu' or 'cuda:N'.")
      .def_property_readonly(
          "logit_scale",
          [](PyModel& self) {
            SharedUse use(self);
            return without_gil([&] { return self.model.logit_scale(); });
          },
          "exp(t), the learned logit scale.")
      .def_property_readonly("fusion_weight", [](PyModel& self) { return self.model.fusion_weight(); },
                             "The poster-text channel's weight the model learned or was given in training; -1 = none.")
      .def_property_readonly("embed_dim", [](PyModel& self) { return self.model.config().embed_dim; },
                             "Width of the embeddings.")
      .def_property_readonly("config", [](PyModel& self) { return self.model.config(); },
                             "A copy of the model's ModelConfig.")
      .def(
          "encode_posters",
          [](PyModel& self, py::object paths, std::size_t batch_size, py::object progress,
             const std::string& precision) {
            const std::vector<std::string> list = path_list(paths, "paths");
            PyCall call(std::move(progress));
            EncodeOptions options;
            options.batch_size = batch_size;
            options.precision = from_name<Precision>(precision, "precision");
            options.progress = call.progress_callback();
            SharedUse use(self);
            return call.run([&] { return self.model.encode_posters(list, options); });
          },
          py::arg("paths"), py::arg("batch_size") = encode_defaults.batch_size, py::arg("progress") = py::none(),
          py::arg("precision") = to_name(encode_defaults.precision),
          (std::string("L2-normalised embeddings float32 [len(paths), embed_dim] of poster image files (JPEG, PNG, "
                       "…; str or os.PathLike). Progress stage 'encode posters'.") +
           kProgressNote + kThreadsNote)
              .c_str())
      .def(
          "encode_intros",
          [](PyModel& self, py::object intros, std::size_t batch_size, py::object progress,
             const std::string& precision) {
            const std::vector<std::string> list = text_list(intros, "intros");
            PyCall call(std::move(progress));
            EncodeOptions options;
            options.batch_size = batch_size;
            options.precision = from_name<Precision>(precision, "precision");
            options.progress = call.progress_callback();
            SharedUse use(self);
            return call.run([&] { return self.model.encode_intros(list, options); });
          },
          py::arg("intros"), py::arg("batch_size") = encode_defaults.batch_size, py::arg("progress") = py::none(),
          py::arg("precision") = to_name(encode_defaults.precision),
          (std::string("L2-normalised embeddings float32 [len(intros), embed_dim] of intros (str). Progress stage "
                       "'encode intros'.") +
           kProgressNote + kThreadsNote)
              .c_str())
      .def(
          "encode_poster_bytes",
          [](PyModel& self, py::object images, std::size_t batch_size, py::object progress,
             const std::string& precision) {
            HeldBuffers buffers;
            std::vector<EncodedImage> list;
            if (is_bytes_like(images)) {
              list.push_back(buffers.add(images, 0));
            } else {
              std::size_t i = 0;
              for (py::handle item : images) list.push_back(buffers.add(item, i++));
            }
            PyCall call(std::move(progress));
            EncodeOptions options;
            options.batch_size = batch_size;
            options.precision = from_name<Precision>(precision, "precision");
            options.progress = call.progress_callback();
            SharedUse use(self);
            return call.run([&] { return self.model.encode_poster_bytes(list, options); });
          },
          py::arg("images"), py::arg("batch_size") = encode_defaults.batch_size, py::arg("progress") = py::none(),
          py::arg("precision") = to_name(encode_defaults.precision),
          (std::string("Embeddings of posters given as encoded image files in memory: a list of bytes-like objects "
                       "(or one, giving one row), e.g. open(path, 'rb').read(); equal to encode_posters on the same "
                       "files. Do not mutate the buffers during the call.") +
           kProgressNote + kThreadsNote)
              .c_str())
      .def(
          "encode_poster_pixels",
          [](PyModel& self, py::object images, std::size_t batch_size, py::object progress,
             const std::string& precision) {
            HeldPixels pixels;
            if (py::isinstance<py::array>(images)) {
              pixels.add(images);
            } else {
              for (py::handle item : images) pixels.add(item);
            }
            PyCall call(std::move(progress));
            EncodeOptions options;
            options.batch_size = batch_size;
            options.precision = from_name<Precision>(precision, "precision");
            options.progress = call.progress_callback();
            SharedUse use(self);
            return call.run([&] { return self.model.encode_poster_pixels(pixels.views(), options); });
          },
          py::arg("images"), py::arg("batch_size") = encode_defaults.batch_size, py::arg("progress") = py::none(),
          py::arg("precision") = to_name(encode_defaults.precision),
          (std::string("Embeddings of posters given as decoded pixels: a NumPy uint8 array [H, W, 3] (RGB) or "
                       "[H, W, 4] (RGBA, composited over white as for files) giving one row, a stack [N, H, W, C], "
                       "or a list of such arrays. Rows may be strided (views of larger images are used in place); "
                       "other layouts are copied. Equal to encode_posters on a file holding the same pixels.") +
           kProgressNote + kThreadsNote)
              .c_str())
      .def(
          "poster_features",
          [](PyModel& self, py::object paths, std::size_t batch_size, const std::string& precision) {
            const std::vector<std::string> list = path_list(paths, "paths");
            SharedUse use(self);
            EncodeOptions options;
            options.batch_size = batch_size;
            options.precision = from_name<Precision>(precision, "precision");
            return without_gil([&] { return self.model.poster_features(list, options); });
          },
          py::arg("paths"), py::arg("batch_size") = encode_defaults.batch_size,
          py::arg("precision") = to_name(encode_defaults.precision),
          "Raw poster encoder features (before the head), float32 [len(paths), feature_dim]. precision: "
          "names('precision').")
      .def(
          "intro_features",
          [](PyModel& self, py::object intros, std::size_t batch_size, const std::string& precision) {
            const std::vector<std::string> list = text_list(intros, "intros");
            SharedUse use(self);
            EncodeOptions options;
            options.batch_size = batch_size;
            options.precision = from_name<Precision>(precision, "precision");
            return without_gil([&] { return self.model.intro_features(list, options); });
          },
          py::arg("intros"), py::arg("batch_size") = encode_defaults.batch_size,
          py::arg("precision") = to_name(encode_defaults.precision),
          "Raw intro encoder features (before the head), float32 [len(intros), feature_dim]. precision: "
          "names('precision').")
      .def(
          "train",
          [](PyModel& self, const Dataset& dataset, const TrainOptions& options, py::object progress,
             py::object on_epoch) {
            PyCall call(std::move(progress), std::move(on_epoch));
            TrainOptions o = options;
            o.progress = call.progress_callback();
            if (call.has_on_epoch()) o.on_epoch = call.epoch_callback();
            ExclusiveUse use(self);
            const TrainReport report = call.run([&] { return self.model.train(dataset, o); });
            return train_report_dict(report);
          },
          py::arg("dataset"), py::arg("options"), py::arg("progress") = py::none(), py::arg("on_epoch") = py::none(),
          "Contrastive training on dataset.train (every movie when there is no split), evaluating each epoch; "
          "keeps the best checkpoint in options.run_dir and leaves the model holding the best weights. Returns "
          "dict(epochs_run, best_epoch, best_heldout_r1, seconds, cache_dir, cache_hits, cache_misses, history), "
          "history being one dict per epoch (epoch, train_loss, learning_rate, temperature, seconds, splits). "
          "on_epoch: None or a callable(epoch: dict) called after every epoch (an exception there cancels at the "
          "next step and is re-raised). Progress stages 'encode posters' / 'encode intros' (filling the feature "
          "cache) and 'train' (steps of the whole run). A cancelled run keeps its best epoch so far, or the "
          "weights it started from.\n\n"
          "progress: None or a callable(stage, done, total) returning None/True to go on or False to cancel "
          "(raises clipmatch.Cancelled); KeyboardInterrupt (Ctrl-C) cancels cleanly and is re-raised.\n\n"
          "Threads: train() needs the Model to itself (other calls on it raise clipmatch.Error meanwhile); the GIL "
          "is released, so other Python threads keep running.")
      .def(
          "evaluate",
          [](PyModel& self, const Dataset& dataset, py::object out_dir, py::object cache_dir,
             const std::string& distance, py::object progress, bool distance_npy, bool embeddings_npy,
             bool heatmap_png, bool topk_csv, std::size_t heatmap_size, bool verbose, const std::string& precision,
             bool ocr, double fusion_weight, py::object ocr_cache_dir) {
            EvalOptions options;
            options.precision = from_name<Precision>(precision, "precision");
            options.ocr.enabled = ocr;
            options.ocr.fusion_weight = fusion_weight;
            options.ocr.cache_dir = ocr_cache_dir.is_none() ? std::string() : fspath(ocr_cache_dir, "ocr_cache_dir");
            options.distance = from_name<DistanceKind>(distance, "distance");
            options.cache_dir = cache_dir.is_none() ? std::string() : fspath(cache_dir, "cache_dir");
            options.distance_npy = distance_npy;
            options.embeddings_npy = embeddings_npy;
            options.heatmap_png = heatmap_png;
            options.topk_csv = topk_csv;
            options.heatmap_size = heatmap_size;
            options.verbose = verbose;
            const std::string out = out_dir.is_none() ? std::string() : fspath(out_dir, "out_dir");
            PyCall call(std::move(progress));
            options.progress = call.progress_callback();
            SharedUse use(self);
            const EvaluationReport report = call.run([&] { return self.model.evaluate(dataset, out, options); });
            return evaluation_dict(report);
          },
          py::arg("dataset"), py::arg("out_dir") = "", py::arg("cache_dir") = eval_defaults.cache_dir,
          py::arg("distance") = to_name(eval_defaults.distance), py::arg("progress") = py::none(), py::kw_only(),
          py::arg("distance_npy") = eval_defaults.distance_npy,
          py::arg("embeddings_npy") = eval_defaults.embeddings_npy, py::arg("heatmap_png") = eval_defaults.heatmap_png,
          py::arg("topk_csv") = eval_defaults.topk_csv, py::arg("heatmap_size") = eval_defaults.heatmap_size,
          py::arg("verbose") = eval_defaults.verbose, py::arg("precision") = to_name(eval_defaults.precision),
          py::arg("ocr") = eval_defaults.ocr.enabled, py::arg("fusion_weight") = eval_defaults.ocr.fusion_weight,
          py::arg("ocr_cache_dir") = py::none(),
          (std::string("Encodes the whole dataset and measures retrieval per split. Returns dict(n, distance, splits, "
                       "cache_hits, cache_misses), splits mapping 'all' / 'train' / 'heldout' (those with movies) to "
                       "dict(n, acc_dim0, acc_dim1, poster_to_intro, intro_to_poster), each direction "
                       "dict(r1, r5, r10, median_rank, mean_rank). With out_dir, writes metrics.json and the chosen "
                       "outputs (distance.npy, posters.npy/intros.npy, heatmap.png, topk.csv) there. cache_dir reads "
                       "unchanged encoders' features from a feature cache (e.g. a training run's). distance: "
                       "names('distance'). Progress stages 'encode posters', 'encode intros'. ocr: the poster-text channel — each "
                       "poster is read with Tesseract and every score becomes cos + w·bm25 (w = fusion_weight when "
                       ">= 0, else the model's learned weight); the dict then also holds fusion_weight, poster_text "
                       "(the words read on each poster), ocr_cache_hits, posters_read and ocr_seconds; ocr_cache_dir "
                       "defaults to cache_dir.") +
           kProgressNote + kThreadsNote)
              .c_str())
      .def("__repr__", [](PyModel& self) {
        return "<clipmatch.Model " + self.model.config().image_encoder.to_string() + " + " +
               self.model.config().text_encoder.to_string() + ", embed_dim " +
               std::to_string(self.model.config().embed_dim) + ", on " + self.model.device() + ">";
      });
}
