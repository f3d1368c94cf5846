"""The Python module end to end on a small synthetic dataset."""
import os

import numpy as np
import pytest

import clipmatch


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("clipmatch")
    folder = clipmatch.generate_synthetic(str(root / "data"), n=48, seed=3)
    data = clipmatch.load_dataset(folder)
    model = clipmatch.Model(clipmatch.ModelConfig(embed_dim=32, seed=1), device="cpu")
    options = clipmatch.TrainOptions(str(root / "run"), epochs=2, batch_size=16, lr=2e-3, encoder_lr=2e-3,
                                     freeze="full")
    report = model.train(data, options)
    return root, data, model, report


def test_version():
    assert clipmatch.__version__.count(".") == 2


def test_dataset_is_loaded(trained):
    _, data, _, _ = trained
    assert len(data) == 48
    assert len(data.train) + len(data.heldout()) == 48
    assert all(os.path.exists(p) for p in data.posters)


def test_training_report(trained):
    _, _, _, report = trained
    assert report["epochs_run"] == 2
    assert set(report["history"][-1]["splits"]) == {"all", "train", "heldout"}


def test_embeddings_are_normalised_numpy_arrays(trained):
    _, data, model, _ = trained
    posters = model.encode_posters(data.posters[:5])
    intros = model.encode_intros(data.intros[:5])
    assert isinstance(posters, np.ndarray) and posters.dtype == np.float32
    assert posters.shape == (5, 32) and intros.shape == (5, 32)
    np.testing.assert_allclose(np.linalg.norm(posters, axis=1), 1.0, atol=1e-5)
    d = clipmatch.distance_matrix(posters, intros)
    np.testing.assert_allclose(d, 1.0 - posters @ intros.T, atol=1e-5)
    np.testing.assert_allclose(clipmatch.distance_matrix(posters, intros, "-cos"), -(posters @ intros.T), atol=1e-5)


def test_save_load_identity(trained):
    root, data, model, _ = trained
    path = str(root / "saved.safetensors")
    model.save(path)
    loaded = clipmatch.Model.load(path, device="cpu")
    np.testing.assert_array_equal(model.encode_intros(data.intros[:4]), loaded.encode_intros(data.intros[:4]))
    np.testing.assert_array_equal(model.encode_posters(data.posters[:4]), loaded.encode_posters(data.posters[:4]))


def test_evaluate_writes_reports(trained):
    root, data, model, _ = trained
    out = root / "eval"
    metrics = model.evaluate(data, str(out))
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


def test_errors_raise_clipmatch_error(tmp_path):
    with pytest.raises(clipmatch.Error, match="no_such_kind"):
        clipmatch.ModelConfig(image_encoder="no_such_kind")
    with pytest.raises(clipmatch.Error, match="missing"):
        clipmatch.load_dataset(str(tmp_path / "missing"))
    with pytest.raises(clipmatch.Error, match="device"):
        clipmatch.Model(device="tpu")


def test_top_k_training_caches_the_frozen_lower_part(tmp_path):
    folder = clipmatch.generate_synthetic(str(tmp_path / "data"), n=32, seed=5)
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
    metrics = model.evaluate(data, cache_dir=reports[1]["cache_dir"])
    assert metrics["all"]["n"] == 32
