#!/usr/bin/env bash
# Install what the hardware-in-the-loop tests need on Debian 12, idempotently:
#   apt: qemu-system-arm + firmware-microbit-micropython (virtual micro:bit), socat (pty
#        bridge for the wasm board); nodejs/npm only if node is missing;
#   npm: the pinned MicroPython WebAssembly package into hil/node/ (package.json pins it).
# Python packages (pip install -e '.[test]') are installed by scripts/test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need_apt=()
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)
[ -f /usr/share/firmware-microbit-micropython/firmware.hex ] || need_apt+=(firmware-microbit-micropython)
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "install-test-deps: apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
else
    echo "install-test-deps: apt packages already present"
fi

node_major=$(node --version | sed -E 's/^v([0-9]+).*/\1/')
if [ "$node_major" -lt 16 ]; then
    echo "install-test-deps: node $(node --version) is too old; the wasm board needs Node 16+" >&2
    exit 1
fi

wasm_pkg=hil/node/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs
if [ -f "$wasm_pkg" ] && grep -q '"version": "1.27.0"' \
        hil/node/node_modules/@micropython/micropython-webassembly-pyscript/package.json; then
    echo "install-test-deps: MicroPython wasm 1.27.0 already in hil/node"
else
    echo "install-test-deps: npm install in hil/node"
    if [ -f hil/node/package-lock.json ]; then
        (cd hil/node && npm ci --no-audit --no-fund --loglevel=error)
    else
        (cd hil/node && npm install --no-audit --no-fund --loglevel=error)
    fi
fi
echo "install-test-deps: done"
