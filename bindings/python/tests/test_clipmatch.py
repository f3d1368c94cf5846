"""The Python module end to end on small synthetic datasets (CPU, tiny encoders)."""
import os
import pathlib
import re
import signal
import threading

import numpy as np
import pytest

import clipmatch

SOURCE_DIR = pathlib.Path(os.environ.get("CLIPMATCH_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[3]))


def small_options(run_dir, **overrides):
    settings = dict(epochs=2, batch_size=16, lr=2e-3, encoder_lr=2e-3, freeze="full")
    settings.update(overrides)
    return clipmatch.TrainOptions(str(run_dir), **settings)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("clipmatch")
    folder = clipmatch.synthesize_dataset(str(root / "data"), n=48, seed=3)
    data = clipmatch.load_dataset(folder)
    model = clipmatch.Model(clipmatch.ModelConfig(embed_dim=32, seed=1), device="cpu")
    report = model.train(data, small_options(root / "run"))
    return root, data, model, report


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A model trained for one epoch (tiny_text learns its vocabulary there) and a small dataset, for
    cancelling and interrupting further training."""
    root = tmp_path_factory.mktemp("fresh")
    data = clipmatch.load_dataset(clipmatch.synthesize_dataset(root / "data", n=32, seed=7))
    model = clipmatch.Model(clipmatch.ModelConfig(embed_dim=16, seed=4), device="cpu")
    model.train(data, small_options(root / "first", epochs=1))
    return root, data, model


def write_ppm(path, rgb):
    """A binary PPM (P6) file holding exactly these pixels; the library's decoder reads PNM."""
    height, width, _ = rgb.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (width, height))
        f.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())


# --- the module itself -----------------------------------------------------------------------------------

def test_version_and_build_info():
    assert clipmatch.__version__ == clipmatch.version()
    assert clipmatch.__version__.count(".") == 2
    assert isinstance(clipmatch.build_info(), str) and clipmatch.build_info()


def test_encoder_kinds_and_names():
    kinds = {k["name"]: k for k in clipmatch.encoder_kinds()}
    assert {"tiny_cnn", "tiny_text"} <= set(kinds)
    sides = set(clipmatch.names("encoder_side"))
    for kind in kinds.values():
        assert set(kind) == {"name", "side", "needs_path", "description"}
        assert kind["side"] in sides
    assert kinds["tiny_cnn"]["needs_path"] is False
    assert set(clipmatch.names("distance")) == {"1-cos", "-cos"}
    tables = clipmatch.names()
    for kind in ("device", "distance", "loss", "freeze", "schedule", "head", "temperature", "log_level"):
        assert tables[kind] == clipmatch.names(kind) and tables[kind]
        assert all(isinstance(help_text, str) for help_text in tables[kind].values())
    with pytest.raises(clipmatch.Error, match="loss"):
        clipmatch.names("no_such_table")


def test_cancelled_is_an_error():
    assert issubclass(clipmatch.Cancelled, clipmatch.Error)
    assert issubclass(clipmatch.Error, Exception)
    assert clipmatch.Error.__module__ == "clipmatch"


def _cxx_defaults(header, struct):
    """Field -> default text of a C++ struct, read from the public header itself."""
    text = (SOURCE_DIR / "include" / "clipmatch" / header).read_text(encoding="utf-8")
    body = re.search(r"struct %s \{(.*?)\n\};" % struct, text, re.S).group(1)
    out = {}
    for m in re.finditer(r"^\s*[\w:]+\s+(\w+)\s*=\s*([^;]+);", body, re.M):
        out[m.group(1)] = m.group(2).strip()
    for m in re.finditer(r"^\s*[\w:]+\s+(\w+)\{\"(\w*)\", \"\"\};", body, re.M):
        out[m.group(1)] = m.group(2)
    return out


def _same_default(py_value, cxx_text):
    norm = lambda s: re.sub(r"[^a-z0-9]", "", s.lower())  # noqa: E731
    if "::" in cxx_text:  # an enumerator: compare with its name ("TopK" ~ "top-k", "WarmupCosine" ~ "cosine")
        name, enumerator = norm(py_value), norm(cxx_text.split("::")[-1])
        return bool(name) and (name in enumerator or enumerator in name)
    if cxx_text in ("true", "false"):
        return py_value is (cxx_text == "true")
    if isinstance(py_value, str):
        return py_value == cxx_text.strip('"')
    return py_value == pytest.approx(float(cxx_text.rstrip("f").replace("'", "")))


def test_defaults_equal_the_cxx_defaults():
    if not (SOURCE_DIR / "include" / "clipmatch" / "model.hpp").is_file():
        pytest.skip("source tree not found (set CLIPMATCH_SOURCE_DIR)")
    renamed = {"learning_rate": "lr", "encoder_learning_rate": "encoder_lr", "warmup_fraction": "warmup",
               "grad_clip_norm": "grad_clip", "early_stopping_patience": "early_stopping"}
    options = clipmatch.TrainOptions("run")
    cxx = _cxx_defaults("model.hpp", "TrainOptions")
    assert len(cxx) >= 20
    for field, text in cxx.items():
        value = getattr(options, renamed.get(field, field))
        assert _same_default(value, text), (field, value, text)
    config = clipmatch.ModelConfig()
    cxx = _cxx_defaults("model.hpp", "ModelConfig")
    assert {"image_encoder", "text_encoder", "embed_dim", "head", "seed"} <= set(cxx)
    for field, text in cxx.items():
        assert _same_default(getattr(config, field), text), (field, getattr(config, field), text)
    batch = _cxx_defaults("model.hpp", "EncodeOptions")["batch_size"]
    for method in ("encode_posters", "encode_intros", "encode_poster_bytes", "encode_poster_pixels"):
        assert "batch_size: int = %s" % batch in getattr(clipmatch.Model, method).__doc__
    synth = _cxx_defaults("synth.hpp", "SynthOptions")
    assert "n: int = %s, seed: int = %s" % (synth["n"], synth["seed"]) in clipmatch.synthesize_dataset.__doc__


def test_enum_strings_are_checked_with_the_choices():
    for field in ("loss", "freeze", "schedule"):
        with pytest.raises(clipmatch.Error) as info:
            clipmatch.TrainOptions("run", **{field: "nope"})
        message = str(info.value)
        assert field in message and "'nope'" in message
        assert all(name in message for name in clipmatch.names(field)), message
    options = clipmatch.TrainOptions("run", loss="siglip", freeze="top-k", schedule="plateau")
    assert (options.loss, options.freeze, options.schedule) == ("siglip", "top-k", "plateau")
    with pytest.raises(clipmatch.Error, match="freeze"):
        options.freeze = "melted"
    assert options.freeze == "top-k"
    options.freeze = "full"
    assert options.freeze == "full"
    with pytest.raises(clipmatch.Error, match="head"):
        clipmatch.ModelConfig(head="conv")
    with pytest.raises(clipmatch.Error, match="temperature"):
        clipmatch.ModelConfig(temperature="hot")
    with pytest.raises(clipmatch.Error) as info:
        clipmatch.distance_matrix(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), "euclid")
    assert all(name in str(info.value) for name in clipmatch.names("distance"))
    with pytest.raises(clipmatch.Error, match="device"):
        clipmatch.Model(device="tpu")


def test_options_are_readable_and_writable():
    options = clipmatch.TrainOptions(pathlib.Path("/tmp/r"), epochs=3, warmup=0.1, grad_clip=0.5, early_stopping=2,
                                     cache_dir="/tmp/c", use_cache=False, seed=9, verbose=True)
    assert (options.run_dir, options.epochs, options.warmup, options.grad_clip) == ("/tmp/r", 3, 0.1, 0.5)
    assert (options.early_stopping, options.cache_dir, options.use_cache) == (2, "/tmp/c", False)
    options.epochs = 7
    options.lr = 0.25
    options.run_dir = "/tmp/other"
    assert (options.epochs, options.lr, options.run_dir) == (7, 0.25, "/tmp/other")
    assert "epochs=7" in repr(options)
    config = clipmatch.ModelConfig("tiny_cnn", "tiny_text", 24, "mlp", 64, "course", 32, 5)
    assert (config.embed_dim, config.head, config.mlp_hidden, config.temperature) == (24, "mlp", 64, "course")
    assert (config.max_text_tokens, config.seed) == (32, 5)
    config.head = "linear"
    config.embed_dim = 8
    assert "head='linear'" in repr(config) and "embed_dim=8" in repr(config)


def test_errors_raise_clipmatch_error(tmp_path):
    with pytest.raises(clipmatch.Error, match="no_such_kind"):
        clipmatch.ModelConfig(image_encoder="no_such_kind")
    with pytest.raises(clipmatch.Error, match="missing"):
        clipmatch.load_dataset(str(tmp_path / "missing"))


# --- datasets ------------------------------------------------------------------------------------------------

def test_dataset_is_loaded(trained):
    _, data, _, _ = trained
    assert len(data) == 48
    assert len(data.train) + len(data.heldout()) == 48
    assert all(os.path.exists(p) for p in data.posters)
    movie = data[0]
    assert movie["poster"] == data.posters[0] and movie["intro"] == data.intros[0]
    assert data[-1]["row"] == 47
    assert len(data.titles) == len(data.genres) == len(data.years) == len(data.movie_ids) == 48
    with pytest.raises(IndexError):
        data[48]


def test_synthesize_dataset_accepts_paths_and_is_deterministic(tmp_path):
    a = clipmatch.synthesize_dataset(tmp_path / "a", n=6, seed=11, width=32, height=48)
    b = clipmatch.synthesize_dataset(str(tmp_path / "b"), 6, 11, width=32, height=48)
    assert os.path.isabs(a)
    for name in ("movies.csv", "train.txt"):
        assert (pathlib.Path(a) / name).read_bytes().replace(b"/a/", b"/b/") == (
            pathlib.Path(b) / name).read_bytes().replace(b"/a/", b"/b/")
    assert len(clipmatch.load_dataset(pathlib.Path(a))) == 6


# --- training, encoding, evaluating ----------------------------------------------------------------------

def test_training_report(trained):
    _, _, _, report = trained
    assert report["epochs_run"] == 2
    assert 1 <= report["best_epoch"] <= 2
    assert len(report["history"]) == 2
    epoch = report["history"][-1]
    assert set(epoch["splits"]) == {"all", "train", "heldout"}
    assert {"epoch", "train_loss", "learning_rate", "temperature", "seconds"} <= set(epoch)
    assert set(epoch["splits"]["all"]["poster_to_intro"]) == {"r1", "r5", "r10", "median_rank", "mean_rank"}


def test_embeddings_are_normalised_numpy_arrays(trained):
    _, data, model, _ = trained
    posters = model.encode_posters(data.posters[:5])
    intros = model.encode_intros(data.intros[:5])
    assert isinstance(posters, np.ndarray) and posters.dtype == np.float32
    assert posters.shape == (5, 32) and intros.shape == (5, 32)
    np.testing.assert_allclose(np.linalg.norm(posters, axis=1), 1.0, atol=1e-5)
    d = clipmatch.distance_matrix(posters, intros)
    assert d.dtype == np.float32 and d.shape == (5, 5)
    np.testing.assert_allclose(d, 1.0 - posters @ intros.T, atol=1e-5)
    np.testing.assert_allclose(clipmatch.distance_matrix(posters, intros, distance="-cos"), -(posters @ intros.T),
                               atol=1e-5)
    assert model.embed_dim == 32 and model.device == "cpu" and model.logit_scale > 0
    assert model.config.embed_dim == 32
    with pytest.raises(TypeError):
        model.encode_intros("one intro, not a list")
    with pytest.raises(TypeError):
        model.encode_posters(data.posters[0])
    np.testing.assert_array_equal(model.encode_posters([pathlib.Path(p) for p in data.posters[:2]]), posters[:2])


def test_poster_bytes_equal_poster_files(trained):
    _, data, model, _ = trained
    paths = data.posters[:6]
    blobs = [open(p, "rb").read() for p in paths]
    expected = model.encode_posters(paths)
    np.testing.assert_array_equal(model.encode_poster_bytes(blobs), expected)
    np.testing.assert_array_equal(model.encode_poster_bytes([bytearray(b) for b in blobs], batch_size=4), expected)
    # One bytes-like object is one row (compared with a one-file batch: a batch of one may round differently).
    np.testing.assert_array_equal(model.encode_poster_bytes(memoryview(blobs[0])), model.encode_posters(paths[:1]))
    with pytest.raises(clipmatch.Error):
        model.encode_poster_bytes([b"not an image"])
    with pytest.raises(TypeError):
        model.encode_poster_bytes(["a str is no image"])


def test_precision_keyword(trained):
    _, data, model, _ = trained
    assert list(clipmatch.names("precision")) == ["fp32", "bf16", "int8"]
    fp32 = model.encode_posters(data.posters[:6])
    assert np.array_equal(model.encode_posters(data.posters[:6], precision="fp32"), fp32)
    bf16 = model.encode_posters(data.posters[:6], precision="bf16")
    assert (np.sum(bf16 * fp32, axis=1) > 0.999).all()
    intros = data.intros[:5]
    assert (np.sum(model.encode_intros(intros, precision="int8") * model.encode_intros(intros), axis=1) > 0.999).all()
    with pytest.raises(clipmatch.Error, match="precision must be fp32, bf16 or int8"):
        model.encode_posters(data.posters[:1], precision="fp16")
    assert clipmatch.TrainOptions("/tmp/x", precision="bf16").precision == "bf16"


def test_poster_pixels_equal_poster_files(trained, tmp_path):
    _, _, model, _ = trained
    rng = np.random.default_rng(5)
    images = []
    for i, (h, w) in enumerate([(96, 64), (80, 120), (33, 47)]):
        y, x = np.mgrid[0:h, 0:w]
        rgb = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), (x ^ y) & 255], axis=-1)
        rgb = (rgb + rng.integers(0, 40, size=rgb.shape)).clip(0, 255).astype(np.uint8)
        write_ppm(tmp_path / ("p%d.ppm" % i), rgb)
        images.append(rgb)
    expected = model.encode_posters([str(tmp_path / ("p%d.ppm" % i)) for i in range(3)])

    np.testing.assert_array_equal(model.encode_poster_pixels(images), expected)
    np.testing.assert_array_equal(model.encode_poster_pixels(images[0]),
                                  model.encode_posters([str(tmp_path / "p0.ppm")]))
    # RGBA with opaque alpha is the same picture.
    rgba = [np.concatenate([im, np.full(im.shape[:2] + (1,), 255, np.uint8)], axis=-1) for im in images]
    np.testing.assert_array_equal(model.encode_poster_pixels(rgba), expected)
    # Strided rows: views of wider images (used in place), and views with strided pixels (copied).
    wide = [np.zeros((im.shape[0], im.shape[1] + 13, 3), np.uint8) for im in images]
    views = []
    for canvas, im in zip(wide, images):
        canvas[:, 5:5 + im.shape[1]] = im
        views.append(canvas[:, 5:5 + im.shape[1]])
    assert not views[0].flags.c_contiguous
    np.testing.assert_array_equal(model.encode_poster_pixels(views), expected)
    np.testing.assert_array_equal(model.encode_poster_pixels([r[:, :, :3] for r in rgba]), expected)
    upside_down = [np.flipud(np.ascontiguousarray(np.flipud(im))) for im in images]  # negative row strides
    np.testing.assert_array_equal(model.encode_poster_pixels(upside_down), expected)
    # A stack [N, H, W, C] gives N rows.
    stack = np.stack([images[0], images[0]])
    np.testing.assert_array_equal(model.encode_poster_pixels(stack),
                                  model.encode_posters([str(tmp_path / "p0.ppm")] * 2))
    with pytest.raises(clipmatch.Error, match="uint8"):
        model.encode_poster_pixels(images[0].astype(np.float32))
    with pytest.raises(clipmatch.Error, match="channels"):
        model.encode_poster_pixels(images[0][:, :, :2])


def test_top_k_matches_the_distance_matrix(trained):
    _, data, model, _ = trained
    posters = model.encode_posters(data.posters)
    intros = model.encode_intros(data.intros)
    d = clipmatch.distance_matrix(posters, intros)
    indices, distances = clipmatch.top_k(posters, intros, 5)
    assert indices.dtype == np.int64 and distances.dtype == np.float32
    assert indices.shape == distances.shape == (48, 5)
    np.testing.assert_array_equal(indices[:, 0], np.argmin(d, axis=1))
    np.testing.assert_allclose(distances, np.take_along_axis(d, indices, axis=1), atol=1e-5)
    assert np.all(np.diff(distances, axis=1) >= 0)
    # The other direction, the other distance, and inputs that need converting.
    neg, _ = clipmatch.top_k(intros, posters, 3, distance="-cos")
    np.testing.assert_array_equal(neg[:, 0], np.argmin(d, axis=0))
    i64, _ = clipmatch.top_k(posters.astype(np.float64)[::2], np.asfortranarray(intros), 3)
    np.testing.assert_array_equal(i64, indices[::2, :3])
    # More neighbours than catalogue rows: -1 and +inf.
    few_i, few_d = clipmatch.top_k(posters[:2], intros[:3], 5)
    assert (few_i[:, 3:] == -1).all() and np.isinf(few_d[:, 3:]).all()
    with pytest.raises(clipmatch.Error, match="width"):
        clipmatch.top_k(posters, intros[:, :8], 2)
    with pytest.raises(clipmatch.Error, match="2-D"):
        clipmatch.top_k(posters[0], intros, 2)


def test_save_load_identity(trained):
    root, data, model, _ = trained
    path = root / "saved.safetensors"
    model.save(path)
    loaded = clipmatch.Model.load(str(path), device="cpu")
    np.testing.assert_array_equal(model.encode_intros(data.intros[:4]), loaded.encode_intros(data.intros[:4]))
    np.testing.assert_array_equal(model.encode_posters(data.posters[:4]), loaded.encode_posters(data.posters[:4]))


def test_evaluate_writes_reports(trained):
    root, data, model, _ = trained
    out = root / "eval"
    report = model.evaluate(data, str(out))
    assert report["n"] == 48 and report["distance"] == "1-cos"
    metrics = report["splits"]
    assert metrics["all"]["n"] == 48
    distance = np.load(out / "distance.npy")
    assert distance.shape == (48, 48) and distance.dtype == np.float32
    posters = np.load(out / "posters.npy")
    intros = np.load(out / "intros.npy")
    np.testing.assert_allclose(distance, 1.0 - posters @ intros.T, atol=1e-5)
    # acc_dim1: for each poster row, is the nearest intro its own (numpy's argmin picks the lower index on ties)
    acc_dim1 = float(np.mean(np.argmin(distance, axis=1) == np.arange(48)))
    acc_dim0 = float(np.mean(np.argmin(distance, axis=0) == np.arange(48)))
    assert metrics["all"]["acc_dim1"] == pytest.approx(acc_dim1)
    assert metrics["all"]["acc_dim0"] == pytest.approx(acc_dim0)
    neg = model.evaluate(data, distance="-cos")
    assert neg["distance"] == "-cos" and neg["splits"]["all"]["acc_dim1"] == pytest.approx(acc_dim1)


def test_progress_reports_and_false_cancels(trained):
    _, data, model, _ = trained
    before = model.encode_posters(data.posters[:10])
    seen = []
    model.encode_posters(data.posters[:10], batch_size=4, progress=lambda *a: seen.append(a))
    assert seen and all(stage == "encode posters" and total == 10 for stage, _, total in seen)
    assert seen[-1][1] == 10
    with pytest.raises(clipmatch.Cancelled):
        model.encode_posters(data.posters[:10], batch_size=4, progress=lambda stage, done, total: False)
    with pytest.raises(clipmatch.Cancelled):
        model.evaluate(data, progress=lambda stage, done, total: done < 8)
    np.testing.assert_array_equal(model.encode_posters(data.posters[:10]), before)


def test_cancelled_training_keeps_the_model(fresh):
    root, data, model = fresh
    before_p = model.encode_posters(data.posters)
    before_t = model.encode_intros(data.intros)
    calls = []

    def stop_at_first_train_step(stage, done, total):
        calls.append((stage, done, total))
        return stage != "train"

    with pytest.raises(clipmatch.Cancelled):
        model.train(data, small_options(root / "cancelled", epochs=3), progress=stop_at_first_train_step)
    assert calls and calls[-1][0] == "train"
    np.testing.assert_array_equal(model.encode_posters(data.posters), before_p)
    np.testing.assert_array_equal(model.encode_intros(data.intros), before_t)


def test_exception_in_progress_is_reraised(fresh):
    root, data, model = fresh
    before = model.encode_intros(data.intros)

    class Boom(Exception):
        pass

    def explode(stage, done, total):
        raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        model.train(data, small_options(root / "boom"), progress=explode)
    with pytest.raises(Boom):
        model.encode_intros(data.intros, progress=explode)
    np.testing.assert_array_equal(model.encode_intros(data.intros), before)


def test_keyboard_interrupt_cancels_training(fresh):
    root, data, model = fresh
    before = model.encode_intros(data.intros)
    calls = []

    def interrupt_on_second_call(stage, done, total):
        calls.append(stage)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)

    run_dir = root / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        model.train(data, small_options(run_dir, epochs=3), progress=interrupt_on_second_call)
    assert len(calls) == 2
    # The model holds the best epoch finished before the interrupt (the run's checkpoint), or, when none
    # finished, the weights it started from.
    after = model.encode_intros(data.intros)
    if (run_dir / "model.safetensors").exists():
        np.testing.assert_array_equal(after, clipmatch.Model.load(run_dir, device="cpu").encode_intros(data.intros))
    else:
        np.testing.assert_array_equal(after, before)
    # Still trainable afterwards.
    report = model.train(data, small_options(root / "after", epochs=1))
    assert report["epochs_run"] == 1


def test_ctrl_c_without_a_callable_cancels_training(fresh):
    """SIGINT from elsewhere while the library trains: the always-installed progress hook notices it."""
    root, data, model = fresh
    run_dir = root / "ctrl-c"

    def interrupt():
        for _ in range(1200):
            if run_dir.exists():
                break
            threading.Event().wait(0.05)
        threading.Event().wait(1.0)
        os.kill(os.getpid(), signal.SIGINT)

    killer = threading.Thread(target=interrupt)
    killer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.train(data, small_options(run_dir, epochs=300))
    finally:
        killer.join()
    assert model.encode_intros(data.intros[:2]).shape == (2, 16)


def test_on_epoch_and_its_exceptions(fresh):
    root, data, model = fresh
    epochs = []
    model.train(data, small_options(root / "epochs", epochs=2), on_epoch=epochs.append)
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert set(epochs[0]["splits"]) == {"all", "train", "heldout"}

    def fail(epoch):
        raise ValueError("epoch %d rejected" % epoch["epoch"])

    with pytest.raises(ValueError, match="epoch 1 rejected"):
        model.train(data, small_options(root / "epochs-fail", epochs=3), on_epoch=fail)
    assert model.encode_intros(data.intros[:1]).shape == (1, 16)


def test_log_callback_receives_epoch_lines(fresh):
    root, data, model = fresh
    lines = []
    clipmatch.set_log_callback(lambda level, message: lines.append((level, message)))
    try:
        model.train(data, small_options(root / "verbose", epochs=2, verbose=True))
    finally:
        clipmatch.set_log_callback(None)
    assert lines
    assert {level for level, _ in lines} <= set(clipmatch.names("log_level"))
    epoch_lines = [m for _, m in lines if re.search(r"\bepoch\b", m, re.I)]
    assert len(epoch_lines) >= 2, lines
    count = len(lines)
    model.train(data, small_options(root / "quiet", epochs=1, verbose=True))  # default sink again: stderr
    assert len(lines) == count
    with pytest.raises(TypeError):
        clipmatch.set_log_callback(42)


def test_threads_share_one_model(trained):
    _, data, model, _ = trained
    serial_p = model.encode_posters(data.posters, batch_size=7)
    serial_t = model.encode_intros(data.intros, batch_size=7)
    blobs = [open(p, "rb").read() for p in data.posters]
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            if i % 3 == 0:
                results[i] = ("p", model.encode_posters(data.posters, batch_size=7))
            elif i % 3 == 1:
                results[i] = ("t", model.encode_intros(data.intros, batch_size=7))
            else:
                results[i] = ("p", model.encode_poster_bytes(blobs, batch_size=7))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for kind, value in results:
        np.testing.assert_array_equal(value, serial_p if kind == "p" else serial_t)


def test_the_model_is_busy_while_it_trains(fresh):
    root, data, model = fresh
    seen = []

    def try_encoding(stage, done, total):
        if not seen:
            try:
                model.encode_intros(data.intros[:1])
                seen.append("encoded")
            except clipmatch.Error as e:
                seen.append(str(e))

    model.train(data, small_options(root / "busy", epochs=1), progress=try_encoding)
    assert seen and "being trained" in seen[0]


def test_errors_name_the_problem(trained, tmp_path):
    _, data, model, _ = trained
    with pytest.raises(clipmatch.Error, match="nowhere.jpg"):
        model.encode_posters([str(tmp_path / "nowhere.jpg")])
    with pytest.raises(clipmatch.Error, match="width"):
        clipmatch.distance_matrix(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))


def test_top_k_training_caches_the_frozen_lower_part(tmp_path):
    folder = clipmatch.synthesize_dataset(str(tmp_path / "data"), n=32, seed=5)
    data = clipmatch.load_dataset(folder)
    reports = []
    for run in ("a", "b"):
        model = clipmatch.Model(clipmatch.ModelConfig(embed_dim=16, seed=2), device="cpu")
        options = clipmatch.TrainOptions(str(tmp_path / run), epochs=1, batch_size=16, freeze="top-k",
                                         unfreeze_top=1)
        reports.append(model.train(data, options))
    assert reports[0]["cache_dir"] == str(tmp_path / ".clipmatch-cache")
    assert (reports[0]["cache_hits"], reports[0]["cache_misses"]) == (0, 32)  # posters' lower part
    assert (reports[1]["cache_hits"], reports[1]["cache_misses"]) == (32, 0)
    report = model.evaluate(data, cache_dir=reports[1]["cache_dir"])
    assert report["splits"]["all"]["n"] == 32


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path):
    data = clipmatch.load_dataset(clipmatch.synthesize_dataset(tmp_path / "data", n=60, seed=9))
    config = clipmatch.ModelConfig(embed_dim=16, seed=2)

    whole = clipmatch.Model(config, device="cpu")
    reference = whole.train(data, small_options(tmp_path / "whole", epochs=3))

    # Interrupt after the first epoch (a callable that raises stops training like Ctrl-C would) ...
    model = clipmatch.Model(config, device="cpu")

    def stop_after_first_epoch(epoch):
        if epoch["epoch"] == 1:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        model.train(data, small_options(tmp_path / "run", epochs=3), on_epoch=stop_after_first_epoch)
    # ... then continue in a new model, as a new process would.
    resumed_model = clipmatch.Model(config, device="cpu")
    resumed = resumed_model.train(data, small_options(tmp_path / "run", epochs=3, resume=True))
    assert [e["train_loss"] for e in resumed["history"]] == [e["train_loss"] for e in reference["history"]]
    assert resumed["best_epoch"] == reference["best_epoch"]
    np.testing.assert_array_equal(resumed_model.encode_posters(data.posters), whole.encode_posters(data.posters))


# --- distributed training ------------------------------------------------------------------------------

def test_distributed_options_from_the_torchrun_environment(monkeypatch):
    assert not clipmatch.TrainOptions("run").distributed.enabled
    for name, value in dict(RANK="3", WORLD_SIZE="8", LOCAL_RANK="1", MASTER_ADDR="node-a", MASTER_PORT="29511").items():
        monkeypatch.setenv(name, value)
    options = clipmatch.DistributedOptions.from_environment()
    assert (options.rank, options.world_size, options.local_rank) == (3, 8, 1)
    assert (options.master_addr, options.master_port, options.enabled) == ("node-a", 29511, True)
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(clipmatch.Error, match="WORLD_SIZE='two'"):
        clipmatch.DistributedOptions.from_environment()
    with pytest.raises(clipmatch.Error, match="rank 2 is outside"):
        clipmatch.DistributedOptions(rank=2, world_size=2)


def test_two_ranks_train_what_one_process_trains(tmp_path):
    """Two ranks over Gloo (threads here; torchrun would start processes) reach one process's weights."""
    if not clipmatch.distributed_available():
        pytest.skip("this build has no Gloo backend")
    import socket
    data = clipmatch.load_dataset(clipmatch.synthesize_dataset(tmp_path / "data", n=48, seed=4))
    config = clipmatch.ModelConfig(embed_dim=16, seed=2)

    def options(run):
        return small_options(tmp_path / run, epochs=3, batch_size=16, freeze="frozen", cache_dir=str(tmp_path / run))

    single = clipmatch.Model(config, device="cpu")
    reference = single.train(data, options("one"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = [None, None]

    def rank(r):
        model = clipmatch.Model(config, device="cpu")
        run = options("two")
        run.distributed = clipmatch.DistributedOptions(rank=r, world_size=2, master_port=port, timeout_seconds=60)
        results[r] = (model, model.train(data, run))

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for model, report in results:
        np.testing.assert_allclose(model.encode_posters(data.posters), single.encode_posters(data.posters), atol=1e-5)
        np.testing.assert_allclose([e["train_loss"] for e in report["history"]],
                                   [e["train_loss"] for e in reference["history"]], atol=1e-5)
    assert results[0][1]["best_epoch"] == reference["best_epoch"]


# --- the poster-text channel ----------------------------------------------------------------------------

def _ocr_or_skip():
    available, why = clipmatch.ocr_available()
    if not available:
        pytest.skip("OCR unavailable: " + why)


def _poster_with_text(path, word):
    """A 100x150 poster printing `word` in PIL's built-in 11-pixel font (small type, as on real thumbnails)."""
    PIL = pytest.importorskip("PIL.Image")
    from PIL import ImageDraw
    image = PIL.new("RGB", (100, 150), (235, 230, 215))
    ImageDraw.Draw(image).text((8, 60), word, fill=(20, 20, 30))
    image.save(path)


def test_read_poster_text_and_its_cache(tmp_path):
    _ocr_or_skip()
    paths = []
    for word in ("HARBOR", "EXPRESS"):
        paths.append(str(tmp_path / (word + ".png")))
        _poster_with_text(paths[-1], word)
    stages = []
    texts = clipmatch.read_poster_text(paths, cache_dir=tmp_path / "cache",
                                       progress=lambda stage, done, total: stages.append(stage))
    assert [[w.upper() for w, _ in words] for words in texts] == [["HARBOR"], ["EXPRESS"]]
    assert all(0 <= confidence <= 100 for words in texts for _, confidence in words)
    assert "read posters" in stages
    stages.clear()
    assert clipmatch.read_poster_text(paths, cache_dir=tmp_path / "cache",
                                      progress=lambda stage, done, total: stages.append(stage)) == texts
    assert stages == []  # everything came from the cache
    with pytest.raises(clipmatch.Error, match="page mode 2"):
        clipmatch.read_poster_text(paths, page_modes=[2])


def test_evaluate_with_the_text_channel(trained):
    _ocr_or_skip()
    root, data, model, _ = trained
    assert model.fusion_weight == -1
    visual = model.evaluate(data)
    assert visual["fusion_weight"] == -1 and "poster_text" not in visual
    fused = model.evaluate(data, ocr=True, fusion_weight=0.25, ocr_cache_dir=root / "ocr-cache")
    assert fused["fusion_weight"] == 0.25
    assert len(fused["poster_text"]) == len(data)
    assert fused["posters_read"] + fused["ocr_cache_hits"] == len(data)
    # Synthetic posters print no words, so the fused ranking can only differ where OCR read noise.
    again = model.evaluate(data, ocr=True, fusion_weight=0.25, ocr_cache_dir=root / "ocr-cache")
    assert again["posters_read"] == 0 and again["splits"] == fused["splits"]
    options = clipmatch.TrainOptions("run", ocr=True, fusion_weight=0.5)
    assert options.ocr and options.fusion_weight == 0.5 and options.calibration_fraction == 0.2


# --- catalog indexes ------------------------------------------------------------------------------------

def test_catalog_index_flat_equals_top_k_and_survives_save_load(tmp_path):
    if not clipmatch.catalog_index_available():
        pytest.skip("built without FAISS")
    rng = np.random.default_rng(0)
    catalog = rng.normal(size=(2000, 32)).astype(np.float32)
    catalog /= np.linalg.norm(catalog, axis=1, keepdims=True)
    queries = catalog[:5] + 0.01 * rng.normal(size=(5, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids = ["m%d" % i for i in range(2000)]
    index = clipmatch.CatalogIndex.build(catalog, ids=ids, kind="flat")
    assert len(index) == 2000 and index.dim == 32 and index.kind == "flat"
    indices, distances = index.search(queries, 4)
    expected_i, expected_d = clipmatch.top_k(queries, catalog, 4)
    assert (indices == expected_i).all()
    assert np.allclose(distances, expected_d, atol=1e-5)
    assert list(indices[:, 0]) == [0, 1, 2, 3, 4]
    index.save(tmp_path / "index")
    loaded = clipmatch.CatalogIndex.load(tmp_path / "index")
    assert loaded.ids[:2] == ["m0", "m1"]
    again, _ = loaded.search(queries, 4)
    assert (again == indices).all()
    hnsw, _ = clipmatch.CatalogIndex.build(catalog).search(queries, 1)
    assert list(hnsw[:, 0]) == [0, 1, 2, 3, 4]
    with pytest.raises(clipmatch.Error, match="kind"):
        clipmatch.CatalogIndex.build(catalog, kind="ivf")
    with pytest.raises(clipmatch.Error, match="catalog.json"):
        clipmatch.CatalogIndex.load(tmp_path)
