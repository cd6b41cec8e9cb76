#!/usr/bin/env bash
# Idempotent set-up: system libraries Qt needs (when root), .venv with pinned dependencies,
# and the default models. A second run with nothing changed takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.studio-installed

# Qt's xcb/offscreen platforms load these shared libraries at run time.
QT_DEBS="libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0"
# The tests check the EXIF Studio writes with exiftool, an outside reader.
TEST_DEBS="libimage-exiftool-perl"
if command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for deb in $QT_DEBS $TEST_DEBS; do
    dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing="$missing $deb"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "Installing system packages (Qt's libraries, exiftool for the tests):$missing"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
      echo "Studio (Qt, and exiftool for the tests) needs these system packages:$missing"
      echo "  sudo apt-get install$missing"
    fi
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "Installing dependencies into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch first and alone: the pinned CPU wheel; anything unpinned would pull a CUDA build.
  # STUDIO_TORCH_INDEX picks another wheel index (e.g. PyTorch's CPU-only one) where needed.
  "$VENV/bin/python" -m pip install -q "torch==2.13.0" ${STUDIO_TORCH_INDEX:+--index-url "$STUDIO_TORCH_INDEX"}
  # The cluster extra (Ray) too, so the tests cover batches on a cluster.
  "$VENV/bin/python" -m pip install -q -e ".[test,cluster]"
  echo "$want" >"$STAMP"
fi

# Default models: once, and again whenever the dependencies change. A failure (no network)
# is not fatal: the window lists the generator as unavailable and says how to install it.
MODELS_STAMP=$VENV/.studio-models
models_want=$(cat pyproject.toml plugins/*/*.py studio/upscalers/builtin.py | sha256sum | cut -c1-16)  # new plugins, new models
if [ "$(cat "$MODELS_STAMP" 2>/dev/null)" != "$models_want" ]; then
  if "$VENV/bin/studio" models install-defaults | grep -v "already installed"; [ "${PIPESTATUS[0]}" = 0 ]; then
    echo "$models_want" >"$MODELS_STAMP"
  else
    echo "Some default models could not be installed; run: .venv/bin/studio models install-defaults"
  fi
fi
