#!/usr/bin/env bash
# Adds Studio to the desktop's application menu and makes a double-click on a .studio file
# open it in Studio (freedesktop.org: a .desktop entry and a MIME type, for this user only).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${XDG_DATA_HOME:-$HOME/.local/share}"
studio="$(pwd)/.venv/bin/studio"
[ -x "$studio" ] || { echo "Run ./run.sh once first (it sets Studio up)."; exit 1; }
mkdir -p "$data/applications" "$data/mime/packages"
sed "s|@STUDIO@|$studio|" resources/desktop/studio.desktop >"$data/applications/studio.desktop"
cp resources/desktop/studio-project.xml "$data/mime/packages/studio-project.xml"
command -v update-mime-database >/dev/null && update-mime-database "$data/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "Studio is in the application menu; .studio files open in it."
