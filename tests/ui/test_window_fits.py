"""A window that fits: at 1280x800 and 1920x1080, with the demo review open (scores, predictions,
docks), no column of the segment table or the video list is cut, and the control bar's widgets
neither overlap nor cut their text. A screenshot of each size is saved for a person to look at
(pytest's tmp folder; tools/screenshot.py makes the README's)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QLabel


ELIDED_AT_LEAST = 100   # a stretching name column may elide long names, but shows this much


def columns_fit(view, header) -> list[str]:
    """Why a table's columns are not all readable in its viewport ([] when they are)."""
    problems = []
    width = view.viewport().width()
    for c in range(header.count()):
        if header.isSectionHidden(c):
            continue
        left, size = header.sectionViewportPosition(c), header.sectionSize(c)
        name = view.model().headerData(c, header.orientation())
        if left < 0 or left + size > width:
            problems.append(f"column {name!r} ends at {left + size} px, the view is {width} px wide")
        need = max(view.sizeHintForColumn(c), header.sectionSizeHint(c))
        if header.sectionResizeMode(c) == header.ResizeMode.Stretch:
            need = min(need, ELIDED_AT_LEAST)
        if size + 1 < need:
            problems.append(f"column {name!r} is {size} px, its text needs {need} px")
    if view.horizontalScrollBar().isVisible():
        problems.append("a horizontal scroll bar is needed")
    return problems


def bar_fits(review) -> list[str]:
    problems = []
    widgets = [w for w in review.bar_widgets if w.isVisible()]
    right = review.width()
    for w in widgets:
        g = w.geometry()
        if g.left() < 0 or g.right() > right:
            problems.append(f"{w.objectName() or type(w).__name__} reaches {g.right()} of {right} px")
        if isinstance(w, QLabel) and w.text() and g.width() < w.sizeHint().width():
            problems.append(f"{w.objectName()} text {w.text()!r} is cut: {g.width()} < {w.sizeHint().width()} px")
        if w.minimumSizeHint().width() > g.width() + 1:
            problems.append(f"{w.objectName() or type(w).__name__} squeezed: {g.width()} px")
    for a, b in zip(widgets, widgets[1:]):
        if a.geometry().right() >= b.geometry().left():
            problems.append(f"{a.objectName()} overlaps {b.objectName()}")
    return problems


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_nothing_is_cut_at_common_screen_sizes(qtbot, new_window, checkpoint, monkeypatch, tmp_path, size):
    monkeypatch.setattr("sdanet_gui.bundled.model_files", lambda: checkpoint.parent)
    window = new_window(size)
    window.opening.open_demo()
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=20000)
    qtbot.waitUntil(lambda: len(window.session.scored_videos()) == 3, timeout=60000)
    qtbot.wait(200)
    QApplication.processEvents()
    assert (window.width(), window.height()) == size
    docks = [window.video_dock, window.segment_dock, window.undo_dock, window.postprocess_dock]
    assert all(d.isVisible() for d in docks)
    problems = [f"segment table: {p}" for p in columns_fit(window.segment_table, window.segment_table.horizontalHeader())]
    problems += [f"video list: {p}" for p in columns_fit(window.video_list.tree, window.video_list.tree.header())]
    problems += [f"control bar: {p}" for p in bar_fits(window.review)]
    window.grab().save(str(tmp_path / f"window-{size[0]}x{size[1]}.png"))
    assert not problems, "\n".join(problems)
