"""A comparison grid of text to image on a tiny random pipeline: CFG × Prompt S/R, each cell
the image the same request makes on its own."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.text_to_image.generator import TextToImage
from studio.core.devices import CPU
from studio.core.grid import parse_axis, plan_grid
from studio.core.grid_image import GridRun
from studio.core.jobs import Executor, Job, JobState
from tests.t2i_tiny import build_pipeline


@pytest.mark.slow  # builds and loads a pipeline: diffusers' import and load dominate
def test_cfg_by_prompt_search_and_replace(tmp_path, monkeypatch):
    model = build_pipeline(tmp_path / "models" / "tiny-sd")
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    generator = TextToImage()
    base = {"model": str(model), "prompt": "a cat on the mat", "steps": 2, "width": 64,
            "height": 64, "seed": 3, "count": 2}  # fmt: skip
    x = parse_axis(generator.params, "CFG scale", "1, 9")
    y = parse_axis(generator.params, "prompt_sr", "cat, dog")
    plan = plan_grid(generator, base, [x, y])
    assert [(c.params["cfg"], c.params["prompt"], c.params["count"]) for c in plan.cells] == [
        (1.0, "a cat on the mat", 1), (9.0, "a cat on the mat", 1),
        (1.0, "a dog on the mat", 1), (9.0, "a dog on the mat", 1),
    ]  # fmt: skip
    executor = Executor(lambda _id: generator, lambda: CPU, tmp_path, threads=1)
    run = GridRun(generator, plan)
    cells = []
    for request in plan.runs:
        job = executor.execute(Job(request))
        assert job.state is JobState.DONE, job.error
        cells.append(np.asarray(job.results[0].image.convert("RGB")))
        run.finished(request, job.results[0].image)
    assert not np.array_equal(cells[0], cells[1])  # CFG changes the picture
    assert not np.array_equal(cells[0], cells[2])  # so does the prompt
    again = executor.execute(Job(plan.cells[3]))  # a cell is its own request, reproducible
    assert np.array_equal(np.asarray(again.results[0].image.convert("RGB")), cells[3])
    result = run.result()
    layout = run.image._layout(64, 64)
    assert result.image.size == layout.size
    left, top = layout.pad_left + 64, layout.pad_top + 64
    pasted = np.asarray(result.image.crop((left, top, left + 64, top + 64)))
    assert np.array_equal(pasted, cells[3])
    assert result.infotext["X Type"] == "CFG scale" and result.infotext["Y Type"] == "Prompt S/R"
