#!/usr/bin/env bash
# Create the peer environment for the benchmark suite: a separate virtualenv with
# Brian2 (which pins numpy<2.4, older than the numpy neurotile itself uses) and
# Cython (Brian2's `cython` code-generation target). The runner
# (benchmarks/run.py) uses this venv's python for the Brian2 peers when it exists;
# without it those peers are reported as skipped.
#
# Usage: bash benchmarks/setup_peers.sh            (creates benchmarks/.venv)
#        PEER_VENV=/some/path bash benchmarks/setup_peers.sh
# Needs: python3 >= 3.10 with venv, a C/C++ compiler (gcc/g++) for Brian2's
# cython and cpp_standalone modes.  The venv path matches the `.venv/` rule of
# the repository's .gitignore, so nothing in it is ever committed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEER_VENV:-$HERE/.venv}"
PY="${PYTHON:-python3}"

if ! command -v g++ >/dev/null 2>&1; then
    echo "setup_peers: warning: no g++ found; Brian2 cython/cpp_standalone will not build" >&2
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "brian2>=2.9" "numpy<2.4" "cython>=3" "psutil" "setuptools"
"$VENV/bin/python" - <<'PY'
import brian2, numpy, Cython
print("peer venv ok: brian2 %s, numpy %s, cython %s" % (brian2.__version__, numpy.__version__, Cython.__version__))
PY
echo "peer venv: $VENV"

# Warm Brian2's caches (its Cython support modules and the crossbar's C++ project
# take a few minutes to compile once), so that `run.py --quick` stays under a minute.
if [ "${SKIP_WARM:-0}" != "1" ]; then
    NEUROTILE_PEER_VENV="$VENV" "$PY" "$HERE/run.py" --quick --only crossbar \
        --impls brian2_cython,brian2_cpp_standalone >/dev/null || true
fi
