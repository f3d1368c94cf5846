"""The wheel: `pip install --no-build-isolation --no-index .` in a venv, reusing the configured build tree.

Needs CLIPMATCH_BUILD_DIR (set by ctest) and Debian's python3-venv, python3-pip, python3-setuptools and
python3-wheel; skipped otherwise.
"""
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("CLIPMATCH_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[3]))

CHECK = r"""
import os, sys, tempfile, numpy as np, clipmatch
package = os.path.dirname(clipmatch.__file__)
assert package.startswith(sys.prefix), (package, sys.prefix)
names = sorted(os.listdir(package))
assert "libclipmatch_sentencepiece.so" in names and "py.typed" in names and "_clipmatch.pyi" in names, names
assert any(n.startswith("libclipmatch.so.") for n in names), names
# Training tiny_text builds a sentencepiece vocabulary: the shim must load from beside libclipmatch.
root = tempfile.mkdtemp()
data = clipmatch.load_dataset(clipmatch.synthesize_dataset(os.path.join(root, "data"), n=16, seed=2))
model = clipmatch.Model(clipmatch.ModelConfig(embed_dim=8), device="cpu")
model.train(data, clipmatch.TrainOptions(os.path.join(root, "run"), epochs=1, batch_size=8, freeze="full"))
e = model.encode_intros(data.intros[:3])
assert e.shape == (3, 8) and abs(float(np.linalg.norm(e[0])) - 1) < 1e-5
with open("/proc/self/maps") as maps:
    loaded = {line.split()[-1] for line in maps if "libclipmatch" in line}
assert any("libclipmatch_sentencepiece" in p for p in loaded), loaded
assert all(p.startswith(package) for p in loaded), loaded
print("wheel ok", clipmatch.__version__, package)
"""


def test_pip_installs_a_working_wheel(tmp_path):
    build_dir = os.environ.get("CLIPMATCH_BUILD_DIR")
    if not build_dir or not (pathlib.Path(build_dir) / "CMakeCache.txt").is_file():
        pytest.skip("CLIPMATCH_BUILD_DIR (a configured build tree) is not set")
    for module in ("setuptools", "wheel", "pip", "venv", "ensurepip"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (Debian: python3-{module if module != 'ensurepip' else 'venv'})")
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip("python3 -m venv does not work here: " + made.stderr[-300:])
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(CLIPMATCH_BUILD_DIR=str(pathlib.Path(build_dir).resolve()),
               CLIPMATCH_PY_BUILD_BASE=str(tmp_path / "pybuild"), PIP_NO_CACHE_DIR="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", "-v",
                              str(SOURCE_DIR)], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert install.returncode == 0, install.stdout[-4000:] + install.stderr[-4000:]
    assert not (SOURCE_DIR / "clipmatch.egg-info").exists(), "the build left clipmatch.egg-info in the source tree"
    check = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "wheel ok" in check.stdout
