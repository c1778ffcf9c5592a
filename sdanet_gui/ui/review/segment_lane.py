"""One timeline lane of one class: a single graphics item that paints ALL its segments and does its
own hit-testing, so 20 lanes x thousands of segments stay one item per lane (not one per segment).

Coordinates: x in seconds (the timeline's shared axis), y in lane rows (this lane occupies
[row, row + 1)). The lane only previews an edit while the mouse moves; it commits nothing itself.
When a drag ends it emits ONE signal with the final times, and the editing controller turns that
into one undoable project command. It must never hold the truth about segments: the project store
does; `set_segments` is called again after every command.

Painting (budget: 20 lanes pan/zoom in < 16 ms per frame, benchmarks/ui.py): a paint only looks at
the segments in view (bisection on sorted starts and the running max of ends, never a loop over
all). Each band (predicted, human) is drawn into an image of the view plus half a view-width on
each side when the view is at rest: many segments as a raster strip (one colour per pixel column,
merged with numpy from a per-lane time-bin table), few as rectangles. A repaint of the same view
(the playhead moving) is one blit per band; while the view moves the image is drawn moved or
stretched into place, and where it does not reach: a sparse band draws its few visible rectangles
directly, a dense band shows its whole-video strip; the images are rebuilt once the view has been
still for SETTLE_MS, as far as each repaint's render budget allows (render_budget.py: the rest in
the next repaints). Hit-testing always uses the exact segment times, whatever was painted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QTransform

from . import theme
from .kinds import PREDICTED
from .render_budget import BUDGET
from .score_curves import draw_image_span

# The `kinds` codes given to `set_segments` (prediction, human provenances) are kinds.py's.

# Vertical bands inside a lane row: predicted segments on top (read-only), human ones below.
PREDICTED_BAND = (0.06, 0.30)
HUMAN_BAND = (0.40, 0.92)
# With the previous model version's predictions shown (View > Show previous model's
# predictions) the predicted band splits: the previous version's on top, drawn grey with a dashed
# class-coloured outline, the active version's (filled, as always) right below, so old and new
# boundaries line up for comparison.
PREVIOUS_BAND = (0.02, 0.17)
SPLIT_PREDICTED_BAND = (0.19, 0.33)

# A boundary is grabbed when the mouse is within this many pixels of it.
GRAB_PX = 5.0
# A dragged boundary snaps to a threshold crossing of its class's score within this many pixels
# (hold Shift to place it freely).
EVIDENCE_SNAP_PX = 8.0
# Above this many visible segments a band is painted as one raster strip: one colour per pixel
# column, computed with numpy, so a paint costs O(lane width in pixels), not O(segments).
RASTER_ABOVE = 40
# The raster path reads a per-lane table of BINS time bins (max opacity and provenance per bin),
# built once per data change, so a paint reduces bins to pixel columns instead of segments.
BINS = 1 << 16
STRIP_MARGIN = 0.5  # the raster strip also covers half a view-width on each side
SETTLE_MS = 60      # the view is "still" after this long without a change
_ALPHA_LEVELS = 8


@dataclass(frozen=True)
class Hit:
    """What is under the mouse in a lane: segment position (in the lane's arrays) and the part."""

    index: int
    seg_id: int
    part: str  # "start" | "end" | "body"


class SegmentLane(pg.GraphicsObject):
    """Paints the segments of one class in one row and turns mouse gestures into edit requests.

    Signals (times in seconds, already snapped to frame boundaries by `snap`):
      clicked(row, seg_id or 0, x)                    - a click; 0 when on empty lane
      segment_changed(row, seg_id, start, end)       - a boundary or body drag finished
      segment_drawn(row, start, end)                 - a drag on empty lane finished (add)
      boundary_moving(row, seconds, side)            - during a drag: where the dragged edge is
      drag_finished(row)                             - a drag ended (after the signals above)
    """

    clicked = Signal(int, int, float)
    segment_changed = Signal(int, int, float, float)
    segment_drawn = Signal(int, float, float)
    boundary_moving = Signal(int, float, str)   # row, seconds, "start" | "end": the edge being dragged
    drag_finished = Signal(int)                 # row: a drag ended (after any change it made)

    def __init__(self, row: int, color: QColor, duration: float = 1.0, snap=None, editable=True,
                 style: "theme.LaneStyle | None" = None):
        super().__init__()
        self.lane_style = style or theme.lane_style()  # outlines, lane line, selection (per scheme)
        self.row = int(row)
        self.set_color(color)
        self.duration = float(duration)
        self.snap = snap or (lambda s: s)
        self.editable = editable
        self.min_length = 1e-3  # seconds; the timeline sets one frame
        # (row, seconds, tolerance s) -> nearest threshold crossing of the class score, or None
        self.evidence_snap = None
        self._settle: QTimer | None = None
        self._rebuild_now = False
        self._moving: dict = {}  # band -> the view last shown from stale strips (settle pending)
        self._painted_view: tuple[float, float] | None = None  # (x0, x1) of the last paint
        self.selected_id: int | None = None
        self._preview: tuple[int, float, float] | None = None  # (seg_id or 0 for new, start, end)
        self._drag: tuple[Hit | None, float, float, float] | None = None
        self.previous_shown = False
        self.set_previous(np.zeros(0), np.zeros(0), shown=False)
        self.set_segments(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        self.setAcceptHoverEvents(True)

    # --- what is rendered (tests and benchmarks look; nothing else needs it) ------------------
    def rendered_strips(self) -> dict:
        """The kept band images: {(band, how) or band: {"view": (x0, x1, ...)}}."""
        return {k: {"view": v.get("view")} for k, v in self._strip_cache.items()}

    def forget_renderings(self) -> None:
        """Drop the kept images and the last painted view (the next paint draws as a pan frame)."""
        self._strip_cache.clear()
        self._painted_view = None

    @property
    def preview(self) -> tuple[int, float, float] | None:
        """The edit being dragged: (segment id or 0 for a new one, start s, end s), or None."""
        return self._preview

    def set_style(self, style: "theme.LaneStyle") -> None:
        """The colour scheme's outlines and lines (theme.apply_timeline, on a scheme change)."""
        self.lane_style = style
        self._strip_cache = {}
        self.update()

    def set_color(self, color: QColor) -> None:
        """The class colour (brushes of every opacity level, the raster strip's pixel colour);
        theme.apply_timeline calls it again when the colour scheme changes."""
        self.color = QColor(color)
        self._level_brushes = []
        for lv in range(_ALPHA_LEVELS):
            c = QColor(self.color)
            c.setAlpha(int(50 + 190 * (lv + 1) / _ALPHA_LEVELS))
            self._level_brushes.append(QBrush(c))
        fill = QColor(self.color)
        fill.setAlpha(230)
        self._human_brush = QBrush(fill)
        self._selected_brush = QBrush(QColor(self.color).lighter(130))
        self._previous_pen = pg.mkPen(self.color, width=1, style=Qt.PenStyle.DashLine, cosmetic=True)
        # premultiplied BGRA of the class colour per unit of alpha (alpha 0..255 -> pixel)
        self._bgra_per_alpha = np.array([self.color.blue(), self.color.green(), self.color.red(), 255],
                                        np.float32) / 255.0
        self._strip_cache = {}
        self.update()

    # --- data ------------------------------------------------------------------------------------
    def set_segments(self, ids, starts, ends, scores=None, kinds=None) -> None:
        """ids [N] int, starts/ends [N] seconds, scores [N] in 0..1 (nan = none), kinds [N] codes.

        ids: human segment ids (> 0) and, for predicted segments, the prediction id NEGATED (< 0),
        so one lane can hold both without confusion; 0 is never an id."""
        ids = np.asarray(ids, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.float64)
        ends = np.asarray(ends, dtype=np.float64)
        n = len(ids)
        scores = np.full(n, np.nan) if scores is None else np.asarray(scores, dtype=np.float64)
        kinds = np.zeros(n, np.int8) if kinds is None else np.asarray(kinds, dtype=np.int8)
        order = np.argsort(starts, kind="stable")
        self.ids, self.starts, self.ends = ids[order], starts[order], ends[order]
        self.scores, self.kinds = scores[order], kinds[order]
        # running max of ends lets clip-to-view find the first visible segment by bisection
        self._max_end = np.maximum.accumulate(self.ends) if n else self.ends
        self._id_pos = {int(i): k for k, i in enumerate(self.ids)}
        # the two bands, split once here so a paint does no masking over all segments
        pred = self.kinds == PREDICTED
        self._bands = {}
        for name, m in (("predicted", pred), ("human", ~pred)):
            st, en = self.starts[m], self.ends[m]
            self._bands[name] = (st, en, self.scores[m], self.kinds[m], self.ids[m],
                                 np.maximum.accumulate(en) if len(en) else en)
        self._bin_cache: dict = {}
        self._strip_cache: dict = {}
        self.update()

    def set_previous(self, starts, ends, scores=None, shown: bool = True) -> None:
        """The previous model version's predictions of this class (read-only, for comparison):
        starts/ends [N] seconds, scores [N] in 0..1 (opacity). `shown` False hides the sub-band
        (and gives the predicted band its full height back)."""
        starts = np.asarray(starts, dtype=np.float64)
        ends = np.asarray(ends, dtype=np.float64)
        scores = np.full(len(starts), np.nan) if scores is None else np.asarray(scores, dtype=np.float64)
        order = np.argsort(starts, kind="stable")
        self.prev_starts, self.prev_ends, self.prev_scores = starts[order], ends[order], scores[order]
        self._prev_max_end = np.maximum.accumulate(self.prev_ends) if len(order) else self.prev_ends
        self.previous_shown = bool(shown)
        self.update()

    @property
    def predicted_band(self) -> tuple[float, float]:
        """Where the active version's predictions are drawn in the row (y fractions)."""
        return SPLIT_PREDICTED_BAND if self.previous_shown else PREDICTED_BAND

    def __len__(self) -> int:
        return len(self.ids)

    def segment(self, seg_id: int) -> tuple[float, float]:
        k = self._id_pos[int(seg_id)]
        return float(self.starts[k]), float(self.ends[k])

    def set_duration(self, duration: float) -> None:
        self.prepareGeometryChange()
        self.duration = float(duration)
        self._bin_cache = {}
        self._strip_cache = {}
        self.update()

    def select(self, seg_id: int | None) -> None:
        self.selected_id = None if seg_id is None or int(seg_id) not in self._id_pos else int(seg_id)
        self.update()

    def set_preview(self, seg_id: int, start: float, end: float) -> None:
        self._preview = (int(seg_id), float(start), float(end))
        self.update()

    def clear_preview(self) -> None:
        self._preview = None
        self.update()

    def visible_range(self, x0: float, x1: float) -> tuple[int, int]:
        """Positions [a, b) of the segments that overlap [x0, x1] (segments sorted by start)."""
        a = int(np.searchsorted(self._max_end, x0, side="right"))
        b = int(np.searchsorted(self.starts, x1, side="left"))
        return a, max(a, b)

    # --- hit testing -------------------------------------------------------------------------------
    @staticmethod
    def band_of(y_in_row: float) -> str:
        """'predicted' for the top band of the row, else 'human'."""
        return "predicted" if y_in_row < (PREDICTED_BAND[1] + HUMAN_BAND[0]) / 2 else "human"

    def hit(self, x: float, tolerance: float, band: str = "human") -> Hit | None:
        """The segment part at time x in `band`: a boundary within `tolerance` s wins over a body.
        Predicted segments are read-only: their hits are always 'body'."""
        a, b = self.visible_range(x - tolerance, x + tolerance)
        if a >= b:
            return None
        want_pred = band == "predicted"
        ks = [k for k in range(a, b) if (self.kinds[k] == PREDICTED) == want_pred]
        best: tuple[float, Hit] | None = None
        if not want_pred:
            for k in ks:
                for part, edge in (("start", self.starts[k]), ("end", self.ends[k])):
                    d = abs(x - edge)
                    if d <= tolerance and (best is None or d < best[0]):
                        best = (d, Hit(k, int(self.ids[k]), part))
        if best is not None:
            return best[1]
        inside = [k for k in ks if self.starts[k] <= x < self.ends[k]]
        if inside:  # the shortest one containing x is the one the user can see best
            k = min(inside, key=lambda k: self.ends[k] - self.starts[k])
            return Hit(k, int(self.ids[k]), "body")
        return None

    def _tolerance(self) -> float:
        pw = self.pixelWidth()
        return GRAB_PX * (pw if pw and np.isfinite(pw) else 0.0)

    # --- painting ------------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(0.0, float(self.row), max(self.duration, 1e-6), 1.0)

    def _view(self) -> tuple[float, float, float] | None:
        """(x0, x1, seconds per pixel) of the view; the lane sits untransformed in its ViewBox,
        so the ViewBox's own range is exact and far cheaper than GraphicsItem.viewRect()."""
        vb = self.getViewBox()
        if vb is None or not hasattr(vb, "viewRange"):
            return None
        (x0, x1), _ = vb.viewRange()
        width = vb.width()
        return x0, x1, (x1 - x0) / width if width > 0 else (x1 - x0) / 1000.0

    def pixelWidth(self) -> float:  # noqa: N802 (Qt naming)
        view = self._view()
        return view[2] if view else 0.0

    def paint(self, p, *args):
        view = self._view()
        if view is None:
            return
        x0, x1, pw = view
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        # lane base line, so an empty lane is still visibly a lane
        p.setPen(self.lane_style.lane_line)
        p.drawLine(QPointF(x0, self.row + 0.97), QPointF(x1, self.row + 0.97))
        hide = self._preview[0] if self._preview else None
        if self.previous_shown:
            self._paint_previous(p, x0, x1, pw)
        for band in ("predicted", "human"):
            st, en, sc, kd, ids, max_end = self._bands[band]
            a = int(max_end.searchsorted(x0, side="right"))
            b = int(st.searchsorted(x1, side="left"))
            if b <= a:
                continue
            lo, hi = self.predicted_band if band == "predicted" else HUMAN_BAND
            y0, h = self.row + lo, hi - lo
            if b - a > RASTER_ABOVE:
                self._paint_raster(p, band, x0, x1, y0, h)
            else:
                self._paint_vector(p, band, x0, x1, pw, y0, h, hide)
        sel = self.selected_id
        if sel is not None and sel in self._id_pos and sel != hide:
            s, e = self.segment(sel)
            self._paint_selected(p, s, e, pw, sel < 0)
        if self._preview is not None:
            _, s, e = self._preview
            self._paint_selected(p, s, e, pw, False)
        self._rebuild_now = False  # every band in view has been rebuilt for this view
        self._painted_view = (x0, x1)

    @staticmethod
    def _alpha(scores: np.ndarray) -> np.ndarray:
        """Opacity 50..240 by score (no score: opaque)."""
        return (50 + 190 * np.clip(np.where(np.isnan(scores), 1.0, scores), 0, 1)).astype(np.uint8)

    def _bins(self, band: str):
        """(alpha [BINS] uint8, provenance code [BINS] int8, bin width s) of one band: per time
        bin the highest opacity and provenance of the segments touching it (built once)."""
        if band in self._bin_cache:
            return self._bin_cache[band]
        st, en, sc, kd, _, _ = self._bands[band]
        binw = max(self.duration, float(en.max()) if len(en) else 0.0, 1e-9) / BINS
        a = np.clip((st / binw).astype(np.int64), 0, BINS - 1)
        b = np.clip(np.ceil(en / binw).astype(np.int64), a + 1, BINS)
        lengths = b - a
        cols = np.repeat(a, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
        alpha = self._alpha(sc) if band == "predicted" else np.full(len(st), 230, np.uint8)
        out = []
        for values in (alpha, kd):
            v = np.repeat(values, lengths)
            o = np.argsort(cols, kind="stable")
            c, v = cols[o], v[o]
            first = np.flatnonzero(np.diff(c, prepend=-1))
            table = np.zeros(BINS, values.dtype)
            if len(first):
                table[c[first]] = np.maximum.reduceat(v, first)
            out.append(table)
        self._bin_cache[band] = (out[0], out[1], binw)
        return self._bin_cache[band]

    def _strip(self, band, x0, x1, width, height):
        """(QImage, its buffer) of one band for a view: premultiplied BGRA device pixels."""
        alpha_bins, code_bins, binw = self._bins(band)
        edges = np.floor((x0 + np.arange(width + 1) * ((x1 - x0) / width)) / binw).astype(np.int64)
        edges = np.clip(edges, 0, BINS)
        lo = edges[:-1]
        inside = lo < BINS
        fill = np.zeros(width, np.float32)
        code = np.zeros(width, np.int8)
        if inside.any():
            idx = lo[inside]
            end = int(min(BINS, max(edges[-1], idx[-1] + 1)))
            # reduceat over [idx[k], idx[k+1]) (a column reads >= 1 bin); the last stops at `end`
            fill[inside] = np.maximum.reduceat(alpha_bins[:end], idx)
            code[inside] = np.maximum.reduceat(code_bins[:end], idx)
        # premultiplied BGRA (QImage.Format_ARGB32_Premultiplied on little-endian): the raster
        # engine's native format, so the blit needs no conversion
        row = (fill[:, None] * self._bgra_per_alpha).astype(np.uint8)
        img = np.broadcast_to(row, (height, width, 4)).copy()
        if band == "human" and height >= 4:
            m = code > 0
            if m.any():
                img[:2, m] = img[-2:, m] = self.lane_style.outline_bgra[code[m]]
        qimg = QImage(img.data, width, height, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
        return qimg, img  # the QImage borrows `img`: keep both

    def _paint_raster(self, p, band, x0, x1, y0, h):
        """Many segments: reduce the band's time bins to one value per device pixel column
        (max), build the strip in device pixels (top and bottom rows = provenance colour of human
        segments, the rest the class colour with that opacity) and blit it.

        The strip covers the view plus STRIP_MARGIN view-widths each side. The same view again
        (the playhead moved) is one unscaled blit; while the view pans or zooms the last strip is
        drawn stretched into place (where it does not reach: the band's whole-video strip,
        built at rest) and rebuilt once the view has been still for SETTLE_MS."""
        t = p.transform()
        dev = t.mapRect(QRectF(x0, y0, x1 - x0, h)).toAlignedRect()
        width, height = dev.width(), dev.height()
        if width <= 0 or height <= 0:
            return
        cached = self._strip_cache.get(band)
        view = (x0, x1, width, height)
        ov = self._strip_cache.get((band, "overview"))
        if ov is not None and ov["view"][3] != height:
            ov = None
        if cached is not None and cached["view"] == view:
            if ov is None:   # at rest: the whole-video strip a later pan or zoom shows meanwhile
                self._build_overview(band, width, height)
            p.save()
            p.resetTransform()
            p.drawImage(QPointF(t.map(QPointF(cached["xa"], 0.0)).x(), dev.top()), cached["image"])
            p.restore()
            return
        overlap = (cached is not None and cached["view"][3] == height
                   and cached["xa"] < x1 and cached["xb"] > x0)
        if self._rebuild_now and (overlap or ov is not None) and not BUDGET.available():
            BUDGET.retry(self._settled)      # this repaint's budget is spent: the next one
            stale = True
        else:
            stale = not self._rebuild_now
        if stale and (overlap or ov is not None):
            if ov is not None and not (overlap and cached["xa"] <= x0 and cached["xb"] >= x1):
                # where the last strip does not reach: the whole-video strip, stretched
                parts = [(x0, x1)] if not overlap else [(x0, min(x1, cached["xa"])), (max(x0, cached["xb"]), x1)]
                for a, b in parts:
                    if b > a:
                        p.save()
                        p.setClipRect(QRectF(a, y0, b - a, h), Qt.ClipOperation.IntersectClip)
                        draw_image_span(p, t, ov["image"], ov["xa"], ov["xb"], dev.top(), a, b)
                        p.restore()
            if overlap:
                draw_image_span(p, t, cached["image"], cached["xa"], cached["xb"], dev.top(), x0, x1)
            if self._moving.get(band) != view:  # only a view change restarts the wait for
                self._moving[band] = view       # stillness: repaints of a still view (the
                self._settle_timer().start()    # playhead moving) must not postpone the rebuild
            return
        self._moving.pop(band, None)
        w = x1 - x0
        xa, xb = x0 - STRIP_MARGIN * w, x1 + STRIP_MARGIN * w
        full = max(1, int(round(width * (1 + 2 * STRIP_MARGIN))))
        with BUDGET.charge():
            image, buf = self._strip(band, xa, xb, full, height)
        self._strip_cache[band] = {"view": view, "xa": xa, "xb": xb, "image": image, "buf": buf}
        if ov is None:
            self._build_overview(band, width, height)
        p.save()
        p.resetTransform()
        p.drawImage(QPointF(t.map(QPointF(xa, 0.0)).x(), dev.top()), image)
        p.restore()

    def _build_overview(self, band, width: int, height: int) -> None:
        """The band's whole-video strip, one view width wide, when this repaint's render budget
        allows (else in a later repaint)."""
        if not BUDGET.available():
            BUDGET.retry(self.update)
            return
        with BUDGET.charge():
            image, buf = self._strip(band, 0.0, self.duration, width, height)
        self._strip_cache[(band, "overview")] = {"view": (0.0, self.duration, width, height),
                                                 "xa": 0.0, "xb": self.duration, "image": image, "buf": buf}

    def _settle_timer(self) -> QTimer:
        if self._settle is None:
            self._settle = QTimer()
            self._settle.setSingleShot(True)
            self._settle.setInterval(SETTLE_MS)
            self._settle.timeout.connect(self._settled)
        return self._settle

    def _settled(self) -> None:
        self._rebuild_now = True
        self.update()

    def _paint_vector(self, p, band, x0, x1, pw, y0, h, hide):
        """Few segments in view (<= RASTER_ABOVE): rectangles, drawn into an image of the view
        plus STRIP_MARGIN view-widths each side when the view is at rest (built for a view that
        was painted before, or when the settle timer fires). A repaint of the same view is one
        blit; while the view moves the image is drawn stretched into place (a pan: moved 1:1,
        exact) as long as it covers the view; where it does not, the visible segments are drawn
        directly (a few rectangles) and the image is rebuilt once the view is still. The
        segment `hide` (being dragged: drawn as the preview) is left out."""
        t = p.transform()
        dev = t.mapRect(QRectF(x0, y0, x1 - x0, h)).toAlignedRect()
        width, height = dev.width(), dev.height()
        if width <= 0 or height <= 0:
            return
        key = (band, "vector")
        cached = self._strip_cache.get(key)
        view = (x0, x1, width, height)
        valid = cached is not None and cached["hide"] == hide and cached["view"][3] == height
        if valid and cached["view"] == view:
            self._blit(p, t, cached["xa"], dev.top(), cached["image"])
            return
        if valid and not self._rebuild_now and cached["xa"] <= x0 and cached["xb"] >= x1:
            draw_image_span(p, t, cached["image"], cached["xa"], cached["xb"], dev.top(), x0, x1)
            self._moved(key, view)
            return
        at_rest = self._rebuild_now or self._painted_view == (x0, x1)
        if at_rest and not BUDGET.available():   # this repaint's budget is spent: the next one
            BUDGET.retry(self._settled)
        elif at_rest:                            # (re)build the image
            # the image spans whole device pixels and is drawn with the view's own transform
            # shifted by whole pixels, so its blit is pixel-identical to drawing directly
            margin = STRIP_MARGIN * width
            left = math.floor(dev.left() - margin)
            full = max(1, int(math.ceil(dev.right() + 1 + margin)) - left)
            inverse = t.inverted()[0]
            xa, xb = inverse.map(QPointF(left, 0.0)).x(), inverse.map(QPointF(left + full, 0.0)).x()
            with BUDGET.charge():
                image = QImage(full, height, QImage.Format.Format_ARGB32_Premultiplied)
                image.fill(0)
                q = QPainter(image)
                q.setRenderHint(QPainter.RenderHint.Antialiasing, False)
                q.setTransform(t * QTransform.fromTranslate(-left, -dev.top()))  # device -> image px
                self._draw_segments(q, band, xa, xb, pw, y0, h, hide)
                q.end()
            self._strip_cache[key] = {"view": view, "xa": xa, "xb": xb, "image": image, "hide": hide}
            self._moving.pop(key, None)
            self._blit(p, t, xa, dev.top(), image)
            return
        self._draw_segments(p, band, x0, x1, pw, y0, h, hide)
        self._moved(key, view)

    def _draw_segments(self, p, band, xa, xb, pw, y0, h, hide):
        """The band's segments overlapping [xa, xb] (but `hide`) as rectangles, pw s per pixel."""
        st, en, sc, kd, ids, max_end = self._bands[band]
        a = int(max_end.searchsorted(xa, side="right"))
        b = int(st.searchsorted(xb, side="left"))
        if b <= a:
            return
        st, en, sc, kd = st[a:b], en[a:b], sc[a:b], kd[a:b]
        if hide is not None:
            keep = ids[a:b] != hide
            st, en, sc, kd = st[keep], en[keep], sc[keep], kd[keep]
        if band == "predicted":
            self._paint_predicted(p, st, en, sc, pw, y0, h)
        else:
            self._paint_human(p, st, en, kd, pw, y0, h)

    def _moved(self, key, view) -> None:
        """A stale image (or a direct paint) was shown for `view`: a NEW view restarts the wait
        for stillness; repaints of a still view (the playhead moving) must not postpone it."""
        if self._moving.get(key) != view:
            self._moving[key] = view
            self._settle_timer().start()

    @staticmethod
    def _blit(p, t, xa: float, top: int, image: QImage) -> None:
        """An image made in device pixels, drawn 1:1 with its left edge at time `xa`."""
        p.save()
        p.resetTransform()
        p.drawImage(QPointF(t.map(QPointF(xa, 0.0)).x(), top), image)
        p.restore()

    def _paint_predicted(self, p, starts, ends, scores, pw, y0, h):
        """Few segments (<= RASTER_ABOVE): one drawRects per opacity level. Plain Python over
        the few visible ones: numpy's per-call overhead would cost more than the loop."""
        top = _ALPHA_LEVELS - 1
        rects: dict[int, list[QRectF]] = {}
        for s, e, sc in zip(starts.tolist(), ends.tolist(), scores.tolist()):
            lv = top if sc != sc else min(max(int(sc * _ALPHA_LEVELS), 0), top)  # nan: opaque
            rects.setdefault(lv, []).append(QRectF(s, y0, max(e - s, pw), h))  # >= 1 pixel wide
        p.setPen(Qt.PenStyle.NoPen)
        for lv in sorted(rects):
            p.setBrush(self._level_brushes[lv])
            p.drawRects(rects[lv])

    def _paint_human(self, p, starts, ends, kinds, pw, y0, h):
        """A frame in the provenance colour around a class-coloured fill, both drawn as plain
        filled rectangles (stroked wide or dashed pens are the slow path of the raster engine).
        Plain Python over the few visible segments: numpy's per-call overhead costs more."""
        ph = 1.0 / max(1e-9, abs(p.transform().m22()))  # data units per device pixel (y)
        by = 2 * ph  # frame thickness: 2 px
        outer: dict[int, list[QRectF]] = {}
        inner: list[QRectF] = []
        yi, hi = y0 + by, h - 2 * by
        pw2 = 2 * pw
        for s, e, k in zip(starts.tolist(), ends.tolist(), kinds.tolist()):
            w = e - s
            if w < pw:
                w = pw
            bx = 0.25 * w if 0.25 * w < pw2 else pw2
            rects = outer.get(k)
            if rects is None:
                rects = outer[k] = []
            rects.append(QRectF(s, y0, w, h))
            inner.append(QRectF(s + bx, yi, w - 2 * bx, hi))
        p.setPen(Qt.PenStyle.NoPen)
        for k, rects in outer.items():
            p.setBrush(self.lane_style.outline_brushes[k])
            p.drawRects(rects)
        p.setBrush(self._human_brush)
        p.drawRects(inner)

    def _paint_previous(self, p, x0, x1, pw):
        """The previous version's predictions in view: grey fill (opacity by score) inside a
        dashed outline in the class colour; a different look from the filled current ones."""
        a = int(np.searchsorted(self._prev_max_end, x0, side="right"))
        b = int(np.searchsorted(self.prev_starts, x1, side="left"))
        if b <= a:
            return
        lo, hi = PREVIOUS_BAND
        y0, h = self.row + lo, hi - lo
        st, en, sc = self.prev_starts[a:b], self.prev_ends[a:b], self.prev_scores[a:b]
        alpha = self._alpha(sc)
        p.setPen(self._previous_pen)
        for s, e, al in zip(st.tolist(), en.tolist(), alpha.tolist()):
            p.setBrush(QBrush(QColor(160, 160, 160, int(al) * 3 // 4)))
            p.drawRect(QRectF(s, y0, max(e - s, pw), h))

    def _paint_selected(self, p, s, e, pw, predicted: bool):
        band = self.predicted_band if predicted else HUMAN_BAND
        y0, h = self.row + band[0], band[1] - band[0]
        p.setBrush(self._selected_brush)
        p.setPen(self.lane_style.selected)
        p.drawRect(QRectF(s, y0, max(e - s, pw), h))
        if not predicted:
            p.setBrush(QBrush(self.lane_style.selected.color()))  # the scheme's outline colour
            p.setPen(Qt.PenStyle.NoPen)
            for edge in (s, e):  # boundary handles, 3 px wide
                p.drawRect(QRectF(edge - 1.5 * pw, y0, 3 * pw, h))

    # --- mouse --------------------------------------------------------------------------------------
    def hoverEvent(self, ev):
        if ev.isExit() or not self.editable:
            self.unsetCursor()
            return
        pos = ev.pos()
        h = self.hit(pos.x(), self._tolerance(), self.band_of(pos.y() - self.row))
        if h is None:
            self.unsetCursor()
        elif h.part == "body":
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.setCursor(Qt.CursorShape.SizeHorCursor)

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        pos = ev.pos()
        y = pos.y() - self.row
        if self.previous_shown and y < (PREVIOUS_BAND[1] + SPLIT_PREDICTED_BAND[0]) / 2:
            self.clicked.emit(self.row, 0, float(pos.x()))  # the previous version's: not selectable
            return
        h = self.hit(pos.x(), self._tolerance(), self.band_of(y))
        self.clicked.emit(self.row, 0 if h is None else h.seg_id, float(pos.x()))

    def mouseDragEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton or not self.editable:
            ev.ignore()
            return
        ev.accept()
        x = float(ev.pos().x())
        if ev.isStart():
            down = ev.buttonDownPos()
            x_down = float(down.x())
            band = self.band_of(down.y() - self.row)
            h = self.hit(x_down, self._tolerance(), band)
            if h is None or band == "predicted":  # draw a new segment (predictions are read-only)
                self._drag = (None, x_down, x_down, x_down)
            else:
                s, e = float(self.starts[h.index]), float(self.ends[h.index])
                self._drag = (h, x_down, s, e)
                self.select(h.seg_id)
        if self._drag is None:
            return
        h, x_down, s0, e0 = self._drag
        if h is not None and h.part in ("start", "end") and self.evidence_snap is not None \
                and not ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            edge = s0 if h.part == "start" else e0
            crossing = self.evidence_snap(self.row, edge + (x - x_down), EVIDENCE_SNAP_PX * self.pixelWidth())
            if crossing is not None:
                x = x_down + (crossing - edge)
        s, e = self._dragged_times(h, x_down, x, s0, e0)
        if ev.isFinish():
            self._drag = None
            self.clear_preview()
            if h is None:
                if e > s:
                    self.segment_drawn.emit(self.row, s, e)
            elif (s, e) != (s0, e0):
                self.segment_changed.emit(self.row, h.seg_id, s, e)
            self.drag_finished.emit(self.row)
        else:
            self.set_preview(0 if h is None else h.seg_id, s, e)
            # the edge under the mouse (a whole segment moved: its start), for the player to show
            side = (h.part if h is not None and h.part != "body" else
                    "start" if h is not None or x < x_down else "end")
            self.boundary_moving.emit(self.row, s if side == "start" else e, side)

    def _dragged_times(self, h, x_down, x, s0, e0) -> tuple[float, float]:
        """Frame-snapped (start, end) for the drag so far, kept inside the video and non-empty."""
        snap, dur = self.snap, self.duration
        if h is None:
            a, b = sorted((x_down, x))
            return snap(max(0.0, a)), snap(min(dur, b))
        dx = x - x_down
        if h.part == "body":
            dx = min(max(dx, -s0), dur - e0)
            s = snap(s0 + dx)
            return s, snap(s + (e0 - s0))
        if h.part == "start":
            s = snap(min(max(0.0, s0 + dx), e0))
            return (s, e0) if s < e0 else (snap(e0 - self.min_length), e0)
        e = snap(max(min(dur, e0 + dx), s0))
        return (s0, e) if e > s0 else (s0, snap(s0 + self.min_length))
