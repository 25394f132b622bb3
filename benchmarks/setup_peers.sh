#!/usr/bin/env bash
# Create the peer environments for the benchmark suite, one virtualenv per peer
# (their pins conflict: Brian2 needs numpy<2.4, older than neurotile's own):
#   benchmarks/.venv         Brian2 + Cython (Brian2's `cython` code-generation target)
#   benchmarks/.venv-sanafe  SANA-FE (PyPI `sanafe`, a binary wheel) + numpy + PyYAML
#   benchmarks/.venv-nest    NEST (PyPI `nest-simulator`, a binary wheel)
# The runner (benchmarks/run.py) uses each venv's python for its peers when it
# exists; without it those peers are reported as skipped. The SANA-FE venv also
# enables the SANA-FE energy cross-check test (tests/test_energy_models.py), which
# is skipped, with the reason, when the venv is missing.
#
# Usage: bash benchmarks/setup_peers.sh                 (all three)
#        PEERS="sanafe nest" bash benchmarks/setup_peers.sh
#        PEER_VENV=/some/path SANAFE_VENV=... NEST_VENV=... bash benchmarks/setup_peers.sh
# Needs: python3 >= 3.10 with venv, a C/C++ compiler (gcc/g++) for Brian2's
# cython and cpp_standalone modes. The venv paths match the `.venv*` rule of the
# repository's .gitignore, so nothing in them is ever committed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEER_VENV:-$HERE/.venv}"
SANAFE_VENV="${SANAFE_VENV:-$HERE/.venv-sanafe}"
NEST_VENV="${NEST_VENV:-$HERE/.venv-nest}"
PY="${PYTHON:-python3}"
PEERS="${PEERS:-brian2 sanafe nest}"

make_venv() {
    if [ ! -x "$1/bin/python" ]; then
        "$PY" -m venv "$1"
    fi
    "$1/bin/python" -m pip install --quiet --upgrade pip
}

for peer in $PEERS; do
    case "$peer" in
    brian2)
        if ! command -v g++ >/dev/null 2>&1; then
            echo "setup_peers: warning: no g++ found; Brian2 cython/cpp_standalone will not build" >&2
        fi
        make_venv "$VENV"
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
        ;;
    sanafe)
        # 2.2.9 is the version whose binding quirks benchmarks/peers/sanafe_peer.py works
        # around and whose loihi.yaml emulator/energy_models/loihi-sanafe.yaml cites.
        make_venv "$SANAFE_VENV"
        "$SANAFE_VENV/bin/python" -m pip install --quiet "sanafe==2.2.9" "numpy" "pyyaml"
        "$SANAFE_VENV/bin/python" -c "import sanafe, numpy, yaml; from importlib.metadata import version; print('SANA-FE venv ok: sanafe %s, numpy %s' % (version('sanafe'), numpy.__version__))"
        echo "SANA-FE venv: $SANAFE_VENV"
        ;;
    nest)
        make_venv "$NEST_VENV"
        "$NEST_VENV/bin/python" -m pip install --quiet "nest-simulator>=3.8" "numpy"
        "$NEST_VENV/bin/python" -c "import nest, numpy; print('NEST venv ok: nest %s, numpy %s' % (nest.__version__, numpy.__version__))" 2>/dev/null | tail -1
        echo "NEST venv: $NEST_VENV"
        ;;
    *)
        echo "setup_peers: unknown peer '$peer' (choose from brian2 sanafe nest)" >&2
        exit 2
        ;;
    esac
done
