"""A process killed at any moment loses nothing it had committed (SIGKILL, 50 times)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import closing

import pytest

from studio.core.project import Project

WRITER = """
import hashlib, sys, time
import numpy as np
from PIL import Image
from studio.core.generator import Result
from studio.core.project import Project

project = Project.open(sys.argv[1], create=True)
rng = np.random.default_rng(int(sys.argv[2]))
while True:
    pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    result = Result(Image.fromarray(pixels), "noise", "1", {"n": 1}, int(rng.integers(1 << 30)))
    (item,) = project.add_results([result])
    print(item, hashlib.sha256(project.png(item)).hexdigest(), flush=True)
"""

KILLS = 20


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_a_commit(tmp_path):
    path = tmp_path / "killed.studio"
    committed: dict[int, str] = {}
    chance = random.Random(1234)
    for round_ in range(KILLS):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(round_)],
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        first = writer.stdout.readline()  # it is committing now
        assert first, f"round {round_}: the writer did not start"
        time.sleep(chance.uniform(0.0, 0.15))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate()
        for line in [first, *out.splitlines()]:
            fields = line.split()
            if len(fields) == 2 and len(fields[1]) == 64:  # the kill may cut the last report
                committed[int(fields[0])] = fields[1]
        with closing(Project.open(path)) as project:
            assert project.integrity_ok(), f"round {round_}"
            for item, digest in committed.items():
                assert hashlib.sha256(project.png(item)).hexdigest() == digest, (round_, item)
    assert len(committed) > KILLS
