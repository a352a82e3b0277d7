#!/usr/bin/env bash
# Make sure uv exists (the lock file's installer), and cargo/rustc for the native page decoder
# (native/, built from source by `uv sync`). Everything else is installed by uv or the harness.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "bootstrap: installing the Rust toolchain (Debian's cargo-web/rustc-web) with apt-get" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  $sudo apt-get update -qq
  # cargo-web/rustc-web are Debian 12's current Rust (1.85+); plain cargo/rustc elsewhere.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cargo-web rustc-web \
    || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cargo rustc
  cargo --version >&2
fi

if command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1; then
  exit 0
fi
echo "bootstrap: installing uv with pip" >&2
python3 -m pip install --quiet "uv>=0.5" \
  || python3 -m pip install --quiet --user "uv>=0.5" \
  || python3 -m pip install --quiet --user --break-system-packages "uv>=0.5"
python3 -m uv --version >/dev/null
