"""Wide score-curve pens are drawn as 1-pixel strokes (Qt's wide-line stroker is ~100x slower on
noisy curves; see score_curves.hairline_strokes), and the result still covers two pixel rows."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage, QPainter, QTransform

from sdanet_gui.ui.review.score_curves import hairline_strokes


def test_a_two_pixel_pen_becomes_two_hairlines_one_pixel_apart(qapp):
    strokes = hairline_strokes(pg.mkPen((200, 0, 0), width=2))
    assert [pen.widthF() for pen, _ in strokes] == [1.0, 1.0]
    assert [dy for _, dy in strokes] == [-0.5, 0.5]
    thin = pg.mkPen((200, 0, 0), width=1)
    assert hairline_strokes(thin) == [(thin, 0.0)]


def test_the_strokes_paint_a_two_pixel_band_on_a_flat_curve(qapp):
    img = QImage(40, 20, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(0)
    p = QPainter(img)
    poly = pg.functions.arrayToQPolygonF(np.array([0.0, 40.0]), np.array([10.0, 10.0]))
    for pen, dy in hairline_strokes(pg.mkPen((255, 0, 0), width=2)):
        p.setTransform(QTransform.fromTranslate(0, dy))
        p.setPen(pen)
        p.drawPolyline(poly)
    p.end()
    column = [img.pixelColor(20, y).alpha() > 0 for y in range(20)]
    assert sum(column) == 2 and column[9] != column[11]  # two adjacent rows around y = 10
