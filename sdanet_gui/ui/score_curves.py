"""All score curves of the score lane in ONE graphics item, downsampled and clipped to the view.

Why not one pyqtgraph PlotDataItem per class: each of those re-clips, re-downsamples, rebuilds its
path and recomputes its bounds on every range change; with 20 classes x 20,000 snippets that alone
blows the 16 ms frame budget. Here one numpy pass per paint reduces the visible snippets of all
classes at once to the MAXIMUM per pixel column (the upper envelope: a short burst of action
evidence never vanishes when zoomed out; dips inside a column do, which is what a reviewer looking
for actions can spare, and it keeps the painted pixel count, the real cost, small) and each class
is drawn as one polyline. Drawing thousands of noisy vertices is the real cost (rasterization),
so the item keeps its last exact rendering as an image: a repaint for the same view (the playhead
moving during playback) is one blit, and while the user pans or zooms the old image is shown
stretched to the new view until the view has been still for SETTLE_MS, then it re-renders. Data: times [T] seconds, values [T, K] in 0..1.
It only draws; it never decides what a score means.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer
from PySide6.QtGui import QImage, QPainter, QPen, QTransform

# The exact rendering covers the view plus MARGIN view-widths on each side, so a pan shows real
# curves at once; it is redone when the view has been still for SETTLE_MS.
MARGIN = 0.5
SETTLE_MS = 60


class ScoreCurves(pg.GraphicsObject):
    """K curves over one shared time vector, painted with per-pixel max downsampling; column 0
    is drawn on top, the last column underneath."""

    def __init__(self):
        super().__init__()
        self.times = np.zeros(0)
        self.values = np.zeros((0, 0), np.float32)
        self.pens: list[QPen] = []
        self._cache: dict | None = None
        self._version = 0
        self._render_now = False
        self.renders = 0  # exact renderings made (tests, benchmark)
        self._settle = QTimer()
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)

    def set_data(self, times: np.ndarray, values: np.ndarray, pens: Sequence[QPen]) -> None:
        """times [T] increasing seconds, values [T, K], one pen per column."""
        values = np.asarray(values, dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]
        if values.shape[0] != len(times) or values.shape[1] != len(pens):
            raise ValueError(f"values {values.shape} do not match {len(times)} times and {len(pens)} pens")
        self.prepareGeometryChange()
        self.times = np.asarray(times, dtype=np.float64)
        self.values = np.ascontiguousarray(values)
        self.pens = list(pens)
        self._version += 1
        self._cache = None
        self.update()

    def clear(self) -> None:
        self.set_data(np.zeros(0), np.zeros((0, 0), np.float32), [])

    def boundingRect(self) -> QRectF:
        if len(self.times) == 0:
            return QRectF()
        t0, t1 = float(self.times[0]), float(self.times[-1])
        return QRectF(t0, 0.0, max(t1 - t0, 1e-6), 1.0)

    def display_points(self, x0: float, x1: float, pixel: float) -> tuple[np.ndarray, np.ndarray]:
        """What a paint of view [x0, x1] at `pixel` s/px draws: x [N], y [N, K] (N <= ~2 x pixels)."""
        t = self.times
        a = max(0, int(np.searchsorted(t, x0, side="right")) - 1)
        b = min(len(t), int(np.searchsorted(t, x1, side="left")) + 1)
        x, y = t[a:b], self.values[a:b]
        if b - a <= 2 or pixel <= 0:
            return x, y
        cols = np.floor((x - x0) / pixel).astype(np.int64)
        if b - a <= 2 * (cols[-1] - cols[0] + 1):  # already about as sparse as the pixels
            return x, y
        first = np.flatnonzero(np.diff(cols, prepend=cols[0] - 1))
        return x[first], np.maximum.reduceat(y, first, axis=0)

    def paint(self, p: QPainter, *args):
        """Blit the cached rendering when it was made for this view; while the view moves, show
        the last exact rendering stretched to the new view and re-render exactly once the view
        has been still for SETTLE_MS (so a pan or zoom frame costs one image blit)."""
        if len(self.times) == 0:
            return
        vb = self.getViewBox()
        if vb is None or not hasattr(vb, "viewRange"):
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        t = p.transform()
        dev = t.mapRect(QRectF(x0, y0, x1 - x0, y1 - y0)).toAlignedRect()
        if dev.width() <= 0 or dev.height() <= 0:
            return
        y_key = (round(t.m22(), 9), round(t.dy(), 3), dev.top(), dev.height(), self._version)
        c = self._cache
        usable = c is not None and c["y_key"] == y_key
        if usable and c["view"] == (x0, x1, dev.width()):
            self._blit(p, t, c, dev.top())
            return
        if usable and not self._render_now and c["xa"] < x1 and c["xb"] > x0:
            p.drawImage(c["rect"], c["image"])  # stretched to the new view: cheap, slightly soft
            self._settle.start()
            return
        self._render_now = False
        self._cache = self._render(t, x0, x1, dev, y_key)
        self._blit(p, t, self._cache, dev.top())

    @staticmethod
    def _blit(p: QPainter, t: QTransform, c: dict, top: int) -> None:
        """Draw the cached image 1:1 at its DEVICE position. The image is in device pixels, so
        it must be drawn with the item transform reset: drawn through `t` it would land at
        device coordinates read as seconds/score (far outside the view: no curves at all)."""
        p.save()
        p.resetTransform()
        p.drawImage(QPointF(t.map(QPointF(c["xa"], 0.0)).x(), top), c["image"])
        p.restore()

    def _render(self, t, x0, x1, dev, y_key) -> dict:
        """Render the curves for [x0 - m, x1 + m] (m = MARGIN x view width) into device pixels."""
        w = x1 - x0
        xa, xb = x0 - MARGIN * w, x1 + MARGIN * w
        left = t.map(QPointF(xa, 0.0)).x()
        width = max(1, int(round(dev.width() * (1 + 2 * MARGIN))))
        image = QImage(width, dev.height(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        x, y = self.display_points(xa, xb, w / dev.width())
        if len(x) >= 2:
            for k in reversed(range(len(self.pens))):  # first column on top
                polyline = pg.functions.arrayToQPolygonF(x, y[:, k])
                for pen, dy in hairline_strokes(self.pens[k]):
                    painter.setTransform(t * QTransform.fromTranslate(-left, -dev.top() + dy))
                    painter.setPen(pen)
                    painter.drawPolyline(polyline)
        painter.end()
        self.renders += 1
        rect = t.inverted()[0].mapRect(QRectF(left, dev.top(), width, dev.height()))
        return {"image": image, "xa": xa, "xb": xb, "view": (x0, x1, dev.width()), "y_key": y_key,
                "rect": rect}

    def _settled(self) -> None:
        self._render_now = True
        self.update()


def hairline_strokes(pen: QPen) -> list[tuple[QPen, float]]:
    """A wide pen as 1-pixel strokes offset by whole device pixels: [(pen, dy), ...].

    Why: Qt's raster engine strokes a polyline wider than one pixel through its general path
    stroker, which on a noisy curve of a few thousand vertices costs 60-120 ms per curve (20
    classes at 1/10 zoom: 1.4-2.8 s of frozen UI when the view settles, measured with
    benchmarks/ui.py), while a 1-pixel cosmetic line takes the Bresenham path (~4 ms for the same
    curve). Two 1-pixel strokes one pixel apart look like the 2-pixel line at a fraction of it.
    """
    width = pen.widthF() if pen.isCosmetic() else 0.0
    if width <= 1.0:
        return [(pen, 0.0)]
    thin = QPen(pen)
    thin.setWidthF(1.0)
    n = int(round(width))
    return [(thin, i - (n - 1) / 2.0) for i in range(n)]

