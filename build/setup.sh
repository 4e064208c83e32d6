#!/usr/bin/env bash
# Installs everything lameduck needs on a fresh Debian machine: the C toolchains for the static hook
# (musl for amd64, the aarch64 cross compiler with musl for arm64), qemu-user-static to run the arm64
# hook in tests, clang with libFuzzer for the hook's fuzz target, kubectl for rendering the manifests,
# and the npm packages, which include a supported Node.js (22.19+; the machine's own Node may be older).
# Safe to run again: it installs only what is missing. Prints a line per step with its duration.
set -euo pipefail
cd "$(dirname "$0")/.."

step_started=$SECONDS
step() { echo "setup: $*"; step_started=$SECONDS; }
took() { echo "setup:   done in $((SECONDS - step_started)) s"; }

want=(musl-tools gcc-aarch64-linux-gnu musl-dev:arm64 qemu-user-static clang libclang-rt-14-dev make)
command -v kubectl >/dev/null 2>&1 || want+=(kubernetes-client)

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  # Through env: sudo would drop a plain assignment, and debconf would then try a dialog.
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o=Dpkg::Use-Pty=0)
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    "${sudo[@]}" dpkg --add-architecture arm64
  fi
  step "updating the Debian package lists (arm64 included)"
  "${apt[@]}" update
  took
  step "installing ${#missing[@]} Debian packages (about half a minute on a fresh machine): ${missing[*]}"
  # Without apt-utils debconf says it delays configuration, for every package: nothing to act on.
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null \
    2> >(grep -v '^debconf: delaying package configuration, since apt-utils is not installed' >&2)
  took
fi

# The machine's npm may run on an older Node.js than the packages declare (EBADENGINE warnings): they
# run on the Node.js 24 the packages bring, so only errors are shown, here and in nested installs.
step "installing npm packages (Node.js 24 among them)"
if [ -f package-lock.json ]; then
  npm_config_loglevel=error npm ci --no-audit --no-fund
else
  npm_config_loglevel=error npm install --no-audit --no-fund
fi
took

node_version=$(npx --no-install node --version)
echo "setup: done: Node.js ${node_version} from node_modules, musl-gcc $(musl-gcc -dumpversion 2>/dev/null || echo '(missing)'), aarch64-linux-musl-gcc $(aarch64-linux-musl-gcc -dumpversion 2>/dev/null || echo '(missing)')"
echo "setup: next: npm run demo (the local demo), npm test (the test suite)"
