"""Seeds up to 2**64 - 1 (ComfyUI and Fooocus write such seeds) through the core and the project."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core.generator import (
    RANDOM_SEED_MAX,
    SEED_MAX,
    ParamError,
    Result,
    SeedParam,
    random_seed,
    seed32,
    seed_at,
)
from studio.core.project import Project


def test_seeds_are_64_bit():
    spec = SeedParam(name="seed")
    assert SEED_MAX == 2**64 - 1
    assert spec.parse("18446744073709551615") == 2**64 - 1
    assert spec.validate(6952411511246973023) == 6952411511246973023  # a Fooocus seed
    with pytest.raises(ParamError, match="out of range 0..18446744073709551615"):
        spec.parse("18446744073709551616")


def test_a_batch_counts_up_from_its_seed_and_wraps_after_the_largest():
    assert seed_at(2**32 - 1, 1) == 2**32  # no longer wraps at 32 bits
    assert [seed_at(SEED_MAX - 1, i) for i in range(3)] == [SEED_MAX - 1, SEED_MAX, 0]


def test_random_seeds_stay_below_2_to_the_32_so_every_tool_can_remake_them():
    assert RANDOM_SEED_MAX == 2**32 - 1
    assert all(0 <= random_seed() <= RANDOM_SEED_MAX for _ in range(200))


def test_the_32_bit_fold_keeps_small_seeds_and_separates_neighbours():
    for seed in (0, 1, 12345, 2**31, 2**32 - 1):
        assert seed32(seed) == seed  # the same noise, so the same pixels, as before
    for seed in (2**32 - 1, 2**32, 2**40 + 7, 2**63, SEED_MAX):
        assert seed32(seed) != seed32(seed_at(seed, 1))  # seed and seed + 1 differ
    # torch keeps the low 32 bits: 0 and 2**32 would be the same face without the fold
    assert len({seed32(k * 2**32) for k in range(1000)}) == 1000
    assert all(0 <= seed32(s) < 2**32 for s in (SEED_MAX, 2**63 + 5))


def test_the_project_stores_and_lists_seeds_past_sqlites_signed_integers(tmp_path):
    project = Project.open(tmp_path / "p.studio", create=True)
    seeds = [0, 2**63 - 1, 2**63, SEED_MAX]
    results = [
        Result(
            image=Image.new("RGB", (4, 4)),
            generator="g",
            generator_version="1",
            params={"seed": seed},
            seed=seed,
        )
        for seed in seeds
    ]
    ids = project.add_results(results)
    assert [project.record(i)["seed"] for i in ids] == seeds
    assert sorted(row.seed for row in project.items()) == sorted(seeds)
    project.close()
    reopened = Project.open(tmp_path / "p.studio")
    assert sorted(row.seed for row in reopened.items()) == sorted(seeds)
