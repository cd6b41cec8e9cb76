"""Other tools' installs: where AUTOMATIC1111, Forge, ComfyUI, InvokeAI and Fooocus keep the
checkpoints, LoRAs, embeddings and VAEs their users already have.

Folder names are each tool's own defaults: A1111 and Forge (`modules/paths_internal.py`,
`models/Stable-diffusion`, `models/Lora`, `models/LyCORIS`, `embeddings`, `models/VAE`);
ComfyUI (`folder_paths.py`: `models/checkpoints`, `models/loras`, `models/embeddings`,
`models/vae`, `models/diffusers`), also inside a portable `ComfyUI/` folder; InvokeAI
(`models/<base>/<type>` with bases `sd-1`, `sd-2`, `sdxl` and types `main`, `lora`,
`embedding`, `vae`); Fooocus (`models/checkpoints`, `models/loras`, `models/embeddings`,
`models/vae`). Finding reads folder names only.
"""

from __future__ import annotations

from pathlib import Path

from studio.core.generator import ExistingInstall

A1111 = (
    ("checkpoints", "models/Stable-diffusion"),
    ("LoRAs", "models/Lora"),
    ("LoRAs", "models/LyCORIS"),
    ("embeddings", "embeddings"),
    ("VAEs", "models/VAE"),
)
COMFY = (
    ("checkpoints", "models/checkpoints"),
    ("diffusers models", "models/diffusers"),
    ("LoRAs", "models/loras"),
    ("embeddings", "models/embeddings"),
    ("VAEs", "models/vae"),
)
FOOOCUS = (
    ("checkpoints", "models/checkpoints"),
    ("LoRAs", "models/loras"),
    ("embeddings", "models/embeddings"),
    ("VAEs", "models/vae"),
)
INVOKE_BASES = ("sd-1", "sd-2", "sdxl")
INVOKE_TYPES = (("checkpoints", "main"), ("LoRAs", "lora"), ("embeddings", "embedding"))
INVOKE_TYPES += (("VAEs", "vae"),)


def find(path: Path) -> ExistingInstall | None:
    """The model folders of the install at `path` (or of a known tool's folder just inside
    it), or None when it is none of the tools above."""
    path = Path(path).expanduser()
    if not path.is_dir():
        return None
    for candidate in (path, path / "ComfyUI", path / "stable-diffusion-webui"):
        found = _identify(candidate)
        if found is not None:
            tool, layout = found
            folders = tuple(
                (what, candidate / sub) for what, sub in layout if (candidate / sub).is_dir()
            )
            if folders:
                return ExistingInstall(tool, path, folders)
    return None


def _identify(root: Path) -> tuple[str, tuple] | None:
    if not root.is_dir():
        return None
    if (
        (root / "invokeai.yaml").is_file()
        or (root / "models" / "sd-1").is_dir()
        or (root / "models" / "sdxl").is_dir()
    ):
        layout = tuple(
            (what, f"models/{base}/{kind}") for base in INVOKE_BASES for what, kind in INVOKE_TYPES
        )
        return "InvokeAI", layout
    if (root / "models" / "Stable-diffusion").is_dir():
        forge = (root / "modules_forge").is_dir() or "forge" in root.name.lower()
        return ("Forge" if forge else "AUTOMATIC1111"), A1111
    if (root / "models" / "checkpoints").is_dir():
        fooocus = any(
            (root / marker).exists()
            for marker in ("fooocus_version.py", "entry_with_update.py", "modules/flags.py")
        )
        if fooocus or "fooocus" in root.name.lower():
            return "Fooocus", FOOOCUS
        return "ComfyUI", COMFY
    return None


def describe(found: ExistingInstall) -> str:
    """One line per folder, for the user: what it holds and where."""
    lines = [f"{found.tool} at {found.root}:"]
    for what, folder in found.folders:
        try:
            shown = folder.relative_to(found.root)
        except ValueError:
            shown = folder
        lines.append(f"  {what}: {shown}")
    return "\n".join(lines)
