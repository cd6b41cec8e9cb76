"""The headless CLI over the real core and the real GAN weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from studio.cli import EXIT_USAGE, main
from studio.core.metadata import read_studio_record


def test_generate_writes_pngs_with_their_request(models_dir, tmp_path, capsys):
    out = tmp_path / "faces"
    code = main(
        [
            "generate",
            "gan_faces",
            "--count",
            "3",
            "--seed",
            "7",
            "--set",
            "truncation=0.8",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == [
        "gan_faces-7-0000.png",
        "gan_faces-8-0001.png",
        "gan_faces-9-0002.png",
    ]
    with Image.open(files[1]) as image:
        record = read_studio_record(image)
        assert image.size == (64, 64)
    assert record["seed"] == 8 and record["params"]["truncation"] == 0.8
    assert record["params"]["seed"] == 7 and record["generator"] == "gan_faces"


def test_generate_never_overwrites(models_dir, tmp_path):
    for _ in range(2):
        assert (
            main(
                [
                    "generate",
                    "gan_faces",
                    "--count",
                    "1",
                    "--seed",
                    "1",
                    "--out",
                    str(tmp_path),
                    "-q",
                ]
            )
            == 0
        )
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "gan_faces-1-0000-2.png",
        "gan_faces-1-0000.png",
    ]


def test_interpolation_writes_frames_and_an_animation(models_dir, tmp_path):
    code = main(
        [
            "generate",
            "gan_faces",
            "--seed",
            "3",
            "--set",
            "mode=interpolate",
            "--set",
            "end_seed=4",
            "--set",
            "frames=5",
            "--out",
            str(tmp_path),
            "--animation",
            "webp",
            "-q",
        ]
    )
    assert code == 0
    assert len(list(tmp_path.glob("*.png"))) == 5
    with Image.open(tmp_path / "gan_faces-3.webp") as animation:
        assert animation.n_frames == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "nope"], "Unknown generator 'nope'"),
        (["generate", "gan_faces", "--set", "truncation=3"], "3 is out of range 0.05..1"),
        (["generate", "gan_faces", "--count", "0"], "0 is out of range 1..4096"),
        (["generate", "gan_faces", "--set", "colour=red"], "has no parameter 'colour'"),
        (["generate", "gan_faces", "--set", "truncation"], "--set expects KEY=VALUE"),
        (["generate", "gan_faces", "--device", "tpu"], "Unknown device 'tpu'"),
    ],
)
def test_bad_input_gives_a_clear_message_and_exit_2(models_dir, tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_unwritable_folder_is_reported(models_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["generate", "gan_faces", "--out", str(blocker / "sub")]) == EXIT_USAGE
    assert "Cannot write to" in capsys.readouterr().err


def test_models_list_and_plugins(models_dir, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "DCGAN faces (DigiFace-1M)" in out and "MIT" in out
    assert main(["plugins"]) == 0
    assert "gan_faces" in capsys.readouterr().out


def test_install_defaults_is_idempotent(models_dir, capsys):
    assert main(["models", "install-defaults"]) == 0
    assert "already installed" in capsys.readouterr().out


def test_the_console_script_runs_in_a_fresh_process(models_dir, tmp_path):
    env = dict(os.environ)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "generate",
            "gan_faces",
            "--count",
            "2",
            "--seed",
            "5",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote 2 file(s)" in done.stdout
    assert json.loads(Image.open(tmp_path / "gan_faces-6-0001.png").text["studio"])["seed"] == 6


SLOW_PLUGIN = """
import time
from pathlib import Path
from PIL import Image
from studio.core.generator import Generator, IntParam, SeedParam

class Slow(Generator):
    id = "slow_cli"
    title = "Slow"
    params = (IntParam(name="steps", default=2000, maximum=9999), SeedParam(name="seed"))

    def run(self, request, ctx):
        Path(__file__).with_name("started").touch()
        for step in range(request.params["steps"]):
            ctx.check_cancelled()
            time.sleep(0.01)
            ctx.progress(step + 1, request.params["steps"])
        return [self.result(request, Image.new("RGB", (4, 4)), request.seed)]

def generators():
    return [Slow()]
"""


def test_ctrl_c_cancels_and_writes_nothing(tmp_path):
    import signal
    import time

    home = tmp_path / "home"
    (home / "plugins").mkdir(parents=True)
    (home / "plugins" / "slow_cli.py").write_text(SLOW_PLUGIN)
    out = tmp_path / "out"
    env = dict(os.environ, STUDIO_HOME=str(home))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "generate",
            "slow_cli",
            "--out",
            str(out),
            "--device",
            "cpu",
        ],  # fmt: skip
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (home / "plugins" / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "cancelled; nothing was written" in err
    assert list(out.iterdir()) == []


def test_studio_device_is_the_default_device(models_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_DEVICE", "tpu")
    assert main(["generate", "gan_faces", "--out", str(tmp_path)]) == EXIT_USAGE
    assert "Unknown device 'tpu'" in capsys.readouterr().err


def test_generate_into_a_project_then_export_and_info(models_dir, tmp_path, capsys):
    project = tmp_path / "p.studio"
    assert (
        main(
            [
                "generate",
                "gan_faces",
                "--count",
                "3",
                "--seed",
                "3",
                "--out",
                str(tmp_path / "faces"),
                "--project",
                str(project),
                "-q",
            ]
        )
        == 0
    )
    out = tmp_path / "export"
    assert (
        main(
            [
                "export",
                str(project),
                "--out",
                str(out),
                "--format",
                "jpeg",
                "--template",
                "{index}-{seed}",
                "--manifest",
                "-q",
            ]
        )
        == 0
    )
    names = sorted(p.name for p in out.glob("*.jpg"))
    assert names == ["0001-3.jpg", "0002-4.jpg", "0003-5.jpg"]  # in the order they were made
    capsys.readouterr()
    assert main(["info", str(out / "0002-4.jpg"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source_format"] == "studio" and info["record"]["seed"] == 4


def test_info_on_a_non_image_fails_clearly(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["info", str(tmp_path / "notes.txt")]) == 1
    assert main(["info", str(tmp_path / "missing.png")]) == 1
    assert "was not found" in capsys.readouterr().err


def test_export_of_a_missing_project_is_a_usage_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.studio"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_train_runs_a_trainer_with_figures_per_epoch(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    (home / "plugins").mkdir(parents=True)
    (home / "plugins" / "fake.py").write_text(
        "from tests.fakes import Trainer\n\ndef generators():\n    return [Trainer()]\n"
    )
    monkeypatch.setenv("STUDIO_HOME", str(home))
    assert main(["train", "fake", "--set", "epochs=3", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert "Saved model fake-1" in captured.out
    lines = [line for line in (captured.out + captured.err).splitlines() if "train_recon" in line]
    assert len(lines) == 3 and "epoch 3" in lines[-1]
    assert main(["train", "style_transfer"]) == EXIT_USAGE
    assert "not something to train" in capsys.readouterr().err


def test_studio_with_a_project_file_opens_the_window_on_it(tmp_path, monkeypatch):
    import studio.app
    from studio.cli import PROJECT_SUFFIX
    from studio.core.project import SUFFIX

    assert PROJECT_SUFFIX == SUFFIX
    opened = []
    monkeypatch.setattr(
        studio.app, "run", lambda argv=None, project=None: opened.append(project) or 0
    )
    assert main([str(tmp_path / "art.studio")]) == 0
    assert opened == [tmp_path / "art.studio"]


def test_the_desktop_entry_opens_a_project_with_this_studio(tmp_path):
    import configparser
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [str(root / "scripts" / "install-desktop.sh")],
        env=dict(os.environ, XDG_DATA_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(tmp_path / "applications" / "studio.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"] == f"{root / '.venv' / 'bin' / 'studio'} %f"
    assert "application/x-studio-project" in desktop["MimeType"]
    mime = (tmp_path / "mime" / "packages" / "studio-project.xml").read_text()
    assert 'glob pattern="*.studio"' in mime
