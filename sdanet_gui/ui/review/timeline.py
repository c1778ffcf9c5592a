"""The timeline under the player: SDANet's score curves, segment lanes and the playhead on ONE
x-axis in seconds shared by every lane.

Layout (one pyqtgraph GraphicsLayoutWidget, x-linked plots, same left-axis width so they align):
  score lane   per-class score curves on a FIXED 0..1 axis (localization.display_scores: per-snippet
               softmax class probability x attention) + the class-agnostic attention (grey,
               dashed, drawn underneath) and the class threshold lines on the same scale; ONE
               `ScoreCurves` item draws all curves, reduced to a max per pixel column of the
               visible range (downsample + clip).
  heatmap      only with many classes (> HEATMAP_ABOVE): class x time image; then only the
               selected classes get curves in the score lane.
  lanes        one `SegmentLane` item per class that paints all of its segments.

Mouse: wheel zooms x around the cursor; right- or middle-drag pans (so does a left-drag on the
time axis); a left click or drag on the score lane/heatmap seeks (scrubs); in a segment lane a
left drag edits or draws a segment, a click selects or seeks; a dragged boundary snaps to the
nearest crossing of its class's score with the class threshold within 8 px (Shift: no snapping).
x is limited to the video.
This module draws and reports gestures; it never changes segments (the editing controller does).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from . import theme
from .render_budget import BUDGET
from .score_curves import ScoreCurves
from .segment_lane import SegmentLane
from .time_axis import TimeAxis

HEATMAP_ABOVE = 25
SCORE_RANGE = (0.0, 1.0)  # the score lane's fixed y range: display_scores and attention units
ATTENTION_COLOR = theme.ATTENTION_COLOR  # colours live in theme.py (light / dark scheme)
# threshold line drawn with model scores until a caller sets others: on the display scale,
# probability x attention >= 0.5 means "attended, and this class likelier than all others and
# background together"
DEFAULT_THRESHOLD = 0.5
CURVES_WITH_HEATMAP = 8  # with a heatmap: curves for the top classes + the class in focus
NO_SCORES_TEXT = "No scores yet: Model > Load checkpoint… shows SDANet's score curves here"
AXIS_WIDTH = 130
LEGEND = ("<b>Score curves</b>: one solid line per class (the model's score: class probability × "
          "attention); <b>dashed grey</b>: the attention (how much the model thinks any action is "
          "happening); <b>dotted line</b>: the threshold a prediction must reach.<br>"
          "<b>Lanes</b>, one per class: the upper thin bars are the model's predicted segments, the "
          "darker the more confident (relative to the class's best in this video); the lower bars "
          "are your segments, outlined by who made them (green: accepted or confirmed, yellow dashed: "
          "edited, blue: added, grey: imported).")
PLAYHEAD_COLOR = theme.DARK.playhead


def class_color(i: int, n: int, scheme: str | None = None) -> QColor:
    """A stable, distinct colour per class index (for `scheme`, default: the current one)."""
    return theme.class_color(i, n, scheme)


class TimeViewBox(pg.ViewBox):
    """x-only view: wheel zooms x, right/middle drag pans, left click/drag seeks if `scrub`."""

    seek_requested = Signal(float)

    def __init__(self, scrub: bool = True):
        super().__init__(enableMenu=False)
        self.scrub = scrub
        self.setMouseEnabled(x=True, y=False)

    def _x(self, pos) -> float:
        return float(self.mapToView(pos).x())

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.seek_requested.emit(self._x(ev.pos()))
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):
        if axis is not None:  # dragging the axis pans it
            return super().mouseDragEvent(ev, axis=axis)
        ev.accept()
        if ev.button() == Qt.MouseButton.LeftButton and self.scrub:
            self.seek_requested.emit(self._x(ev.pos()))
            return
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            dx = self._x(ev.lastPos()) - self._x(ev.pos())
            self.translateBy(x=dx)
            self.sigRangeChangedManually.emit(self.state["mouseEnabled"])


class TimelineWidget(pg.GraphicsLayoutWidget):
    """Score curves, heatmap and segment lanes of one video on one time axis (seconds).

    Signals: seek_requested(seconds); segment_clicked(row, seg_id or 0, seconds);
    segment_changed(row, seg_id, start_s, end_s); segment_drawn(row, start_s, end_s);
    boundary_moving(row, seconds, side) while an edge is dragged; drag_finished(row).
    """

    seek_requested = Signal(float)
    segment_clicked = Signal(int, int, float)
    segment_changed = Signal(int, int, float, float)
    segment_drawn = Signal(int, float, float)
    boundary_moving = Signal(int, float, str)
    drag_finished = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("timeline")
        self.duration = 1.0
        self.follow_playhead = True
        self.classes: list[str] = []
        self.lanes: list[SegmentLane] = []
        self._curve_classes: list[int] = []
        self.threshold_lines: list[pg.InfiniteLine] = []
        self.selected_classes: list[int] = []
        self.snap: Callable[[float], float] = lambda s: s
        self.min_length = 1e-3
        self._scores: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._thresholds = np.zeros(0)
        self._crossing_cache: dict = {}
        self.snap_to_scores = True  # dragged boundaries snap to threshold crossings (Shift: off)
        self.ci.layout.setSpacing(0)
        self.ci.setContentsMargins(2, 2, 8, 2)

        self.score_plot = self.addPlot(row=0, col=0, viewBox=TimeViewBox(scrub=True))
        self.heat_plot = self.addPlot(row=1, col=0, viewBox=TimeViewBox(scrub=True))
        self.lane_plot = self.addPlot(row=2, col=0, viewBox=TimeViewBox(scrub=False),
                                      axisItems={"bottom": TimeAxis("bottom")})  # cheap per-frame ticks
        for plot in (self.score_plot, self.heat_plot, self.lane_plot):
            plot.hideButtons()
            plot.setMenuEnabled(False)
            plot.getAxis("left").setWidth(AXIS_WIDTH)
            # the y axes (score scale, class names) do not change while x pans or zooms: Qt
            # keeps each as a pixmap, so a frame blits it instead of redrawing 20+ labels
            plot.getAxis("left").setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            plot.vb.disableAutoRange()
            plot.vb.seek_requested.connect(self._seek_from_view)
            # fixed units: no label re-layout on every pan (hidden axes too: they follow the view)
            for axis in ("left", "bottom", "top", "right"):
                plot.getAxis(axis).enableAutoSIPrefix(False)
            if plot is not self.lane_plot:
                plot.hideAxis("bottom")  # one time axis, at the bottom; hidden axes cost nothing
        self.lane_plot.setXLink(self.score_plot)  # the heatmap is linked only while shown
        self._fix_y_range()
        self.score_plot.vb.setLimits(yMin=SCORE_RANGE[0], yMax=SCORE_RANGE[1] * 1.04)
        self.score_plot.getAxis("left").setLabel("score")
        self.lane_plot.getAxis("bottom").setLabel("time (s)")
        self.lane_plot.invertY(True)
        self.heatmap = pg.ImageItem(axisOrder="col-major")
        self.heatmap.setAutoDownsample(True)
        self.heatmap.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.heat_plot.addItem(self.heatmap)
        self.heat_plot.invertY(True)
        self.heat_plot.hide()
        self.score_curves = ScoreCurves()
        self.score_plot.addItem(self.score_curves)
        self.no_scores_label = pg.TextItem(NO_SCORES_TEXT, color=(170, 170, 170), anchor=(0.5, 0.5))
        self.score_plot.addItem(self.no_scores_label, ignoreBounds=True)
        self.score_plot.vb.sigXRangeChanged.connect(self._place_no_scores_label)
        self.score_plot.vb.sigResized.connect(self._place_no_scores_label)
        # caption of the previous model version's sub-lane (segment_lane.PREVIOUS_BAND), if shown
        self.previous_caption = pg.TextItem("", color=(150, 150, 150), anchor=(1.0, 1.0))  # light + dark
        self.previous_caption.setZValue(50)
        self.previous_caption.hide()
        self.lane_plot.addItem(self.previous_caption, ignoreBounds=True)
        self.score_plot.vb.sigXRangeChanged.connect(self._place_previous_caption)
        self.playheads = []
        for plot in (self.score_plot, self.heat_plot, self.lane_plot):
            line = pg.InfiniteLine(0.0, angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_COLOR, width=2))
            line.setZValue(100)
            plot.addItem(line, ignoreBounds=True)
            self.playheads.append(line)
        self._update_layout()
        self.set_duration(1.0)
        self.setToolTip(LEGEND)
        self.color_scheme = theme.current_scheme()
        self.lane_style = theme.lane_style(self.color_scheme)
        self._theme_follower = theme.follow(self)  # light / dark with the system, now and on change

    def paintEvent(self, event):  # noqa: N802 (Qt naming)
        BUDGET.reset()  # each repaint may spend render_budget.TURN_BUDGET_MS on re-rendering
        super().paintEvent(event)

    # --- configuration ---------------------------------------------------------------------------

    def set_duration(self, duration: float, snap: Callable[[float], float] | None = None,
                     min_length: float | None = None) -> None:
        """The video's length (s); `snap` rounds a time to a frame boundary; `min_length` = 1 frame."""
        self.duration = max(float(duration), 1e-3)
        if snap is not None:
            self.snap = snap
        if min_length is not None:
            self.min_length = float(min_length)
        for plot in (self.score_plot, self.heat_plot, self.lane_plot):
            plot.vb.setLimits(xMin=0.0, xMax=self.duration,
                              minXRange=min(self.duration, 0.05), maxXRange=self.duration)
        for lane in self.lanes:
            lane.set_duration(self.duration)
            lane.snap, lane.min_length = self.snap, self.min_length
        self.fit()

    def set_classes(self, classes: Sequence[str]) -> None:
        """One segment lane per class (row i = class i), labelled on the left axis."""
        for lane in self.lanes:
            self.lane_plot.removeItem(lane)
        self.classes = list(classes)
        n = len(self.classes)
        self.lanes = []
        for i in range(n):
            lane = SegmentLane(i, class_color(i, n, self.color_scheme), self.duration, snap=self.snap,
                               style=self.lane_style)
            lane.min_length = self.min_length
            lane.evidence_snap = self.threshold_crossing
            lane.clicked.connect(self.segment_clicked)
            lane.segment_changed.connect(self.segment_changed)
            lane.segment_drawn.connect(self.segment_drawn)
            lane.boundary_moving.connect(self.boundary_moving)
            lane.drag_finished.connect(self.drag_finished)
            self.lane_plot.addItem(lane)
            self.lanes.append(lane)
        ticks = [(i + 0.5, name) for i, name in enumerate(self.classes)]
        self.lane_plot.getAxis("left").setTicks([ticks, []])
        self.heat_plot.getAxis("left").setTicks([ticks, []])
        self.lane_plot.setYRange(0, max(n, 1), padding=0)
        self.selected_classes = list(range(min(n, HEATMAP_ABOVE)))
        self._update_layout()

    def lane(self, row: int) -> SegmentLane:
        return self.lanes[row]

    def set_scores(self, times: np.ndarray, scores: np.ndarray, attention: np.ndarray | None = None) -> None:
        """times [T] s (snippet starts), scores [T, C] in 0..1 (class order = lanes), attention [T]
        in 0..1. The y axis is fixed at 0..1 (SCORE_RANGE); values outside are clipped to it, so a
        caller with other units must map them first (localization.display_scores)."""
        times = np.ascontiguousarray(times, dtype=np.float64)
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        if scores.ndim != 2 or scores.shape[0] != len(times):
            raise ValueError(f"scores must be [T, C] with T = {len(times)}, got {scores.shape}")
        scores = np.clip(np.nan_to_num(scores), 0.0, 1.0)
        if attention is not None:
            attention = np.clip(np.nan_to_num(np.asarray(attention, np.float32)), 0.0, 1.0)
        self._scores = (times, scores, attention)
        many = scores.shape[1] > HEATMAP_ABOVE
        if many:  # curves only for the strongest classes; the heatmap shows all of them
            self.selected_classes = sorted(np.argsort(-np.nanmax(scores, 0))[:CURVES_WITH_HEATMAP].tolist())
        self.heat_plot.setVisible(many)
        self.heat_plot.setXLink(self.score_plot if many else None)
        if many:
            self.heatmap.setImage(scores, levels=SCORE_RANGE, autoLevels=False)
            step = float(times[1] - times[0]) if len(times) > 1 else self.duration
            self.heatmap.setRect(QRectF(float(times[0]), 0.0, step * len(times), scores.shape[1]))
            self.heat_plot.setYRange(0, scores.shape[1], padding=0)
        self._rebuild_curves()
        self._update_layout()
        self.no_scores_label.setVisible(False)
        self._fix_y_range()

    def _fix_y_range(self) -> None:
        """The score axis is always 0..1 (+ a sliver so a curve at 1.0 stays visible)."""
        self.score_plot.setYRange(SCORE_RANGE[0], SCORE_RANGE[1] * 1.04, padding=0)

    def set_model_scores(self, spec, cas: np.ndarray, attention: np.ndarray,
                         classes: Sequence[str] | None = None) -> None:
        """The engine's raw output for one video: cas [T, C+1] logits, attention [T] in 0..1,
        on the snippet grid of `spec` (units.FeatureSpec); `classes` names the C columns (default:
        the lanes' order). Curves = localization.display_scores (softmax probability x attention,
        0..1), placed in the lane of their class (a lane whose class the model does not know gets
        a flat zero curve)."""
        from ...sdanet.localization import display_scores

        curves = display_scores(cas, attention)
        if classes is not None and list(classes) != self.classes:
            column = {c: i for i, c in enumerate(classes)}
            aligned = np.zeros((curves.shape[0], len(self.classes)), np.float32)
            for row, name in enumerate(self.classes):
                if name in column:
                    aligned[:, row] = curves[:, column[name]]
            curves = aligned
        times = spec.snippet_to_seconds(np.arange(curves.shape[0]))
        if len(times) and self.duration > times[-1]:
            # each snippet's scores hold over its span; the last ones until the video's end (a
            # tail shorter than a snippet has no snippet of its own)
            times = np.append(times, self.duration)
            curves = np.vstack([curves, curves[-1:]])
            attention = np.append(attention, attention[-1])
        self.set_scores(times, curves, attention)
        if not len(self._thresholds):
            self.set_thresholds(DEFAULT_THRESHOLD)

    def set_no_scores_text(self, text: str | None = None) -> None:
        """What the score area says while it has no curves (None: the hint to load a model)."""
        self.no_scores_label.setText(text or NO_SCORES_TEXT)
        self._place_no_scores_label()

    def clear_scores(self) -> None:
        self._scores = None
        self.no_scores_label.setText(NO_SCORES_TEXT)
        self.heat_plot.hide()
        self.heat_plot.setXLink(None)
        self._rebuild_curves()
        self._update_layout()
        self.no_scores_label.setVisible(True)
        self._place_no_scores_label()

    def set_previous_caption(self, text: str | None) -> None:
        """Name the previous model version whose predictions the lanes show above the active
        version's (None: hidden)."""
        self.previous_caption.setText(text or "")
        self.previous_caption.setVisible(bool(text))
        self._place_previous_caption()

    def _place_previous_caption(self, *_):
        if not self.previous_caption.isVisible():  # placed when shown (set_previous_caption)
            return
        lo, hi = self.x_range()
        self.previous_caption.setPos(hi, max(len(self.lanes), 1))

    def _place_no_scores_label(self, *_):
        if not self.no_scores_label.isVisible():  # placed again when shown (clear_scores)
            return
        lo, hi = self.x_range()
        self.no_scores_label.setTextWidth(max(120.0, self.score_plot.vb.width() - 24))  # wraps, never cut
        self.no_scores_label.setPos((lo + hi) / 2, 0.5)

    def set_selected_classes(self, indices: Sequence[int]) -> None:
        """Which classes get a score curve (all of them when there are few classes)."""
        self.selected_classes = sorted(set(int(i) for i in indices))
        self._rebuild_curves()

    def focus_class(self, row: int) -> None:
        """The user works on class `row` (selected a segment in its lane): with a heatmap, its
        curve joins the top classes' curves."""
        if self._scores is None or self._scores[1].shape[1] <= HEATMAP_ABOVE or row in self.selected_classes:
            return
        self.set_selected_classes(self.selected_classes[:CURVES_WITH_HEATMAP] + [row])

    def set_thresholds(self, thresholds: float | Sequence[float]) -> None:
        """Class threshold(s) on the score axis (0..1, the curves' scale): one value for all
        classes or one per class."""
        self._thresholds = np.clip(np.atleast_1d(np.asarray(thresholds, dtype=np.float64)), *SCORE_RANGE)
        self._rebuild_thresholds()

    def crossings(self, row: int) -> np.ndarray:
        """Times (s) where class `row`'s score crosses its threshold (linear interpolation)."""
        if self._scores is None or not len(self._thresholds) or row >= self._scores[1].shape[1]:
            return np.zeros(0)
        key = (row, id(self._scores), self._thresholds.tobytes())
        if key not in self._crossing_cache:
            times, scores, _ = self._scores
            th = float(self._thresholds[0] if len(self._thresholds) == 1 else self._thresholds[row])
            d = scores[:, row].astype(np.float64) - th
            i = np.flatnonzero((d[:-1] < 0) != (d[1:] < 0))
            frac = d[i] / (d[i] - d[i + 1])
            self._crossing_cache = {key: times[i] + frac * (times[i + 1] - times[i])}
        return self._crossing_cache[key]

    def threshold_crossing(self, row: int, seconds: float, tolerance: float) -> float | None:
        """The crossing of class `row`'s threshold nearest to `seconds`, if within `tolerance`."""
        if not self.snap_to_scores:
            return None
        c = self.crossings(row)
        if not len(c):
            return None
        k = int(np.searchsorted(c, seconds))
        best = min((c[j] for j in (k - 1, k) if 0 <= j < len(c)), key=lambda v: abs(v - seconds))
        return float(best) if abs(best - seconds) <= tolerance else None

    def _shown_classes(self) -> list[int]:
        if self._scores is None:
            return []
        c = self._scores[1].shape[1]
        return [i for i in range(c) if c <= HEATMAP_ABOVE or i in self.selected_classes]

    @property
    def scores(self):
        """(times [T] s, scores [T, C], attention [T] or None) as last set, or None."""
        return self._scores

    def set_color_scheme(self, name: str) -> None:
        """Re-colour for scheme `name` (theme.py): background, axes, hint, playheads, curves,
        thresholds, lanes. The data and the view range are untouched."""
        c = theme.colors(name)
        self.color_scheme = c.name
        self.lane_style = theme.lane_style(c.name)
        self.setBackground(c.background)
        for plot in (self.score_plot, self.heat_plot, self.lane_plot):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(c.foreground))
                axis.setTextPen(pg.mkPen(c.foreground))
                if axis.labelText:
                    axis.setLabel(axis.labelText, units=axis.labelUnits or None, color=c.foreground.name())
        self.no_scores_label.setColor(c.muted)
        for line in self.playheads:
            line.setPen(pg.mkPen(c.playhead, width=2))
        n = len(self.lanes)
        for i, lane in enumerate(self.lanes):
            lane.set_style(self.lane_style)
            lane.set_color(class_color(i, n, c.name))
        self._rebuild_curves()
        self.update()

    @property
    def curve_classes(self) -> list[int]:
        """Class indices that currently have a score curve."""
        return list(self._curve_classes)

    def _rebuild_curves(self) -> None:
        self._curve_classes = []
        if self._scores is None:
            self.score_curves.clear()
        else:
            times, scores, attention = self._scores
            n = scores.shape[1]
            self._curve_classes = self._shown_classes()
            columns = [scores[:, i] for i in self._curve_classes]
            pens = [pg.mkPen(class_color(i, n, self.color_scheme), width=2) for i in self._curve_classes]
            if attention is not None:  # the last column: ScoreCurves draws it underneath
                columns.append(attention)
                pens.append(pg.mkPen(ATTENTION_COLOR, width=1, style=Qt.PenStyle.DashLine))
            values = np.stack(columns, 1) if columns else np.zeros((len(times), 0), np.float32)
            self.score_curves.set_data(times, values, pens)
        self._rebuild_thresholds()

    def _rebuild_thresholds(self) -> None:
        for line in self.threshold_lines:
            self.score_plot.removeItem(line)
        self.threshold_lines = []
        if not len(self._thresholds):
            return
        if len(self._thresholds) == 1:
            pairs = [(None, float(self._thresholds[0]))]
        else:
            pairs = [(i, float(self._thresholds[i])) for i in self._shown_classes() if i < len(self._thresholds)]
        n = max(len(self.classes), 1)
        for i, value in pairs:
            color = (theme.colors(self.color_scheme).threshold if i is None
                     else class_color(i, n, self.color_scheme))
            line = pg.InfiniteLine(value, angle=0, movable=False,
                                   pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine))
            self.score_plot.addItem(line, ignoreBounds=True)
            self.threshold_lines.append(line)

    def _update_layout(self) -> None:
        layout = self.ci.layout
        layout.setRowStretchFactor(0, 3)
        heat = self.heat_plot.isVisible()
        layout.setRowStretchFactor(1, 2 if heat else 0)
        layout.setRowMaximumHeight(1, 16777215 if heat else 0)
        layout.setRowMinimumHeight(1, 0)
        layout.setRowStretchFactor(2, max(2, min(len(self.lanes), 8)))

    # --- playhead and view -----------------------------------------------------------------------
    def set_playhead(self, seconds: float) -> None:
        """Move the playhead; while following, page the view so the playhead stays visible."""
        for line in self.playheads:
            line.setValue(seconds)
        if self.follow_playhead:
            lo, hi = self.x_range()
            if not lo <= seconds <= hi:
                width = hi - lo
                start = min(max(0.0, seconds - 0.1 * width), max(0.0, self.duration - width))
                self.set_x_range(start, start + width)

    @property
    def playhead(self) -> float:
        return float(self.playheads[0].value())

    def fit(self) -> None:
        """Show the whole video."""
        self.set_x_range(0.0, self.duration)

    def set_x_range(self, lo: float, hi: float) -> None:
        self.score_plot.setXRange(lo, hi, padding=0)

    def x_range(self) -> tuple[float, float]:
        lo, hi = self.score_plot.vb.viewRange()[0]
        return float(lo), float(hi)

    def zoom(self, factor: float, center: float | None = None) -> None:
        """Zoom x by `factor` (< 1 zooms in) around `center` seconds (default: playhead)."""
        lo, hi = self.x_range()
        c = self.playhead if center is None else center
        c = min(max(c, lo), hi)
        self.set_x_range(c - (c - lo) * factor, c + (hi - c) * factor)

    # --- geometry helpers (tests, benchmarks, main window) ------------------------------------------
    def widget_pos(self, plot: str, seconds: float, row: float = 0.5):
        """Viewport (widget) coordinates of time `seconds` in 'score', 'heat' or 'lanes' (row y)."""
        plot_item = {"score": self.score_plot, "heat": self.heat_plot, "lanes": self.lane_plot}[plot]
        y = 0.5 if plot == "score" else row
        scene = plot_item.vb.mapViewToScene(pg.Point(seconds, y))
        return self.mapFromScene(scene)

    def _seek_from_view(self, seconds: float) -> None:
        self.seek_requested.emit(float(min(max(seconds, 0.0), self.duration)))
