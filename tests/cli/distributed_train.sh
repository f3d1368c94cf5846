#!/usr/bin/env bash
# clipmatch train --nproc 2 (two real processes over Gloo on loopback) against one process with the same global
# batch: the same per-epoch losses and metrics and the same final metrics.json (frozen encoders: tiny_cnn's
# BatchNorm would normalise per rank if it trained). Then failures: a global batch that does not split across
# the ranks is refused and the launcher names the rank; a rank whose peers never come fails within
# --dist-timeout with an error naming it. Skipped without Gloo.
set -euo pipefail
cli=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cli" synthesize-dataset --out "$work/data" --n 80 --seed 4 >/dev/null
common=(--data "$work/data" --epochs 4 --seed 5 --device cpu --quiet)
"$cli" train "${common[@]}" --batch-size 24 --out "$work/one" >/dev/null
if ! "$cli" train "${common[@]}" --batch-size 24 --out "$work/two" --nproc 2 > "$work/two.log" 2>&1; then
  grep -q "no Gloo backend" "$work/two.log" && { echo "skipped: built without Gloo"; exit 0; }
  cat "$work/two.log" >&2; fail "train --nproc 2 failed"
fi

/usr/bin/python3 - "$work" <<'PY'
import json, math, sys
work = sys.argv[1]
def close(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            if k not in ("seconds",):
                close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (int, float)):
        assert math.isclose(a, b, rel_tol=0, abs_tol=1e-5), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a} != {b}"
one = [json.loads(l) for l in open(f"{work}/one/epochs.jsonl")]
two = [json.loads(l) for l in open(f"{work}/two/epochs.jsonl")]
assert len(one) == len(two) == 4, (len(one), len(two))
for a, b in zip(one, two):
    close(a, b, f"epoch {a['epoch']}")
close(json.load(open(f"{work}/one/metrics.json"))["splits"], json.load(open(f"{work}/two/metrics.json"))["splits"],
      "metrics.json")
PY

# A batch of 25 does not split across 2 ranks: both refuse it and the launcher names the failure.
if "$cli" train "${common[@]}" --out "$work/bad" --batch-size 25 --nproc 2 > "$work/bad.log" 2>&1; then
  fail "an uneven global batch was accepted"
fi
grep -q "does not split evenly across 2 ranks" "$work/bad.log" || fail "bad batch log: $(cat "$work/bad.log")"
grep -q "distributed training failed: rank . of 2 exited with status 1" "$work/bad.log" \
  || fail "launcher log: $(cat "$work/bad.log")"

# Rank 1 alone, as an external launcher would start it, with rank 0 never coming: a clear error, not a hang.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 60 \
     "$cli" train "${common[@]}" --batch-size 24 --out "$work/alone" --dist-timeout 2 > "$work/alone.log" 2>&1; then
  fail "a rank without its peers trained"
fi
grep -q "rank 1 of 2: joining the group failed" "$work/alone.log" || fail "lone rank log: $(cat "$work/alone.log")"
# Two ranks started by hand; rank 1 is killed mid-run: rank 0 stops with an error naming it (Gloo sees the closed
# connection at once; --dist-timeout bounds a hung peer), and its run folder keeps what resume needs.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
long=(--data "$work/data" --out "$work/killed" --epochs 400 --batch-size 20 --freeze full --device cpu --quiet
      --dist-timeout 20)
RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 120 "$cli" train "${long[@]}" \
  > "$work/rank0.log" 2>&1 &
rank0=$!
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$cli" train "${long[@]}" > /dev/null 2>&1 &
rank1=$!
sleep 3
{ kill -9 "$rank1" && wait "$rank1"; } 2>/dev/null || true
if wait "$rank0"; then fail "rank 0 finished although rank 1 was killed"; fi
grep -q "distributed training: rank 0 of 2: .* failed" "$work/rank0.log" || fail "rank 0 log: $(cat "$work/rank0.log")"
echo "ok: --nproc 2 equals one process; uneven batch, a missing rank and a killed rank fail clearly"
