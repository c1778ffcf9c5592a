"""The timeline's fast paths draw what the plain paths would: the lean time axis, the cached
images of sparse lanes, the whole-video overview shown while a pan outruns the last rendering, the
settle that must not be postponed by repaints, hit-testing on a lane whose segments are merged
into pixel columns, and painting that only touches the segments in view."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage, QPainter

from sdanet_gui.ui.review.kinds import ADDED, CONFIRMED, EDITED, PREDICTED
from sdanet_gui.ui.review.segment_lane import SegmentLane
from sdanet_gui.ui.review.time_axis import TimeAxis
from sdanet_gui.ui.review.timeline import TimelineWidget

from .conftest import show_timeline
from .mouse import click


@pytest.fixture
def timeline(qtbot):
    # noisy: many vertices per pixel
    scores = np.clip(np.random.default_rng(3).normal(0.4, 0.25, (5000, 3)), 0, 1)
    return show_timeline(qtbot, 1000.0, np.arange(5000) * 0.2, scores)


def _still(app, seconds: float = 0.15) -> None:
    """Let the settle timers (60 ms) fire, as an idle event loop would."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def _pixels(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    return np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.width(), 4)[..., :3].copy()


def _lane_rows(timeline, row: int) -> slice:
    top = round(timeline.widget_pos("lanes", 0.0, row).y())
    bottom = round(timeline.widget_pos("lanes", 0.0, row + 1).y())
    return slice(top, bottom)


def _ticks(specs) -> list:
    return [(pen.color().alpha(), round(a.x(), 6), a.y(), b.y()) for pen, a, b in specs[1]]


def _labels(specs) -> list:
    return [(s, int(f), round(r.x(), 6), r.y(), r.width(), r.height()) for r, f, s in specs[2]]


def test_time_axis_makes_the_same_ticks_and_labels_as_pyqtgraph(qapp, timeline):
    axis = timeline.lane_plot.getAxis("bottom")
    assert isinstance(axis, TimeAxis) and axis.is_lean()
    img = QImage(10, 10, QImage.Format.Format_ARGB32)
    p = QPainter(img)
    rng = np.random.default_rng(0)
    try:
        for _ in range(40):  # view widths from 0.1 s to the whole 1000 s video
            width = float(10 ** rng.uniform(-1.0, 3.0))
            lo = float(rng.uniform(0.0, 1000.0 - width))
            timeline.set_x_range(lo, lo + width)
            qapp.processEvents()
            ours, theirs = axis.generateDrawSpecs(p), pg.AxisItem.generateDrawSpecs(axis, p)
            assert (ours[0][1], ours[0][2]) == (theirs[0][1], theirs[0][2])
            assert _ticks(ours) == _ticks(theirs)
            assert _labels(ours) == _labels(theirs)
            assert ours[2]  # labelled
    finally:
        p.end()
    timeline.viewport().repaint()
    built = axis.spec_builds
    timeline.viewport().repaint()  # same range: the specs are reused, not rebuilt
    assert axis.spec_builds == built


def test_a_sparse_lane_looks_the_same_from_its_cached_image_as_drawn_directly(qapp, timeline):
    lane = timeline.lane(1)
    starts = np.array([101.0, 104.5, 107.0, 110.2, 112.0, 115.0, 118.3])
    ends = starts + np.array([2.0, 0.02, 1.5, 0.7, 2.5, 0.01, 1.0])  # two thinner than a pixel
    kinds = [PREDICTED, PREDICTED, ADDED, EDITED, CONFIRMED, PREDICTED, ADDED]
    lane.set_segments([-1, -2, 3, 4, 5, -6, 7], starts, ends, [0.2, 0.9, np.nan, np.nan, np.nan, 0.5, np.nan],
                      kinds)
    timeline.set_x_range(99.7, 121.3)
    qapp.processEvents()
    lane.forget_renderings()  # as in a pan frame: no image of this view yet, drawn directly
    direct = _pixels(timeline.grab().toImage())
    assert not lane.rendered_strips()  # nothing cached by a moving frame
    cached = _pixels(timeline.grab().toImage())  # the same view again: built, then blitted
    assert ("human", "vector") in lane.rendered_strips() and ("predicted", "vector") in lane.rendered_strips()
    rows = _lane_rows(timeline, 1)
    assert direct[rows].max() > 100  # the lane is painted
    np.testing.assert_array_equal(cached[rows], direct[rows])


def test_repaints_of_a_still_view_do_not_postpone_the_exact_redraw(qapp, timeline):
    curves = timeline.score_curves
    lane = timeline.lane(0)
    lane.set_segments([1, 2, 3], [300.0, 320.0, 340.0], [310.0, 330.0, 350.0], kinds=[ADDED] * 3)
    timeline.set_x_range(280.0, 380.0)
    timeline.viewport().repaint()
    _still(qapp)
    exact = curves.renders
    timeline.set_x_range(290.0, 390.0)  # a pan: shown from the last rendering for now
    timeline.viewport().repaint()
    assert curves.renders == exact
    end = time.monotonic() + 0.4
    while time.monotonic() < end:  # the playhead moves during playback: repaint after repaint
        timeline.set_playhead(300.0 + (time.monotonic() % 1.0))
        timeline.viewport().repaint()
        qapp.processEvents()
        time.sleep(0.01)
    assert curves.renders == exact + 1
    assert curves.rendering()["view"][:2] == pytest.approx((290.0, 390.0))
    assert lane.rendered_strips()[("human", "vector")]["view"][:2] == pytest.approx((290.0, 390.0))


def test_the_redraw_at_rest_is_spread_over_repaints_one_rendering_each(qapp, timeline, monkeypatch):
    """With a render budget of zero each repaint makes at most one rendering (the first is always
    allowed); the rest waits for the next turn of the event loop, and in the end every item has
    its exact rendering for the view, the curves with both margins grown on."""
    from sdanet_gui.ui.review.render_budget import BUDGET
    from sdanet_gui.ui.review.score_curves import MARGIN

    curves = timeline.score_curves
    for row in range(3):
        n = 400   # dense lanes: raster strips
        starts = np.sort(np.random.default_rng(row).uniform(0, 990, n))
        timeline.lane(row).set_segments(list(range(1, n + 1)), starts, starts + 2.0,
                                        scores=np.full(n, 0.7), kinds=[PREDICTED] * n)
    timeline.set_x_range(100.0, 300.0)
    timeline.viewport().repaint()
    _still(qapp)
    monkeypatch.setattr(BUDGET, "budget_ms", 0.0)
    timeline.set_x_range(600.0, 800.0)       # past every margin: all re-render at rest
    timeline.viewport().repaint()
    time.sleep(0.12)                          # still: the settle timers are due
    per_turn = []
    for _ in range(60):
        before = BUDGET.charges
        qapp.processEvents()
        timeline.viewport().repaint()
        per_turn.append(BUDGET.charges - before)
    assert max(per_turn) <= 2                 # processEvents' own paint + the repaint: one each
    assert sum(per_turn) >= 4                 # curves: view, two margins; lanes: strips
    assert sum(1 for k in per_turn if k) >= 3  # ... over several turns
    c = curves.rendering()
    assert c["view"][:2] == pytest.approx((600.0, 800.0)) and curves.pending_pieces() == []
    assert c["xa"] == pytest.approx(600.0 - MARGIN * 200.0, abs=1.0)
    assert c["xb"] == pytest.approx(800.0 + MARGIN * 200.0, abs=1.0)
    for row in range(3):
        assert timeline.lane(row).rendered_strips()["predicted"]["view"][:2] == pytest.approx((600.0, 800.0))


def test_a_pan_past_the_last_rendering_shows_the_overview_and_renders_only_when_still(qapp, timeline):
    curves = timeline.score_curves
    timeline.set_x_range(100.0, 150.0)
    timeline.viewport().repaint()
    _still(qapp)
    exact, overviews = curves.renders, curves.overview_renders
    assert curves.has_overview()
    timeline.set_x_range(600.0, 650.0)  # far beyond the rendering's margin
    timeline.viewport().repaint()
    assert curves.renders == exact  # no rendering in a moving frame
    img = _pixels(timeline.grab().toImage())
    top = round(timeline.widget_pos("score", 0.0).y()) - 40
    left, right = round(timeline.widget_pos("score", 605.0).x()), round(timeline.widget_pos("score", 645.0).x())
    band = img[max(top, 0):top + 80, left:right]
    assert (band.sum(axis=2) > 150).mean() > 0.05  # the overview's curves, not an empty lane
    _still(qapp)
    timeline.viewport().repaint()
    assert curves.renders == exact + 1 and curves.overview_renders == overviews
    assert curves.rendering()["view"][:2] == pytest.approx((600.0, 650.0))


def test_a_moving_frame_shows_the_curves_where_the_exact_rendering_puts_them(qapp, qtbot):
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(1000, 420)
    w.set_duration(100.0)
    w.set_classes(["jump"])
    t = np.arange(500) * 0.2
    w.set_scores(t, np.where((t > 30) & (t < 60), 0.9, 0.1)[:, None], None)  # a plateau at 0.9
    w.show()
    qtbot.waitExposed(w)
    w.set_x_range(20.0, 70.0)
    w.viewport().repaint()
    _still(qapp)
    w.set_x_range(21.0, 71.0)  # a pan: the last rendering, moved (not re-rendered)
    exact = w.score_curves.renders
    moving = _pixels(w.grab().toImage())
    assert w.score_curves.renders == exact
    _still(qapp)
    still = _pixels(w.grab().toImage())
    assert w.score_curves.renders == exact + 1
    col = round(w.widget_pos("score", 45.0).x())
    top, bottom = (round(w.score_plot.vb.mapViewToScene(pg.Point(45.0, y)).y()) for y in (1.04, 0.0))
    lit = [(top + np.flatnonzero(img[top:bottom, col].sum(axis=1) > 150)).tolist() for img in (moving, still)]
    plateau = round(w.score_plot.vb.mapViewToScene(pg.Point(45.0, 0.9)).y())
    assert lit[0] == lit[1] and lit[1] and abs(np.mean(lit[1]) - plateau) <= 2  # same rows, not flipped


def test_at_deep_zoom_a_pan_past_the_rendering_renders_exactly_at_once(qapp, timeline):
    curves = timeline.score_curves
    timeline.set_x_range(100.0, 105.0)  # 25 snippets in view, 50 in a rendering's span
    timeline.viewport().repaint()
    _still(qapp)
    exact = curves.renders
    timeline.set_x_range(102.0, 107.0)  # still covered (margin): the rendering, moved
    timeline.viewport().repaint()
    assert curves.renders == exact
    timeline.set_x_range(400.0, 405.0)  # beyond it: cheap enough to render exactly now
    timeline.viewport().repaint()
    assert curves.renders == exact + 1
    assert curves.rendering()["view"][:2] == pytest.approx((400.0, 405.0))


def test_a_segment_half_in_view_is_drawn_at_the_view_edge(qapp, timeline):
    lane = timeline.lane(2)
    lane.set_segments([-1, 2], [190.0, 195.0], [215.0, 230.0], [0.9, np.nan], [PREDICTED, ADDED])
    timeline.set_x_range(200.0, 260.0)
    for _ in range(2):  # drawn directly (moving), then from the cached image (still)
        img = timeline.grab().toImage()
        for y_in_row in (0.18, 0.66):  # predicted band, human band
            pos = timeline.widget_pos("lanes", 200.6, 2 + y_in_row)
            assert sum(img.pixelColor(round(pos.x()), round(pos.y())).getRgb()[:3]) > 120
            after = timeline.widget_pos("lanes", 240.0, 2 + y_in_row)
            assert sum(img.pixelColor(round(after.x()), round(after.y())).getRgb()[:3]) < 120


def test_painting_touches_only_the_segments_in_view(qapp, timeline, monkeypatch):
    n = 20000  # a segment every 0.05 s over the whole video
    starts = np.arange(n) * 0.05
    kinds = np.where(np.arange(n) % 2 == 0, PREDICTED, ADDED)
    lane = timeline.lane(0)
    lane.set_segments(np.where(kinds == PREDICTED, -(np.arange(n) + 1), np.arange(n) + 1), starts,
                      starts + 0.03, np.full(n, 0.7), kinds)
    drawn: list[int] = []
    for name in ("_paint_predicted", "_paint_human"):
        original = getattr(SegmentLane, name)

        def spy(self, p, starts, *rest, _original=original):
            drawn.append(len(starts))
            return _original(self, p, starts, *rest)

        monkeypatch.setattr(SegmentLane, name, spy)
    timeline.set_x_range(500.0, 501.0)  # 20 segments in view, 10 per band
    timeline.viewport().repaint()
    _still(qapp)
    timeline.viewport().repaint()
    assert drawn and max(drawn) <= 21  # the view, or its image (view + half a width each side)
    timeline.fit()  # the whole video: 10,000 per band, merged into pixel columns
    drawn.clear()
    timeline.viewport().repaint()
    _still(qapp)
    assert drawn == []  # no per-segment drawing at all: one raster strip per band


def test_merged_sub_pixel_segments_still_hit_test_and_select(qtbot, qapp, timeline):
    n = 3000  # 3000 segments of 0.3 s in a 1000 s video, ~1000 px: several per pixel column
    starts = np.arange(n) * (1000.0 / n)
    ends = starts + 0.3
    lane = timeline.lane(1)
    lane.set_segments(np.arange(n) + 1, starts, ends, kinds=np.full(n, ADDED))
    timeline.fit()
    timeline.viewport().repaint()
    _still(qapp)
    assert ("human", "overview") in lane.rendered_strips()  # painted as merged pixel columns
    got = []
    lane.clicked.connect(lambda row, seg_id, x: got.append((seg_id, x)))
    for t in (123.4, 555.5, 901.2):
        click(timeline.viewport(), timeline.widget_pos("lanes", t, 1.66))
        seg_id, x = got[-1]
        assert seg_id > 0
        k = seg_id - 1
        tolerance = 5 * (1000.0 / timeline.lane_plot.vb.width())  # GRAB_PX at this zoom
        assert starts[k] - tolerance <= x <= ends[k] + tolerance  # the segment under the mouse
        # no segment boundary is nearer to the click than the chosen one's
        edges = np.concatenate([starts, ends])
        assert min(abs(x - starts[k]), abs(x - ends[k])) <= np.abs(edges - x).min() + 1e-9
    lane.select(seg_id)
    timeline.set_x_range(starts[k] - 1.0, starts[k] + 1.0)  # zoom in on it: drawn selected
    img = timeline.grab().toImage()
    pos = timeline.widget_pos("lanes", (starts[k] + ends[k]) / 2, 1.66)
    selected = img.pixelColor(round(pos.x()), round(pos.y()))
    lane.select(None)
    img = timeline.grab().toImage()
    plain = img.pixelColor(round(pos.x()), round(pos.y()))
    assert selected != plain  # the selection highlight is there
