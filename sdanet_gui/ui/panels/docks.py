"""The docks around the review area: the project's video list and the segment table of the open
video. Both only display what the project store holds and report the user's choice; they never
change the store themselves (edits go through the edit controller's commands).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHeaderView, QLineEdit,
                               QStyledItemDelegate, QTableWidget, QTableWidgetItem, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)


def format_timecode(seconds: float) -> str:
    from ...data.units import format_timecode as fmt  # numpy: not needed before the first video

    return fmt(seconds)


def short_time(seconds: float) -> str:
    from ...data.units import format_duration

    return format_duration(seconds)

ID_ROLE = Qt.ItemDataRole.UserRole


class VideoList(QWidget):
    """Videos of the project: name, length, review state, segments (predicted by the active
    model / human); a filter box; double-click (or Enter) opens. Narrow enough to sit next to the
    player and the segment table in a 1280-px window: the name column elides long names (the
    tooltip has the whole name and file), the others fit their contents, sorting works by
    clicking a header (no sort arrows: they widen every column). Signal: open_requested(video_id)."""

    open_requested = Signal(int)
    COLUMNS = ("Video", "Review", "Segments")
    TIPS = ("The video's name and length (italic: its file is missing)",
            "Review state: — not yet, 'to m:ss' reviewed up to there, done",
            "Segments: predicted by the active model / made or checked by people")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("videoList")
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter videos…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(self.COLUMNS))
        self.tree.setHeaderLabels(self.COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.tree.header().setSortIndicatorShown(False)
        for c, tip in enumerate(self.TIPS):  # (before the header's modes: this resets them)
            self.tree.headerItem().setToolTip(c, tip)
        header = self.tree.header()
        header.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("—") + 16)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.itemActivated.connect(self._activated)  # double-click or Enter (once, not twice)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree)

    def sizeHint(self):  # noqa: N802 - as wide as its columns' contents (the dock's first width)
        hint = super().sizeHint()
        header = self.tree.header()
        names = min(max(self.tree.sizeHintForColumn(0), header.sectionSizeHint(0)), 140)
        width = names + sum(max(self.tree.sizeHintForColumn(c), header.sectionSizeHint(c))
                            for c in range(1, header.count()))
        hint.setWidth(width + self.tree.verticalScrollBar().sizeHint().width() + 10)
        return hint

    def set_project(self, project, current_id: int | None = None) -> None:
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        if project is not None:
            mv = project.active_model_version()
            active = f"'{mv.name}'" if mv is not None else "no model"
            for v in project.videos():
                texts, missing, path = self._texts(project, v)
                item = QTreeWidgetItem(texts)
                item.setData(0, ID_ROLE, v.id)
                length = short_time(v.duration) if v.duration else "unknown length"
                item.setToolTip(0, f"{v.name} ({length})\n{path or 'no video file located yet'}")
                predicted, human = texts[2].split(" / ")
                item.setToolTip(2, f"{predicted} predicted by {active} (the active model), "
                                   f"{human} made or checked by people")
                if missing:
                    font = QFont(item.font(0))
                    font.setItalic(True)
                    item.setFont(0, font)
                    item.setForeground(0, self.palette().color(self.palette().ColorGroup.Disabled,
                                                              self.palette().ColorRole.Text))
                    item.setIcon(0, self.style().standardIcon(self.style().StandardPixmap.SP_MessageBoxWarning))
                    item.setToolTip(0, (f"File not found: {path}" if path else "No video file located yet")
                                    + "\nDouble-click or right-click > Locate… to choose the file")
                if v.id == current_id:
                    font = QFont(item.font(0))
                    font.setBold(True)
                    item.setFont(0, font)
                self.tree.addTopLevelItem(item)
        self.tree.setSortingEnabled(True)
        self.tree.header().setSortIndicatorShown(False)  # (setSortingEnabled shows it again)
        self._apply_filter(self.filter.text())

    @staticmethod
    def _texts(project, v):
        active = project.active_model_version()  # counts of the version whose predictions are shown
        pred = project.predicted_segments(v.id, active.id if active is not None else None)
        human = project.segments(v.id)
        state = project.review_state(v.id)
        if state.state == "partial":
            to_s = project.frames_to_seconds(v.id, state.reviewed_to, state.reviewed_to)[0]
            review = f"to {short_time(to_s)}"
        else:
            review = {"done": "done"}.get(state.state, "—")
        path = project.video_path(v.id)
        missing = path is None or not Path(path).exists()
        return ([v.name + ("  (missing)" if missing else ""), review,
                 f"{len(pred)} / {len(human)}"], missing, path)

    def update_video(self, project, video_id: int) -> None:
        """Refresh one row (after an edit) without rebuilding the list."""
        for item in self.items():
            if item.data(0, ID_ROLE) == video_id:
                texts, _, _ = self._texts(project, project.video(video_id))
                for c, text in enumerate(texts):
                    item.setText(c, text)

    def items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for item in self.items():
            item.setHidden(bool(needle) and needle not in item.text(0).lower())

    def _activated(self, item, *_):
        vid = item.data(0, ID_ROLE)
        if vid is not None:
            self.open_requested.emit(int(vid))


class _ClassDelegate(QStyledItemDelegate):
    """The class cell is edited with a list of the project's classes."""

    def __init__(self, table: "SegmentTable"):
        super().__init__(table)
        self.table = table

    def createEditor(self, parent, option, index):  # noqa: N802
        box = QComboBox(parent)
        box.addItems(self.table.classes)
        return box

    def setEditorData(self, editor, index):  # noqa: N802
        editor.setCurrentText(index.data())

    def setModelData(self, editor, model, index):  # noqa: N802
        model.setData(index, editor.currentText())


class SegmentTable(QTableWidget):
    """The human and predicted segments of the open video, in sync with the timeline selection.

    Columns: Start, End, Class, Score, By (who made it: predicted, accepted, edited, added,
    imported, confirmed), all readable at the dock's default width. Predicted rows are the
    model's: read-only and drawn muted and italic; human rows in full colour. The Class column
    sorts by the class order of the timeline's lanes (top lane first, as its arrow says).
    Rows carry the lane id (> 0 human segment, < 0 prediction). Human segments can be edited in
    place (class from a list; start / end as hh:mm:ss.fff or seconds); the table only reports the
    wish and the edit controller turns it into a command; the table is then refilled from the
    store. Signals: segment_chosen(seg_id); edit_requested(seg_id, field, text) with field one of
    'label', 'start', 'end'."""

    segment_chosen = Signal(int)
    edit_requested = Signal(int, str, str)
    COLUMNS = ("Start", "End", "Class", "Score", "By")
    START, END, CLASS, SCORE, BY = range(5)
    EDITABLE = {START: "start", END: "end", CLASS: "label"}
    BY_WORDS = {"accepted-prediction": "accepted"}   # provenance -> the word shown (else itself)

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setObjectName("segmentTable")
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        for c in range(len(self.COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.CLASS, QHeaderView.ResizeMode.Stretch)
        self.horizontalHeaderItem(self.BY).setToolTip(
            "Who made the segment: predicted (the model), accepted (a prediction you accepted), "
            "edited, added (drawn by hand), imported (from a file), confirmed")
        self.setItemDelegateForColumn(self.CLASS, _ClassDelegate(self))
        self.itemSelectionChanged.connect(self._selection_changed)
        self.itemChanged.connect(self._item_changed)
        self.classes: list[str] = []
        self._syncing = False

    def sizeHint(self):  # noqa: N802 - wide enough for every column at its contents' width
        hint = super().sizeHint()
        fm = self.fontMetrics()
        header = self.horizontalHeader()
        texts = ("00:00:00.000", "00:00:00.000", max(self.classes or ["Class"], key=len)[:14], "0.00", "predicted")
        widths = [max(fm.horizontalAdvance(t) + 14, header.sectionSizeHint(c)) for c, t in enumerate(texts)]
        hint.setWidth(sum(widths) + self.verticalScrollBar().sizeHint().width() + 12)
        return hint

    def set_segments(self, project, video_id: int, clock, predictions=None) -> None:
        """Fill from the store: human segments, then predictions (sortable by any column);
        `predictions`: the ones to list (the display filter's choice), default all stored."""
        self._syncing = True
        selected = self.selected_id()
        self.setSortingEnabled(False)
        self.setRowCount(0)
        rows = []
        if project is not None and video_id is not None:
            self.classes = list(project.classes())
            for s in project.segments(video_id):
                rows.append((s.id, s.label, s.start_frame, s.end_frame, s.provenance, None))
            for p in project.predicted_segments(video_id) if predictions is None else predictions:
                rows.append((-p.id, p.label, p.start_frame, p.end_frame, "predicted", p.score))
        order = {c: i for i, c in enumerate(self.classes)}
        muted = self.palette().color(self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text)
        self.setRowCount(len(rows))
        for r, (sid, label, sf, ef, prov, score) in enumerate(rows):
            cells = [
                _item(format_timecode(clock.frame_to_seconds(sf)), sf),
                _item(format_timecode(clock.frame_to_seconds(ef)), ef),
                _item(label, (order.get(label, len(order)), label)),
                _item("" if score is None else f"{score:.2f}", -1.0 if score is None else score),
                _item(self.BY_WORDS.get(prov, prov), prov),
            ]
            cells[0].setData(ID_ROLE, sid)
            for c, cell in enumerate(cells):
                if sid < 0:  # predictions are the model's: read-only, and look it
                    cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    font = QFont(cell.font())
                    font.setItalic(True)
                    cell.setFont(font)
                    cell.setForeground(muted)
                elif c not in self.EDITABLE:
                    cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.setItem(r, c, cell)
        self.setSortingEnabled(True)
        self._syncing = False
        self.select_segment(selected)

    def selected_id(self) -> int | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        if not rows:
            return None
        return self.item(rows[0].row(), 0).data(ID_ROLE)

    def row_of(self, seg_id: int) -> int | None:
        for r in range(self.rowCount()):
            if self.item(r, 0).data(ID_ROLE) == seg_id:
                return r
        return None

    def select_segment(self, seg_id: int | None) -> None:
        """Follow the timeline's selection without echoing it back."""
        self._syncing = True
        r = self.row_of(seg_id) if seg_id else None
        if r is None:
            self.clearSelection()
        else:
            self.selectRow(r)
            self.scrollToItem(self.item(r, 0))
        self._syncing = False

    def _item_changed(self, item) -> None:
        if self._syncing or item.column() not in self.EDITABLE:
            return
        sid = self.item(item.row(), 0).data(ID_ROLE)
        if sid is not None and sid > 0:
            # after the view has finished committing: the edit refills (rebuilds) this table
            args = (int(sid), self.EDITABLE[item.column()], item.text())
            QTimer.singleShot(0, lambda: self.edit_requested.emit(*args))

    def _selection_changed(self) -> None:
        if self._syncing:
            return
        sid = self.selected_id()
        if sid is not None:
            self.segment_chosen.emit(int(sid))


def _item(text: str, sort_key) -> QTableWidgetItem:
    item = _SortItem(text)
    item.setData(Qt.ItemDataRole.UserRole + 1, sort_key)
    return item


class _SortItem(QTableWidgetItem):
    def __lt__(self, other):  # numeric columns sort by value, not by text
        a, b = self.data(Qt.ItemDataRole.UserRole + 1), other.data(Qt.ItemDataRole.UserRole + 1)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
