"""One generator over many input images: collecting the files, and writing each result.

Shared by `studio stylize`, `studio upscale`, `studio batch` and the window's batch dialog.
Each image is its own job, so a bad file fails alone and the rest complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.export import render_name, template_tokens, unique_path, write_atomic

if TYPE_CHECKING:
    from studio.core.generator import Generator, ImageParam, Result

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
DEFAULT_TEMPLATE = "{source}-styled"


def varied_image(generator: Generator) -> ImageParam | None:
    """The image a batch over files varies: the generator's content image, else its init
    image (image to image); None when it takes neither."""
    return generator.image_param("content") or generator.image_param("init")


@dataclass
class Inputs:
    """The image files found, in a stable order, and the paths that could not be used."""

    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def collect_images(
    paths: Iterable[Path | str], recursive: bool = False, check: bool = False
) -> Inputs:
    """Files as given, and the images in folders (sorted; sub-folders when `recursive`).

    A folder is searched by file suffix. With `check`, each file's header is read now and a
    file that cannot be opened goes to `problems` instead of `files` (otherwise its job finds
    out). Hidden files and folders are skipped. Duplicates are dropped.
    """
    found = Inputs()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.files.append(path)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            images = sorted(
                p
                for p in pattern
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not images:
                where = " or its sub-folders" if recursive else ""
                found.problems.append(f"'{path}': no images in this folder{where}")
            for image in images:
                add(image)
        elif path.is_file():
            add(path)
        else:
            found.problems.append(f"'{path}': no such file or folder")
    if check:
        from studio.core.images import probe_image

        checked = [(path, probe_image(path)) for path in found.files]
        found.files = [path for path, problem in checked if problem is None]
        found.problems += [problem for _path, problem in checked if problem is not None]
    return found


@dataclass(frozen=True)
class Output:
    """Where a batch job also writes its result: plain data, so it is stored with the queue.

    number: the job's place in its batch (the `{index}` of the file name).
    when: the batch's start (the `{date}` and `{time}` of the file name), a timestamp.
    """

    folder: str
    template: str
    number: int
    when: float

    def write(self, results: Iterable[Result]) -> list[Path]:
        when = datetime.fromtimestamp(self.when)
        folder = Path(self.folder)
        return [write_result(r, folder, self.template, self.number, when) for r in results]

    def to_json(self) -> dict:
        return {"folder": self.folder, "template": self.template, "number": self.number,
                "when": self.when}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> Output:
        return cls(str(data["folder"]), str(data["template"]), int(data["number"]),
                   float(data["when"]))  # fmt: skip


def write_result(
    result: Result, folder: Path, template: str, index: int, when: datetime | None = None
) -> Path:
    """Write `result` as PNG with its metadata into `folder`, named by `template` (the export
    naming rules: sanitised, never overwriting, written atomically)."""
    from studio.core.metadata import result_record, save_options

    template_tokens(template)
    record = result_record(result)
    stem = render_name(template, record, index, when or datetime.now())
    path = unique_path(Path(folder), stem, ".png")
    options = save_options(record, "PNG")
    return write_atomic(path, lambda handle: result.image.save(handle, "PNG", **options))
