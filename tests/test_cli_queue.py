"""Headless commands through a project's stored queue: every image of a batch lands once, an
interrupted batch resumes with what is missing, and `--project` needs no `--out`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing

import pytest

from plugins.style_transfer import samples
from studio.cli import EXIT_INTERRUPTED, main
from studio.core.generator import Request
from studio.core.project import Project
from studio.core.project_queue import QueueEntry

TICK_PLUGIN = """
import time
from PIL import Image
from studio.core.generator import Generator, IntParam, SeedParam

class Tick(Generator):
    id = "tick"
    title = "Tick"
    params = (IntParam(name="n", maximum=10_000), SeedParam(name="seed"))

    def run(self, request, ctx):
        for step in range(4):
            ctx.check_cancelled()
            time.sleep(0.02)
            ctx.progress(step + 1, 4)
        shade = request.params["n"] % 256
        return [self.result(request, Image.new("RGB", (8, 8), (shade, 0, 0)), request.seed)]

def generators():
    return [Tick()]
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "plugins").mkdir(parents=True)
    (home / "plugins" / "tick.py").write_text(TICK_PLUGIN)
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home


def test_stylize_into_a_project_keeps_every_image(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    photos = []
    for n in range(3):
        photos.append(tmp_path / f"p{n}.png")
        samples.photo(48, 32, seed=n).save(photos[-1])
    project = tmp_path / "p.studio"
    args = ["stylize", *map(str, photos), "--style", "3", "--out", str(tmp_path / "out")]
    assert main([*args, "--project", str(project), "--device", "cpu", "-q"]) == 0, (
        capsys.readouterr().err
    )
    with closing(Project.open(project)) as opened:
        assert opened.count() == 3 and len(opened.queue) == 0
    assert len(list((tmp_path / "out").iterdir())) == 3


def test_generate_into_a_project_needs_no_out(models_dir, tmp_path, capsys):
    project = tmp_path / "p.studio"
    assert main(["generate", "gan_faces", "--count", "2", "--project", str(project), "-q"]) == 0
    assert "Committed 2 result(s)" in capsys.readouterr().out
    with closing(Project.open(project)) as opened:
        assert opened.count() == 2
    assert main(["generate", "gan_faces"]) == 2
    assert "--out FOLDER, --project FILE, or both" in capsys.readouterr().err


def store(path, count):
    with closing(Project.open(path, create=True)) as project:
        entries = [
            QueueEntry(
                Request("tick", {"n": n, "seed": n}, n), f"tick {n}", batch="b", batch_index=n
            )  # fmt: skip
            for n in range(count)
        ]
        project.queue.add(entries)


def test_queue_lists_and_runs_the_waiting_jobs(home, tmp_path, capsys):
    path = tmp_path / "q.studio"
    store(path, 3)
    assert main(["queue", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 job(s) waiting" in out and "tick 0" in out and "tick 2" in out
    assert main(["queue", str(path), "--run", "-q"]) == 0
    assert "Finished 3 job(s)" in capsys.readouterr().out
    with closing(Project.open(path)) as project:
        assert project.count() == 3 and len(project.queue) == 0
    assert main(["queue", str(path)]) == 0
    assert "Nothing is waiting" in capsys.readouterr().out


def test_ctrl_c_leaves_the_rest_queued(home, tmp_path):
    path = tmp_path / "q.studio"
    store(path, 40)
    env = dict(os.environ, STUDIO_HOME=str(home))
    command = [sys.executable, "-m", "studio.cli", "queue", str(path), "--run", "-q",
               "--device", "cpu"]  # fmt: skip  # the plugin needs no torch: none is imported
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while committed(path) == 0:  # it is working through the queue now
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert "the rest stays queued" in err and "Traceback" not in err
    with closing(Project.open(path)) as project:
        made, left = project.count(), len(project.queue)
    assert made > 0 and made + left == 40


def committed(path):
    with closing(Project.open(path, read_only=True)) as project:
        return project.count()


@pytest.mark.slow
def test_a_batch_killed_at_random_moments_resumes_with_exactly_what_is_missing(home, tmp_path):
    path = tmp_path / "q.studio"
    count = 30
    store(path, count)
    env = dict(os.environ, STUDIO_HOME=str(home))
    command = [sys.executable, "-m", "studio.cli", "queue", str(path), "--run", "-q",
               "--device", "cpu"]  # fmt: skip  # the plugin needs no torch: none is imported
    chance = random.Random(7)
    cut = []
    for _ in range(3):
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        before, deadline = committed(path), time.monotonic() + 60
        while committed(path) == before and process.poll() is None:  # it is committing now
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(chance.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
        with closing(Project.open(path)) as project:
            cut.append(project.count())
    assert any(0 < made < count for made in cut), cut  # killed in the middle of the batch
    assert subprocess.run(command, env=env, timeout=120).returncode == 0
    with closing(Project.open(path)) as project:
        made = Counter(project.record(row.id)["params"]["n"] for row in project.items())
        assert project.integrity_ok() and len(project.queue) == 0
    assert made == Counter(range(count))  # each input exactly once: none twice, none skipped
