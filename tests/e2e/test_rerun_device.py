"""A re-run says when it ran on another device line than the image it re-makes."""

from __future__ import annotations

import json

from studio.core.jobs import JobState
from studio.ui.queue_panel import COL_STATE
from tests.e2e.test_projects import generate


def rerun(window, qtbot, item_id):
    messages = []
    window.items.message.connect(lambda text, level: messages.append((text, level)))
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as done:
        window.items.rerun(item_id)
    assert done.args[0].state is JobState.DONE
    qtbot.wait(50)
    return done.args[0], messages


def test_a_rerun_on_the_same_device_is_quiet_and_on_another_says_why(window, qtbot, project):
    job = generate(window, qtbot, count=2, seed=5)
    first, second = job.item_ids
    again, messages = rerun(window, qtbot, first)
    assert again.device == "CPU" and messages == []
    row = window.queue_panel.rows[again.id]
    assert row.toolTip(COL_STATE).startswith("Done in ") and row.toolTip(COL_STATE).endswith(
        " s on CPU")  # fmt: skip
    record = project.record(second)
    record["device"] = "CUDA (NVIDIA RTX 4090) · float16 · torch 2.13.0"
    with project.transaction() as db:
        db.execute("UPDATE items SET record = ? WHERE id = ?", (json.dumps(record), second))
    again, messages = rerun(window, qtbot, second)
    ((text, level),) = messages
    assert level == "info" and f"#{second} was made on CUDA (NVIDIA RTX 4090) · float16" in text
    assert "ran on CPU" in text and "pixels may differ" in text
