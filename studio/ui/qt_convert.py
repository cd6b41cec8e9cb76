"""The only place that turns arrays and PIL images into QImage.

numpy and Pillow are imported on first use, not at start-up: the window paints first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QImage, QPixmap

if TYPE_CHECKING:
    from PIL.Image import Image

_FORMATS = {
    "RGB": (QImage.Format.Format_RGB888, 3),
    "RGBA": (QImage.Format.Format_RGBA8888, 4),
}


def to_qimage(image: Image | Any) -> QImage:
    """A QImage that owns a copy of the pixels (a PIL image or an HxWx3/4 uint8 array)."""
    from PIL import Image as PILImage

    if not isinstance(image, PILImage.Image):
        image = PILImage.fromarray(image)
    if image.mode not in _FORMATS:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    fmt, channels = _FORMATS[image.mode]
    data = image.tobytes()
    qimage = QImage(data, image.width, image.height, image.width * channels, fmt)
    return qimage.copy()  # detach from `data`


def to_pixmap(image: Image | Any) -> QPixmap:
    """Main thread only (QPixmap is a GUI-thread resource)."""
    return QPixmap.fromImage(to_qimage(image))


def thumbnail(image: Image, size: int) -> QPixmap:
    """A pixmap no larger than size x size, smooth for downscaling and crisp for upscaling."""
    from PIL import Image as PILImage

    copy = image.copy()
    if max(copy.size) > size:
        copy.thumbnail((size, size), PILImage.Resampling.LANCZOS)
    return to_pixmap(copy)


def qimage_to_array(image: QImage) -> Any:
    """A greyscale QImage's pixels as an HxW uint8 array (a copy)."""
    import numpy as np

    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
    height, width, stride = grey.height(), grey.width(), grey.bytesPerLine()
    buffer = np.frombuffer(grey.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, :width].copy()
