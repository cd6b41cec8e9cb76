"""A process killed at any moment loses nothing it had committed (SIGKILL, 20 times).

The writers are forked from one process that has imported Studio already, so a round costs
what it kills, not a Python start-up."""

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

# Reads "ROUND OUT" lines; for each forks a writer that commits 24 px pictures into the
# project as fast as it can and reports "item sha256" to OUT after each commit. Answers the
# writer's pid, then "gone" once it has died.
ZYGOTE = """
import hashlib, os, sys
import numpy as np
from PIL import Image
from studio.core.generator import Result
from studio.core.project import Project

for line in sys.stdin:
    round_, out = line.split()
    pid = os.fork()
    if pid == 0:
        report = open(out, "w", buffering=1)
        project = Project.open(sys.argv[1], create=True)
        rng = np.random.default_rng(int(round_))
        while True:
            pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
            result = Result(Image.fromarray(pixels), "noise", "1", {"n": 1},
                            int(rng.integers(1 << 30)))
            (item,) = project.add_results([result])
            print(item, hashlib.sha256(project.png(item)).hexdigest(), file=report)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("gone", flush=True)
"""

KILLS = 20


def first_line(path, deadline):
    while True:
        if path.exists() and path.read_text().count("\n"):
            return
        assert time.monotonic() < deadline, "the writer did not start"
        time.sleep(0.002)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_a_commit(tmp_path):
    path = tmp_path / "killed.studio"
    committed: dict[int, str] = {}
    chance = random.Random(1234)
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
    )
    try:
        for round_ in range(KILLS):
            out = tmp_path / f"writer{round_}.txt"
            zygote.stdin.write(f"{round_} {out}\n")
            zygote.stdin.flush()
            writer = int(zygote.stdout.readline())
            first_line(out, time.monotonic() + 30)  # it is committing now
            time.sleep(chance.uniform(0.0, 0.15))
            os.kill(writer, signal.SIGKILL)
            assert zygote.stdout.readline() == "gone\n"
            for line in out.read_text().splitlines():
                fields = line.split()
                if len(fields) == 2 and len(fields[1]) == 64:  # the kill may cut the last report
                    committed[int(fields[0])] = fields[1]
            with closing(Project.open(path)) as project:
                assert project.integrity_ok(), f"round {round_}"
                for item, digest in committed.items():
                    assert hashlib.sha256(project.png(item)).hexdigest() == digest, (round_, item)
    finally:
        zygote.kill()
        zygote.wait()
    assert len(committed) > KILLS
