#!/usr/bin/env bash
# Set up (first time, or when dependencies changed) and start Studio.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/studio "$@"
