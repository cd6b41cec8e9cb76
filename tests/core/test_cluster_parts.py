"""The cluster path's parts that need no Ray: sizing the pool, cutting a request into parts,
what a worker does with a job and its input images, and the errors a user sees first."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import time

import numpy as np
import pytest
from PIL import Image

from studio.cli import EXIT_FAILED, EXIT_USAGE, main
from studio.core.cluster import INSTALL_HINT, ClusterError, ClusterExecutor, ClusterSpec, plan
from studio.core.cluster_plan import _check_reachable
from studio.core.cluster_worker import GeneratorWorker
from studio.core.generator import Generator, ImageParam, Request, SeedParam
from studio.core.registry import Registry
from tests import fakes


class Invert(Generator):
    """Inverts its input image and says which file it read."""

    id = "invert"
    title = "Invert"
    params = (ImageParam(name="image"), ImageParam(name="mask", optional=True),
              SeedParam(name="seed"))  # fmt: skip

    def run(self, request, ctx):
        ctx.check_cancelled()
        with Image.open(request.params["image"]) as image:
            pixels = 255 - np.asarray(image.convert("RGB"))
        ctx.progress(1, 1)
        return [self.result(request, Image.fromarray(pixels), request.seed, note="inverted")]


def registry() -> Registry:
    """For workers built by name: the inverter and the usual fakes."""
    made = fakes.registry()
    made.register(Invert())
    return made


def worker() -> GeneratorWorker:
    return GeneratorWorker("tests.core.test_cluster_parts:registry", "cpu", 1, {})


@pytest.mark.parametrize(
    ("spec", "resources", "jobs", "wanted"),
    [
        (ClusterSpec(workers=2), {"CPU": 2}, 0, (2, 1, False)),  # 2 workers share 2 cores
        (ClusterSpec(), {"CPU": 16}, 0, (4, 4, False)),  # one per 4 cores by default
        (ClusterSpec(), {"CPU": 2}, 0, (1, 2, False)),
        (ClusterSpec(threads=2), {"CPU": 16}, 3, (3, 2, False)),  # no more workers than jobs
        (ClusterSpec(), {"CPU": 32, "GPU": 4}, 0, (4, 0, True)),  # one per GPU
        (ClusterSpec(device="cpu"), {"CPU": 8, "GPU": 4}, 0, (2, 4, False)),
        (ClusterSpec(workers=6, device="cuda"), {"CPU": 8, "GPU": 2}, 0, (6, 0, True)),
    ],
)
def test_the_pool_fits_the_cluster(spec, resources, jobs, wanted):
    made = plan(spec, resources, jobs)
    assert (made.workers, made.threads, made.gpu) == wanted
    if made.gpu:
        assert made.resources() == {"num_gpus": 1, "num_cpus": 1}
    else:
        assert made.resources() == {"num_cpus": made.threads}


def test_cuda_on_a_cluster_without_gpus_says_so():
    with pytest.raises(ClusterError, match="has no GPU; use --device cpu"):
        plan(ClusterSpec(device="cuda"), {"CPU": 8}, 0)


def test_a_batch_splits_into_runs_of_consecutive_seeds():
    solid = fakes.SolidColour()
    request = solid.make_request({"count": 10, "seed": 2**64 - 3, "size": 8})
    parts = solid.split(request, 3)
    assert [p.params["count"] for p in parts] == [4, 3, 3]
    assert [p.params["seed"] for p in parts] == [2**64 - 3, 1, 4]  # wraps like seed_at
    assert [p.seed for p in parts] == [p.params["seed"] for p in parts]
    assert all(p.params["size"] == 8 for p in parts)
    assert solid.split(request, 50)[-1].params == {"count": 1, "seed": 6, "size": 8}
    assert solid.split(request, 1) == [request]
    slow = fakes.Slow()  # no count: one part
    one = slow.make_request({"steps": 5, "seed": 1})
    assert slow.split(one, 4) == [one]


def test_a_worker_runs_on_the_images_it_was_sent_and_gives_back_the_clients_paths(tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (6, 4), (10, 20, 30)).save(photo)
    data = photo.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    request = Invert().make_request({"image": str(photo), "seed": 5})
    photo.unlink()  # the client's file is not on the worker's machine
    running = worker()
    state, error, _details, results, device = running.run(
        7, request.to_json(), None, {"image": ("photo.png", digest, data)}
    )
    assert (state, error, device) == ("done", "", "CPU")
    assert results[0].params["image"] == str(photo)  # what is committed names the user's file
    assert np.asarray(results[0].image)[0, 0].tolist() == [245, 235, 225]
    placed = running._inputs.root / digest / "photo.png"
    assert placed.read_bytes() == data
    pid, _host, job_id, step, total, _device = running.state()
    assert (pid, job_id, step, total) == (os.getpid(), None, 1, 1)
    # a second job with the same image reuses the file (a reference it cannot fetch is
    # never read)
    again = running.run(8, request.to_json(), None, {"image": ("photo.png", digest, object())})
    assert again[0] == "done"


def test_a_worker_told_to_cancel_runs_nothing_of_that_job(tmp_path):
    running = worker()
    request = fakes.Slow().make_request({"steps": 1000, "seed": 1})
    running.cancel(9)
    started = time.monotonic()
    state, _error, _details, results, _device = running.run(9, request.to_json(), None, {})
    assert state == "cancelled" and results == [] and time.monotonic() - started < 2
    assert running.run(10, fakes.SolidColour().make_request({"seed": 1}).to_json(), 0, {})[0] == (
        "done"
    )


def test_a_plugin_failure_on_a_worker_is_a_failed_job_not_an_exception():
    state, error, details, results, _device = worker().run(
        1, Request("failing", {"seed": 1}, 1).to_json(), None, {}
    )
    assert state == "failed" and "the model exploded" in error and "Traceback" in details
    assert results == []


def test_an_address_where_nothing_listens_fails_within_seconds(tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
    started = time.monotonic()
    with pytest.raises(ClusterError, match=f"Nothing answers at 127.0.0.1:{port}"):
        _check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    with pytest.raises(ClusterError, match="is not a Ray address"):
        _check_reachable("head-node")
    photo, project = tmp_path / "p.png", tmp_path / "p.studio"
    Image.new("RGB", (8, 8)).save(photo)
    code = main(["stylize", str(photo), "--style", "3", "--out", str(tmp_path / "out"),
                 "--project", str(project), "--cluster", f"127.0.0.1:{port}", "-q"])  # fmt: skip
    assert code == EXIT_FAILED and time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert f"Nothing answers at 127.0.0.1:{port}" in err and "ray start --head" in err
    assert not project.exists()  # refused before anything was stored
    assert main(["generate", "gan_faces", "--workers", "2", "--out", str(tmp_path)]) == EXIT_USAGE
    assert "--workers is for a cluster" in capsys.readouterr().err


def test_without_ray_the_cluster_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    with pytest.raises(ClusterError) as caught:
        ClusterExecutor(ClusterSpec(), registry().get).connect()
    assert str(caught.value) == INSTALL_HINT and 'pip install -e ".[cluster]"' in INSTALL_HINT
    photo = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(photo)
    code = main(["stylize", str(photo), "--style", "3", "--out", str(tmp_path / "out"),
                 "--cluster", "local", "-q"])  # fmt: skip
    assert code == EXIT_FAILED
    assert '.[cluster]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
