"""What the reviewer sees of a model's output: score curves on a fixed, visible 0..1 scale, and
predictions filtered for display (decayed soft-NMS duplicates hidden, all of them still stored)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.sdanet.localization import display_scores
from sdanet_gui.session.prediction_filter import DEFAULT_MIN_RELATIVE, SETTING_KEY
from sdanet_gui.ui.review.timeline import ATTENTION_COLOR, TimelineWidget, class_color

K = Qt.Key


def _model_output(t=300, c=3, seed=0):
    """Logit-scale CAS like the network's (about -0.6..8) with one burst per class."""
    rng = np.random.default_rng(seed)
    cas = rng.normal(0.0, 0.3, (t, c + 1))
    att = np.full(t, 0.05)
    for k, centre in enumerate(np.linspace(0.2, 0.8, c) * t):
        burst = np.exp(-((np.arange(t) - centre) / 8.0) ** 2)
        cas[:, k] += 8.0 * burst
        att = np.maximum(att, 0.95 * burst)
    return cas, att


def test_display_scores_are_class_probability_times_attention_in_0_1():
    cas, att = _model_output()
    d = display_scores(cas, att)
    assert d.shape == (300, 3) and d.dtype == np.float32
    assert cas.max() > 7 and d.min() >= 0.0 and d.max() <= 1.0
    e = np.exp(cas)
    np.testing.assert_allclose(d, (e / e.sum(1, keepdims=True))[:, :3] * att[:, None], rtol=1e-5, atol=1e-7)
    assert d[150, 1] > 0.8 and d[10, 1] < 0.05  # the burst of class 1, nothing far from it
    assert display_scores(np.zeros((0, 4)), np.zeros(0)).shape == (0, 3)


@pytest.fixture
def timeline(qtbot):
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(1000, 420)
    w.set_duration(300 * 0.64)
    w.set_classes(["jump", "run", "throw"])
    w.show()
    qtbot.waitExposed(w)
    return w


def _lit_near(img, pos, color, radius=3):
    """Is a pixel of `color` (within 40 per channel) within `radius` px of widget pos?"""
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            c = img.pixelColor(round(pos.x()) + dx, round(pos.y()) + dy)
            if all(abs(a - b) <= 40 for a, b in zip(c.getRgb()[:3], color.getRgb()[:3])):
                return True
    return False


def test_model_scores_are_drawn_on_a_fixed_0_1_axis_and_are_visible(qtbot, timeline):
    cas, att = _model_output()
    spec = FeatureSpec(fps=25.0, snippet_frames=16, stride_frames=16)
    timeline.set_model_scores(spec, cas, att, ["jump", "run", "throw"])
    values = timeline.score_curves.values
    assert values.shape == (301, 4)  # 3 classes + attention; 300 snippets, the last held to the end
    np.testing.assert_array_equal(values[-1], values[-2])
    assert values.min() >= 0.0 and values.max() <= 1.0 and values[:, :3].max() > 0.8
    assert timeline.score_plot.vb.viewRange()[1] == pytest.approx([0.0, 1.04])
    assert [line.value() for line in timeline.threshold_lines] == [0.5]  # same 0..1 scale
    # the very first paint shows the curves where they are (no wait for a settle timer)
    img = timeline.grab().toImage()
    times = spec.snippet_to_seconds(np.arange(300))
    for k in range(3):
        peak = int(np.argmax(values[:, k]))
        pos = timeline.score_plot.vb.mapViewToScene(
            pg.Point(times[peak], float(values[peak, k])))
        assert _lit_near(img, timeline.mapFromScene(pos), class_color(k, 3)), f"class {k} curve not drawn"
    quiet = int(np.argmin(np.abs(times - 20.0)))  # attention only (0.05): grey curve near the floor
    pos = timeline.score_plot.vb.mapViewToScene(pg.Point(times[quiet], 0.05))
    assert _lit_near(timeline.grab().toImage(), timeline.mapFromScene(pos), ATTENTION_COLOR, radius=4)
    # other logits: the axis does not move
    timeline.set_model_scores(spec, cas * 3, att, ["jump", "run", "throw"])
    assert timeline.score_plot.vb.viewRange()[1] == pytest.approx([0.0, 1.04])


def test_scores_out_of_range_are_clipped_and_the_axis_stays(timeline):
    t = np.arange(100) * 0.5
    timeline.set_scores(t, np.linspace(-0.6, 8.0, 300).reshape(100, 3), np.linspace(0, 1.5, 100))
    assert timeline.score_curves.values.min() == 0.0 and timeline.score_curves.values.max() == 1.0
    assert timeline.score_plot.vb.viewRange()[1] == pytest.approx([0.0, 1.04])


# --- the display filter of predictions, in the whole window ------------------------------------------

PREDICTIONS = [  # (label, start_frame, end_frame, score)
    ("cheering", 0, 50, 1.0),
    ("cheering", 5, 55, 0.25),    # a decayed duplicate: hidden by default (< 0.3 x 1.0)
    ("cheering", 100, 150, 0.6),  # a distinct, weaker detection: shown
    ("talking", 200, 250, 0.1),   # the best of its class: shown
]


@pytest.fixture
def scored_project(tmp_path, reader):
    from sdanet_gui.project.store import Project

    p = Project.create(tmp_path / "scored")
    p.add_classes(["arm wrestling", "cheering", "talking"])
    clock = reader.clock
    v = p.add_video("demo", path=reader.path, fps=reader.average_fps, frame_count=reader.frame_count,
                    timestamps=clock.timestamps, duration=clock.duration)
    mv = p.add_model_version("m")
    p.add_predictions(mv.id, v.id, PREDICTIONS)
    folder = p.folder
    p.close()
    return folder


def _shown(window):
    """(scores drawn in the lanes as predictions, scores listed in the table as predictions)."""
    project = window.project
    lane_ids = sorted(int(i) for lane in window.review.timeline.lanes for i in lane.ids[lane.kinds == 0])
    table = window.segment_table
    table_ids = sorted(int(table.item(r, 0).data(Qt.ItemDataRole.UserRole)) for r in range(table.rowCount())
                       if table.item(r, table.BY).text() == "predicted")
    assert lane_ids == table_ids  # lanes and table always show the same predictions
    return sorted(project.predicted_segment(-i).score for i in lane_ids)


def _open(qtbot, window, folder):
    window.opening.open_project(folder)
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=10000)


def test_low_score_predictions_are_hidden_in_lanes_and_table_and_the_setting_persists(
        qtbot, window, scored_project):
    _open(qtbot, window, scored_project)
    spin = window.review.filter_spin
    assert spin.value() == pytest.approx(DEFAULT_MIN_RELATIVE)
    assert _shown(window) == pytest.approx([0.1, 0.6, 1.0])
    # the user raises the filter (View menu puts the cursor in the spin box): 0.6 goes too
    window.menus.prediction_filter.trigger()
    assert spin.hasFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "0.7")
    qtbot.keyClick(spin, K.Key_Return)
    assert spin.value() == pytest.approx(0.7)
    assert _shown(window) == pytest.approx([0.1, 1.0])
    assert window.project.get_setting(SETTING_KEY) == pytest.approx(0.7)
    assert len(window.project.predicted_segments(window.current_video_id)) == 4  # all still stored
    # 0 shows everything
    spin.setValue(0.0)
    assert _shown(window) == pytest.approx([0.1, 0.25, 0.6, 1.0])
    spin.setValue(0.7)
    window.close()

    from sdanet_gui.ui.shell.main_window import MainWindow

    again = MainWindow()  # reopened: the project's saved value is used
    qtbot.addWidget(again)
    again.show()
    _open(qtbot, again, scored_project)
    assert again.review.filter_spin.value() == pytest.approx(0.7)
    assert _shown(again) == pytest.approx([0.1, 1.0])
    again.close()


def test_a_selected_prediction_that_gets_hidden_is_deselected(qtbot, window, scored_project):
    _open(qtbot, window, scored_project)
    editor = window.review.editor
    weak = next(p for p in window.project.predicted_segments(window.current_video_id) if p.score == 0.6)
    editor.select(-weak.id)
    assert window.segment_table.selected_id() == -weak.id
    window.review.filter_spin.setValue(0.9)
    assert editor.selected_id is None and window.segment_table.row_of(-weak.id) is None


def test_the_segment_table_sets_predictions_apart_and_sorts_classes_in_lane_order(qtbot, window, scored_project):
    from sdanet_gui.project.store import Project

    with Project.open(scored_project) as p:
        p.add_classes(["aardvark"])          # last lane, first alphabetically
        p.add_imported_segments("demo", [("talking", 1.0, 2.0), ("aardvark", 3.0, 4.0)])
    _open(qtbot, window, scored_project)
    table = window.segment_table
    rows = range(table.rowCount())
    predicted = [r for r in rows if table.item(r, table.BY).text() == "predicted"]
    human = [r for r in rows if table.item(r, table.BY).text() == "imported"]
    assert predicted and len(human) == 2
    assert all(table.item(r, c).font().italic() for r in predicted for c in range(table.columnCount()))
    assert not any(table.item(r, c).font().italic() for r in human for c in range(table.columnCount()))
    assert table.item(predicted[0], table.START).foreground().color() != table.item(human[0], table.START).foreground().color()
    table.sortByColumn(table.CLASS, Qt.SortOrder.AscendingOrder)    # the lanes' order, top first
    order = ["arm wrestling", "cheering", "talking", "aardvark"]
    labels = [table.item(r, table.CLASS).text() for r in range(table.rowCount())]
    assert labels == sorted(labels, key=order.index)
    table.sortByColumn(table.CLASS, Qt.SortOrder.DescendingOrder)
    labels = [table.item(r, table.CLASS).text() for r in range(table.rowCount())]
    assert labels == sorted(labels, key=order.index, reverse=True)
