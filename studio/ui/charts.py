"""Live line charts of a trainer's figures, drawn with pyqtgraph (axes, zoom and pan with the
mouse, a legend, a log scale; right-click for its own menu).

pyqtgraph (and numpy with it) is imported when the first chart is made, not when the window
starts: the Train panel makes its charts once it is first shown.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QVBoxLayout, QWidget

from studio.core.generator import Plot

PALETTE = ("#4da3ff", "#f5a623", "#7ed321", "#e6194b", "#bd7ff5", "#46f0f0")


class LiveChart(QWidget):
    """One Plot: a line per series against its x figure, redrawn from a job's metrics."""

    def __init__(self, plot: Plot, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.plot = plot
        self.history: list[dict] = []
        self.widget = pg.PlotWidget(background="#1e2024")
        self.widget.setMinimumSize(QSize(200, 100))
        item = self.widget.getPlotItem()
        item.setTitle(plot.title, color="#c8ccd2", size="9pt")
        item.setLabel("bottom", plot.x)
        item.showGrid(x=True, y=True, alpha=0.15)
        self.legend = item.addLegend(
            offset=(-4, 4), labelTextColor="#c8ccd2", brush=pg.mkBrush(30, 32, 36, 200)
        )
        self.curves: dict[str, Any] = {}
        for i, (key, label) in enumerate(plot.series):
            colour = PALETTE[i % len(PALETTE)] if key not in plot.dashed else None
            if colour is None:  # a dashed series shares the colour of the line before it
                colour = PALETTE[max(0, i - 1) % len(PALETTE)]
            style = pg.QtCore.Qt.PenStyle.DashLine if key in plot.dashed else None
            pen = pg.mkPen(colour, width=2, style=style) if style else pg.mkPen(colour, width=2)
            self.curves[key] = item.plot([], [], pen=pen, name=label)
        self.set_log(plot.log)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)

    @property
    def log(self) -> bool:
        return bool(self.widget.getPlotItem().ctrl.logYCheck.isChecked())

    def set_log(self, on: bool) -> None:
        self.widget.getPlotItem().setLogMode(x=False, y=on)

    def set_history(self, history: list[dict]) -> None:
        self.history = history
        for key, curve in self.curves.items():
            xs, ys = self.points(key)
            if self.log:  # a log axis cannot show 0 or less: leave such points out
                kept = [(x, y) for x, y in zip(xs, ys, strict=True) if y > 0]
                xs, ys = [x for x, _ in kept], [y for _, y in kept]
            curve.setData(xs, ys)

    def points(self, key: str) -> tuple[list[float], list[float]]:
        xs, ys = [], []
        for n, entry in enumerate(self.history):
            if key in entry:
                xs.append(float(entry.get(self.plot.x, n + 1)))
                ys.append(float(entry[key]))
        return xs, ys

    def values(self, key: str) -> list[float]:
        return self.points(key)[1]
