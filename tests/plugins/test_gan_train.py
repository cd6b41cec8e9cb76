"""Training a GAN on a folder: reading the folder, augmentation, the loop, checkpoints and
resume, fine-tuning, the model it makes, and the user's own DCGAN checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from plugins.gan_faces import store, training
from plugins.gan_faces.augment import diff_augment
from plugins.gan_faces.data import load_folder
from plugins.gan_faces.generator import GanFaces
from plugins.gan_faces.latents import seed_latents
from plugins.gan_faces.network import DCGANGenerator
from plugins.gan_faces.samples import disc, disc_folder
from plugins.gan_faces.trainer import GanTrainer
from studio.core.devices import CPU
from studio.core.generator import Cancelled, Context, GeneratorError

TINY = {"steps": 6, "batch": 16, "preview_every": 5, "checkpoint_every": 100, "seed": 3}


@pytest.fixture(scope="module")
def discs(tmp_path_factory):
    return disc_folder(tmp_path_factory.mktemp("discs"), 24, seed=5)


def train(models_dir, ctx_progress=None, cancel_after=None, **values):
    trainer = GanTrainer()
    reports = []

    def progress(step, total, preview, metrics):
        reports.append((step, total, preview, metrics))
        if ctx_progress:
            ctx_progress(step, total, preview, metrics)

    def cancelled():
        return cancel_after is not None and any(r[0] >= cancel_after for r in reports)

    request = trainer.make_request(values)
    results = trainer.run(request, Context(CPU, models_dir, progress, cancelled))
    return request, results, reports


def test_a_folder_is_read_below_it_with_unreadable_files_listed(tmp_path):
    disc_folder(tmp_path / "pics", 9)
    (tmp_path / "pics" / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "pics" / "notes.txt").write_text("not a picture")
    (tmp_path / "pics" / ".hidden").mkdir()
    disc(1).save(tmp_path / "pics" / ".hidden" / "skip.png")
    pictures = load_folder(tmp_path / "pics")
    assert len(pictures) == 9 and pictures.pixels.shape == (9, 64, 64, 3)
    assert {f.split("/")[0] for f in pictures.files} == {"a", "b"}
    assert [name for name, _ in pictures.skipped] == ["b/broken.png"]
    assert "broken.png" in pictures.skipped[0][1]


def test_crop_or_pad_makes_a_wide_picture_square(tmp_path):
    wide = Image.new("RGB", (200, 100), (0, 0, 200))
    wide.paste((255, 0, 0), (0, 0, 20, 100))  # a red strip at the far left
    for i in range(8):
        wide.save(tmp_path / f"w{i}.png")
    cropped = load_folder(tmp_path, "crop").pixels[0]
    padded = load_folder(tmp_path, "pad").pixels[0]
    assert cropped[:, :4, 0].mean() < 50  # the centre crop cut the strip away
    assert padded[32, 1, 0] > 200 and padded[32, 1, 2] < 60  # padding keeps all of it
    assert padded[2, 32, 2] > 150  # the border is padded in the picture's own blue


def test_too_few_pictures_is_a_clear_error(tmp_path):
    disc_folder(tmp_path, 3)
    with pytest.raises(GeneratorError, match="at least 8"):
        load_folder(tmp_path)
    with pytest.raises(GeneratorError, match="does not exist"):
        load_folder(tmp_path / "nowhere")


def test_diff_augment_changes_pictures_and_passes_gradients():
    x = (torch.rand(4, 3, 64, 64) * 2 - 1).requires_grad_(True)
    out = diff_augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    holes = (out == 0).all(dim=1).flatten(1).float().mean(1)
    assert holes.min() > 0.05  # a cutout hole in each picture (clipped at the edges)
    assert not torch.allclose(out, x)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    again = diff_augment(x.detach(), torch.Generator().manual_seed(0))
    assert torch.equal(again, out.detach())  # seeded: the same augmentation


def test_training_plots_previews_and_saves_a_gan_faces_model(tmp_path, discs):
    (discs / "junk.jpg").write_bytes(b"junk")
    try:
        request, results, reports = train(tmp_path, folder=str(discs), name="my discs", **TINY)
    finally:
        (discs / "junk.jpg").unlink()
    points = [r[3] for r in reports if r[3]]
    assert [p["step"] for p in points] == [5.0, 6.0]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "seconds_per_step"} <= set(points[0])
    assert 0 < points[0]["d_real"] < 1 and 0 < points[0]["d_fake"] < 1
    assert points[0]["images"] == 24 and points[0]["skipped"] == 1
    previews = [r[2] for r in reports if r[2] is not None]
    assert previews[0].size == (384, 384) and len(previews) == 3  # step 0, 5 and the end
    assert "saved as GAN faces model 'my-discs'" in results[0].note and "1 file(s) skipped" in (
        results[0].note
    )
    model = store.resolve("my-discs", tmp_path)
    extra = model.card.extra
    assert extra["status"] == "finished" and extra["step"] == 6 and extra["images"] == 24
    assert extra["data_folder"] == str(discs) and extra["skipped_files"][0].startswith("junk.jpg")
    assert set(extra["losses_at_end"]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert extra["seconds"] > 0 and len(extra["history"]) == 2
    assert model.card.files[store.WEIGHTS_FILE] and request.to_json() in extra["requests"]

    faces = GanFaces()  # everything GAN faces does works with the trained model
    assert ("my-discs", model.label) in faces.choices_for(faces.param("model"), tmp_path)
    ctx = Context(CPU, tmp_path)
    sample = faces.run(faces.make_request({"model": "my-discs", "count": 2, "seed": 4}), ctx)
    again = faces.run(faces.make_request({"model": "my-discs", "count": 1, "seed": 5}), ctx)
    assert np.array_equal(np.asarray(sample[1].image), np.asarray(again[0].image))
    assert sample[0].model_name == "my-discs" and sample[0].model_hash == model.short_hash
    strip = faces.run(
        faces.make_request(
            {"model": "my-discs", "mode": "interpolate", "seed": 4, "end_seed": 5, "frames": 3,
             "truncation": 0.5, "size": 128}
        ),
        ctx,
    )  # fmt: skip
    assert len(strip) == 3 and strip[0].image.size == (128, 128) and strip[0].sequence


def test_cancel_keeps_a_checkpoint_and_resume_continues_exactly(tmp_path, discs):
    settings = dict(TINY, steps=8, folder=str(discs))
    train(tmp_path / "straight", name="run", **settings)
    trainer = GanTrainer()
    with pytest.raises(Cancelled):
        request, _results, _reports = train(tmp_path / "stopped", cancel_after=5, name="run",
                                            **settings)  # fmt: skip
    stopped = store.resolve("run", tmp_path / "stopped")
    assert stopped.card.extra["status"] == "stopped" and stopped.card.extra["step"] == 5
    assert "stopped at step 5 of 8" in stopped.label
    request = trainer.make_request(dict(settings, name="run"))
    values = trainer.resume_values(request, tmp_path / "stopped")
    assert values == {"resume": "run", "steps": 8}
    _request, results, reports = train(tmp_path / "stopped", **values)
    assert [r[3]["step"] for r in reports if r[3]][0] == 5.0  # the curve so far, re-reported
    straight = store.read_state(store.resolve("run", tmp_path / "straight").path)
    resumed = store.read_state(store.resolve("run", tmp_path / "stopped").path)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert trainer.resume_values(request, tmp_path / "stopped") is None  # finished now
    with pytest.raises(GeneratorError, match="already trained 8 steps"):
        train(tmp_path / "stopped", resume="run", steps=8)


def test_fine_tuning_starts_from_the_digiface_generator(tmp_path, discs, models_dir):
    import shutil

    from plugins.gan_faces import install

    shutil.copytree(install.model_folder(models_dir), install.model_folder(tmp_path))
    _request, results, _reports = train(
        tmp_path, folder=str(discs), init=store.DEFAULT, name="faces-discs", **dict(TINY, steps=1)
    )
    model = store.resolve("faces-discs", tmp_path)
    settings = model.card.extra["settings"]
    assert (settings["nz"], settings["width"]) == (100, 64)  # the DigiFace generator's own
    assert "fine-tuned from GAN faces model 'dcgan-digiface'" in model.card.source
    tuned = store.read_state(model.path)
    original = store.read_state(store.resolve(store.DEFAULT, tmp_path).path)
    key = "main.6.weight"
    change = (tuned[key] - original[key]).norm() / original[key].norm()
    assert 0 < change < 0.05  # one step away from the faces, not a fresh network


def test_the_users_own_dcgan_checkpoints_load_with_their_sizes(tmp_path):
    folder = tmp_path / "gan_faces"
    folder.mkdir()
    torch.manual_seed(0)
    small = DCGANGenerator(nz=64, ngf=16).eval()
    torch.save(small.state_dict(), folder / "netG_small.pth")  # the tutorial's torch.save
    wrapped = {"netG_state_dict": {f"module.{k}": v for k, v in small.state_dict().items()}}
    torch.save(wrapped, folder / "wrapped.pt")
    faces = GanFaces()
    values = [v for v, _ in faces.choices_for(faces.param("model"), tmp_path)]
    assert values == ["netG_small.pth", "wrapped.pt"]
    ctx = Context(CPU, tmp_path)
    for name in values:
        result = faces.run(faces.make_request({"model": name, "count": 1, "seed": 9}), ctx)[0]
        with torch.no_grad():
            expected = small(seed_latents(9, 1, 64)[:, :, None, None])
        direct = ((expected[0] + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0)
        assert np.array_equal(np.asarray(result.image), direct.numpy())
    assert store.architecture(store.read_state(folder / "wrapped.pt")) == (64, 16, 3)


def test_files_that_are_not_dcgan_generators_are_refused_clearly(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    torch.save({"main.0.weight": torch.zeros(1), "x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(GeneratorError, match="weights only, no pickled code"):
        store.read_state(tmp_path / "evil.pth")
    torch.save({"conv.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(GeneratorError, match="not a DCGAN generator"):
        store.read_state(tmp_path / "other.pth")
    state = DCGANGenerator(nz=8, ngf=8).state_dict()
    state["main.3.weight"] = torch.zeros(64, 99, 4, 4)
    torch.save(state, tmp_path / "bent.pth")
    with pytest.raises(GeneratorError, match="not a 64 px DCGAN generator"):
        store.read_state(tmp_path / "bent.pth")


def test_studio_train_gan_faces_on_the_command_line(tmp_path, discs, monkeypatch, capsys):
    from studio.cli import main

    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path))
    argv = ["train", "gan_faces", "--set", f"folder={discs}", "--set", "name=cli-discs"]
    assert main([*argv, "--set", "steps=5", "--set", "batch=16", "--seed", "2", "-q"]) == 0
    out = capsys.readouterr()
    assert "saved as GAN faces model 'cli-discs'" in out.out
    assert "step 5  d_loss" in out.out + out.err  # a line of figures per reported point
    assert store.resolve("cli-discs", tmp_path).card.extra["step"] == 5
    assert main(["train", "gan_faces", "--set", "steps=5"]) == 1
    assert "Choose the folder" in capsys.readouterr().err


def test_a_step_batch_is_the_same_whatever_came_before():
    first = training.batch_at(7, 24, 8, seed=1)
    assert np.array_equal(first, training.batch_at(7, 24, 8, seed=1))
    epoch = np.concatenate([training.batch_at(s, 24, 8, seed=1) for s in range(3)])
    assert sorted(epoch) == list(range(24))  # one epoch: every picture once


def test_the_command_line_says_how_to_continue_a_stopped_run(tmp_path, discs, monkeypatch):
    from studio.cli.train import _stopped

    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path))
    settings = dict(TINY, steps=8, folder=str(discs), name="cut")
    with pytest.raises(Cancelled):
        train(tmp_path, cancel_after=5, **settings)
    request = GanTrainer().make_request(settings)
    assert _stopped(GanTrainer(), request, "gan_faces").endswith(
        "Continue: studio train gan_faces --set resume=cut --set steps=8"
    )
    other = GanTrainer().make_request(dict(settings, seed=4))
    assert _stopped(GanTrainer(), other, "gan_faces") == "training cancelled; nothing was saved"
