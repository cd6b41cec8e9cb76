"""`studio info` on hostile files: a clear line within seconds, and Ctrl+C without a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.cli import EXIT_INTERRUPTED, main
from tests.core.test_metadata_hostile import png_with_chunks, ztxt

ROOT = Path(__file__).parents[1]


def test_info_on_a_zip_bomb_says_the_text_is_over_the_limit(tmp_path, capsys):
    (tmp_path / "bomb.png").write_bytes(png_with_chunks(ztxt("parameters", b"x" * 50 * 2**20)))
    assert main(["info", str(tmp_path / "bomb.png")]) == 0  # an image, with nothing readable
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "No generation settings found (PNG)."
    assert "The settings text 'parameters' inflates to more than 16 MB" in out


def test_ctrl_c_during_info_ends_quietly_with_130(monkeypatch, tmp_path, capsys):
    import studio.core.metadata_read as metadata_read

    def interrupted(_path):
        raise KeyboardInterrupt

    monkeypatch.setattr(metadata_read, "read_metadata", interrupted)
    assert main(["info", str(tmp_path / "x.png")]) == EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert captured.err == "studio: interrupted\n" and "Traceback" not in captured.err


def test_a_real_sigint_to_studio_info_prints_no_traceback(tmp_path):
    # A read that blocks (a FIFO nobody writes) stands in for a slow disk or network share.
    fifo = tmp_path / "slow.png"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "info", str(fifo)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:  # opening the writing end succeeds once studio has opened the file to read
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    time.sleep(0.2)  # now blocked reading the header
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    os.close(writer)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and err.strip() == "studio: interrupted"
