"""The timeline's bottom time axis: pyqtgraph's AxisItem with a lean per-range redraw.

Why: the time axis is regenerated on EVERY pan/zoom frame. pyqtgraph's generic
`AxisItem.generateDrawSpecs` measures every tick label with `QPainter.boundingRect`, builds a
`Point` per tick end, dedups tick levels with `np.isclose` over all pairs and records the result
into a QPicture that is then replayed: ~1.5-3 ms of a 16 ms frame budget (benchmarks/ui.py, 20
classes x 20,000 snippets). This subclass produces the SAME draw specs (same tick values, lengths,
alphas, label strings, crowding rules and placement) for the one case the timeline uses (a
bottom axis without grid, log mode or fixed ticks), with label sizes measured once per string,
and paints them directly instead of through a QPicture. Any other configuration falls back to
pyqtgraph's own code. It only draws; it knows nothing about videos or segments.
"""

from __future__ import annotations

from math import ceil

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPen

_CENTER = Qt.AlignmentFlag.AlignCenter
_TEXT_FLAGS = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextDontClip)
_VALID = object()  # stands in for AxisItem.picture: pyqtgraph sets it to None to invalidate


class TimeAxis(pg.AxisItem):
    """A bottom AxisItem whose per-frame cost is a few dozen lines and labels."""

    def __init__(self, orientation: str = "bottom", **kwargs):
        super().__init__(orientation, **kwargs)
        self._specs = None
        self._text_sizes: dict[tuple[str, str], tuple[float, float]] = {}
        self.spec_builds = 0  # draw specs generated (tests, benchmark)

    def is_lean(self) -> bool:
        """Whether the fast path draws this axis (a bottom time axis without grid or log scale)."""
        return (self.orientation == "bottom" and self.grid is False and not self.logMode
                and self._tickLevels is None and self.style["stopAxisAtTick"] == (False, False)
                and self.style["tickAlpha"] is None)

    # --- ticks --------------------------------------------------------------------------------------
    def tickValues(self, minVal: float, maxVal: float, size: float):
        """Same result as AxisItem.tickValues for linear axes: per level (spacing, values), values
        already shown by a coarser level removed. The levels of `tickSpacing` are whole multiples
        of each other, so "already shown" is a distance to the coarser level's grid, O(ticks)."""
        if self.logMode:
            return super().tickValues(minVal, maxVal, size)
        minVal, maxVal = sorted((minVal, maxVal))
        scale = self.scale
        lo, hi = minVal * scale, maxVal * scale
        ticks, grids = [], []
        for spacing, offset in self.tickSpacing(lo, hi, size):
            start = ceil((lo - offset) / spacing) * spacing + offset
            num = int((hi - start) / spacing) + 1
            values = (np.arange(max(num, 0)) * spacing + start) / scale
            tol = spacing / scale * 0.01
            keep = np.ones(len(values), bool)
            for gs, go, gstart, gend in grids:  # coarser levels: grid gs from gstart to gend
                k = np.clip(np.round((values - go) / gs), gstart, gend)
                keep &= np.abs(values - (k * gs + go)) > tol
            ticks.append((spacing / scale, values[keep].tolist()))
            if num > 0:
                gs, go = spacing / scale, start / scale
                grids.append((gs, go, 0, num - 1))
        return ticks

    def _text_size(self, p, font_key: str, text: str) -> tuple[float, float]:
        key = (font_key, text)
        size = self._text_sizes.get(key)
        if size is None:
            br = p.boundingRect(QRectF(0, 0, 100, 100), _CENTER, text)
            size = (br.width(), br.height() * 0.8)  # boundingRect is usually a bit too large
            if len(self._text_sizes) > 4096:
                self._text_sizes.clear()
            self._text_sizes[key] = size
        return size

    def generateDrawSpecs(self, p):  # noqa: N802 (pyqtgraph naming)
        """(axisSpec, tickSpecs, textSpecs) exactly as AxisItem.generateDrawSpecs would return
        for a bottom axis without grid (see the module docstring)."""
        if not self.is_lean():
            return super().generateDrawSpecs(p)
        self.spec_builds += 1
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        bounds = self.mapRectFromParent(self.geometry())
        span = (bounds.topLeft() + QPointF(-1.0, 1.0), bounds.topRight() + QPointF(1.0, 1.0))
        tick_start = tick_stop = bounds.top()
        d0, d1 = self.mapToDevice(span[0]), self.mapToDevice(span[1])
        if d0 is None or d1 is None:
            return None
        length = float(np.hypot(d1.x() - d0.x(), d1.y() - d0.y()))
        if length == 0:
            return None
        r0, r1 = self.range
        levels = self.tickValues(r0, r1, length)
        dif = r1 - r0
        x_scale = 1.0 if dif == 0 else bounds.width() / dif
        offset = 0.0 if dif == 0 else r0 * x_scale
        x_min, x_max = sorted((r0 * x_scale - offset, r1 * x_scale - offset))

        tick_specs = []
        positions: list[np.ndarray] = []
        base_pen = self.tickPen()
        for i, (_, values) in enumerate(levels):
            xs = np.asarray(values, np.float64) * x_scale - offset
            inside = (xs >= x_min) & (xs <= x_max)
            positions.append(np.where(inside, xs, np.nan))
            tick_length = self.style["tickLength"] / (i * 0.5 + 1.0)
            pen = base_pen
            if pen.brush().style() == Qt.BrushStyle.SolidPattern:
                pen = QPen(pen)
                color = QColor(pen.color())
                color.setAlpha(int(255 / (i + 1)))
                pen.setColor(color)
            y2 = tick_stop + tick_length
            for x in xs[inside].tolist():
                tick_specs.append((pen, QPointF(x, tick_start), QPointF(x, y2)))
        axis_spec = (self.pen(), span[0], span[1])

        text_specs: list = []
        if not self.style["showValues"]:
            return axis_spec, tick_specs, text_specs
        text_offset = self.style["tickTextOffset"][1]
        label_offset = max(0, self.style["tickLength"]) + text_offset
        br = self.boundingRect()
        font_key = p.font().key()
        text_widths: list[float] = []  # all measured labels so far (every level), as pyqtgraph
        text_size2 = last_size2 = 0.0
        for i in range(min(len(levels), self.style["maxTextLevel"] + 1)):
            spacing, values = levels[i]
            strings = self.tickStrings(values, self.autoSIPrefixScale * self.scale, spacing)
            if not strings:
                continue
            xs = positions[i]
            sizes = [None if x != x else self._text_size(p, font_key, s) for s, x in zip(strings, xs.tolist())]
            for size in sizes:
                if size is not None:
                    text_widths.append(size[0])
                    text_size2 = max(text_size2, size[1])
            if i > 0:  # always label the top level; stop when the labels get crowded
                fill = float(sum(text_widths)) / length
                if any(len(text_specs) >= n and fill >= limit for n, limit in self.style["textFillLimits"]):
                    break
            last_size2 = text_size2
            for s, x, size in zip(strings, xs.tolist(), sizes):
                if size is None:
                    continue
                w, h = size
                rect = QRectF(x - w / 2.0, tick_stop + label_offset, w, h)
                if br & rect != rect:  # outside the axis (a label cut at the edge)
                    continue
                text_specs.append((rect, _TEXT_FLAGS, s))
        self._updateMaxTextSize(last_size2)
        return axis_spec, tick_specs, text_specs

    # --- painting -----------------------------------------------------------------------------------
    def paint(self, p, opt, widget):
        """Draw the cached specs directly (pyqtgraph records a QPicture and replays it)."""
        if self.picture is None:
            p.save()
            try:
                self._specs = self.generateDrawSpecs(p)
            finally:
                p.restore()
            self.picture = _VALID
        if self._specs is not None:
            p.save()
            try:
                if self.style["tickFont"] is not None:
                    p.setFont(self.style["tickFont"])
                self.drawPicture(p, *self._specs)
            finally:
                p.restore()
