"""The bad-inputs corpus through the Python face (see README.md).

    PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/bad_inputs/test_bad_inputs.py

The cases are written once per session (make_cases.py, base dataset from clipmatch.synthesize_dataset) into a
temporary folder; each case then loads the dataset, makes a CPU model and trains one epoch with batch size 8
(the case's train arguments replacing those). An accepted case must train and write run/model.safetensors; a
refused one must raise clipmatch.Error — from load_dataset, Model, TrainOptions or train, whichever refuses
first — whose message contains every name of the case, and leave no model.safetensors and no temporary file.
"""
import glob
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_cases  # noqa: E402

clipmatch = pytest.importorskip("clipmatch")

CASE_NAMES = [make_cases.case_name(fn) for fn in make_cases.CASES]


@pytest.fixture(scope="session")
def cases_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad_inputs_cases")
    make_cases.make_cases(str(out), binary=None)  # base dataset from the Python module itself
    return out


def train_case(folder, run_dir, train_args):
    """Everything a user does to train on `folder`; raises whatever the library raises."""
    args = dict(train_args)
    device = args.pop("device", "cpu")
    kwargs = {"epochs": 1, "batch_size": 8, "use_cache": False, "verbose": False}
    for key, value in args.items():
        if key == "learning_rate":
            kwargs["lr"] = float(value)  # "nan", "inf" included
        elif key in ("epochs", "batch_size"):
            kwargs[key] = int(value)
        else:
            raise AssertionError("unknown train argument %r" % key)
    data = clipmatch.load_dataset(str(folder))
    model = clipmatch.Model(device=device)
    options = clipmatch.TrainOptions(str(run_dir), **kwargs)
    return model.train(data, options)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(cases_dir, tmp_path, name):
    import json

    folder = cases_dir / name
    with open(folder / "case.json", encoding="utf-8") as f:
        case = json.load(f)
    run_dir = tmp_path / "run"

    if case["expect"] == "accept":
        report = train_case(folder, run_dir, case["train_args"])
        assert report["epochs_run"] >= 1
        assert (run_dir / "model.safetensors").is_file()
    else:
        assert case["expect"] == "refuse"
        try:
            train_case(folder, run_dir, case["train_args"])
        except clipmatch.Error as e:
            message = str(e)
        except Exception as e:  # noqa: BLE001 — any other type is a finding: the docs promise clipmatch.Error
            pytest.fail("%s: raised %s, not clipmatch.Error: %s" % (name, type(e).__name__, e))
        else:
            pytest.fail("%s: accepted, expected a refusal naming %s" % (name, case["names"]))
        assert "unexpected error" not in message.lower(), message
        missing = [n for n in case["names"] if n not in message]
        assert not missing, "%s: message does not name %s: %s" % (name, missing, message)
        assert not (run_dir / "model.safetensors").exists(), "partial output: " + str(run_dir)

    leftovers = glob.glob(str(tmp_path / "**" / ".*.tmp.*"), recursive=True)
    assert not leftovers, "temporary files left: %s" % leftovers


def test_corpus_covers_the_brief(cases_dir):
    """The corpus keeps at least the cases the brief lists, with the expected verdicts."""
    import json

    want = {
        "cmyk_jpeg": "accept", "grayscale_jpeg": "accept", "progressive_jpeg": "accept",
        "png_16bit_rgb": "accept", "png_alpha": "accept", "one_pixel_jpeg": "accept", "bom_crlf_csv": "accept",
        "poster_is_folder": "refuse", "missing_poster": "refuse", "missing_intro_column": "refuse",
        "empty_dataset": "refuse", "empty_intro": "refuse", "train_duplicate_index": "refuse",
        "train_index_out_of_range": "refuse", "train_non_numeric": "refuse", "truncated_jpeg": "refuse",
        "huge_jpeg_header": "refuse", "text_named_jpg": "refuse", "zero_batch_size": "refuse",
        "negative_epochs": "refuse", "nan_learning_rate": "refuse", "device_cuda": "refuse",
    }
    for name, expect in want.items():
        with open(cases_dir / name / "case.json", encoding="utf-8") as f:
            case = json.load(f)
        assert case["expect"] == expect, name
        if expect == "refuse":
            assert case["names"], name
    with open(cases_dir / "cases.txt") as f:
        assert [l.strip() for l in f if l.strip()] == CASE_NAMES
