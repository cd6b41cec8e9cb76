"""The plugin example in the README works as written."""

from __future__ import annotations

import re
from pathlib import Path

from studio.core.devices import CPU
from studio.core.jobs import Executor, Job, JobState
from studio.core.registry import Registry

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_plugin_example_loads_and_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "def generators()" in b)
    (tmp_path / "noise.py").write_text(example)
    registry = Registry().discover(builtin_dir=None, user_dir=tmp_path, use_entry_points=False)
    assert registry.unavailable == []
    generator = registry.get("noise")
    job = Job(generator.make_request({"count": 3, "seed": 5}))
    Executor(registry.get, lambda: CPU, tmp_path).execute(job)
    assert job.state is JobState.DONE, job.error
    assert [r.seed for r in job.results] == [5, 6, 7]
    assert job.results[0].image.size == (64, 64)
