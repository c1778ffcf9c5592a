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
stretched to the new view until the view has been still for SETTLE_MS, then it re-renders. Where
the old image does not reach (a pan past its margin), a coarse overview of the whole video (one
view width of pixels, rendered once per data or height change, at rest) is shown stretched, so no
pan or zoom frame waits for a costly rendering (benchmarks/ui.py: a rendering of 20 noisy curves at
1/10 of a 3.5 h video takes 20-40 ms; a frame's budget is 16 ms); at deep zoom (at most
EXACT_WHILE_MOVING snippets to draw) rendering exactly is cheaper than that and is done. At rest
the view itself is rendered first; its margins and the overview follow in later repaints, as the
render budget allows (render_budget.py), so no single repaint stalls the UI thread. Wide pens are
drawn as 1-pixel strokes composited one row apart (see hairline_strokes). Data: times [T] seconds, values [T, K]
in 0..1. It only draws; it never decides what a score means.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QImage, QPainter, QPen, QTransform

from .render_budget import BUDGET

# The exact rendering covers the view plus MARGIN view-widths on each side, so a pan shows real
# curves at once; it is redone when the view has been still for SETTLE_MS.
MARGIN = 0.5
SETTLE_MS = 60
# With at most this many snippets in the span a rendering covers, a moving view whose last
# rendering does not cover it is rendered exactly at once (a few hundred vertices: well under a
# millisecond) instead of showing the coarse whole-video overview.
EXACT_WHILE_MOVING = 64
# Above this many vertices (all curves together) wide curves are stroked once into a layer that is
# composited one row apart (half the rasterization); below, compositing costs more than it saves.
LAYER_ABOVE = 20000


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
        self._moving_view: tuple | None = None  # the view last shown stretched (settle pending)
        self._pending: list[str] = []  # pieces still to render for the cached view (see paint)
        self._overview: dict | None = None  # the whole video in one view width (while moving)
        self.renders = 0  # exact renderings made (tests, benchmark: see rendering())
        self.overview_renders = 0
        self._settle = QTimer()
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)

    # --- what is rendered (tests and benchmarks look; nothing else needs it) ------------------
    def rendering(self) -> dict | None:
        """The exact rendering now kept: {"view": (x0, x1, ...), "xa", "xb"} (its time span with
        margins), or None."""
        c = self._cache
        return None if c is None else {"view": c.get("view"), "xa": c["xa"], "xb": c["xb"]}

    def pending_pieces(self) -> list[str]:
        """Pieces of the kept rendering still to render in later repaints ("right", "left", ...)."""
        return list(self._pending)

    def has_overview(self) -> bool:
        """A whole-video rendering is kept for views that outrun the exact one."""
        return self._overview is not None

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
        self._pending = []
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
        the last exact rendering stretched to the new view (and, where it does not reach, the
        coarse overview of the whole video) and re-render exactly once the view has been still
        for SETTLE_MS. So a pan or zoom frame costs at most two image blits, never a rendering."""
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
        view = (x0, x1, dev.width())
        if usable and c["view"] == view:
            if self._pending:          # margins / overview still to render, one per repaint
                self._render_pending(t, dev, y_key, x0, x1)
            self._blit(p, t, self._cache, dev.top())
            return
        overlap = usable and c["xa"] < x1 and c["xb"] > x0
        covered = overlap and c["xa"] <= x0 and c["xb"] >= x1
        ov = self._overview if self._overview is not None and self._overview["y_key"] == y_key else None
        w = x1 - x0
        a, b = np.searchsorted(self.times, (x0 - MARGIN * w, x1 + MARGIN * w))
        cheap = b - a <= EXACT_WHILE_MOVING  # deep zoom: rendering exactly beats the overview
        stale = covered or (not cheap and (overlap or ov is not None))
        if self._render_now and stale and not cheap and not BUDGET.available():
            self._render_now = False       # others used this repaint's budget: next repaint
            BUDGET.retry(self._settled)
        if not self._render_now and stale:
            if ov is not None and not covered:
                self._draw_overview(p, t, ov, x0, x1, y0, y1, dev.top(), c if overlap else None)
            if overlap:  # moved / stretched to the new view: cheap, slightly soft
                draw_image_span(p, t, c["image"], c["xa"], c["xb"], dev.top(), x0, x1)
            if view != self._moving_view:  # the view moved: (re)start the wait for stillness;
                self._moving_view = view   # repaints of a still view (playhead) must not
                self._settle.start()       # postpone the exact rendering forever
            return
        self._render_now = False
        self._moving_view = None
        with BUDGET.charge():
            if cheap:   # a few hundred vertices: the view and its margins at once
                self._cache = self._render(t, x0 - MARGIN * w, x1 + MARGIN * w,
                                           max(1, int(round(dev.width() * (1 + 2 * MARGIN)))), dev, y_key)
                self._pending = []
            else:       # the view now; its margins and the overview in the next repaints
                self._cache = self._render(t, x0, x1, dev.width(), dev, y_key)
                self._pending = ["right", "left"]
        self._cache["view"] = view
        self.renders += 1
        t0, t1 = float(self.times[0]), float(self.times[-1])
        if self._cache["xa"] <= t0 and self._cache["xb"] >= t1:
            self._overview = self._cache  # this rendering shows the whole video already
        elif ov is None and not cheap:    # at rest: the overview a later pan or zoom shows
            self._pending.append("overview")
        if self._pending:
            BUDGET.retry(self.update)
        self._blit(p, t, self._cache, dev.top())

    def _render_pending(self, t, dev, y_key, x0: float, x1: float) -> None:
        """One piece of the rendering left for later repaints: the left or right margin of the
        exact rendering (MARGIN view-widths), or the whole-video overview."""
        if BUDGET.available():
            with BUDGET.charge():
                piece = self._pending.pop(0)
                if piece == "overview":
                    self._overview = self._render(t, float(self.times[0]), float(self.times[-1]),
                                                  dev.width(), dev, y_key)
                    self.overview_renders += 1
                else:
                    self._grow(t, dev, y_key, piece, MARGIN * (x1 - x0))
        if self._pending:
            BUDGET.retry(self.update)

    def _grow(self, t, dev, y_key, side: str, seconds: float) -> None:
        """Widen the exact rendering by `seconds` on one side: render only the new part (plus two
        pixel columns of overlap, so the curves join without a gap) and join the two images."""
        c = self._cache
        old = c["image"]
        px = old.width() / max(c["xb"] - c["xa"], 1e-12)   # image pixels per second
        add = max(1, int(round(seconds * px)))
        seam = 2
        if side == "left":
            xa, xb = c["xa"] - add / px, c["xa"] + seam / px
        else:
            xa, xb = c["xb"] - seam / px, c["xb"] + add / px
        part = self._render(t, xa, xb, add + seam, dev, y_key)["image"]
        image = QImage(old.width() + add, old.height(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        q = QPainter(image)
        if side == "left":
            q.drawImage(QPointF(0.0, 0.0), part)
            q.drawImage(QPointF(float(add), 0.0), old)
            c["xa"] = xa
        else:
            q.drawImage(QPointF(0.0, 0.0), old)
            q.drawImage(QPointF(float(old.width() - seam), 0.0), part)
            c["xb"] = xb
        q.end()
        c["image"] = image

    @staticmethod
    def _draw_overview(p: QPainter, t, ov: dict, x0, x1, y0, y1, top: int, c: dict | None) -> None:
        """The whole-video rendering stretched over the parts of [x0, x1] that the last exact
        rendering `c` (None: no part) does not cover."""
        parts = [(x0, x1)] if c is None else [(x0, min(x1, c["xa"])), (max(x0, c["xb"]), x1)]
        for a, b in parts:
            if b > a:
                p.save()
                p.setClipRect(QRectF(a, y0, b - a, y1 - y0), Qt.ClipOperation.IntersectClip)
                draw_image_span(p, t, ov["image"], ov["xa"], ov["xb"], top, a, b)
                p.restore()

    @staticmethod
    def _blit(p: QPainter, t: QTransform, c: dict, top: int) -> None:
        """Draw the cached image 1:1 at its DEVICE position. The image is in device pixels, so
        it must be drawn with the item transform reset: drawn through `t` it would land at
        device coordinates read as seconds/score (far outside the view: no curves at all)."""
        p.save()
        p.resetTransform()
        p.drawImage(QPointF(t.map(QPointF(c["xa"], 0.0)).x(), top), c["image"])
        p.restore()

    def _render(self, t, xa, xb, width, dev, y_key) -> dict:
        """Render the curves of [xa, xb] s into an image `width` device pixels wide with the
        view's rows: the view plus MARGIN view-widths each side, or the whole video (overview)."""
        left = t.map(QPointF(xa, 0.0)).x()
        span = max(t.map(QPointF(xb, 0.0)).x() - left, 1e-9)  # device pixels of [xa, xb]
        sx = width / span
        to_image = QTransform(sx, 0.0, 0.0, 1.0, -left * sx, -dev.top())  # device -> image
        image = QImage(width, dev.height(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        x, y = self.display_points(xa, xb, (xb - xa) / width)
        if len(x) >= 2 and len(x) * len(self.pens) <= LAYER_ABOVE:  # few vertices: stroke each
            for k in reversed(range(len(self.pens))):  # first column on top
                polyline = pg.functions.arrayToQPolygonF(x, y[:, k])
                for pen, dy in hairline_strokes(self.pens[k]):
                    painter.setTransform(t * to_image * QTransform.fromTranslate(0.0, dy))
                    painter.setPen(pen)
                    painter.drawPolyline(polyline)
        elif len(x) >= 2:
            for n, run in _stroke_runs(self.pens):
                # a run of curves with n-pixel pens: each drawn ONCE as a 1-pixel stroke into a
                # layer that is then composited n times, one pixel row apart (the rows
                # hairline_strokes gives), so a wide curve costs one stroke, not n
                layer = image if n == 1 else QImage(width, dev.height(), QImage.Format.Format_ARGB32_Premultiplied)
                target = painter
                if n > 1:
                    layer.fill(0)
                    target = QPainter(layer)
                    target.setRenderHint(QPainter.RenderHint.Antialiasing, False)
                for k, pen, dy in run:
                    target.setTransform(t * to_image * QTransform.fromTranslate(0.0, dy))
                    target.setPen(pen)
                    target.drawPolyline(pg.functions.arrayToQPolygonF(x, y[:, k]))
                if n > 1:
                    target.end()
                    painter.resetTransform()
                    for row in reversed(range(n)):
                        painter.drawImage(QPointF(0.0, float(row)), layer)
        painter.end()
        return {"image": image, "xa": xa, "xb": xb, "view": None, "y_key": y_key}

    def _settled(self) -> None:
        self._render_now = True
        self.update()


def draw_image_span(p: QPainter, t: QTransform, image: QImage, xa: float, xb: float, top: float,
                    x0: float, x1: float) -> None:
    """Draw the part of `image` that shows times [x0, x1], scaled to the painter's current
    mapping `t` (time -> device x). The image's columns span times [xa, xb]; its rows are device
    rows from `top`, drawn unscaled.

    Only the source columns in view are drawn, into a target about the size of the view, in
    device coordinates: drawing the whole image into its full stretched rectangle (thousands of
    view widths at deep zoom) takes Qt's slow transformed path (15-25 ms per frame measured), and
    through a y-flipping transform (the score axis points up) it would land upside down."""
    lo, hi = max(xa, x0), min(xb, x1)
    if hi <= lo or xb <= xa:
        return
    sx = image.width() / (xb - xa)  # image columns per second
    s0 = max(0, math.floor((lo - xa) * sx))
    s1 = min(image.width(), math.ceil((hi - xa) * sx))
    if s1 <= s0:
        return
    d0 = t.map(QPointF(xa + s0 / sx, 0.0)).x()
    d1 = t.map(QPointF(xa + s1 / sx, 0.0)).x()
    p.save()
    p.resetTransform()
    p.drawImage(QRectF(d0, top, d1 - d0, image.height()), image, QRectF(s0, 0, s1 - s0, image.height()))
    p.restore()


def _stroke_runs(pens: Sequence[QPen]) -> list[tuple[int, list[tuple[int, QPen, float]]]]:
    """The columns in drawing order (last column first: the first ends on top), grouped into
    consecutive runs of equal stroke count n: [(n, [(column, 1-pixel pen, dy of its first
    stroke), ...]), ...] (see hairline_strokes)."""
    runs: list[tuple[int, list]] = []
    for k in reversed(range(len(pens))):
        strokes = hairline_strokes(pens[k])
        pen, dy = strokes[0]
        if runs and runs[-1][0] == len(strokes):
            runs[-1][1].append((k, pen, dy))
        else:
            runs.append((len(strokes), [(k, pen, dy)]))
    return runs


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

