"""Principal directions of a GAN (GANSpace), walking them, and finding a picture's latent."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import torch

from plugins.gan_faces import directions, install, store
from plugins.gan_faces.directions import Walk, parse_offsets
from plugins.gan_faces.find import found_latents
from plugins.gan_faces.generator import GanFaces
from studio.core.devices import CPU
from studio.core.generator import Cancelled, Context, GeneratorError


@pytest.fixture(scope="module")
def home(tmp_path_factory, models_dir):
    """A model folder of its own holding a copy of the DigiFace generator."""
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(install.model_folder(models_dir), install.model_folder(root))
    # Directions the shared copy may have been given (named in a window) are not this test's.
    store.resolve(None, root).directions_path.unlink(missing_ok=True)
    return root


@pytest.fixture(scope="module")
def faces(home):
    generator = GanFaces()
    generator.load(Context(CPU, home))
    return generator


@pytest.fixture(scope="module")
def walked(faces, home):
    """The model folder once its directions have been found (as opening the Directions
    panel on it does)."""
    Walk(home, GanFaces()).open({"model": store.DEFAULT, "seed": 1})
    return home


def pixels(result):
    return np.asarray(result.image)


def test_directions_are_principal_components_of_the_first_layer(faces, home):
    net = faces.loaded(store.resolve(None, home)).cpu_net
    started = time.perf_counter()
    found, sigma = directions.compute(net)
    assert time.perf_counter() - started < 30  # seconds on a CPU, not minutes
    assert found.shape == (10, 100) and bool((sigma[:-1] >= sigma[1:]).all())
    # Moving a latent along direction k moves its first-layer activations along the k-th
    # principal component far more than along the others.
    z = torch.randn(64, 100, generator=torch.Generator().manual_seed(5))
    first = net.main[:3]
    with torch.no_grad():
        base = first(z[:, :, None, None]).flatten(1)
        moved = first((z + 2.0 * found[0])[:, :, None, None]).flatten(1)
        other = first((z + 2.0 * found[9])[:, :, None, None]).flatten(1)
    assert (moved - base).norm() > 1.5 * (other - base).norm()


def test_a_walk_renders_what_the_generator_makes_and_keeps_names(faces, home):
    walk = Walk(home, GanFaces())
    names = walk.open({"model": store.DEFAULT, "mode": "sample", "seed": 21, "truncation": 0.7})
    assert names == [f"Direction {i}" for i in range(1, 11)]
    assert store.resolve(None, home).directions_path.is_file()  # kept with the model
    ctx = Context(CPU, home)
    plain = faces.run(faces.make_request({"seed": 21, "count": 1, "truncation": 0.7}), ctx)[0]
    assert np.array_equal(np.asarray(walk.render([0.0] * 10)), pixels(plain))
    offsets = [2.0, 0, 0, -1.5] + [0] * 6
    walked = np.asarray(walk.render(offsets))
    assert np.abs(walked.astype(int) - pixels(plain)).mean() > 3
    values = walk.values_for(offsets)
    assert values["directions"] == "0:2,3:-1.5" and values["count"] == 1
    again = faces.run(faces.make_request(values), ctx)[0]
    assert np.array_equal(pixels(again), walked)  # the form makes the very face walked
    assert "moved along directions 0:2,3:-1.5" in again.note
    walk.rename(0, "smile")
    assert Walk(home, GanFaces()).open({"model": store.DEFAULT, "seed": 1})[0] == "smile"
    walk.rename(0, "")
    assert Walk(home, GanFaces()).open({"model": store.DEFAULT, "seed": 1})[0] == "Direction 1"


def test_directions_text_is_checked(faces, walked):
    assert parse_offsets("0:1.5, 3:-2;0:0.5") == {0: 2.0, 3: -2.0}
    for bad, message in (("0=1", "not 'direction:amount'"), ("1:99", "beyond")):
        with pytest.raises(GeneratorError, match=message):
            parse_offsets(bad)
    request = faces.make_request({"count": 1, "seed": 1, "directions": "12:1"})
    with pytest.raises(GeneratorError, match="has 10 directions"):
        faces.run(request, Context(CPU, walked))


def test_walking_a_model_with_no_directions_says_how_to_find_them(models_dir, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(install.model_folder(models_dir), install.model_folder(root))
    store.resolve(None, root).directions_path.unlink(missing_ok=True)
    faces = GanFaces()
    request = faces.make_request({"count": 1, "seed": 1, "directions": "0:1"})
    with pytest.raises(GeneratorError, match="no directions yet: open the Directions panel"):
        faces.run(request, Context(CPU, root))


def test_finding_a_picture_gets_close_and_can_be_walked(faces, home, tmp_path):
    ctx = Context(CPU, home)
    target = faces.run(faces.make_request({"count": 1, "seed": 77}), ctx)[0]
    picture = tmp_path / "target.png"
    target.image.save(picture)
    steps = []
    progress = Context(CPU, home, lambda s, t, p, m: steps.append((s, t, p)))
    request = faces.make_request({"mode": "find", "image": str(picture), "find_steps": 60})
    found = faces.run(request, progress)[0]
    assert steps[-1][:2] == (60, 60) and any(p is not None for *_, p in steps)
    error = float(found.note.split("error ")[1].split(" ")[0])
    blank_error = ((np.asarray(target.image) / 255.0 - 0.5) ** 2).mean()
    assert error < 0.25 * blank_error  # far closer than a grey guess
    assert "kept as" in found.note and found.params["found"]
    kept = found_latents(home)
    assert kept[0].value == found.params["found"] and kept[0].image == "target.png"
    start = {"start": kept[0].value, "count": 1, "seed": 1}
    face = faces.run(faces.make_request(start), ctx)[0]
    assert np.array_equal(pixels(face), pixels(found))  # the found face, to start from
    strip = faces.run(
        faces.make_request({**start, "mode": "interpolate", "end_seed": 3, "frames": 3}), ctx
    )
    assert np.array_equal(pixels(strip[0]), pixels(found))
    walk = Walk(home, GanFaces())
    walk.open(dict(request.params))  # the finished search's request: walk from its face
    assert np.array_equal(np.asarray(walk.render([0.0] * 10)), pixels(found))
    assert walk.values_for([0.0] * 10)["start"] == kept[0].value


def test_a_search_can_be_cancelled_and_needs_a_picture(faces, home, tmp_path):
    picture = tmp_path / "p.png"
    faces.run(faces.make_request({"count": 1, "seed": 2}), Context(CPU, home))[0].image.save(
        picture
    )
    calls = []
    ctx = Context(CPU, home, lambda s, t, p, m: calls.append(s), lambda: len(calls) > 5)
    with pytest.raises(Cancelled):
        faces.run(faces.make_request({"mode": "find", "image": str(picture)}), ctx)
    assert max(calls) < 10
    with pytest.raises(GeneratorError, match="needs a picture"):
        faces.run(faces.make_request({"mode": "find"}), Context(CPU, home))


def test_a_found_picture_belongs_to_its_model(faces, home, tmp_path):
    from plugins.gan_faces.network import DCGANGenerator

    picture = tmp_path / "p.png"
    faces.run(faces.make_request({"count": 1, "seed": 4}), Context(CPU, home))[0].image.save(
        picture
    )
    search = faces.make_request({"mode": "find", "image": str(picture), "find_steps": 10})
    value = faces.run(search, Context(CPU, home))[0].params["found"]
    other = store.root(home) / "other.pth"
    torch.save(DCGANGenerator().state_dict(), other)
    try:
        request = faces.make_request({"model": "other.pth", "start": value})
        with pytest.raises(GeneratorError, match="was found in the model 'dcgan-digiface'"):
            faces.run(request, Context(CPU, home))
        assert faces.suggested_values({"start": value}, home) == {"model": store.DEFAULT}
    finally:
        other.unlink()
