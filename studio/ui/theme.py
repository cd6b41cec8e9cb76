"""The dark theme: Fusion style with a dark palette (the default), or the system's look."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

DARK = {
    QPalette.ColorRole.Window: "#25272c",
    QPalette.ColorRole.WindowText: "#e3e5e8",
    QPalette.ColorRole.Base: "#1e2024",
    QPalette.ColorRole.AlternateBase: "#2b2e33",
    QPalette.ColorRole.ToolTipBase: "#33363c",
    QPalette.ColorRole.ToolTipText: "#e3e5e8",
    QPalette.ColorRole.Text: "#e3e5e8",
    QPalette.ColorRole.Button: "#2f3237",
    QPalette.ColorRole.ButtonText: "#e3e5e8",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Highlight: "#3d7fd6",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6aa9ff",
    QPalette.ColorRole.PlaceholderText: "#80848c",
}
DISABLED = {
    QPalette.ColorRole.WindowText: "#6c7078",
    QPalette.ColorRole.Text: "#6c7078",
    QPalette.ColorRole.ButtonText: "#6c7078",
}
STYLE_SHEET = """
QDockWidget::title { padding: 4px 8px; background: #2b2e33; }
QPushButton#generate { padding: 8px; font-weight: bold; background: #3d7fd6; color: white;
  border: 0; border-radius: 4px; }
QPushButton#generate:disabled { background: #3a3d43; color: #80848c; }
QPushButton#generate:hover { background: #4b8de3; }
QProgressBar { border: 1px solid #3a3d43; border-radius: 3px; text-align: center; height: 14px; }
QProgressBar::chunk { background: #3d7fd6; }
"""


def apply_dark(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in DARK.items():
        palette.setColor(role, QColor(colour))
    for role, colour in DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour))
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)
