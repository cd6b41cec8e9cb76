"""The batch dialog's "Run on: cluster at": a style batch on a local Ray, as a user runs it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from plugins.style_transfer import samples
from studio.core.jobs import Job, JobState

pytestmark = pytest.mark.slow


def test_a_style_batch_on_the_cluster_lands_like_a_local_one(window, qtbot, tmp_path,
                                                             local_ray, monkeypatch):  # fmt: skip
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    folder = tmp_path / "photos"
    folder.mkdir()
    for n, size in enumerate([(96, 64), (80, 60), (64, 64)]):
        samples.photo(*size, seed=n).save(folder / f"p{n}.png")
    window.prompt_panel.select("style_transfer")
    window.prompt_panel.form().set_values({"model": "builtin", "styles": "5"})
    dialog = window.batches.open([folder])
    assert dialog.on_cluster.isEnabled() and not dialog.address.isEnabled()
    dialog.on_cluster.setChecked(True)
    assert dialog.address.isEnabled() and dialog.address.text() == "local"
    dialog.cluster_workers.setValue(2)
    assert dialog.start() == 3
    qtbot.waitUntil(lambda: dialog.succeeded + dialog.failed == 3, timeout=120_000)
    assert (dialog.succeeded, dialog.failed) == (3, 0), dialog.problems.toPlainText()
    assert dialog.progress.value() == 3 and "3 of 3 finished" in dialog.status.text()
    shown = dialog.workers_label.text()
    assert "worker 1" in shown and "worker 2" in shown and "done" in shown
    assert dialog.cluster_runner is None and window.jobs.runners == [window.runner]
    project = window.session.project
    assert project.count() == 3 and len(project.queue) == 0
    done = [s for s in window.jobs.statuses.values() if s.batch == dialog.batch]
    assert [s.state for s in done] == [JobState.DONE] * 3
    assert all("cluster worker" in s.device for s in done)
    status = done[0]  # the same pixels as the same request run here
    local = window.executor.execute(Job(status.request))
    with Image.open(io.BytesIO(project.png(status.item_ids[0]))) as stored:
        assert np.array_equal(np.asarray(stored.convert("RGB")), np.asarray(local.results[0].image))
