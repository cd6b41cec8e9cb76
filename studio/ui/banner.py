"""A non-modal message strip at the top of the canvas: errors never block the window."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

STYLES = {
    "info": "background:#24486b; color:#eef4fb;",
    "warning": "background:#6b5424; color:#fbf6ee;",
    "error": "background:#6b2424; color:#fbeeee;",
}


class MessageBanner(QWidget):
    """Shows the latest messages (several stack into one list) until closed or timed out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.setObjectName("banner_action")
        self.action.hide()
        self.action.clicked.connect(self._act)
        self._on_action: Callable[[], None] | None = None
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.messages: list[str] = []
        self.level = "info"
        self.hide()

    def show_message(
        self,
        text: str,
        level: str = "error",
        timeout_ms: int = 12_000,
        action: tuple[str, Callable[[], None]] | None = None,
    ) -> None:
        """Add a message; `action` (label, callback) adds a button that acts on it (a timeout
        of 0 keeps the banner until it is used or closed)."""
        self.messages = (self.messages + [text])[-5:]
        if action is not None:
            self.action.setText(action[0])
            self._on_action = action[1]
            self.action.show()
        if level == "error" or self.level != "error":
            self.level = level
        self.label.setText("\n".join(self.messages))
        self.setStyleSheet(f"#banner {{ {STYLES[self.level]} border-radius: 4px; }}")
        self.show()
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def dismiss(self) -> None:
        self.messages = []
        self.level = "info"
        self._on_action = None
        self.action.hide()
        self.hide()

    def _act(self) -> None:
        act = self._on_action
        self.dismiss()
        if act is not None:
            act()
