"""Input images on a cluster: the client's files are not on the cluster's machines, so they
travel with the jobs.

The client (`InputCache`) reads each image file a job names and puts its bytes into Ray's
object store once: every job that uses the same file (a batch's painting) gets the same
reference. A worker (`InputFiles`) writes the bytes under a folder named by their SHA-256,
keeping the file's name, so each image is written once per worker and a plugin's own cache
keyed by path still hits; it keeps the last few and removes the folders of workers that are
gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from studio.core.generator import Generator, ImageParam, Request

MAX_INPUT_BYTES = 1 << 30
INPUT_FOLDERS_KEPT = 64  # distinct input images a worker keeps on disk (oldest go first)
INPUTS_ROOT = "studio-cluster-inputs"


class InputCache:
    """Input images sent to the cluster once each: the bytes go into Ray's object store and
    the same reference serves every job that uses the same file (a batch's painting)."""

    KEPT = 32

    def __init__(self) -> None:
        self._refs: OrderedDict[tuple, tuple[str, Any]] = OrderedDict()

    def of(self, request: Request, lookup: Callable[[str], Generator], ray: Any) -> dict:
        """{param: (file name, sha256, reference)} for the request's image files."""
        from studio.core.metadata_inputs import file_name

        shipped = {}
        for spec in image_params(request, lookup):
            value = request.params.get(spec.name)
            if not isinstance(value, str) or not value or not os.path.isfile(value):
                continue  # the generator says what is wrong with it, as it would here
            stat = os.stat(value)
            if stat.st_size > MAX_INPUT_BYTES:
                raise OSError(f"'{file_name(value)}' is over 1 GB; too large to send")
            key = (value, stat.st_size, stat.st_mtime_ns)
            if key not in self._refs:
                with open(value, "rb") as handle:
                    data = handle.read()
                self._refs[key] = (hashlib.sha256(data).hexdigest(), ray.put(data))
                while len(self._refs) > self.KEPT:
                    self._refs.popitem(last=False)
            self._refs.move_to_end(key)
            digest, reference = self._refs[key]
            shipped[spec.name] = (file_name(value), digest, reference)
        return shipped


def image_params(request: Request, lookup: Callable[[str], Generator]) -> Sequence[ImageParam]:
    try:
        generator = lookup(request.generator)
    except KeyError:
        return ()
    return [p for p in generator.params if isinstance(p, ImageParam)]


class InputFiles:
    """The input images this worker was sent, on its disk, one folder per SHA-256."""

    def __init__(self) -> None:
        base = Path(tempfile.gettempdir()) / INPUTS_ROOT
        _remove_stale(base)
        self.root = base / str(os.getpid())
        self._kept: OrderedDict[str, Path] = OrderedDict()

    def place(self, inputs: Mapping[str, tuple]) -> dict[str, str]:
        """{param: path here} for {param: (file name, sha256, bytes or a Ray reference)}."""
        paths = {}
        for name, (file_name, digest, data) in inputs.items():
            folder = self.root / digest
            path = folder / file_name
            if not path.is_file():
                payload = data if isinstance(data, bytes | bytearray | memoryview) else _get(data)
                folder.mkdir(parents=True, exist_ok=True)
                partial = folder / f".{file_name}.part"
                partial.write_bytes(payload)
                partial.replace(path)
            self._kept[digest] = folder
            self._kept.move_to_end(digest)
            paths[name] = str(path)
        while len(self._kept) > INPUT_FOLDERS_KEPT:
            _digest, folder = self._kept.popitem(last=False)
            shutil.rmtree(folder, ignore_errors=True)
        return paths


def _get(reference: Any) -> bytes:
    import ray

    return ray.get(reference)


def _remove_stale(base: Path) -> None:
    """Input folders of workers that are gone (a killed worker never cleans up)."""
    with contextlib.suppress(OSError):
        for folder in base.iterdir():
            if folder.name.isdigit() and not _alive(int(folder.name)):
                shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
