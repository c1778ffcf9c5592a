"""The application's colours, in ONE place, for a light and a dark scheme, and following the
system's choice while the program runs.

Why: Qt's own widgets follow the platform palette by themselves, but the pyqtgraph timeline
paints its own background, axes, curves and segment lanes; left alone it stays black on a light
desktop. This module decides the scheme, holds every colour the timeline and its lanes use, and
re-colours a timeline when the scheme or the application palette changes.

Which scheme (`current_scheme`):
  1. an application palette set explicitly (QApplication.setPalette: a user or style choice) decides
     by its lightness: the timeline matches the widgets around it;
  2. else the system's `QStyleHints.colorScheme()` (Qt 6.5+; its `colorSchemeChanged` signal is
     followed) when it reports Light or Dark;
  3. else (Unknown, e.g. offscreen or a desktop that does not say) "dark": the timeline's classic
     look, chosen because video review tools are dark and the score colours are tuned for it.

The timeline applies a scheme itself (`TimelineWidget.set_color_scheme`, from `colors` and
`lane_style`); this module decides which, and follows the system. Must stay cheap to import
(PySide6 only; numpy and pyqtgraph inside functions) and must never change a timeline's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import QWidget

from .kinds import ACCEPTED, ADDED, CONFIRMED, EDITED, IMPORTED, KINDS

DARK_NAME, LIGHT_NAME = "dark", "light"
ATTENTION_COLOR = QColor(170, 170, 170)  # the attention curve, mid grey: readable on both schemes


@dataclass(frozen=True)
class Colors:
    """Every colour of the timeline for one scheme."""

    name: str
    background: QColor
    foreground: QColor           # axes, tick labels, axis titles
    muted: QColor                # hints ("No scores yet…")
    threshold: QColor            # one threshold line for all classes
    playhead: QColor
    lane_line: QColor            # the line between lanes
    selected_outline: QColor     # outline of the selected segment
    class_value: tuple[int, int]  # (min, max) HSV value of the class colours
    class_saturation: int
    outlines: dict = field(default_factory=dict)  # kinds code -> outline colour (predicted: none)


DARK = Colors(
    DARK_NAME, background=QColor(0, 0, 0), foreground=QColor(150, 150, 150), muted=QColor(170, 170, 170),
    threshold=QColor(220, 220, 220), playhead=QColor(255, 60, 60), lane_line=QColor(128, 128, 128, 60),
    selected_outline=QColor(255, 255, 255), class_value=(200, 255), class_saturation=200,
    outlines={IMPORTED: QColor(170, 170, 170), ACCEPTED: QColor(120, 220, 140), EDITED: QColor(255, 200, 0),
              ADDED: QColor(0, 170, 255), CONFIRMED: QColor(40, 200, 80)})

LIGHT = Colors(
    LIGHT_NAME, background=QColor(255, 255, 255), foreground=QColor(40, 40, 40), muted=QColor(100, 100, 100),
    threshold=QColor(80, 80, 80), playhead=QColor(215, 0, 0), lane_line=QColor(0, 0, 0, 45),
    selected_outline=QColor(0, 0, 0), class_value=(150, 200), class_saturation=230,
    outlines={IMPORTED: QColor(110, 110, 110), ACCEPTED: QColor(30, 150, 60), EDITED: QColor(200, 130, 0),
              ADDED: QColor(0, 110, 200), CONFIRMED: QColor(0, 120, 40)})

SCHEMES = {DARK_NAME: DARK, LIGHT_NAME: LIGHT}


def current_scheme() -> str:
    """'dark' or 'light' (see the module docstring for the rule)."""
    if QGuiApplication.instance() is None:
        return DARK_NAME
    palette = QGuiApplication.palette()
    if palette.resolveMask():  # set explicitly by the application
        return DARK_NAME if palette.window().color().lightness() < 128 else LIGHT_NAME
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Light:
        return LIGHT_NAME
    return DARK_NAME


def colors(name: str | None = None) -> Colors:
    """The colours of scheme `name` (default: the current one)."""
    return SCHEMES[name or current_scheme()]


def class_color(i: int, n: int, scheme: str | None = None) -> QColor:
    """A stable, distinct colour per class index, bright on dark and deeper on light."""
    import pyqtgraph as pg

    c = colors(scheme)
    lo, hi = c.class_value
    return pg.intColor(i, hues=max(n, 9), values=1, maxValue=hi, minValue=lo, sat=c.class_saturation)


@dataclass(frozen=True)
class LaneStyle:
    """What a segment lane paints with, for one scheme: handed to each lane (set_style), so lanes
    keep no colours of their own beyond their class colour."""

    lane_line: object            # QPen of the line between lanes
    selected: object             # QPen of the selected segment's outline
    outline_brushes: dict        # kinds code -> QBrush of the outline strip
    outline_bgra: object         # numpy uint8 [len(KINDS), 4]: kinds code -> BGRA outline pixel


_LANE_STYLES: dict[str, LaneStyle] = {}


def lane_style(name: str | None = None) -> LaneStyle:
    """The LaneStyle of scheme `name` (default: the current one), made once per scheme."""
    name = name or current_scheme()
    style = _LANE_STYLES.get(name)
    if style is None:
        import numpy as np
        import pyqtgraph as pg
        from PySide6.QtGui import QBrush

        c = colors(name)
        bgra = np.zeros((len(KINDS), 4), np.uint8)
        for code, color in c.outlines.items():
            bgra[code] = (color.blue(), color.green(), color.red(), 255)
        style = _LANE_STYLES[name] = LaneStyle(
            lane_line=pg.mkPen(c.lane_line, width=1, cosmetic=True),
            selected=pg.mkPen(c.selected_outline, width=2, cosmetic=True),
            outline_brushes={code: QBrush(color) for code, color in c.outlines.items()},
            outline_bgra=bgra)
    return style


# --- applying to a timeline ----------------------------------------------------------------------
def apply_timeline(timeline, scheme: str | None = None) -> None:
    """Re-colour a TimelineWidget for `scheme` (default: the current one); its data and view
    range are untouched (TimelineWidget.set_color_scheme)."""
    timeline.set_color_scheme(scheme or current_scheme())


class _Follower(QWidget):
    """A hidden child widget of a timeline that re-colours it when the system scheme or the app
    palette changes. A widget of its own (not an event filter on the timeline) so the timeline's
    busy event stream (mouse, wheel, resize) never passes through Python for this."""

    def __init__(self, timeline):
        super().__init__(timeline)
        self.timeline = timeline
        self.setObjectName("themeFollower")
        self.hide()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self.refresh)

    def refresh(self, *_) -> None:
        if current_scheme() != self.timeline.color_scheme:
            apply_timeline(self.timeline)

    def changeEvent(self, event):  # noqa: N802
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange,
                            QEvent.Type.ThemeChange):
            self.refresh()
        super().changeEvent(event)


def follow(timeline) -> QWidget:
    """Colour `timeline` for the current scheme now and whenever it changes; returns the hidden
    follower widget (a child of the timeline, which keeps it)."""
    apply_timeline(timeline)
    return _Follower(timeline)
