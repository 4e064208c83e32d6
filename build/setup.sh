#!/usr/bin/env bash
# Installs everything lameduck needs on a fresh Debian machine: the C toolchains for the static hook
# (musl for amd64, the aarch64 cross compiler with musl for arm64), qemu-user-static to run the arm64
# hook in tests, clang with libFuzzer for the hook's fuzz target, kubectl for rendering the manifests,
# and the npm packages, which include a supported Node.js (22.19+; the machine's own Node may be older).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want=(musl-tools gcc-aarch64-linux-gnu musl-dev:arm64 qemu-user-static clang libclang-rt-14-dev make)
command -v kubectl >/dev/null 2>&1 || want+=(kubernetes-client)

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: installing npm packages"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

node_version=$(npx --no-install node --version)
echo "setup: done (Node.js ${node_version} from node_modules, $(musl-gcc --version 2>/dev/null | head -n1 | cut -c1-40))"
