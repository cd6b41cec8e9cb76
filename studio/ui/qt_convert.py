"""The only place that turns arrays and PIL images into QImage (and back)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage, QPixmap

_FORMATS = {"RGB": QImage.Format.Format_RGB888, "RGBA": QImage.Format.Format_RGBA8888}


def to_qimage(image: Image.Image | np.ndarray) -> QImage:
    """A QImage that owns a copy of the pixels (safe to use after `image` is gone)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if image.mode not in _FORMATS:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    data = np.ascontiguousarray(np.asarray(image))
    height, width = data.shape[:2]
    qimage = QImage(data.data, width, height, data.strides[0], _FORMATS[image.mode])
    return qimage.copy()  # detach from the numpy buffer


def to_pixmap(image: Image.Image | np.ndarray) -> QPixmap:
    """Main thread only (QPixmap is a GUI-thread resource)."""
    return QPixmap.fromImage(to_qimage(image))


def thumbnail(image: Image.Image, size: int) -> QPixmap:
    """A pixmap no larger than size x size, smooth for downscaling and crisp for upscaling."""
    copy = image.copy()
    if max(copy.size) > size:
        copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    return to_pixmap(copy)
