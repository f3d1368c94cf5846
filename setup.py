"""Builds the Python package `clipmatch` (a wheel) with CMake; see docs/python.md.

    python3 -m venv --system-site-packages /tmp/venv
    /tmp/venv/bin/python -m pip install --no-build-isolation --no-index .

* With CLIPMATCH_BUILD_DIR set to a configured build tree (e.g. build/), that tree is reused: only the target
  clipmatch_python is brought up to date (a no-op when it is), then installed into a staging folder.
* Otherwise a build tree of its own is configured under build-python/ (tests, examples and benchmarks off) and
  built — the whole library, several minutes.

The wheel's clipmatch/ folder holds the package, the native module, libclipmatch.so.N (the module's RPATH has
$ORIGIN) and the sentencepiece shim, which libclipmatch looks for beside itself. LibTorch and the other
third-party shared libraries are not bundled: they come from the system (Debian packages), as for the C++
library itself.

Environment: CLIPMATCH_BUILD_DIR (reuse a build tree), CLIPMATCH_CMAKE_ARGS (extra configure arguments, own
tree only), CMAKE_BUILD_PARALLEL_LEVEL (build jobs; default: serial for a reused tree, all CPUs for an own tree),
CLIPMATCH_PY_BUILD_BASE (setuptools' build folder, default build-python/).
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
BUILD_BASE = Path(os.environ.get("CLIPMATCH_PY_BUILD_BASE", ROOT / "build-python")).resolve()


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    match = re.search(r"project\(\s*clipmatch\s+VERSION\s+([0-9][0-9.]*)", text)
    if not match:
        raise RuntimeError("cannot find the project version in CMakeLists.txt")
    return match.group(1)


def run(command, **kwargs):
    print("setup.py: " + " ".join(shlex.quote(str(part)) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, **kwargs)


class CMakeBuild(build_ext):
    """Builds and stages the native part with CMake instead of compiling sources itself."""

    def run(self):
        reuse = os.environ.get("CLIPMATCH_BUILD_DIR")
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL")
        if reuse:
            build_dir = Path(reuse).resolve()
            if not (build_dir / "CMakeCache.txt").is_file():
                raise RuntimeError(f"CLIPMATCH_BUILD_DIR={reuse} is not a configured CMake build tree")
        else:
            build_dir = BUILD_BASE / "cmake"
            if not (build_dir / "CMakeCache.txt").is_file():
                run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                     "-DCLIPMATCH_BUILD_TESTS=OFF", "-DCLIPMATCH_BUILD_EXAMPLES=OFF", "-DCLIPMATCH_BUILD_BENCH=OFF",
                     "-DCLIPMATCH_BUILD_PYTHON=ON", f"-DPython_EXECUTABLE={sys.executable}",
                     *shlex.split(os.environ.get("CLIPMATCH_CMAKE_ARGS", ""))])
            jobs = jobs or str(os.cpu_count() or 1)
        build = ["cmake", "--build", build_dir, "--target", "clipmatch_python"]
        if jobs:
            build += ["--parallel", jobs]
        run(build)

        # Stage with DESTDIR so that an absolute CLIPMATCH_PYTHON_INSTALL_DIR lands in the staging folder too.
        staging = BUILD_BASE / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        env = dict(os.environ, DESTDIR=str(staging))
        for component in ("python", "python_wheel"):
            run(["cmake", "--install", build_dir, "--prefix", "/clipmatch-prefix", "--component", component], env=env)
        packages = [Path(p).parent for p in glob.glob(str(staging / "**" / "clipmatch" / "__init__.py"), recursive=True)]
        if len(packages) != 1:
            raise RuntimeError(f"expected one installed package under {staging}, found {packages}")
        staged = packages[0]

        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        modules = sorted(staged.glob("_clipmatch*.so"))
        if len(modules) != 1:
            raise RuntimeError(f"expected one native module in {staged}, found {[m.name for m in modules]}")
        if not modules[0].name.endswith(suffix):
            raise RuntimeError(f"{modules[0].name} was built for another Python than {sys.executable} "
                               f"(expects *{suffix}); configure the build tree with -DPython_EXECUTABLE=...")
        # libclipmatch.so.MAJOR is the name the module needs (its SONAME): copied once, symlinks resolved.
        sonames = [p for p in staged.iterdir() if re.fullmatch(r"libclipmatch\.so\.[0-9]+", p.name)]
        shims = [p for p in staged.iterdir() if p.name == "libclipmatch_sentencepiece.so"]
        if len(sonames) != 1 or len(shims) != 1:
            raise RuntimeError(f"libclipmatch.so.N or the sentencepiece shim missing in {staged}")

        target = Path(self.get_ext_fullpath("clipmatch._clipmatch")).parent
        target.mkdir(parents=True, exist_ok=True)
        for source in (modules[0], sonames[0], shims[0]):
            destination = target / source.name
            if destination.exists() or destination.is_symlink():
                destination.unlink()
            shutil.copyfile(source.resolve(), destination)
            shutil.copymode(source.resolve(), destination)
            print(f"setup.py: staged {destination}", flush=True)

    def get_outputs(self):
        target = Path(self.get_ext_fullpath("clipmatch._clipmatch")).parent
        return [str(p) for p in target.glob("*.so*")]


BUILD_BASE.mkdir(parents=True, exist_ok=True)
setup(
    version=project_version(),
    packages=["clipmatch"],
    package_dir={"clipmatch": "bindings/python/clipmatch"},
    package_data={"clipmatch": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("clipmatch._clipmatch", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
    options={
        "build": {"build_base": str(BUILD_BASE)},
        "egg_info": {"egg_base": str(BUILD_BASE)},
    },
)
