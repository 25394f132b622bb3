#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run it.
# This is the README's second quick-start command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh            # apt: QEMU, micro:bit firmware, socat; npm: MicroPython wasm
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
# The SANA-FE and NEST peers (binary wheels, own venvs): the energy cross-check against
# SANA-FE and the peer tests run them for real instead of skipping.
PEERS="sanafe nest" SKIP_WARM=1 bash benchmarks/setup_peers.sh
# pytest exits 5 when it collects no test: that is a failure too, not a pass.
set +e
python3 -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test-all: pytest collected no tests; failing" >&2
    exit 1
fi
exit "$status"
