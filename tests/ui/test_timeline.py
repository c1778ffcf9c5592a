"""The timeline as a user meets it: scores and lanes on one time axis, seek by click, zoom by wheel,
pan by right-drag, fit; many classes switch to a heatmap; one item per lane."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from sdanet_gui.ui.review.kinds import ADDED, PREDICTED
from sdanet_gui.ui.review.segment_lane import SegmentLane
from sdanet_gui.ui.review.timeline import CURVES_WITH_HEATMAP, HEATMAP_ABOVE, TimelineWidget

from .conftest import show_timeline
from .mouse import click, drag, wheel


@pytest.fixture
def timeline(qtbot):
    t = np.arange(500) * 0.2
    return show_timeline(qtbot, 100.0, t, np.stack([np.exp(-((t - c) / 5) ** 2) for c in (20, 50, 80)], 1))


def test_click_on_score_lane_seeks_to_that_time(qtbot, timeline):
    with qtbot.waitSignal(timeline.seek_requested) as sig:
        click(timeline.viewport(), timeline.widget_pos("score", 42.0))
    assert sig.args[0] == pytest.approx(42.0, abs=0.3)


def test_drag_on_score_lane_scrubs_continuously(qtbot, timeline):
    seen = []
    timeline.seek_requested.connect(seen.append)
    drag(timeline.viewport(), timeline.widget_pos("score", 10.0), timeline.widget_pos("score", 30.0))
    assert len(seen) >= 3 and seen == sorted(seen)
    assert seen[-1] == pytest.approx(30.0, abs=0.3)
    assert timeline.x_range() == pytest.approx((0.0, 100.0))  # scrubbing does not pan


def test_wheel_zooms_x_only_around_the_cursor_and_fit_restores(timeline):
    y_before = timeline.score_plot.vb.viewRange()[1]
    at = timeline.widget_pos("score", 75.0)
    wheel(timeline.viewport(), at, 240)
    lo, hi = timeline.x_range()
    assert hi - lo < 90.0 and lo < 75.0 < hi
    assert timeline.score_plot.vb.viewRange()[1] == pytest.approx(y_before)  # y untouched
    # the time under the cursor stays under the cursor
    assert timeline.lane_plot.vb.mapSceneToView(timeline.mapToScene(at)).x() == pytest.approx(75.0, abs=0.5)
    timeline.fit()
    assert timeline.x_range() == pytest.approx((0.0, 100.0))


def test_right_drag_pans_and_never_leaves_the_video(timeline):
    timeline.set_x_range(40.0, 60.0)
    drag(timeline.viewport(), timeline.widget_pos("score", 55.0), timeline.widget_pos("score", 45.0),
         button=Qt.MouseButton.RightButton)
    lo, hi = timeline.x_range()
    assert lo == pytest.approx(50.0, abs=0.5) and hi - lo == pytest.approx(20.0, abs=0.1)
    for _ in range(5):  # try to pan far before the start
        drag(timeline.viewport(), timeline.widget_pos("score", 42.0), timeline.widget_pos("score", 58.0),
             button=Qt.MouseButton.RightButton)
    lo, hi = timeline.x_range()
    assert lo >= -1e-6 and hi - lo == pytest.approx(20.0, abs=0.1)
    for _ in range(10):  # zoom out as far as the wheel goes: never past the video
        wheel(timeline.viewport(), timeline.widget_pos("score", 50.0), -480)
    lo, hi = timeline.x_range()
    assert lo >= -1e-6 and hi <= 100.0 + 1e-6


def test_all_lanes_share_one_time_axis(timeline):
    timeline.set_x_range(30.0, 35.0)
    ranges = [p.vb.viewRange()[0] for p in (timeline.score_plot, timeline.lane_plot)]
    assert ranges[0] == pytest.approx([30.0, 35.0]) and ranges[1] == pytest.approx([30.0, 35.0])
    xs = {round(timeline.widget_pos(k, 32.0).x()) for k in ("score", "lanes")}
    assert len(xs) == 1  # the same second is the same pixel column in every lane


def test_playhead_follows_and_pages_the_view(timeline):
    timeline.set_x_range(0.0, 10.0)
    timeline.set_playhead(5.0)
    assert timeline.x_range() == pytest.approx((0.0, 10.0))
    timeline.set_playhead(12.0)  # leaves the view: the view pages along
    lo, hi = timeline.x_range()
    assert lo <= 12.0 <= hi and hi - lo == pytest.approx(10.0)
    assert all(line.value() == 12.0 for line in timeline.playheads)


def test_one_graphics_item_per_lane_however_many_segments(timeline):
    n = 5000
    starts = np.sort(np.random.default_rng(1).uniform(0, 99, n))
    lane = timeline.lane(0)
    lane.set_segments(-(np.arange(n) + 1), starts, starts + 0.01, np.linspace(0, 1, n))
    lanes_items = [i for i in timeline.lane_plot.vb.addedItems if isinstance(i, SegmentLane)]
    assert len(lanes_items) == 3
    img = timeline.grab().toImage()  # paints the dense (raster) path without error
    assert img.width() > 0
    a, b = lane.visible_range(10.0, 20.0)
    assert all(lane.ends[a:b] > 10.0) and np.all(lane.starts[a:b] < 20.0)
    assert b - a == np.count_nonzero((lane.ends > 10.0) & (lane.starts < 20.0))


def test_predicted_opacity_and_human_provenance_are_painted_differently(qtbot, timeline):
    lane = timeline.lane(1)
    lane.set_segments([-1, -2, 7], [10.0, 30.0, 60.0], [20.0, 40.0, 70.0], [0.1, 0.95, np.nan],
                      [PREDICTED, PREDICTED, ADDED])
    timeline.set_x_range(0.0, 80.0)
    img = timeline.grab().toImage()

    def color_at(seconds, y_in_row):
        pos = timeline.widget_pos("lanes", seconds, 1 + y_in_row)
        return img.pixelColor(round(pos.x()), round(pos.y()))

    weak, strong = color_at(15.0, 0.18), color_at(35.0, 0.18)
    assert sum(strong.getRgb()[:3]) > sum(weak.getRgb()[:3]) + 60  # higher score, more opaque
    human = color_at(65.0, 0.66)
    assert human.alpha() == 255 and sum(human.getRgb()[:3]) > 150


def test_many_classes_get_a_heatmap_and_curves_only_for_selected(qtbot):
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(900, 500)
    c = HEATMAP_ABOVE + 15
    w.set_duration(60.0)
    w.set_classes([f"c{i}" for i in range(c)])
    t = np.arange(300) * 0.2
    w.set_scores(t, np.random.default_rng(0).random((300, c)))
    w.show()
    qtbot.waitExposed(w)
    assert w.heat_plot.isVisible() and w.heatmap.image.shape == (300, c)
    top = np.argsort(-w.scores[1].max(0))[:CURVES_WITH_HEATMAP]
    assert w.curve_classes == sorted(top.tolist())  # curves for the strongest classes only
    weak = int(np.argmin(w.scores[1].max(0)))
    w.focus_class(weak)  # the user selects a segment of a weak class: its curve joins
    assert weak in w.curve_classes and len(w.curve_classes) == CURVES_WITH_HEATMAP + 1
    w.set_selected_classes([3, 31])
    assert w.curve_classes == [3, 31]
    w.set_thresholds(np.linspace(0.1, 0.9, c))
    assert sorted(line.value() for line in w.threshold_lines) == pytest.approx(
        sorted([np.linspace(0.1, 0.9, c)[3], np.linspace(0.1, 0.9, c)[31]]))


def test_few_classes_show_curves_for_all_and_no_heatmap(timeline):
    assert not timeline.heat_plot.isVisible()
    assert timeline.curve_classes == [0, 1, 2]
    x, y = timeline.score_curves.display_points(0.0, 100.0, 100.0 / 10)  # 10 px wide view
    assert len(x) <= 11 and y.shape[1] == 4  # 3 classes + attention, one max per pixel column
    assert y[:, 0].max() == pytest.approx(1.0, abs=0.01)  # the peak survives downsampling


def test_dense_lane_raster_paints_exactly_where_segments_are(qtbot, timeline):
    n = 2000  # far above the raster threshold: painted from the binned table
    starts = np.linspace(10.0, 19.9, n)
    lane = timeline.lane(2)
    lane.set_segments(-(np.arange(n) + 1), starts, starts + 0.004, np.full(n, 0.9))
    timeline.fit()
    img = timeline.grab().toImage()

    def lit(seconds):
        pos = timeline.widget_pos("lanes", seconds, 2.18)
        c = img.pixelColor(round(pos.x()), round(pos.y()))
        return sum(c.getRgb()[:3]) > 120

    assert lit(12.0) and lit(15.0) and lit(19.0)
    assert not lit(5.0) and not lit(25.0) and not lit(60.0)


def test_score_curves_redraw_exactly_once_the_view_is_still(qtbot, timeline):
    curves = timeline.score_curves
    timeline.set_x_range(10.0, 40.0)
    timeline.viewport().repaint()
    exact = curves.renders
    timeline.viewport().repaint()  # same view (e.g. the playhead moved): no new rendering
    assert curves.renders == exact
    for lo in (12.0, 14.0, 16.0):  # panning: the last rendering is shown, stretched
        timeline.set_x_range(lo, lo + 30.0)
        timeline.viewport().repaint()
    assert curves.renders == exact
    qtbot.waitUntil(lambda: curves.renders == exact + 1, timeout=3000)  # settled: exact again
    assert curves.rendering()["view"][:2] == pytest.approx((16.0, 46.0))


def test_dragged_boundary_snaps_to_the_threshold_crossing_unless_shift(qtbot, timeline):
    # class 0 ("jump") scores exp(-((t - 20) / 5)^2): crosses 0.5 at 20 +- 5 sqrt(ln 2)
    crossing = 20.0 + 5.0 * np.sqrt(np.log(2.0))
    assert timeline.crossings(0) == pytest.approx([20.0 - 5.0 * np.sqrt(np.log(2.0)), crossing], abs=0.02)
    lane = timeline.lane(0)
    lane.set_segments([5], [15.0], [26.0], kinds=[ADDED])
    timeline.set_x_range(10.0, 30.0)
    got = []
    timeline.segment_changed.connect(lambda row, sid, s, e: got.append((s, e)))
    px = (30.0 - 10.0) / timeline.lane_plot.vb.width()
    near = crossing + 4 * px  # 4 px past the crossing: snaps
    drag(timeline.viewport(), timeline.widget_pos("lanes", 26.0, 0.66), timeline.widget_pos("lanes", near, 0.66))
    assert got[-1][1] == pytest.approx(crossing, abs=0.02)
    lane.set_segments([5], [15.0], [26.0], kinds=[ADDED])
    drag(timeline.viewport(), timeline.widget_pos("lanes", 26.0, 0.66), timeline.widget_pos("lanes", near, 0.66),
         modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert got[-1][1] == pytest.approx(near, abs=2 * px)
