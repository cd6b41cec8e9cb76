#!/usr/bin/env bash
# Set up if needed, then run the whole test suite headless. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
# The suite starts many Python processes (test processes, the CLI, job workers, Ray workers):
# let them keep and share compiled modules rather than compile Studio and the tests each time.
unset PYTHONDONTWRITEBYTECODE
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports  # the layers and no import circles (contracts in pyproject.toml)
# Two test processes (pytest-xdist) by default, one per core of the CI machine; set
# STUDIO_TEST_WORKERS=0 to run in this process (e.g. under a debugger).
exec .venv/bin/python -m pytest -q -n "${STUDIO_TEST_WORKERS:-2}" --dist loadgroup "$@"
