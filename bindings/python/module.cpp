// pybind11 module `clipmatch._clipmatch`: the public C++ API with NumPy arrays for matrices and Python
// exceptions (clipmatch.Error) for clipmatch::Error.
#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/model.hpp>
#include <clipmatch/synth.hpp>
#include <clipmatch/version.hpp>

#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
using namespace clipmatch;

namespace {

Device parse_device(const std::string& name) {
  if (name == "auto") return Device::Auto;
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  throw Error(ErrorKind::InvalidArgument, "device must be 'auto', 'cpu' or 'cuda', got '" + name + "'");
}

template <typename T>
T pick(const std::string& name, const std::string& what, std::initializer_list<std::pair<const char*, T>> choices) {
  std::string known;
  for (const auto& [key, value] : choices) {
    if (name == key) return value;
    known += (known.empty() ? "" : ", ") + std::string(key);
  }
  throw Error(ErrorKind::InvalidArgument, what + " must be one of " + known + ", got '" + name + "'");
}

py::dict metrics_dict(const SplitMetricsMap& splits) {
  py::dict out;
  for (const auto& [name, m] : splits) {
    auto direction = [](const RetrievalMetrics& r) {
      py::dict d;
      d["r1"] = r.r1;
      d["r5"] = r.r5;
      d["r10"] = r.r10;
      d["median_rank"] = r.median_rank;
      d["mean_rank"] = r.mean_rank;
      return d;
    };
    py::dict split;
    split["n"] = m.n;
    split["acc_dim0"] = m.acc_dim0;
    split["acc_dim1"] = m.acc_dim1;
    split["poster_to_intro"] = direction(m.poster_to_intro);
    split["intro_to_poster"] = direction(m.intro_to_poster);
    out[py::str(name)] = split;
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_clipmatch, m) {
  m.doc() = "clipmatch native module";
  static py::exception<Error> error(m, "Error");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(e.what());
    }
  });

  m.def("version", &version, "Library version");

  py::class_<ModelConfig>(m, "ModelConfig", "Encoders, heads and temperature of a new model")
      .def(py::init([](const std::string& image_encoder, const std::string& text_encoder, std::int64_t embed_dim,
                       const std::string& head, const std::string& temperature, std::uint64_t seed) {
             ModelConfig c;
             c.image_encoder = EncoderSpec::parse(image_encoder);
             c.text_encoder = EncoderSpec::parse(text_encoder);
             c.embed_dim = embed_dim;
             c.head = pick<HeadKind>(head, "head", {{"linear", HeadKind::Linear}, {"mlp", HeadKind::Mlp}});
             c.temperature = pick<TemperatureInit>(temperature, "temperature",
                                                   {{"clip", TemperatureInit::Clip}, {"course", TemperatureInit::Course}});
             c.seed = seed;
             return c;
           }),
           py::arg("image_encoder") = "tiny_cnn", py::arg("text_encoder") = "tiny_text", py::arg("embed_dim") = 128,
           py::arg("head") = "linear", py::arg("temperature") = "clip", py::arg("seed") = 0)
      .def_property_readonly("image_encoder", [](const ModelConfig& c) { return c.image_encoder.to_string(); })
      .def_property_readonly("text_encoder", [](const ModelConfig& c) { return c.text_encoder.to_string(); })
      .def_readonly("embed_dim", &ModelConfig::embed_dim);

  py::class_<TrainOptions>(m, "TrainOptions", "Training settings (see `clipmatch train --help`)")
      .def(py::init([](const std::string& run_dir, int epochs, int batch_size, double lr, double encoder_lr,
                       const std::string& loss, const std::string& freeze, int unfreeze_top, int unfreeze_top_text,
                       std::uint64_t seed, bool verbose) {
             TrainOptions o;
             o.run_dir = run_dir;
             o.epochs = epochs;
             o.batch_size = batch_size;
             o.learning_rate = lr;
             o.encoder_learning_rate = encoder_lr;
             o.loss = pick<LossKind>(loss, "loss", {{"infonce", LossKind::InfoNce}, {"siglip", LossKind::SigLip},
                                                   {"multi-positive", LossKind::MultiPositive}});
             o.freeze = pick<FreezeMode>(freeze, "freeze", {{"frozen", FreezeMode::Frozen}, {"top-k", FreezeMode::TopK},
                                                            {"full", FreezeMode::Full}});
             o.unfreeze_top = unfreeze_top;
             o.unfreeze_top_text = unfreeze_top_text;
             o.seed = seed;
             o.verbose = verbose;
             return o;
           }),
           py::arg("run_dir"), py::arg("epochs") = 50, py::arg("batch_size") = 128, py::arg("lr") = 1e-3,
           py::arg("encoder_lr") = 1e-5, py::arg("loss") = "infonce", py::arg("freeze") = "frozen",
           py::arg("unfreeze_top") = 0, py::arg("unfreeze_top_text") = -1, py::arg("seed") = 0, py::arg("verbose") = false)
      .def_readwrite("epochs", &TrainOptions::epochs)
      .def_readwrite("batch_size", &TrainOptions::batch_size);

  py::class_<Dataset>(m, "Dataset", "A loaded dataset folder")
      .def_readonly("root", &Dataset::root)
      .def_readonly("train", &Dataset::train)
      .def("heldout", &Dataset::heldout)
      .def("__len__", [](const Dataset& d) { return d.movies.size(); })
      .def_property_readonly("posters", [](const Dataset& d) {
        std::vector<std::string> out;
        for (const auto& movie : d.movies) out.push_back(movie.poster);
        return out;
      })
      .def_property_readonly("intros", [](const Dataset& d) {
        std::vector<std::string> out;
        for (const auto& movie : d.movies) out.push_back(movie.intro);
        return out;
      })
      .def_property_readonly("titles", [](const Dataset& d) {
        std::vector<std::string> out;
        for (const auto& movie : d.movies) out.push_back(movie.title);
        return out;
      });

  m.def("load_dataset", [](const std::string& folder, bool skip_bad_rows) {
    DatasetOptions options;
    options.skip_bad_rows = skip_bad_rows;
    return load_dataset(folder, options);
  }, py::arg("folder"), py::arg("skip_bad_rows") = false, "Load movies.csv + train.txt from a folder");

  m.def("generate_synthetic", [](const std::string& out, std::size_t n, std::uint64_t seed) {
    SynthOptions options;
    options.out = out;
    options.n = n;
    options.seed = seed;
    return generate_synthetic(options).folder;
  }, py::arg("out"), py::arg("n") = 600, py::arg("seed") = 1, "Write a synthetic dataset; returns its folder");

  m.def("distance_matrix", [](const Embeddings& posters, const Embeddings& intros, const std::string& kind) {
    return distance_matrix(posters, intros, pick<DistanceKind>(kind, "distance", {{"1-cos", DistanceKind::OneMinusCosine},
                                                                                  {"-cos", DistanceKind::NegativeCosine}}));
  }, py::arg("posters"), py::arg("intros"), py::arg("kind") = "1-cos",
     "Distances (rows = posters, columns = intros) between L2-normalised embeddings");

  py::class_<Model>(m, "Model", "Poster and intro encoders, projection heads and temperature")
      .def(py::init([](const ModelConfig& config, const std::string& device) {
             return Model::create(config, parse_device(device));
           }),
           py::arg("config") = ModelConfig{}, py::arg("device") = "auto")
      .def_static("load", [](const std::string& path, const std::string& device) {
        return Model::load(path, parse_device(device));
      }, py::arg("path"), py::arg("device") = "auto", "Load a run folder or model.safetensors")
      .def("save", &Model::save, py::arg("path"))
      .def_property_readonly("device", &Model::device)
      .def_property_readonly("logit_scale", &Model::logit_scale)
      .def_property_readonly("embed_dim", [](const Model& model) { return model.config().embed_dim; })
      .def("encode_posters", &Model::encode_posters, py::arg("paths"), py::arg("batch_size") = 64,
           py::call_guard<py::gil_scoped_release>())
      .def("encode_intros", &Model::encode_intros, py::arg("intros"), py::arg("batch_size") = 64,
           py::call_guard<py::gil_scoped_release>())
      .def("train", [](Model& model, const Dataset& data, const TrainOptions& options) {
        TrainReport report;
        {
          py::gil_scoped_release release;
          report = model.train(data, options);
        }
        py::dict out;
        out["epochs_run"] = report.epochs_run;
        out["best_epoch"] = report.best_epoch;
        out["seconds"] = report.seconds;
        out["cache_dir"] = report.cache_dir;
        out["cache_hits"] = report.cache_hits;
        out["cache_misses"] = report.cache_misses;
        py::list history;
        for (const auto& epoch : report.history) {
          py::dict e;
          e["epoch"] = epoch.epoch;
          e["train_loss"] = epoch.train_loss;
          e["splits"] = metrics_dict(epoch.splits);
          history.append(e);
        }
        out["history"] = history;
        return out;
      }, py::arg("dataset"), py::arg("options"))
      .def("evaluate", [](const Model& model, const Dataset& data, const std::string& out_dir, const std::string& cache_dir) {
        EvalOptions options;
        options.cache_dir = cache_dir;
        EvaluationReport report;
        {
          py::gil_scoped_release release;
          report = model.evaluate(data, out_dir, options);
        }
        return metrics_dict(report.splits);
      }, py::arg("dataset"), py::arg("out_dir") = "", py::arg("cache_dir") = "",
         "Metrics per split; writes report files when out_dir is set; cache_dir reads frozen encoders' features "
         "from a feature cache (e.g. the training run's)");
}
