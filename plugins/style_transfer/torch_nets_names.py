"""File names of the user checkpoint formats, without importing torch (for discovery)."""

FAST_SUFFIXES = (".pth", ".model", ".pt")
ADAIN_FILES = ("vgg_normalised.pth", "decoder.pth")
