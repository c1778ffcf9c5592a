"""Mouse gestures on a QGraphicsView viewport as a user makes them (press, moves, release).

QTest's mouseMove does not carry the pressed button reliably on every platform, so the moves of a
drag are sent as real QMouseEvents with the button held, spaced like a hand's (pyqtgraph drops
moves closer than its mouse rate limit, 10 ms by default).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

LEFT = Qt.MouseButton.LeftButton


def send(widget, kind, pos: QPointF, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    ev = QMouseEvent(kind, pos, global_pos, button, buttons, modifiers)
    QApplication.sendEvent(widget, ev)


def click(widget, pos, button=LEFT) -> None:
    p = QPoint(round(pos.x()), round(pos.y()))
    QTest.mouseClick(widget, button, Qt.KeyboardModifier.NoModifier, p)
    QApplication.processEvents()


def drag(widget, start, end, steps: int = 8, button=LEFT, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at `start`, move in `steps` to `end`, release there (widget coordinates)."""
    a, b = QPointF(start), QPointF(end)
    send(widget, QEvent.Type.MouseMove, a, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, modifiers)
    send(widget, QEvent.Type.MouseButtonPress, a, button, button, modifiers)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        time.sleep(0.012)
        send(widget, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button, modifiers)
        QApplication.processEvents()
    send(widget, QEvent.Type.MouseButtonRelease, b, button, Qt.MouseButton.NoButton, modifiers)
    QApplication.processEvents()


def wheel(widget, pos, delta: int = 120) -> None:
    from PySide6.QtGui import QWheelEvent

    p = QPointF(pos)
    ev = QWheelEvent(p, QPointF(widget.mapToGlobal(p.toPoint())), QPoint(0, 0), QPoint(0, delta),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)
    QApplication.processEvents()
