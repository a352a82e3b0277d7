#!/usr/bin/env bash
# Make sure uv exists (the lock file's installer). Everything else is installed by uv or the harness.
set -euo pipefail
if command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1; then
  exit 0
fi
echo "bootstrap: installing uv with pip" >&2
python3 -m pip install --quiet "uv>=0.5" \
  || python3 -m pip install --quiet --user "uv>=0.5" \
  || python3 -m pip install --quiet --user --break-system-packages "uv>=0.5"
python3 -m uv --version >/dev/null
