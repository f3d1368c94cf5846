#!/usr/bin/env bash
# Executes examples/python/quickstart.ipynb headless and checks that every cell ran without an error.
#
#   examples/python/run-notebook.sh BUILD_DIR          # the package from BUILD_DIR/python (the build tree)
#   CLIPMATCH_PYTHONPATH=P/lib/python3/dist-packages examples/python/run-notebook.sh
#                                                       # an installed package instead (BUILD_DIR optional)
#
# Prints "notebook ok" on success. Exits 77 (ctest's "skipped") only when jupyter-nbconvert or ipykernel is not
# installed (Debian: jupyter-nbconvert python3-ipykernel; the notebook also uses python3-matplotlib).
# The executed copy goes to a temporary folder (kept, and named, on failure); the committed notebook is never
# modified. Environment: PYTHON (default /usr/bin/python3, the interpreter that runs nbconvert and the kernel).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
notebook=$here/quickstart.ipynb
python=${PYTHON:-/usr/bin/python3}

if [[ -n "${CLIPMATCH_PYTHONPATH:-}" ]]; then
  package_path=$CLIPMATCH_PYTHONPATH
elif [[ $# -ge 1 ]]; then
  package_path=$(cd "$1" && pwd)/python
else
  echo "usage: $0 BUILD_DIR   (or set CLIPMATCH_PYTHONPATH to an installed package's folder)" >&2
  exit 2
fi
if [[ ! -f "$package_path/clipmatch/__init__.py" ]]; then
  echo "run-notebook: no clipmatch package in $package_path" >&2
  exit 1
fi

if ! "$python" -c 'import nbconvert' 2>/dev/null || ! command -v jupyter-nbconvert >/dev/null 2>&1; then
  echo "run-notebook: skipped: jupyter-nbconvert is not installed (Debian: jupyter-nbconvert)"
  exit 77
fi
if ! "$python" -c 'import ipykernel' 2>/dev/null; then
  echo "run-notebook: skipped: ipykernel is not installed (Debian: python3-ipykernel)"
  exit 77
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/clipmatch-notebook.XXXXXX")
keep=0
trap '[[ $keep == 1 ]] || rm -rf "$out"' EXIT

# The kernel inherits this environment: the package path, a non-interactive plotting backend for anything
# outside %matplotlib inline, and a private Jupyter runtime folder.
export PYTHONPATH="$package_path${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=${MPLBACKEND:-Agg}
export JUPYTER_RUNTIME_DIR=$out/runtime
export MPLCONFIGDIR=$out/mpl
export TMPDIR=$out
start=$SECONDS
if ! "$python" -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
     --ExecutePreprocessor.kernel_name=python3 --output-dir "$out" --output executed.ipynb "$notebook"; then
  keep=1
  echo "run-notebook: FAILED executing $notebook (output kept in $out)" >&2
  exit 1
fi

# nbconvert stops at the first error already; check the executed copy as well (errors and expected outputs).
if ! "$python" - "$out/executed.ipynb" <<'PY'
import json, sys
nb = json.load(open(sys.argv[1], encoding="utf-8"))
code = [c for c in nb["cells"] if c["cell_type"] == "code"]
errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
if errors:
    sys.exit("error output: %s: %s" % (errors[0].get("ename"), errors[0].get("evalue")))
if any(c.get("execution_count") is None for c in code):
    sys.exit("a code cell did not run")
kinds = {k for c in code for o in c.get("outputs", []) for k in o.get("data", {})}
for kind in ("image/png", "text/html"):
    if kind not in kinds:
        sys.exit("no %s output (heatmap / top-5 table missing)" % kind)
text = "".join("".join(o.get("text", "")) for c in code for o in c.get("outputs", []))
for expected in ("epoch 1:", "encode_poster_bytes == encode_posters: True", "same embeddings after reloading: True"):
    if expected not in text:
        sys.exit("expected output missing: %r" % expected)
PY
then
  keep=1
  echo "run-notebook: FAILED checking the executed notebook (kept in $out)" >&2
  exit 1
fi
echo "run-notebook: executed in $((SECONDS - start)) s"
echo "notebook ok"
